use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Response;
use axum::middleware::Next;
use axum::response::IntoResponse;
use tracing::Span;

use crate::error::AppError;
use crate::services::Services;

/// Records request count and latency per route template (never per concrete path).
pub async fn track(State(s): State<Services>, req: Request, next: Next) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let resp = next.run(req).await;
    s.metrics
        .observe_request(&method, &route, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

pub fn make_span(req: &axum::http::Request<Body>) -> Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

pub fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response<Body> {
    super::ApiError(AppError::internal("handler panicked")).into_response()
}
