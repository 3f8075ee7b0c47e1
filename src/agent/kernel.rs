//! What the route and policy reconcilers need from the kernel, as small traits: the route
//! reconciler is written (and tested) against [`Kernel`], the policy reconciler against
//! [`PolicyKernel`]; [`super::netlink::NetlinkKernel`] is the real one, and tests use
//! `lichen_backends::testing::FakeKernel` through an adapter. The node's firewall rules have a
//! port of their own, [`super::firewall::Firewall`].

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use lichen_backends::{Actual, Desired, LocalUnderlay, Op, WgDevice};

use super::survey::Foreign;
use super::wireguard::{WgError, WgReport};

use crate::policy::table::Applied;
use crate::policy::Ruleset;

/// The policy reconciler's port: nftables' policy table and br_netfilter, nothing else (it
/// runs on a thread of its own, with sockets of its own; see [`super::policy`]).
pub trait PolicyKernel {
    /// Makes Lichen's policy table hold `rules` in one transaction; `previous` is what the
    /// last successful call applied (`None`: unknown), so element changes can go alone.
    fn apply_policy(&mut self, rules: &Ruleset, previous: Option<&Ruleset>) -> io::Result<Applied>;
    /// Removes Lichen's policy table (absent is success).
    fn remove_policy(&mut self) -> io::Result<()>;
    /// Makes bridged IPv4/IPv6 traffic go through the IP hooks (br_netfilter); `false` when
    /// br_netfilter is not available.
    fn bridge_filtering(&mut self) -> io::Result<bool>;
    /// Whether pods on this node are on a bridge (the plugin's bridge mode: a host end,
    /// `lic…`, with a master). Only their same-node traffic needs br_netfilter to be filtered;
    /// routed pods' is routed through the forward hook.
    fn bridged_pods(&mut self) -> io::Result<bool>;
}

/// The route reconciler's port (the policy table is only removed, by `--cleanup`).
pub trait Kernel: PolicyKernel {
    /// The underlay interface: `iface` when given, else the interface holding `addr`.
    fn underlay(&mut self, iface: Option<&str>, addr: IpAddr) -> io::Result<LocalUnderlay>;
    /// What Lichen owns in the kernel now: `lichen.*` VXLAN devices with their neighbours and
    /// FDB entries, and routes tagged with `RT_PROTO_LICHEN`.
    fn actual(&mut self) -> io::Result<Actual>;
    /// Applies one step of a plan. Deleting what is already gone is success.
    fn apply(&mut self, desired: &Desired, op: &Op) -> io::Result<()>;
    /// What the node holds besides Lichen's objects that matters to pod traffic in
    /// `cluster`: other VXLAN devices, routes, a legacy iptables FORWARD chain (see
    /// [`super::survey`]). A kernel that cannot tell answers nothing.
    fn foreign(&mut self, cluster: &[IpNet]) -> io::Result<Foreign> {
        let _ = cluster;
        Ok(Foreign::default())
    }
    /// Turns transmit checksum offload of device `dev` on or off; `true` when it changed.
    fn set_tx_checksum(&mut self, dev: &str, on: bool) -> io::Result<bool> {
        let _ = (dev, on);
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Makes the WireGuard device's private key, listen port and peers `device`'s (the device
    /// exists: the plan made it) and reports what the device says of them. A kernel without
    /// a WireGuard controller answers [`WgError::NotConfigured`].
    fn sync_wireguard(&mut self, device: &WgDevice) -> Result<WgReport, WgError> {
        let _ = device;
        Err(WgError::NotConfigured)
    }
}
