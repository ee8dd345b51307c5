//! Start-up and wiring: `App::build` binds the listener first (so tests can use port 0 and read
//! the address back), connects and migrates the database, opens object storage and builds the
//! services; `App::run` serves until the shutdown future resolves, then drains.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::jobs::Handlers;
use crate::metrics::Metrics;
use crate::model::DocumentTypeCatalog;
use crate::objects::Objects;
use crate::services::{AuditSink, Registrar, Services};
use crate::session_cache::SessionCache;
use crate::storage::{ConnectSettings, Db};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: std::io::Error },
    #[error("database: {0}")]
    Database(crate::storage::StorageError),
    #[error("object storage: {0}")]
    Objects(crate::objects::ObjectError),
}

pub struct App {
    listener: TcpListener,
    services: Services,
    handlers: Handlers,
}

/// Opens the database and object store and builds the services (no listener). The CLI uses this
/// for commands that do not serve HTTP.
pub async fn services(config: Config, clock: Arc<dyn Clock>) -> Result<Services, BuildError> {
    let db = Db::connect(
        config.database_url().expose(),
        &ConnectSettings {
            max_connections: config.database_max_connections,
            ..ConnectSettings::default()
        },
    )
    .await
    .map_err(BuildError::Database)?;
    db.migrate().await.map_err(BuildError::Database)?;
    let objects =
        Objects::open(&config.object_store_url(), &crate::config::aws_environment()).map_err(BuildError::Objects)?;
    let search = crate::search::SearchHandle::new(config.data_dir.join("search-index"));
    let metrics = Arc::new(Metrics::new());
    let foreground = Arc::new(crate::services::Foreground::default());
    Ok(Services {
        search,
        audit: AuditSink::start(db.clone(), metrics.clone(), foreground.clone()),
        registrar: Registrar::start(db.clone(), metrics.clone(), foreground.clone()),
        foreground,
        config: Arc::new(config),
        db,
        objects,
        catalog: Arc::new(DocumentTypeCatalog::embedded()),
        clock,
        metrics,
        sessions: Arc::new(SessionCache::new(Duration::from_secs(5))),
    })
}

impl App {
    pub async fn build(config: Config) -> Result<Self, BuildError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Self, BuildError> {
        let addr = config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|reason| BuildError::Bind { addr, reason })?;
        let services = services(config, clock).await?;
        Ok(Self {
            listener,
            services,
            handlers: Handlers::standard(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn handlers_mut(&mut self) -> &mut Handlers {
        &mut self.handlers
    }

    /// Serves HTTP, runs job workers and the metrics refresher until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut background = Vec::new();
        if self.services.config.jobs.enabled {
            background.push(tokio::spawn(crate::jobs::run_worker(
                self.services.clone(),
                self.handlers.clone(),
                stop_rx.clone(),
            )));
        }
        background.push(tokio::spawn(crate::archive::fixity::run_schedule(
            self.services.clone(),
            stop_rx.clone(),
        )));
        background.push(tokio::spawn(crate::search::indexer::run(
            self.services.clone(),
            stop_rx.clone(),
        )));
        match self.services.db.backend() {
            crate::storage::Backend::Postgres => {
                background.push(tokio::spawn(keep_statistics(self.services.clone(), stop_rx.clone())));
            }
            crate::storage::Backend::Sqlite => {
                background.push(tokio::spawn(checkpoint_wal(self.services.clone(), stop_rx.clone())));
            }
        }
        background.push(tokio::spawn(refresh_gauges(self.services.clone(), stop_rx)));
        let result = crate::http::serve(self.listener, self.services.clone(), shutdown).await;
        let _ = stop_tx.send(true);
        for task in background {
            let _ = task.await;
        }
        self.services.db.close().await;
        result
    }
}

/// Keeps PostgreSQL's planner statistics current while tables grow (see
/// `storage::statistics`): one catalog query every two seconds, `ANALYZE` only when needed.
async fn keep_statistics(s: Services, mut stop: watch::Receiver<bool>) {
    loop {
        match s.db.refresh_statistics().await {
            Ok(tables) if !tables.is_empty() => tracing::debug!(?tables, "analysed"),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "statistics refresh failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Copies SQLite's write-ahead log back into the database file twice a second, off the
/// request path: otherwise the commit that crosses the WAL's size threshold does it, and that
/// request (and every one queued behind the single writer) waits for the copy and its fsync.
async fn checkpoint_wal(s: Services, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = s.db.checkpoint_wal().await {
            tracing::debug!(error = %e, "WAL checkpoint failed");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Keeps the job-queue and database gauges fresh for `/metrics`.
async fn refresh_gauges(s: Services, mut stop: watch::Receiver<bool>) {
    loop {
        match s.db.job_stats().await {
            Ok(st) => {
                s.metrics.job_queue_depth.set(st.depth);
                s.metrics.jobs_failed.set(st.failed);
                let age = st
                    .oldest_created_at
                    .map_or(0.0, |t| ((s.clock.now_ms() - t).max(0) as f64) / 1000.0);
                s.metrics.job_oldest_age_seconds.set(age);
                s.metrics.db_up.set(1);
            }
            Err(_) => {
                s.metrics.db_up.set(0);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => break,
        }
    }
}
