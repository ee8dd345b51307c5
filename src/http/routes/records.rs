//! Records (hồ sơ): the annual record list, opening, filing, closing, legal hold, disposal.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::archive::records::{self, CloseInput, RecordInput, RecordView};
use crate::archive::retention::RetentionPeriod;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::services::Services;
use crate::storage::FiledDocument;

pub fn router() -> Router<Services> {
    Router::new()
        .route("/retention-periods", get(retention_periods))
        .route("/records", get(list).post(create))
        .route("/records/{id}", get(get_one))
        .route("/records/{id}/open", post(open))
        .route("/records/{id}/documents", post(file_document))
        .route("/records/{id}/close", post(close))
        .route("/records/{id}/hold", post(set_hold).delete(release_hold))
        .route("/records/{id}/superseded", post(superseded))
        .route("/records/{id}/dispose", post(dispose))
}

/// Retention periods in force (thời hạn bảo quản), from versioned data.
#[utoipa::path(get, path = "/api/v1/retention-periods", tag = "records", security(("bearer" = [])), responses((status = 200, body = [RetentionPeriod])))]
pub async fn retention_periods(State(s): State<Services>, _auth: Auth) -> Result<Json<Vec<RetentionPeriod>>, ApiError> {
    Ok(Json(records::retention_periods(&s)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Year of the record list; default this year.
    pub year: Option<i64>,
}

/// The record list (danh mục hồ sơ) of a year, with deposit warnings.
#[utoipa::path(get, path = "/api/v1/records", tag = "records", security(("bearer" = [])), params(ListQuery), responses((status = 200, body = [RecordView])))]
pub async fn list(
    State(s): State<Services>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<RecordView>>, ApiError> {
    let year = q
        .year
        .unwrap_or_else(|| i64::from(chrono::Datelike::year(&s.clock.today())));
    Ok(Json(records::list(&s, &auth.principal, year).await?))
}

/// Adds a record to the year's record list (status `planned`).
#[utoipa::path(post, path = "/api/v1/records", tag = "records", security(("bearer" = [])), request_body = RecordInput,
    responses((status = 201, body = RecordView), (status = 400, body = crate::http::error::ErrorBody), (status = 409, body = crate::http::error::ErrorBody)))]
pub async fn create(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<RecordInput>,
) -> Result<(StatusCode, Json<RecordView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(records::create(&s, &auth.principal, &input, auth.ip).await?),
    ))
}

/// One record, its documents, retention, deposit deadline and warnings.
#[utoipa::path(get, path = "/api/v1/records/{id}", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = RecordView), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn get_one(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(records::get(&s, &auth.principal, id).await?))
}

/// Opens a planned record (mở hồ sơ).
#[utoipa::path(post, path = "/api/v1/records/{id}/open", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = RecordView), (status = 409, body = crate::http::error::ErrorBody)))]
pub async fn open(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(records::open(&s, &auth.principal, id, auth.ip).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRequest {
    pub document_id: i64,
}

/// Files a document into an open record; its archived metadata gains the record code.
#[utoipa::path(post, path = "/api/v1/records/{id}/documents", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), request_body = FileRequest,
    responses((status = 201, body = FiledDocument), (status = 409, body = crate::http::error::ErrorBody)))]
pub async fn file_document(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<FileRequest>,
) -> Result<(StatusCode, Json<FiledDocument>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(records::file_document(&s, &auth.principal, id, req.document_id, auth.ip).await?),
    ))
}

/// Closes a record (kết thúc hồ sơ): the day the work ended starts the retention count.
#[utoipa::path(post, path = "/api/v1/records/{id}/close", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), request_body = CloseInput,
    responses((status = 200, body = RecordView), (status = 409, body = crate::http::error::ErrorBody)))]
pub async fn close(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(input): OptionalJson<CloseInput>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(records::close(&s, &auth.principal, id, &input, auth.ip).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub reason: String,
}

/// Sets a legal hold, which blocks disposal (archivist or leader).
#[utoipa::path(post, path = "/api/v1/records/{id}/hold", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), request_body = HoldRequest, responses((status = 200, body = RecordView)))]
pub async fn set_hold(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<HoldRequest>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(
        records::hold(&s, &auth.principal, id, Some(&req.reason), auth.ip).await?,
    ))
}

/// Lifts a legal hold (archivist or leader).
#[utoipa::path(delete, path = "/api/v1/records/{id}/hold", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = RecordView)))]
pub async fn release_hold(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(records::hold(&s, &auth.principal, id, None, auth.ip).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupersededRequest {
    /// The day the record's documents stopped being in force, YYYY-MM-DD.
    pub on: String,
}

/// For records kept "until superseded": records the day their documents stopped being in force.
#[utoipa::path(post, path = "/api/v1/records/{id}/superseded", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)), request_body = SupersededRequest, responses((status = 200, body = RecordView)))]
pub async fn superseded(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<SupersededRequest>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(
        records::superseded(&s, &auth.principal, id, &req.on, auth.ip).await?,
    ))
}

/// Disposes of a record (tiêu hủy), approved by the archivist, once retention has run out and
/// with no legal hold; the record and its metadata are kept, archived files deleted.
#[utoipa::path(post, path = "/api/v1/records/{id}/dispose", tag = "records", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = RecordView), (status = 403, body = crate::http::error::ErrorBody), (status = 409, body = crate::http::error::ErrorBody)))]
pub async fn dispose(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RecordView>, ApiError> {
    Ok(Json(records::dispose(&s, &auth.principal, id, auth.ip).await?))
}
