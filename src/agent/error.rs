//! The agent's start-up errors, typed (issue 12; after netavark's `src/error/mod.rs`): the
//! cause keeps its type ([`io::Error`] with its errno, [`ClusterNetworkError`], [`SourceError`]),
//! and [`Context::context`] wraps it with what was being done. `Display` prints the chain,
//! outermost first (`listening on 127.0.0.1:9808: Address in use (os error 98)`), and
//! [`std::error::Error::source`] walks it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::netconf::ClusterNetworkError;
use super::source::SourceError;

#[derive(Debug)]
pub enum AgentError {
    /// What was being done, and why it failed.
    Context(String, Box<AgentError>),
    Io(io::Error),
    /// The net-conf file could not be read or is wrong (its message names the key).
    ClusterNetwork(ClusterNetworkError),
    /// The net-conf file at this path is wrong: printed `<error> (in <path>)`.
    ClusterNetworkIn(PathBuf, ClusterNetworkError),
    /// The cluster source could not start (the directory, its watch, the API).
    Source(SourceError),
}

impl AgentError {
    /// The innermost cause.
    pub fn root(&self) -> &AgentError {
        match self {
            AgentError::Context(_, inner) => inner.root(),
            e => e,
        }
    }
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Context(what, inner) => write!(f, "{what}: {inner}"),
            AgentError::Io(e) => e.fmt(f),
            AgentError::ClusterNetwork(e) => e.fmt(f),
            AgentError::ClusterNetworkIn(path, e) => write!(f, "{e} (in {})", path.display()),
            AgentError::Source(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AgentError::Context(_, inner) => Some(&**inner),
            AgentError::Io(e) => Some(e),
            AgentError::ClusterNetwork(e) | AgentError::ClusterNetworkIn(_, e) => Some(e),
            AgentError::Source(e) => Some(e),
        }
    }
}

impl From<io::Error> for AgentError {
    fn from(e: io::Error) -> Self {
        AgentError::Io(e)
    }
}

impl From<ClusterNetworkError> for AgentError {
    fn from(e: ClusterNetworkError) -> Self {
        AgentError::ClusterNetwork(e)
    }
}

impl From<SourceError> for AgentError {
    fn from(e: SourceError) -> Self {
        AgentError::Source(e)
    }
}

/// Wraps an error with what was being done.
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T, AgentError>;
}

impl<T, E: Into<AgentError>> Context<T> for Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T, AgentError> {
        self.map_err(|e| AgentError::Context(what.into(), Box::new(e.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn the_chain_prints_outermost_first_and_keeps_the_errno() {
        let e: Result<(), _> = Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        let e = e
            .context("listening on 127.0.0.1:9808")
            .context("starting the endpoint");
        let e = e.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("starting the endpoint: listening on 127.0.0.1:9808: "),
            "{text}"
        );
        match e.root() {
            AgentError::Io(io) => assert_eq!(io.raw_os_error(), Some(libc::EADDRINUSE)),
            other => panic!("{other:?}"),
        }
        let mut depth = 0;
        let mut next: Option<&dyn Error> = Some(&e);
        while let Some(cur) = next {
            depth += 1;
            next = cur.source();
        }
        assert_eq!(
            depth, 4,
            "two contexts, the io error, and no further source"
        );
    }
}
