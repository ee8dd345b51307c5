//! Full-text search: `GET /api/v1/search`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Auth};
use crate::search::{self, index::date_key, Facets, Hit, SearchRequest, SortBy};
use crate::services::Services;

pub fn router() -> Router<Services> {
    Router::new().route("/search", get(search_documents))
}

/// Largest page.
const MAX_LIMIT: usize = 100;
/// Deepest offset (results are ranked in memory up to offset + limit).
const MAX_OFFSET: usize = 10_000;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words (with or without diacritics), `"quoted phrases"`, `field:value` (loai, nam, huong,
    /// trangthai, dokhan, noiban, so, trichyeu) and `-exclusions`. Empty: every readable document.
    pub q: Option<String>,
    /// Document date from, YYYY-MM-DD (inclusive).
    pub from: Option<String>,
    /// Document date to, YYYY-MM-DD (inclusive).
    pub to: Option<String>,
    /// `relevance` (default), `newest` or `oldest`.
    pub sort: Option<String>,
    /// 1..100, default 20.
    pub limit: Option<usize>,
    /// 0..10000, default 0.
    pub offset: Option<usize>,
}

/// A page of search results with facet counts over all matches the caller may read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub total: u64,
    pub limit: usize,
    pub offset: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

fn date(name: &'static str, v: Option<&str>) -> Result<Option<i64>, AppError> {
    v.map(|d| {
        date_key(d).ok_or_else(|| {
            let mut e = AppError::bad_request("validation.invalid_date", format!("{name} must be YYYY-MM-DD"));
            e.field = Some(name);
            e
        })
    })
    .transpose()
}

/// Searches the documents the caller may read (the same rule as the document list), with
/// facets, highlighted snippets and paging.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = SearchPage), (status = 400, body = crate::http::error::ErrorBody)))]
pub async fn search_documents(
    State(s): State<Services>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_request("request.invalid_query", format!("limit must be 1..{MAX_LIMIT}")).into());
    }
    let offset = q.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(AppError::bad_request("request.invalid_query", format!("offset must be 0..{MAX_OFFSET}")).into());
    }
    let sort = match q.sort.as_deref() {
        None | Some("relevance") => SortBy::Relevance,
        Some("newest") => SortBy::Newest,
        Some("oldest") => SortBy::Oldest,
        Some(_) => {
            return Err(
                AppError::bad_request("request.invalid_query", "sort must be relevance, newest or oldest").into(),
            )
        }
    };
    let from = date("from", q.from.as_deref())?;
    let to = date("to", q.to.as_deref())?;
    let query = search::query::parse(q.q.as_deref().unwrap_or(""))
        .map_err(search::SearchError::from)
        .map_err(AppError::from)?;
    let req = SearchRequest {
        query,
        from,
        to,
        sort,
        limit,
        offset,
    };
    let results = search::search(&s.search, &auth.principal, req)
        .await
        .map_err(AppError::from)?;
    Ok(Json(SearchPage {
        total: results.total,
        limit,
        offset,
        hits: results.hits,
        facets: results.facets,
    }))
}
