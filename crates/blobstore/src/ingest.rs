//! Streaming ingest: body chunks go to a blocking thread that hashes and writes them in one pass.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use md5::Digest;
use palisade_model::FileHashes;
use tokio::sync::mpsc;

use crate::BlobStore;
use crate::decode::ContentEncoding;

/// What went wrong while taking an upload in.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("file is larger than the {limit} bytes permitted")]
    TooLarge { limit: u64 },
    #[error("file is empty")]
    Empty,
    #[error("upload interrupted: {0}")]
    Client(String),
    #[error("storage failed: {0}")]
    Storage(#[from] std::io::Error),
}

/// A committed upload: its digests and size.
#[derive(Clone, Debug)]
pub struct Ingested {
    pub hashes: FileHashes,
    pub size: u64,
    /// Milliseconds spent hashing and writing, on the ingest thread.
    pub hash_time_ms: i64,
}

/// Files of [`BlobStore::store_files`] made durable together (and kept open until then).
const FILE_GROUP: usize = 256;

/// Copies the file at `path` into `sink`, hashing it on the way, and commits it.
fn copy_into(
    mut sink: Box<dyn crate::BlobSink>,
    path: &Path,
    buf: &mut [u8],
) -> Result<Ingested, IngestError> {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut hashers = Hashers::new();
    let mut size = 0u64;
    let copied = (|| {
        let mut file = std::fs::File::open(path)?;
        loop {
            let n = file.read(buf)?;
            if n == 0 {
                return Ok(());
            }
            hashers.update(&buf[..n]);
            sink.write_chunk(&buf[..n])?;
            size += n as u64;
        }
    })();
    if let Err(error) = copied {
        sink.abort();
        return Err(IngestError::Storage(error));
    }
    commit(sink, hashers.finish(), size, started)
}

/// Commits a complete upload under its digest, with how long taking it in took since `started`.
pub(crate) fn commit(
    sink: Box<dyn crate::BlobSink>,
    hashes: FileHashes,
    size: u64,
    started: std::time::Instant,
) -> Result<Ingested, IngestError> {
    sink.commit(&hashes.sha256)?;
    Ok(Ingested {
        hashes,
        size,
        hash_time_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    })
}

/// Bytes gathered before handing them to the hashing thread.
const HANDOFF_BYTES: usize = 256 * 1024;

pub(crate) enum Message {
    Chunk(Bytes),
    Finish,
}

/// md5, sha1, sha256 and sha512 computed together over a stream of chunks.
pub struct Hashers {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    sha512: sha2::Sha512,
}

impl Default for Hashers {
    fn default() -> Self {
        Self::new()
    }
}

impl Hashers {
    pub fn new() -> Self {
        Self {
            md5: md5::Md5::new(),
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            sha512: sha2::Sha512::new(),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.sha512.update(bytes);
    }

    pub fn finish(self) -> FileHashes {
        FileHashes {
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        }
    }
}

/// Bytes of a stream after which sha512 moves to a thread of its own.
const PARALLEL_AFTER: u64 = 8 << 20;

/// Chunks queued for the sha512 thread at most (each at most [`HANDOFF_BYTES`]).
const PARALLEL_QUEUE: usize = 8;

/// The four digests of a stream of shared chunks, for uploads. Small streams are hashed in one
/// pass like [`Hashers`]; once a stream passes [`PARALLEL_AFTER`] bytes, sha512 and md5 (here
/// the two slowest digests, together about four fifths of the work) continue on threads of
/// their own, fed the same chunks through bounded queues, so a large upload is hashed on every
/// core with at most a few MiB held.
pub struct StreamHashers {
    md5: Lane<md5::Md5>,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    sha512: Lane<sha2::Sha512>,
    size: u64,
}

/// A digest computed on the calling thread, or on a thread of its own.
enum Lane<D> {
    Inline(D),
    Thread {
        queue: std::sync::mpsc::SyncSender<Bytes>,
        thread: std::thread::JoinHandle<D>,
    },
    /// Only while moving from one to the other.
    Moving,
}

impl<D: Digest + Clone + Send + 'static> Lane<D> {
    fn update(&mut self, chunk: &Bytes) {
        match self {
            Lane::Inline(digest) => digest.update(chunk),
            Lane::Thread { queue, .. } => {
                // The thread ends only when the queue closes; a send cannot fail before.
                let _ = queue.send(chunk.clone());
            }
            Lane::Moving => unreachable!("a digest is always somewhere"),
        }
    }

    /// Hands the digest's state to a thread of its own; if no thread can be started, it stays.
    fn move_to_thread(&mut self, name: &str) {
        let Lane::Inline(digest) = std::mem::replace(self, Lane::Moving) else {
            return;
        };
        let (queue, chunks) = std::sync::mpsc::sync_channel::<Bytes>(PARALLEL_QUEUE);
        let mut state = digest.clone();
        let started = std::thread::Builder::new()
            .name(format!("palisade-{name}"))
            .spawn(move || {
                for chunk in chunks {
                    state.update(&chunk);
                }
                state
            });
        *self = match started {
            Ok(thread) => Lane::Thread { queue, thread },
            Err(_) => Lane::Inline(digest),
        };
    }

    fn finish(self) -> D {
        match self {
            Lane::Inline(digest) => digest,
            Lane::Thread { queue, thread } => {
                drop(queue);
                match thread.join() {
                    Ok(digest) => digest,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Lane::Moving => unreachable!("a digest is always somewhere"),
        }
    }

    fn on_thread(&self) -> bool {
        matches!(self, Lane::Thread { .. })
    }
}

impl Default for StreamHashers {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamHashers {
    pub fn new() -> Self {
        Self {
            md5: Lane::Inline(md5::Md5::new()),
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            sha512: Lane::Inline(sha2::Sha512::new()),
            size: 0,
        }
    }

    pub fn update(&mut self, chunk: &Bytes) {
        self.size += chunk.len() as u64;
        if self.size > PARALLEL_AFTER && !self.sha512.on_thread() {
            self.sha512.move_to_thread("sha512");
            self.md5.move_to_thread("md5");
        }
        // The threads start on this chunk before this thread hashes it.
        self.sha512.update(chunk);
        self.md5.update(chunk);
        self.sha1.update(chunk);
        self.sha256.update(chunk);
    }

    pub fn finish(self) -> FileHashes {
        FileHashes {
            md5: hex::encode(self.md5.finish().finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finish().finalize()),
        }
    }
}

/// Hashes `bytes` with all four digests in one pass (used by tests and benchmarks as the reference rate).
pub fn hash_all(bytes: &[u8]) -> FileHashes {
    let mut hashers = Hashers::new();
    hashers.update(bytes);
    hashers.finish()
}

impl BlobStore {
    /// Stores files already on local disk (extracted archive members), hashing each as it is
    /// copied, and makes them durable together: when this returns, every one is stored (synced,
    /// where the store syncs) and readable under its digest. Blocking; empty files are accepted.
    /// On failure, the index of the file that failed (files of its group are not kept).
    pub fn store_files(&self, paths: &[&Path]) -> Result<Vec<Ingested>, (usize, IngestError)> {
        let mut buf = vec![0u8; HANDOFF_BYTES];
        let mut stored = Vec::with_capacity(paths.len());
        for (first, group_paths) in (0..).step_by(FILE_GROUP).zip(paths.chunks(FILE_GROUP)) {
            let mut group = self.0.begin_group();
            for (offset, path) in group_paths.iter().enumerate() {
                let sink = match &mut group {
                    Some(group) => group.begin_upload(),
                    None => self.0.begin_upload(),
                };
                let ingested = sink
                    .map_err(IngestError::from)
                    .and_then(|sink| copy_into(sink, path, &mut buf))
                    .map_err(|error| (first + offset, error))?;
                stored.push(ingested);
            }
            if let Some(group) = group {
                group
                    .finish()
                    .map_err(|error| (first, IngestError::from(error)))?;
            }
        }
        Ok(stored)
    }

    /// Stores a small upload already in memory, hashing it in the same pass. Blocking.
    pub fn store_bytes(&self, bytes: &[u8]) -> Result<Ingested, IngestError> {
        if bytes.is_empty() {
            return Err(IngestError::Empty);
        }
        let started = std::time::Instant::now();
        let hashes = hash_all(bytes);
        let mut sink = self.0.begin_upload()?;
        if let Err(error) = sink.write_chunk(bytes) {
            sink.abort();
            return Err(error.into());
        }
        commit(sink, hashes, bytes.len() as u64, started)
    }

    /// Takes an upload in from a stream of chunks, never holding more than a few chunks in memory.
    ///
    /// `next_chunk` yields `Ok(Some(bytes))` per chunk, `Ok(None)` at the end. Nothing is stored
    /// when the upload is empty, exceeds `max_size` or fails midway.
    pub async fn ingest<F, Fut, E>(
        &self,
        mut next_chunk: F,
        encoding: ContentEncoding,
        max_size: u64,
    ) -> Result<Ingested, IngestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, E>>,
        E: std::fmt::Display,
    {
        let (sender, mut receiver) = mpsc::channel::<Message>(4);
        let backend = self.0.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<Ingested, IngestError> {
            if encoding != ContentEncoding::Identity {
                return crate::decode::store_decoded(&*backend, receiver, encoding, max_size);
            }
            let started = std::time::Instant::now();
            let mut sink = backend.begin_upload()?;
            let mut hashers = StreamHashers::new();
            let mut size = 0u64;
            loop {
                match receiver.blocking_recv() {
                    Some(Message::Chunk(chunk)) => {
                        size += chunk.len() as u64;
                        hashers.update(&chunk);
                        if let Err(e) = sink.write_chunk(&chunk) {
                            sink.abort();
                            return Err(e.into());
                        }
                    }
                    Some(Message::Finish) => break,
                    None => {
                        // The request side gave up: keep nothing of a partial upload.
                        sink.abort();
                        return Err(IngestError::Client("upload abandoned".into()));
                    }
                }
            }
            commit(sink, hashers.finish(), size, started)
        });
        let mut received = 0u64;
        // Network frames are small; gathering them into larger pieces wakes the hashing thread
        // far less often.
        let mut pending = BytesMut::new();
        let outcome = loop {
            match next_chunk().await {
                Ok(Some(chunk)) => {
                    received += chunk.len() as u64;
                    // Encoded bodies are limited by their decoded size, on the writing thread.
                    if encoding == ContentEncoding::Identity && received > max_size {
                        break Err(IngestError::TooLarge { limit: max_size });
                    }
                    pending.extend_from_slice(&chunk);
                    if pending.len() < HANDOFF_BYTES {
                        continue;
                    }
                    let piece = pending.split().freeze();
                    if sender.send(Message::Chunk(piece)).await.is_err() {
                        // The writer stopped (a storage error); its result says why.
                        break Ok(());
                    }
                }
                Ok(None) if received == 0 => break Err(IngestError::Empty),
                Ok(None) => {
                    if !pending.is_empty() {
                        let _ = sender.send(Message::Chunk(pending.split().freeze())).await;
                    }
                    break Ok(());
                }
                Err(e) => break Err(IngestError::Client(e.to_string())),
            }
        };
        match outcome {
            Ok(()) => {
                let _ = sender.send(Message::Finish).await;
                drop(sender);
                match writer.await {
                    Ok(result) => result,
                    Err(join) => Err(IngestError::Storage(std::io::Error::other(
                        join.to_string(),
                    ))),
                }
            }
            Err(error) => {
                // Closing the channel without `Finish` makes the writer discard the partial upload.
                drop(sender);
                let _ = writer.await;
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_digests_match_one_pass_before_and_after_sha512_moves_to_its_thread() {
        let data: Vec<u8> = (0..(20u32 << 20)).map(|i| (i * 31 % 251) as u8).collect();
        for length in [0, 1, 300_000, PARALLEL_AFTER as usize, data.len()] {
            let whole = &data[..length];
            let mut hashers = StreamHashers::new();
            // Uneven chunks, as the network delivers them.
            let mut at = 0;
            let mut step = 1;
            while at < whole.len() {
                let end = (at + step).min(whole.len());
                hashers.update(&Bytes::copy_from_slice(&whole[at..end]));
                at = end;
                step = step * 7 % HANDOFF_BYTES + 1;
            }
            let moved = hashers.sha512.on_thread() && hashers.md5.on_thread();
            assert_eq!(moved, length as u64 > PARALLEL_AFTER, "{length}");
            assert_eq!(hashers.finish(), hash_all(whole), "{length} bytes");
        }
    }
}
