//! Layered configuration: built-in defaults → `vanthu.toml` → `VANTHU_*` environment.
//!
//! This is the only module that reads environment variables. Everything else receives a
//! [`Config`] value; there is no global configuration.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A string that never shows itself in `Debug`/`Display` output or logs.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself. Call sites are few and obvious on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `VANTHU_LISTEN`: address the HTTP server binds.
    pub listen: SocketAddr,
    /// `VANTHU_DATA_DIR`: where the default SQLite database and object folder live.
    pub data_dir: PathBuf,
    /// `VANTHU_DATABASE_URL`: `sqlite://…` or `postgres://…`; default SQLite in the data dir.
    pub database_url: Option<Secret>,
    /// `VANTHU_OBJECT_STORE`: `file:///path`, a plain path, `s3://bucket[/prefix]` or `memory://`.
    pub object_store: Option<String>,
    /// `VANTHU_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `VANTHU_DATABASE_MAX_CONNECTIONS`: pool size (readers on SQLite; all on PostgreSQL).
    pub database_max_connections: u32,
    pub security: SecurityConfig,
    pub limits: LimitsConfig,
    pub jobs: JobsConfig,
    pub archive: ArchiveConfig,
    pub axis: AxisConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Idle timeout of a session, in seconds (default 15 minutes).
    pub session_idle_secs: u64,
    /// Absolute lifetime of a session, in seconds (default 12 hours).
    pub session_absolute_secs: u64,
    /// Failed logins in a row before the account is locked.
    pub max_failed_logins: u32,
    /// argon2id memory cost in KiB (OWASP minimum 19456).
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest JSON request body, in bytes.
    pub json_body_bytes: usize,
    /// Largest uploaded file, in bytes.
    pub upload_bytes: u64,
    /// Longest a request may take, in seconds.
    pub request_timeout_secs: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the job workers in this process.
    pub enabled: bool,
    /// How long a leased job stays invisible to other workers, in seconds.
    pub lease_secs: u64,
    /// Attempts before a job is marked failed for good.
    pub max_attempts: u32,
    /// Idle poll interval, in milliseconds.
    pub poll_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Seconds between scheduled fixity checks of the archive, counted from the last run; 0 = never.
    pub fixity_interval_secs: u64,
    /// Objects re-read per scheduled check (a random sample); 0 = all of them.
    pub fixity_sample: u64,
}

/// The national document axis: the client's connection (`vanthu axis send|inbox|fetch|ack|agencies`)
/// and the mock's fault injection (`vanthu axis serve`). Command-line flags override these.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AxisConfig {
    /// `VANTHU_AXIS_URL`: the axis endpoint including its base path, e.g. `http://host/XrdAdapter/adapter`.
    pub url: Option<String>,
    /// `VANTHU_AXIS_SYSTEM_ID`: our system id at the axis (mã trung tâm liên thông).
    pub system_id: Option<String>,
    /// `VANTHU_AXIS_SECRET`: the shared secret for the HMAC of every request.
    pub secret: Option<Secret>,
    /// `VANTHU_AXIS_FAULT_DROP`: share of requests (0–1) whose response the mock drops.
    pub fault_drop: f64,
    /// `VANTHU_AXIS_FAULT_5XX`: share of requests (0–1) the mock answers with 503.
    pub fault_5xx: f64,
    /// `VANTHU_AXIS_FAULT_DELAY_MS`: the mock delays each request by up to this many milliseconds.
    pub fault_delay_ms: u64,
    /// `VANTHU_AXIS_FAULT_DUPLICATE`: share of deliveries (0–1) the mock puts in the inbox twice.
    pub fault_duplicate: f64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            fixity_interval_secs: 7 * 24 * 3600,
            fixity_sample: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            object_store: None,
            log_format: LogFormat::Text,
            database_max_connections: 16,
            security: SecurityConfig::default(),
            limits: LimitsConfig::default(),
            jobs: JobsConfig::default(),
            archive: ArchiveConfig::default(),
            axis: AxisConfig::default(),
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 15 * 60,
            session_absolute_secs: 12 * 3600,
            max_failed_logins: 5,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            json_body_bytes: 1024 * 1024,
            upload_bytes: 200 * 1024 * 1024,
            request_timeout_secs: 300,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            lease_secs: 60,
            max_attempts: 8,
            poll_ms: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {name}: {message}")]
    Env { name: String, message: String },
}

/// The commented example printed by `vanthu config example`.
pub const EXAMPLE: &str = include_str!("data/vanthu.example.toml");

/// Environment variables that map onto config keys (name → dotted key).
const ENV_KEYS: &[(&str, &str)] = &[
    ("VANTHU_LISTEN", "listen"),
    ("VANTHU_DATA_DIR", "data_dir"),
    ("VANTHU_DATABASE_URL", "database_url"),
    ("VANTHU_OBJECT_STORE", "object_store"),
    ("VANTHU_LOG_FORMAT", "log_format"),
    ("VANTHU_DATABASE_MAX_CONNECTIONS", "database_max_connections"),
    ("VANTHU_SESSION_IDLE_SECS", "security.session_idle_secs"),
    ("VANTHU_SESSION_ABSOLUTE_SECS", "security.session_absolute_secs"),
    ("VANTHU_MAX_FAILED_LOGINS", "security.max_failed_logins"),
    ("VANTHU_UPLOAD_BYTES", "limits.upload_bytes"),
    ("VANTHU_JOBS_ENABLED", "jobs.enabled"),
    ("VANTHU_ARCHIVE_FIXITY_INTERVAL_SECS", "archive.fixity_interval_secs"),
    ("VANTHU_AXIS_URL", "axis.url"),
    ("VANTHU_AXIS_SYSTEM_ID", "axis.system_id"),
    ("VANTHU_AXIS_SECRET", "axis.secret"),
    ("VANTHU_AXIS_FAULT_DROP", "axis.fault_drop"),
    ("VANTHU_AXIS_FAULT_5XX", "axis.fault_5xx"),
    ("VANTHU_AXIS_FAULT_DELAY_MS", "axis.fault_delay_ms"),
    ("VANTHU_AXIS_FAULT_DUPLICATE", "axis.fault_duplicate"),
];

impl Config {
    /// Loads defaults, then the file (explicit `path`, else `./vanthu.toml` when present), then the
    /// process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("VANTHU_")).collect();
        let path = path.map(Path::to_path_buf).or_else(|| {
            let default = PathBuf::from("vanthu.toml");
            default.exists().then_some(default)
        });
        let file = match &path {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|reason| ConfigError::Read {
                path: p.clone(),
                reason,
            })?),
            None => None,
        };
        Self::from_layers(file.as_deref(), path.as_deref(), &env)
    }

    /// Pure layering, testable without touching the process environment.
    pub fn from_layers(
        file: Option<&str>,
        path: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut table = toml::Table::try_from(Config::default()).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<defaults>"),
            message: e.to_string(),
        })?;
        if let Some(text) = file {
            let path = path.map_or_else(|| PathBuf::from("vanthu.toml"), Path::to_path_buf);
            let overlay: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.clone(),
                message: e.message().to_string(),
            })?;
            merge(&mut table, overlay);
        }
        for (name, key) in ENV_KEYS {
            let Some(raw) = env.get(*name) else { continue };
            let value = env_value(key, raw).map_err(|message| ConfigError::Env {
                name: (*name).to_string(),
                message,
            })?;
            set_dotted(&mut table, key, value);
        }
        let cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.map_or_else(|| PathBuf::from("<environment>"), Path::to_path_buf),
                message: e.message().to_string(),
            })?;
        Ok(cfg)
    }

    /// The database URL in force: explicit, else a SQLite file in the data dir.
    pub fn database_url(&self) -> Secret {
        self.database_url.clone().unwrap_or_else(|| {
            Secret::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("vanthu.db").display()
            ))
        })
    }

    /// The object store location in force: explicit, else a folder in the data dir.
    pub fn object_store_url(&self) -> String {
        self.object_store
            .clone()
            .unwrap_or_else(|| self.data_dir.join("objects").display().to_string())
    }
}

/// Reads the `AWS_*` variables an S3 object store needs. Kept here so that only this module
/// touches the environment.
pub fn aws_environment() -> Vec<(String, String)> {
    std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).collect()
}

fn env_value(key: &str, raw: &str) -> Result<toml::Value, String> {
    let numeric = matches!(
        key,
        "database_max_connections"
            | "security.session_idle_secs"
            | "security.session_absolute_secs"
            | "security.max_failed_logins"
            | "limits.upload_bytes"
            | "archive.fixity_interval_secs"
            | "axis.fault_delay_ms"
    );
    if matches!(key, "axis.fault_drop" | "axis.fault_5xx" | "axis.fault_duplicate") {
        return match raw.trim().parse::<f64>() {
            Ok(v) if (0.0..=1.0).contains(&v) => Ok(toml::Value::Float(v)),
            _ => Err(format!("expected a share between 0 and 1, got {raw:?}")),
        };
    }
    if numeric {
        return raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected a whole number, got {raw:?}"));
    }
    if key == "jobs.enabled" {
        return match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "0" | "false" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, got {raw:?}")),
        };
    }
    Ok(toml::Value::String(raw.to_string()))
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                set_dotted(t, rest, value);
            }
        }
        None => {
            table.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_matches_defaults() {
        let cfg = Config::from_layers(Some(EXAMPLE), None, &HashMap::new()).expect("example parses");
        assert_eq!(cfg.listen, Config::default().listen);
        assert_eq!(cfg.security, SecurityConfig::default());
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let file = "listen = \"127.0.0.1:9000\"\n[security]\nmax_failed_logins = 3\n";
        let mut env = HashMap::new();
        env.insert("VANTHU_LISTEN".into(), "0.0.0.0:7000".into());
        let cfg = Config::from_layers(Some(file), None, &env).expect("valid");
        assert_eq!(cfg.listen.port(), 7000);
        assert_eq!(cfg.security.max_failed_logins, 3);
        assert_eq!(cfg.security.session_idle_secs, 900);
    }

    #[test]
    fn bad_values_are_reported_by_name() {
        let mut env = HashMap::new();
        env.insert("VANTHU_MAX_FAILED_LOGINS".into(), "many".into());
        let err = Config::from_layers(None, None, &env).expect_err("invalid");
        assert!(err.to_string().contains("VANTHU_MAX_FAILED_LOGINS"), "{err}");
        let err = Config::from_layers(Some("nonsense = 1"), None, &HashMap::new()).expect_err("unknown key");
        assert!(err.to_string().contains("nonsense"), "{err}");
    }

    #[test]
    fn axis_settings_come_from_the_environment() {
        let mut env = HashMap::new();
        env.insert("VANTHU_AXIS_URL".into(), "http://127.0.0.1:9/axis".into());
        env.insert("VANTHU_AXIS_SECRET".into(), "s3cr3t".into());
        env.insert("VANTHU_AXIS_FAULT_DROP".into(), "0.25".into());
        env.insert("VANTHU_AXIS_FAULT_DELAY_MS".into(), "20".into());
        let cfg = Config::from_layers(None, None, &env).expect("valid");
        assert_eq!(cfg.axis.url.as_deref(), Some("http://127.0.0.1:9/axis"));
        assert_eq!(cfg.axis.secret.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert_eq!(cfg.axis.fault_drop, 0.25);
        assert_eq!(cfg.axis.fault_delay_ms, 20);
        env.insert("VANTHU_AXIS_FAULT_5XX".into(), "2".into());
        let err = Config::from_layers(None, None, &env).expect_err("out of range");
        assert!(err.to_string().contains("VANTHU_AXIS_FAULT_5XX"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let cfg = Config {
            database_url: Some(Secret::new("postgres://u:hunter2@db/x")),
            ..Config::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
