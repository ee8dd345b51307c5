use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::error::AppError;
use crate::http::error::ApiError;
use crate::services::Services;

pub fn router() -> Router<Services> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system", responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
pub async fn readyz(State(s): State<Services>) -> Result<Json<serde_json::Value>, ApiError> {
    s.db.ping().await?;
    Ok(Json(json!({"status": "ready", "database": s.db.backend().name()})))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(State(s): State<Services>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

pub async fn openapi() -> impl IntoResponse {
    Json(super::super::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError(AppError::new(
        crate::error::ErrorKind::NotFound,
        "route.not_found",
        "no such endpoint; see /api/v1/openapi.json",
    ))
}

#[allow(dead_code)]
fn _status_is_used(_: StatusCode) {}
