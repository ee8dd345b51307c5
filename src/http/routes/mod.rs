pub mod archive;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod documents;
pub mod org;
pub mod records;
pub mod registers;
pub mod search;
pub mod system;

use axum::Router;

use crate::services::Services;

/// Everything under `/api/v1`.
pub fn api_router() -> Router<Services> {
    Router::new()
        .merge(auth::router())
        .merge(org::router())
        .merge(catalog::router())
        .merge(documents::router())
        .merge(registers::router())
        .merge(audit::router())
        .merge(archive::router())
        .merge(records::router())
        .merge(search::router())
        .route("/openapi.json", axum::routing::get(system::openapi))
}

/// A list with its total, for paging.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}
