//! The `vanthu` binary: administration commands on SQLite (and `migrate` on PostgreSQL), exit
//! codes, and the one-line error contract.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Environment variables the binary reads; cleared so the caller's environment cannot leak in.
const VANTHU_VARS: &[&str] = &[
    "VANTHU_LISTEN",
    "VANTHU_DATA_DIR",
    "VANTHU_DATABASE_URL",
    "VANTHU_OBJECT_STORE",
    "VANTHU_LOG_FORMAT",
    "VANTHU_DATABASE_MAX_CONNECTIONS",
    "VANTHU_SESSION_IDLE_SECS",
    "VANTHU_SESSION_ABSOLUTE_SECS",
    "VANTHU_MAX_FAILED_LOGINS",
    "VANTHU_UPLOAD_BYTES",
    "VANTHU_JOBS_ENABLED",
    "VANTHU_LOG",
];

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "{what} failed:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Failed with exactly one line on stderr; returns that line.
    fn one_line_failure(&self, what: &str) -> String {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "{what} should fail:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "{what}: expected one line on stderr, got:\n{}",
            self.stderr
        );
        lines[0].to_string()
    }
}

/// A data directory of its own and a runner for the binary inside it.
struct Cli {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        Self {
            env: vec![("VANTHU_DATA_DIR".into(), dir.path().display().to_string())],
            dir,
        }
    }

    fn with_env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None)
    }

    fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vanthu"));
        cmd.args(args).current_dir(self.dir.path());
        for v in VANTHU_VARS {
            cmd.env_remove(v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn vanthu");
        {
            let mut pipe = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                pipe.write_all(text.as_bytes()).expect("write stdin");
            }
        }
        let out = child.wait_with_output().expect("wait");
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("vanthu.db")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Tampers with the SQLite database behind the binary's back, as an attacker with file access.
fn tamper_sqlite(db: &Path, statement: &str) -> u64 {
    runtime().block_on(async {
        let url = format!("sqlite://{}?mode=rw", db.display());
        let store = vanthu::storage::Db::connect(&url, &vanthu::storage::ConnectSettings::default())
            .await
            .expect("connect");
        let n = store.tamper_audit_for_test(statement).await.expect("tamper");
        store.close().await;
        n
    })
}

#[test]
fn config_example_prints_the_example() {
    let cli = Cli::new();
    let out = cli.run(&["config", "example"]);
    out.ok("config example");
    assert!(out.stdout.contains("VANTHU_LISTEN"), "{}", out.stdout);
    assert_eq!(out.stdout, vanthu::config::EXAMPLE);
    assert!(!cli.db_path().exists(), "config example must not touch the database");
    // `config show` redacts the database URL.
    let cli = cli.with_env("VANTHU_DATABASE_URL", "postgres://vanthu:s3cret-pw@127.0.0.1:1/vanthu");
    let out = cli.run(&["config", "show"]);
    out.ok("config show");
    assert!(
        !out.stdout.contains("s3cret-pw") && out.stdout.contains("redacted"),
        "{}",
        out.stdout
    );
}

/// The newest migration version in `migrations/sqlite` (the tidy test keeps PostgreSQL's equal).
fn latest_migration() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    std::fs::read_dir(&dir)
        .expect("migrations dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.split('_').next()?.parse::<i64>().ok())
        .max()
        .expect("at least one migration")
}

#[test]
fn migrate_twice_succeeds() {
    let cli = Cli::new();
    let first = cli.run(&["migrate"]);
    first.ok("migrate");
    assert!(
        first.stdout.contains(&format!("migration {} ", latest_migration())) && first.stdout.contains("sqlite"),
        "{}",
        first.stdout
    );
    assert!(cli.db_path().exists(), "SQLite file created in VANTHU_DATA_DIR");
    let second = cli.run(&["migrate"]);
    second.ok("migrate again");
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn agencies_units_and_users() {
    let cli = Cli::new();
    let out = cli.run(&[
        "agency",
        "add",
        "--code",
        "000.00.00.G12",
        "--name",
        "Bộ Tư pháp",
        "--abbreviation",
        "BTP",
        "--place",
        "Hà Nội",
    ]);
    out.ok("agency add");
    assert!(out.stdout.contains("000.00.00.G12"), "{}", out.stdout);
    let out = cli.run(&["agency", "list"]);
    out.ok("agency list");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("000.00.00.G12"))
        .unwrap_or_else(|| panic!("not listed: {}", out.stdout));
    assert!(line.contains("Bộ Tư pháp") && line.contains("BTP"), "{line}");

    // Invalid code: one line naming the problem; nothing created.
    let bad = cli.run(&[
        "agency",
        "add",
        "--code",
        "abc",
        "--name",
        "Sai",
        "--abbreviation",
        "SAI",
    ]);
    let line = bad.one_line_failure("agency add --code abc");
    assert!(line.contains("agency code"), "{line}");
    // Duplicate code.
    let dup = cli.run(&[
        "agency",
        "add",
        "--code",
        "000.00.00.G12",
        "--name",
        "Lần hai",
        "--abbreviation",
        "BTP",
    ]);
    let line = dup.one_line_failure("duplicate agency");
    assert!(line.contains("already exists"), "{line}");
    assert_eq!(cli.run(&["agency", "list"]).stdout.lines().count(), 1);

    let out = cli.run(&[
        "agency",
        "add-unit",
        "000.00.00.G12",
        "--name",
        "Văn phòng",
        "--abbreviation",
        "VP",
    ]);
    out.ok("add-unit");
    let out = cli.run(&[
        "agency",
        "add-unit",
        "000.00.00.G12",
        "--name",
        "Phòng Hành chính",
        "--abbreviation",
        "HC",
        "--parent",
        "VP",
    ]);
    out.ok("add-unit with parent");
    let units = cli.run(&["agency", "units", "000.00.00.G12"]);
    units.ok("units");
    assert!(
        units.stdout.contains("Văn phòng") && units.stdout.contains("Phòng Hành chính"),
        "{}",
        units.stdout
    );
    let line = cli
        .run(&[
            "agency",
            "add-unit",
            "000.00.00.X99",
            "--name",
            "X",
            "--abbreviation",
            "X",
        ])
        .one_line_failure("unknown agency");
    assert!(line.contains("000.00.00.X99"), "{line}");

    // Users: the password comes on stdin.
    let out = cli.run_stdin(
        &[
            "user",
            "add",
            "thu",
            "--name",
            "Nguyễn Thị Thu",
            "--role",
            "van_thu",
            "--unit",
            "VP",
        ],
        Some("Matkhau-2026\n"),
    );
    out.ok("user add");
    assert!(out.stdout.contains("thu"), "{}", out.stdout);
    let weak = cli.run_stdin(
        &["user", "add", "yeu", "--name", "Mật Khẩu Yếu", "--role", "chuyen_vien"],
        Some("abc\n"),
    );
    let line = weak.one_line_failure("weak password");
    assert!(line.contains("password"), "{line}");
    let line = cli
        .run_stdin(
            &["user", "add", "khong", "--name", "Không", "--role", "chuyen_vien"],
            Some(""),
        )
        .one_line_failure("no password");
    assert!(line.contains("password"), "{line}");
    let line = cli
        .run_stdin(
            &[
                "user",
                "add",
                "sai",
                "--name",
                "Sai",
                "--role",
                "chuyen_vien",
                "--unit",
                "NOPE",
            ],
            Some("Matkhau-2026\n"),
        )
        .one_line_failure("unknown unit");
    assert!(line.contains("NOPE"), "{line}");
    let line = cli
        .run_stdin(
            &["user", "add", "thu", "--name", "Trùng", "--role", "van_thu"],
            Some("Matkhau-2026\n"),
        )
        .one_line_failure("duplicate user");
    assert!(line.contains("already exists") || line.contains("thu"), "{line}");

    let list = cli.run(&["user", "list"]);
    list.ok("user list");
    let rows: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(rows.len(), 1, "only thu was created: {rows:?}");
    assert!(
        rows[0].contains("Nguyễn Thị Thu") && rows[0].contains("van_thu") && rows[0].ends_with("active"),
        "{}",
        rows[0]
    );

    cli.run(&["user", "lock", "thu"]).ok("lock");
    assert!(cli.run(&["user", "list"]).stdout.trim_end().ends_with("locked"));
    cli.run(&["user", "unlock", "thu"]).ok("unlock");
    assert!(cli.run(&["user", "list"]).stdout.trim_end().ends_with("active"));
    let line = cli
        .run(&["user", "lock", "nobody"])
        .one_line_failure("lock unknown user");
    assert!(line.contains("nobody"), "{line}");

    let before = runtime().block_on(async {
        let url = format!("sqlite://{}?mode=rw", cli.db_path().display());
        let store = vanthu::storage::Db::connect(&url, &vanthu::storage::ConnectSettings::default())
            .await
            .expect("connect");
        let h = store.user_auth("thu").await.expect("thu").password_hash;
        store.close().await;
        h
    });
    cli.run_stdin(&["user", "passwd", "thu"], Some("Matkhau-Moi-2027\n"))
        .ok("passwd");
    let line = cli
        .run_stdin(&["user", "passwd", "thu"], Some("short\n"))
        .one_line_failure("weak new password");
    assert!(line.contains("password"), "{line}");
    let after = runtime().block_on(async {
        let url = format!("sqlite://{}?mode=rw", cli.db_path().display());
        let store = vanthu::storage::Db::connect(&url, &vanthu::storage::ConnectSettings::default())
            .await
            .expect("connect");
        let auth = store.user_auth("thu").await.expect("thu");
        store.close().await;
        auth
    });
    assert_ne!(before, after.password_hash, "passwd changed the hash");
    assert!(after.password_hash.starts_with("$argon2id$"), "{}", after.password_hash);
    assert!(vanthu::auth::password::verify("Matkhau-Moi-2027", &after.password_hash));

    // Every change is in an intact audit log.
    let out = cli.run(&["audit", "verify"]);
    out.ok("audit verify");
    assert!(out.stdout.contains("intact"), "{}", out.stdout);
}

#[test]
fn audit_verify_detects_tampering() {
    let cli = Cli::new();
    cli.run(&[
        "agency",
        "add",
        "--code",
        "000.00.00.G12",
        "--name",
        "Bộ Tư pháp",
        "--abbreviation",
        "BTP",
    ])
    .ok("agency add");
    cli.run(&[
        "agency",
        "add-unit",
        "000.00.00.G12",
        "--name",
        "Văn phòng",
        "--abbreviation",
        "VP",
    ])
    .ok("add-unit");
    cli.run_stdin(
        &[
            "user",
            "add",
            "thu",
            "--name",
            "Nguyễn Thị Thu",
            "--role",
            "van_thu",
            "--unit",
            "VP",
        ],
        Some("Matkhau-2026\n"),
    )
    .ok("user add");

    let out = cli.run(&["audit", "verify"]);
    out.ok("audit verify");
    assert!(
        out.stdout.contains("intact") && out.stdout.contains("3 entries"),
        "{}",
        out.stdout
    );
    let json = cli.run(&["audit", "verify", "--json"]);
    json.ok("audit verify --json");
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", json.stdout));
    assert_eq!(
        (v["checked"].as_u64(), v["head_seq"].as_i64(), v["error"].is_null()),
        (Some(3), Some(3), true),
        "{v}"
    );

    assert_eq!(
        tamper_sqlite(&cli.db_path(), "UPDATE audit_log SET actor = 'x' WHERE seq = 2"),
        1
    );
    let out = cli.run(&["audit", "verify"]);
    assert_eq!(
        out.code,
        Some(1),
        "tampered log must exit 1:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("BROKEN") && out.stdout.contains("entry 2"),
        "{}",
        out.stdout
    );
    let json = cli.run(&["audit", "verify", "--json"]);
    assert_eq!(json.code, Some(1));
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", json.stdout));
    let err = v["error"].as_str().unwrap_or_else(|| panic!("error field: {v}"));
    assert!(err.contains("entry 2"), "{err}");
    assert_eq!(v["checked"], 1);
}

#[test]
fn bad_environment_value_is_one_line_naming_the_variable() {
    let cli = Cli::new().with_env("VANTHU_MAX_FAILED_LOGINS", "many");
    let out = cli.run(&["migrate"]);
    let line = out.one_line_failure("VANTHU_MAX_FAILED_LOGINS=many");
    assert!(
        line.contains("VANTHU_MAX_FAILED_LOGINS") && line.contains("many"),
        "{line}"
    );
    assert!(!cli.db_path().exists(), "nothing is created with a bad configuration");
    let out = Cli::new().with_env("VANTHU_JOBS_ENABLED", "perhaps").run(&["migrate"]);
    let line = out.one_line_failure("VANTHU_JOBS_ENABLED=perhaps");
    assert!(line.contains("VANTHU_JOBS_ENABLED"), "{line}");
}

#[test]
fn unsupported_database_url_is_one_clear_line() {
    let cli = Cli::new().with_env("VANTHU_DATABASE_URL", "mysql://admin:s3cret-pw@db.example/vanthu");
    let out = cli.run(&["migrate"]);
    let line = out.one_line_failure("mysql URL");
    assert!(
        line.contains("mysql") && line.contains("sqlite://") && line.contains("postgres://"),
        "{line}"
    );
    assert!(
        !line.contains("s3cret-pw"),
        "the URL's password must not be printed: {line}"
    );
}

#[test]
fn startup_errors_are_printed_once() {
    let out = Cli::new()
        .with_env("VANTHU_DATABASE_URL", "mysql://x")
        .run(&["migrate"]);
    let line = out.one_line_failure("mysql URL");
    assert_eq!(
        line.matches("unsupported database URL scheme").count(),
        1,
        "message repeated: {line}"
    );
    let out = Cli::new().with_env("VANTHU_OBJECT_STORE", "s3://").run(&["migrate"]);
    let line = out.one_line_failure("bad object store");
    assert_eq!(
        line.matches("invalid object store location").count(),
        1,
        "message repeated: {line}"
    );
}

#[test]
fn unknown_command_and_missing_config_file_fail() {
    let cli = Cli::new();
    let out = cli.run(&["migrate", "--config", "does-not-exist.toml"]);
    let line = out.one_line_failure("missing config file");
    assert!(line.contains("does-not-exist.toml"), "{line}");
    let out = cli.run(&["frobnicate"]);
    assert_eq!(out.code, Some(2), "clap usage error: {}", out.stderr);
}

#[test]
fn migrate_on_postgres() {
    let Some(server) = crate::common::postgres_server() else {
        let _: Option<()> = crate::common::skip("VANTHU_TEST_POSTGRES_URL is not set (PostgreSQL CLI test)");
        return;
    };
    let name = format!("vt_cli_{}", uuid::Uuid::new_v4().simple());
    let rt = runtime();
    let url = rt
        .block_on(vanthu::storage::create_postgres_database(&server, &name))
        .expect("create database");
    let cli = Cli::new().with_env("VANTHU_DATABASE_URL", &url);
    let first = cli.run(&["migrate"]);
    let second = cli.run(&["migrate"]);
    let agency = cli.run(&[
        "agency",
        "add",
        "--code",
        "000.00.00.G12",
        "--name",
        "Bộ Tư pháp",
        "--abbreviation",
        "BTP",
    ]);
    let verify = cli.run(&["audit", "verify"]);
    rt.block_on(vanthu::storage::drop_postgres_database(&server, &name))
        .expect("drop database");
    first.ok("migrate on PostgreSQL");
    assert!(
        first.stdout.contains(&format!("migration {} ", latest_migration())) && first.stdout.contains("postgres"),
        "{}",
        first.stdout
    );
    second.ok("migrate again on PostgreSQL");
    agency.ok("agency add on PostgreSQL");
    verify.ok("audit verify on PostgreSQL");
    assert!(verify.stdout.contains("1 entries"), "{}", verify.stdout);
    assert!(!cli.db_path().exists(), "no SQLite file when a PostgreSQL URL is given");
}
