//! The application's shared services, built once by [`crate::app::App`] and cloned cheaply.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::audit::NewAuditEntry;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::model::DocumentTypeCatalog;
use crate::objects::Objects;
use crate::session_cache::SessionCache;
use crate::storage::{Arrival, AuditHead, Db, NewDocument, NumberSeries, Registration, StorageError};

#[derive(Clone, Debug)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub objects: Objects,
    pub catalog: Arc<DocumentTypeCatalog>,
    pub clock: Arc<dyn Clock>,
    pub audit: AuditSink,
    pub registrar: Registrar,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionCache>,
    /// This process's search index (opened on first use).
    pub search: crate::search::SearchHandle,
    /// When interactive writes last ran (registrations, audited reads); background job workers
    /// slow down while it is recent.
    pub foreground: Arc<Foreground>,
}

/// The last moment the foreground (the group-commit writers serving requests) was busy, so that
/// background workers can yield to it, the way PostgreSQL's `vacuum_cost_delay` lets vacuum
/// yield: archiving and indexing may lag a few seconds behind a burst; a clerk may not.
#[derive(Debug)]
pub struct Foreground {
    origin: std::time::Instant,
    /// Microseconds after `origin` of the last foreground batch (0: never).
    last_us: std::sync::atomic::AtomicU64,
}

impl Default for Foreground {
    fn default() -> Self {
        Self {
            origin: std::time::Instant::now(),
            last_us: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Foreground {
    /// Notes that a foreground batch is running now.
    pub fn touch(&self) {
        let us = u64::try_from(self.origin.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.last_us.store(us, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a foreground batch ran within `window`.
    pub fn busy_within(&self, window: std::time::Duration) -> bool {
        let last = self.last_us.load(std::sync::atomic::Ordering::Relaxed);
        if last == 0 {
            return false;
        }
        let now = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        now.saturating_sub(last) <= u64::try_from(window.as_micros()).unwrap_or(u64::MAX)
    }
}

/// A group-commit batch slower than this is logged (a stalled disk or a lock wait shows there).
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(50);

type Pending = (NewAuditEntry, oneshot::Sender<Result<(), String>>);

/// Appends audit entries for reads in batches (group commit): each caller waits until its entry
/// is durable, but many callers share one transaction.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
}

impl AuditSink {
    const MAX_BATCH: usize = 512;

    /// Starts the batching task on the current runtime. On PostgreSQL it remembers the chain
    /// head it last wrote and appends each batch with one guarded statement
    /// ([`Db::append_audit_if_head`]), batches sized to a cached statement shape (the rest waits
    /// for the next round); when another appender (a registration, another server) moved the
    /// head, that batch takes the locking path instead. SQLite's single writer connection gains
    /// nothing from it, so there every batch is one ordinary transaction.
    pub fn start(db: Db, metrics: Arc<Metrics>, foreground: Arc<Foreground>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(8192);
        tokio::spawn(async move {
            let guarded = db.backend() == crate::storage::Backend::Postgres;
            let mut head: Option<AuditHead> = None;
            let mut queue: VecDeque<Pending> = VecDeque::new();
            loop {
                if queue.is_empty() {
                    match rx.recv().await {
                        Some(p) => queue.push_back(p),
                        None => break,
                    }
                }
                while queue.len() < Self::MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => queue.push_back(p),
                        Err(_) => break,
                    }
                }
                let take = if guarded {
                    crate::storage::largest_chunk(queue.len())
                } else {
                    queue.len()
                };
                let batch: Vec<Pending> = queue.drain(..take).collect();
                let entries: Vec<NewAuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
                let started = std::time::Instant::now();
                foreground.touch();
                let result = append_batch(&db, guarded, &mut head, &entries).await;
                let took = started.elapsed();
                metrics.observe_batch("audit", entries.len(), took.as_secs_f64());
                if took > SLOW_BATCH {
                    tracing::info!(
                        entries = entries.len(),
                        ms = took.as_millis() as u64,
                        "slow audit batch"
                    );
                }
                for (_, reply) in batch {
                    let _ = reply.send(result.clone());
                }
            }
        });
        Self { tx }
    }

    /// Records an entry and waits until it is committed.
    pub async fn record(&self, entry: NewAuditEntry) -> AppResult<()> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((entry, reply))
            .await
            .map_err(|_| AppError::internal("audit writer stopped"))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AppError::new(
                crate::error::ErrorKind::Unavailable,
                "service.unavailable",
                format!("the audit log could not be written, try again shortly ({e})"),
            )),
            Err(_) => Err(AppError::internal("audit writer stopped")),
        }
    }
}

/// One batch of read events: the guarded one-statement append while `head` is known and still
/// current, else a transaction that locks the head; `head` follows what was written.
async fn append_batch(
    db: &Db,
    guarded: bool,
    head: &mut Option<AuditHead>,
    entries: &[NewAuditEntry],
) -> Result<(), String> {
    if let (true, Some(known)) = (guarded, head.as_ref()) {
        match db.append_audit_if_head(known, entries).await {
            Ok(Some(written)) => {
                *head = Some(written);
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => {
                *head = None;
                return Err(e.to_string());
            }
        }
    }
    match db.append_audit(entries).await {
        Ok(written) => {
            *head = Some(written);
            Ok(())
        }
        Err(e) => {
            *head = None;
            Err(e.to_string())
        }
    }
}

/// Where an incoming document is to be registered. The register (sổ đăng ký văn bản đến) is
/// chosen by the [`Registrar`] once per batch and agency, not once per request.
#[derive(Clone, Debug)]
pub struct RegisterAt {
    pub year: i64,
    pub arrived_on: String,
}

type PendingDocument = (
    NewDocument,
    Option<RegisterAt>,
    oneshot::Sender<AppResult<Registration>>,
);

/// Writes new documents in batches (group commit): requests that arrive while a batch commits
/// go together into the next one, so a burst of registrations costs one register lookup per
/// agency, one duplicate-check statement, one counter update and one commit per batch instead
/// of per document. Numbers stay gapless: a batch is all or nothing, and when a batch fails, its
/// documents are retried one by one so that one bad document cannot fail the others.
#[derive(Clone, Debug)]
pub struct Registrar {
    tx: mpsc::Sender<PendingDocument>,
}

impl Registrar {
    pub const MAX_BATCH: usize = 128;

    pub fn start(db: Db, metrics: Arc<Metrics>, foreground: Arc<Foreground>) -> Self {
        let (tx, mut rx) = mpsc::channel::<PendingDocument>(4096);
        tokio::spawn(async move {
            let mut batch: Vec<PendingDocument> = Vec::with_capacity(Self::MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < Self::MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let started = std::time::Instant::now();
                foreground.touch();
                let ready = choose_registers(&db, &mut batch).await;
                if !ready.is_empty() {
                    let entries = ready.len();
                    write_batch(&db, ready).await;
                    let took = started.elapsed();
                    metrics.observe_batch("registrar", entries, took.as_secs_f64());
                    if took > SLOW_BATCH {
                        tracing::info!(entries, ms = took.as_millis() as u64, "slow registration batch");
                    }
                }
            }
        });
        Self { tx }
    }

    /// Queues a document and waits until it is committed. With `register`, the document is
    /// registered in its agency's incoming register for that year and gets its arrival number.
    pub async fn create(&self, doc: NewDocument, register: Option<RegisterAt>) -> AppResult<Registration> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((doc, register, reply))
            .await
            .map_err(|_| AppError::internal("registrar stopped"))?;
        wait.await.map_err(|_| AppError::internal("registrar stopped"))?
    }
}

type Ready = (NewDocument, oneshot::Sender<AppResult<Registration>>);

/// Gives each document that asks for a register its register (one series lookup per agency in
/// the batch); answers the documents whose agency has none.
async fn choose_registers(db: &Db, batch: &mut Vec<PendingDocument>) -> Vec<Ready> {
    let mut series: HashMap<i64, AppResult<Vec<NumberSeries>>> = HashMap::new();
    let mut ready = Vec::with_capacity(batch.len());
    for (mut doc, register, reply) in batch.drain(..) {
        if let Some(at) = register {
            let found = match series.entry(doc.agency_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(db.series(doc.agency_id).await.map_err(AppError::from))
                }
            };
            let chosen = match found {
                Ok(all) => crate::storage::choose_series(all, "incoming", &doc.doc.document_type)
                    .map(|s| s.id)
                    .ok_or_else(|| {
                        AppError::conflict(
                            "series.missing",
                            "the agency has no incoming register (sổ đăng ký văn bản đến); create one first",
                        )
                    }),
                Err(e) => Err(e.clone()),
            };
            match chosen {
                Ok(series_id) => {
                    doc.arrival = Some(Arrival {
                        series_id,
                        year: at.year,
                        arrived_on: at.arrived_on,
                    });
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                    continue;
                }
            }
        }
        ready.push((doc, reply));
    }
    ready
}

/// Writes one batch; when it fails for a reason other than an outage, each document is
/// written on its own so that one bad document cannot fail the others.
async fn write_batch(db: &Db, mut batch: Vec<Ready>) {
    let items: Vec<NewDocument> = batch.iter().map(|(d, _)| d.clone()).collect();
    match db.create_documents(&items).await {
        Ok(regs) => {
            for ((_, reply), reg) in batch.drain(..).zip(regs) {
                let _ = reply.send(Ok(reg));
            }
        }
        Err(e) if batch.len() > 1 && !matches!(e, StorageError::Unavailable(_)) => {
            for (item, reply) in batch.drain(..) {
                let one = db.create_documents(std::slice::from_ref(&item)).await;
                let result = one
                    .map_err(AppError::from)
                    .and_then(|mut v| v.pop().ok_or_else(|| AppError::internal("batch returned no row")));
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let e = AppError::from(e);
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Foreground;

    #[test]
    fn foreground_is_busy_only_after_a_touch_and_only_within_the_window() {
        let f = Foreground::default();
        assert!(!f.busy_within(Duration::from_secs(3600)), "never touched");
        f.touch();
        assert!(f.busy_within(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!f.busy_within(Duration::from_millis(5)));
    }
}
