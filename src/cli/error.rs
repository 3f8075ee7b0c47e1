//! The operator's commands' errors, typed (the convention of [`crate::agent::error`]): each
//! command returns a [`CliError`], and [`exit`] prints it whole on stderr
//! (`lichen <command>: <error>: <cause>…`) and gives its exit code (2 for usage errors, 1 for
//! the rest).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::agent::error::{chain, AgentError};
use crate::agent::firewall::RulesError;
use crate::agent::reconcile::ReconcileError;
use crate::install::InstallError;

pub enum CliError {
    /// Wrong or missing options: exit 2.
    Usage(String),
    /// The agent could not start or ended with an error.
    Agent(AgentError),
    /// `--kube` or `--kubeconfig` (the flag) cannot be used; the error names the file and
    /// its cause itself.
    Kube {
        flag: &'static str,
        error: crate::k8s::kubeconfig::ConfigError,
    },
    Install(InstallError),
    /// One of the agent's objects could not be removed (`--cleanup`, `uninstall --all`).
    Cleanup(ReconcileError),
    /// The node's firewall rules could not be removed (`--cleanup`, `uninstall --all`).
    NodeRules(RulesError),
    /// Netlink could not be opened (the cleanups).
    Netlink(io::Error),
    /// The routed-mode pod subnets' unreachable routes could not be removed (`uninstall
    /// --all`).
    PodSubnets(crate::dataplane::DpError),
    /// The plugin's bridge could not be removed (`uninstall --all`).
    Bridge {
        name: String,
        source: io::Error,
    },
    /// A file could not be read or removed (what, and the path).
    File {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// No agent answers at this address.
    NoAgent {
        addr: SocketAddr,
        source: io::Error,
    },
    /// The agent answered with an error.
    Answered {
        code: u16,
        body: String,
    },
    /// `lichen status`: the agent answered, this node is not ready.
    NotReady,
    /// `lichen policy explain`: the question is wrong (its protocol).
    Query(crate::agent::explain::QueryError),
    /// `lichen ipam list`: the network's directory does not exist.
    NoNetwork(PathBuf),
    Ipam(lichen_ipam::IpamError),
}

impl CliError {
    /// 2 for usage errors, 1 for the rest.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Prints `err` whole as `<command>: <error>` on stderr; returns its exit code (0 when `Ok`).
pub fn exit(command: &str, res: Result<(), CliError>) -> i32 {
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{command}: {}", chain(&e));
            e.exit_code()
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(what) => f.write_str(what),
            CliError::Agent(e) => e.fmt(f),
            CliError::Kube { flag, error } => write!(f, "{flag}: {error}"),
            CliError::Install(e) => e.fmt(f),
            CliError::Cleanup(e) => e.fmt(f),
            CliError::NodeRules(e) => e.fmt(f),
            CliError::Netlink(_) => f.write_str("netlink"),
            CliError::Bridge { name, .. } => write!(f, "bridge {name}"),
            CliError::PodSubnets(_) => f.write_str("the routed pod subnets' unreachable routes"),
            CliError::File { what, path, .. } => write!(f, "{what} {}", path.display()),
            CliError::NoAgent { addr, .. } => {
                write!(f, "no agent at {addr} (is `lichen agent` running?)")
            }
            CliError::Answered { code, body } => write!(f, "agent answered {code}: {body}"),
            CliError::NotReady => f.write_str("this node is not ready (see above)"),
            CliError::NoNetwork(dir) => write!(
                f,
                "{} does not exist: check --network (the conflist's \"name\") and --data-dir",
                dir.display()
            ),
            CliError::Ipam(e) => e.fmt(f),
            CliError::Query(e) => e.fmt(f),
        }
    }
}

crate::agent::error::debug_as_chain!(CliError);

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Agent(e) => e.source(),
            CliError::Install(e) => e.source(),
            CliError::Cleanup(e) => e.source(),
            CliError::NodeRules(e) => e.source(),
            CliError::PodSubnets(e) => Some(e),
            CliError::Netlink(source)
            | CliError::Bridge { source, .. }
            | CliError::File { source, .. }
            | CliError::NoAgent { source, .. } => Some(source),
            CliError::Usage(_) | CliError::Answered { .. } | CliError::NotReady => None,
            CliError::NoNetwork(_) | CliError::Query(_) => None,
            // their text has their cause already
            CliError::Kube { .. } | CliError::Ipam(_) => None,
        }
    }
}

impl From<AgentError> for CliError {
    fn from(e: AgentError) -> Self {
        CliError::Agent(e)
    }
}

impl From<InstallError> for CliError {
    fn from(e: InstallError) -> Self {
        CliError::Install(e)
    }
}

impl From<lichen_ipam::IpamError> for CliError {
    fn from(e: lichen_ipam::IpamError) -> Self {
        CliError::Ipam(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_carries_the_path_and_the_errno() {
        let e = CliError::File {
            what: "reading",
            path: "/etc/lichen.conflist".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            chain(&e).to_string(),
            "reading /etc/lichen.conflist: Permission denied (os error 13)"
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(CliError::Usage("needs --net-conf".into()).exit_code(), 2);
    }
}
