//! Architecture rules, checked on the source tree. Rust sources are scanned with comments and
//! string literals blanked out, so that prose ("the only module that names sqlx") and log filter
//! strings ("sqlx=warn") do not count as uses.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The Rust sources under src/, as (path relative to the crate root with `/`, code without
/// comments and string contents).
fn rust_sources() -> Vec<(String, String)> {
    let root = root();
    let files: Vec<(String, String)> = files_under(&root.join("src"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {rel}: {e}"));
            (rel, code_only(&text))
        })
        .collect();
    assert!(
        files.len() > 20,
        "expected the whole source tree, found {} files",
        files.len()
    );
    files
}

/// Blanks out comments and the contents of string, byte-string, raw-string and char literals
/// (newlines are kept so that line numbers stay right).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && next == Some('r')))
            && !prev_is_ident(&c, i)
            && raw_string_start(&c, if ch == 'b' { i + 1 } else { i }).is_some()
        {
            let start = if ch == 'b' { i + 1 } else { i };
            let hashes = raw_string_start(&c, start).expect("checked");
            // r, hashes, quote
            let open_end = start + 1 + hashes + 1;
            out.extend(std::iter::repeat_n(' ', open_end - i));
            i = open_end;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
                    out.extend(std::iter::repeat_n(' ', 1 + hashes));
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if ch == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    if let Some(&n) = c.get(i + 1) {
                        blank(&mut out, n);
                    }
                    i += 2;
                } else if c[i] == '"' {
                    out.push(' ');
                    i += 1;
                    break;
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), else a lifetime or label.
            let end = if next == Some('\\') {
                (i + 2..c.len().min(i + 12)).find(|&k| c[k] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(' ', e + 1 - i));
                    i = e + 1;
                }
                None => {
                    out.push(ch);
                    i += 1;
                }
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(c: &[char], i: usize) -> bool {
    i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_')
}

/// At `i` is `r`: returns the number of `#` when `r#*"` starts a raw string.
fn raw_string_start(c: &[char], i: usize) -> Option<usize> {
    if c.get(i) != Some(&'r') {
        return None;
    }
    let mut k = i + 1;
    while c.get(k) == Some(&'#') {
        k += 1;
    }
    (c.get(k) == Some(&'"')).then_some(k - i - 1)
}

/// Whether `code` uses the identifier path `name` (as a word, not part of a longer word).
fn mentions(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
        !word(before) && (!word(after) || name.ends_with(|ch: char| !ch.is_alphanumeric()))
    })
}

/// `file:line` of every line in sources outside `allowed` (path prefixes) that uses one of `names`.
fn offenders(allowed: &[&str], names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, code) in rust_sources() {
        if allowed.iter().any(|a| path.starts_with(a)) {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            if names.iter().any(|name| mentions(line, name)) {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn code_only_blanks_comments_and_strings() {
    let src = "use a; // sqlx\nlet s = \"axum::x\"; /* tower_http /* nested */ */ let r = r#\"sqlx \"q\"\"#;\nlet c = '\"'; let l: &'static str = x; sqlx::query";
    let code = code_only(src);
    assert_eq!(code.lines().count(), 3);
    assert!(!code.contains("axum") && !code.contains("tower_http"), "{code}");
    assert_eq!(code.matches("sqlx").count(), 1, "{code}");
    assert!(code.contains("&'static str"), "lifetimes stay: {code}");
    assert!(mentions("x = sqlx::query(", "sqlx"));
    assert!(!mentions("x = my_sqlx::query(", "sqlx"));
    assert!(!mentions("sqlxish", "sqlx"));
}

#[test]
fn axum_and_tower_http_only_in_http() {
    let found = offenders(&["src/http/"], &["axum::", "use axum", "tower_http"]);
    assert!(
        found.is_empty(),
        "axum/tower_http used outside src/http/:\n{}",
        found.join("\n")
    );
    // The rule is not vacuous: the HTTP layer does use them.
    let http_uses = rust_sources()
        .iter()
        .filter(|(p, c)| p.starts_with("src/http/") && mentions(c, "axum"))
        .count();
    assert!(
        http_uses > 0,
        "no axum use found under src/http/ — is the scanner broken?"
    );
}

#[test]
fn sqlx_only_in_storage() {
    let found = offenders(&["src/storage/"], &["sqlx"]);
    assert!(
        found.is_empty(),
        "sqlx used outside src/storage/:\n{}",
        found.join("\n")
    );
    let storage_uses = rust_sources()
        .iter()
        .filter(|(p, c)| p.starts_with("src/storage/") && mentions(c, "sqlx"))
        .count();
    assert!(
        storage_uses > 0,
        "no sqlx use found under src/storage/ — is the scanner broken?"
    );
}

#[test]
fn only_config_reads_the_environment() {
    let found = offenders(
        &["src/config.rs"],
        &["env::var", "env::vars", "env::var_os", "env::vars_os", "dotenv"],
    );
    assert!(
        found.is_empty(),
        "environment read outside src/config.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn unsafe_code_only_for_the_allocator_setting_in_main() {
    let found = offenders(&[], &["unsafe", "allow(unsafe_code)"]);
    let expected = ["src/main.rs"];
    let outside: Vec<&String> = found
        .iter()
        .filter(|f| !expected.iter().any(|e| f.starts_with(&format!("{e}:"))))
        .collect();
    assert!(outside.is_empty(), "unsafe code outside src/main.rs:\n{outside:?}");
    // main.rs: one allow and one unsafe block (mallopt), nothing more.
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn only_clock_reads_the_system_clock() {
    let found = offenders(
        &["src/clock.rs"],
        &["Utc::now", "SystemTime::now", "Local::now", "UNIX_EPOCH"],
    );
    assert!(
        found.is_empty(),
        "system clock read outside src/clock.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_reference_to_test_certificates() {
    let root = root();
    let mut found = Vec::new();
    for p in files_under(&root.join("src")) {
        let bytes = std::fs::read(&p).expect("read");
        if String::from_utf8_lossy(&bytes).contains("certs-test") {
            found.push(p.strip_prefix(&root).expect("under root").display().to_string());
        }
    }
    assert!(found.is_empty(), "src/ mentions certs-test: {found:?}");
}

/// Migration file names (versions) per backend folder.
fn migration_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// Explains how two migration folders differ, or `Ok` when they hold the same versions.
fn compare_migrations(a: &Path, b: &Path) -> Result<BTreeSet<String>, String> {
    let (na, nb) = (migration_names(a), migration_names(b));
    if na.is_empty() {
        return Err(format!("{} has no migrations", a.display()));
    }
    if na != nb {
        let only_a: Vec<_> = na.difference(&nb).collect();
        let only_b: Vec<_> = nb.difference(&na).collect();
        return Err(format!(
            "migrations drifted: only in {}: {only_a:?}; only in {}: {only_b:?}",
            a.display(),
            b.display()
        ));
    }
    Ok(na)
}

#[test]
fn migrations_exist_for_both_backends() {
    let root = root();
    let names = compare_migrations(&root.join("migrations/sqlite"), &root.join("migrations/postgres"))
        .unwrap_or_else(|e| panic!("{e}"));
    for n in &names {
        let (version, rest) = n
            .split_once('_')
            .unwrap_or_else(|| panic!("{n}: expected VERSION_name.sql"));
        assert!(
            version.parse::<u64>().is_ok() && !rest.is_empty(),
            "{n}: expected VERSION_name.sql"
        );
    }
}

#[test]
fn migration_drift_is_caught() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    for d in [a.path(), b.path()] {
        std::fs::write(d.join("0001_init.sql"), "-- x").expect("write");
    }
    assert!(compare_migrations(a.path(), b.path()).is_ok());
    std::fs::write(a.path().join("0002_more.sql"), "-- y").expect("write");
    let err = compare_migrations(a.path(), b.path()).expect_err("drift must fail");
    assert!(err.contains("0002_more.sql"), "{err}");
    std::fs::write(b.path().join("0002_other.sql"), "-- y").expect("write");
    let err = compare_migrations(a.path(), b.path()).expect_err("renamed must fail");
    assert!(err.contains("0002_more.sql") && err.contains("0002_other.sql"), "{err}");
}

/// The schema header promises the same statements on both backends except the id columns.
#[test]
fn migrations_differ_only_in_id_columns() {
    let root = root();
    for n in migration_names(&root.join("migrations/sqlite")) {
        let lite = std::fs::read_to_string(root.join("migrations/sqlite").join(&n)).expect("read");
        let pg = std::fs::read_to_string(root.join("migrations/postgres").join(&n)).expect("read");
        let pg = pg.replace(
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "INTEGER PRIMARY KEY",
        );
        let differing: Vec<(usize, &str, &str)> = lite
            .lines()
            .zip(pg.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| (i + 1, a, b))
            .collect();
        assert!(
            differing.is_empty() && lite.lines().count() == pg.lines().count(),
            "{n}: SQLite and PostgreSQL schemas differ beyond the id columns: {differing:#?}"
        );
    }
}

#[test]
fn example_config_parses_and_matches_the_defaults() {
    let path = root().join("src/data/vanthu.example.toml");
    let text = std::fs::read_to_string(&path).expect("read example");
    assert_eq!(
        text,
        vanthu::config::EXAMPLE,
        "`vanthu config example` prints this file"
    );
    let cfg = vanthu::Config::from_layers(Some(&text), None, &HashMap::new())
        .unwrap_or_else(|e| panic!("example does not parse: {e}"));
    // Its header says: "Every value below is the built-in default".
    assert_eq!(cfg, vanthu::Config::default());
    // Every environment variable the example advertises is one the loader maps.
    let config_rs = std::fs::read_to_string(root().join("src/config.rs")).expect("read config.rs");
    let advertised: BTreeSet<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("VANTHU_") && w.len() > "VANTHU_".len())
        .collect();
    assert!(
        advertised.contains("VANTHU_LISTEN") && advertised.len() >= 10,
        "{advertised:?}"
    );
    for var in advertised {
        assert!(
            config_rs.contains(&format!("(\"{var}\", ")),
            "the example names {var}, which src/config.rs does not read"
        );
    }
}
