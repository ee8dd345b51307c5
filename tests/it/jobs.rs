//! The durable job queue (storage level) on both backends, and the `file.verify` job end to end.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use object_store::ObjectStore as _;

use reqwest::StatusCode;
use serde_json::Value;
use vanthu::jobs::Handlers;
use vanthu::storage::{JobStats, StorageError};

use crate::common::{incoming, Backend, TestApp};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const LEASE: i64 = 60_000;

use crate::common::{close_store as finish, open_store as open};

crate::on_both_backends!(enqueue_is_deduplicated_by_key, dedup_body);
async fn dedup_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    store
        .enqueue_job("file.verify", "file.verify:1", r#"{"file_id":1}"#, T0, T0)
        .await
        .expect("enqueue");
    store
        .enqueue_job("file.verify", "file.verify:1", r#"{"file_id":999}"#, T0 + 5, T0 + 5)
        .await
        .expect("enqueue again is not an error");
    let job = store.job("file.verify:1").await.expect("job");
    assert_eq!(job.payload, r#"{"file_id":1}"#, "the first job is kept as it was");
    assert_eq!(
        (job.state.as_str(), job.attempts, job.run_at, job.last_error.as_deref()),
        ("queued", 0, T0, None)
    );
    assert_eq!(store.job_stats().await.expect("stats").depth, 1);
    // Even a finished job keeps its key: the same work is not queued again.
    let leased = store.lease_jobs("w", T0, LEASE, 10).await.expect("lease");
    assert_eq!(leased.len(), 1);
    assert!(store.complete_job(job.id, "w", T0 + 1).await.expect("complete"));
    store
        .enqueue_job("file.verify", "file.verify:1", "{}", T0 + 2, T0 + 2)
        .await
        .expect("enqueue after done");
    assert_eq!(store.job("file.verify:1").await.expect("job").state, "done");
    assert_eq!(
        store.job_stats().await.expect("stats"),
        JobStats {
            depth: 0,
            oldest_created_at: None,
            failed: 0,
            done: 1
        }
    );
    assert!(matches!(store.job("nope").await, Err(StorageError::NotFound)));
    finish(db, store).await;
}

crate::on_both_backends!(leases_expire_and_pass_to_another_worker, lease_body);
async fn lease_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    store.enqueue_job("k", "due", "{}", T0, T0).await.expect("enqueue");
    store
        .enqueue_job("k", "later", "{}", T0 + 3_600_000, T0)
        .await
        .expect("enqueue");
    store
        .enqueue_job("k", "due-too", "{}", T0 - 10, T0)
        .await
        .expect("enqueue");
    let first = store.lease_jobs("w1", T0, LEASE, 10).await.expect("lease");
    let keys: Vec<&str> = first.iter().map(|j| j.dedup_key.as_str()).collect();
    assert_eq!(keys, vec!["due-too", "due"], "only due jobs, oldest run_at first");
    assert!(first.iter().all(|j| j.state == "running" && j.attempts == 1));
    let due = first.iter().find(|j| j.dedup_key == "due").expect("due").clone();

    // The limit is honoured.
    store.enqueue_job("k", "one-more", "{}", T0, T0).await.expect("enqueue");
    assert_eq!(store.lease_jobs("w1", T0, LEASE, 0).await.expect("lease").len(), 0);

    // Before the lease expires nobody else gets the leased jobs (only the newly due one).
    let second = store.lease_jobs("w2", T0 + LEASE - 1, LEASE, 10).await.expect("lease");
    assert_eq!(
        second.iter().map(|j| j.dedup_key.as_str()).collect::<Vec<_>>(),
        vec!["one-more"]
    );
    assert!(store
        .lease_jobs("w2", T0 + LEASE - 1, LEASE, 10)
        .await
        .expect("lease")
        .is_empty());

    // After expiry another worker takes it over, with the attempt counted.
    let third = store.lease_jobs("w3", T0 + LEASE + 1, LEASE, 10).await.expect("lease");
    let keys: BTreeSet<&str> = third.iter().map(|j| j.dedup_key.as_str()).collect();
    assert_eq!(keys, BTreeSet::from(["due", "due-too"]));
    let taken = third.iter().find(|j| j.id == due.id).expect("taken over");
    assert_eq!((taken.state.as_str(), taken.attempts), ("running", 2));

    // The first worker lost its lease: its completion is refused; the new holder's is accepted once.
    assert!(
        !store
            .complete_job(due.id, "w1", T0 + LEASE + 2)
            .await
            .expect("complete"),
        "stale worker"
    );
    assert!(
        !store
            .complete_job(due.id, "someone", T0 + LEASE + 2)
            .await
            .expect("complete"),
        "wrong worker"
    );
    assert!(store
        .complete_job(due.id, "w3", T0 + LEASE + 2)
        .await
        .expect("complete"));
    assert!(
        !store
            .complete_job(due.id, "w3", T0 + LEASE + 3)
            .await
            .expect("complete"),
        "already done"
    );
    assert_eq!(store.job("due").await.expect("job").state, "done");
    // A done job is never leased again.
    let far = store
        .lease_jobs("w4", T0 + 10 * 3_600_000, LEASE, 10)
        .await
        .expect("lease");
    assert!(far.iter().all(|j| j.id != due.id));
    assert!(
        far.iter().any(|j| j.dedup_key == "later"),
        "the later job is due by then"
    );
    finish(db, store).await;
}

crate::on_both_backends!(failures_are_retried_then_given_up, fail_body);
async fn fail_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    store.enqueue_job("k", "flaky", "{}", T0, T0).await.expect("enqueue");
    let job = store
        .lease_jobs("w", T0, LEASE, 10)
        .await
        .expect("lease")
        .pop()
        .expect("job");

    // A failure reported by a worker that does not hold the lease changes nothing.
    store
        .fail_job(job.id, "other", "nope", T0 + 1, true, T0)
        .await
        .expect("fail");
    assert_eq!(store.job("flaky").await.expect("job").state, "running");

    let retry_at = T0 + 2_000;
    store
        .fail_job(job.id, "w", "object sha256/ab/abc missing", retry_at, false, T0 + 1)
        .await
        .expect("fail");
    let j = store.job("flaky").await.expect("job");
    assert_eq!((j.state.as_str(), j.attempts, j.run_at), ("queued", 1, retry_at));
    assert_eq!(j.last_error.as_deref(), Some("object sha256/ab/abc missing"));
    assert!(
        store
            .lease_jobs("w", retry_at - 1, LEASE, 10)
            .await
            .expect("lease")
            .is_empty(),
        "not before retry_at"
    );
    let again = store.lease_jobs("w2", retry_at, LEASE, 10).await.expect("lease");
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        vec![(job.id, 2)]
    );
    assert_eq!(
        again[0].last_error.as_deref(),
        Some("object sha256/ab/abc missing"),
        "the last error is kept while retrying"
    );

    store
        .fail_job(job.id, "w2", "still broken", retry_at + 10, true, retry_at + 1)
        .await
        .expect("give up");
    let j = store.job("flaky").await.expect("job");
    assert_eq!(
        (j.state.as_str(), j.attempts, j.last_error.as_deref()),
        ("failed", 2, Some("still broken"))
    );
    assert!(
        store
            .lease_jobs("w", T0 + 100 * 3_600_000, LEASE, 10)
            .await
            .expect("lease")
            .is_empty(),
        "failed jobs stay failed"
    );
    assert_eq!(
        store.job_stats().await.expect("stats"),
        JobStats {
            depth: 0,
            oldest_created_at: None,
            failed: 1,
            done: 0
        }
    );
    finish(db, store).await;
}

crate::on_both_backends!(job_stats_count_states, stats_body);
async fn stats_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    assert_eq!(store.job_stats().await.expect("stats"), JobStats::default());
    // Created at T0+1 .. T0+5; the oldest waiting one decides the age.
    for i in 1..=5 {
        store
            .enqueue_job("k", &format!("j{i}"), "{}", T0, T0 + i)
            .await
            .expect("enqueue");
    }
    let leased = store.lease_jobs("w", T0 + 10, LEASE, 3).await.expect("lease");
    assert_eq!(
        leased.iter().map(|j| j.dedup_key.as_str()).collect::<Vec<_>>(),
        vec!["j1", "j2", "j3"]
    );
    assert!(store.complete_job(leased[0].id, "w", T0 + 11).await.expect("complete"));
    store
        .fail_job(leased[1].id, "w", "boom", T0 + 12, true, T0 + 12)
        .await
        .expect("fail");
    // j3 is running, j4 and j5 queued.
    let s = store.job_stats().await.expect("stats");
    assert_eq!(
        s,
        JobStats {
            depth: 3,
            oldest_created_at: Some(T0 + 3),
            failed: 1,
            done: 1
        }
    );
    let rest = store.lease_jobs("w", T0 + 20, LEASE, 10).await.expect("lease");
    for j in rest.iter().chain(std::iter::once(&leased[2])) {
        assert!(store.complete_job(j.id, "w", T0 + 21).await.expect("complete"), "{j:?}");
    }
    assert_eq!(
        store.job_stats().await.expect("stats"),
        JobStats {
            depth: 0,
            oldest_created_at: None,
            failed: 1,
            done: 4
        }
    );
    finish(db, store).await;
}

// Brief asked for PostgreSQL (FOR UPDATE SKIP LOCKED); it runs on SQLite too, where the single
// writer connection must give the same guarantee.
crate::on_both_backends!(concurrent_workers_never_share_a_job, concurrent_lease_body);
async fn concurrent_lease_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    const N: i64 = 300;
    for i in 0..N {
        store
            .enqueue_job("k", &format!("c{i}"), "{}", T0, T0)
            .await
            .expect("enqueue");
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let name = format!("worker-{w}");
                let mut got = Vec::new();
                loop {
                    let jobs = store.lease_jobs(&name, T0 + 1, LEASE, 5).await.expect("lease");
                    if jobs.is_empty() {
                        break;
                    }
                    assert!(jobs.len() <= 5);
                    for j in &jobs {
                        assert_eq!(j.attempts, 1, "a job leased twice: {j:?}");
                        got.push(j.id);
                    }
                    tokio::task::yield_now().await;
                }
                (name, got)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for w in workers {
        let (name, got) = w.await.expect("worker");
        per_worker.push((name, got.len()));
        all.extend(got);
    }
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "some job was leased by two workers ({per_worker:?})"
    );
    assert_eq!(all.len() as i64, N, "every job leased exactly once ({per_worker:?})");
    eprintln!("lease distribution on {b:?}: {per_worker:?}");
    let s = store.job_stats().await.expect("stats");
    assert_eq!(s.depth, N);
    finish(db, store).await;
}

// ------------------------------------------------------------------------------------ end to end

/// Logs in as the clerk, registers an incoming document and uploads `bytes` to it.
async fn upload(app: &TestApp, bytes: &'static [u8]) -> (String, i64, Value) {
    let token = app.login("vanthu").await;
    let (s, created) = app
        .post(Some(&token), "/api/v1/documents", &incoming("Công văn kèm tệp", 21))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("document id");
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/files?filename=x.pdf")))
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let (s, file) = crate::common::json_of(resp).await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    assert_eq!(file["size_bytes"], bytes.len());
    assert_eq!(file["verified_at"], Value::Null, "not verified at upload time");
    (token, id, file)
}

async fn metrics(app: &TestApp) -> String {
    let resp = app.client.get(app.url("/metrics")).send().await.expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.expect("text")
}

crate::on_both_backends!(file_verify_job_runs_after_upload, file_verify_body);
async fn file_verify_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (token, id, file) = upload(&app, b"%PDF-1.7 van ban den").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let verified = loop {
        let (s, files) = app.get(Some(&token), &format!("/api/v1/documents/{id}/files")).await;
        assert_eq!(s, StatusCode::OK, "{files}");
        let f = files.as_array().and_then(|a| a.first()).cloned().expect("one file");
        if !f["verified_at"].is_null() {
            break f;
        }
        assert!(Instant::now() < deadline, "file.verify did not run within 10 s: {f}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(verified["id"], file["id"]);
    assert!(verified["verified_at"].as_i64().expect("ms") >= file["created_at"].as_i64().expect("ms"));
    let job = app
        .services
        .db
        .job(&format!("file.verify:{}", file["id"]))
        .await
        .expect("job");
    assert_eq!((job.state.as_str(), job.attempts), ("done", 1));
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"vanthu_jobs_run_total{kind="file.verify",outcome="ok"} 1"#),
        "{text}"
    );
    app.stop().await;
}

crate::on_both_backends!(corrupt_object_fails_verification_and_is_retried, corrupt_body);
async fn corrupt_body(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |c| c.jobs.enabled = false).await else {
        return;
    };
    let original: &'static [u8] = b"%PDF-1.7 noi dung goc";
    let (token, id, file) = upload(&app, original).await;
    let key = file["object_key"].as_str().expect("key").to_string();
    let file_id = file["id"].as_i64().expect("file id");
    let job_key = format!("file.verify:{file_id}");
    assert_eq!(
        app.services.db.job(&job_key).await.expect("job").state,
        "queued",
        "no worker runs in this app"
    );

    // Someone with access to the bucket overwrites the object.
    let path = object_store::path::Path::from(key.as_str());
    app.services
        .objects
        .raw()
        .put(&path, object_store::PutPayload::from_static(b"tampered!"))
        .await
        .expect("overwrite");

    let handlers = Handlers::standard();
    let ran = vanthu::jobs::run_once(&app.services, &handlers, "test-worker")
        .await
        .expect("run once");
    // file.verify, and archive.document for the registration and for the attach (which also
    // refuse the tampered copy).
    assert_eq!(ran, 3);
    let job = app.services.db.job(&job_key).await.expect("job");
    assert_eq!((job.state.as_str(), job.attempts), ("queued", 1), "{job:?}");
    let err = job.last_error.clone().expect("error recorded");
    assert!(err.contains(&key), "error names the object: {err}");
    assert!(
        job.run_at > app.services.clock.now_ms(),
        "retry is in the future (backoff)"
    );
    let (_, files) = app.get(Some(&token), &format!("/api/v1/documents/{id}/files")).await;
    assert_eq!(
        files[0]["verified_at"],
        Value::Null,
        "a corrupt object is not marked verified"
    );
    // Not due yet: a second pass does nothing.
    assert_eq!(
        vanthu::jobs::run_once(&app.services, &handlers, "test-worker")
            .await
            .expect("run"),
        0
    );
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"vanthu_jobs_run_total{kind="file.verify",outcome="retry"} 1"#),
        "{text}"
    );

    // The object is restored; after the backoff the retry succeeds.
    app.services
        .objects
        .raw()
        .put(&path, object_store::PutPayload::from_static(original))
        .await
        .expect("restore");
    app.clock.advance(chrono::Duration::seconds(3));
    assert_eq!(
        vanthu::jobs::run_once(&app.services, &handlers, "test-worker")
            .await
            .expect("run"),
        3
    );
    let job = app.services.db.job(&job_key).await.expect("job");
    assert_eq!(
        (job.state.as_str(), job.attempts, job.last_error.as_deref()),
        ("done", 2, None)
    );
    let (_, files) = app.get(Some(&token), &format!("/api/v1/documents/{id}/files")).await;
    assert!(files[0]["verified_at"].is_i64(), "{files}");

    // A job for a file that does not exist fails and is retried like any other failure.
    app.services
        .db
        .enqueue_job("file.verify", "file.verify:missing", r#"{"file_id":999999}"#, 0, 0)
        .await
        .expect("enqueue");
    assert_eq!(
        vanthu::jobs::run_once(&app.services, &handlers, "test-worker")
            .await
            .expect("run"),
        1
    );
    let job = app.services.db.job("file.verify:missing").await.expect("job");
    assert_eq!((job.state.as_str(), job.attempts), ("queued", 1));
    assert!(job.last_error.is_some());
    app.stop().await;
}
