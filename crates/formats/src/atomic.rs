//! Atomic writes, of one file and of a set of files.
//!
//! **One file** ([`AtomicFile`], [`write_bytes`]): write to a temporary file
//! `.<name>.<host>.<pid>.tmp` in the destination folder, fsync, then rename
//! over the destination. Every error path (a failed write, fsync or rename,
//! or a writer dropped before commit) removes the temporary file. Only a
//! killed process leaves one behind, and the next write of the same file on
//! the same host removes it when its process is gone (the host in the name
//! keeps a job on one node of a shared file system from removing the live
//! temporary file of a job on another).
//!
//! **A set of files** ([`StagedDir`]): a CLI whose output is several files
//! (build-ckm: `bs<b>.ckm` + `quality.parquet`; run-sdusc: three tables and
//! a manifest) writes them into a staging folder `.<dir>.staging.<host>.<pid>`
//! beside the output folder and publishes the whole set at once: on Linux by
//! exchanging the two folders with `renameat2(RENAME_EXCHANGE)`, elsewhere
//! (or on a file system without it) by renaming the old folder aside and the
//! new one into place. Readers see the previous set or the new one, never a
//! mix. Files in the output folder that are not part of the set (a plot a
//! user put beside the CKMs) are carried over; folders inside it are refused
//! up front, since they cannot be carried over atomically.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The host name, for temporary names (`localhost` when it cannot be read).
fn host() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// Whether process `pid` of this host still runs (unknown ⇒ running).
fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// The suffix `<host>.<pid>` this process gives its temporary names.
fn owner_tag() -> String {
    format!("{}.{}", host(), std::process::id())
}

/// Remove the entries of `dir` named `<prefix><host>.<pid><suffix>` that
/// were left by a dead process of this host; best effort (a sweep never
/// fails a write).
fn sweep_stale(dir: &Path, prefix: &str, suffix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = host();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(tag) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.strip_suffix(suffix))
        else {
            continue;
        };
        let Some((h, pid)) = tag.rsplit_once('.') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if h != me || pid == std::process::id() || alive(pid) {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// fsync a folder, to persist renames in it (not every platform can).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

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
        let name = name.to_string_lossy();
        let prefix = format!(".{name}.");
        sweep_stale(&dir, &prefix, ".tmp");
        let tmp = dir.join(format!("{prefix}{}.tmp", owner_tag()));
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
            sync_dir(dir);
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

/// A set of output files written into a staging folder and published as a
/// whole (see the module docs). Dropped without [`commit`](StagedDir::commit)
/// (an error, a panic), the staging folder is removed and the previous set
/// stays as it was.
#[derive(Debug)]
pub struct StagedDir {
    staging: PathBuf,
    dest: PathBuf,
    /// Whether an entry name of the output folder belongs to the set.
    owns: fn(&str) -> bool,
    committed: bool,
}

impl StagedDir {
    /// Check `dest` (a folder or nothing; its parents are created) and create
    /// the staging folder beside it. `owns` names the entries of the set: an
    /// existing `dest`'s other files are carried over on commit, and a folder
    /// inside `dest` is refused now, before any work is done.
    pub fn create(dest: &Path, owns: fn(&str) -> bool) -> io::Result<Self> {
        let name = dest
            .file_name()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} does not name an output folder", dest.display()),
                )
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create folder {}: {e}", parent.display()),
            )
        })?;
        if dest.exists() {
            foreign_entries(dest, owns)?;
        }
        let prefix = format!(".{name}.staging.");
        sweep_stale(&parent, &prefix, "");
        let staging = parent.join(format!("{prefix}{}", owner_tag()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir(&staging).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create staging folder {}: {e}", staging.display()),
            )
        })?;
        Ok(Self {
            staging,
            dest: dest.to_path_buf(),
            owns,
            committed: false,
        })
    }

    /// The staging folder: write every file of the set here.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The output folder the set is published to.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Publish the set: carry over the output folder's foreign files, then
    /// put the staging folder in its place.
    pub fn commit(mut self) -> io::Result<()> {
        sync_dir(&self.staging);
        let context = |what: &str, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot {what} {}: {e}", self.dest.display()),
            )
        };
        if self.dest.exists() {
            for entry in foreign_entries(&self.dest, self.owns)? {
                carry_over(&self.dest.join(&entry), &self.staging.join(&entry))
                    .map_err(|e| context(&format!("carry {entry} over into"), e))?;
            }
            swap(&self.staging, &self.dest).map_err(|e| context("publish", e))?;
            // The staging path now holds the previous set.
            let _ = std::fs::remove_dir_all(&self.staging);
        } else {
            std::fs::rename(&self.staging, &self.dest).map_err(|e| context("publish", e))?;
        }
        self.committed = true;
        if let Some(parent) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(parent);
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// The entries of the output folder `dir` that are not part of the set and
/// not temporary files (to carry over), refusing folders and a `dir` that
/// is not a folder.
fn foreign_entries(dir: &Path, owns: fn(&str) -> bool) -> io::Result<Vec<String>> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a folder", dir.display()),
        ));
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if owns(&name) || (name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "output folder {} holds the folder `{name}`, which is not an output of this \
                     tool; expected an output folder of its own (e.g. a new subfolder)",
                    dir.display()
                ),
            ));
        }
        out.push(name);
    }
    out.sort();
    Ok(out)
}

/// Link (or, where links are not possible, copy) a file or symlink.
fn carry_over(from: &Path, to: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
    }
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}

/// Exchange the folders `staging` and `dest` at once (Linux), or rename
/// `dest` aside and `staging` into place.
fn swap(staging: &Path, dest: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, staging, CWD, dest, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            // A file system without the exchange: the fallback below.
            Err(
                rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::OPNOTSUPP,
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let aside = staging.with_extension("old");
    std::fs::rename(dest, &aside)?;
    if let Err(e) = std::fs::rename(staging, dest) {
        let _ = std::fs::rename(&aside, dest);
        return Err(e);
    }
    std::fs::rename(&aside, staging)
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

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn owns_ab(name: &str) -> bool {
        name == "a" || name == "b"
    }

    #[test]
    fn a_staged_set_replaces_the_old_one_whole_and_keeps_foreign_files() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for (n, t) in [("a", "old a"), ("b", "old b"), ("plot.png", "user's")] {
            std::fs::write(out.join(n), t).unwrap();
        }
        let set = StagedDir::create(&out, owns_ab).unwrap();
        write_bytes(&set.path().join("a"), b"new a").unwrap();
        // Until the commit the old set is untouched.
        assert_eq!(std::fs::read(out.join("b")).unwrap(), b"old b");
        set.commit().unwrap();
        assert_eq!(names(&out), ["a", "plot.png"]);
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"new a");
        assert_eq!(std::fs::read(out.join("plot.png")).unwrap(), b"user's");
        assert_eq!(names(root.path()), ["out"], "no staging folder left");
    }

    #[test]
    fn an_abandoned_set_leaves_the_old_one_and_no_staging_folder() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("a"), "old").unwrap();
        {
            let set = StagedDir::create(&out, owns_ab).unwrap();
            write_bytes(&set.path().join("a"), b"new").unwrap();
            // dropped: an error before commit
        }
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"old");
        assert_eq!(names(root.path()), ["out"]);
        // A fresh folder appears only on commit.
        let fresh = root.path().join("deep/new");
        let set = StagedDir::create(&fresh, owns_ab).unwrap();
        assert!(!fresh.exists());
        set.commit().unwrap();
        assert!(fresh.is_dir());
    }

    #[test]
    fn an_output_folder_holding_folders_is_refused_up_front() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir_all(out.join("ckm")).unwrap();
        let err = StagedDir::create(&out, owns_ab).unwrap_err();
        assert!(err.to_string().contains("holds the folder `ckm`"), "{err}");
        let file = root.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = StagedDir::create(&file, owns_ab).unwrap_err();
        assert!(err.to_string().contains("is not a folder"), "{err}");
        assert_eq!(names(root.path()), ["file", "out"]);
    }

    #[test]
    fn temporary_files_of_dead_processes_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let h = host();
        // A pid that cannot exist (above the kernel's pid_max of 2^22), and
        // this very process's parent, which is alive.
        let dead = dir.path().join(format!(".x.bin.{h}.4294967.tmp"));
        let live = dir.path().join(format!(
            ".x.bin.{h}.{}.tmp",
            std::os::unix::process::parent_id()
        ));
        let other_host = dir.path().join(".x.bin.elsewhere.4294967.tmp");
        for p in [&dead, &live, &other_host] {
            std::fs::write(p, "partial").unwrap();
        }
        write_bytes(&dir.path().join("x.bin"), b"ok").unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(other_host.exists());
        let stale = dir.path().join(format!(".out.staging.{h}.4294967"));
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("a"), "partial").unwrap();
        StagedDir::create(&dir.path().join("out"), owns_ab).unwrap();
        assert!(!stale.exists());
    }
}
