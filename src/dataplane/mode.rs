//! Which mode a config without `mode` gets on this node ([`node_mode`]): routed, unless the
//! node's bridge still has ports. A node upgraded from an older Lichen (or one whose conflist
//! named Flannel's bridge) has pods on the bridge; they ARP for same-subnet addresses on it,
//! so a routed pod there would be unreachable to them. Such a node keeps bridge mode until
//! its bridge pods are gone (a reboot drains it).
//!
//! Cost (measured, release build, 2,000 calls each): a fresh node (no bridge) pays a `stat`
//! of `/proc/sys/net/ipv{4,6}/conf/<bridge>` and no netlink round trip: ~7 µs, against ~6 ms
//! for a routed ADD. A node with the bridge pays two round trips on top, the bridge's lookup
//! and a dump of its ports only (filtered by the kernel): ~50 µs for a bridge without ports
//! (~80 µs beside 200 other links, where a whole link dump took ~2.8 ms); with ports it grows
//! with them (~60 µs with 1, ~180 µs with 10, ~2.3 ms with 100), only while a node is still
//! bridging without `mode` (an explicit `mode` pays nothing). `/proc/sys/net`
//! answers for the reading thread's namespace (the plugin's other sysctls rely on that too),
//! whereas `/sys/class/net` shows the devices of the namespace whose thread mounted that sysfs
//! (Documentation/filesystems/sysfs-tagging.rst; thediveo/notwork `mntns/doc.go`): a plugin
//! entered into a node namespace with setns, as the tests and `lichen demo` do, would read
//! another namespace's bridge there.

use std::path::Path;

use super::{kernel, DpError};
use crate::cni::Mode;
use crate::nl::{LinkId, Nl};

/// The mode for a config without one, in the calling thread's namespace: [`Mode::Bridge`]
/// when `bridge` exists there as a bridge with at least one port, else [`Mode::Routed`].
pub fn node_mode(bridge: &str) -> Result<Mode, DpError> {
    if !Path::new("/proc/sys/net/ipv4/conf").join(bridge).exists()
        && !Path::new("/proc/sys/net/ipv6/conf").join(bridge).exists()
    {
        return Ok(Mode::Routed);
    }
    let mut nl = Nl::open().map_err(kernel("open netlink"))?;
    let found = nl
        .link(LinkId::Name(bridge))
        .map_err(|e| DpError::Kernel(format!("look up {bridge}"), e))?;
    let Some(br) = found.filter(|l| l.is_kind("bridge")) else {
        return Ok(Mode::Routed);
    };
    let ports = nl
        .ports(br.index)
        .map_err(|e| DpError::Kernel(format!("list the ports of {bridge}"), e))?;
    Ok(match ports.is_empty() {
        true => Mode::Routed,
        false => Mode::Bridge,
    })
}
