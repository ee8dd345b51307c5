//! Login sessions: only the SHA-256 of the token is stored.

use super::rows::{SessionUser, UserAuth, UserRow};
use super::{audit, Db, StorageResult};
use crate::audit::NewAuditEntry;

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    s_created_at: i64,
    s_last_seen_at: i64,
    s_expires_at: i64,
}

impl Db {
    /// Starts a session after a successful login and resets the failure counter.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now_ms: i64,
        expires_at: i64,
        ip: Option<&str>,
        entry: NewAuditEntry,
    ) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip) VALUES ($1, $2, $3, $3, $4, $5)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now_ms)
            .bind(expires_at)
            .bind(ip)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET failed_logins = 0 WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session and its user, if the token is known (expiry is judged by the caller).
    pub async fn session(&self, token_hash: &str) -> StorageResult<SessionUser> {
        let row: SessionRow = sqlx::query_as(
            "SELECT u.id, u.username, u.display_name, u.password_hash, u.agency_id, u.unit_id, u.position, u.roles, u.locked, \
             u.failed_logins, u.password_changed_at, u.created_at, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
             s.expires_at AS s_expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_one(&self.read)
        .await?;
        Ok(SessionUser {
            user: UserAuth::from(row.user).user,
            created_at: row.s_created_at,
            last_seen_at: row.s_last_seen_at,
            expires_at: row.s_expires_at,
        })
    }

    /// Marks the session as used now (callers throttle this to keep reads cheap).
    pub async fn touch_session(&self, token_hash: &str, now_ms: i64) -> StorageResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now_ms)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str, entry: Option<NewAuditEntry>) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if let Some(e) = entry {
            audit::append(&mut tx, &[e]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
