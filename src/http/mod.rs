//! The HTTP API (axum). The only module that names axum or tower-http (a tidy test enforces it).
//! Handlers parse, call one service function, and map the result; errors become
//! `{"code", "message"}` with a stable code.

pub mod axis_mock;
mod error;
mod extract;
mod middleware;
mod openapi;
pub mod pki_test;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::services::Services;

pub use error::ApiError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The complete router with every layer.
pub fn router(s: Services) -> Router {
    let timeout = Duration::from_secs(s.config.limits.request_timeout_secs);
    let json_limit = s.config.limits.json_body_bytes;
    Router::new()
        .merge(routes::system::router())
        .nest("/api/v1", routes::api_router())
        .fallback(routes::system::not_found)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(axum::middleware::from_fn_with_state(s.clone(), middleware::track))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(middleware::make_span))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(s)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    s: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(s).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
