//! Test harness: the real app on port 0, a fresh database per test, helpers for HTTP calls.
//!
//! Backends: SQLite always; PostgreSQL when `VANTHU_TEST_POSTGRES_URL` is set (each test creates
//! its own database). External parts that are missing make a test skip with a printed reason,
//! unless `VANTHU_TEST_REQUIRE_ALL=1`, which turns the skip into a failure.

#![allow(dead_code)]

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;
use vanthu::clock::ShiftedClock;
use vanthu::config::{Config, Secret};
use vanthu::services::Services;
use vanthu::App;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const DEMO_PASSWORD: &str = vanthu::demo::DEMO_PASSWORD;

pub fn require_all() -> bool {
    std::env::var("VANTHU_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Skips (returns `None` after printing why) or fails, depending on `VANTHU_TEST_REQUIRE_ALL`.
pub fn skip<T>(reason: &str) -> Option<T> {
    assert!(!require_all(), "VANTHU_TEST_REQUIRE_ALL=1 but {reason}");
    eprintln!("SKIPPED: {reason}");
    None
}

pub fn postgres_server() -> Option<String> {
    std::env::var("VANTHU_TEST_POSTGRES_URL").ok().filter(|v| !v.is_empty())
}

/// A fresh, empty database. PostgreSQL databases are dropped by [`TestDb::drop_database`].
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub pg: Option<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Some(Self {
                backend,
                url: format!("sqlite://{}?mode=rwc", dir.path().join("vanthu.db").display()),
                pg: None,
                dir,
            }),
            Backend::Postgres => {
                let Some(server) = postgres_server() else {
                    return skip("VANTHU_TEST_POSTGRES_URL is not set (PostgreSQL tests)");
                };
                let name = format!("vt_{}", uuid::Uuid::new_v4().simple());
                let url = vanthu::storage::create_postgres_database(&server, &name)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database on {server}: {e}"));
                Some(Self {
                    backend,
                    url,
                    pg: Some((server, name)),
                    dir,
                })
            }
        }
    }

    pub async fn drop_database(&self) {
        if let Some((server, name)) = &self.pg {
            let _ = vanthu::storage::drop_postgres_database(server, name).await;
        }
    }
}

/// A fresh, migrated database opened directly through the storage layer.
pub async fn open_store(b: Backend) -> Option<(TestDb, vanthu::storage::Db)> {
    let db = TestDb::new(b).await?;
    let store = vanthu::storage::Db::connect(&db.url, &vanthu::storage::ConnectSettings::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some((db, store))
}

/// Closes a store opened by [`open_store`] and drops its database.
pub async fn close_store(db: TestDb, store: vanthu::storage::Db) {
    store.close().await;
    db.drop_database().await;
}

/// Configuration for tests: port 0, cheap argon2, objects in the temp dir.
pub fn test_config(db: &TestDb) -> Config {
    let defaults = Config::default();
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: db.dir.path().to_path_buf(),
        database_url: Some(Secret::new(db.url.clone())),
        object_store: Some(db.dir.path().join("objects").display().to_string()),
        database_max_connections: 8,
        security: vanthu::config::SecurityConfig {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..defaults.security.clone()
        },
        jobs: vanthu::config::JobsConfig {
            poll_ms: 50,
            ..defaults.jobs.clone()
        },
        archive: vanthu::config::ArchiveConfig {
            fixity_interval_secs: 0,
            ..defaults.archive.clone()
        },
        ..defaults
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub services: Services,
    pub clock: Arc<ShiftedClock>,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// The app on a fresh database, seeded with the demo agency and users.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = TestDb::new(backend).await?;
        let mut config = test_config(&db);
        tweak(&mut config);
        Some(Self::start(db, config).await)
    }

    /// Starts an app on an existing database (e.g. a second process sharing PostgreSQL).
    pub async fn start(db: TestDb, config: Config) -> Self {
        let clock = Arc::new(ShiftedClock::default());
        let app = App::build_with_clock(config, clock.clone()).await.expect("app builds");
        let services = app.services().clone();
        vanthu::demo::seed_if_empty(&services).await.expect("demo seed");
        let base = format!("http://{}", app.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .expect("client"),
            services,
            clock,
            db,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Graceful shutdown, then the database is dropped (PostgreSQL).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.db.drop_database().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .post(
                None,
                "/api/v1/auth/login",
                &serde_json::json!({"username": username, "password": DEMO_PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: &Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        json_of(resp).await
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.expect("request")).await
    }

    /// Id of a demo user.
    pub async fn user_id(&self, username: &str) -> i64 {
        self.services.db.user_auth(username).await.expect("user").user.id
    }
}

pub async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// An incoming document as a clerk types it in.
pub fn incoming(subject: &str, number: i64) -> Value {
    serde_json::json!({
        "direction": "incoming",
        "document_type": "cong_van",
        "subject": subject,
        "number": number,
        "symbol": "BTP-VP",
        "issuer_name": "Bộ Tư pháp",
        "issuer_code": "000.00.00.G12",
        "issued_on": "2026-01-05",
        "urgency": "thuong",
    })
}

/// Runs an async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $body($crate::common::Backend::Postgres).await
            }
        }
    };
}

/// The S3 endpoint and bucket, or `None` after skipping (fails under `VANTHU_TEST_REQUIRE_ALL=1`).
pub fn s3_server() -> Option<(String, String)> {
    let Some(endpoint) = std::env::var("VANTHU_TEST_S3").ok().filter(|v| !v.is_empty()) else {
        return skip("VANTHU_TEST_S3 is not set (S3 tests)");
    };
    let bucket = std::env::var("VANTHU_TEST_S3_BUCKET")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "vanthu-test".to_string());
    Some((endpoint, bucket))
}

/// The `AWS_*` settings for `endpoint`: the process's own, dummy credentials where missing, and
/// the endpoint itself (test servers accept any credentials).
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_") && k != "AWS_ENDPOINT_URL" && k != "AWS_ENDPOINT")
        .collect();
    for (k, default) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if !env.iter().any(|(name, _)| name == k) {
            env.push((k.to_string(), default.to_string()));
        }
    }
    env.push(("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()));
    env
}
