//! Small file-system primitives with errors that keep the path, the operation and the errno:
//! flock, crash-safe writes (temp file, fsync, link or rename), directory listing.
//!
//! Nothing here follows a symlink or opens a FIFO or device planted under one of the store's
//! names: every open is `O_NOFOLLOW | O_NONBLOCK` and checks the file type on the open fd.
//! Reading a lease through such a name is an error; the store's own files (index, cursor,
//! cache) are replaced by a file of ours instead; the lock file is refused.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, FileExt, MetadataExt, OpenOptionsExt};
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

/// Creates the directory `path` if missing; fails if the name holds anything but a directory
/// (a symlink to one included: the store never works in a directory planted elsewhere).
pub(crate) fn mkdir_own(path: &Path) -> Result<(), IpamError> {
    match DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(path, "mkdir")(e)),
    }
    let meta = fs::symlink_metadata(path).map_err(io_err(path, "stat"))?;
    if meta.file_type().is_dir() {
        return Ok(());
    }
    Err(io_err(path, "mkdir")(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "not a directory (a symlink or a file is in the way; remove it)",
    )))
}

/// The flags of every open of an existing name: never follow a symlink, never block on a FIFO.
const NO_FOLLOW: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// The error for a name that holds a symlink, a special file or (`own_only`) a hard link.
fn planted() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "not a regular file (a symlink or a special file was put there)",
    )
}

/// Whether an open error or the open file says the name was planted: a symlink (ELOOP under
/// `O_NOFOLLOW`), a FIFO without reader (ENXIO on a non-blocking open for writing), something
/// other than a regular file, or, for files only the store writes (`own_only`), a file with
/// another link.
fn is_planted(opened: &io::Result<File>, own_only: bool) -> bool {
    match opened {
        Err(e) => matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)),
        Ok(f) => match f.metadata() {
            Ok(m) => !m.file_type().is_file() || (own_only && m.nlink() > 1),
            Err(_) => true,
        },
    }
}

/// Opens `path` for writing one of the store's own files (never a lease), creating it when
/// `create`. A planted name is unlinked (with a warning) and the file created afresh, so the
/// write never reaches what the name pointed to.
fn open_own(path: &Path, create: bool, append: bool) -> Result<File, IpamError> {
    let open = |create: bool| {
        OpenOptions::new()
            .write(true)
            .append(append)
            .create(create)
            .truncate(false)
            .mode(0o644)
            .custom_flags(NO_FOLLOW)
            .open(path)
    };
    let opened = open(create);
    if !is_planted(&opened, true) {
        return opened.map_err(io_err(path, "open"));
    }
    log::warn!(
        "ipam: {} is not a file of the store (symlink, special file or extra hard link): replacing it",
        path.display()
    );
    drop(opened);
    remove_optional(path)?;
    let opened = OpenOptions::new()
        .write(true)
        .append(append)
        .create_new(true)
        .mode(0o644)
        .custom_flags(NO_FOLLOW)
        .open(path);
    opened.map_err(io_err(path, "create"))
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
        .custom_flags(NO_FOLLOW)
        .open(path);
    // Replacing a planted lock could let two writers hold locks on different files: refuse.
    if is_planted(&file, false) {
        return Err(io_err(path, "open lock file")(planted()));
    }
    let file = file.map_err(io_err(path, "open lock file"))?;
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

/// Appends `contents` to the store's own file `path` (not fsynced; created if missing). A
/// failed write (ENOSPC) is cut back off, leaving the file as it was.
pub(crate) fn append(path: &Path, contents: &[u8]) -> Result<(), IpamError> {
    let mut f = open_own(path, true, true)?;
    let before = f.metadata().map_err(io_err(path, "stat"))?.len();
    if let Err(e) = f.write_all(contents) {
        let _ = f.set_len(before);
        return Err(io_err(path, "write")(e));
    }
    Ok(())
}

/// Overwrites the store's own file `path` (creating it if needed) with `contents` in place:
/// write from offset 0, then cut the file to that length; not fsynced. Cheaper than a temp
/// file and a rename (no inode created or freed), but NOT atomic: a crash in between leaves a
/// mix of old and new bytes. Only for files whose readers detect that or do not care (see
/// `disk`). A failed write removes the file rather than leave it half written.
pub(crate) fn overwrite(path: &Path, contents: &[u8]) -> Result<(), IpamError> {
    let f = open_own(path, true, false)?;
    let written = f
        .write_all_at(contents, 0)
        .map_err(io_err(path, "write"))
        .and_then(|()| {
            f.set_len(contents.len() as u64)
                .map_err(io_err(path, "truncate"))
        });
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// Opens an existing name for reading; `None` if it does not exist.
fn open_read(path: &Path) -> Result<Option<File>, IpamError> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(NO_FOLLOW)
        .open(path);
    if let Err(e) = &opened {
        if e.kind() == io::ErrorKind::NotFound {
            return Ok(None);
        }
    }
    if is_planted(&opened, false) {
        return Err(io_err(path, "read")(planted()));
    }
    opened.map(Some).map_err(io_err(path, "read"))
}

/// The file's bytes, or `None` if it does not exist. A symlink or special file under the name
/// is an error (`op` "read"), never followed.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, IpamError> {
    let Some(mut f) = open_read(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io_err(path, "read"))?;
    Ok(Some(bytes))
}

/// As [`read_optional`] for the store's own files (index, cursor, cache), which the next write
/// replaces: a planted name reads as absent (with a warning).
pub(crate) fn read_own(path: &Path) -> Result<Option<Vec<u8>>, IpamError> {
    match read_optional(path) {
        Err(IpamError::Io { source, .. }) if source.kind() == io::ErrorKind::InvalidData => {
            log::warn!("ipam: ignoring {}: {source}", path.display());
            Ok(None)
        }
        other => other,
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
