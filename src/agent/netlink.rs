//! The agent's kernel over netlink: reads what Lichen owns (the `lichen.*` VXLAN device with its
//! neighbours and FDB entries, routes tagged `RT_PROTO_LICHEN`), applies plan steps, and watches
//! for changes made by others (route, link, neighbour and FDB deletions) so they are repaired at
//! once instead of at the next timer tick.
//!
//! Design notes:
//! - One netlink socket for reads and writes; every call is one round trip (see `crate::nl`).
//! - Plan steps name devices; neighbours, FDB entries and routes need ifindexes. The names seen
//!   by the last [`Kernel::actual`] (and created since) are cached, so a step costs one round
//!   trip; a name not in the cache is looked up. A step failing with ENODEV drops the entry.
//! - Nothing is flushed on start or exit: the plan only changes what differs.
//! - The monitor is a second socket on a thread of its own; see [`watch`].
//! - WireGuard: with that backend the kernel holds the agent's [`WgController`] (set by
//!   [`NetlinkKernel::set_wireguard`]), which does `Op::CreateWireguard`, the peer sync and
//!   `Op::DeleteWireguard`; without one (`lichen agent --cleanup`), `DeleteWireguard` still
//!   ends the wireguard-go recorded in the pid file and deletes the link. The `lichen-wg` link
//!   is read back whatever its kind (kernel WireGuard or wireguard-go's TUN).

mod apply;
mod foreign;
mod read;
mod watch;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use lichen_backends::{Actual, Desired, LocalUnderlay, Op, WgDevice};

use super::kernel::{Kernel, PolicyKernel};
use super::survey::Foreign;
use super::wireguard::controller::WgController;
use super::wireguard::{WgError, WgReport};
use crate::nl::Nl;
use crate::policy::table::Applied;
use crate::policy::Ruleset;

pub use watch::monitor;

pub struct NetlinkKernel {
    nl: Nl,
    /// ifindex of each `lichen.*` device by name, as last seen or created.
    index: HashMap<String, u32>,
    /// The WireGuard device's controller (WireGuard backend only).
    wg: Option<WgController>,
}

impl NetlinkKernel {
    /// Sockets in the calling thread's namespace.
    pub fn open() -> io::Result<NetlinkKernel> {
        Ok(NetlinkKernel {
            nl: Nl::open()?,
            index: HashMap::new(),
            wg: None,
        })
    }

    /// With the WireGuard backend: `lichen-wg` is made and synced by `wg`.
    pub fn set_wireguard(&mut self, wg: WgController) {
        self.wg = Some(wg);
    }
}

impl PolicyKernel for NetlinkKernel {
    fn apply_policy(&mut self, rules: &Ruleset, previous: Option<&Ruleset>) -> io::Result<Applied> {
        NftPolicy.apply_policy(rules, previous)
    }

    fn remove_policy(&mut self) -> io::Result<()> {
        NftPolicy.remove_policy()
    }

    fn bridge_filtering(&mut self) -> io::Result<bool> {
        NftPolicy.bridge_filtering()
    }

    fn bridged_pods(&mut self) -> io::Result<bool> {
        NftPolicy.bridged_pods()
    }
}

/// The policy reconciler's kernel: an nftables socket per transaction, no netlink route
/// socket (the policy thread needs none).
pub struct NftPolicy;

impl PolicyKernel for NftPolicy {
    fn apply_policy(&mut self, rules: &Ruleset, previous: Option<&Ruleset>) -> io::Result<Applied> {
        crate::policy::table::apply_policy(rules, previous)
    }

    fn remove_policy(&mut self) -> io::Result<()> {
        crate::policy::table::remove_policy_table()
    }

    fn bridge_filtering(&mut self) -> io::Result<bool> {
        bridge_filtering()
    }

    fn bridged_pods(&mut self) -> io::Result<bool> {
        // One link dump on a socket of its own (the policy thread keeps none); a master makes
        // one of the plugin's host ends a bridge port.
        let links = crate::nl::Nl::open()?.links()?;
        Ok(links
            .iter()
            .any(|l| crate::dataplane::is_host_veth_name(&l.name) && l.master.is_some()))
    }
}

impl Kernel for NetlinkKernel {
    fn underlay(&mut self, iface: Option<&str>, addr: IpAddr) -> io::Result<LocalUnderlay> {
        read::underlay(&mut self.nl, iface, addr)
    }

    fn actual(&mut self) -> io::Result<Actual> {
        let actual = read::actual(&mut self.nl)?;
        self.index = actual
            .devices
            .iter()
            .map(|d| (d.name.clone(), d.ifindex))
            .chain(actual.wireguard.iter().map(|l| (l.name.clone(), l.ifindex)))
            .collect();
        Ok(actual)
    }

    fn apply(&mut self, desired: &Desired, op: &Op) -> io::Result<()> {
        apply::apply(self, desired, op)
    }

    fn foreign(&mut self, cluster: &[IpNet]) -> io::Result<Foreign> {
        foreign::foreign(&mut self.nl, cluster)
    }

    fn sync_wireguard(&mut self, device: &WgDevice) -> Result<WgReport, WgError> {
        match self.wg.as_mut() {
            Some(wg) => wg.sync(device),
            None => Err(WgError::NotConfigured),
        }
    }

    fn set_tx_checksum(&mut self, dev: &str, on: bool) -> io::Result<bool> {
        if crate::nl::ethtool::tx_checksum(dev)? == on {
            return Ok(false);
        }
        crate::nl::ethtool::set_tx_checksum(dev, on)?;
        Ok(true)
    }
}

/// br_netfilter's switches, per network namespace (Linux ≥ 5.3; /proc/sys/net is the
/// reading process's namespace).
const BRIDGE_NF: [&str; 2] = [
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
];

fn bridge_filtering() -> io::Result<bool> {
    for path in BRIDGE_NF {
        match std::fs::read_to_string(path) {
            Ok(v) if v.trim() == "1" => {}
            Ok(_) => std::fs::write(path, "1")?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
