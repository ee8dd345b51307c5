//! The document registry service: validation → authorisation → storage, with audit entries.
//! Handlers call one function here each.

use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::auth::{Action, DocumentScope, Principal};
use crate::error::{AppError, AppResult};
use crate::model::{symbol, Direction, DocumentInput};
use crate::services::{RegisterAt, Services};
use crate::storage::{Document, DocumentFile, DocumentFilter, NewDocument, NewFile, Registration, StorageError};

fn actor(p: &Principal, ip: Option<String>) -> Actor {
    Actor {
        user_id: Some(p.user_id),
        name: p.username.clone(),
        ip,
    }
}

fn scope(d: &Document) -> DocumentScope {
    DocumentScope {
        agency_id: d.agency_id,
        unit_id: d.unit_id,
        created_by: d.created_by,
    }
}

/// Creates a document. An incoming document created by a clerk is registered at once and gets
/// its arrival number (số đến); an outgoing document starts as a draft.
pub async fn create(s: &Services, p: &Principal, input: &DocumentInput, ip: Option<String>) -> AppResult<Registration> {
    let today = s.clock.today();
    let mut doc = input.validate(&s.catalog, today)?;
    let now = s.clock.now_ms();
    let unit_id = match doc.unit_id {
        Some(u) => {
            let unit = s.db.unit(u).await.map_err(|e| AppError::storage(e, "unit"))?;
            if unit.agency_id != p.agency_id {
                return Err(AppError::bad_request(
                    "validation.invalid_value",
                    "unit_id belongs to another agency",
                ));
            }
            Some(u)
        }
        None => p.unit_id,
    };
    doc.unit_id = unit_id;
    let (status, register) = match doc.direction {
        Direction::Incoming => {
            if !p.can(Action::RegisterIncoming) {
                return Err(AppError::forbidden(
                    "only the clerk (văn thư) registers incoming documents",
                ));
            }
            // The register is chosen by the Registrar, once per batch.
            let at = RegisterAt {
                year: i64::from(chrono::Datelike::year(&today)),
                arrived_on: today.to_string(),
            };
            ("registered", Some(at))
        }
        Direction::Outgoing => {
            if !p.can(Action::CreateOutgoing) {
                return Err(AppError::forbidden("your role cannot draft outgoing documents"));
            }
            ("draft", None)
        }
    };
    let action = if register.is_some() {
        "document.register"
    } else {
        "document.create"
    };
    let entry = actor(p, ip).entry(now, action, "document", None, serde_json::json!({}));
    // Incoming documents are checked for duplicates inside the batch's transaction.
    let check_duplicates = doc.direction == Direction::Incoming;
    s.registrar
        .create(
            NewDocument {
                agency_id: p.agency_id,
                doc,
                status: status.to_string(),
                created_by: Some(p.user_id),
                arrival: None,
                duplicates: Vec::new(),
                check_duplicates,
                now_ms: now,
                audit_entry: entry,
            },
            register,
        )
        .await
}

/// Reads a document the principal may see, and records the read in the audit log.
pub async fn get(s: &Services, p: &Principal, id: i64, ip: Option<String>) -> AppResult<Document> {
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if !p.can_read(&scope(&doc)) {
        // Same answer as a missing document: do not reveal what exists outside one's scope.
        return Err(AppError::not_found("document"));
    }
    let entry = actor(p, ip).entry(
        s.clock.now_ms(),
        "document.read",
        "document",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    s.audit.record(entry).await?;
    Ok(doc)
}

pub async fn list(s: &Services, p: &Principal, filter: &DocumentFilter) -> AppResult<(Vec<Document>, i64)> {
    Ok(s.db.list_documents(&p.read_scope(), filter).await?)
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberRequest {
    /// Abbreviation of the drafting unit or field for the symbol (công văn: required; defaults
    /// to the document's unit). For other types it is added only when given.
    pub unit_abbreviation: Option<String>,
    /// Use this series instead of the one configured for the type (e.g. an advisory body's).
    pub series_id: Option<i64>,
}

/// Gives an outgoing draft its number and symbol from the right series for this year.
pub async fn assign_number(
    s: &Services,
    p: &Principal,
    id: i64,
    req: &NumberRequest,
    ip: Option<String>,
) -> AppResult<Document> {
    if !p.can(Action::AssignNumber) {
        return Err(AppError::forbidden("only the clerk (văn thư) assigns document numbers"));
    }
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if doc.agency_id != p.agency_id {
        return Err(AppError::not_found("document"));
    }
    if doc.direction != "outgoing" || doc.status != "draft" {
        return Err(AppError::conflict(
            "document.not_a_draft",
            "only an outgoing draft can be numbered; a number is never assigned twice",
        ));
    }
    let today = s.clock.today();
    let doc_type = s
        .catalog
        .get(today, &doc.document_type)
        .cloned()
        .ok_or_else(|| AppError::conflict("document.unknown_type", "the document's type is no longer in force"))?;
    let agency = s.db.agency(p.agency_id).await?;
    let all_series = s.db.series(p.agency_id).await?;
    let series = match req.series_id {
        Some(sid) => all_series
            .iter()
            .find(|x| x.id == sid && x.direction == "outgoing")
            .ok_or_else(|| {
                AppError::bad_request("series.unknown", "series_id is not an outgoing series of this agency")
            })?,
        None => crate::storage::choose_series(&all_series, "outgoing", &doc.document_type).ok_or_else(|| {
            AppError::conflict("series.missing", format!("no number series covers {}", doc_type.name))
        })?,
    };
    let unit_abbr = match (&req.unit_abbreviation, doc_type.symbol_style, doc.unit_id) {
        (Some(u), _, _) => Some(u.trim().to_string()),
        (None, crate::model::SymbolStyle::AgencyUnit, Some(unit_id)) => Some(s.db.unit(unit_id).await?.abbreviation),
        _ => None,
    };
    let sym = symbol::build_symbol(&doc_type, &agency.abbreviation, unit_abbr.as_deref())
        .map_err(|e| AppError::bad_request("document.invalid_symbol", e.to_string()))?;
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(
        now,
        "document.number",
        "document",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    let year = i64::from(chrono::Datelike::year(&today));
    match s
        .db
        .issue_number(id, series.id, year, &sym, &today.to_string(), now, entry)
        .await
    {
        Ok(d) => Ok(d),
        Err(StorageError::Conflict(m)) if m.contains("draft") => Err(AppError::conflict(
            "document.not_a_draft",
            "the document was numbered by someone else meanwhile",
        )),
        Err(StorageError::Conflict(_)) => Err(AppError::conflict(
            "document.duplicate_number",
            "this number and symbol already exist for the year; check the number series configuration",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Recalls (thu hồi) a document; its number stays taken.
pub async fn recall(s: &Services, p: &Principal, id: i64, reason: &str, ip: Option<String>) -> AppResult<Document> {
    if !p.can(Action::RecallDocument) {
        return Err(AppError::forbidden("only the clerk or a leader can recall a document"));
    }
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if doc.agency_id != p.agency_id {
        return Err(AppError::not_found("document"));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::bad_request(
            "validation.required",
            "a recall needs a reason (1 to 2000 characters)",
        ));
    }
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(
        now,
        "document.recall",
        "document",
        Some(id.to_string()),
        serde_json::json!({"reason": reason}),
    );
    match s.db.recall_document(id, now, entry).await {
        Err(StorageError::Conflict(m)) => Err(AppError::conflict("document.not_recallable", m)),
        other => Ok(other?),
    }
}

/// Checks that the principal may attach a file to the document, before the upload is streamed.
pub async fn check_attach(s: &Services, p: &Principal, id: i64) -> AppResult<Document> {
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if !p.can_read(&scope(&doc)) && !p.has(crate::model::Role::VanThu) {
        return Err(AppError::not_found("document"));
    }
    if !p.can_modify(&scope(&doc)) {
        return Err(AppError::forbidden(
            "you may read this document but not attach files to it",
        ));
    }
    if doc.status == "recalled" {
        return Err(AppError::conflict("document.recalled", "a recalled document is frozen"));
    }
    Ok(doc)
}

/// Checks a client-supplied file name: no paths, no control characters, sane length.
pub fn clean_filename(name: &str) -> AppResult<String> {
    let name = name.trim();
    let bad = name.is_empty()
        || name.chars().count() > 255
        || name.contains(['/', '\\'])
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control);
    if bad {
        return Err(AppError::bad_request(
            "file.invalid_name",
            "filename must be 1 to 255 characters with no path separators or control characters",
        ));
    }
    Ok(name.to_string())
}

pub async fn record_file(s: &Services, p: &Principal, f: NewFile, ip: Option<String>) -> AppResult<DocumentFile> {
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(
        now,
        "document.attach",
        "document",
        Some(f.document_id.to_string()),
        serde_json::json!({}),
    );
    Ok(s.db.add_file(&f, now, entry).await?)
}

/// Files of a document the principal may read.
pub async fn files(s: &Services, p: &Principal, id: i64) -> AppResult<Vec<DocumentFile>> {
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if !p.can_read(&scope(&doc)) {
        return Err(AppError::not_found("document"));
    }
    Ok(s.db.files(id).await?)
}

/// A file for download, after checking access and recording the read.
pub async fn file_for_download(
    s: &Services,
    p: &Principal,
    id: i64,
    file_id: i64,
    ip: Option<String>,
) -> AppResult<DocumentFile> {
    let doc = s.db.document(id).await.map_err(|e| AppError::storage(e, "document"))?;
    if !p.can_read(&scope(&doc)) {
        return Err(AppError::not_found("document"));
    }
    let file = s.db.file(file_id).await.map_err(|e| AppError::storage(e, "file"))?;
    if file.document_id != id {
        return Err(AppError::not_found("file"));
    }
    let entry = actor(p, ip).entry(
        s.clock.now_ms(),
        "document.file_read",
        "document",
        Some(id.to_string()),
        serde_json::json!({"file_id": file_id}),
    );
    s.audit.record(entry).await?;
    Ok(file)
}
