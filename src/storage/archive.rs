//! The archive's tables: archived documents and files, the objects written, fixity runs; and the
//! `archive.document` jobs queued in the transactions that register documents and attach files.

use serde::Serialize;
use sqlx::AnyConnection;

use super::{audit, Db, StorageResult};
use crate::audit::NewAuditEntry;

/// The job kind that archives a document (and its files).
pub const ARCHIVE_JOB: &str = "archive.document";

/// Queues `archive.document` for these documents inside the caller's transaction (one
/// statement). `reason` makes the dedup key: a registration, a numbering or a file attach each
/// queue their own job, and a repeat of the same event is dropped.
pub(crate) async fn enqueue_archive(
    conn: &mut AnyConnection,
    document_ids: &[i64],
    reason: &str,
    now_ms: i64,
) -> StorageResult<()> {
    if document_ids.is_empty() {
        return Ok(());
    }
    if conn.backend_name() == "PostgreSQL" {
        // One prepared statement for any number of documents (ids as one parameter); the key
        // and payload are the ones built below for SQLite.
        let list: Vec<String> = document_ids.iter().map(i64::to_string).collect();
        sqlx::query(&format!(
            "INSERT INTO jobs (kind, dedup_key, payload, state, attempts, run_at, created_at, updated_at) \
             SELECT '{ARCHIVE_JOB}', '{ARCHIVE_JOB}:' || u.id || ':' || $1, '{{\"document_id\":' || u.id || '}}', \
             'queued', 0, $2, $2, $2 FROM unnest(string_to_array($3, ',')::BIGINT[]) AS u (id) \
             ON CONFLICT (dedup_key) DO NOTHING"
        ))
        .bind(reason)
        .bind(now_ms)
        .bind(list.join(","))
        .execute(&mut *conn)
        .await?;
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO jobs (kind, dedup_key, payload, state, attempts, run_at, created_at, updated_at) VALUES ",
    );
    // Each parameter used once and in order, so SQLite gets anonymous placeholders (see
    // `super::placeholder`).
    let postgres = conn.backend_name() == "PostgreSQL";
    for i in 0..document_ids.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        let ph = |c: usize| super::placeholder(postgres, i * 5 + c);
        sql.push_str(&format!(
            "('{ARCHIVE_JOB}', {}, {}, 'queued', 0, {}, {}, {})",
            ph(1),
            ph(2),
            ph(3),
            ph(4),
            ph(5)
        ));
    }
    sql.push_str(" ON CONFLICT (dedup_key) DO NOTHING");
    let mut q = sqlx::query(&sql).persistent(false);
    for id in document_ids {
        q = q
            .bind(format!("{ARCHIVE_JOB}:{id}:{reason}"))
            .bind(serde_json::json!({"document_id": id}).to_string())
            .bind(now_ms)
            .bind(now_ms)
            .bind(now_ms);
    }
    q.execute(conn).await?;
    Ok(())
}

/// An object the archive wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ArchiveObjectRow {
    pub object_key: String,
    pub sha256: String,
    pub size_bytes: i64,
    /// `file`, `metadata_json` or `metadata_xml`.
    pub kind: String,
    pub created_at: i64,
}

/// An archived document as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ArchivedDocumentRow {
    pub document_id: i64,
    pub version: i64,
    pub metadata: String,
    pub metadata_sha256: String,
    pub metadata_json_key: String,
    pub metadata_xml_key: String,
    pub verification_report_key: Option<String>,
    pub archived_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ArchivedFileRow {
    pub file_id: i64,
    pub document_id: i64,
    pub object_key: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub archived_at: i64,
}

/// What one archiving pass writes, all in one transaction.
#[derive(Clone, Debug)]
pub struct ArchiveRecord {
    pub document_id: i64,
    pub files: Vec<ArchivedFileRow>,
    pub metadata: String,
    pub metadata_json: ArchiveObjectRow,
    pub metadata_xml: ArchiveObjectRow,
    pub now_ms: i64,
    pub audit_entry: NewAuditEntry,
}

impl ArchiveRecord {
    /// The keys of every object this record names.
    pub fn object_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.files.iter().map(|f| f.object_key.clone()).collect();
        keys.push(self.metadata_json.object_key.clone());
        keys.push(self.metadata_xml.object_key.clone());
        keys
    }
}

/// A fixity run as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FixityRunRow {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub sampled: i64,
    pub checked: i64,
    pub missing: i64,
    pub corrupt: i64,
    pub orphaned: i64,
    /// JSON: the problems found.
    pub report: String,
}

const DOC_COLUMNS: &str = "document_id, version, metadata, metadata_sha256, metadata_json_key, metadata_xml_key, \
    verification_report_key, archived_at, updated_at";

async fn insert_object(conn: &mut AnyConnection, o: &ArchiveObjectRow) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO archive_objects (object_key, sha256, size_bytes, kind, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(&o.object_key)
    .bind(&o.sha256)
    .bind(o.size_bytes)
    .bind(&o.kind)
    .bind(o.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

impl Db {
    /// Records a finished archiving pass: its objects, files and metadata, and an audit entry —
    /// only called once every object is stored. The version goes up when the metadata changed.
    /// Returns the stored row and whether anything changed.
    pub async fn record_archive(&self, r: &ArchiveRecord) -> StorageResult<(ArchivedDocumentRow, bool)> {
        self.record_archives(std::slice::from_ref(r))
            .await?
            .pop()
            .ok_or_else(|| super::StorageError::Corrupt("archive record returned no row".into()))
    }

    /// [`Db::record_archive`] for several documents in one transaction, with one audit append
    /// for all of them at its end (the chain head is locked only for that last step). Results
    /// are in the order of `records`; all or nothing.
    pub async fn record_archives(&self, records: &[ArchiveRecord]) -> StorageResult<Vec<(ArchivedDocumentRow, bool)>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let mut ids: Vec<i64> = records.iter().map(|r| r.document_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let out = if ids.len() == records.len() && records.len() > 1 {
            record_batch(&mut tx, records).await?
        } else {
            // One document, or one document twice: each pass must see the one before it.
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                out.push(record_one(&mut tx, r).await?);
            }
            out
        };
        let entries: Vec<NewAuditEntry> = records
            .iter()
            .zip(&out)
            .filter(|(_, (_, changed))| *changed)
            .map(|(r, _)| r.audit_entry.clone())
            .collect();
        if !entries.is_empty() {
            audit::append(&mut tx, &entries).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

type ArchivedQuery<'q> = sqlx::query::QueryAs<'q, sqlx::Any, ArchivedDocumentRow, sqlx::any::AnyArguments<'q>>;

/// Binds a record's `archived_documents` values in column order: document, metadata, its
/// SHA-256, the JSON and XML keys, and the pass's time.
fn bind_archived<'q>(q: ArchivedQuery<'q>, r: &'q ArchiveRecord) -> ArchivedQuery<'q> {
    q.bind(r.document_id)
        .bind(&r.metadata)
        .bind(&r.metadata_json.sha256)
        .bind(&r.metadata_json.object_key)
        .bind(&r.metadata_xml.object_key)
        .bind(r.now_ms)
}

/// One newly archived file of a record (a file archived before is left as it is).
async fn insert_archived_file(conn: &mut AnyConnection, r: &ArchiveRecord, f: &ArchivedFileRow) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO archived_files (file_id, document_id, object_key, sha256, size_bytes, archived_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (file_id) DO NOTHING",
    )
    .bind(f.file_id)
    .bind(r.document_id)
    .bind(&f.object_key)
    .bind(&f.sha256)
    .bind(f.size_bytes)
    .bind(r.now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Several distinct documents of [`Db::record_archives`] with multi-row statements: all their
/// objects in one insert per chunk, their current rows in one select, the new ones in one
/// insert per chunk; only changed documents and newly archived files take a statement each.
async fn record_batch(
    conn: &mut AnyConnection,
    records: &[ArchiveRecord],
) -> StorageResult<Vec<(ArchivedDocumentRow, bool)>> {
    let postgres = conn.backend_name() == "PostgreSQL";
    let mut objects: Vec<ArchiveObjectRow> = Vec::with_capacity(records.len() * 2);
    for r in records {
        objects.extend(r.files.iter().map(|f| ArchiveObjectRow {
            object_key: f.object_key.clone(),
            sha256: f.sha256.clone(),
            size_bytes: f.size_bytes,
            kind: "file".into(),
            created_at: r.now_ms,
        }));
        objects.push(r.metadata_json.clone());
        objects.push(r.metadata_xml.clone());
    }
    for (start, size) in super::fixed_chunks(objects.len()) {
        let rows: Vec<String> = (0..size)
            .map(|i| {
                let ph = |c: usize| super::placeholder(postgres, i * 5 + c);
                format!("({}, {}, {}, {}, {})", ph(1), ph(2), ph(3), ph(4), ph(5))
            })
            .collect();
        let sql = format!(
            "INSERT INTO archive_objects (object_key, sha256, size_bytes, kind, created_at) VALUES {} \
             ON CONFLICT (object_key) DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for o in &objects[start..start + size] {
            q = q
                .bind(&o.object_key)
                .bind(&o.sha256)
                .bind(o.size_bytes)
                .bind(&o.kind)
                .bind(o.created_at);
        }
        q.execute(&mut *conn).await?;
    }
    for r in records {
        for f in &r.files {
            insert_archived_file(&mut *conn, r, f).await?;
        }
    }
    let mut current: std::collections::HashMap<i64, ArchivedDocumentRow> = std::collections::HashMap::new();
    for (start, size) in super::fixed_chunks(records.len()) {
        let list: Vec<String> = (1..=size).map(|n| super::placeholder(postgres, n)).collect();
        let sql = format!(
            "SELECT {DOC_COLUMNS} FROM archived_documents WHERE document_id IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query_as::<_, ArchivedDocumentRow>(&sql);
        for r in &records[start..start + size] {
            q = q.bind(r.document_id);
        }
        current.extend(
            q.fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|row| (row.document_id, row)),
        );
    }
    let mut out: std::collections::HashMap<i64, (ArchivedDocumentRow, bool)> = std::collections::HashMap::new();
    let fresh: Vec<&ArchiveRecord> = records
        .iter()
        .filter(|r| !current.contains_key(&r.document_id))
        .collect();
    for (start, size) in super::fixed_chunks(fresh.len()) {
        let rows: Vec<String> = (0..size)
            .map(|i| {
                let ph = |c: usize| super::placeholder(postgres, i * 7 + c);
                format!(
                    "({}, 1, {}, {}, {}, {}, NULL, {}, {})",
                    ph(1),
                    ph(2),
                    ph(3),
                    ph(4),
                    ph(5),
                    ph(6),
                    ph(7)
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO archived_documents (document_id, version, metadata, metadata_sha256, metadata_json_key, \
             metadata_xml_key, verification_report_key, archived_at, updated_at) VALUES {} RETURNING {DOC_COLUMNS}",
            rows.join(", ")
        );
        let mut q = sqlx::query_as::<_, ArchivedDocumentRow>(&sql);
        for r in &fresh[start..start + size] {
            // archived_at, then updated_at: both the pass's time.
            q = bind_archived(q, r).bind(r.now_ms);
        }
        for row in q.fetch_all(&mut *conn).await? {
            out.insert(row.document_id, (row, true));
        }
    }
    for r in records.iter().filter(|r| current.contains_key(&r.document_id)) {
        let done = record_one(&mut *conn, r).await?;
        out.insert(r.document_id, done);
    }
    records
        .iter()
        .map(|r| {
            out.remove(&r.document_id).ok_or_else(|| {
                super::StorageError::Corrupt(format!("archive of document {} not recorded", r.document_id))
            })
        })
        .collect()
}

/// One document of [`Db::record_archives`], inside its transaction (its audit entry is left to
/// the caller).
async fn record_one(conn: &mut AnyConnection, r: &ArchiveRecord) -> StorageResult<(ArchivedDocumentRow, bool)> {
    for f in &r.files {
        insert_object(
            &mut *conn,
            &ArchiveObjectRow {
                object_key: f.object_key.clone(),
                sha256: f.sha256.clone(),
                size_bytes: f.size_bytes,
                kind: "file".into(),
                created_at: r.now_ms,
            },
        )
        .await?;
        insert_archived_file(&mut *conn, r, f).await?;
    }
    insert_object(&mut *conn, &r.metadata_json).await?;
    insert_object(&mut *conn, &r.metadata_xml).await?;
    let current: Option<ArchivedDocumentRow> = sqlx::query_as(&format!(
        "SELECT {DOC_COLUMNS} FROM archived_documents WHERE document_id = $1"
    ))
    .bind(r.document_id)
    .fetch_optional(&mut *conn)
    .await?;
    let sql = match &current {
        None => format!(
            "INSERT INTO archived_documents (document_id, version, metadata, metadata_sha256, metadata_json_key, \
             metadata_xml_key, verification_report_key, archived_at, updated_at) VALUES ($1, 1, $2, $3, $4, $5, NULL, $6, $6) \
             RETURNING {DOC_COLUMNS}"
        ),
        Some(c) if c.metadata_sha256 != r.metadata_json.sha256 => format!(
            "UPDATE archived_documents SET version = version + 1, metadata = $2, metadata_sha256 = $3, \
             metadata_json_key = $4, metadata_xml_key = $5, updated_at = $6 WHERE document_id = $1 RETURNING {DOC_COLUMNS}"
        ),
        Some(c) => return Ok((c.clone(), false)),
    };
    let row: ArchivedDocumentRow = bind_archived(sqlx::query_as(&sql), r).fetch_one(&mut *conn).await?;
    Ok((row, true))
}

impl Db {
    /// The archived document and its archived files as of one moment: both reads share one
    /// snapshot (`REPEATABLE READ` on PostgreSQL, a read transaction on SQLite's WAL), so a
    /// pass recorded between them cannot show its files with the metadata before it.
    pub async fn archived_document_with_files(
        &self,
        document_id: i64,
    ) -> StorageResult<(ArchivedDocumentRow, Vec<ArchivedFileRow>)> {
        let mut tx = self.read.begin().await?;
        if self.backend == super::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let row: ArchivedDocumentRow = sqlx::query_as(&format!(
            "SELECT {DOC_COLUMNS} FROM archived_documents WHERE document_id = $1"
        ))
        .bind(document_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(super::StorageError::NotFound)?;
        let files: Vec<ArchivedFileRow> = sqlx::query_as(
            "SELECT file_id, document_id, object_key, sha256, size_bytes, archived_at FROM archived_files \
             WHERE document_id = $1 ORDER BY file_id",
        )
        .bind(document_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((row, files))
    }

    pub async fn archived_document(&self, document_id: i64) -> StorageResult<ArchivedDocumentRow> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DOC_COLUMNS} FROM archived_documents WHERE document_id = $1"
        ))
        .bind(document_id)
        .fetch_one(&self.read)
        .await?)
    }

    pub async fn archived_files(&self, document_id: i64) -> StorageResult<Vec<ArchivedFileRow>> {
        Ok(sqlx::query_as(
            "SELECT file_id, document_id, object_key, sha256, size_bytes, archived_at FROM archived_files \
             WHERE document_id = $1 ORDER BY file_id",
        )
        .bind(document_id)
        .fetch_all(&self.read)
        .await?)
    }

    /// The archived files of several documents (one statement per 500), in file order.
    pub async fn archived_files_of_documents(&self, ids: &[i64]) -> StorageResult<Vec<ArchivedFileRow>> {
        super::fetch_by_ids(
            &self.read,
            "SELECT file_id, document_id, object_key, sha256, size_bytes, archived_at FROM archived_files \
             WHERE document_id IN ({ids}) ORDER BY file_id",
            ids,
        )
        .await
    }

    /// Archive objects in key order, `limit` at a time after `after` (keyset paging).
    pub async fn archive_objects_page(&self, after: &str, limit: i64) -> StorageResult<Vec<ArchiveObjectRow>> {
        Ok(sqlx::query_as(
            "SELECT object_key, sha256, size_bytes, kind, created_at FROM archive_objects WHERE object_key > $1 \
             ORDER BY object_key LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn archive_object_count(&self) -> StorageResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM archive_objects")
            .fetch_one(&self.read)
            .await?;
        Ok(n)
    }

    /// Which of `keys` the archive has rows for (orphan detection, one query per batch).
    pub async fn archive_objects_known(&self, keys: &[String]) -> StorageResult<std::collections::HashSet<String>> {
        if keys.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT object_key FROM archive_objects WHERE object_key IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql).persistent(false);
        for k in keys {
            q = q.bind(k);
        }
        Ok(q.fetch_all(&self.read).await?.into_iter().map(|r| r.0).collect())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn record_fixity_run(
        &self,
        started_at: i64,
        finished_at: i64,
        sampled: bool,
        checked: i64,
        missing: i64,
        corrupt: i64,
        orphaned: i64,
        report: &str,
    ) -> StorageResult<FixityRunRow> {
        Ok(sqlx::query_as(
            "INSERT INTO archive_fixity_runs (started_at, finished_at, sampled, checked, missing, corrupt, orphaned, report) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, started_at, finished_at, sampled, checked, missing, corrupt, \
             orphaned, report",
        )
        .bind(started_at)
        .bind(finished_at)
        .bind(i64::from(sampled))
        .bind(checked)
        .bind(missing)
        .bind(corrupt)
        .bind(orphaned)
        .bind(report)
        .fetch_one(&self.write)
        .await?)
    }

    pub async fn last_fixity_run(&self) -> StorageResult<Option<FixityRunRow>> {
        Ok(sqlx::query_as(
            "SELECT id, started_at, finished_at, sampled, checked, missing, corrupt, orphaned, report \
             FROM archive_fixity_runs ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?)
    }
}
