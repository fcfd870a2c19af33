//! The S3 backend (cluster mode): blobs are objects `[prefix/]blobs/ab/cd/<sha256>` in one bucket
//! of any S3-compatible service, shared by every gateway and node.
//!
//! An upload is staged in a local scratch file while it is hashed (its key is its SHA-256, known
//! only at the end), then sent in one PUT, or as a multipart upload of 8 MiB parts when larger,
//! reading the file a part at a time. Engines read local files, so a scan downloads the object,
//! streamed chunk by chunk, into a scratch file that is deleted when the scan drops it.
//!
//! The trait is blocking (it runs on Tokio's blocking threads); the S3 client is async, so each
//! call drives it with the runtime handle of the thread it runs on.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use crate::{BlobBackend, BlobError, BlobSink, ByteStream, SampleFile};

/// Uploads larger than this go in parts of this size.
const PART_BYTES: usize = 8 << 20;

/// Blobs in an S3 bucket.
pub struct S3Backend {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    scratch: PathBuf,
}

impl S3Backend {
    /// Opens `s3://bucket[/prefix][?endpoint=URL&region=R&access_key_id=K&secret_access_key=S]`.
    /// Settings missing from the URL come from the usual `AWS_*` environment variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, ...).
    /// An `http://` endpoint is allowed (S3-compatible servers on a private network).
    /// Staged uploads and downloaded samples live under `scratch`.
    pub fn open(url: &str, scratch: &Path) -> Result<Self, BlobError> {
        let bad = |why: &str| BlobError::BadUrl(format!("{url}: {why}"));
        let rest = url.strip_prefix("s3://").ok_or_else(|| bad("not s3://"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        // A few quick retries ride out a blip; an outage answers within seconds, so an upload is
        // refused promptly and a scan is left to its lease instead of hanging for minutes.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(15),
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| bad("query is not UTF-8"))?
                .into_owned();
            builder = match key {
                "endpoint" => builder
                    .with_allow_http(value.starts_with("http://"))
                    .with_endpoint(value),
                "region" => builder.with_region(value),
                "access_key_id" => builder.with_access_key_id(value),
                "secret_access_key" => builder.with_secret_access_key(value),
                "virtual_hosted_style" => {
                    builder.with_virtual_hosted_style_request(value == "true")
                }
                other => return Err(bad(&format!("unknown setting {other:?}"))),
            };
        }
        let store = builder.build().map_err(|e| bad(&e.to_string()))?;
        fs::create_dir_all(scratch)?;
        // Old scratch files are garbage; recent ones may belong to another process here.
        crate::remove_stale_files(scratch)?;
        Ok(Self {
            store: Arc::new(store),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            scratch: scratch.to_path_buf(),
        })
    }

    fn key(&self, sha256: &str) -> Result<ObjectPath, BlobError> {
        object_key(&self.prefix, sha256)
    }

    fn scratch_file(&self) -> PathBuf {
        self.scratch.join(palisade_model::random_hex(16))
    }
}

/// `[prefix/]blobs/ab/cd/<sha256>`.
fn object_key(prefix: &str, sha256: &str) -> Result<ObjectPath, BlobError> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BlobError::NotFound(sha256.to_string()));
    }
    let key = format!("blobs/{}/{}/{sha256}", &sha256[0..2], &sha256[2..4]);
    Ok(if prefix.is_empty() {
        ObjectPath::from(key)
    } else {
        ObjectPath::from(format!("{prefix}/{key}"))
    })
}

/// Runs an S3 request to completion from a blocking thread.
fn block_on<T>(work: impl Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(work)
}

fn io_error(error: object_store::Error) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

/// Whether the object exists (`Ok(false)` only when S3 says it does not).
fn head(store: &AmazonS3, key: &ObjectPath) -> Result<Option<u64>, object_store::Error> {
    match block_on(store.head(key)) {
        Ok(meta) => Ok(Some(meta.size)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

struct S3Sink {
    store: Arc<AmazonS3>,
    prefix: String,
    staged: PathBuf,
    file: BufWriter<File>,
    size: u64,
}

impl S3Sink {
    fn upload(&self, key: &ObjectPath) -> std::io::Result<()> {
        let mut file = File::open(&self.staged)?;
        if self.size <= PART_BYTES as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
            file.read_to_end(&mut bytes)?;
            block_on(self.store.put(key, PutPayload::from(bytes))).map_err(io_error)?;
            return Ok(());
        }
        block_on(async {
            let upload = self.store.put_multipart(key).await.map_err(io_error)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                // At most two parts in flight: memory stays at a few parts whatever the size.
                if let Err(error) = writer.wait_for_capacity(2).await {
                    return Err(io_error(error));
                }
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                writer.write(&buffer[..n]);
            }
            writer.finish().await.map_err(io_error)?;
            Ok(())
        })
    }
}

impl BlobSink for S3Sink {
    fn write_chunk(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.size += bytes.len() as u64;
        self.file.write_all(bytes)
    }

    fn commit(mut self: Box<Self>, sha256: &str) -> std::io::Result<()> {
        let result = self.file.flush().and_then(|()| {
            let key = object_key(&self.prefix, sha256).map_err(std::io::Error::other)?;
            // Identical content may already be stored (by any process): a large file is sent only
            // when it is not; a small one is simply written again (same key, same bytes), which
            // costs less than asking first.
            if self.size > PART_BYTES as u64 && head(&self.store, &key).map_err(io_error)?.is_some()
            {
                return Ok(());
            }
            self.upload(&key)
        });
        let _ = fs::remove_file(&self.staged);
        result
    }

    fn abort(self: Box<Self>) {
        let _ = fs::remove_file(&self.staged);
    }
}

impl BlobBackend for S3Backend {
    fn begin_upload(&self) -> std::io::Result<Box<dyn BlobSink>> {
        let staged = self.scratch_file();
        let file = BufWriter::with_capacity(256 * 1024, File::create(&staged)?);
        Ok(Box::new(S3Sink {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            staged,
            file,
            size: 0,
        }))
    }

    fn sample_file(&self, sha256: &str) -> Result<SampleFile, BlobError> {
        let key = self.key(sha256)?;
        let path = self.scratch_file();
        let downloaded = block_on(async {
            let object = match self.store.get(&key).await {
                Ok(object) => object,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(BlobError::NotFound(sha256.to_string()));
                }
                Err(error) => return Err(BlobError::Io(io_error(error))),
            };
            let mut file = BufWriter::with_capacity(256 * 1024, File::create(&path)?);
            let mut chunks = object.into_stream();
            while let Some(chunk) = chunks.next().await {
                file.write_all(&chunk.map_err(io_error)?)?;
            }
            file.into_inner().map_err(|e| e.into_error())?;
            Ok(())
        });
        match downloaded {
            Ok(()) => Ok(SampleFile::temporary(path)),
            Err(error) => {
                let _ = fs::remove_file(&path);
                Err(error)
            }
        }
    }

    fn exists(&self, sha256: &str) -> std::io::Result<bool> {
        let Ok(key) = self.key(sha256) else {
            return Ok(false);
        };
        Ok(head(&self.store, &key).map_err(io_error)?.is_some())
    }

    fn read_range(&self, sha256: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        let key = self.key(sha256)?;
        if range.is_empty() {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let options = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            ..Default::default()
        };
        match block_on(self.store.get_opts(&key, options)) {
            Ok(object) => Ok(Box::pin(
                object.into_stream().map(|chunk| chunk.map_err(io_error)),
            )),
            Err(object_store::Error::NotFound { .. }) => {
                Err(BlobError::NotFound(sha256.to_string()))
            }
            Err(error) => Err(BlobError::Io(io_error(error))),
        }
    }

    fn delete(&self, sha256: &str) -> std::io::Result<()> {
        let Ok(key) = self.key(sha256) else {
            return Ok(());
        };
        match block_on(self.store.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(io_error(error)),
        }
    }

    fn size(&self, sha256: &str) -> Result<u64, BlobError> {
        let key = self.key(sha256)?;
        match head(&self.store, &key) {
            Ok(Some(size)) => Ok(size),
            Ok(None) => Err(BlobError::NotFound(sha256.to_string())),
            Err(error) => Err(BlobError::Io(io_error(error))),
        }
    }

    fn check(&self) -> std::io::Result<()> {
        // Listing the top level of the blobs (at most 256 prefixes) fails when the service or
        // the bucket is not there, unlike a HEAD, which cannot tell a missing bucket from a
        // missing object.
        let top = if self.prefix.is_empty() {
            ObjectPath::from("blobs")
        } else {
            ObjectPath::from(format!("{}/blobs", self.prefix))
        };
        block_on(self.store.list_with_delimiter(Some(&top)))
            .map(|_| ())
            .map_err(io_error)
    }

    fn probe_write(&self) -> std::io::Result<()> {
        let name = format!("probe/{}", palisade_model::random_hex(8));
        let key = if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        };
        block_on(
            self.store
                .put(&key, PutPayload::from_static(b"palisade write probe")),
        )
        .map_err(io_error)?;
        block_on(self.store.delete(&key)).map_err(io_error)
    }

    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}
