//! Content-addressed file storage: uploads stream in while md5, sha1, sha256 and sha512 are
//! computed in the same pass, and each distinct content is stored once under its SHA-256.
//!
//! The backend is a trait ([`BlobBackend`]) chosen once at startup from a URL; callers hold the
//! concrete [`BlobStore`] handle and never branch on the backend kind.

mod decode;
mod ingest;
mod local;
mod s3;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use palisade_model::Durability;

pub use decode::{ContentEncoding, decode_body};
pub use ingest::{Hashers, IngestError, Ingested, StreamHashers, hash_all};
pub use local::LocalBackend;
pub use s3::S3Backend;

/// Errors of the blob store, grouped by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob not found: {0}")]
    NotFound(String),
    #[error("blob store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported blob store URL: {0}")]
    BadUrl(String),
}

/// Where the bytes of one upload go while they arrive; written on a blocking thread.
pub trait BlobSink: Send {
    fn write_chunk(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Makes the bytes durable under `sha256`; identical content already stored is kept once.
    fn commit(self: Box<Self>, sha256: &str) -> std::io::Result<()>;
    /// Throws the partial upload away.
    fn abort(self: Box<Self>);
}

/// Uploads made durable together: an upload begun here is complete when its sink commits, but
/// only [`UploadGroup::finish`] makes the group's uploads durable and readable under their
/// digests, syncing them all at once (a group of archive members waits for the disk about once,
/// not once per member). Dropping the group without finishing keeps none of them.
pub trait UploadGroup: Send {
    fn begin_upload(&mut self) -> std::io::Result<Box<dyn BlobSink>>;
    fn finish(self: Box<Self>) -> std::io::Result<()>;
}

/// A readable local copy of a blob for engines: the stored file itself, or a scratch copy for
/// remote backends (deleted when dropped).
pub struct SampleFile {
    path: PathBuf,
    temporary: bool,
}

impl SampleFile {
    pub(crate) fn stored(path: PathBuf) -> Self {
        Self {
            path,
            temporary: false,
        }
    }

    pub(crate) fn temporary(path: PathBuf) -> Self {
        Self {
            path,
            temporary: true,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SampleFile {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One storage backend (a local or shared directory, or an S3 bucket). All methods are blocking.
pub trait BlobBackend: Send + Sync + 'static {
    fn begin_upload(&self) -> std::io::Result<Box<dyn BlobSink>>;
    /// A group of uploads synced together, for backends where that saves work; `None` when each
    /// upload is as cheap to make durable on its own (S3, or a store that syncs nothing).
    fn begin_group(&self) -> Option<Box<dyn UploadGroup>> {
        None
    }
    fn sample_file(&self, sha256: &str) -> Result<SampleFile, BlobError>;
    fn exists(&self, sha256: &str) -> std::io::Result<bool>;
    fn size(&self, sha256: &str) -> Result<u64, BlobError>;
    /// The bytes `range` of a blob (within its size), as a stream read a chunk at a time: a
    /// download is never held in memory.
    fn read_range(&self, sha256: &str, range: Range<u64>) -> Result<ByteStream, BlobError>;
    /// Removes a blob nothing refers to any more; a blob already gone is not an error.
    fn delete(&self, sha256: &str) -> std::io::Result<()>;
    fn describe(&self) -> String;
    /// Succeeds when the storage can be reached (readiness checks).
    fn check(&self) -> std::io::Result<()>;
    /// Succeeds when the storage accepts a (small) write, which it removes again.
    fn probe_write(&self) -> std::io::Result<()>;
    /// The local directory the blobs live in, when there is one (for free-space checks).
    fn local_root(&self) -> Option<&Path> {
        None
    }
}

/// A blob's bytes arriving a chunk at a time.
pub type ByteStream =
    Pin<Box<dyn futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;

/// Chunks a download reads from a local file at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Streams `len` bytes of `file` from `start`, a chunk at a time on Tokio's file threads.
pub(crate) fn file_stream(file: std::fs::File, start: u64, len: u64) -> ByteStream {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let state = (tokio::fs::File::from_std(file), start, len, false);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut file, start, left, positioned)| async move {
            if left == 0 {
                return None;
            }
            if !positioned && let Err(error) = file.seek(std::io::SeekFrom::Start(start)).await {
                return Some((Err(error), (file, start, 0, true)));
            }
            let want = usize::try_from(left).unwrap_or(READ_CHUNK).min(READ_CHUNK);
            let mut buf = bytes::BytesMut::zeroed(want);
            match file.read(&mut buf).await {
                Ok(0) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "blob ended early",
                    )),
                    (file, start, 0, true),
                )),
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(buf.freeze()), (file, start, left - n as u64, true)))
                }
                Err(error) => Some((Err(error), (file, start, 0, true))),
            }
        },
    ))
}

/// The blob store handle passed around the program.
#[derive(Clone)]
pub struct BlobStore(Arc<dyn BlobBackend>);

impl BlobStore {
    pub fn new(backend: impl BlobBackend) -> Self {
        Self(Arc::new(backend))
    }

    /// Opens the store named by `url`: `file:///path` or a plain directory path; or
    /// `s3://bucket[/prefix]?...` (see [`S3Backend::open`]) with scratch files in the system's
    /// temporary directory.
    pub fn open(url: &str) -> Result<Self, BlobError> {
        Self::open_in(url, &std::env::temp_dir().join("palisade-blob-scratch"))
    }

    /// Like [`BlobStore::open`]; a remote backend keeps its scratch files (staged uploads,
    /// downloaded samples) under `scratch`.
    pub fn open_in(url: &str, scratch: &Path) -> Result<Self, BlobError> {
        Self::open_with(url, scratch, Durability::Full)
    }

    /// Like [`BlobStore::open_in`], with the durability of commits chosen: a local directory syncs
    /// each committed blob under [`Durability::Full`]; S3 has stored an object durably when it
    /// answers the upload, whatever the setting.
    pub fn open_with(url: &str, scratch: &Path, durability: Durability) -> Result<Self, BlobError> {
        if url.starts_with("s3://") {
            return Ok(Self::new(S3Backend::open(url, scratch)?));
        }
        let path = match url.strip_prefix("file://") {
            Some(path) => path,
            None if !url.contains("://") => url,
            None => return Err(BlobError::BadUrl(url.to_string())),
        };
        Ok(Self::new(LocalBackend::open(Path::new(path), durability)?))
    }

    pub fn backend(&self) -> &dyn BlobBackend {
        &*self.0
    }

    /// A local file holding the blob's bytes, for engines to read.
    pub async fn sample_file(&self, sha256: &str) -> Result<SampleFile, BlobError> {
        let backend = self.0.clone();
        let sha256 = sha256.to_string();
        run_blocking(move || backend.sample_file(&sha256)).await
    }

    /// Succeeds when the storage can be reached.
    pub async fn check(&self) -> Result<(), BlobError> {
        let backend = self.0.clone();
        run_blocking(move || backend.check().map_err(BlobError::Io)).await
    }

    /// Succeeds when the storage accepts a write.
    pub async fn probe_write(&self) -> Result<(), BlobError> {
        let backend = self.0.clone();
        run_blocking(move || backend.probe_write().map_err(BlobError::Io)).await
    }

    /// Streams the bytes `range` of a blob.
    pub async fn read_range(
        &self,
        sha256: &str,
        range: Range<u64>,
    ) -> Result<ByteStream, BlobError> {
        let backend = self.0.clone();
        let sha256 = sha256.to_string();
        run_blocking(move || backend.read_range(&sha256, range)).await
    }

    /// Removes a blob nothing refers to any more.
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        let backend = self.0.clone();
        let sha256 = sha256.to_string();
        run_blocking(move || backend.delete(&sha256).map_err(BlobError::Io)).await
    }

    pub async fn size(&self, sha256: &str) -> Result<u64, BlobError> {
        let backend = self.0.clone();
        let sha256 = sha256.to_string();
        run_blocking(move || backend.size(&sha256)).await
    }
}

/// Staged files older than this belong to a process that died: another process may share the
/// directory (a shared mount in a cluster), so only files this old are removed.
const STALE_STAGED: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes files in `dir` not modified for a day (uploads and copies of dead processes).
pub(crate) fn remove_stale_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGED);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(BlobError::Io(std::io::Error::other(join.to_string()))),
    }
}
