//! The local-directory backend: `blobs/ab/cd/<sha256>` with uploads staged under `tmp/`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use palisade_model::Durability;

use crate::{BlobBackend, BlobError, BlobSink, ByteStream, SampleFile, UploadGroup};

/// Blobs in a directory on a local (or shared) filesystem.
pub struct LocalBackend {
    root: PathBuf,
    durability: Durability,
}

impl LocalBackend {
    /// Opens (creating) the store in `root`. With [`Durability::Full`], a committed blob's bytes
    /// and its directory entry are synced before the commit returns.
    pub fn open(root: &Path, durability: Durability) -> std::io::Result<Self> {
        fs::create_dir_all(root.join("tmp"))?;
        fs::create_dir_all(root.join("blobs"))?;
        if durability.syncs() {
            sync_dir(root)?;
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        // Staged uploads that never committed are garbage once old; recent ones may be another
        // process's uploads in progress when the directory is shared.
        crate::remove_stale_files(&root.join("tmp"))?;
        Ok(Self {
            root: root.to_path_buf(),
            durability,
        })
    }

    fn blob_path(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::NotFound(sha256.to_string()));
        }
        Ok(self
            .root
            .join("blobs")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256))
    }
}

struct LocalSink {
    temp_path: PathBuf,
    file: BufWriter<File>,
    final_dir: PathBuf,
    durability: Durability,
    /// Set for uploads of a group: `commit` leaves the upload here for the group to finish.
    group: Option<Arc<Mutex<Vec<Staged>>>>,
}

/// A complete upload of a group, still under its staging name.
struct Staged {
    file: File,
    temp_path: PathBuf,
    sha256: String,
}

/// Where a blob lives under `blobs`: its shard directory's parent, the shard, and the file.
fn placement(blobs: &Path, sha256: &str) -> (PathBuf, PathBuf, PathBuf) {
    let shard = blobs.join(&sha256[0..2]);
    let dir = shard.join(&sha256[2..4]);
    let target = dir.join(sha256);
    (shard, dir, target)
}

/// Renames a staged upload to `target`, creating its shard directories when they are missing;
/// `true` when it had to.
fn rename_into_place(temp_path: &Path, dir: &Path, target: &Path) -> std::io::Result<bool> {
    // Identical content may already be there: replacing it with the same bytes is harmless, and
    // trying the rename first spares the directory checks on the common path.
    match fs::rename(temp_path, target) {
        Ok(()) => Ok(false),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            fs::rename(temp_path, target)?;
            Ok(true)
        }
        Err(error) => Err(error),
    }
}

/// Threads a group syncs its files with: the waits overlap, so the disk sees a few flushes
/// instead of one per file.
const SYNC_THREADS: usize = 16;

/// Runs `sync` over `items` on up to [`SYNC_THREADS`] threads; the first error wins.
fn sync_in_parallel<T: Sync>(
    items: &[T],
    sync: impl Fn(&T) -> std::io::Result<()> + Sync,
) -> std::io::Result<()> {
    let threads = items.len().clamp(1, SYNC_THREADS);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|first| {
                let sync = &sync;
                scope.spawn(move || items.iter().skip(first).step_by(threads).try_for_each(sync))
            })
            .collect();
        // Every thread is joined (the scope would anyway); the first error is the answer.
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("sync thread panicked")))
        })
    })
}

/// Uploads of a local store made durable together (see [`UploadGroup`]).
struct LocalGroup {
    root: PathBuf,
    staged: Arc<Mutex<Vec<Staged>>>,
}

impl LocalGroup {
    fn take_staged(&self) -> Vec<Staged> {
        std::mem::take(&mut *self.staged.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl UploadGroup for LocalGroup {
    fn begin_upload(&mut self) -> std::io::Result<Box<dyn BlobSink>> {
        let mut sink = new_sink(&self.root, Durability::Full)?;
        sink.group = Some(self.staged.clone());
        Ok(Box::new(sink))
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        let staged = self.take_staged();
        let result = (|| {
            sync_in_parallel(&staged, |upload| upload.file.sync_data())?;
            let blobs = self.root.join("blobs");
            let mut dirs = std::collections::BTreeSet::new();
            let mut created = false;
            for upload in &staged {
                let (shard, dir, target) = placement(&blobs, &upload.sha256);
                if rename_into_place(&upload.temp_path, &dir, &target)? {
                    created = true;
                    dirs.insert(shard);
                }
                dirs.insert(dir);
            }
            if created {
                dirs.insert(blobs);
            }
            let dirs: Vec<PathBuf> = dirs.into_iter().collect();
            sync_in_parallel(&dirs, |dir| sync_dir(dir))
        })();
        if result.is_err() {
            for upload in &staged {
                let _ = fs::remove_file(&upload.temp_path);
            }
        }
        result
    }
}

impl Drop for LocalGroup {
    fn drop(&mut self) {
        // A group dropped without `finish` keeps nothing of its uploads.
        for upload in self.take_staged() {
            let _ = fs::remove_file(&upload.temp_path);
        }
    }
}

fn new_sink(root: &Path, durability: Durability) -> std::io::Result<LocalSink> {
    let temp_path = root.join("tmp").join(palisade_model::random_hex(16));
    let file = BufWriter::with_capacity(256 * 1024, File::create(&temp_path)?);
    Ok(LocalSink {
        temp_path,
        file,
        final_dir: root.join("blobs"),
        durability,
        group: None,
    })
}

/// Syncs a directory, so that the entries created, renamed or removed in it are on stable storage.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl BlobSink for LocalSink {
    fn write_chunk(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)
    }

    fn commit(self: Box<Self>, sha256: &str) -> std::io::Result<()> {
        let LocalSink {
            temp_path,
            file,
            final_dir,
            durability,
            group,
        } = *self;
        let file = match file.into_inner() {
            Ok(file) => file,
            Err(error) => {
                let _ = fs::remove_file(&temp_path);
                return Err(error.into_error());
            }
        };
        if let Some(group) = group {
            let staged = Staged {
                file,
                temp_path,
                sha256: sha256.to_string(),
            };
            group.lock().unwrap_or_else(|e| e.into_inner()).push(staged);
            return Ok(());
        }
        // The bytes reach the disk before the name does: a blob is never found under its digest
        // with content that a power cut cut short.
        if durability.syncs() {
            file.sync_data()?;
        }
        drop(file);
        let (shard, dir, target) = placement(&final_dir, sha256);
        let created_dirs = rename_into_place(&temp_path, &dir, &target)?;
        if durability.syncs() {
            sync_dir(&dir)?;
            // New shard directories are entries of their parents, which must last too.
            if created_dirs {
                sync_dir(&shard)?;
                sync_dir(&final_dir)?;
            }
        }
        Ok(())
    }

    fn abort(self: Box<Self>) {
        let _ = fs::remove_file(&self.temp_path);
    }
}

impl BlobBackend for LocalBackend {
    fn begin_upload(&self) -> std::io::Result<Box<dyn BlobSink>> {
        Ok(Box::new(new_sink(&self.root, self.durability)?))
    }

    fn begin_group(&self) -> Option<Box<dyn UploadGroup>> {
        // Without syncs, committing each upload at once costs nothing to group.
        self.durability.syncs().then(|| {
            Box::new(LocalGroup {
                root: self.root.clone(),
                staged: Arc::default(),
            }) as Box<dyn UploadGroup>
        })
    }

    fn sample_file(&self, sha256: &str) -> Result<SampleFile, BlobError> {
        let path = self.blob_path(sha256)?;
        if !path.exists() {
            return Err(BlobError::NotFound(sha256.to_string()));
        }
        Ok(SampleFile::stored(path))
    }

    fn exists(&self, sha256: &str) -> std::io::Result<bool> {
        Ok(self.blob_path(sha256).map(|p| p.exists()).unwrap_or(false))
    }

    fn read_range(&self, sha256: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        let path = self.blob_path(sha256)?;
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(sha256.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(crate::file_stream(
            file,
            range.start,
            range.end.saturating_sub(range.start),
        ))
    }

    fn delete(&self, sha256: &str) -> std::io::Result<()> {
        let Ok(path) = self.blob_path(sha256) else {
            return Ok(());
        };
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn size(&self, sha256: &str) -> Result<u64, BlobError> {
        let path = self.blob_path(sha256)?;
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound(sha256.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn check(&self) -> std::io::Result<()> {
        fs::read_dir(self.root.join("blobs")).map(|_| ())
    }

    fn probe_write(&self) -> std::io::Result<()> {
        let path = self
            .root
            .join("tmp")
            .join(format!("probe-{}", palisade_model::random_hex(8)));
        let written = (|| {
            let mut file = File::create(&path)?;
            file.write_all(b"palisade write probe")?;
            file.sync_all()
        })();
        let _ = fs::remove_file(&path);
        written
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }
}
