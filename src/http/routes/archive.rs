//! The archive: an archived document's metadata record, as JSON or as the stored XML.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::archive::{self, ArchivedDocumentView};
use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, Auth};
use crate::services::Services;

pub fn router() -> Router<Services> {
    Router::new()
        .route("/archive/documents/{id}", get(get_document))
        .route("/archive/documents/{id}/metadata.xml", get(metadata_xml))
}

/// An archived document: its metadata record (NĐ 30 Phụ lục VI / TT 02/2019 fields), archived
/// files and object keys. Readable by whoever may read the document; the read is audited.
#[utoipa::path(get, path = "/api/v1/archive/documents/{id}", tag = "archive", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = ArchivedDocumentView), (status = 404, body = crate::http::error::ErrorBody, description = "no such document, or `archive.not_archived` while archiving is pending")))]
pub async fn get_document(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ArchivedDocumentView>, ApiError> {
    Ok(Json(archive::service::get(&s, &auth.principal, id, auth.ip).await?))
}

/// The metadata record as stored in the archive (XML), streamed from the object store.
#[utoipa::path(get, path = "/api/v1/archive/documents/{id}/metadata.xml", tag = "archive", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/xml"), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn metadata_xml(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let view = archive::service::get(&s, &auth.principal, id, auth.ip).await?;
    let (size, stream) = archive::service::store(&s)
        .get_stream(&view.metadata_xml_key)
        .await
        .map_err(|e| AppError::from(archive::ArchiveError::from(e)))?;
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"{}\"",
        view.metadata_xml_key.rsplit('/').next().unwrap_or_default()
    )) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}
