//! The operations a plan is made of, with the netlink semantics the agent must give them.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::state::{ActualRoute, Fdb, Neighbour, RouteEntry, VxlanDevice, WgDevice};

/// One kernel change. Deletions of things already gone (ENOENT, ESRCH, ENODEV on delete) should
/// be treated as done by the agent: the plan is computed from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `RTM_NEWLINK` (create, exclusive) of a VXLAN device with its MAC, MTU, VNI, port, local
    /// address and underlay link, learning off; left down.
    CreateDevice(VxlanDevice),
    /// Delete the device with this name and create it as in `CreateDevice` (its VNI, port,
    /// local address, underlay, learning flag or MAC were wrong). Everything on the old device
    /// (addresses, neighbours, FDB, routes through it) goes with it; the plan re-adds them.
    ReplaceDevice(VxlanDevice),
    /// Set the MTU of an existing device in place.
    SetDeviceMtu { dev: String, mtu: u32 },
    /// Remove an address Lichen did not put there (e.g. a DHCP client's).
    DelAddress { dev: String, addr: IpNet },
    /// Add an address (a host prefix: /32 or /128).
    AddAddress { dev: String, addr: IpNet },
    /// Set the device administratively up.
    SetDeviceUp { dev: String },
    /// `RTM_NEWNEIGH` with `NLM_F_CREATE | NLM_F_REPLACE`, state `NUD_PERMANENT`, on `dev`
    /// (adds it, or corrects a wrong MAC or a non-permanent entry in place).
    AddNeighbour { dev: String, neighbour: Neighbour },
    /// `RTM_DELNEIGH` of the entry for `ip` on `dev`.
    DelNeighbour { dev: String, ip: IpAddr },
    /// `RTM_NEWNEIGH`, family `AF_BRIDGE`, `NTF_SELF`, `NUD_PERMANENT`, `NLM_F_CREATE |
    /// NLM_F_APPEND` (`bridge fdb append`): adds this remote for the MAC, keeping others (a
    /// stale remote of the same MAC is removed later by a `DelFdb`).
    AddFdb { dev: String, fdb: Fdb },
    /// `RTM_DELNEIGH`, family `AF_BRIDGE`, `NTF_SELF`, with `NDA_DST`: removes this remote only.
    DelFdb { dev: String, fdb: Fdb },
    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`, protocol [`crate::RT_PROTO_LICHEN`],
    /// main table, scope universe, metric 0; `Dev::Vxlan` means the device named in
    /// [`crate::Desired::device`], `Dev::Wireguard` the one in [`crate::Desired::wireguard`]
    /// (resolve its ifindex after creating it).
    AddRoute(RouteEntry),
    /// As `AddRoute` with `NLM_F_CREATE | NLM_F_REPLACE`: a route to the same destination
    /// exists and is wrong (gateway, device or onlink flag).
    ReplaceRoute(RouteEntry),
    /// `RTM_DELROUTE` of exactly this route (destination, gateway, oif, protocol).
    DelRoute(ActualRoute),
    /// Delete a `lichen.*` device that is no longer wanted (old VNI, or not VXLAN any more).
    DeleteDevice { dev: String },
    /// Bring the WireGuard device into being: a kernel link of kind `wireguard`, else a
    /// wireguard-go; its private key, listen port and the device's peers set, its MTU set; left
    /// down (the plan then adds the addresses and sets it up with the ops above).
    CreateWireguard(WgDevice),
    /// Remove the WireGuard device (and end the wireguard-go the agent started); routes through
    /// it go with it.
    DeleteWireguard { dev: String },
}
