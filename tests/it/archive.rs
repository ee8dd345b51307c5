//! The archive: documents and files archived through the job queue, write-once objects on every
//! backend (folder, memory, S3), the metadata API, and a storage outage that is retried.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use ring::digest::{digest, SHA256};
use serde_json::Value;
use vanthu::archive::{ArchiveStore, StoreError};
use vanthu::objects::Objects;

use crate::common::{self, incoming, Backend, TestApp};

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest(&SHA256, data))
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Registers an incoming document as the clerk and returns its id.
pub(crate) async fn register(app: &TestApp, token: &str, subject: &str, number: i64) -> i64 {
    let (status, doc) = app
        .post(Some(token), "/api/v1/documents", &incoming(subject, number))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    doc["id"].as_i64().expect("id")
}

pub(crate) async fn upload(app: &TestApp, token: &str, id: i64, name: &str, data: &[u8]) -> Value {
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/files")))
        .query(&[("filename", name)])
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/pdf")
        .body(data.to_vec())
        .send()
        .await
        .expect("upload");
    let (status, file) = common::json_of(resp).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    file
}

/// Polls the archive API until the document is archived with `files` files.
pub(crate) async fn wait_archived(app: &TestApp, token: &str, id: i64, files: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = app.get(Some(token), &format!("/api/v1/archive/documents/{id}")).await;
        if status == StatusCode::OK && body["files"].as_array().map(Vec::len) == Some(files) {
            return body;
        }
        assert!(
            status == StatusCode::OK || body["code"] == "archive.not_archived",
            "{status} {body}"
        );
        assert!(
            Instant::now() < deadline,
            "document {id} not archived in time: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

crate::on_both_backends!(registered_documents_and_files_are_archived, round_trip_body);
async fn round_trip_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let id = register(&app, &clerk, "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số", 15).await;

    // Registration alone archives the metadata record.
    let archived = wait_archived(&app, &clerk, id, 0).await;
    assert_eq!(archived["version"], 1, "{archived}");
    let m = &archived["metadata"];
    assert_eq!(m["subject"], "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số", "{m}");
    assert_eq!(m["code_number"], "15", "{m}");
    assert_eq!(m["code_notation"], "BTP-VP", "{m}");
    assert_eq!(m["organ_name"], "Bộ Tư pháp", "{m}");
    assert_eq!(m["arrival_number"], 1, "{m}");
    assert_eq!(m["type_name"], "Công văn", "{m}");
    assert_eq!(m["language"], "Tiếng Việt", "{m}");
    assert!(archived["verification_report_key"].is_null(), "{archived}");

    // A small and a large file (the large one goes through the multipart path).
    let small = b"%PDF-1.7 van ban den".to_vec();
    let large = pseudo_random(9 * 1024 * 1024 + 17, 5);
    upload(&app, &clerk, id, "cong-van-15.pdf", &small).await;
    upload(&app, &clerk, id, "phu-luc.pdf", &large).await;
    let archived = wait_archived(&app, &clerk, id, 2).await;
    assert!(archived["version"].as_i64().expect("version") >= 2, "{archived}");
    let files = archived["files"].as_array().expect("files");
    let store = vanthu::archive::service::store(&app.services);
    for (f, data) in files.iter().zip([&small, &large]) {
        let key = f["object_key"].as_str().expect("key");
        assert_eq!(f["sha256"].as_str(), Some(sha256_hex(data).as_str()), "{f}");
        assert_eq!(
            store.digest(key).await.expect("archived object"),
            (sha256_hex(data), data.len() as u64)
        );
    }
    assert_eq!(archived["metadata"]["files"].as_array().map(Vec::len), Some(2));

    // The stored JSON object is the metadata record; the XML carries the Phụ lục VI tags.
    let json = store
        .get_bytes(archived["metadata_json_key"].as_str().expect("json key"))
        .await
        .expect("json object");
    let stored: Value = serde_json::from_slice(&json).expect("stored JSON parses");
    assert_eq!(stored, archived["metadata"]);
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/archive/documents/{id}/metadata.xml")))
        .bearer_auth(&clerk)
        .send()
        .await
        .expect("xml");
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = resp.text().await.expect("xml body");
    assert!(
        xml.contains("<Subject>Về việc kiện toàn Ban Chỉ đạo chuyển đổi số</Subject>"),
        "{xml}"
    );
    assert!(xml.contains("<ArrivalNumber>1</ArrivalNumber>"), "{xml}");
    assert!(
        xml.contains(&format!("<Sha256>{}</Sha256>", sha256_hex(&large))),
        "{xml}"
    );

    // Running the job again changes nothing: same version, no new objects.
    let before = app.services.db.archive_object_count().await.expect("count");
    let again = vanthu::archive::archive_document(&app.services, id)
        .await
        .expect("again");
    assert!(!again.changed);
    assert_eq!(again.row.version, archived["version"].as_i64().expect("version"));
    assert_eq!(app.services.db.archive_object_count().await.expect("count"), before);

    // Read like the document: the archivist and the leader may, a specialist of another unit and
    // the administrator may not (404, as for the document itself).
    for (user, want) in [
        ("luutru", StatusCode::OK),
        ("lanhdao", StatusCode::OK),
        ("chuyenvien", StatusCode::NOT_FOUND),
        ("quantri", StatusCode::NOT_FOUND),
    ] {
        let t = app.login(user).await;
        let (status, body) = app.get(Some(&t), &format!("/api/v1/archive/documents/{id}")).await;
        assert_eq!(status, want, "{user}: {body}");
    }
    let (status, body) = app.get(Some(&clerk), "/api/v1/archive/documents/999999").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = app.get(Some(&clerk), "/api/v1/archive/documents/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.get(None, &format!("/api/v1/archive/documents/{id}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, spec) = app.get(None, "/api/v1/openapi.json").await;
    assert!(
        spec["paths"]["/api/v1/archive/documents/{id}"].is_object(),
        "OpenAPI lists the archive"
    );
    app.stop().await;
}

crate::on_both_backends!(a_batch_of_documents_is_archived_in_one_pass, batch_body);
async fn batch_body(b: Backend) {
    // No worker: the test runs the job worker's batch path itself.
    let Some(app) = TestApp::spawn_with(b, |c| c.jobs.enabled = false).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(register(&app, &clerk, &format!("Về việc lưu trữ theo lô, văn bản {n}"), 40 + n).await);
    }
    // ids[0] is archived already and then gains a file (its batch pass is an update);
    // ids[1] has a file before its first pass; ids[2] and ids[3] are plain.
    let first = vanthu::archive::archive_document(&app.services, ids[0])
        .await
        .expect("first pass");
    assert_eq!((first.row.version, first.changed), (1, true));
    upload(&app, &clerk, ids[0], "bo-sung.pdf", b"%PDF-1.7 bo sung").await;
    let data = pseudo_random(70_000, 9);
    upload(&app, &clerk, ids[1], "cong-van.pdf", &data).await;
    let head = |app: &TestApp| {
        let db = app.services.db.clone();
        async move { db.verify_audit(|_, _| {}).await.expect("verify") }
    };
    let before = head(&app).await;
    assert!(before.error.is_none(), "{:?}", before.error);

    let order = [ids[3], ids[0], 999_999, ids[1], ids[2]];
    let results = vanthu::archive::archive_documents(&app.services, &order).await;
    assert_eq!(results.len(), order.len());
    assert!(results[2].is_err(), "a missing document fails alone");
    let ok: Vec<&vanthu::archive::service::Archived> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 4, "the other four are archived");
    for (r, want) in ok.iter().zip([ids[3], ids[0], ids[1], ids[2]]) {
        assert_eq!(r.row.document_id, want, "results follow the order asked");
        assert!(r.changed);
    }
    assert_eq!(
        ok[1].row.version, 2,
        "the document that gained a file has a new version"
    );
    assert_eq!((ok[0].row.version, ok[2].row.version, ok[3].row.version), (1, 1, 1));
    let after = head(&app).await;
    assert!(after.error.is_none(), "{:?}", after.error);
    assert_eq!(
        after.head_seq - before.head_seq,
        4,
        "one audit entry per archived document"
    );

    // Every document reads back through the API with its files and objects.
    let store = vanthu::archive::service::store(&app.services);
    for (id, files) in [(ids[0], 1), (ids[1], 1), (ids[2], 0), (ids[3], 0)] {
        let (status, a) = app.get(Some(&clerk), &format!("/api/v1/archive/documents/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_eq!(a["files"].as_array().map(Vec::len), Some(files), "{a}");
        assert_eq!(a["metadata"]["files"].as_array().map(Vec::len), Some(files), "{a}");
        let json = store
            .get_bytes(a["metadata_json_key"].as_str().expect("json key"))
            .await
            .expect("metadata object");
        assert_eq!(serde_json::from_slice::<Value>(&json).expect("json"), a["metadata"]);
    }
    let (_, a1) = app
        .get(Some(&clerk), &format!("/api/v1/archive/documents/{}", ids[1]))
        .await;
    assert_eq!(
        a1["files"][0]["sha256"].as_str(),
        Some(sha256_hex(&data).as_str()),
        "{a1}"
    );

    // The same batch again changes nothing: no new version, object or audit entry (the reads
    // above were audited, so the chain is measured again here).
    let objects = app.services.db.archive_object_count().await.expect("count");
    let after = head(&app).await;
    let again = vanthu::archive::archive_documents(&app.services, &order).await;
    for r in again.iter().filter_map(|r| r.as_ref().ok()) {
        assert!(!r.changed, "document {} changed on a second pass", r.row.document_id);
    }
    assert_eq!(again.iter().filter(|r| r.is_ok()).count(), 4);
    assert_eq!(app.services.db.archive_object_count().await.expect("count"), objects);
    assert_eq!(head(&app).await.head_seq, after.head_seq);
    app.stop().await;
}

crate::on_both_backends!(numbering_an_outgoing_document_archives_it, outgoing_body);
async fn outgoing_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let (status, doc) = app
        .post(
            Some(&clerk),
            "/api/v1/documents",
            &serde_json::json!({"direction": "outgoing", "document_type": "cong_van",
                "subject": "Về việc báo cáo kết quả thi hành án", "recipients": ["Bộ Tư pháp", "Tổng cục Thi hành án dân sự"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let id = doc["id"].as_i64().expect("id");
    let (status, body) = app.get(Some(&clerk), &format!("/api/v1/archive/documents/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("archive.not_archived")),
        "a draft is not archived"
    );
    let (status, body) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{id}/number"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let archived = wait_archived(&app, &clerk, id, 0).await;
    let m = &archived["metadata"];
    assert_eq!(m["direction"], "outgoing");
    assert_eq!(m["organ_name"], "Cục Thi hành án dân sự tỉnh Mẫu Sơn", "{m}");
    assert_eq!(m["to"].as_array().map(Vec::len), Some(2), "{m}");
    assert_eq!(m["issued_amount"], 2, "{m}");
    assert_eq!(m["code_number"], "01", "{m}");
    app.stop().await;
}

/// Write-once on a backend: a second write to a key is refused and the first bytes stay.
pub(crate) async fn refuses_overwrite(store: &ArchiveStore) {
    let key = format!("test/{}", uuid::Uuid::new_v4().simple());
    store
        .put_once(&key, Bytes::from_static(b"ban goc"))
        .await
        .expect("first write");
    let err = store
        .put_once(&key, Bytes::from_static(b"ban sua doi"))
        .await
        .expect_err("overwrite refused");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        store.get_bytes(&key).await.expect("read back"),
        Bytes::from_static(b"ban goc")
    );
    // Content-addressed writes of the same bytes report the existing object, untouched.
    let a = store.put_blob(Bytes::from_static(b"<x/>")).await.expect("blob");
    let b = store.put_blob(Bytes::from_static(b"<x/>")).await.expect("blob again");
    assert!(a.created && !b.created, "{a:?} {b:?}");
    assert_eq!(a.key, b.key);
}

#[tokio::test]
async fn write_once_on_folder_and_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let folder = Objects::open(&dir.path().display().to_string(), &[]).expect("folder");
    refuses_overwrite(&ArchiveStore::new(folder.raw().clone())).await;
    let memory = Objects::open("memory://", &[]).expect("memory");
    refuses_overwrite(&ArchiveStore::new(memory.raw().clone())).await;
    // Large content on the folder: multipart to staging, then a create-only copy.
    let store = ArchiveStore::new(folder.raw().clone());
    let data = pseudo_random(9 * 1024 * 1024, 11);
    let parts = || {
        let v: Vec<Result<Bytes, std::io::Error>> =
            data.chunks(256 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(v)
    };
    let first = store.put_stream(parts(), None, u64::MAX).await.expect("large put");
    let path = dir.path().join("archive").join(&first.key);
    let modified = std::fs::metadata(&path).expect("file").modified().expect("mtime");
    let second = store
        .put_stream(parts(), None, u64::MAX)
        .await
        .expect("large put again");
    assert!(first.created && !second.created);
    assert_eq!(
        std::fs::metadata(&path).expect("file").modified().expect("mtime"),
        modified
    );
    assert!(
        !dir.path().join("archive/staging").exists()
            || std::fs::read_dir(dir.path().join("archive/staging"))
                .expect("dir")
                .next()
                .is_none()
    );
}

/// While the object store fails, the archive job of a new registration fails and stays queued,
/// and nothing is marked archived; after `restore` and the retry backoff, the retry archives it.
async fn outage_is_retried(app: TestApp, restore: impl std::future::Future<Output = ()>) {
    let clerk = app.login("vanthu").await;
    let id = register(&app, &clerk, "Công văn lưu trữ khi kho đối tượng gặp sự cố", 77).await;
    let key = format!("archive.document:{id}:registered");
    let deadline = Instant::now() + Duration::from_secs(20);
    let job = loop {
        let job = app
            .services
            .db
            .job(&key)
            .await
            .expect("job queued with the registration");
        if job.attempts >= 1 && job.state == "queued" && job.last_error.is_some() {
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not fail: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        job.last_error.as_deref().unwrap_or_default().contains("archive"),
        "{job:?}"
    );
    let (status, body) = app.get(Some(&clerk), &format!("/api/v1/archive/documents/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("archive.not_archived"))
    );
    assert_eq!(app.services.db.archive_object_count().await.expect("count"), 0);

    // The store comes back; after the backoff the retry archives the document.
    restore.await;
    app.clock.advance(chrono::Duration::hours(2));
    let clerk = app.login("vanthu").await;
    let archived = wait_archived(&app, &clerk, id, 0).await;
    assert_eq!(archived["version"], 1);
    assert_eq!(app.services.db.job(&key).await.expect("job").state, "done");
    app.stop().await;
}

/// A local-folder outage: the folder is replaced by a plain file (writes fail), then restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storage_outage_is_retried_and_nothing_is_marked_archived() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let objects = app.db.dir.path().join("objects");
    let _ = std::fs::remove_dir_all(&objects);
    std::fs::write(&objects, b"not a folder").expect("break the store");
    let restore = async move {
        std::fs::remove_file(&objects).expect("restore");
        std::fs::create_dir_all(&objects).expect("restore");
    };
    outage_is_retried(app, restore).await;
}

/// An S3 outage: the app's bucket does not answer writes (it does not exist on the S3 server)
/// until it is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_s3_outage_is_retried_and_nothing_is_marked_archived() {
    let Some((endpoint, _)) = common::s3_server() else {
        return;
    };
    // The app takes its S3 settings from the process environment (config::aws_environment).
    if std::env::var("AWS_ENDPOINT_URL").ok().as_deref() != Some(endpoint.as_str()) {
        common::skip::<()>("AWS_ENDPOINT_URL is not set to VANTHU_TEST_S3 (S3 outage test)");
        return;
    }
    let bucket = format!("vanthu-outage-{}", uuid::Uuid::new_v4().simple());
    let location = format!("s3://{bucket}/archive");
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, move |c| c.object_store = Some(location)).await else {
        return;
    };
    let restore = async move {
        let resp = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("create bucket");
        assert!(resp.status().is_success(), "creating the bucket: {}", resp.status());
    };
    outage_is_retried(app, restore).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_once_and_round_trip_on_s3() {
    let Some((endpoint, bucket)) = common::s3_server() else {
        return;
    };
    let location = format!("s3://{bucket}/archive-{}", uuid::Uuid::new_v4().simple());
    let objects = Objects::open(&location, &common::aws_env(&endpoint)).expect("open S3");
    let store = ArchiveStore::new(objects.raw().clone());
    refuses_overwrite(&store).await;
    // A large object: streamed (multipart), read back and re-hashed.
    let data = pseudo_random(11 * 1024 * 1024, 3);
    let parts = || {
        let v: Vec<Result<Bytes, std::io::Error>> =
            data.chunks(128 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(v)
    };
    let stored = store.put_stream(parts(), None, u64::MAX).await.expect("large put");
    assert_eq!(stored.sha256, sha256_hex(&data));
    assert_eq!(
        store.digest(&stored.key).await.expect("digest"),
        (stored.sha256.clone(), data.len() as u64)
    );
    let again = store
        .put_stream(parts(), Some(&stored.sha256), u64::MAX)
        .await
        .expect("known content");
    assert!(stored.created && !again.created);
    // Wrong content for a claimed hash is refused and leaves nothing behind.
    let err = store
        .put_stream(
            futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b"khac"))]),
            Some(&sha256_hex(b"other")),
            100,
        )
        .await
        .expect_err("mismatch");
    assert!(matches!(err, StoreError::Mismatch { .. }), "{err:?}");
    use futures::TryStreamExt;
    let listed: Vec<_> = store.list().try_collect().await.expect("list");
    assert_eq!(listed.len(), 3, "{listed:?}");
}

/// Runs the `vanthu` binary on the test app's data folder (SQLite + folder store).
pub(crate) fn vanthu(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vanthu"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("VANTHU_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(args)
        .env("VANTHU_DATA_DIR", app.db.dir.path())
        .env("VANTHU_LOG", "error")
        .current_dir(app.db.dir.path())
        .output()
        .expect("run vanthu");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Fixity: a flipped byte is reported as corrupt, a deleted object as missing, a stray object
/// as orphaned; the CLI exits non-zero, and `/metrics` shows the last run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fixity_check_finds_corrupt_missing_and_orphaned_objects() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let id = register(&app, &clerk, "Quyết định về việc bảo quản tài liệu lưu trữ", 31).await;
    let a = pseudo_random(300_000, 21);
    let b = pseudo_random(200_000, 22);
    upload(&app, &clerk, id, "quyet-dinh.pdf", &a).await;
    upload(&app, &clerk, id, "phu-luc.pdf", &b).await;
    let archived = wait_archived(&app, &clerk, id, 2).await;
    let key_a = archived["files"][0]["object_key"].as_str().expect("key").to_string();
    let key_b = archived["files"][1]["object_key"].as_str().expect("key").to_string();

    let (code, stdout, stderr) = vanthu(&app, &["archive", "verify"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("archive intact"), "{stdout}");

    let root = app.db.dir.path().join("objects").join("archive");
    let path_a = root.join(&key_a);
    let mut bytes = std::fs::read(&path_a).expect("archived object a");
    bytes[1234] ^= 0x01;
    std::fs::write(&path_a, &bytes).expect("flip a byte");
    std::fs::remove_file(root.join(&key_b)).expect("delete object b");
    let stray = format!("sha256/00/{}", "0".repeat(64));
    std::fs::create_dir_all(root.join("sha256/00")).expect("dir");
    std::fs::write(root.join(&stray), b"stray").expect("orphan");

    let (code, stdout, stderr) = vanthu(&app, &["archive", "verify"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("CORRUPT   {key_a}")), "{stdout}");
    assert!(
        stdout.contains(&format!("expected sha256 {}", sha256_hex(&a))),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("MISSING   {key_b}")), "{stdout}");
    assert!(stdout.contains(&format!("ORPHANED  {stray}")), "{stdout}");
    assert!(stdout.contains("1 missing, 1 corrupt, 1 orphaned"), "{stdout}");

    let (code, stdout, _) = vanthu(&app, &["archive", "verify", "--sample", "1", "--json"]);
    assert_eq!(code, Some(1), "the orphan is still found: {stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(
        (report["checked"].as_u64(), report["sampled"].as_bool()),
        (Some(1), Some(true)),
        "{report}"
    );
    let (code, _, stderr) = vanthu(&app, &["archive", "verify", "--sample", "0"]);
    assert_eq!(code, Some(2), "{stderr}");

    // The server's own run shows in /metrics.
    let report = vanthu::archive::fixity::verify(&app.services, None, |_, _| {})
        .await
        .expect("verify");
    assert_eq!((report.missing, report.corrupt, report.orphaned), (1, 1, 1));
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("vanthu_archive_fixity_corrupt_objects 1"), "{metrics}");
    assert!(metrics.contains("vanthu_archive_fixity_missing_objects 1"), "{metrics}");
    assert!(
        metrics.contains("vanthu_archive_fixity_orphaned_objects 1"),
        "{metrics}"
    );
    let last = vanthu::archive::fixity::last(&app.services)
        .await
        .expect("last")
        .expect("a run");
    assert_eq!(last.findings.len(), 3);
    app.stop().await;
}
