//! Prometheus metrics: request counts and latency histograms per route, job-queue health and
//! the last audit-verification result. One registry per [`crate::app::App`], no globals.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    pub outcome: String,
}

/// Which group-commit writer a batch belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriterLabels {
    pub writer: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RouteLabels, Counter>,
    pub latency: Family<LatencyLabels, Histogram>,
    pub jobs_run: Family<JobLabels, Counter>,
    pub job_queue_depth: Gauge,
    pub job_oldest_age_seconds: Gauge<f64, AtomicU64>,
    pub jobs_failed: Gauge,
    pub db_up: Gauge,
    pub archive_fixity: crate::archive::fixity::FixityGauges,
    /// Group commit: entries per batch and seconds per batch, for the registrar and the audit
    /// writer of reads.
    pub batch_size: Family<WriterLabels, Histogram>,
    pub batch_seconds: Family<WriterLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vanthu");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        let jobs_run = Family::<JobLabels, Counter>::default();
        let job_queue_depth = Gauge::default();
        let job_oldest_age_seconds = Gauge::<f64, AtomicU64>::default();
        let jobs_failed = Gauge::default();
        let db_up = Gauge::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("jobs_run", "Job attempts by kind and outcome", jobs_run.clone());
        registry.register("job_queue_depth", "Jobs waiting or running", job_queue_depth.clone());
        registry.register(
            "job_oldest_age_seconds",
            "Age of the oldest waiting job",
            job_oldest_age_seconds.clone(),
        );
        registry.register(
            "jobs_failed",
            "Jobs given up after their last attempt",
            jobs_failed.clone(),
        );
        registry.register(
            "database_up",
            "1 when the database answered the last probe",
            db_up.clone(),
        );
        let batch_size = Family::<WriterLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0])
        });
        let batch_seconds = Family::<WriterLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0])
        });
        registry.register(
            "group_commit_batch_size",
            "Entries written per group-commit batch",
            batch_size.clone(),
        );
        registry.register(
            "group_commit_batch_duration_seconds",
            "Time to write one group-commit batch",
            batch_seconds.clone(),
        );
        let archive_fixity = crate::archive::fixity::FixityGauges::register(&mut registry);
        Self {
            batch_size,
            batch_seconds,
            registry: Mutex::new(registry),
            archive_fixity,
            requests,
            latency,
            jobs_run,
            job_queue_depth,
            job_oldest_age_seconds,
            jobs_failed,
            db_up,
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// One group-commit batch of `entries` written in `seconds` by `writer`.
    pub fn observe_batch(&self, writer: &'static str, entries: usize, seconds: f64) {
        let labels = WriterLabels { writer };
        self.batch_size.get_or_create(&labels).observe(entries as f64);
        self.batch_seconds.get_or_create(&labels).observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            let _ = encode(&mut out, &reg);
        }
        out
    }
}
