//! The blob-store conformance suite (local directory today; S3 joins in cluster mode).

use bytes::Bytes;
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
        .ingest(chunks(vec![b"hello ", b"world"]), 1 << 20)
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
        .ingest(chunks(vec![b"hello world"]), 1 << 20)
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
    let too_large = store.ingest(chunks(vec![b"12345", b"678"]), 6).await;
    assert!(matches!(too_large, Err(IngestError::TooLarge { limit: 6 })));
    let empty = store.ingest(chunks(vec![]), 6).await;
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
