//! Object storage against a real S3-protocol server (`moto_server` in CI, MinIO in compose).
//!
//! Needs `VANTHU_TEST_S3` (the endpoint URL) and optionally `VANTHU_TEST_S3_BUCKET` (default
//! `vanthu-test`, which must exist). Each test works under its own random prefix. The whole-app
//! test also needs `AWS_ENDPOINT_URL` (and credentials) in the process environment, because the
//! app reads its S3 settings from there; `.ci/run` exports them.

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectMeta;
use reqwest::StatusCode;
use ring::digest::{digest, SHA256};
use vanthu::objects::{ObjectError, Objects};

use crate::common::{self, aws_env, s3_server, Backend, TestApp};

const MIB: usize = 1024 * 1024;

/// A fresh store under a random prefix of the test bucket.
fn open_store(endpoint: &str, bucket: &str, what: &str) -> (Objects, String) {
    let location = format!("s3://{bucket}/{what}-{}", uuid::Uuid::new_v4().simple());
    let objects = Objects::open(&location, &aws_env(endpoint)).expect("open S3 object store");
    (objects, location)
}

/// Deterministic pseudo-random bytes (xorshift64*), incompressible enough for a real upload.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
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

/// `data` as a request-body-like stream of `chunk`-sized pieces.
fn chunked(data: &[u8], chunk: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
    let parts: Vec<Result<Bytes, std::io::Error>> = data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(parts)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest(&SHA256, data))
}

async fn list_all(objects: &Objects, under: Option<&str>) -> Vec<ObjectMeta> {
    let prefix = under.map(Path::from);
    objects
        .raw()
        .list(prefix.as_ref())
        .try_collect()
        .await
        .expect("list objects")
}

async fn read_all(objects: &Objects, key: &str) -> (u64, Vec<u8>) {
    let (size, stream) = objects.get_stream(key).await.expect("get_stream");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("read object");
    (size, chunks.concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_multipart_put_round_trips_and_is_write_once() {
    let Some((endpoint, bucket)) = s3_server() else {
        return;
    };
    let (objects, _) = open_store(&endpoint, &bucket, "objects-roundtrip");

    // 12 MiB in 64 KiB chunks: more than two 5 MiB parts, so the upload really is multipart.
    let data = pseudo_random(12 * MIB, 0x7661_6e74_6875);
    let expected_sha = sha256_hex(&data);
    let stored = objects
        .put_stream(chunked(&data, 64 * 1024), 20 * MIB as u64)
        .await
        .expect("streamed put");
    assert_eq!(stored.sha256, expected_sha);
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(stored.key, Objects::content_key(&expected_sha));

    let (size, back) = read_all(&objects, &stored.key).await;
    assert_eq!(size, data.len() as u64);
    assert!(
        back == data,
        "downloaded bytes differ from the uploaded ones ({} vs {} bytes)",
        back.len(),
        data.len()
    );

    assert_eq!(
        objects.digest(&stored.key).await.expect("digest"),
        (expected_sha.clone(), data.len() as u64)
    );

    // The same bytes again, chunked differently: same content key, no error, object untouched.
    let before = objects.raw().head(&Path::from(stored.key.clone())).await.expect("head");
    let again = objects
        .put_stream(chunked(&data, 100 * 1024 + 7), 20 * MIB as u64)
        .await
        .expect("second put of the same bytes");
    assert_eq!(again, stored);
    let after = objects.raw().head(&Path::from(stored.key.clone())).await.expect("head");
    assert_eq!(before.e_tag, after.e_tag, "the existing object was overwritten");
    assert_eq!(
        before.last_modified, after.last_modified,
        "the existing object was overwritten"
    );
    assert_eq!(after.size, data.len() as u64);

    // A small second object next to it.
    let small = objects
        .put_stream(chunked(b"van thu", 3), 1024)
        .await
        .expect("small put");
    assert_eq!(small.sha256, sha256_hex(b"van thu"));
    assert_eq!(read_all(&objects, &small.key).await, (7, b"van thu".to_vec()));

    // Exactly the two content objects remain: no staging leftovers.
    let staging = list_all(&objects, Some("staging")).await;
    assert!(staging.is_empty(), "staging objects left behind: {staging:?}");
    let mut keys: Vec<String> = list_all(&objects, None)
        .await
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    keys.sort();
    let mut expected = vec![stored.key.clone(), small.key.clone()];
    expected.sort();
    assert_eq!(keys, expected);

    // Unknown keys are reported as such.
    let missing = Objects::content_key(&sha256_hex(b"never stored"));
    assert!(matches!(objects.get_stream(&missing).await, Err(ObjectError::NotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_is_refused_and_leaves_nothing() {
    let Some((endpoint, bucket)) = s3_server() else {
        return;
    };
    let (objects, _) = open_store(&endpoint, &bucket, "objects-limit");

    // The limit is passed after a 5 MiB part has already gone to the server.
    let data = pseudo_random(8 * MIB, 42);
    let limit = 6 * MIB as u64;
    let err = objects
        .put_stream(chunked(&data, 64 * 1024), limit)
        .await
        .expect_err("over the limit");
    assert!(
        matches!(err, ObjectError::TooLarge { limit: l } if l == limit),
        "{err:?}"
    );

    // Refused at once on the first chunk too.
    let err = objects
        .put_stream(chunked(&data[..4096], 4096), 100)
        .await
        .expect_err("over the limit");
    assert!(matches!(err, ObjectError::TooLarge { limit: 100 }), "{err:?}");

    let left = list_all(&objects, None).await;
    assert!(left.is_empty(), "a refused upload left objects behind: {left:?}");

    // The store still works after an aborted upload.
    let ok = objects
        .put_stream(chunked(&data[..MIB], 64 * 1024), limit)
        .await
        .expect("put within the limit");
    assert_eq!(ok.sha256, sha256_hex(&data[..MIB]));
    let keys: Vec<String> = list_all(&objects, None)
        .await
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    assert_eq!(keys, vec![ok.key]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_app_stores_uploads_in_s3() {
    let Some((endpoint, bucket)) = s3_server() else {
        return;
    };
    // The app takes its S3 settings from the process environment (config::aws_environment).
    let app_endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty());
    if app_endpoint.as_deref() != Some(endpoint.as_str()) {
        common::skip::<()>(
            "AWS_ENDPOINT_URL is not set to VANTHU_TEST_S3 (the app reads S3 settings from the process environment)",
        );
        return;
    }
    let location = format!("s3://{bucket}/app-{}", uuid::Uuid::new_v4().simple());
    let app_location = location.clone();
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, move |c| c.object_store = Some(app_location)).await else {
        return;
    };
    let token = app.login("vanthu").await;

    let (status, doc) = app
        .post(
            Some(&token),
            "/api/v1/documents",
            &common::incoming("Công văn kèm tệp lưu trên S3", 4101),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let id = doc["id"].as_i64().expect("document id");

    // 7 MiB: more than one multipart part on the way in.
    let data = pseudo_random(7 * MIB + 123, 7);
    let filename = "Công văn số 12.pdf";
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/files")))
        .query(&[("filename", filename)])
        .bearer_auth(&token)
        .header(reqwest::header::CONTENT_TYPE, "application/pdf")
        .body(data.clone())
        .send()
        .await
        .expect("upload request");
    let (status, file) = common::json_of(resp).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let expected_sha = sha256_hex(&data);
    assert_eq!(file["sha256"].as_str(), Some(expected_sha.as_str()), "{file}");
    assert_eq!(file["size_bytes"].as_u64(), Some(data.len() as u64), "{file}");
    assert_eq!(file["filename"].as_str(), Some(filename), "{file}");
    let file_id = file["id"].as_i64().expect("file id");
    let object_key = file["object_key"].as_str().expect("object key").to_string();

    let resp = app
        .client
        .get(app.url(&format!("/api/v1/documents/{id}/files/{file_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download request");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let back = resp.bytes().await.expect("download body");
    assert_eq!(back.len(), data.len());
    assert!(
        back.as_ref() == data.as_slice(),
        "downloaded bytes differ from the uploaded ones"
    );

    // The object really is in the bucket, under the configured prefix, and nothing is left in staging.
    let objects = Objects::open(&location, &aws_env(&endpoint)).expect("open the app's store");
    assert_eq!(
        objects.digest(&object_key).await.expect("object in S3"),
        (expected_sha, data.len() as u64)
    );
    let staging = list_all(&objects, Some("staging")).await;
    assert!(staging.is_empty(), "staging objects left behind: {staging:?}");

    app.stop().await;
}
