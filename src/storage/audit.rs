//! The audit log table: appended inside the caller's transaction, chained through `audit_head`
//! (a one-row table whose row lock serialises appenders on PostgreSQL).

use serde::Serialize;
use sqlx::AnyConnection;

use super::rows::AuditRow;
use super::{Db, StorageResult};
use crate::audit::chain::entry_hash;
use crate::audit::{AuditEntry, ChainBreak, NewAuditEntry, Verifier};

/// Appends entries in order, inside the transaction that owns `conn`.
pub(crate) async fn append(conn: &mut AnyConnection, entries: &[NewAuditEntry]) -> StorageResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = entries.len() as i64;
    // Lock the chain head, then write it once: a hot row updated once per batch leaves half the
    // dead row versions that an increment-then-set pair would. SQLite has no FOR UPDATE and needs
    // none: its single writer connection already serialises appenders.
    let lock = if conn.backend_name() == "PostgreSQL" {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    let (head, mut prev): (i64, String) = sqlx::query_as(lock).fetch_one(&mut *conn).await?;
    let first = head + 1;
    let last = head + n;
    let mut hashes = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let seq = first + i as i64;
        let hash = entry_hash(seq, &prev, e);
        hashes.push((prev.clone(), hash.clone()));
        prev = hash;
    }
    // Multi-row inserts in a few fixed shapes (see `fixed_chunks`), with anonymous placeholders
    // on SQLite (see `placeholder`).
    let postgres = conn.backend_name() == "PostgreSQL";
    for (start, size) in super::fixed_chunks(entries.len()) {
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at_ms, actor_id, actor, action, target_kind, target_id, ip, details, prev_hash, hash) VALUES ",
        );
        for i in 0..size {
            if i > 0 {
                sql.push_str(", ");
            }
            let row: Vec<String> = (1..=11).map(|c| super::placeholder(postgres, i * 11 + c)).collect();
            sql.push('(');
            sql.push_str(&row.join(", "));
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for (idx, e) in entries.iter().enumerate().skip(start).take(size) {
            let (prev_hash, hash) = &hashes[idx];
            q = q
                .bind(first + idx as i64)
                .bind(e.at_ms)
                .bind(e.actor_id)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.target_kind)
                .bind(&e.target_id)
                .bind(&e.ip)
                .bind(&e.details)
                .bind(prev_hash)
                .bind(hash);
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(last)
        .bind(&prev)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Result of `vanthu audit verify`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditVerification {
    pub checked: u64,
    pub head_seq: i64,
    /// `None` when the chain is intact.
    pub error: Option<String>,
}

impl Db {
    /// Appends entries in their own transaction (used for batched read events).
    pub async fn append_audit(&self, entries: &[NewAuditEntry]) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        append(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Newest entries first, optionally before a sequence number and for one target.
    pub async fn audit_entries(
        &self,
        before_seq: Option<i64>,
        target: Option<(&str, &str)>,
        limit: i64,
    ) -> StorageResult<Vec<AuditEntry>> {
        let (kind, id) = target.unwrap_or(("", ""));
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT seq, at_ms, actor_id, actor, action, target_kind, target_id, ip, details, prev_hash, hash FROM audit_log \
             WHERE seq < $1 AND ($2 = '' OR (target_kind = $2 AND target_id = $3)) ORDER BY seq DESC LIMIT $4",
        )
        .persistent(false)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(kind)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Re-computes the whole chain, in pages, and compares its end with the chain head.
    pub async fn verify_audit(&self, mut progress: impl FnMut(u64, i64)) -> StorageResult<AuditVerification> {
        let (head_seq, head_hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.read)
            .await?;
        let mut verifier = Verifier::default();
        let mut after = 0i64;
        let mut failure: Option<ChainBreak> = None;
        'pages: loop {
            let rows: Vec<AuditRow> = sqlx::query_as(
                "SELECT seq, at_ms, actor_id, actor, action, target_kind, target_id, ip, details, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 5000",
            )
            .bind(after)
            .bind(head_seq)
            .fetch_all(&self.read)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                after = row.seq;
                if let Err(e) = verifier.push(&row.into()) {
                    failure = Some(e);
                    break 'pages;
                }
            }
            progress(verifier.checked, head_seq);
        }
        if failure.is_none() {
            failure = verifier.finish(head_seq, &head_hash).err();
        }
        Ok(AuditVerification {
            checked: verifier.checked,
            head_seq,
            error: failure.map(|e| e.to_string()),
        })
    }

    /// Test support: tamper with the log as an attacker with database access would.
    #[doc(hidden)]
    pub async fn tamper_audit_for_test(&self, statement: &str) -> StorageResult<u64> {
        Ok(sqlx::query(statement).execute(&self.write).await?.rows_affected())
    }
}
