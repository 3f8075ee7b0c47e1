//! The agent's start-up errors, typed (issue 12; after netavark's `src/error/mod.rs`): the
//! cause keeps its type ([`io::Error`] with its errno, [`ClusterNetworkError`], [`SourceError`]),
//! and [`Context::context`] wraps it with what was being done.
//!
//! The convention of the agent's and the CLI's errors (this one, the reconciler's, the policy
//! reconciler's, `install`'s, the CLI's): a layer's `Display` says only what it adds (a context
//! says what was being done) and [`std::error::Error::source`] gives the cause; a variant that
//! only carries another error is transparent (that error's text and source). Causes whose type
//! prints its own cause in its text ([`ClusterNetworkError`], [`SourceError`],
//! `lichen_ipam::IpamError`, the kubeconfig's errors) end the chain: their text says it all,
//! and the typed error stays reachable by matching (e.g. through [`AgentError::root`]). [`chain`] prints
//! the whole chain, outermost first (`listening on 127.0.0.1:9808: Address in use (os error
//! 98)`), wherever an error is reported: log lines, the CLI's stderr, the status report.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::netconf::ClusterNetworkError;
use super::source::SourceError;

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
    /// The WireGuard key file could not be read or created (its text names the file).
    WireguardKey(lichen_wireguard::keyfile::KeyFileError),
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
            AgentError::Context(what, _) => f.write_str(what),
            AgentError::Io(e) => e.fmt(f),
            AgentError::ClusterNetwork(e) => e.fmt(f),
            AgentError::ClusterNetworkIn(path, e) => write!(f, "{e} (in {})", path.display()),
            AgentError::Source(e) => e.fmt(f),
            AgentError::WireguardKey(e) => e.fmt(f),
        }
    }
}

debug_as_chain!(AgentError);

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AgentError::Context(_, inner) => Some(&**inner),
            AgentError::Io(e) => e.source(),
            // their text has their cause already
            AgentError::ClusterNetwork(_)
            | AgentError::ClusterNetworkIn(..)
            | AgentError::Source(_)
            | AgentError::WireguardKey(_) => None,
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

/// `impl Debug for $t` printing the whole [`chain`], for the agent's and the CLI's error types: a
/// derived `Debug` would pull every cause type's `Debug` into the binary, for output no one reads.
macro_rules! debug_as_chain {
    ($t:ty) => {
        impl ::std::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&$crate::agent::error::chain(self), f)
            }
        }
    };
}
pub(crate) use debug_as_chain;

/// Prints an error and its causes, outermost first, joined by `: `. A cause whose text the
/// outer layers already printed is skipped: some causes' own types print their source in their
/// text too (the net-conf's and the cluster source's errors, `lichen_ipam::IpamError`).
pub fn chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(e)
}

/// See [`chain`].
pub struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut next = self.0.source();
        while let Some(cause) = next {
            let more = cause.to_string();
            if !more.is_empty() && !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            next = cause.source();
        }
        f.write_str(&text)
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
        assert_eq!(
            e.to_string(),
            "starting the endpoint",
            "a layer says what it adds"
        );
        let text = chain(&e).to_string();
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
            depth, 3,
            "two contexts, the io error (transparent), and no further source"
        );
    }

    #[test]
    fn causes_printed_by_their_outer_layer_are_not_repeated() {
        let e: Result<(), _> = Err(SourceError::Dir {
            path: "/x".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        });
        let e = e.context("the cluster source").unwrap_err();
        let text = chain(&e).to_string();
        assert!(
            text.starts_with("the cluster source: cluster directory /x: "),
            "{text}"
        );
        assert_eq!(text.matches("os error").count(), 1, "{text}");
    }
}
