//! Atomic file writes: write to a temporary file in the destination folder,
//! fsync, then rename over the destination. Every error path (a failed
//! write, fsync or rename, or a writer dropped before commit) removes the
//! temporary file; only a killed process can leave a stray `.tmp` behind,
//! never a truncated artifact under the final name.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; becomes visible under its final name on [`commit`](AtomicFile::commit).
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
    /// Renamed into place: the temporary file no longer exists.
    committed: bool,
}

impl AtomicFile {
    /// Create the temporary file beside `dest` (the folder must exist).
    pub fn create(dest: &Path) -> io::Result<Self> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("output folder {} does not exist", dir.display()),
            ));
        }
        let name = dest.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a file path", dest.display()),
            )
        })?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&tmp).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", tmp.display()))
        })?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(file),
            committed: false,
        })
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file is open until commit")
    }

    /// A clone of the handle, for writers that take ownership (e.g. Parquet's).
    pub fn try_clone(&self) -> io::Result<File> {
        self.file
            .as_ref()
            .expect("file is open until commit")
            .try_clone()
    }

    /// fsync and rename into place; on error the temporary file is removed
    /// (by `Drop`).
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("commit once");
        file.sync_all().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot sync {}: {e}", self.tmp.display()))
        })?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot rename {} to {}: {e}",
                    self.tmp.display(),
                    self.dest.display()
                ),
            )
        })?;
        self.committed = true;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename; not all platforms can fsync a directory.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Close before removing (required on some platforms).
        drop(self.file.take());
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `dest` atomically.
pub fn write_bytes(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(dest)?;
    {
        let mut w = BufWriter::new(f.file());
        w.write_all(bytes)?;
        w.flush()?;
    }
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_publishes_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.bin");
        write_bytes(&dest, b"hello").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        {
            let mut f = AtomicFile::create(&dir.path().join("b.bin")).unwrap();
            f.file().write_all(b"partial").unwrap();
            // dropped without commit
        }
        assert!(!dir.path().join("b.bin").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_rename_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The destination is a folder: the rename over it fails.
        let dest = dir.path().join("out.parquet");
        std::fs::create_dir(&dest).unwrap();
        let err = write_bytes(&dest, b"complete").unwrap_err();
        assert!(err.to_string().contains("cannot rename"), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["out.parquet".to_string()], "{left:?}");
        assert!(dest.is_dir());
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let err = AtomicFile::create(Path::new("/nonexistent-dir-xyz/a.bin")).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
