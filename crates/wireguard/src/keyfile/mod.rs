//! The node's private key file: one line of base64, as `wg genkey` prints it. An existing file
//! is used as is (an operator may write it with `wg genkey`), provided only its owner can read
//! it; a missing one is created with a fresh key ([`PrivateKey::generate`]): its directory
//! made 0700 when missing, the key written to a temporary file of mode 0600 in the same
//! directory, synced, then renamed into place, so a crash never leaves a half-written key.

use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::key::{Key, KeyParseError, PrivateKey};

/// Why the key file could not be used.
#[derive(Debug)]
pub enum KeyFileError {
    /// Reading, creating or renaming failed.
    Io(PathBuf, io::Error),
    /// The file's text is not a key.
    Parse(PathBuf, KeyParseError),
    /// Group or others may access the file (its mode is given): a private key must not be.
    TooOpen(PathBuf, u32),
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Io(p, e) => write!(f, "WireGuard key file {}: {e}", p.display()),
            KeyFileError::Parse(p, e) => write!(f, "WireGuard key file {}: {e}", p.display()),
            KeyFileError::TooOpen(p, mode) => write!(
                f,
                "WireGuard key file {}: mode {mode:04o} lets others read the private key \
                 (chmod 600 it)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyFileError::Io(_, e) => Some(e),
            KeyFileError::Parse(_, e) => Some(e),
            KeyFileError::TooOpen(..) => None,
        }
    }
}

/// The key in `path`, or a new one written there; `true` when it was created.
pub fn load_or_create(path: &Path) -> Result<(PrivateKey, bool), KeyFileError> {
    match load(path) {
        Err(KeyFileError::Io(_, e)) if e.kind() == io::ErrorKind::NotFound => {
            create(path).map(|k| (k, true))
        }
        other => other.map(|k| (k, false)),
    }
}

/// The key in `path`, which must be readable by its owner only.
pub fn load(path: &Path) -> Result<PrivateKey, KeyFileError> {
    let io_err = |e| KeyFileError::Io(path.to_owned(), e);
    let mode = fs::metadata(path).map_err(io_err)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen(path.to_owned(), mode));
    }
    let text = fs::read_to_string(path).map_err(io_err)?;
    Key::from_base64(&text)
        .map(PrivateKey)
        .map_err(|e| KeyFileError::Parse(path.to_owned(), e))
}

/// Writes a fresh key to `path` (atomically, mode 0600; a missing directory made 0700).
pub fn create(path: &Path) -> Result<PrivateKey, KeyFileError> {
    let io_err = |e| KeyFileError::Io(path.to_owned(), e);
    let key = PrivateKey::generate().map_err(io_err)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_new(&tmp, &key).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(key)
}

fn write_new(tmp: &Path, key: &PrivateKey) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    writeln!(f, "{}", key.0.to_base64())?;
    f.sync_all()
}

#[cfg(test)]
mod tests;
