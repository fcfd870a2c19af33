//! The local-directory backend: `blobs/ab/cd/<sha256>` with uploads staged under `tmp/`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{BlobBackend, BlobError, BlobSink, SampleFile};

/// Blobs in a directory on a local (or shared) filesystem.
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(root.join("tmp"))?;
        fs::create_dir_all(root.join("blobs"))?;
        // Staged uploads that never committed are garbage once old; recent ones may be another
        // process's uploads in progress when the directory is shared.
        crate::remove_stale_files(&root.join("tmp"))?;
        Ok(Self {
            root: root.to_path_buf(),
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
        } = *self;
        file.into_inner().map_err(|e| e.into_error())?;
        let dir = final_dir.join(&sha256[0..2]).join(&sha256[2..4]);
        let target = dir.join(sha256);
        // Identical content may already be there: replacing it with the same bytes is harmless, and
        // trying the rename first spares the directory checks on the common path.
        match fs::rename(&temp_path, &target) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir)?;
                fs::rename(&temp_path, &target)
            }
            other => other,
        }
    }

    fn abort(self: Box<Self>) {
        let _ = fs::remove_file(&self.temp_path);
    }
}

impl BlobBackend for LocalBackend {
    fn begin_upload(&self) -> std::io::Result<Box<dyn BlobSink>> {
        let temp_path = self.root.join("tmp").join(palisade_model::random_hex(16));
        let file = BufWriter::with_capacity(256 * 1024, File::create(&temp_path)?);
        Ok(Box::new(LocalSink {
            temp_path,
            file,
            final_dir: self.root.join("blobs"),
        }))
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
