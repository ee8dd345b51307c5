//! The audit log table: appended inside the caller's transaction, chained through `audit_head`
//! (a one-row table whose row lock serialises appenders on PostgreSQL).

use serde::Serialize;
use sqlx::AnyConnection;

use super::rows::AuditRow;
use super::{Db, StorageError, StorageResult};
use crate::audit::chain::entry_hash;
use crate::audit::{AuditEntry, ChainBreak, NewAuditEntry, Verifier};

/// The end of the audit chain: the last entry's sequence number and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// The `(prev_hash, hash)` of each entry appended after `head`, and the new head.
fn chain_after(head: &AuditHead, entries: &[NewAuditEntry]) -> (Vec<(String, String)>, AuditHead) {
    let mut prev = head.hash.clone();
    let mut hashes = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let hash = entry_hash(head.seq + 1 + i as i64, &prev, e);
        hashes.push((prev, hash.clone()));
        prev = hash;
    }
    let end = AuditHead {
        seq: head.seq + entries.len() as i64,
        hash: prev,
    };
    (hashes, end)
}

/// Binds one entry's 11 `audit_log` columns, in table order.
fn bind_entry<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    seq: i64,
    e: &'q NewAuditEntry,
    (prev_hash, hash): &'q (String, String),
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(seq)
        .bind(e.at_ms)
        .bind(e.actor_id)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target_kind)
        .bind(&e.target_id)
        .bind(&e.ip)
        .bind(&e.details)
        .bind(prev_hash)
        .bind(hash)
}

/// `(p1, …, p11), (p12, …)` for `rows` rows, numbering from `$first`.
fn values_rows(postgres: bool, first: usize, rows: usize) -> String {
    let mut sql = String::new();
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        let row: Vec<String> = (0..11)
            .map(|c| super::placeholder(postgres, first + i * 11 + c))
            .collect();
        sql.push('(');
        sql.push_str(&row.join(", "));
        sql.push(')');
    }
    sql
}

/// Appends entries in order, inside the transaction that owns `conn`, and returns the new head.
pub(crate) async fn append(conn: &mut AnyConnection, entries: &[NewAuditEntry]) -> StorageResult<AuditHead> {
    // Lock the chain head, then write it once: a hot row updated once per batch leaves half the
    // dead row versions that an increment-then-set pair would. SQLite has no FOR UPDATE and needs
    // none: its single writer connection already serialises appenders.
    let lock = if conn.backend_name() == "PostgreSQL" {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    let (seq, hash): (i64, String) = sqlx::query_as(lock).fetch_one(&mut *conn).await?;
    if entries.is_empty() {
        return Ok(AuditHead { seq, hash });
    }
    let first = seq + 1;
    let (hashes, end) = chain_after(&AuditHead { seq, hash }, entries);
    // Multi-row inserts in a few fixed shapes (see `fixed_chunks`), with anonymous placeholders
    // on SQLite (see `placeholder`).
    let postgres = conn.backend_name() == "PostgreSQL";
    let chunks = super::fixed_chunks(entries.len());
    let last = chunks.len() - 1;
    for (n, (start, size)) in chunks.into_iter().enumerate() {
        // On PostgreSQL the head is moved by the last chunk's statement (the row is locked
        // already, so the update cannot miss): one round trip less per append.
        let with_head = postgres && n == last;
        let sql = if with_head {
            format!(
                "WITH head AS (UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1) \
                 INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES {}",
                values_rows(true, 3, size)
            )
        } else {
            format!(
                "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES {}",
                values_rows(postgres, 1, size)
            )
        };
        let mut q = sqlx::query(&sql);
        if with_head {
            q = q.bind(end.seq).bind(&end.hash);
        }
        for (idx, e) in entries.iter().enumerate().skip(start).take(size) {
            q = bind_entry(q, first + idx as i64, e, &hashes[idx]);
        }
        q.execute(&mut *conn).await?;
    }
    if !postgres {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(end.seq)
            .bind(&end.hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(end)
}

const AUDIT_COLUMNS: &str = "seq, at_ms, actor_id, actor, action, target_kind, target_id, ip, details, prev_hash, hash";

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
    pub async fn append_audit(&self, entries: &[NewAuditEntry]) -> StorageResult<AuditHead> {
        let mut tx = self.begin_write().await?;
        let head = append(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(head)
    }

    /// Appends entries only if `head` is still the end of the chain, and returns the new head;
    /// `None` (nothing written) when another appender moved it. On PostgreSQL this is one
    /// autocommitted statement: the head row is updated only where it still holds `head`, and
    /// the entries are inserted only if that update matched. A concurrent appender holding the
    /// row lock makes it wait and then re-check, so it can never fork the chain. One round trip
    /// instead of a transaction's five or more is what lets a single writer keep up with
    /// thousands of audited reads a second. At most 64 entries.
    pub async fn append_audit_if_head(
        &self,
        head: &AuditHead,
        entries: &[NewAuditEntry],
    ) -> StorageResult<Option<AuditHead>> {
        if entries.is_empty() || entries.len() > 64 {
            return Err(StorageError::Other(format!(
                "a guarded audit append takes 1 to 64 entries, not {}",
                entries.len()
            )));
        }
        let (hashes, end) = chain_after(head, entries);
        match self.backend {
            super::Backend::Postgres => {
                let sql = format!(
                    "WITH head AS (UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4 RETURNING id) \
                     INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT * FROM (VALUES {}) AS v ({AUDIT_COLUMNS}) \
                     WHERE EXISTS (SELECT 1 FROM head)",
                    values_rows(true, 5, entries.len())
                );
                let mut q = sqlx::query(&sql)
                    .bind(end.seq)
                    .bind(&end.hash)
                    .bind(head.seq)
                    .bind(&head.hash);
                for (i, e) in entries.iter().enumerate() {
                    q = bind_entry(q, head.seq + 1 + i as i64, e, &hashes[i]);
                }
                let written = q.execute(&self.write).await?.rows_affected();
                Ok((written == entries.len() as u64).then_some(end))
            }
            super::Backend::Sqlite => {
                // SQLite's CTEs cannot update; its single writer connection makes the check and
                // the append one short transaction instead.
                let mut tx = self.begin_write().await?;
                let (seq, hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                if seq != head.seq || hash != head.hash {
                    return Ok(None);
                }
                let written = append(&mut tx, entries).await?;
                tx.commit().await?;
                Ok(Some(written))
            }
        }
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
