//! The route pass's errors, typed: which step failed (this node's podCIDR or InternalIP, the
//! underlay, reading the kernel, a step of the plan, checksum offload, the subnet file, the CNI
//! config, the WireGuard device's sync; `--cleanup`'s removals), with the kernel's or the file system's error as
//! [`std::error::Error::source`] (the node rules' are [`crate::agent::firewall::RulesError`]).
//! The report keeps them as lines ([`ReconcileError::line`]: the whole chain, see
//! [`crate::agent::error::chain`], and what to do when Lichen knows).

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::agent::error::chain;

pub enum ReconcileError {
    /// This node's podCIDR is outside the net-conf's networks.
    PodCidrOutside { cidr: IpNet, network: Vec<IpNet> },
    /// This Node has no InternalIP to find the underlay by.
    NoInternalIp { node: String },
    /// The underlay interface (`--iface`, or the one holding `addr`) cannot be used.
    Underlay {
        iface: Option<String>,
        addr: IpAddr,
        source: io::Error,
    },
    /// What Lichen owns in the kernel could not be read.
    KernelState(io::Error),
    /// The kernel refused a step of the plan (`op`, as logged), with what to do when known.
    Refused {
        op: String,
        source: io::Error,
        hint: Option<String>,
    },
    /// Transmit checksum offload could not be turned off on this device.
    Offload { dev: String, source: io::Error },
    /// The subnet file could not be written.
    SubnetFile { path: PathBuf, source: io::Error },
    /// `--cleanup`: the subnet file could not be removed.
    RemoveSubnetFile { path: PathBuf, source: io::Error },
    /// `--cleanup`: the policy table could not be removed.
    PolicyTable(io::Error),
    /// The staged CNI config could not be put in place.
    CniConfig(crate::install::InstallError),
    /// The WireGuard device's key, port or peers could not be synced.
    Wireguard(crate::agent::wireguard::WgError),
}

impl ReconcileError {
    /// The report's and the log's line: the whole chain, then what to do when Lichen knows.
    pub fn line(&self) -> String {
        match self {
            ReconcileError::Refused {
                hint: Some(hint), ..
            } => format!("{}\n{hint}", chain(self)),
            _ => chain(self).to_string(),
        }
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconcileError::PodCidrOutside { cidr, network } => {
                let network: Vec<String> = network.iter().map(|n| n.to_string()).collect();
                write!(
                    f,
                    "this node's podCIDR {cidr} is not inside the cluster network {network:?} of net-conf.json"
                )
            }
            ReconcileError::NoInternalIp { node } => {
                write!(f, "Node {node:?} has no InternalIP in status.addresses")
            }
            ReconcileError::Underlay { iface: Some(i), .. } => {
                write!(f, "underlay interface {i:?}")
            }
            ReconcileError::Underlay { addr, .. } => write!(
                f,
                "no interface holds this node's address {addr} (pass --iface)"
            ),
            ReconcileError::KernelState(_) => f.write_str("reading the kernel state"),
            ReconcileError::Refused { op, .. } => write!(f, "the kernel refused {op}"),
            ReconcileError::Offload { dev, .. } => {
                write!(f, "turning transmit checksum offload off on {dev}")
            }
            ReconcileError::SubnetFile { path, .. } => write!(f, "writing {}", path.display()),
            ReconcileError::RemoveSubnetFile { path, .. } => {
                write!(f, "removing {}", path.display())
            }
            ReconcileError::PolicyTable(_) => f.write_str("nftables policy table"),
            ReconcileError::CniConfig(_) => f.write_str("CNI config"),
            ReconcileError::Wireguard(_) => f.write_str("syncing the WireGuard device"),
        }
    }
}

crate::agent::error::debug_as_chain!(ReconcileError);

impl std::error::Error for ReconcileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReconcileError::PodCidrOutside { .. } | ReconcileError::NoInternalIp { .. } => None,
            ReconcileError::Underlay { source, .. }
            | ReconcileError::Refused { source, .. }
            | ReconcileError::Offload { source, .. }
            | ReconcileError::SubnetFile { source, .. }
            | ReconcileError::RemoveSubnetFile { source, .. }
            | ReconcileError::KernelState(source)
            | ReconcileError::PolicyTable(source) => Some(source),
            ReconcileError::CniConfig(e) => Some(e),
            ReconcileError::Wireguard(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn each_step_names_itself_and_keeps_the_errno() {
        let e = ReconcileError::SubnetFile {
            path: "/run/lichen/subnet.env".into(),
            source: io::Error::from_raw_os_error(libc::EROFS),
        };
        assert!(
            e.line()
                .starts_with("writing /run/lichen/subnet.env: Read-only file system"),
            "{}",
            e.line()
        );
        let io = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(io.and_then(io::Error::raw_os_error), Some(libc::EROFS));
        let e = ReconcileError::Refused {
            op: "CreateDevice(lichen.1)".into(),
            source: io::Error::from_raw_os_error(libc::EEXIST),
            hint: Some("cannot create lichen.1: flannel.1 already exists".into()),
        };
        let line = e.line();
        assert!(
            line.starts_with("the kernel refused CreateDevice(lichen.1): File exists"),
            "{line}"
        );
        assert!(
            line.ends_with("\ncannot create lichen.1: flannel.1 already exists"),
            "{line}"
        );
    }
}
