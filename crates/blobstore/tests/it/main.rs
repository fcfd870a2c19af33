//! The blob-store conformance suite: every check runs on a local directory and on a real
//! S3-compatible server (s3s-fs) alike.

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

/// A blob store and a way to count every file it keeps: stored blobs and staged leftovers.
struct Fixture {
    store: BlobStore,
    /// Opens another store on the same storage, as a second process would.
    reopen: Box<dyn Fn() -> BlobStore + Send + Sync>,
    /// Where staged uploads wait for their commit.
    staging: std::path::PathBuf,
    roots: Vec<std::path::PathBuf>,
    _guards: (tempfile::TempDir, Option<palisade_test_support::S3Server>),
}

impl Fixture {
    fn stored(&self) -> usize {
        self.roots.iter().map(|root| stored_files(root)).sum()
    }
}

fn local() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().to_str().unwrap().to_string();
    Fixture {
        store: BlobStore::open(&url).unwrap(),
        reopen: Box::new(move || BlobStore::open(&url).unwrap()),
        staging: dir.path().join("tmp"),
        roots: vec![dir.path().to_path_buf()],
        _guards: (dir, None),
    }
}

fn s3() -> Fixture {
    let server = palisade_test_support::S3Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let (url, path) = (server.url(), scratch.path().to_path_buf());
    Fixture {
        store: BlobStore::open_in(&url, &path).unwrap(),
        reopen: Box::new(move || BlobStore::open_in(&url, &path).unwrap()),
        staging: scratch.path().to_path_buf(),
        roots: vec![server.bucket_dir(), scratch.path().to_path_buf()],
        _guards: (scratch, Some(server)),
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::local()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = tokio::task::spawn_blocking(super::s3).await.unwrap();
                    super::$name(fixture).await;
                }
            )*
        }
    };
}

suite!(
    ingest_hashes_in_one_pass_and_stores_each_content_once,
    refused_and_broken_uploads_leave_nothing_behind,
    encoded_uploads_are_stored_decoded_and_limited_by_their_decoded_size,
    large_uploads_stream_in_and_out_in_bounded_pieces,
    a_second_process_on_the_same_storage_leaves_uploads_in_progress_alone,
    a_write_probe_succeeds_and_leaves_nothing,
    files_stored_together_are_all_readable_and_a_failure_names_its_file,
    ranges_stream_their_bytes_and_deleted_blobs_are_gone,
);

async fn files_stored_together_are_all_readable_and_a_failure_names_its_file(fixture: Fixture) {
    let sources = tempfile::tempdir().unwrap();
    // More files than one group, and the same content twice.
    let contents: Vec<Vec<u8>> = (0..300)
        .map(|i: usize| format!("member {} of an archive", i % 290).into_bytes())
        .collect();
    let paths: Vec<std::path::PathBuf> = contents
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let path = sources.path().join(format!("m{i}"));
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let store = fixture.store.clone();
    let borrowed = paths.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let paths: Vec<&std::path::Path> = borrowed.iter().map(|p| p.as_path()).collect();
        store.store_files(&paths)
    })
    .await
    .unwrap()
    .unwrap_or_else(|(index, error)| panic!("file {index}: {error}"));
    assert_eq!(stored.len(), 300);
    for (ingested, bytes) in stored.iter().zip(&contents) {
        assert_eq!(ingested.hashes, hash_all(bytes));
        assert_eq!(ingested.size, bytes.len() as u64);
        let sample = fixture
            .store
            .sample_file(&ingested.hashes.sha256)
            .await
            .unwrap();
        assert_eq!(&std::fs::read(sample.path()).unwrap(), bytes);
    }
    assert_eq!(
        fixture.stored(),
        290,
        "each content once, nothing staged left"
    );

    let mut broken = paths.clone();
    broken[270] = sources.path().join("vanished");
    let store = fixture.store.clone();
    let failed = tokio::task::spawn_blocking(move || {
        let paths: Vec<&std::path::Path> = broken.iter().map(|p| p.as_path()).collect();
        store.store_files(&paths).map(|_| ())
    })
    .await
    .unwrap();
    let (index, _) = failed.expect_err("a file that cannot be read fails the call");
    assert_eq!(index, 270);
    assert_eq!(
        std::fs::read_dir(&fixture.staging).unwrap().count(),
        0,
        "nothing staged is left behind"
    );
}

async fn a_write_probe_succeeds_and_leaves_nothing(fixture: Fixture) {
    fixture.store.probe_write().await.unwrap();
    fixture.store.probe_write().await.unwrap();
    assert_eq!(fixture.stored(), 0, "the probe removes what it wrote");
}

async fn ingest_hashes_in_one_pass_and_stores_each_content_once(fixture: Fixture) {
    let store = &fixture.store;
    store.check().await.unwrap();
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
    assert_eq!(fixture.stored(), 1);
    let sample = store.sample_file(&first.hashes.sha256).await.unwrap();
    assert_eq!(std::fs::read(sample.path()).unwrap(), b"hello world");
    assert_eq!(store.size(&first.hashes.sha256).await.unwrap(), 11);
    assert!(store.sample_file(&"0".repeat(64)).await.is_err());
}

async fn refused_and_broken_uploads_leave_nothing_behind(fixture: Fixture) {
    let store = &fixture.store;
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
    assert_eq!(fixture.stored(), 0, "no blob and no staged file remains");
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

async fn encoded_uploads_are_stored_decoded_and_limited_by_their_decoded_size(fixture: Fixture) {
    let store = &fixture.store;
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
    let before = fixture.stored();
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
    assert_eq!(fixture.stored(), before);
    assert_eq!(
        palisade_blobstore::ContentEncoding::parse("GZIP"),
        Some(Gzip)
    );
    assert_eq!(palisade_blobstore::ContentEncoding::parse("br"), None);
}

/// 40 MiB in 64 KiB network chunks (several S3 parts): stored intact, read back intact, and the
/// engines' copy of a remote blob goes away when the scan drops it.
async fn large_uploads_stream_in_and_out_in_bounded_pieces(fixture: Fixture) {
    let store = &fixture.store;
    let piece: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 % 253) as u8).collect();
    let mut whole = Vec::with_capacity(40 << 20);
    let mut parts = Vec::new();
    for n in 0..640u32 {
        let mut chunk = piece.clone();
        chunk[..4].copy_from_slice(&n.to_le_bytes());
        whole.extend_from_slice(&chunk);
        parts.push(chunk);
    }
    let stored = store
        .ingest(owned_chunks(parts), Identity, 1 << 30)
        .await
        .unwrap();
    assert_eq!(stored.size, 40 << 20);
    assert_eq!(stored.hashes, hash_all(&whole));
    assert_eq!(store.size(&stored.hashes.sha256).await.unwrap(), 40 << 20);
    let sample = store.sample_file(&stored.hashes.sha256).await.unwrap();
    let copy = std::fs::read(sample.path()).unwrap();
    assert!(copy == whole, "the blob reads back byte for byte");
    drop(sample);
    assert_eq!(fixture.stored(), 1, "one blob, no scratch copy left");
}

/// Another process opening the same storage (a shared mount, a shared scratch directory) must not
/// remove an upload in progress; only staged files a day old are garbage.
async fn a_second_process_on_the_same_storage_leaves_uploads_in_progress_alone(fixture: Fixture) {
    let backend = fixture.store.backend();
    let mut sink = tokio::task::block_in_place(|| backend.begin_upload()).unwrap();
    sink.write_chunk(b"half of an upload").unwrap();
    let dead = fixture.staging.join("left-by-a-dead-process");
    std::fs::write(&dead, b"stale").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&dead)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let _second = tokio::task::block_in_place(|| (fixture.reopen)());
    assert!(!dead.exists(), "a day-old staged file is removed");
    let hashes = hash_all(b"half of an upload");
    tokio::task::block_in_place(|| sink.commit(&hashes.sha256)).unwrap();
    let sample = fixture.store.sample_file(&hashes.sha256).await.unwrap();
    assert_eq!(std::fs::read(sample.path()).unwrap(), b"half of an upload");
}

async fn collect(stream: palisade_blobstore::ByteStream) -> Vec<u8> {
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

async fn ranges_stream_their_bytes_and_deleted_blobs_are_gone(fixture: Fixture) {
    let store = &fixture.store;
    // Larger than one read chunk, with no repeating pattern.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let stored = store
        .ingest(
            owned_chunks(content.chunks(65_536).map(<[u8]>::to_vec).collect()),
            Identity,
            1 << 20,
        )
        .await
        .unwrap();
    let sha = &stored.hashes.sha256;
    for range in [0..1, 0..300_000, 70_000..200_123, 299_990..300_000, 5..5] {
        let bytes = collect(store.read_range(sha, range.clone()).await.unwrap()).await;
        assert_eq!(
            bytes,
            &content[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }
    assert!(matches!(
        store.read_range(&"0".repeat(64), 0..1).await,
        Err(palisade_blobstore::BlobError::NotFound(_))
    ));
    store.delete(sha).await.unwrap();
    assert!(matches!(
        store.size(sha).await,
        Err(palisade_blobstore::BlobError::NotFound(_))
    ));
    assert_eq!(fixture.stored(), 0);
    store
        .delete(sha)
        .await
        .expect("deleting a deleted blob is not an error");
}
