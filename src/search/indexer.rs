//! Keeps this process's index in step with the database's ordered change log, and rebuilds it.
//!
//! The loop reads changes after its cursor, re-reads those documents (and their files) from
//! the database and replaces them in the index, committing the new cursor in the same index
//! commit. A crash between two commits only means the last batch is applied again, which is
//! harmless: a document's entry is always rebuilt from its current row.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::extract::{self, Limits, Outcome};
use super::index::{IndexInput, SearchIndex, TextState};
use super::SearchError;
use crate::clock::Clock;
use crate::objects::Objects;
use crate::services::Services;
use crate::storage::{Db, Document, DocumentFile, FileText};

/// Changes applied per index commit.
pub const BATCH: i64 = 500;

/// Longest time one file's text extraction may take before the file counts as unreadable.
const EXTRACT_DEADLINE: Duration = Duration::from_secs(20);

/// Most text indexed per document (all its files together).
const MAX_DOCUMENT_TEXT: usize = 2 * 1024 * 1024;

/// The index entries of these documents, with the text of their files, and the ids of those
/// whose files could not be read from object storage just now (indexed by metadata for the
/// moment; the caller tries them again later).
async fn inputs(
    db: &Db,
    objects: &Objects,
    clock: &dyn Clock,
    docs: &[Document],
) -> Result<(Vec<IndexInput>, Vec<i64>), SearchError> {
    let ids: Vec<i64> = docs.iter().map(|d| d.id).collect();
    let mut files: BTreeMap<i64, Vec<DocumentFile>> = BTreeMap::new();
    for f in db.files_of_documents(&ids).await? {
        files.entry(f.document_id).or_default().push(f);
    }
    let mut wanted: Vec<String> = files.values().flatten().map(|f| f.sha256.clone()).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut texts: HashMap<String, FileText> = db
        .file_texts(&wanted)
        .await?
        .into_iter()
        .map(|t| (t.sha256.clone(), t))
        .collect();
    let mut retry = Vec::new();
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let Some(doc_files) = files.get(&d.id) else {
            out.push(IndexInput::from_document(d, "", TextState::NoFiles));
            continue;
        };
        let mut body = String::new();
        let mut complete = true;
        for f in doc_files {
            if !texts.contains_key(&f.sha256) {
                match extract_file(objects, clock, f).await {
                    Ok(t) => {
                        db.put_file_text(&t).await?;
                        texts.insert(t.sha256.clone(), t);
                    }
                    Err(e) => {
                        tracing::warn!(document = d.id, file = %f.filename, error = %e,
                            "file not readable from object storage; indexing metadata for now");
                        complete = false;
                        if !retry.contains(&d.id) {
                            retry.push(d.id);
                        }
                        continue;
                    }
                }
            }
            match texts.get(&f.sha256) {
                Some(t) if t.state == "text" => {
                    if body.len() + t.body.len() <= MAX_DOCUMENT_TEXT {
                        body.push_str(&t.body);
                        body.push('\n');
                    }
                }
                _ => complete = false,
            }
        }
        let state = if complete {
            TextState::Full
        } else {
            TextState::MetadataOnly
        };
        out.push(IndexInput::from_document(d, &body, state));
    }
    Ok((out, retry))
}

/// Reads one file from object storage and extracts its text on a blocking thread, within
/// [`EXTRACT_DEADLINE`]. Errs only when the object could not be read (the store is down, the
/// object is missing): a file that reads but yields no text is a result, cached like any other.
async fn extract_file(objects: &Objects, clock: &dyn Clock, f: &DocumentFile) -> Result<FileText, SearchError> {
    let limits = Limits::default();
    let now = clock.now().timestamp_millis();
    let done = |outcome: Outcome| {
        let (body, truncated, note) = match &outcome {
            Outcome::Text { text, truncated } => (text.clone(), i64::from(*truncated), None),
            Outcome::NoTextLayer => (String::new(), 0, None),
            Outcome::Unreadable(why) => (String::new(), 0, Some(why.clone())),
        };
        FileText {
            sha256: f.sha256.clone(),
            state: outcome.code().to_string(),
            body,
            truncated,
            note,
            extracted_at: now,
        }
    };
    let is_pdf =
        f.content_type.eq_ignore_ascii_case("application/pdf") || f.filename.to_ascii_lowercase().ends_with(".pdf");
    if !is_pdf {
        return Ok(done(Outcome::Unreadable(format!(
            "{} is not extracted (PDF only)",
            f.content_type
        ))));
    }
    if u64::try_from(f.size_bytes).unwrap_or(u64::MAX) > limits.max_file_bytes {
        return Ok(done(Outcome::Unreadable(format!(
            "larger than {} bytes",
            limits.max_file_bytes
        ))));
    }
    let read_err = |e: String| SearchError::Index(format!("reading {} from object storage: {e}", f.object_key));
    let (size, mut stream) = objects
        .get_stream(&f.object_key)
        .await
        .map_err(|e| read_err(e.to_string()))?;
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limits.max_file_bytes)).unwrap_or_default());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| read_err(e.to_string()))?;
        if (bytes.len() + chunk.len()) as u64 > limits.max_file_bytes {
            return Ok(done(Outcome::Unreadable(format!(
                "larger than {} bytes",
                limits.max_file_bytes
            ))));
        }
        bytes.extend_from_slice(&chunk);
    }
    let task = tokio::task::spawn_blocking(move || extract::pdf_text(&bytes, &limits));
    let outcome = match tokio::time::timeout(EXTRACT_DEADLINE, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Outcome::Unreadable(format!("extraction failed: {e}")),
        Err(_) => Outcome::Unreadable(format!("extraction took longer than {} s", EXTRACT_DEADLINE.as_secs())),
    };
    Ok(done(outcome))
}

/// Runs index writes on a thread of their own at background CPU priority (see
/// [`super::index::background_priority`]): tantivy starts its indexing threads from the thread
/// that commits, and they inherit its priority, so the whole write path yields the cores to
/// requests. The index is derived data that may lag by a second; a registration may not.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("vanthu-index".into())
        .spawn(move || {
            super::index::background_priority();
            let _ = tx.send(f());
        })
        .map_err(|e| SearchError::Index(format!("cannot start an indexing thread: {e}")))?;
    rx.await
        .map_err(|_| SearchError::Index("the indexing thread stopped without an answer".into()))?
}

/// Context the indexer reads from.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub db: &'a Db,
    pub objects: &'a Objects,
    pub clock: &'a dyn Clock,
}

impl<'a> Sources<'a> {
    pub fn of(s: &'a Services) -> Self {
        Self {
            db: &s.db,
            objects: &s.objects,
            clock: s.clock.as_ref(),
        }
    }
}

/// Applies the next batch of changes after the index's cursor. Returns how many changes were
/// applied, and the documents whose files could not be read from object storage (indexed by
/// metadata for now).
pub async fn catch_up_once(src: Sources<'_>, index: &Arc<SearchIndex>) -> Result<(usize, Vec<i64>), SearchError> {
    let changes = src.db.search_changes_after(index.cursor(), BATCH).await?;
    let Some(last) = changes.last().map(|c| c.seq) else {
        return Ok((0, Vec::new()));
    };
    let mut ids: Vec<i64> = changes.iter().map(|c| c.document_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let docs = src.db.documents_by_ids(&ids).await?;
    let (entries, retry) = inputs(src.db, src.objects, src.clock, &docs).await?;
    let index = index.clone();
    let started = std::time::Instant::now();
    blocking(move || index.apply(&entries, last)).await?;
    tracing::debug!(
        changes = changes.len(),
        ms = started.elapsed().as_millis() as u64,
        "search index commit"
    );
    Ok((changes.len(), retry))
}

/// Re-indexes `ids` at the current cursor (documents whose files were unreadable before).
/// Returns those still unreadable.
pub async fn retry(src: Sources<'_>, index: &Arc<SearchIndex>, ids: &[i64]) -> Result<Vec<i64>, SearchError> {
    let docs = src.db.documents_by_ids(ids).await?;
    let (entries, still) = inputs(src.db, src.objects, src.clock, &docs).await?;
    let index = index.clone();
    blocking(move || {
        let cursor = index.cursor();
        index.apply(&entries, cursor)
    })
    .await?;
    Ok(still)
}

/// Applies every pending change. Returns how many were applied and the documents whose files
/// could not be read.
pub async fn catch_up(src: Sources<'_>, index: &Arc<SearchIndex>) -> Result<(u64, Vec<i64>), SearchError> {
    let mut total = 0u64;
    let mut unreadable = BTreeSet::new();
    loop {
        let (n, retry) = catch_up_once(src, index).await?;
        unreadable.extend(retry);
        if n == 0 {
            return Ok((total, unreadable.into_iter().collect()));
        }
        total += n as u64;
    }
}

/// Rebuilds the index from the database and the stored files: every document, then the cursor
/// at the change-log head read *before* the first document, so changes made during the rebuild
/// are applied again afterwards. `progress(done, total)` is called after each batch. Returns
/// the number of documents and those whose files could not be read (indexed by metadata).
pub async fn rebuild(
    src: Sources<'_>,
    index: &Arc<SearchIndex>,
    mut progress: impl FnMut(u64, u64),
) -> Result<(u64, Vec<i64>), SearchError> {
    let db = src.db;
    let head = db.search_change_head().await?;
    let total = u64::try_from(db.document_count().await?).unwrap_or_default();
    index.clear()?;
    let mut after = 0;
    let mut done = 0u64;
    let mut unreadable = Vec::new();
    loop {
        let docs = db.documents_after(after, BATCH).await?;
        let Some(last) = docs.last().map(|d| d.id) else {
            break;
        };
        after = last;
        let (entries, retry) = inputs(db, src.objects, src.clock, &docs).await?;
        unreadable.extend(retry);
        done += entries.len() as u64;
        let ix = index.clone();
        blocking(move || ix.add_uncommitted(&entries)).await?;
        progress(done, total.max(done));
    }
    let ix = index.clone();
    blocking(move || ix.finish(head)).await?;
    Ok((done, unreadable))
}

/// How long documents with unreadable files wait before their files are read again.
const RETRY_EVERY: Duration = Duration::from_secs(30);

/// The background loop of a server process: follow the change log until `stop`, and read
/// again, every [`RETRY_EVERY`], the files that object storage could not serve.
pub async fn run(s: Services, mut stop: watch::Receiver<bool>) {
    let index = match s.search.get() {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "search index unavailable; this process will not index");
            return;
        }
    };
    let src = Sources::of(&s);
    let poll = Duration::from_millis(s.config.jobs.poll_ms.max(10));
    let mut pending: BTreeSet<i64> = BTreeSet::new();
    let mut last_retry = tokio::time::Instant::now();
    loop {
        let progressed = match catch_up_once(src, &index).await {
            Ok((n, retry)) => {
                pending.extend(retry);
                // Only a full batch means more is waiting. After a partial one the loop waits a
                // poll interval, so that a steady stream of registrations is indexed in a few
                // large commits a second rather than one small commit (a new segment, and later
                // a merge) per pass: tantivy's commits and merges were most of the server's CPU
                // under registration load.
                n >= BATCH as usize
            }
            Err(e) => {
                tracing::warn!(error = %e, "search indexing failed; retrying");
                false
            }
        };
        if !pending.is_empty() && last_retry.elapsed() >= RETRY_EVERY {
            last_retry = tokio::time::Instant::now();
            let ids: Vec<i64> = pending.iter().copied().collect();
            match retry(src, &index, &ids).await {
                Ok(still) => pending = still.into_iter().collect(),
                Err(e) => tracing::warn!(error = %e, "re-reading unreadable files failed; retrying later"),
            }
        }
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
