//! What the agent needs from the kernel, as a small trait: the reconciler is written (and
//! tested) against it; [`super::netlink::NetlinkKernel`] is the real one, and tests use
//! `lichen_backends::testing::FakeKernel` through an adapter.

use std::io;
use std::net::IpAddr;

use lichen_backends::{Actual, Desired, LocalUnderlay, Op};

use crate::nft::NodeRules;

pub trait Kernel {
    /// The underlay interface: `iface` when given, else the interface holding `addr`.
    fn underlay(&mut self, iface: Option<&str>, addr: IpAddr) -> io::Result<LocalUnderlay>;
    /// What Lichen owns in the kernel now: `lichen.*` VXLAN devices with their neighbours and
    /// FDB entries, and routes tagged with `RT_PROTO_LICHEN`.
    fn actual(&mut self) -> io::Result<Actual>;
    /// Applies one step of a plan. Deleting what is already gone is success.
    fn apply(&mut self, desired: &Desired, op: &Op) -> io::Result<()>;
    /// Replaces Lichen's nftables table (masquerade and forward rules) in one transaction.
    fn apply_rules(&mut self, rules: &NodeRules) -> io::Result<()>;
    /// Removes Lichen's nftables table.
    fn remove_rules(&mut self) -> io::Result<()>;
}
