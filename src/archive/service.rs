//! The archive service: archiving a document (the `archive.document` job) and reading an
//! archived document's metadata (API).

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

use super::metadata::{ArchivedFileRef, DocumentMetadata, Source};
use super::store::{ArchiveStore, StoreError};
use crate::audit::Actor;
use crate::auth::{DocumentScope, Principal};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::jobs::JobHandler;
use crate::services::Services;
use crate::storage::{
    Agency, ArchiveObjectRow, ArchiveRecord, ArchivedDocumentRow, ArchivedFileRow, Document, DocumentFile, Job, Record,
    StorageError,
};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("database: {0}")]
    Storage(#[from] StorageError),
    #[error("archive store: {0}")]
    Store(#[from] StoreError),
    #[error("working copy: {0}")]
    Objects(#[from] crate::objects::ObjectError),
    #[error("file {file_id} no longer matches its recorded SHA-256: {source}")]
    SourceChanged { file_id: i64, source: StoreError },
}

impl From<ArchiveError> for AppError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Storage(s) => s.into(),
            other => AppError::new(
                ErrorKind::Unavailable,
                "archive.unavailable",
                format!("the archive is unavailable, try again shortly ({other})"),
            ),
        }
    }
}

/// The archive inside the application's object store.
pub fn store(s: &Services) -> ArchiveStore {
    ArchiveStore::for_objects(&s.objects)
}

/// The outcome of one archiving pass.
#[derive(Clone, Debug)]
pub struct Archived {
    pub row: ArchivedDocumentRow,
    /// Whether this pass changed anything (false: it was archived as it is already).
    pub changed: bool,
}

/// Archives a document: copies every file not yet archived (streamed, re-hashed, write-once),
/// writes the metadata record as JSON and XML objects, and only then records it in the database.
/// Idempotent: objects already there are not written again, and unchanged metadata is no new
/// version. A failure anywhere leaves the database as it was, so the job is retried.
pub async fn archive_document(s: &Services, document_id: i64) -> Result<Archived, ArchiveError> {
    let record = prepare(s, &[document_id])
        .await?
        .pop()
        .ok_or_else(|| StorageError::Other("document not prepared".into()))??;
    store(s).make_durable(&record.object_keys()).await?;
    let (row, changed) = s.db.record_archive(&record).await?;
    Ok(Archived { row, changed })
}

/// Archives several documents (the job worker's batch): what they need from the database is
/// read with one statement per table, each document's objects are stored as by
/// [`archive_document`], and then every prepared document is recorded in one transaction, so
/// a batch costs a handful of reads, one commit and one audit append instead of a dozen
/// statements and a commit per document. When that transaction fails for a reason other than
/// an outage, each document is recorded on its own, so that one bad document cannot hold back
/// the others. Results are in the order of `ids`.
pub async fn archive_documents(s: &Services, ids: &[i64]) -> Vec<Result<Archived, ArchiveError>> {
    let prepared_all = match prepare(s, ids).await {
        Ok(p) => p,
        Err(e) => {
            // The batch's reads failed: every document gets the error, and its job retries.
            let text = e.to_string();
            let mut first = Some(e);
            return ids
                .iter()
                .map(|_| {
                    Err(first
                        .take()
                        .unwrap_or_else(|| StorageError::Unavailable(text.clone()).into()))
                })
                .collect();
        }
    };
    let mut results: Vec<Option<Result<Archived, ArchiveError>>> = Vec::with_capacity(ids.len());
    let mut prepared: Vec<(usize, ArchiveRecord)> = Vec::new();
    for (i, r) in prepared_all.into_iter().enumerate() {
        match r {
            Ok(r) => {
                prepared.push((i, r));
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    let records: Vec<ArchiveRecord> = prepared.iter().map(|(_, r)| r.clone()).collect();
    let keys: Vec<String> = records.iter().flat_map(ArchiveRecord::object_keys).collect();
    if let Err(e) = store(s).make_durable(&keys).await {
        // Not durable, so not recorded: every prepared document's job retries.
        let text = e.to_string();
        for (i, _) in &prepared {
            results[*i] = Some(Err(StoreError::Sync(String::new(), text.clone()).into()));
        }
        return results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(StorageError::Other("document not archived".into()).into())))
            .collect();
    }
    match s.db.record_archives(&records).await {
        Ok(rows) => {
            for ((i, _), (row, changed)) in prepared.iter().zip(rows) {
                results[*i] = Some(Ok(Archived { row, changed }));
            }
        }
        Err(e) if records.len() > 1 && !matches!(e, StorageError::Unavailable(_)) => {
            tracing::debug!(error = %e, documents = records.len(), "archive batch failed; recording one by one");
            for (i, r) in &prepared {
                results[*i] = Some(
                    s.db.record_archive(r)
                        .await
                        .map(|(row, changed)| Archived { row, changed })
                        .map_err(ArchiveError::from),
                );
            }
        }
        Err(e) => {
            // An outage (or a batch of one): every document gets the error, and its job retries.
            let mut e = Some(e);
            for (i, _) in &prepared {
                let err = e
                    .take()
                    .unwrap_or_else(|| StorageError::Unavailable("the archive batch failed".into()));
                results[*i] = Some(Err(err.into()));
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StorageError::Other("document not archived".into()).into())))
        .collect()
}

/// What archiving a batch of documents reads from the database, read once for the batch.
struct Prefetched {
    docs: HashMap<i64, Document>,
    files: HashMap<i64, Vec<DocumentFile>>,
    archived: HashMap<i64, Vec<ArchivedFileRow>>,
    /// Document → (record, ordinal) for filed documents.
    filings: HashMap<i64, (Record, i64)>,
    agencies: HashMap<i64, Agency>,
    unit_names: HashMap<i64, String>,
}

async fn prefetch(s: &Services, ids: &[i64]) -> Result<Prefetched, ArchiveError> {
    let docs: HashMap<i64, Document> =
        s.db.documents_by_ids(ids)
            .await?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
    let mut files: HashMap<i64, Vec<DocumentFile>> = HashMap::new();
    for f in s.db.files_of_documents(ids).await? {
        files.entry(f.document_id).or_default().push(f);
    }
    let mut archived: HashMap<i64, Vec<ArchivedFileRow>> = HashMap::new();
    for a in s.db.archived_files_of_documents(ids).await? {
        archived.entry(a.document_id).or_default().push(a);
    }
    let mut records: HashMap<i64, Record> = HashMap::new();
    let mut filings = HashMap::new();
    for (document_id, record_id, ordinal) in s.db.filings_of(ids).await? {
        if let std::collections::hash_map::Entry::Vacant(e) = records.entry(record_id) {
            e.insert(s.db.record(record_id).await?);
        }
        if let Some(r) = records.get(&record_id) {
            filings.insert(document_id, (r.clone(), ordinal));
        }
    }
    let mut agencies = HashMap::new();
    let mut unit_names = HashMap::new();
    for d in docs.values() {
        if let std::collections::hash_map::Entry::Vacant(e) = agencies.entry(d.agency_id) {
            e.insert(s.db.agency(d.agency_id).await?);
        }
        if let Some(u) = d.unit_id {
            if let std::collections::hash_map::Entry::Vacant(e) = unit_names.entry(u) {
                e.insert(s.db.unit(u).await?.name);
            }
        }
    }
    Ok(Prefetched {
        docs,
        files,
        archived,
        filings,
        agencies,
        unit_names,
    })
}

/// Stores each document's objects (files not yet archived, metadata as JSON and XML) and
/// returns what is to be recorded in the database, in the order of `ids`; writes nothing to
/// the database. The outer error is the batch's reads failing.
async fn prepare(s: &Services, ids: &[i64]) -> Result<Vec<Result<ArchiveRecord, ArchiveError>>, ArchiveError> {
    let pre = prefetch(s, ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        out.push(prepare_one(s, &pre, id).await);
    }
    Ok(out)
}

async fn prepare_one(s: &Services, pre: &Prefetched, document_id: i64) -> Result<ArchiveRecord, ArchiveError> {
    let archive = store(s);
    let doc = pre.docs.get(&document_id).ok_or(StorageError::NotFound)?;
    let agency = pre.agencies.get(&doc.agency_id).ok_or(StorageError::NotFound)?;
    let already: &[ArchivedFileRow] = pre.archived.get(&document_id).map_or(&[], Vec::as_slice);
    let now = s.clock.now_ms();
    let mut new_files = Vec::new();
    let mut refs = Vec::new();
    for f in pre.files.get(&document_id).map_or(&[][..], Vec::as_slice) {
        let archived = match already.iter().find(|a| a.file_id == f.id) {
            Some(a) => a.clone(),
            None => {
                let (_, body) = s.objects.get_stream(&f.object_key).await?;
                let stored = archive
                    .put_stream(Box::pin(body), Some(&f.sha256), u64::MAX)
                    .await
                    .map_err(|e| match e {
                        StoreError::Mismatch { .. } => ArchiveError::SourceChanged {
                            file_id: f.id,
                            source: e,
                        },
                        other => other.into(),
                    })?;
                let row = ArchivedFileRow {
                    file_id: f.id,
                    document_id,
                    object_key: stored.key,
                    sha256: stored.sha256,
                    size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
                    archived_at: now,
                };
                new_files.push(row.clone());
                row
            }
        };
        refs.push(ArchivedFileRef {
            file_id: f.id,
            name: f.filename.clone(),
            content_type: f.content_type.clone(),
            size: archived.size_bytes,
            sha256: archived.sha256.clone(),
            object_key: archived.object_key.clone(),
        });
    }
    let metadata = build_metadata(s, pre, doc, agency, refs);
    let json = metadata.to_json();
    let (json_obj, xml_obj) = tokio::try_join!(
        archive.put_blob(Bytes::from(json.clone())),
        archive.put_blob(Bytes::from(metadata.to_xml()))
    )?;
    let object_row = |o: &super::store::ArchivedObject, kind: &str| ArchiveObjectRow {
        object_key: o.key.clone(),
        sha256: o.sha256.clone(),
        size_bytes: i64::try_from(o.size).unwrap_or(i64::MAX),
        kind: kind.to_string(),
        created_at: now,
    };
    let entry = Actor {
        user_id: None,
        name: "system:archive".into(),
        ip: None,
    }
    .entry(
        now,
        "archive.document",
        "document",
        Some(document_id.to_string()),
        serde_json::json!({
            "files": new_files.iter().map(|f| f.file_id).collect::<Vec<_>>(),
            "metadata_sha256": json_obj.sha256,
        }),
    );
    Ok(ArchiveRecord {
        document_id,
        files: new_files,
        metadata: json,
        metadata_json: object_row(&json_obj, "metadata_json"),
        metadata_xml: object_row(&xml_obj, "metadata_xml"),
        now_ms: now,
        audit_entry: entry,
    })
}

fn build_metadata(
    s: &Services,
    pre: &Prefetched,
    doc: &Document,
    agency: &Agency,
    files: Vec<ArchivedFileRef>,
) -> DocumentMetadata {
    let type_name = s
        .catalog
        .get(s.clock.today(), &doc.document_type)
        .map_or_else(|| doc.document_type.clone(), |t| t.name.clone());
    let unit_name = doc.unit_id.and_then(|u| pre.unit_names.get(&u).cloned());
    let filing = pre.filings.get(&doc.id).map(|(record, ordinal)| {
        (
            super::metadata::FileCode {
                organ_id: agency.code.clone(),
                file_catalog: record.year,
                file_notation: record.notation.clone(),
            },
            *ordinal,
        )
    });
    DocumentMetadata::build(&Source {
        document: doc,
        agency,
        type_name,
        unit_name,
        files,
        filing,
    })
}

/// The `archive.document` job.
pub struct ArchiveDocumentJob;

#[async_trait]
impl JobHandler for ArchiveDocumentJob {
    async fn run(&self, s: &Services, job: &Job) -> Result<(), String> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let id = payload["document_id"].as_i64().ok_or("payload has no document_id")?;
        archive_document(s, id).await.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn run_batch(&self, s: &Services, jobs: &[&Job]) -> Vec<Result<(), String>> {
        let ids: Vec<Result<i64, String>> = jobs
            .iter()
            .map(|job| {
                let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
                payload["document_id"]
                    .as_i64()
                    .ok_or_else(|| "payload has no document_id".to_string())
            })
            .collect();
        let valid: Vec<i64> = ids.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        let mut done = archive_documents(s, &valid).await.into_iter();
        ids.into_iter()
            .map(|r| {
                r.and_then(|_| {
                    done.next()
                        .unwrap_or_else(|| Err(StorageError::Other("document not archived".into()).into()))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect()
    }
}

/// An archived document as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ArchivedDocumentView {
    pub document_id: i64,
    /// Goes up each time the metadata record changes (a file attached, filed into a record).
    pub version: i64,
    pub archived_at: i64,
    pub updated_at: i64,
    /// The metadata record (NĐ 30 Phụ lục VI / TT 02/2019 fields).
    pub metadata: DocumentMetadata,
    /// Archive keys (under `archive/`) and SHA-256 of the JSON and XML forms.
    pub metadata_json_key: String,
    pub metadata_xml_key: String,
    pub metadata_sha256: String,
    pub files: Vec<ArchivedFileRow>,
    /// Signature verification report: always `null` for now — PAdES verification (issue 3) does
    /// not exist yet, and none is invented.
    pub verification_report_key: Option<String>,
}

fn scope(d: &Document) -> DocumentScope {
    DocumentScope {
        agency_id: d.agency_id,
        unit_id: d.unit_id,
        created_by: d.created_by,
    }
}

/// The archived document, for a principal who may read the document; the read is audited.
pub async fn get(s: &Services, p: &Principal, id: i64, ip: Option<String>) -> AppResult<ArchivedDocumentView> {
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if !p.can_read(&scope(&doc)) {
        return Err(AppError::not_found("document"));
    }
    let (row, files) = match s.db.archived_document_with_files(id).await {
        Ok(r) => r,
        Err(StorageError::NotFound) => {
            return Err(AppError::new(
                ErrorKind::NotFound,
                "archive.not_archived",
                "the document is not archived yet; archiving runs in the background shortly after registration",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let metadata: DocumentMetadata = serde_json::from_str(&row.metadata)
        .map_err(|e| AppError::internal(format!("stored metadata of document {id} does not parse: {e}")))?;
    let entry = Actor {
        user_id: Some(p.user_id),
        name: p.username.clone(),
        ip,
    }
    .entry(
        s.clock.now_ms(),
        "archive.read",
        "document",
        Some(id.to_string()),
        serde_json::json!({"version": row.version}),
    );
    s.audit.record(entry).await?;
    Ok(ArchivedDocumentView {
        document_id: id,
        version: row.version,
        archived_at: row.archived_at,
        updated_at: row.updated_at,
        metadata,
        metadata_json_key: row.metadata_json_key,
        metadata_xml_key: row.metadata_xml_key,
        metadata_sha256: row.metadata_sha256,
        files,
        verification_report_key: row.verification_report_key,
    })
}
