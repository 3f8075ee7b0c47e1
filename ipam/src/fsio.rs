//! Small file-system primitives with errors that keep the path, the operation and the errno:
//! flock, crash-safe writes (temp file, fsync, link or rename), directory fsync.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
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

/// Writes `contents` to a new file in `tmp_dir` (fsynced when `sync`) and returns its path.
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
            f.sync_all().map_err(io_err(&path, "fsync"))?;
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

pub(crate) fn fsync_dir(dir: &Path) -> Result<(), IpamError> {
    let d = File::open(dir).map_err(io_err(dir, "open directory"))?;
    d.sync_all().map_err(io_err(dir, "fsync directory"))
}

/// Replaces `dst` atomically with `contents` (temp file in `tmp_dir`, rename). With `durable`,
/// the data and the rename are fsynced before returning.
pub(crate) fn replace(
    tmp_dir: &Path,
    dst: &Path,
    contents: &[u8],
    durable: bool,
) -> Result<(), IpamError> {
    let tmp = write_temp(tmp_dir, contents, durable)?;
    if let Err(e) = fs::rename(&tmp, dst) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(dst, "rename")(e));
    }
    match (durable, dst.parent()) {
        (true, Some(parent)) => fsync_dir(parent),
        _ => Ok(()),
    }
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
