//! User accounts, login bookkeeping and delegations (ủy quyền).

use super::rows::{ActiveDelegation, Delegation, NewDelegation, NewUser, User, UserAuth, UserRow, USER_COLUMNS};
use super::{audit, Db, StorageResult};
use crate::audit::NewAuditEntry;
use crate::model::Role;

const DELEGATION_COLUMNS: &str =
    "id, agency_id, delegator_id, delegate_id, roles, authority, valid_from, valid_to, legal_basis, \
    created_by, created_at, revoked_at";

impl Db {
    pub async fn create_user(&self, u: &NewUser, now_ms: i64, audit_entry: NewAuditEntry) -> StorageResult<User> {
        let mut tx = self.begin_write().await?;
        let row: UserRow = sqlx::query_as(&format!(
            "INSERT INTO users (username, display_name, password_hash, agency_id, unit_id, position, roles, password_changed_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {USER_COLUMNS}"
        ))
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(u.agency_id)
        .bind(u.unit_id)
        .bind(&u.position)
        .bind(Role::join(&u.roles))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = audit_entry;
        entry.target_id = Some(row.id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(UserAuth::from(row).user)
    }

    pub async fn user_auth(&self, username: &str) -> StorageResult<UserAuth> {
        let row: UserRow = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_one(&self.read)
            .await?;
        Ok(row.into())
    }

    pub async fn user(&self, id: i64) -> StorageResult<User> {
        let row: UserRow = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.read)
            .await?;
        Ok(UserAuth::from(row).user)
    }

    pub async fn users(&self, agency_id: i64) -> StorageResult<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE agency_id = $1 ORDER BY id"
        ))
        .bind(agency_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(|r| UserAuth::from(r).user).collect())
    }

    pub async fn user_count(&self) -> StorageResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.read)
            .await?;
        Ok(n)
    }

    /// Records a failed login; locks the account when `max_failed` is reached. Returns whether
    /// the account is now locked.
    pub async fn record_failed_login(
        &self,
        user_id: i64,
        max_failed: u32,
        entry: NewAuditEntry,
    ) -> StorageResult<bool> {
        let mut tx = self.begin_write().await?;
        let (failed, locked): (i64, i64) = sqlx::query_as(
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked = CASE WHEN failed_logins + 1 >= $2 THEN 1 ELSE locked END WHERE id = $1 RETURNING failed_logins, locked",
        )
        .bind(user_id)
        .bind(i64::from(max_failed))
        .fetch_one(&mut *tx)
        .await?;
        let mut entries = vec![entry.clone()];
        if locked != 0 && failed == i64::from(max_failed) {
            let mut lock = entry;
            lock.action = "user.locked".into();
            lock.details = serde_json::json!({"reason": "too many failed logins", "failed_logins": failed}).to_string();
            entries.push(lock);
        }
        audit::append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok(locked != 0)
    }

    pub async fn set_user_locked(&self, user_id: i64, locked: bool, entry: NewAuditEntry) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE users SET locked = $2, failed_logins = 0 WHERE id = $1")
            .bind(user_id)
            .bind(i64::from(locked))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(super::StorageError::NotFound);
        }
        if locked {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the password hash and ends every session of the user.
    pub async fn set_password(&self, user_id: i64, hash: &str, now_ms: i64, entry: NewAuditEntry) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE users SET password_hash = $2, password_changed_at = $3, failed_logins = 0 WHERE id = $1",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(super::StorageError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_delegation(
        &self,
        d: &NewDelegation,
        now_ms: i64,
        audit_entry: NewAuditEntry,
    ) -> StorageResult<Delegation> {
        let mut tx = self.begin_write().await?;
        let del: Delegation = sqlx::query_as(&format!(
            "INSERT INTO delegations (agency_id, delegator_id, delegate_id, roles, authority, valid_from, valid_to, legal_basis, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {DELEGATION_COLUMNS}"
        ))
        .bind(d.agency_id)
        .bind(d.delegator_id)
        .bind(d.delegate_id)
        .bind(Role::join(&d.roles))
        .bind(&d.authority)
        .bind(d.valid_from)
        .bind(d.valid_to)
        .bind(&d.legal_basis)
        .bind(d.created_by)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = audit_entry;
        entry.target_id = Some(del.id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(del)
    }

    pub async fn delegations(&self, agency_id: i64) -> StorageResult<Vec<Delegation>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DELEGATION_COLUMNS} FROM delegations WHERE agency_id = $1 ORDER BY id DESC"
        ))
        .bind(agency_id)
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn delegation(&self, id: i64) -> StorageResult<Delegation> {
        Ok(
            sqlx::query_as(&format!("SELECT {DELEGATION_COLUMNS} FROM delegations WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.read)
                .await?,
        )
    }

    pub async fn revoke_delegation(&self, id: i64, now_ms: i64, entry: NewAuditEntry) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE delegations SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(super::StorageError::NotFound);
        }
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Delegations to `user_id` in force at `now_ms`, with the delegator's unit.
    pub async fn active_delegations(&self, user_id: i64, now_ms: i64) -> StorageResult<Vec<ActiveDelegation>> {
        Ok(sqlx::query_as(
            "SELECT d.delegator_id, d.roles, u.unit_id AS delegator_unit_id, d.valid_from, d.valid_to FROM delegations d \
             JOIN users u ON u.id = d.delegator_id WHERE d.delegate_id = $1 AND d.revoked_at IS NULL AND d.valid_from <= $2 \
             AND d.valid_to > $2 AND u.locked = 0",
        )
        .bind(user_id)
        .bind(now_ms)
        .fetch_all(&self.read)
        .await?)
    }

    /// The next instant after `now_ms` at which a delegation to `user_id` starts or ends.
    pub async fn next_delegation_change(&self, user_id: i64, now_ms: i64) -> StorageResult<Option<i64>> {
        let (t,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(CASE WHEN valid_from > $2 THEN valid_from ELSE valid_to END) FROM delegations \
             WHERE delegate_id = $1 AND revoked_at IS NULL AND valid_to > $2",
        )
        .bind(user_id)
        .bind(now_ms)
        .fetch_one(&self.read)
        .await?;
        Ok(t)
    }
}
