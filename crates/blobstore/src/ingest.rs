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
            let mut hashers = Hashers::new();
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
