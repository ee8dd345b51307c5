//! Fixity checks: re-read archive objects, recompute SHA-256, compare with the database, and list
//! objects in the store that the database does not know (orphans).
//!
//! The classification and the report are pure ([`classify`], [`FixityReport`]); [`verify`] does
//! the IO and records the run, and [`run_schedule`] runs it periodically inside the server.

use std::time::Duration;

use futures::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::service::{store, ArchiveError};
use super::store::StoreError;
use crate::services::Services;
use crate::storage::{ArchiveObjectRow, FixityRunRow};

/// Findings kept in a report (counts are always complete).
pub const MAX_FINDINGS: usize = 1000;
/// Rows read from the database per page, and keys looked up per orphan query.
const PAGE: i64 = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Finding {
    /// In the database, not in the store.
    Missing { key: String },
    /// In both, but the bytes differ from the recorded SHA-256 or size.
    Corrupt {
        key: String,
        expected_sha256: String,
        actual_sha256: String,
        expected_size: i64,
        actual_size: u64,
    },
    /// In the store, not in the database.
    Orphaned { key: String, size: u64 },
}

/// The result of one fixity run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FixityReport {
    pub started_at: i64,
    pub finished_at: i64,
    /// Whether only a sample of the objects was re-read.
    pub sampled: bool,
    /// Objects re-read and hashed.
    pub checked: u64,
    pub missing: u64,
    pub corrupt: u64,
    pub orphaned: u64,
    /// The first [`MAX_FINDINGS`] problems.
    pub findings: Vec<Finding>,
}

impl FixityReport {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.corrupt == 0 && self.orphaned == 0
    }

    pub fn add(&mut self, f: Finding) {
        match f {
            Finding::Missing { .. } => self.missing += 1,
            Finding::Corrupt { .. } => self.corrupt += 1,
            Finding::Orphaned { .. } => self.orphaned += 1,
        }
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        }
    }

    fn from_row(r: &FixityRunRow) -> Self {
        let findings = serde_json::from_str(&r.report).unwrap_or_default();
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Self {
            started_at: r.started_at,
            finished_at: r.finished_at,
            sampled: r.sampled != 0,
            checked: n(r.checked),
            missing: n(r.missing),
            corrupt: n(r.corrupt),
            orphaned: n(r.orphaned),
            findings,
        }
    }
}

/// What re-reading one object found.
pub enum Reread {
    Read { sha256: String, size: u64 },
    NotFound,
}

/// Compares a re-read object with its database row. Pure.
pub fn classify(row: &ArchiveObjectRow, read: &Reread) -> Option<Finding> {
    match read {
        Reread::NotFound => Some(Finding::Missing {
            key: row.object_key.clone(),
        }),
        Reread::Read { sha256, size } => {
            let same_size = i64::try_from(*size).ok() == Some(row.size_bytes);
            (sha256 != &row.sha256 || !same_size).then(|| Finding::Corrupt {
                key: row.object_key.clone(),
                expected_sha256: row.sha256.clone(),
                actual_sha256: sha256.clone(),
                expected_size: row.size_bytes,
                actual_size: *size,
            })
        }
    }
}

/// Keeps a uniform random sample of `n` items from a stream of unknown length (reservoir
/// sampling, algorithm R). Pure apart from the random source it is given.
pub struct Reservoir<T> {
    n: usize,
    seen: u64,
    items: Vec<T>,
}

impl<T> Reservoir<T> {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            seen: 0,
            items: Vec::with_capacity(n.min(100_000)),
        }
    }
    pub fn offer(&mut self, item: T, rng: &mut impl Rng) {
        self.seen += 1;
        if self.items.len() < self.n {
            self.items.push(item);
        } else {
            let j = rng.gen_range(0..self.seen);
            if let Ok(j) = usize::try_from(j) {
                if j < self.n {
                    self.items[j] = item;
                }
            }
        }
    }
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

async fn reread(store: &super::ArchiveStore, key: &str) -> Result<Reread, ArchiveError> {
    match store.digest(key).await {
        Ok((sha256, size)) => Ok(Reread::Read { sha256, size }),
        Err(StoreError::NotFound(_)) => Ok(Reread::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// Runs a fixity check over every archive object, or a random sample of `sample` objects, plus
/// an orphan scan of the store; records the run and updates the metrics. `progress(done, total)`
/// is called after each object.
pub async fn verify(
    s: &Services,
    sample: Option<u64>,
    progress: impl Fn(u64, u64),
) -> Result<FixityReport, ArchiveError> {
    let archive = store(s);
    let mut report = FixityReport {
        started_at: s.clock.now_ms(),
        sampled: sample.is_some(),
        ..FixityReport::default()
    };
    let total = u64::try_from(s.db.archive_object_count().await?).unwrap_or(0);
    match sample {
        Some(n) => {
            let mut reservoir = Reservoir::new(usize::try_from(n).unwrap_or(usize::MAX));
            let mut after = String::new();
            let mut rng = rand::rngs::StdRng::from_entropy();
            loop {
                let page = s.db.archive_objects_page(&after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.object_key.clone();
                for row in page {
                    reservoir.offer(row, &mut rng);
                }
            }
            let rows = reservoir.into_items();
            let total = rows.len() as u64;
            for row in rows {
                let read = reread(&archive, &row.object_key).await?;
                if let Some(f) = classify(&row, &read) {
                    report.add(f);
                }
                report.checked += 1;
                progress(report.checked, total);
            }
        }
        None => {
            let mut after = String::new();
            loop {
                let page = s.db.archive_objects_page(&after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.object_key.clone();
                for row in page {
                    let read = reread(&archive, &row.object_key).await?;
                    if let Some(f) = classify(&row, &read) {
                        report.add(f);
                    }
                    report.checked += 1;
                    progress(report.checked, total.max(report.checked));
                }
            }
        }
    }
    // Orphans: objects in the store with no row, looked up in batches.
    let mut listing = Box::pin(archive.list().chunks(PAGE as usize));
    while let Some(chunk) = listing.next().await {
        let listed: Vec<_> = chunk.into_iter().collect::<Result<_, _>>()?;
        let keys: Vec<String> = listed.iter().map(|l| l.key.clone()).collect();
        let known = s.db.archive_objects_known(&keys).await?;
        for l in listed {
            if !known.contains(&l.key) {
                report.add(Finding::Orphaned {
                    key: l.key,
                    size: l.size,
                });
            }
        }
    }
    report.finished_at = s.clock.now_ms();
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let findings = serde_json::to_string(&report.findings).unwrap_or_else(|_| "[]".into());
    s.db.record_fixity_run(
        report.started_at,
        report.finished_at,
        report.sampled,
        n(report.checked),
        n(report.missing),
        n(report.corrupt),
        n(report.orphaned),
        &findings,
    )
    .await?;
    s.metrics.archive_fixity.show(&report);
    Ok(report)
}

/// The last recorded run (from any process: the CLI or a server).
pub async fn last(s: &Services) -> Result<Option<FixityReport>, ArchiveError> {
    Ok(s.db.last_fixity_run().await?.as_ref().map(FixityReport::from_row))
}

/// Fixity gauges for `/metrics`: the last run's time and counts.
#[derive(Debug, Default)]
pub struct FixityGauges {
    last_run: Gauge,
    checked: Gauge,
    missing: Gauge,
    corrupt: Gauge,
    orphaned: Gauge,
}

impl FixityGauges {
    pub fn register(registry: &mut Registry) -> Self {
        let g = Self::default();
        registry.register(
            "archive_fixity_last_run_timestamp_seconds",
            "End of the last archive fixity check (Unix time; 0 = never)",
            g.last_run.clone(),
        );
        registry.register(
            "archive_fixity_checked_objects",
            "Objects re-read by the last archive fixity check",
            g.checked.clone(),
        );
        registry.register(
            "archive_fixity_missing_objects",
            "Objects in the database but missing from the store at the last fixity check",
            g.missing.clone(),
        );
        registry.register(
            "archive_fixity_corrupt_objects",
            "Objects whose SHA-256 or size differed at the last fixity check",
            g.corrupt.clone(),
        );
        registry.register(
            "archive_fixity_orphaned_objects",
            "Objects in the store unknown to the database at the last fixity check",
            g.orphaned.clone(),
        );
        g
    }

    pub fn show(&self, r: &FixityReport) {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.last_run.set(r.finished_at / 1000);
        self.checked.set(n(r.checked));
        self.missing.set(n(r.missing));
        self.corrupt.set(n(r.corrupt));
        self.orphaned.set(n(r.orphaned));
    }
}

/// Runs a fixity check every `archive.fixity_interval_secs` (0: never), counted from the last
/// recorded run, and keeps the gauges showing the newest run (the CLI's too).
pub async fn run_schedule(s: Services, mut stop: watch::Receiver<bool>) {
    let interval_ms = i64::try_from(s.config.archive.fixity_interval_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let sample = match s.config.archive.fixity_sample {
        0 => None,
        n => Some(n),
    };
    loop {
        let last = last(&s).await.ok().flatten();
        if let Some(r) = &last {
            s.metrics.archive_fixity.show(r);
        }
        if interval_ms > 0 {
            let due = last
                .as_ref()
                .is_none_or(|r| s.clock.now_ms() - r.finished_at >= interval_ms);
            if due {
                match verify(&s, sample, |_, _| {}).await {
                    Ok(r) if r.ok() => tracing::info!(checked = r.checked, "archive fixity check passed"),
                    Ok(r) => tracing::error!(
                        checked = r.checked,
                        missing = r.missing,
                        corrupt = r.corrupt,
                        orphaned = r.orphaned,
                        "archive fixity check found problems"
                    ),
                    Err(e) => tracing::warn!(error = %e, "archive fixity check could not run"),
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, sha: &str, size: i64) -> ArchiveObjectRow {
        ArchiveObjectRow {
            object_key: key.into(),
            sha256: sha.into(),
            size_bytes: size,
            kind: "file".into(),
            created_at: 0,
        }
    }

    #[test]
    fn classify_finds_missing_and_corrupt_objects() {
        let r = row("sha256/aa/aa", "aa", 3);
        assert_eq!(
            classify(
                &r,
                &Reread::Read {
                    sha256: "aa".into(),
                    size: 3
                }
            ),
            None
        );
        assert!(matches!(
            classify(
                &r,
                &Reread::Read {
                    sha256: "bb".into(),
                    size: 3
                }
            ),
            Some(Finding::Corrupt { .. })
        ));
        assert!(matches!(
            classify(
                &r,
                &Reread::Read {
                    sha256: "aa".into(),
                    size: 4
                }
            ),
            Some(Finding::Corrupt { .. })
        ));
        assert_eq!(
            classify(&r, &Reread::NotFound),
            Some(Finding::Missing {
                key: "sha256/aa/aa".into()
            })
        );
    }

    #[test]
    fn report_counts_everything_but_keeps_a_bounded_list() {
        let mut rep = FixityReport::default();
        assert!(rep.ok());
        for i in 0..(MAX_FINDINGS + 5) {
            rep.add(Finding::Orphaned {
                key: i.to_string(),
                size: 1,
            });
        }
        rep.add(Finding::Missing { key: "m".into() });
        assert_eq!((rep.orphaned, rep.missing), (MAX_FINDINGS as u64 + 5, 1));
        assert_eq!(rep.findings.len(), MAX_FINDINGS);
        assert!(!rep.ok());
    }

    #[test]
    fn reservoir_keeps_exactly_n_distinct_items_uniformly() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut hits = vec![0u32; 100];
        for _ in 0..2000 {
            let mut r = Reservoir::new(10);
            for i in 0..100 {
                r.offer(i, &mut rng);
            }
            let mut items = r.into_items();
            assert_eq!(items.len(), 10);
            items.sort_unstable();
            items.dedup();
            assert_eq!(items.len(), 10);
            for i in items {
                hits[i] += 1;
            }
        }
        // Each item is expected 200 times; a fair sampler stays well inside 100..300.
        assert!(hits.iter().all(|&h| (100..300).contains(&h)), "{hits:?}");
        let mut small = Reservoir::new(10);
        for i in 0..3 {
            small.offer(i, &mut rng);
        }
        assert_eq!(small.into_items(), vec![0, 1, 2]);
    }
}
