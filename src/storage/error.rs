use sqlx::error::ErrorKind;

/// Storage failures, classified once here so that callers never look inside sqlx errors.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key rule refused the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached (down, restarting, pool exhausted). Retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("data in the database is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                Self::Unavailable(e.to_string())
            }
            sqlx::Error::Database(ref db) => match db.kind() {
                ErrorKind::UniqueViolation => Self::Conflict(db.message().to_string()),
                ErrorKind::ForeignKeyViolation => Self::Conflict(db.message().to_string()),
                _ => {
                    let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                    // PostgreSQL: 57P0x admin shutdown / crash, 08xxx connection exceptions,
                    // 3D000 database does not exist (dropped), 53300 too many connections.
                    // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
                    let unavailable = code.starts_with("57P")
                        || code.starts_with("08")
                        || code == "3D000"
                        || code == "53300"
                        || code == "5"
                        || code == "6"
                        || db.message().contains("not currently accepting connections");
                    if unavailable {
                        Self::Unavailable(db.message().to_string())
                    } else {
                        Self::Other(e.to_string())
                    }
                }
            },
            other => Self::Other(other.to_string()),
        }
    }
}
