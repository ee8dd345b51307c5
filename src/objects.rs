//! Object storage for attached files, over `object_store`: a local folder by default, S3 in
//! production, memory in tests. Objects are content-addressed (`sha256/ab/abcdef…`) and streamed:
//! an upload is written to a staging key while it is hashed, then copied to its content key
//! without overwriting an existing object, so no file is ever held whole in memory.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetResult, GetResultPayload, ObjectStore, WriteMultipart};
use ring::digest::{Context, SHA256};

/// Bytes read per step from a local file (object_store's own stream reads 8 KiB per step, each
/// a hop to the blocking pool, which capped reads at about 150 MB/s).
const FILE_CHUNK: u64 = 1 << 20;

/// The bytes of a get result as a stream. A local file is read in [`FILE_CHUNK`] steps on the
/// blocking pool; other backends' streams pass through unchanged.
pub fn body_stream(r: GetResult) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    match r.payload {
        GetResultPayload::File(file, path) => file_stream(file, path, r.range),
        GetResultPayload::Stream(s) => s,
    }
}

fn local_error(path: &std::path::Path, e: impl std::fmt::Display) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("reading {}: {e}", path.display()).into(),
    }
}

fn file_stream(
    file: std::fs::File,
    path: PathBuf,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    let remaining = range.end.saturating_sub(range.start);
    let seek_to = Some(range.start);
    futures::stream::try_unfold(
        (file, path, seek_to, remaining),
        |(mut file, path, seek_to, remaining)| async move {
            if remaining == 0 {
                return Ok(None);
            }
            tokio::task::spawn_blocking(move || {
                if let Some(at) = seek_to {
                    file.seek(SeekFrom::Start(at)).map_err(|e| local_error(&path, e))?;
                }
                let step = remaining.min(FILE_CHUNK);
                let mut buf = Vec::with_capacity(usize::try_from(step).unwrap_or_default());
                let read = (&mut file)
                    .take(step)
                    .read_to_end(&mut buf)
                    .map_err(|e| local_error(&path, e))?;
                if read == 0 {
                    return Err(local_error(&path, format!("the file ended {remaining} bytes early")));
                }
                let left = remaining - read as u64;
                Ok(Some((Bytes::from(buf), (file, path, None, left))))
            })
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })?
        },
    )
    .boxed()
}

/// Why a streamed upload stopped (see [`upload_multipart`]).
#[derive(Debug)]
pub(crate) enum UploadError {
    /// The source stream failed.
    Source(String),
    /// More than the limit.
    TooLarge,
    Store(object_store::Error),
}

/// Uploads `head`, then the rest of `body`, to `staging` as a multipart upload, and returns the
/// writer for the caller to finish (or abort). What comes from `body` is hashed into `hasher` and
/// counted into `size` (never more than `limit`); `head` was read, hashed and counted by the
/// caller. On an error the upload is aborted, leaving nothing.
pub(crate) async fn upload_multipart<S, E>(
    store: &dyn ObjectStore,
    staging: &Path,
    head: Vec<Bytes>,
    body: &mut S,
    hasher: &mut Context,
    size: &mut u64,
    limit: u64,
) -> Result<WriteMultipart, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let upload = store.put_multipart(staging).await.map_err(UploadError::Store)?;
    let mut writer = WriteMultipart::new(upload);
    let mut head = head.into_iter();
    loop {
        let chunk = match head.next() {
            Some(c) => c,
            None => match body.next().await {
                None => return Ok(writer),
                Some(Ok(c)) => {
                    *size += c.len() as u64;
                    if *size > limit {
                        let _ = writer.abort().await;
                        return Err(UploadError::TooLarge);
                    }
                    hasher.update(&c);
                    c
                }
                Some(Err(e)) => {
                    let _ = writer.abort().await;
                    return Err(UploadError::Source(e.to_string()));
                }
            },
        };
        if let Err(e) = writer.wait_for_capacity(4).await {
            let _ = writer.abort().await;
            return Err(UploadError::Store(e));
        }
        writer.write(&chunk);
    }
}

/// Copies `from` to `to` unless `to` exists; returns whether it wrote `to`. Where the backend
/// has no conditional copy, `to` is checked first: the keys are content hashes, so the only
/// thing a lost race can write there is the same bytes.
pub(crate) async fn copy_create_only(
    store: &dyn ObjectStore,
    from: &Path,
    to: &Path,
) -> Result<bool, object_store::Error> {
    match store.copy_if_not_exists(from, to).await {
        Ok(()) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(false),
        Err(object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented) => {
            match store.head(to).await {
                Ok(_) => Ok(false),
                Err(object_store::Error::NotFound { .. }) => {
                    store.copy(from, to).await?;
                    Ok(true)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid object store location {0:?}")]
    Config(String),
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload was interrupted: {0}")]
    Body(String),
    #[error("object not found")]
    NotFound,
    #[error("object store error: {0}")]
    Store(#[from] object_store::Error),
}

/// A stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    location: String,
}

impl Objects {
    /// Opens the store at `location`: a folder path, `file:///…`, `memory://` or `s3://bucket[/prefix]`.
    /// `aws_env` are the `AWS_*` variables (read by the config module).
    pub fn open(location: &str, aws_env: &[(String, String)]) -> Result<Self, ObjectError> {
        let store: Arc<dyn ObjectStore> = if location == "memory://" {
            Arc::new(InMemory::new())
        } else if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(ObjectError::Config(location.into()));
            }
            let mut b = AmazonS3Builder::new().with_bucket_name(bucket);
            for (k, v) in aws_env {
                let key = k.to_ascii_lowercase();
                if let Ok(ck) = key.parse::<AmazonS3ConfigKey>() {
                    b = b.with_config(ck, v);
                }
                if (key == "aws_endpoint_url" || key == "aws_endpoint") && v.starts_with("http://") {
                    b = b.with_allow_http(true);
                }
            }
            let s3 = b.build()?;
            if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix.trim_end_matches('/')))
            }
        } else {
            let path = location.strip_prefix("file://").unwrap_or(location);
            std::fs::create_dir_all(path).map_err(|e| ObjectError::Config(format!("{path}: {e}")))?;
            Arc::new(LocalFileSystem::new_with_prefix(path)?)
        };
        Ok(Self {
            store,
            location: location.to_string(),
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The folder, when this store is one on the local file system (not S3 or memory).
    pub fn local_folder(&self) -> Option<std::path::PathBuf> {
        if self.location.starts_with("s3://") || self.location.starts_with("memory:") {
            return None;
        }
        Some(std::path::PathBuf::from(
            self.location.strip_prefix("file://").unwrap_or(&self.location),
        ))
    }

    /// Streams `body` into the store, at most `limit` bytes, and returns its content key.
    pub async fn put_stream<S, E>(&self, mut body: S, limit: u64) -> Result<Stored, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let staging = Path::from(format!("staging/{}", uuid::Uuid::new_v4()));
        let mut hasher = Context::new(&SHA256);
        let mut size: u64 = 0;
        let writer = upload_multipart(
            self.store.as_ref(),
            &staging,
            Vec::new(),
            &mut body,
            &mut hasher,
            &mut size,
            limit,
        )
        .await
        .map_err(|e| match e {
            UploadError::Source(m) => ObjectError::Body(m),
            UploadError::TooLarge => ObjectError::TooLarge { limit },
            UploadError::Store(e) => ObjectError::Store(e),
        })?;
        writer.finish().await?;
        let sha256 = hex::encode(hasher.finish());
        let key = Self::content_key(&sha256);
        let result = copy_create_only(self.store.as_ref(), &staging, &Path::from(key.clone())).await;
        let _ = self.store.delete(&staging).await;
        result?;
        Ok(Stored { key, sha256, size })
    }

    /// The content key of a SHA-256 digest.
    pub fn content_key(sha256_hex: &str) -> String {
        format!("sha256/{}/{}", &sha256_hex[..2], sha256_hex)
    }

    /// The object's bytes as a stream, and its size.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<
        (
            u64,
            impl Stream<Item = Result<Bytes, object_store::Error>> + Send + 'static,
        ),
        ObjectError,
    > {
        match self.store.get(&Path::from(key)).await {
            Ok(r) => Ok((r.meta.size, body_stream(r))),
            Err(object_store::Error::NotFound { .. }) => Err(ObjectError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Re-reads an object and returns its SHA-256 and size (fixity check).
    pub async fn digest(&self, key: &str) -> Result<(String, u64), ObjectError> {
        let (_, mut stream) = self.get_stream(key).await?;
        let mut hasher = Context::new(&SHA256);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hex::encode(hasher.finish()), size))
    }

    /// Raw access for tests that need to corrupt or inspect objects.
    #[doc(hidden)]
    pub fn raw(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<&'static [u8]>) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[tokio::test]
    async fn content_addressed_and_deduplicated() {
        let objects = Objects::open("memory://", &[]).expect("open");
        let a = objects
            .put_stream(chunks(vec![b"van ", b"thu"]), 100)
            .await
            .expect("put");
        assert_eq!(a.sha256, hex::encode(ring::digest::digest(&SHA256, b"van thu")));
        assert_eq!(a.size, 7);
        let b = objects
            .put_stream(chunks(vec![b"van thu"]), 100)
            .await
            .expect("put again");
        assert_eq!(a, b);
        assert_eq!(objects.digest(&a.key).await.expect("digest"), (a.sha256.clone(), 7));
    }

    #[tokio::test]
    async fn over_the_limit_is_refused_and_leaves_nothing() {
        let objects = Objects::open("memory://", &[]).expect("open");
        let err = objects
            .put_stream(chunks(vec![b"0123456789", b"0123456789"]), 15)
            .await
            .expect_err("too large");
        assert!(matches!(err, ObjectError::TooLarge { limit: 15 }));
        let listed: Vec<_> = objects.raw().list(None).collect().await;
        assert!(listed.is_empty(), "{listed:?}");
    }
}
