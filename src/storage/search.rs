//! The search change log (`search_changes`, migration 0004) and the reads the indexer needs.
//!
//! A change is logged inside the transaction that makes it ([`log_changes`]). Sequence numbers
//! come from the one-row `search_change_head`, whose row lock is held until commit, so they are
//! gapless and become visible in order: a reader that has seen `seq = N` has seen every change
//! before it. Indexers therefore keep one number — their cursor — and never miss an update.

use sqlx::AnyConnection;

use super::rows::{Document, DocumentFile, DocumentRow, DOCUMENT_COLUMNS};
use super::{Db, StorageError, StorageResult};

/// One entry of the change log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SearchChange {
    pub seq: i64,
    pub document_id: i64,
}

/// Appends one change per document id, in the caller's transaction. Call it last before the
/// audit append, so every transaction takes the head locks in the same order (counters, this
/// head, the audit head).
pub(crate) async fn log_changes(conn: &mut AnyConnection, document_ids: &[i64], now_ms: i64) -> StorageResult<()> {
    if document_ids.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(document_ids.len()).map_err(|_| StorageError::Other("too many changes".into()))?;
    if conn.backend_name() == "PostgreSQL" {
        // One statement for any number of changes: the head moves and the rows are numbered
        // from it, in the order given (ids as one comma-separated parameter).
        let list: Vec<String> = document_ids.iter().map(i64::to_string).collect();
        sqlx::query(
            "WITH head AS (UPDATE search_change_head SET seq = seq + $1 WHERE id = 1 RETURNING seq) \
             INSERT INTO search_changes (seq, document_id, created_at) \
             SELECT head.seq - $1 + u.n, u.id, $2 FROM head, \
             unnest(string_to_array($3, ',')::BIGINT[]) WITH ORDINALITY AS u (id, n)",
        )
        .bind(count)
        .bind(now_ms)
        .bind(list.join(","))
        .execute(&mut *conn)
        .await?;
        return Ok(());
    }
    let (last,): (i64,) = sqlx::query_as("UPDATE search_change_head SET seq = seq + $1 WHERE id = 1 RETURNING seq")
        .bind(count)
        .fetch_one(&mut *conn)
        .await?;
    let mut seq = last - count + 1;
    // A few fixed statement shapes, anonymous placeholders on SQLite (see `super::placeholder`).
    let postgres = conn.backend_name() == "PostgreSQL";
    for (start, size) in super::fixed_chunks(document_ids.len()) {
        let chunk = &document_ids[start..start + size];
        let mut sql = String::from("INSERT INTO search_changes (seq, document_id, created_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let ph = |c: usize| super::placeholder(postgres, i * 3 + c);
            sql.push_str(&format!("({}, {}, {})", ph(1), ph(2), ph(3)));
        }
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(seq).bind(*id).bind(now_ms);
            seq += 1;
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Db {
    /// Changes after `after`, oldest first, at most `limit`.
    pub async fn search_changes_after(&self, after: i64, limit: i64) -> StorageResult<Vec<SearchChange>> {
        Ok(
            sqlx::query_as("SELECT seq, document_id FROM search_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&self.read)
                .await?,
        )
    }

    /// The newest sequence number in the change log (0 when empty).
    pub async fn search_change_head(&self) -> StorageResult<i64> {
        let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM search_change_head WHERE id = 1")
            .fetch_one(&self.read)
            .await?;
        Ok(seq)
    }

    /// The documents with these ids (missing ids are skipped), in id order.
    pub async fn documents_by_ids(&self, ids: &[i64]) -> StorageResult<Vec<Document>> {
        let rows: Vec<DocumentRow> = super::fetch_by_ids(
            &self.read,
            &format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id IN ({{ids}}) ORDER BY id"),
            ids,
        )
        .await?;
        Ok(rows.into_iter().map(Document::from).collect())
    }

    /// Up to `limit` documents with an id above `after_id`, in id order (for a full reindex).
    pub async fn documents_after(&self, after_id: i64, limit: i64) -> StorageResult<Vec<Document>> {
        let rows: Vec<DocumentRow> = sqlx::query_as(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Document::from).collect())
    }

    /// The files attached to these documents, in id order.
    pub async fn files_of_documents(&self, ids: &[i64]) -> StorageResult<Vec<DocumentFile>> {
        super::fetch_by_ids(
            &self.read,
            "SELECT id, document_id, filename, content_type, size_bytes, sha256, object_key, verified_at, created_by, \
             created_at FROM document_files WHERE document_id IN ({ids}) ORDER BY id",
            ids,
        )
        .await
    }
}

/// Text extracted from one stored file (migration 0005), keyed by its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FileText {
    pub sha256: String,
    /// `text`, `no_text_layer` or `unreadable`.
    pub state: String,
    pub body: String,
    pub truncated: i64,
    pub note: Option<String>,
    pub extracted_at: i64,
}

impl Db {
    /// The cached texts of these contents (those never extracted are absent).
    pub async fn file_texts(&self, sha256s: &[String]) -> StorageResult<Vec<FileText>> {
        let mut out = Vec::with_capacity(sha256s.len());
        for chunk in sha256s.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT sha256, state, body, truncated, note, extracted_at FROM file_texts WHERE sha256 IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query_as::<_, FileText>(&sql);
            for s in chunk {
                q = q.bind(s);
            }
            out.extend(q.fetch_all(&self.read).await?);
        }
        Ok(out)
    }

    /// Stores (or replaces) the extracted text of one content.
    pub async fn put_file_text(&self, t: &FileText) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO file_texts (sha256, state, body, truncated, note, extracted_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (sha256) DO UPDATE SET state = excluded.state, body = excluded.body, \
             truncated = excluded.truncated, note = excluded.note, extracted_at = excluded.extracted_at",
        )
        .bind(&t.sha256)
        .bind(&t.state)
        .bind(&t.body)
        .bind(t.truncated)
        .bind(&t.note)
        .bind(t.extracted_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Forgets every extracted text, so the next rebuild reads every file again.
    pub async fn clear_file_texts(&self) -> StorageResult<u64> {
        Ok(sqlx::query("DELETE FROM file_texts")
            .execute(&self.write)
            .await?
            .rows_affected())
    }
}
