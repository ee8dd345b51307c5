//! The application's shared services, built once by [`crate::app::App`] and cloned cheaply.

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
use crate::storage::Db;

#[derive(Clone, Debug)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub objects: Objects,
    pub catalog: Arc<DocumentTypeCatalog>,
    pub clock: Arc<dyn Clock>,
    pub audit: AuditSink,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionCache>,
}

type Pending = (NewAuditEntry, oneshot::Sender<Result<(), String>>);

/// Appends audit entries for reads in batches (group commit): each caller waits until its entry
/// is durable, but many callers share one transaction.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
}

impl AuditSink {
    /// Starts the batching task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(8192);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(512);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < 512 {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let entries: Vec<NewAuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
                let result = db.append_audit(&entries).await.map_err(|e| e.to_string());
                for (_, reply) in batch.drain(..) {
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
