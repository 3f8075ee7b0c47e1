//! Small file-system primitives with errors that keep the path, the operation and the errno:
//! flock, crash-safe writes (temp file, fsync, link or rename), directory listing.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::IpamError;

pub(crate) fn io_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> IpamError {
    let path = path.to_path_buf();
    move |source| IpamError::Io { path, op, source }
}

pub(crate) fn mkdir_all(path: &Path) -> Result<(), IpamError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(io_err(path, "mkdir"))
}

/// An open file with an exclusive flock on it; closing it (drop) unlocks.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

/// Opens (creating) `path` and takes an exclusive flock, waiting for it. flock belongs to the
/// open file description, so two opens exclude each other even within one process.
pub(crate) fn lock_exclusive(path: &Path) -> Result<FileLock, IpamError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path, "open lock file"))?;
    loop {
        // SAFETY: flock on a file descriptor we own and keep open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(FileLock { _file: file });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(io_err(path, "flock")(err));
        }
    }
}

/// Writes `contents` to a new file in `tmp_dir` (its data fsynced when `sync`: `fdatasync`,
/// which also syncs the size needed to read it back) and returns its path.
/// The name starts with '.' and never parses as an address.
pub(crate) fn write_temp(
    tmp_dir: &Path,
    contents: &[u8],
    sync: bool,
) -> Result<PathBuf, IpamError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = tmp_dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .map_err(io_err(&path, "create"))?;
        f.write_all(contents).map_err(io_err(&path, "write"))?;
        if sync {
            f.sync_data().map_err(io_err(&path, "fsync"))?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Links `src` to the new name `dst`; `Ok(false)` if `dst` exists (it is never replaced).
pub(crate) fn link_new(src: &Path, dst: &Path) -> Result<bool, IpamError> {
    match fs::hard_link(src, dst) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(dst, "link")(e)),
    }
}

/// Replaces `dst` atomically with `contents` (temp file in `tmp_dir`, rename), without fsync:
/// every process sees the old or the new file, never a torn one; after a power loss it may be
/// old, torn or empty (callers only use this for files that tolerate that, see `disk`).
pub(crate) fn replace(tmp_dir: &Path, dst: &Path, contents: &[u8]) -> Result<(), IpamError> {
    let tmp = write_temp(tmp_dir, contents, false)?;
    if let Err(e) = fs::rename(&tmp, dst) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(dst, "rename")(e));
    }
    Ok(())
}

/// Creates `path`, which must not exist, holding `contents` (not fsynced).
pub(crate) fn create_new(path: &Path, contents: &[u8]) -> Result<(), IpamError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path, "create"))?;
    f.write_all(contents).map_err(io_err(path, "write"))
}

/// Appends `contents` to the existing file `path` (not fsynced).
pub(crate) fn append(path: &Path, contents: &[u8]) -> Result<(), IpamError> {
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path, "open"))?;
    f.write_all(contents).map_err(io_err(path, "write"))
}

/// Overwrites `path` (creating it if needed) with `contents` in place: write from offset 0,
/// then cut the file to that length; not fsynced. Cheaper than a temp file and a rename (no
/// inode created or freed), but NOT atomic: a crash in between leaves a mix of old and new
/// bytes. Only for files whose readers detect that or do not care (see `disk`).
pub(crate) fn overwrite(path: &Path, contents: &[u8]) -> Result<(), IpamError> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path, "open"))?;
    f.write_all_at(contents, 0).map_err(io_err(path, "write"))?;
    f.set_len(contents.len() as u64)
        .map_err(io_err(path, "truncate"))
}

/// The file's bytes, or `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, IpamError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, "read")(e)),
    }
}

/// Removes a file; `Ok(false)` if it was already gone.
pub(crate) fn remove_optional(path: &Path) -> Result<bool, IpamError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path, "unlink")(e)),
    }
}

/// One directory entry as `readdir` gives it, without opening or stat-ing the file (the type
/// comes from `d_type` where the file system fills it in).
#[derive(Debug)]
pub(crate) struct DirEnt {
    pub name: String,
    pub ino: u64,
    pub is_dir: bool,
}

/// A directory's entries with their inode numbers and whether they are directories (a symlink
/// is not: it is followed when read). Names that are not UTF-8 are skipped: none are ours.
pub(crate) fn dir_entries(dir: &Path) -> Result<Vec<DirEnt>, IpamError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir, "read directory"))? {
        let entry = entry.map_err(io_err(dir, "read directory"))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = entry.file_type().map_err(io_err(&entry.path(), "stat"))?;
        out.push(DirEnt {
            name,
            ino: entry.ino(),
            is_dir: kind.is_dir(),
        });
    }
    Ok(out)
}

/// The names of a directory's entries (names that are not UTF-8 are skipped: none of ours).
pub(crate) fn dir_names(dir: &Path) -> Result<Vec<String>, IpamError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir, "read directory"))? {
        let entry = entry.map_err(io_err(dir, "read directory"))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}
