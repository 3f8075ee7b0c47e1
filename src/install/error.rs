//! `install`'s and `uninstall`'s errors, typed (the convention of
//! [`crate::agent::error`]: a layer says what it adds, [`std::error::Error::source`] gives the
//! cause): the conflist to install is wrong, a conflist of another CNI is in the way, or a file
//! operation failed, with the path it was about ([`Context::context`]) and its [`io::Error`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub enum InstallError {
    /// The conflist to install does not parse (the message says what is wrong).
    Conflist(String),
    /// The conflist to install does not start with a plugin of type `lichen`.
    NotLichen,
    /// A conflist at this path is another CNI's (replaced only with `--force`).
    Foreign(PathBuf),
    /// The staged conflist (`lichen install --stage`) cannot be read.
    Staged { path: PathBuf, source: io::Error },
    /// What was being done to which path (`writing /etc/cni/net.d/10-lichen.conflist`), and
    /// why it failed.
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::Conflist(e) => write!(f, "the conflist: {e}"),
            InstallError::NotLichen => f.write_str(
                "the conflist to install does not start with a plugin of type \"lichen\"",
            ),
            InstallError::Foreign(path) => write!(
                f,
                "{} exists and is not Lichen's; pass --force to replace it",
                path.display()
            ),
            InstallError::Staged { path, .. } => write!(
                f,
                "the staged conflist {} (written by `lichen install --stage`)",
                path.display()
            ),
            InstallError::Io { what, path, .. } => write!(f, "{what} {}", path.display()),
        }
    }
}

impl fmt::Debug for InstallError {
    /// What `Display` says, and the cause (a derived `Debug` costs binary size for output no
    /// one reads).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::error::Error::source(self) {
            Some(cause) => write!(f, "{self}: {cause}"),
            None => write!(f, "{self}"),
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InstallError::Staged { source, .. } | InstallError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Wraps a file operation's error with what was being done (`"writing"`) to which path.
pub trait Context<T> {
    fn context(self, what: &'static str, path: &Path) -> Result<T, InstallError>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: &'static str, path: &Path) -> Result<T, InstallError> {
        self.map_err(|source| InstallError::Io {
            what,
            path: path.to_owned(),
            source,
        })
    }
}
