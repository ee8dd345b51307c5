//! Job workers: lease due jobs from the database queue, run the handler for their kind, and
//! record the outcome with exponential backoff. Handlers must be idempotent — a job may run
//! again after a crash between its effect and its completion.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::services::Services;
use crate::storage::Job;

#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs the job. An `Err` is retried with backoff until the attempts run out.
    async fn run(&self, s: &Services, job: &Job) -> Result<(), String>;

    /// Runs several leased jobs of this kind, one result per job in order. The default runs
    /// them one by one; a handler that can share work between jobs (one transaction for the
    /// batch) overrides it.
    async fn run_batch(&self, s: &Services, jobs: &[&Job]) -> Vec<Result<(), String>> {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(self.run(s, job).await);
        }
        out
    }
}

/// The handlers by job kind.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<&'static str, Arc<dyn JobHandler>>);

impl Handlers {
    pub fn standard() -> Self {
        let mut h = Self::default();
        h.add("file.verify", Arc::new(VerifyFile));
        h.add(
            crate::storage::ARCHIVE_JOB,
            Arc::new(crate::archive::ArchiveDocumentJob),
        );
        h
    }

    pub fn add(&mut self, kind: &'static str, handler: Arc<dyn JobHandler>) {
        self.0.insert(kind, handler);
    }
}

/// Delay before retry `attempt` (1-based): 2, 4, 8 … seconds, capped at one hour.
pub fn backoff(attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 12)).unwrap_or(12);
    Duration::from_secs(2u64.pow(exp).min(3600))
}

/// Jobs leased per pass: each pass ends with one statement completing its jobs, and handlers
/// that batch (archiving) share one transaction between them.
const LEASE_BATCH: i64 = 32;

/// Foreground activity this recent makes the worker yield after a pass …
const FOREGROUND_WINDOW: Duration = Duration::from_millis(200);
/// … for as long as the pass took, but never longer than this.
const MAX_YIELD: Duration = Duration::from_millis(500);

/// Runs one pass: lease, run, record. Returns how many jobs ran.
pub async fn run_once(s: &Services, handlers: &Handlers, worker: &str) -> Result<usize, crate::storage::StorageError> {
    let cfg = &s.config.jobs;
    let now = s.clock.now_ms();
    let lease_ms = i64::try_from(cfg.lease_secs).unwrap_or(60) * 1000;
    let jobs = s.db.lease_jobs(worker, now, lease_ms, LEASE_BATCH).await?;
    // Runs of consecutive jobs of one kind go to their handler together, and each run's jobs
    // are recorded as soon as it ends (a job is done right after its effect, not after the
    // whole pass).
    for run in jobs.chunk_by(|a, b| a.kind == b.kind) {
        let refs: Vec<&Job> = run.iter().collect();
        let outcomes: Vec<Result<(), String>> = match handlers.0.get(run[0].kind.as_str()) {
            Some(h) => h.run_batch(s, &refs).await,
            None => run
                .iter()
                .map(|j| Err(format!("no handler for job kind {:?}", j.kind)))
                .collect(),
        };
        record_outcomes(s, worker, run, outcomes).await?;
    }
    Ok(jobs.len())
}

/// Records how a run of jobs ended: the successes in one statement, each failure with its
/// backoff, and the outcome counters.
async fn record_outcomes(
    s: &Services,
    worker: &str,
    jobs: &[Job],
    outcomes: Vec<Result<(), String>>,
) -> Result<(), crate::storage::StorageError> {
    let cfg = &s.config.jobs;
    let now = s.clock.now_ms();
    let mut completed = Vec::new();
    for (job, outcome) in jobs.iter().zip(outcomes) {
        let outcome_label = match outcome {
            Ok(()) => {
                completed.push(job.id);
                "ok"
            }
            Err(e) => {
                let give_up = job.attempts >= i64::from(cfg.max_attempts);
                let retry_at = now + i64::try_from(backoff(job.attempts).as_millis()).unwrap_or(i64::MAX / 2);
                tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, give_up, error = %e, "job failed");
                s.db.fail_job(job.id, worker, &e, retry_at, give_up, now).await?;
                if give_up {
                    "failed"
                } else {
                    "retry"
                }
            }
        };
        s.metrics
            .jobs_run
            .get_or_create(&crate::metrics::JobLabels {
                kind: job.kind.clone(),
                outcome: outcome_label.into(),
            })
            .inc();
    }
    s.db.complete_jobs(&completed, worker, now).await?;
    Ok(())
}

/// The worker loop; stops when `shutdown` turns true.
pub async fn run_worker(s: Services, handlers: Handlers, mut shutdown: watch::Receiver<bool>) {
    let worker = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4());
    let idle = Duration::from_millis(s.config.jobs.poll_ms);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let started = std::time::Instant::now();
        let ran = match run_once(&s, &handlers, &worker).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "job lease failed");
                0
            }
        };
        // While requests are being served, background work takes at most half the time: after
        // a pass it rests as long as the pass took. The queue still drains under any load,
        // only more slowly (see `Foreground`).
        if ran > 0 && s.foreground.busy_within(FOREGROUND_WINDOW) {
            tokio::select! {
                () = tokio::time::sleep(started.elapsed().min(MAX_YIELD)) => {}
                _ = shutdown.changed() => {}
            }
        }
        if ran == 0 {
            tokio::select! {
                () = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Re-reads a stored file and checks its hash and size against the database (fixity at ingest).
struct VerifyFile;

#[async_trait]
impl JobHandler for VerifyFile {
    async fn run(&self, s: &Services, job: &Job) -> Result<(), String> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(|e| e.to_string())?;
        let file_id = payload["file_id"].as_i64().ok_or("payload has no file_id")?;
        let file = s.db.file(file_id).await.map_err(|e| e.to_string())?;
        let (sha, size) = s.objects.digest(&file.object_key).await.map_err(|e| e.to_string())?;
        if sha != file.sha256 || i64::try_from(size).ok() != Some(file.size_bytes) {
            return Err(format!(
                "object {} does not match its record (sha256 {sha}, {size} bytes)",
                file.object_key
            ));
        }
        s.db.mark_file_verified(file_id, s.clock.now_ms())
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(super::backoff(1).as_secs(), 2);
        assert_eq!(super::backoff(3).as_secs(), 8);
        assert_eq!(super::backoff(40).as_secs(), 3600);
    }
}
