//! Documents: create (register), read, list, number, recall, attach and download files.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::model::DocumentInput;
use crate::registry::{self, NumberRequest};
use crate::services::Services;
use crate::storage::{Document, DocumentFile, DocumentFilter, NewFile, SortOrder};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/documents", get(list).post(create))
        .route("/documents/{id}", get(get_one))
        .route("/documents/{id}/number", post(assign_number))
        .route("/documents/{id}/recall", post(recall))
        .route(
            "/documents/{id}/files",
            get(list_files).post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/documents/{id}/files/{file_id}", get(download))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    #[serde(flatten)]
    pub document: Document,
    /// Earlier documents with the same identifier or the same (number, symbol, issuer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub possible_duplicates: Vec<i64>,
    /// Human-readable warnings (e.g. a possible duplicate) for the clerk.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Creates a document. An incoming document from a clerk is registered at once with its
/// arrival number (`arrival_number`); an outgoing document starts as a draft.
#[utoipa::path(post, path = "/api/v1/documents", tag = "documents", security(("bearer" = [])), request_body = DocumentInput,
    responses((status = 201, body = Created), (status = 400, body = crate::http::error::ErrorBody), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn create(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<DocumentInput>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let reg = registry::create(&s, &auth.principal, &input, auth.ip).await?;
    let warnings = reg
        .duplicates
        .iter()
        .map(|id| format!("possible duplicate of document {id} (same identifier, or same number, symbol and issuer)"))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(Created {
            document: reg.document,
            possible_duplicates: reg.duplicates,
            warnings,
        }),
    ))
}

/// One document (the read is recorded in the audit log).
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = Document), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn get_one(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Document>, ApiError> {
    Ok(Json(registry::get(&s, &auth.principal, id, auth.ip).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `incoming` or `outgoing`.
    pub direction: Option<String>,
    pub document_type: Option<String>,
    /// `draft`, `registered`, `issued`, `recalled`.
    pub status: Option<String>,
    pub urgency: Option<String>,
    pub unit_id: Option<i64>,
    /// Issue date range, YYYY-MM-DD.
    pub issued_from: Option<String>,
    pub issued_to: Option<String>,
    /// Arrival date range, YYYY-MM-DD.
    pub arrived_from: Option<String>,
    pub arrived_to: Option<String>,
    /// Substring of subject, symbol or issuer.
    pub q: Option<String>,
    /// 1..200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// `newest` (default) or `oldest`.
    pub sort: Option<String>,
}

fn check_date(name: &str, v: &Option<String>) -> Result<(), AppError> {
    match v {
        Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() => Err(AppError::bad_request(
            "validation.invalid_date",
            format!("{name} must be YYYY-MM-DD"),
        )),
        _ => Ok(()),
    }
}

/// Documents the caller may read, filtered and paged.
#[utoipa::path(get, path = "/api/v1/documents", tag = "documents", security(("bearer" = [])), params(ListQuery), responses((status = 200, body = Page<Document>)))]
pub async fn list(
    State(s): State<Services>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Document>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::bad_request("request.invalid_query", "limit must be 1..200").into());
    }
    let offset = q.offset.unwrap_or(0);
    if !(0..=10_000_000).contains(&offset) {
        return Err(AppError::bad_request("request.invalid_query", "offset must be 0 or more").into());
    }
    for (n, v) in [
        ("issued_from", &q.issued_from),
        ("issued_to", &q.issued_to),
        ("arrived_from", &q.arrived_from),
        ("arrived_to", &q.arrived_to),
    ] {
        check_date(n, v)?;
    }
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(AppError::bad_request("request.invalid_query", "q is at most 200 characters").into());
    }
    let sort = match q.sort.as_deref() {
        None | Some("newest") => SortOrder::NewestFirst,
        Some("oldest") => SortOrder::OldestFirst,
        Some(_) => return Err(AppError::bad_request("request.invalid_query", "sort must be newest or oldest").into()),
    };
    let filter = DocumentFilter {
        direction: q.direction,
        document_type: q.document_type,
        status: q.status,
        urgency: q.urgency,
        unit_id: q.unit_id,
        issued_from: q.issued_from,
        issued_to: q.issued_to,
        arrived_from: q.arrived_from,
        arrived_to: q.arrived_to,
        text: q.q,
        limit,
        offset,
        sort,
    };
    let (items, total) = registry::list(&s, &auth.principal, &filter).await?;
    Ok(Json(Page {
        items,
        total,
        limit,
        offset,
    }))
}

/// Assigns the number and symbol (cấp số) of an outgoing draft from its number series.
#[utoipa::path(post, path = "/api/v1/documents/{id}/number", tag = "documents", security(("bearer" = [])), params(("id" = i64, Path)), request_body = NumberRequest, responses((status = 200, body = Document), (status = 409, body = crate::http::error::ErrorBody)))]
pub async fn assign_number(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(req): OptionalJson<NumberRequest>,
) -> Result<Json<Document>, ApiError> {
    Ok(Json(
        registry::assign_number(&s, &auth.principal, id, &req, auth.ip).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    pub reason: String,
}

/// Recalls (thu hồi) a document; it is frozen and keeps its number.
#[utoipa::path(post, path = "/api/v1/documents/{id}/recall", tag = "documents", security(("bearer" = [])), params(("id" = i64, Path)), request_body = RecallRequest, responses((status = 200, body = Document)))]
pub async fn recall(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RecallRequest>,
) -> Result<Json<Document>, ApiError> {
    Ok(Json(
        registry::recall(&s, &auth.principal, id, &req.reason, auth.ip).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name as the user knows it.
    pub filename: String,
}

/// Attaches a file: the raw request body is streamed to object storage (never held in memory).
#[utoipa::path(post, path = "/api/v1/documents/{id}/files", tag = "documents", security(("bearer" = [])), params(("id" = i64, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 201, body = DocumentFile), (status = 413, body = crate::http::error::ErrorBody)))]
pub async fn upload(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<DocumentFile>), ApiError> {
    let filename = registry::clean_filename(&q.filename)?;
    registry::check_attach(&s, &auth.principal, id).await?;
    let limit = s.config.limits.upload_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::new(
            crate::error::ErrorKind::TooLarge,
            "file.too_large",
            format!("the file is larger than the limit of {limit} bytes"),
        )
        .into());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 200)
        .unwrap_or("application/octet-stream")
        .to_string();
    let stream = req.into_body().into_data_stream().map_err(|e| e.to_string());
    let stored = s
        .objects
        .put_stream(Box::pin(stream), limit)
        .await
        .map_err(AppError::from)?;
    let file = registry::record_file(
        &s,
        &auth.principal,
        NewFile {
            document_id: id,
            filename,
            content_type,
            size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
            sha256: stored.sha256,
            object_key: stored.key,
            created_by: Some(auth.principal.user_id),
        },
        auth.ip,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(file)))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/files", tag = "documents", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = [DocumentFile])))]
pub async fn list_files(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<DocumentFile>>, ApiError> {
    Ok(Json(registry::files(&s, &auth.principal, id).await?))
}

/// Downloads a file (streamed; the read is recorded in the audit log).
#[utoipa::path(get, path = "/api/v1/documents/{id}/files/{file_id}", tag = "documents", security(("bearer" = [])), params(("id" = i64, Path), ("file_id" = i64, Path)), responses((status = 200, content_type = "application/octet-stream")))]
pub async fn download(
    State(s): State<Services>,
    auth: Auth,
    ApiPath((id, file_id)): ApiPath<(i64, i64)>,
) -> Result<Response, ApiError> {
    let file = registry::file_for_download(&s, &auth.principal, id, file_id, auth.ip).await?;
    let (size, stream) = s.objects.get_stream(&file.object_key).await.map_err(AppError::from)?;
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let encoded: String = url::form_urlencoded::byte_serialize(file.filename.as_bytes()).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", encoded.replace('+', "%20"))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", file.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}
