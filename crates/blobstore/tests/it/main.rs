//! The blob-store conformance suite (local directory today; S3 joins in cluster mode).

use bytes::Bytes;
use palisade_blobstore::ContentEncoding::{Base64, Gzip, Identity};
use palisade_blobstore::{BlobStore, IngestError, hash_all};

fn chunks(
    parts: Vec<&'static [u8]>,
) -> impl FnMut() -> std::future::Ready<Result<Option<Bytes>, String>> {
    let mut parts: Vec<Bytes> = parts.into_iter().rev().map(Bytes::from_static).collect();
    move || std::future::ready(Ok(parts.pop()))
}

fn stored_files(root: &std::path::Path) -> usize {
    fn walk(path: &std::path::Path) -> usize {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(root)
}

#[tokio::test]
async fn ingest_hashes_in_one_pass_and_stores_each_content_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
    let first = store
        .ingest(chunks(vec![b"hello ", b"world"]), Identity, 1 << 20)
        .await
        .unwrap();
    assert_eq!(first.size, 11);
    assert_eq!(first.hashes, hash_all(b"hello world"));
    assert_eq!(first.hashes.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(
        first.hashes.sha256,
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    let again = store
        .ingest(chunks(vec![b"hello world"]), Identity, 1 << 20)
        .await
        .unwrap();
    assert_eq!(again.hashes, first.hashes);
    assert_eq!(stored_files(dir.path()), 1);
    let sample = store.sample_file(&first.hashes.sha256).await.unwrap();
    assert_eq!(std::fs::read(sample.path()).unwrap(), b"hello world");
    assert_eq!(store.size(&first.hashes.sha256).await.unwrap(), 11);
    assert!(store.sample_file(&"0".repeat(64)).await.is_err());
}

#[tokio::test]
async fn refused_and_broken_uploads_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
    let too_large = store
        .ingest(chunks(vec![b"12345", b"678"]), Identity, 6)
        .await;
    assert!(matches!(too_large, Err(IngestError::TooLarge { limit: 6 })));
    let empty = store.ingest(chunks(vec![]), Identity, 6).await;
    assert!(matches!(empty, Err(IngestError::Empty)));
    let mut calls = 0;
    let broken = store
        .ingest(
            move || {
                calls += 1;
                std::future::ready(if calls == 1 {
                    Ok(Some(Bytes::from_static(b"partial")))
                } else {
                    Err("connection reset".to_string())
                })
            },
            Identity,
            1 << 20,
        )
        .await;
    assert!(matches!(broken, Err(IngestError::Client(_))));
    assert_eq!(
        stored_files(dir.path()),
        0,
        "no blob and no staged file remains"
    );
}

fn owned_chunks(
    parts: Vec<Vec<u8>>,
) -> impl FnMut() -> std::future::Ready<Result<Option<Bytes>, String>> {
    let mut parts: Vec<Bytes> = parts.into_iter().rev().map(Bytes::from).collect();
    move || std::future::ready(Ok(parts.pop()))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn encoded_uploads_are_stored_decoded_and_limited_by_their_decoded_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
    let original: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    let compressed = gzip(&original);
    let (a, b) = compressed.split_at(compressed.len() / 3);
    let stored = store
        .ingest(owned_chunks(vec![a.to_vec(), b.to_vec()]), Gzip, 1 << 20)
        .await
        .unwrap();
    assert_eq!(stored.size, original.len() as u64);
    assert_eq!(stored.hashes, hash_all(&original));

    let text = "aGVsbG8g\r\nd29ybGQ=\n";
    let stored = store
        .ingest(
            owned_chunks(vec![
                text.as_bytes()[..5].to_vec(),
                text.as_bytes()[5..].to_vec(),
            ]),
            Base64,
            1 << 20,
        )
        .await
        .unwrap();
    assert_eq!(stored.hashes, hash_all(b"hello world"));

    // 64 MiB of zeros compress to about 64 KiB: the limit stops the decoding, nothing is kept.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let before = stored_files(dir.path());
    let refused = store.ingest(owned_chunks(vec![bomb]), Gzip, 1 << 20).await;
    assert!(matches!(refused, Err(IngestError::TooLarge { .. })));
    let broken = store
        .ingest(
            owned_chunks(vec![b"not gzip at all".to_vec()]),
            Gzip,
            1 << 20,
        )
        .await;
    assert!(matches!(broken, Err(IngestError::Client(_))));
    assert_eq!(stored_files(dir.path()), before);
    assert_eq!(
        palisade_blobstore::ContentEncoding::parse("GZIP"),
        Some(Gzip)
    );
    assert_eq!(palisade_blobstore::ContentEncoding::parse("br"), None);
}
