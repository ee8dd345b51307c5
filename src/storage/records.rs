//! Records (hồ sơ): the annual record list, filing, closing, legal hold, disposal.

use serde::Serialize;

use super::archive::enqueue_archive;
use super::{audit, Db, StorageError, StorageResult};
use crate::audit::NewAuditEntry;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Record {
    pub id: i64,
    pub agency_id: i64,
    /// FileCatalog: năm hình thành hồ sơ.
    pub year: i64,
    /// FileNotation: số và ký hiệu hồ sơ, e.g. `01.TCCB`.
    pub notation: String,
    /// Đề mục (heading of the danh mục), e.g. `I. Tổ chức cán bộ`.
    pub heading: String,
    /// Tiêu đề hồ sơ.
    pub title: String,
    /// Retention period code (see `GET /api/v1/retention-periods`).
    pub retention_code: String,
    /// Version of the retention table the period was chosen from.
    pub retention_version: String,
    /// Người lập hồ sơ.
    pub creator_id: Option<i64>,
    /// `planned` (in the list), `open`, `closed`, `disposed`.
    pub status: String,
    pub start_date: Option<String>,
    /// The day the work ended (kết thúc hồ sơ); retention counts from its year.
    pub end_date: Option<String>,
    /// For "until superseded" records: the day their documents stopped being in force.
    pub superseded_on: Option<String>,
    /// The reason of a legal hold, which blocks disposal; `null` when there is none.
    pub legal_hold: Option<String>,
    pub deposited_at: Option<i64>,
    pub disposed_at: Option<i64>,
    pub disposed_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, agency_id, year, notation, heading, title, retention_code, retention_version, creator_id, \
    status, start_date, end_date, superseded_on, legal_hold, deposited_at, disposed_at, disposed_by, created_at, updated_at";

#[derive(Clone, Debug)]
pub struct NewRecord {
    pub agency_id: i64,
    pub year: i64,
    pub notation: String,
    pub heading: String,
    pub title: String,
    pub retention_code: String,
    pub retention_version: String,
    pub creator_id: Option<i64>,
}

/// A document filed in a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FiledDocument {
    pub record_id: i64,
    pub document_id: i64,
    /// DocOrdinal: position in the record, from 1.
    pub ordinal: i64,
    pub filed_by: Option<i64>,
    pub filed_at: i64,
}

/// A change to a record's state, checked against its current status in the same statement.
#[derive(Clone, Debug)]
pub enum RecordChange {
    Open {
        start_date: String,
    },
    Close {
        end_date: String,
        title: Option<String>,
        retention: Option<(String, String)>,
    },
    Hold {
        reason: Option<String>,
    },
    Superseded {
        on: String,
    },
    Deposited,
}

impl Db {
    pub async fn create_record(&self, r: &NewRecord, now_ms: i64, entry: NewAuditEntry) -> StorageResult<Record> {
        let mut tx = self.begin_write().await?;
        let row: Record = sqlx::query_as(&format!(
            "INSERT INTO records (agency_id, year, notation, heading, title, retention_code, retention_version, creator_id, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'planned', $9, $9) RETURNING {COLUMNS}"
        ))
        .bind(r.agency_id)
        .bind(r.year)
        .bind(&r.notation)
        .bind(&r.heading)
        .bind(&r.title)
        .bind(&r.retention_code)
        .bind(&r.retention_version)
        .bind(r.creator_id)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = entry;
        entry.target_id = Some(row.id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn record(&self, id: i64) -> StorageResult<Record> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM records WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.read)
            .await?)
    }

    /// The agency's record list for a year (danh mục hồ sơ), in notation order.
    pub async fn records(&self, agency_id: i64, year: i64) -> StorageResult<Vec<Record>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM records WHERE agency_id = $1 AND year = $2 ORDER BY notation, id"
        ))
        .bind(agency_id)
        .bind(year)
        .fetch_all(&self.read)
        .await?)
    }

    /// Applies a state change if the record is in one of `from`; `Conflict` otherwise.
    pub async fn change_record(
        &self,
        id: i64,
        from: &[&str],
        change: &RecordChange,
        now_ms: i64,
        entry: NewAuditEntry,
    ) -> StorageResult<Record> {
        let mut tx = self.begin_write().await?;
        let current: Record = sqlx::query_as(&format!("SELECT {COLUMNS} FROM records WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if !from.contains(&current.status.as_str()) {
            return Err(StorageError::Conflict(format!("the record is {}", current.status)));
        }
        let q = match change {
            RecordChange::Open { start_date } => {
                sqlx::query("UPDATE records SET status = 'open', start_date = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(start_date.clone())
                    .bind(now_ms)
            }
            RecordChange::Close {
                end_date,
                title,
                retention,
            } => sqlx::query(
                "UPDATE records SET status = 'closed', end_date = $2, title = COALESCE($3, title), \
                 retention_code = COALESCE($4, retention_code), retention_version = COALESCE($5, retention_version), \
                 updated_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(end_date.clone())
            .bind(title.clone())
            .bind(retention.as_ref().map(|r| r.0.clone()))
            .bind(retention.as_ref().map(|r| r.1.clone()))
            .bind(now_ms),
            RecordChange::Hold { reason } => {
                sqlx::query("UPDATE records SET legal_hold = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(reason.clone())
                    .bind(now_ms)
            }
            RecordChange::Superseded { on } => {
                sqlx::query("UPDATE records SET superseded_on = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(on.clone())
                    .bind(now_ms)
            }
            RecordChange::Deposited => {
                sqlx::query("UPDATE records SET deposited_at = $2, updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now_ms)
            }
        };
        q.execute(&mut *tx).await?;
        let mut entry = entry;
        entry.target_id = Some(id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        // Closing can change the title or number the archived metadata shows: re-archive.
        if matches!(change, RecordChange::Close { .. }) {
            let docs: Vec<(i64,)> = sqlx::query_as("SELECT document_id FROM record_documents WHERE record_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            let ids: Vec<i64> = docs.into_iter().map(|r| r.0).collect();
            for chunk in ids.chunks(200) {
                enqueue_archive(&mut tx, chunk, &format!("record-{id}-closed"), now_ms).await?;
            }
        }
        let row: Record = sqlx::query_as(&format!("SELECT {COLUMNS} FROM records WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Files a document into an open record at the next ordinal, and queues its re-archiving
    /// (the metadata gains FileCode and DocOrdinal). `Conflict` when the record is not open or
    /// the document is already filed.
    pub async fn file_document(
        &self,
        record_id: i64,
        document_id: i64,
        filed_by: Option<i64>,
        now_ms: i64,
        entry: NewAuditEntry,
    ) -> StorageResult<FiledDocument> {
        let mut tx = self.begin_write().await?;
        let lock = if tx.backend_name() == "PostgreSQL" {
            "SELECT status FROM records WHERE id = $1 FOR UPDATE"
        } else {
            "SELECT status FROM records WHERE id = $1"
        };
        let (status,): (String,) = sqlx::query_as(lock).bind(record_id).fetch_one(&mut *tx).await?;
        if status != "open" {
            return Err(StorageError::Conflict(format!("the record is {status}, not open")));
        }
        let (next,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM record_documents WHERE record_id = $1")
                .bind(record_id)
                .fetch_one(&mut *tx)
                .await?;
        let filed: FiledDocument = sqlx::query_as(
            "INSERT INTO record_documents (record_id, document_id, ordinal, filed_by, filed_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING record_id, document_id, ordinal, filed_by, filed_at",
        )
        .bind(record_id)
        .bind(document_id)
        .bind(next)
        .bind(filed_by)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = entry;
        entry.target_id = Some(record_id.to_string());
        entry.details = serde_json::json!({"document_id": document_id, "ordinal": next}).to_string();
        audit::append(&mut tx, &[entry]).await?;
        enqueue_archive(&mut tx, &[document_id], &format!("filed-{record_id}"), now_ms).await?;
        tx.commit().await?;
        Ok(filed)
    }

    pub async fn record_documents(&self, record_id: i64) -> StorageResult<Vec<FiledDocument>> {
        Ok(sqlx::query_as(
            "SELECT record_id, document_id, ordinal, filed_by, filed_at FROM record_documents WHERE record_id = $1 \
             ORDER BY ordinal",
        )
        .bind(record_id)
        .fetch_all(&self.read)
        .await?)
    }

    /// The record a document is filed in, with its ordinal.
    /// Where several documents are filed: (document, record, ordinal), one statement per 500.
    pub async fn filings_of(&self, ids: &[i64]) -> StorageResult<Vec<(i64, i64, i64)>> {
        super::fetch_by_ids(
            &self.read,
            "SELECT document_id, record_id, ordinal FROM record_documents WHERE document_id IN ({ids})",
            ids,
        )
        .await
    }

    pub async fn filing_of(&self, document_id: i64) -> StorageResult<Option<(Record, i64)>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT record_id, ordinal FROM record_documents WHERE document_id = $1")
                .bind(document_id)
                .fetch_optional(&self.read)
                .await?;
        match row {
            Some((rid, ordinal)) => Ok(Some((self.record(rid).await?, ordinal))),
            None => Ok(None),
        }
    }

    /// Disposes of a record (tiêu hủy): marks it and its documents' archived files disposed, and
    /// forgets the file objects no remaining (undisposed) archived file shares. The record row,
    /// its filing list and every metadata object are kept. Returns the keys of the objects to
    /// delete from the store, which the caller does after this commit (a failed delete leaves an
    /// orphan the fixity check reports, never a row without its object).
    pub async fn dispose_record(
        &self,
        id: i64,
        by: Option<i64>,
        now_ms: i64,
        entry: NewAuditEntry,
    ) -> StorageResult<(Record, Vec<String>)> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE records SET status = 'disposed', disposed_at = $2, disposed_by = $3, updated_at = $2 \
             WHERE id = $1 AND status = 'closed' AND legal_hold IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .bind(by)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StorageError::Conflict(
                "the record is not closed or is under a legal hold".into(),
            ));
        }
        sqlx::query(
            "UPDATE archived_files SET disposed_at = $2 WHERE disposed_at IS NULL AND document_id IN \
             (SELECT document_id FROM record_documents WHERE record_id = $1)",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let keys: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT f.object_key FROM archived_files f JOIN record_documents rd ON rd.document_id = f.document_id \
             WHERE rd.record_id = $1 AND NOT EXISTS (SELECT 1 FROM archived_files g WHERE g.object_key = f.object_key \
             AND g.disposed_at IS NULL)",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let keys: Vec<String> = keys.into_iter().map(|k| k.0).collect();
        for k in &keys {
            sqlx::query("DELETE FROM archive_objects WHERE object_key = $1 AND kind = 'file'")
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
        let mut entry = entry;
        entry.target_id = Some(id.to_string());
        entry.details = serde_json::json!({"deleted_objects": keys.len()}).to_string();
        audit::append(&mut tx, &[entry]).await?;
        let row: Record = sqlx::query_as(&format!("SELECT {COLUMNS} FROM records WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((row, keys))
    }
}
