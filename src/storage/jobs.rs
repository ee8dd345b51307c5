//! The durable job queue. Jobs are written in the same transaction as the change that causes
//! them, deduplicated by key, leased by workers (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the
//! single writer connection makes the lease statement atomic), and retried with backoff.

use serde::Serialize;
use sqlx::AnyConnection;

use super::{Backend, Db, StorageResult};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub dedup_key: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
}

/// Queue health for `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JobStats {
    /// Jobs waiting or running.
    pub depth: i64,
    /// Creation time of the oldest waiting job (ms), if any.
    pub oldest_created_at: Option<i64>,
    /// Jobs given up after their last attempt.
    pub failed: i64,
    pub done: i64,
}

const JOB_COLUMNS: &str = "id, kind, dedup_key, payload, state, attempts, run_at, last_error";

/// Adds a job inside the caller's transaction; a job with the same key is left as it is.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    kind: &str,
    key: &str,
    payload: &str,
    run_at: i64,
    now_ms: i64,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, dedup_key, payload, state, attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5) ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(kind)
    .bind(key)
    .bind(payload)
    .bind(run_at)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

impl Db {
    /// Adds a job on its own (for work not tied to a change, e.g. operator requests).
    pub async fn enqueue_job(
        &self,
        kind: &str,
        key: &str,
        payload: &str,
        run_at: i64,
        now_ms: i64,
    ) -> StorageResult<()> {
        let mut conn = self.write.acquire().await?;
        enqueue(&mut conn, kind, key, payload, run_at, now_ms).await
    }

    /// Leases up to `limit` due jobs (queued and due, or running with an expired lease).
    pub async fn lease_jobs(&self, worker: &str, now_ms: i64, lease_ms: i64, limit: i64) -> StorageResult<Vec<Job>> {
        let pick = match self.backend {
            Backend::Postgres => {
                "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) OR (state = 'running' AND leased_until < $1) \
                 ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED"
            }
            Backend::Sqlite => {
                "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) OR (state = 'running' AND leased_until < $1) \
                 ORDER BY run_at, id LIMIT $4"
            }
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, leased_until = $2, leased_by = $3, updated_at = $1 \
             WHERE id IN ({pick}) RETURNING {JOB_COLUMNS}"
        );
        let mut jobs: Vec<Job> = sqlx::query_as(&sql)
            .persistent(false)
            .bind(now_ms)
            .bind(now_ms + lease_ms)
            .bind(worker)
            .bind(limit)
            .fetch_all(&self.write)
            .await?;
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    /// Marks a leased job done (only if this worker still holds it).
    pub async fn complete_job(&self, id: i64, worker: &str, now_ms: i64) -> StorageResult<bool> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'done', leased_until = NULL, last_error = NULL, updated_at = $3 \
             WHERE id = $1 AND state = 'running' AND leased_by = $2",
        )
        .bind(id)
        .bind(worker)
        .bind(now_ms)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks several leased jobs done in one statement per chunk (only those this worker still
    /// holds); returns how many were.
    pub async fn complete_jobs(&self, ids: &[i64], worker: &str, now_ms: i64) -> StorageResult<u64> {
        let postgres = self.backend == Backend::Postgres;
        let mut done = 0;
        for (start, size) in super::fixed_chunks(ids.len()) {
            let list: Vec<String> = (0..size).map(|i| super::placeholder(postgres, i + 3)).collect();
            let sql = format!(
                "UPDATE jobs SET state = 'done', leased_until = NULL, last_error = NULL, updated_at = {} \
                 WHERE state = 'running' AND leased_by = {} AND id IN ({})",
                super::placeholder(postgres, 1),
                super::placeholder(postgres, 2),
                list.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(now_ms).bind(worker);
            for id in &ids[start..start + size] {
                q = q.bind(*id);
            }
            done += q.execute(&self.write).await?.rows_affected();
        }
        Ok(done)
    }

    /// Records a failure: retried at `retry_at`, or given up (`failed`) when `give_up`.
    pub async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: i64,
        give_up: bool,
        now_ms: i64,
    ) -> StorageResult<()> {
        sqlx::query(
            "UPDATE jobs SET state = $4, run_at = $5, leased_until = NULL, last_error = $3, updated_at = $6 \
             WHERE id = $1 AND state = 'running' AND leased_by = $2",
        )
        .bind(id)
        .bind(worker)
        .bind(error)
        .bind(if give_up { "failed" } else { "queued" })
        .bind(retry_at)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn job(&self, key: &str) -> StorageResult<Job> {
        Ok(
            sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE dedup_key = $1"))
                .bind(key)
                .fetch_one(&self.read)
                .await?,
        )
    }

    pub async fn job_stats(&self) -> StorageResult<JobStats> {
        let rows: Vec<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT state, COUNT(*), MIN(created_at) FROM jobs GROUP BY state")
                .fetch_all(&self.read)
                .await?;
        let mut s = JobStats::default();
        for (state, n, oldest) in rows {
            match state.as_str() {
                "queued" | "running" => {
                    s.depth += n;
                    s.oldest_created_at = match (s.oldest_created_at, oldest) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                "failed" => s.failed += n,
                "done" => s.done += n,
                _ => {}
            }
        }
        Ok(s)
    }
}
