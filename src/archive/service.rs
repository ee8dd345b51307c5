//! The archive service: archiving a document (the `archive.document` job) and reading an
//! archived document's metadata (API).

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
    ArchiveObjectRow, ArchiveRecord, ArchivedDocumentRow, ArchivedFileRow, Document, Job, StorageError,
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
    ArchiveStore::new(s.objects.raw().clone())
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
    let archive = store(s);
    let doc = s.db.document(document_id).await?;
    let agency = s.db.agency(doc.agency_id).await?;
    let already: Vec<ArchivedFileRow> = s.db.archived_files(document_id).await?;
    let now = s.clock.now_ms();
    let mut new_files = Vec::new();
    let mut refs = Vec::new();
    for f in s.db.files(document_id).await? {
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
    let metadata = build_metadata(s, &doc, &agency, refs).await?;
    let json = metadata.to_json();
    let json_obj = archive.put_blob(Bytes::from(json.clone())).await?;
    let xml_obj = archive.put_blob(Bytes::from(metadata.to_xml())).await?;
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
    let (row, changed) =
        s.db.record_archive(&ArchiveRecord {
            document_id,
            files: new_files,
            metadata: json,
            metadata_json: object_row(&json_obj, "metadata_json"),
            metadata_xml: object_row(&xml_obj, "metadata_xml"),
            now_ms: now,
            audit_entry: entry,
        })
        .await?;
    Ok(Archived { row, changed })
}

async fn build_metadata(
    s: &Services,
    doc: &Document,
    agency: &crate::storage::Agency,
    files: Vec<ArchivedFileRef>,
) -> Result<DocumentMetadata, ArchiveError> {
    let type_name = s
        .catalog
        .get(s.clock.today(), &doc.document_type)
        .map_or_else(|| doc.document_type.clone(), |t| t.name.clone());
    let unit_name = match doc.unit_id {
        Some(u) => Some(s.db.unit(u).await?.name),
        None => None,
    };
    let filing = s.db.filing_of(doc.id).await?.map(|(record, ordinal)| {
        (
            super::metadata::FileCode {
                organ_id: agency.code.clone(),
                file_catalog: record.year,
                file_notation: record.notation,
            },
            ordinal,
        )
    });
    Ok(DocumentMetadata::build(&Source {
        document: doc,
        agency,
        type_name,
        unit_name,
        files,
        filing,
    }))
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
    let row = match s.db.archived_document(id).await {
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
    let files = s.db.archived_files(id).await?;
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
