//! The agent's kernel over netlink: reads what Lichen owns (the `lichen.*` VXLAN device with its
//! neighbours and FDB entries, routes tagged `RT_PROTO_LICHEN`), applies plan steps, and watches
//! for changes made by others (route, link, neighbour and FDB deletions) so they are repaired at
//! once instead of at the next timer tick.

use std::io;
use std::net::IpAddr;

use lichen_backends::{Actual, Desired, LocalUnderlay, Op};

use super::kernel::Kernel;
use crate::nft::NodeRules;

pub struct NetlinkKernel {
    _private: (),
}

impl NetlinkKernel {
    /// Sockets in the calling thread's namespace.
    pub fn open() -> io::Result<NetlinkKernel> {
        todo!("agent::netlink::NetlinkKernel::open")
    }
}

/// Kernel change notifications relevant to the agent (coalesced): each message on the channel
/// means "something Lichen owns, or the underlay, may have changed". Spawns its own task on the
/// current smol executor / a thread; the receiver ends when the monitor fails.
pub fn monitor() -> io::Result<smol::channel::Receiver<()>> {
    todo!("agent::netlink::monitor")
}

impl Kernel for NetlinkKernel {
    fn underlay(&mut self, iface: Option<&str>, addr: IpAddr) -> io::Result<LocalUnderlay> {
        let _ = (iface, addr);
        todo!("agent::netlink::underlay")
    }

    fn actual(&mut self) -> io::Result<Actual> {
        todo!("agent::netlink::actual")
    }

    fn apply(&mut self, desired: &Desired, op: &Op) -> io::Result<()> {
        let _ = (desired, op);
        todo!("agent::netlink::apply")
    }

    fn apply_rules(&mut self, rules: &NodeRules) -> io::Result<()> {
        crate::nft::apply_node_rules(rules)
    }

    fn remove_rules(&mut self) -> io::Result<()> {
        crate::nft::remove_lichen_table()
    }
}
