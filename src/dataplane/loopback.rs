//! `lo` inside a pod, for `lichen` invoked as `loopback` (containernetworking/plugins
//! `plugins/main/loopback/loopback.go`): up on ADD, down on DEL, checked on CHECK.

use std::path::Path;

use ipnet::IpNet;

use super::{find, gone, kernel, DpError};
use crate::netns::NetNs;
use crate::nl::{Link, LinkChange, LinkId, Nl};

const LO: &str = "lo";

/// Brings `lo` up in the pod and returns its addresses (the kernel adds 127.0.0.1/8 and ::1
/// when it comes up), IPv4 ones first, each family in the kernel's order.
pub fn loopback_up(netns: &Path) -> Result<Vec<IpNet>, DpError> {
    let (mut nl, lo) = open_lo(netns)?;
    set_up(&mut nl, &lo, true)?;
    let mut addrs: Vec<IpNet> = nl
        .addrs(Some(lo.index))
        .map_err(kernel("list the addresses of lo in the pod"))?
        .into_iter()
        .map(|a| a.net)
        .collect();
    addrs.sort_by_key(|a| a.addr().is_ipv6());
    Ok(addrs)
}

/// Brings `lo` down in the pod. A namespace that is gone is success (the runtime may DEL
/// after the sandbox died, and more than once).
pub fn loopback_down(netns: &Path) -> Result<(), DpError> {
    match open_lo(netns) {
        Ok((mut nl, lo)) => set_up(&mut nl, &lo, false),
        Err(DpError::NetnsMissing(_, e)) if gone(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether `lo` is up in the pod.
pub fn loopback_is_up(netns: &Path) -> Result<bool, DpError> {
    open_lo(netns).map(|(_, lo)| lo.up)
}

fn open_lo(netns: &Path) -> Result<(Nl, Link), DpError> {
    let ns = NetNs::open(netns).map_err(|e| DpError::NetnsMissing(netns.to_path_buf(), e))?;
    let mut nl = Nl::open_in(&ns).map_err(kernel("open netlink in the pod namespace"))?;
    let lo = find(&mut nl, LO)?.ok_or_else(|| DpError::NoSuchInterface(LO.into()))?;
    Ok((nl, lo))
}

fn set_up(nl: &mut Nl, lo: &Link, up: bool) -> Result<(), DpError> {
    let change = LinkChange {
        up: Some(up),
        ..LinkChange::default()
    };
    let what = if up { "up" } else { "down" };
    nl.set_link(LinkId::Index(lo.index), &change)
        .map_err(|e| DpError::Kernel(format!("set lo {what} in the pod"), e))
}
