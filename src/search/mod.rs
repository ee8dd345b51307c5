//! Vietnamese full-text search over documents (tantivy).
//!
//! - [`analysis`] (pure): folding (NFC, lower case, no diacritics, "đ" → "d"), syllable and
//!   code tokens.
//! - [`extract`] (pure): text of PDF files, bounded in size, pages and output; a scan or a
//!   damaged file is reported as such, never an error.
//! - [`query`] (pure): the query language and its typed errors.
//! - [`facets`]: the collector counting facet values and the total over every match.
//! - [`index`]: the tantivy index of this process, its tokenizers, the permission filter built
//!   into every query, facets and snippets. The change-log cursor is the commit payload, so the
//!   index and its cursor are always committed together.
//! - [`phrase_boost`]: phrase scores added to matching documents without walking the index.
//! - [`indexer`]: the loop that follows the database's ordered change log (`search_changes`)
//!   from the cursor, and the full rebuild behind `vanthu reindex`.

pub mod analysis;
pub mod extract;
pub mod facets;
pub mod index;
pub mod indexer;
pub mod phrase_boost;
pub mod query;

pub use index::{Facets, Hit, SearchHandle, SearchIndex, SearchRequest, SearchResults, SortBy, TextState};
pub use query::QueryError;

use crate::auth::Principal;
use crate::error::{AppError, ErrorKind};
use crate::storage::StorageError;

/// The one error type of the search module.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(String),
    #[error("search index: {0}")]
    Locked(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("invalid query: {0}")]
    Query(#[from] QueryError),
}

impl From<SearchError> for AppError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Query(q) => AppError::bad_request(q.code(), format!("invalid query: {q}")),
            SearchError::Storage(s) => s.into(),
            SearchError::Index(m) | SearchError::Locked(m) => AppError::new(
                ErrorKind::Unavailable,
                "search.unavailable",
                format!("the search index is unavailable: {m}"),
            ),
        }
    }
}

/// Runs a search for `principal` (permission-filtered by their read scope) off the async
/// threads.
pub async fn search(
    handle: &SearchHandle,
    principal: &Principal,
    req: SearchRequest,
) -> Result<SearchResults, SearchError> {
    let index = handle.get()?;
    let scope = principal.read_scope();
    tokio::task::spawn_blocking(move || index.search(Some(&scope), &req))
        .await
        .map_err(|e| SearchError::Index(format!("search task failed: {e}")))?
}
