//! Write-once, content-addressed archive objects over `object_store`, under the `archive/` prefix
//! of the configured store (folder, S3 or memory).
//!
//! Every object lives at `sha256/ab/abcdef…`, the SHA-256 of its bytes, and is written only with
//! a create-only operation: a conditional put (`PutMode::Create`) for content that fits in one
//! request, else a streamed multipart upload to a staging key followed by `copy_if_not_exists`.
//! An existing key is never overwritten. Where a backend offers neither (S3 without a configured
//! copy-if-not-exists mode), the large-object path checks that the key is absent before it
//! copies; because the key is the hash of the bytes, the only thing a lost race can write there
//! is the same bytes.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use crate::objects::{copy_create_only, upload_multipart, UploadError};
use ring::digest::{Context, SHA256};

/// Prefix of the archive inside the object store.
pub const PREFIX: &str = "archive";
/// Prefix (inside the archive) of unfinished uploads.
pub const STAGING: &str = "staging";
/// Content up to this size is buffered and written with one conditional put.
const SINGLE_PUT_MAX: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {0} already exists; archive objects are never overwritten")]
    AlreadyExists(String),
    #[error("object {0} not found")]
    NotFound(String),
    #[error("content does not match: expected sha256 {expected}, read {actual}")]
    Mismatch { expected: String, actual: String },
    #[error("the content is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the source failed: {0}")]
    Source(String),
    #[error("object store error: {0}")]
    Store(#[from] object_store::Error),
    #[error("syncing {0} to disk failed: {1}")]
    Sync(String, String),
}

/// An object in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedObject {
    /// Key relative to the archive prefix, `sha256/ab/abcdef…`.
    pub key: String,
    pub sha256: String,
    pub size: u64,
    /// Whether this call wrote it (false: it was already there).
    pub created: bool,
}

/// An object found by listing the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct ArchiveStore {
    store: Arc<dyn ObjectStore>,
    /// Content-addressed puts check for the key and then write plainly instead of asking the
    /// store for a conditional create. Set for the local folder, whose conditional create
    /// writes a staging file, hard-links it and unlinks it: an unlinked inode per object, and
    /// ext4 then scans its recently deleted inodes on every later file creation (a fifth of
    /// the server's CPU while archiving 800 documents a second). A content key names its
    /// bytes, so two writers racing on one key write the same bytes.
    check_then_put: bool,
    /// The archive's folder on the local file system, whose writes [`Self::make_durable`]
    /// syncs; `None` for S3 (durable when a PUT answers) and memory.
    local_dir: Option<std::path::PathBuf>,
}

/// `fsync` of `dir/key` for every key, then of every folder between them and `dir` (inclusive),
/// each folder once.
fn sync_paths(dir: &std::path::Path, keys: &[String]) -> Result<(), StoreError> {
    let sync = |p: &std::path::Path| {
        std::fs::File::open(p)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Sync(p.display().to_string(), e.to_string()))
    };
    let mut folders = std::collections::BTreeSet::new();
    for key in keys {
        let path = dir.join(key);
        sync(&path)?;
        let mut parent = path.parent();
        while let Some(p) = parent {
            if !p.starts_with(dir) || !folders.insert(p.to_path_buf()) {
                break;
            }
            parent = p.parent();
        }
    }
    // Deepest first, so a folder's entry is synced after what it names.
    for folder in folders.iter().rev() {
        sync(folder)?;
    }
    Ok(())
}

/// The content key of a SHA-256 digest (hex).
pub fn content_key(sha256_hex: &str) -> String {
    let head = sha256_hex.get(..2).unwrap_or("00");
    format!("sha256/{head}/{sha256_hex}")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&SHA256, data))
}

fn is_unsupported(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented
    )
}

fn is_exists(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

impl ArchiveStore {
    /// The archive inside `root` (the application's object store).
    pub fn new(root: Arc<dyn ObjectStore>) -> Self {
        Self {
            store: Arc::new(PrefixStore::new(root, PREFIX)),
            check_then_put: false,
            local_dir: None,
        }
    }

    /// The archive inside the application's object store, with content-addressed puts suited
    /// to its kind (see `check_then_put`).
    pub fn for_objects(objects: &crate::objects::Objects) -> Self {
        let local_dir = objects.local_folder().map(|root| root.join(PREFIX));
        Self {
            check_then_put: local_dir.is_some(),
            local_dir,
            ..Self::new(objects.raw().clone())
        }
    }

    /// Makes the objects at `keys` durable before anything records them: on the local folder,
    /// `fsync` of each file and of each folder on the way to it (so that the names survive a
    /// crash too); nothing elsewhere. Neither `object_store`'s local store nor the kernel does
    /// this by itself: written pages reach the disk up to half a minute later.
    pub async fn make_durable(&self, keys: &[String]) -> Result<(), StoreError> {
        let Some(dir) = self.local_dir.clone() else {
            return Ok(());
        };
        let label = keys.first().cloned().unwrap_or_default();
        let keys = keys.to_vec();
        tokio::task::spawn_blocking(move || sync_paths(&dir, &keys))
            .await
            .map_err(|e| StoreError::Sync(label, e.to_string()))?
    }

    async fn exists(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `data` at `key` only if nothing is there yet; an existing object is refused with
    /// [`StoreError::AlreadyExists`] and left untouched.
    pub async fn put_once(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let path = Path::from(key);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from_bytes(data.clone()), opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_exists(&e) => Err(StoreError::AlreadyExists(key.to_string())),
            Err(e) if is_unsupported(&e) => {
                if self.exists(key).await?.is_some() {
                    return Err(StoreError::AlreadyExists(key.to_string()));
                }
                self.store.put(&path, PutPayload::from_bytes(data)).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores small content (metadata) under its content key.
    pub async fn put_blob(&self, data: Bytes) -> Result<ArchivedObject, StoreError> {
        let sha256 = sha256_hex(&data);
        let key = content_key(&sha256);
        let size = data.len() as u64;
        let created = if self.check_then_put {
            if self.exists(&key).await?.is_some() {
                false
            } else {
                self.store
                    .put(&Path::from(key.as_str()), PutPayload::from_bytes(data))
                    .await?;
                true
            }
        } else {
            match self.put_once(&key, data).await {
                Ok(()) => true,
                Err(StoreError::AlreadyExists(_)) => false,
                Err(e) => return Err(e),
            }
        };
        Ok(ArchivedObject {
            key,
            sha256,
            size,
            created,
        })
    }

    /// Streams `body` into the archive under its content key, at most `limit` bytes. With
    /// `expected` (the SHA-256 the caller knows), content already archived is not read again, and
    /// content that hashes differently is refused with [`StoreError::Mismatch`], leaving nothing.
    pub async fn put_stream<S, E>(
        &self,
        mut body: S,
        expected: Option<&str>,
        limit: u64,
    ) -> Result<ArchivedObject, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if let Some(sha) = expected {
            let key = content_key(sha);
            if let Some(size) = self.exists(&key).await? {
                return Ok(ArchivedObject {
                    key,
                    sha256: sha.to_string(),
                    size,
                    created: false,
                });
            }
        }
        let mut hasher = Context::new(&SHA256);
        let mut size: u64 = 0;
        // Small content: buffer it and write it with one conditional put.
        let mut buffered: Vec<Bytes> = Vec::new();
        let mut buffered_len = 0usize;
        let mut overflow: Option<Bytes> = None;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Source(e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(StoreError::TooLarge { limit });
            }
            hasher.update(&chunk);
            if buffered_len + chunk.len() > SINGLE_PUT_MAX {
                overflow = Some(chunk);
                break;
            }
            buffered_len += chunk.len();
            buffered.push(chunk);
        }
        let Some(first_overflow) = overflow else {
            let sha256 = hex::encode(hasher.finish());
            check_expected(expected, &sha256)?;
            let key = content_key(&sha256);
            let payload: PutPayload = buffered.into_iter().collect();
            let created = match self
                .store
                .put_opts(
                    &Path::from(key.as_str()),
                    payload.clone(),
                    PutOptions {
                        mode: PutMode::Create,
                        ..PutOptions::default()
                    },
                )
                .await
            {
                Ok(_) => true,
                Err(e) if is_exists(&e) => false,
                Err(e) if is_unsupported(&e) => {
                    if self.exists(&key).await?.is_some() {
                        false
                    } else {
                        self.store.put(&Path::from(key.as_str()), payload).await?;
                        true
                    }
                }
                Err(e) => return Err(e.into()),
            };
            return Ok(ArchivedObject {
                key,
                sha256,
                size,
                created,
            });
        };
        // Large content: multipart upload to a staging key, then a create-only copy.
        let staging = Path::from(format!("{STAGING}/{}", uuid::Uuid::new_v4()));
        buffered.push(first_overflow);
        let writer = upload_multipart(
            self.store.as_ref(),
            &staging,
            buffered,
            &mut body,
            &mut hasher,
            &mut size,
            limit,
        )
        .await
        .map_err(|e| match e {
            UploadError::Source(m) => StoreError::Source(m),
            UploadError::TooLarge => StoreError::TooLarge { limit },
            UploadError::Store(e) => StoreError::Store(e),
        })?;
        let sha256 = hex::encode(hasher.finish());
        if let Err(e) = check_expected(expected, &sha256) {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await?;
        let key = content_key(&sha256);
        let result = copy_create_only(self.store.as_ref(), &staging, &Path::from(key.as_str())).await;
        let _ = self.store.delete(&staging).await;
        Ok(ArchivedObject {
            key,
            sha256,
            size,
            created: result?,
        })
    }

    /// Deletes an object. Only disposal (tiêu hủy) of a record whose retention has run out
    /// deletes archive objects; nothing ever rewrites one.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's bytes as they are stored, and its size.
    async fn raw_stream(
        &self,
        key: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, object_store::Error>>), StoreError> {
        match self.store.get(&Path::from(key)).await {
            Ok(r) => Ok((r.meta.size, crate::objects::body_stream(r))),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::NotFound(key.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's bytes as a stream, and its size. The bytes are hashed on the way: when they
    /// do not match the SHA-256 of their content key, the stream ends with an error instead of
    /// ending normally, so a reader never takes a corrupt object for a good one.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<
        (
            u64,
            impl Stream<Item = Result<Bytes, object_store::Error>> + Send + 'static,
        ),
        StoreError,
    > {
        let (size, stream) = self.raw_stream(key).await?;
        Ok((size, verified(key, stream)))
    }

    /// The whole object (metadata documents only; files are streamed).
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StoreError> {
        match self.store.get(&Path::from(key)).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::NotFound(key.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Re-reads an object and returns its SHA-256 and size.
    pub async fn digest(&self, key: &str) -> Result<(String, u64), StoreError> {
        let (_, mut stream) = self.raw_stream(key).await?;
        let mut hasher = Context::new(&SHA256);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hex::encode(hasher.finish()), size))
    }

    /// Every finished object in the archive (staging excluded), in listing order.
    pub fn list(&self) -> impl Stream<Item = Result<Listed, StoreError>> + Send + '_ {
        self.store
            .list(None)
            .map_err(StoreError::from)
            .try_filter_map(|meta| async move {
                let key = meta.location.to_string();
                if key.starts_with(&format!("{STAGING}/")) {
                    return Ok(None);
                }
                Ok(Some(Listed { key, size: meta.size }))
            })
    }
}

/// The SHA-256 (hex) a content key names, if `key` is one.
fn key_digest(key: &str) -> Option<&str> {
    let hex = key.strip_prefix("sha256/")?.split_once('/')?.1;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && content_key(hex) == key).then_some(hex)
}

/// `stream`, checked against the digest of its content key at the end.
fn verified(
    key: &str,
    stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    let Some(expected) = key_digest(key).map(str::to_ascii_lowercase) else {
        return stream;
    };
    let key = key.to_string();
    futures::stream::unfold((stream, Some(Context::new(&SHA256))), move |(mut stream, hasher)| {
        let (expected, key) = (expected.clone(), key.clone());
        async move {
            let mut hasher = hasher?;
            match stream.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    Some((Ok(chunk), (stream, Some(hasher))))
                }
                Some(Err(e)) => Some((Err(e), (stream, None))),
                None => {
                    let actual = hex::encode(hasher.finish());
                    if actual == expected {
                        None
                    } else {
                        let e = object_store::Error::Generic {
                            store: "archive",
                            source: format!("object {key} is corrupt: its content hashes to sha256 {actual}").into(),
                        };
                        Some((Err(e), (stream, None)))
                    }
                }
            }
        }
    })
    .boxed()
}

fn check_expected(expected: Option<&str>, actual: &str) -> Result<(), StoreError> {
    match expected {
        Some(e) if e != actual => Err(StoreError::Mismatch {
            expected: e.to_string(),
            actual: actual.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn memory() -> ArchiveStore {
        ArchiveStore::new(Arc::new(InMemory::new()))
    }

    fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        let parts: Vec<Result<Bytes, std::io::Error>> =
            data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(parts)
    }

    /// On the local folder a content-addressed put leaves no staging file behind and unlinks
    /// nothing: the object is there once, with its bytes, and a second put is a no-op.
    #[tokio::test]
    async fn local_folder_blobs_are_written_once_without_staging_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let objects =
            crate::objects::Objects::open(&format!("file://{}", dir.path().display()), &[]).expect("local objects");
        let a = ArchiveStore::for_objects(&objects);
        assert!(a.check_then_put);
        let first = a.put_blob(Bytes::from_static(b"<Metadata/>")).await.expect("put");
        let again = a.put_blob(Bytes::from_static(b"<Metadata/>")).await.expect("put again");
        assert!(first.created && !again.created);
        assert_eq!(first.key, again.key);
        assert_eq!(a.get_bytes(&first.key).await.expect("get").as_ref(), b"<Metadata/>");
        let mut names = Vec::new();
        let mut stack = vec![dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read dir").flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    names.push(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        assert_eq!(names, vec![first.sha256.clone()], "only the object itself is on disk");
        a.make_durable(std::slice::from_ref(&first.key)).await.expect("sync");
        let missing = a.make_durable(&["sha256/00/absent".to_string()]).await;
        assert!(matches!(missing, Err(StoreError::Sync(..))), "{missing:?}");
        // Elsewhere there is nothing to sync.
        memory()
            .make_durable(&["sha256/00/absent".to_string()])
            .await
            .expect("memory");
    }

    #[tokio::test]
    async fn put_once_refuses_an_existing_key_and_keeps_the_first_bytes() {
        let a = memory();
        a.put_once("x/1", Bytes::from_static(b"first"))
            .await
            .expect("first put");
        let err = a
            .put_once("x/1", Bytes::from_static(b"second"))
            .await
            .expect_err("second put must be refused");
        assert!(matches!(err, StoreError::AlreadyExists(ref k) if k == "x/1"), "{err:?}");
        assert_eq!(a.get_bytes("x/1").await.expect("get"), Bytes::from_static(b"first"));
    }

    #[tokio::test]
    async fn small_and_large_streams_are_content_addressed_and_written_once() {
        let a = memory();
        let small = a.put_stream(chunks(b"van thu", 3), None, 100).await.expect("small");
        assert_eq!(small.sha256, sha256_hex(b"van thu"));
        assert!(small.created);
        let again = a.put_stream(chunks(b"van thu", 7), None, 100).await.expect("again");
        assert_eq!((again.key.as_str(), again.created), (small.key.as_str(), false));

        let big: Vec<u8> = (0..(SINGLE_PUT_MAX + 12345)).map(|i| (i % 251) as u8).collect();
        let stored = a
            .put_stream(chunks(&big, 64 * 1024), None, u64::MAX)
            .await
            .expect("large");
        assert_eq!(stored.sha256, sha256_hex(&big));
        assert_eq!(stored.size, big.len() as u64);
        assert!(stored.created);
        assert_eq!(
            a.digest(&stored.key).await.expect("digest"),
            (stored.sha256.clone(), stored.size)
        );
        // Known content is not read again.
        let known = a
            .put_stream(chunks(b"", 1), Some(&stored.sha256), u64::MAX)
            .await
            .expect("known");
        assert!(!known.created);
        // No staging leftovers; exactly two objects.
        let keys: Vec<Listed> = a.list().try_collect().await.expect("list");
        assert_eq!(keys.len(), 2, "{keys:?}");
    }

    #[tokio::test]
    async fn a_stream_that_does_not_match_its_expected_hash_leaves_nothing() {
        let a = memory();
        let wrong = sha256_hex(b"something else");
        let err = a
            .put_stream(chunks(b"van thu", 2), Some(&wrong), 100)
            .await
            .expect_err("mismatch");
        assert!(matches!(err, StoreError::Mismatch { .. }), "{err:?}");
        let big: Vec<u8> = vec![7; SINGLE_PUT_MAX + 1];
        let err = a
            .put_stream(chunks(&big, 1 << 20), Some(&wrong), u64::MAX)
            .await
            .expect_err("mismatch");
        assert!(matches!(err, StoreError::Mismatch { .. }), "{err:?}");
        let err = a.put_stream(chunks(&big, 1 << 20), None, 100).await.expect_err("limit");
        assert!(matches!(err, StoreError::TooLarge { limit: 100 }), "{err:?}");
        let left: Vec<_> = a.store.list(None).try_collect().await.expect("list");
        assert!(left.is_empty(), "{left:?}");
    }

    async fn read_all(a: &ArchiveStore, key: &str) -> Result<Vec<u8>, object_store::Error> {
        let (_, mut stream) = a.get_stream(key).await.expect("get");
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn get_streams_a_local_file_in_large_chunks_and_refuses_a_corrupt_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("local");
        let a = ArchiveStore::new(Arc::new(root));
        // Three and a bit read steps, and more than the single-put size.
        let big: Vec<u8> = (0..(SINGLE_PUT_MAX + 3 * 1024 * 1024 + 77))
            .map(|i| (i * 7 % 253) as u8)
            .collect();
        let stored = a.put_stream(chunks(&big, 1 << 20), None, u64::MAX).await.expect("put");
        let (size, mut stream) = a.get_stream(&stored.key).await.expect("get");
        assert_eq!(size, big.len() as u64);
        let mut got = Vec::new();
        let mut steps = 0;
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.expect("chunk"));
            steps += 1;
        }
        assert_eq!(got, big);
        assert!(steps <= 12, "{steps} read steps for {} bytes", big.len());

        // Flip one byte in the stored file: the get stream ends with an error, and the fixity
        // digest reports the new hash.
        let file = dir.path().join(PREFIX).join(&stored.key);
        let mut bytes = std::fs::read(&file).expect("read stored file");
        bytes[SINGLE_PUT_MAX] ^= 1;
        std::fs::write(&file, &bytes).expect("corrupt");
        let err = read_all(&a, &stored.key)
            .await
            .expect_err("corrupt object must not read cleanly");
        assert!(err.to_string().contains("is corrupt"), "{err}");
        let (digest, n) = a.digest(&stored.key).await.expect("digest");
        assert_eq!((digest, n), (sha256_hex(&bytes), big.len() as u64));
    }

    #[tokio::test]
    async fn get_of_a_memory_object_is_verified_too() {
        let a = memory();
        let stored = a.put_blob(Bytes::from_static(b"van thu")).await.expect("put");
        assert_eq!(read_all(&a, &stored.key).await.expect("good"), b"van thu");
        a.store
            .put(&Path::from(stored.key.as_str()), PutPayload::from_static(b"van thu!"))
            .await
            .expect("overwrite behind the archive's back");
        assert!(read_all(&a, &stored.key).await.is_err());
        // Keys that are not content keys are streamed as they are.
        a.put_once("x/1", Bytes::from_static(b"first")).await.expect("put");
        assert_eq!(read_all(&a, "x/1").await.expect("plain key"), b"first");
    }
}
