//! Keeps this process's index in step with the database's ordered change log, and rebuilds it.
//!
//! The loop reads changes after its cursor, re-reads those documents (and their files) from
//! the database and replaces them in the index, committing the new cursor in the same index
//! commit. A crash between two commits only means the last batch is applied again, which is
//! harmless: a document's entry is always rebuilt from its current row.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::index::{IndexInput, SearchIndex, TextState};
use super::SearchError;
use crate::objects::Objects;
use crate::services::Services;
use crate::storage::{Db, Document, DocumentFile};

/// Changes applied per index commit.
pub const BATCH: i64 = 500;

/// The index entries of these documents, with the text of their files.
async fn inputs(db: &Db, _objects: &Objects, docs: &[Document]) -> Result<Vec<IndexInput>, SearchError> {
    let ids: Vec<i64> = docs.iter().map(|d| d.id).collect();
    let mut files: BTreeMap<i64, Vec<DocumentFile>> = BTreeMap::new();
    for f in db.files_of_documents(&ids).await? {
        files.entry(f.document_id).or_default().push(f);
    }
    Ok(docs
        .iter()
        .map(|d| {
            let state = if files.contains_key(&d.id) {
                TextState::MetadataOnly
            } else {
                TextState::NoFiles
            };
            IndexInput::from_document(d, "", state)
        })
        .collect())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SearchError::Index(format!("index task failed: {e}")))?
}

/// Applies the next batch of changes after the index's cursor. Returns how many were applied.
pub async fn catch_up_once(db: &Db, objects: &Objects, index: &Arc<SearchIndex>) -> Result<usize, SearchError> {
    let changes = db.search_changes_after(index.cursor(), BATCH).await?;
    let Some(last) = changes.last().map(|c| c.seq) else {
        return Ok(0);
    };
    let mut ids: Vec<i64> = changes.iter().map(|c| c.document_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let docs = db.documents_by_ids(&ids).await?;
    let entries = inputs(db, objects, &docs).await?;
    let index = index.clone();
    blocking(move || index.apply(&entries, last)).await?;
    Ok(changes.len())
}

/// Applies every pending change. Returns how many were applied.
pub async fn catch_up(db: &Db, objects: &Objects, index: &Arc<SearchIndex>) -> Result<u64, SearchError> {
    let mut total = 0u64;
    loop {
        let n = catch_up_once(db, objects, index).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Rebuilds the index from the database: every document, then the cursor at the change-log
/// head read *before* the first document, so changes made during the rebuild are applied again
/// afterwards. `progress(done, total)` is called after each batch.
pub async fn rebuild(
    db: &Db,
    objects: &Objects,
    index: &Arc<SearchIndex>,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, SearchError> {
    let head = db.search_change_head().await?;
    let total = u64::try_from(db.document_count().await?).unwrap_or_default();
    index.clear()?;
    let mut after = 0;
    let mut done = 0u64;
    loop {
        let docs = db.documents_after(after, BATCH).await?;
        let Some(last) = docs.last().map(|d| d.id) else {
            break;
        };
        after = last;
        let entries = inputs(db, objects, &docs).await?;
        done += entries.len() as u64;
        let ix = index.clone();
        blocking(move || ix.add_uncommitted(&entries)).await?;
        progress(done, total.max(done));
    }
    let ix = index.clone();
    blocking(move || ix.finish(head)).await?;
    Ok(done)
}

/// The background loop of a server process: follow the change log until `stop`.
pub async fn run(s: Services, mut stop: watch::Receiver<bool>) {
    let index = match s.search.get() {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "search index unavailable; this process will not index");
            return;
        }
    };
    let poll = Duration::from_millis(s.config.jobs.poll_ms.max(10));
    loop {
        let progressed = match catch_up_once(&s.db, &s.objects, &index).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "search indexing failed; retrying");
                false
            }
        };
        if *stop.borrow() {
            break;
        }
        if progressed {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
    }
}
