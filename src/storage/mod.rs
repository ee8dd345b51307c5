//! Persistence on SQLite (embedded default) and PostgreSQL (production), through sqlx.
//!
//! This is the only module that names sqlx (a tidy test enforces it). Queries are written once
//! with `$N` placeholders and scalar column types (BIGINT, TEXT), and run through sqlx's `Any`
//! driver on either backend; where the dialects differ (job leasing) the code branches on
//! [`Backend`]. On SQLite all writes go through one connection (a single writer), reads through a
//! pool; WAL mode lets them run side by side.

mod archive;
mod audit;
pub mod axis_mock;
mod documents;
mod error;
mod jobs;
mod org;
mod records;
mod rows;
mod search;
mod series;
mod sessions;
mod statistics;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use archive::{ArchiveObjectRow, ArchiveRecord, ArchivedDocumentRow, ArchivedFileRow, FixityRunRow, ARCHIVE_JOB};
pub use audit::{AuditHead, AuditVerification};
pub use documents::{Arrival, DocumentFilter, NewDocument, NewFile, Registration, SortOrder};
pub use error::StorageError;
pub use jobs::{Job, JobStats};
pub use records::{FiledDocument, NewRecord, Record, RecordChange};
pub use rows::*;
pub use search::{FileText, SearchChange};
pub use series::choose as choose_series;
pub use statistics::needs_analyze;

pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

pub type StorageResult<T> = Result<T, StorageError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The database: a write pool and a read pool (the same pool on PostgreSQL).
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
}

/// Options for [`Db::connect`].
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). The pools connect lazily, so a
    /// database that is down at start-up is reported by `/readyz` rather than by a crash.
    pub async fn connect(url: &str, settings: &ConnectSettings) -> StorageResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StorageError::Config(format!(
                "unsupported database URL scheme in {:?}; use sqlite:// or postgres://",
                url.split(':').next().unwrap_or_default()
            )));
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| StorageError::Config(format!("invalid database URL: {e}")))?
            .disable_statement_logging();
        match backend {
            Backend::Sqlite => {
                if let Some(path) = sqlite_path(url) {
                    if let Some(dir) = std::path::Path::new(&path)
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                    {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| StorageError::Config(format!("cannot create {}: {e}", dir.display())))?;
                    }
                }
                let write = sqlite_pool(1, settings.acquire_timeout)
                    .connect_with(options.clone())
                    .await?;
                // Readers beyond a few per core only add page caches (memory), not throughput.
                let readers = settings.max_connections.clamp(2, 8);
                let read = sqlite_pool(readers, settings.acquire_timeout).connect_lazy_with(options);
                Ok(Self { backend, write, read })
            }
            Backend::Postgres => {
                // sqlx pings a connection when it goes back to the pool; pinging it again when it
                // is taken out (the default) costs a second round trip per query. Only a
                // connection that sat idle may have been cut (server restart, firewall), so only
                // that one is checked before use.
                let pool = AnyPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for > IDLE_RECHECK {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_lazy_with(options);
                Ok(Self {
                    backend,
                    write: pool.clone(),
                    read: pool,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction on the write pool. On SQLite it is `BEGIN IMMEDIATE`: the
    /// write lock is taken at the start, where the busy timeout applies, instead of at the
    /// first write. A deferred transaction that reads first and then writes cannot wait for
    /// a lock another process (the CLI, a second server) took meanwhile: its snapshot is stale,
    /// so SQLite fails it at once with "database is locked".
    pub(crate) async fn begin_write(&self) -> StorageResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        })
    }

    /// Applies pending migrations for the backend in use.
    pub async fn migrate(&self) -> StorageResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|e| StorageError::Migration(e.to_string()))
    }

    /// Applied migration versions, newest last.
    pub async fn migration_versions(&self) -> StorageResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// SQLite: a passive checkpoint of the write-ahead log (it never waits for readers or the
    /// writer; what it cannot copy now waits for the next one). PostgreSQL: nothing.
    pub async fn checkpoint_wal(&self) -> StorageResult<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .persistent(false)
                .fetch_all(&self.read)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Placeholder number `n` (1-based) of a generated multi-row statement whose parameters are
/// each used once, in order. SQLite gets an anonymous `?`: for every parameter sqlx asks SQLite
/// for its name, and SQLite finds a numbered name (`$N`) by walking the statement's list of
/// names, so a statement with thousands of `$N` parameters costs quadratic time to bind (it was
/// a fifth of the server's CPU under registration load).
pub(crate) fn placeholder(postgres: bool, n: usize) -> String {
    if postgres {
        format!("${n}")
    } else {
        "?".to_string()
    }
}

/// The rows `sql` selects for `ids`, 500 ids per statement: `sql` holds `{ids}` where the list
/// of placeholders goes. Sent unnamed, since the list's length varies.
pub(crate) async fn fetch_by_ids<T>(pool: &AnyPool, sql: &str, ids: &[i64]) -> StorageResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = sql.replace("{ids}", &list.join(", "));
        let mut q = sqlx::query_as::<_, T>(&sql).persistent(false);
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(pool).await?);
    }
    Ok(out)
}

/// The row counts of multi-row statements: powers of two up to 64.
const CHUNK_SIZES: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// The largest statement row count that fits in `len` rows (1 when `len` is 0).
pub fn largest_chunk(len: usize) -> usize {
    CHUNK_SIZES.into_iter().find(|&c| c <= len).unwrap_or(1)
}

/// Splits `len` rows into chunks of a few fixed sizes ([`CHUNK_SIZES`]), largest first, as
/// `(start, size)`. Multi-row statements then come in seven shapes only, so the connection's
/// prepared-statement cache holds seven statements instead of one per batch size (each SQLite
/// statement with thousands of parameters weighs hundreds of kilobytes), while a batch of fewer
/// than 64 rows takes at most six statements (each a round trip on PostgreSQL).
pub(crate) fn fixed_chunks(len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for size in CHUNK_SIZES {
        while len - start >= size {
            out.push((start, size));
            start += size;
        }
    }
    out
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// A PostgreSQL connection idle longer than this is pinged before use.
const IDLE_RECHECK: Duration = Duration::from_secs(2);

fn sqlite_pool(max: u32, acquire_timeout: Duration) -> AnyPoolOptions {
    // A SQLite connection is a file handle: it cannot be cut while idle, so it is not pinged
    // before use (each ping is a hand-off to the connection's worker thread and back).
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // The busy timeout first: setting the journal mode takes a lock, and another
                // process (the server, while a CLI command opens the same file) may hold one.
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                // The server checkpoints from a background task (`Db::checkpoint_wal`); a
                // commit checkpoints by itself only if the log outgrows that (about 32 MB).
                conn.execute("PRAGMA wal_autocheckpoint = 8000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
}

/// Creates a fresh, empty PostgreSQL database on the server at `server_url` and returns its URL.
/// Used by tests and benchmarks (each test gets its own database).
pub async fn create_postgres_database(server_url: &str, name: &str) -> StorageResult<String> {
    sqlx::any::install_default_drivers();
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StorageError::Config(format!("bad database name {name:?}")));
    }
    let mut url = url::Url::parse(server_url).map_err(|e| StorageError::Config(e.to_string()))?;
    let mut admin = url.clone();
    admin.set_path("/postgres");
    let mut conn = sqlx::AnyConnection::connect(admin.as_str()).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Drops a database created by [`create_postgres_database`].
pub async fn drop_postgres_database(server_url: &str, name: &str) -> StorageResult<()> {
    sqlx::any::install_default_drivers();
    let mut admin = url::Url::parse(server_url).map_err(|e| StorageError::Config(e.to_string()))?;
    admin.set_path("/postgres");
    let mut conn = sqlx::AnyConnection::connect(admin.as_str()).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    Ok(())
}

/// Runs one administrative statement against the PostgreSQL server (tests use it to simulate an
/// outage by refusing and cutting connections to a database).
pub async fn postgres_admin(server_url: &str, statement: &str) -> StorageResult<()> {
    sqlx::any::install_default_drivers();
    let mut admin = url::Url::parse(server_url).map_err(|e| StorageError::Config(e.to_string()))?;
    admin.set_path("/postgres");
    let mut conn = sqlx::AnyConnection::connect(admin.as_str()).await?;
    conn.execute(statement).await?;
    Ok(())
}

use sqlx::Connection;

#[cfg(test)]
mod tests {
    #[test]
    fn fixed_chunks_cover_every_row_once_in_seven_shapes() {
        for len in 0..300 {
            let chunks = super::fixed_chunks(len);
            let mut next = 0;
            for (start, size) in &chunks {
                assert_eq!(*start, next);
                assert!(super::CHUNK_SIZES.contains(size));
                next += size;
            }
            assert_eq!(next, len);
            if len < 64 {
                assert!(chunks.len() <= 6, "{len} rows in {} statements", chunks.len());
            }
        }
        assert_eq!(super::fixed_chunks(85), vec![(0, 64), (64, 16), (80, 4), (84, 1)]);
        assert_eq!(
            super::fixed_chunks(63),
            vec![(0, 32), (32, 16), (48, 8), (56, 4), (60, 2), (62, 1)]
        );
    }
}
