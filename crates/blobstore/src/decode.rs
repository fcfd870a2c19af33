//! `content-encoding` of uploads (`gzip`, `base64`): decoded on the writing thread as a stream, so
//! memory stays bounded and the size limit applies to the decoded bytes.

use std::io::Read;

use tokio::sync::mpsc;

use crate::BlobBackend;
use crate::ingest::{Hashers, IngestError, Ingested, Message};

/// How the body of an upload is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Base64,
}

impl ContentEncoding {
    /// Parses a `content-encoding` header value; `None` for an encoding Palisade does not decode.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "identity" | "binary" => Some(Self::Identity),
            "gzip" | "x-gzip" => Some(Self::Gzip),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }
}

/// Reads the upload's chunks from the channel as a byte stream.
struct ChannelReader {
    receiver: mpsc::Receiver<Message>,
    current: bytes::Bytes,
    finished: bool,
    abandoned: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.finished {
                return Ok(0);
            }
            match self.receiver.blocking_recv() {
                Some(Message::Chunk(chunk)) => self.current = chunk,
                Some(Message::Finish) => self.finished = true,
                None => {
                    self.abandoned = true;
                    return Err(std::io::Error::other("upload abandoned"));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Drops ASCII whitespace (line breaks in base64 bodies).
struct SkipWhitespace<R>(R);

impl<R: Read> Read for SkipWhitespace<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.0.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                if !buf[i].is_ascii_whitespace() {
                    buf[kept] = buf[i];
                    kept += 1;
                }
            }
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// Decodes the upload from `receiver` and stores the decoded bytes (blocking).
pub(crate) fn store_decoded(
    backend: &dyn BlobBackend,
    receiver: mpsc::Receiver<Message>,
    encoding: ContentEncoding,
    max_size: u64,
) -> Result<Ingested, IngestError> {
    let started = std::time::Instant::now();
    let mut source = ChannelReader {
        receiver,
        current: bytes::Bytes::new(),
        finished: false,
        abandoned: false,
    };
    let mut sink = backend.begin_upload()?;
    let mut hashers = Hashers::new();
    let outcome = decode_body(encoding, &mut source, max_size, &mut |chunk| {
        hashers.update(chunk);
        sink.write_chunk(chunk)
    });
    if source.abandoned {
        sink.abort();
        return Err(IngestError::Client("upload abandoned".into()));
    }
    let size = match outcome {
        Ok(size) => size,
        Err(error) => {
            sink.abort();
            return Err(error);
        }
    };
    if size == 0 {
        sink.abort();
        return Err(IngestError::Empty);
    }
    crate::ingest::commit(sink, hashers.finish(), size, started)
}

/// Decodes `source` as `encoding` and hands the decoded bytes to `out` in pieces of at most
/// 256 KiB; returns how many there were. Refuses more than `max_size` decoded bytes
/// ([`IngestError::TooLarge`]) and undecodable input ([`IngestError::Client`]); errors from `out`
/// are storage errors. Public for the fuzz targets in `fuzz/`.
pub fn decode_body(
    encoding: ContentEncoding,
    source: &mut dyn Read,
    max_size: u64,
    out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, IngestError> {
    let mut decoded: Box<dyn Read + '_> = match encoding {
        ContentEncoding::Identity => Box::new(source),
        ContentEncoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
        ContentEncoding::Base64 => Box::new(base64::read::DecoderReader::new(
            SkipWhitespace(source),
            &base64::engine::general_purpose::STANDARD,
        )),
    };
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        match decoded.read(&mut buffer) {
            Ok(0) => return Ok(size),
            Ok(n) => {
                size += n as u64;
                if size > max_size {
                    return Err(IngestError::TooLarge { limit: max_size });
                }
                out(&buffer[..n])?;
            }
            Err(error) => {
                return Err(IngestError::Client(format!(
                    "content-encoding {encoding:?} could not be decoded: {error}"
                )));
            }
        }
    }
}
