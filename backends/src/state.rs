//! Kernel state: what should exist ([`Desired`], computed by [`crate::desired`]) and what the
//! agent found ([`Actual`], read from the kernel). Only objects Lichen owns appear in either:
//! routes tagged with [`RT_PROTO_LICHEN`], the `lichen.<VNI>` devices with what is on them, and
//! the WireGuard device `lichen-wg` (its peers are not kernel state the planner diffs: the
//! agent's WireGuard controller syncs [`WgDevice::peers`] with what the device reports).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::model::Mac;

/// The route protocol (`rtm_protocol`) Lichen tags its routes with, so it can list and remove
/// exactly its own. 108 (ASCII `l`) is not among iproute2's reserved values (0–4, 8–18, 42, 99,
/// 186–192) nor used by the common routing daemons; `ip route show proto 108` lists them (an
/// admin may add `108 lichen` to /etc/iproute2/rt_protos.d/lichen.conf to see the name).
pub const RT_PROTO_LICHEN: u8 = 108;

/// The kernel objects that should exist (`Default`: nothing, what a cleanup plans towards).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    /// The underlay interface, resolving [`Dev::Underlay`].
    pub underlay_ifindex: u32,
    /// The VXLAN device (VXLAN backend only).
    pub device: Option<VxlanDevice>,
    /// Routes in the main table, sorted by destination.
    pub routes: Vec<RouteEntry>,
    /// Permanent neighbours on the VXLAN device, sorted by address.
    pub neighbours: Vec<Neighbour>,
    /// FDB entries on the VXLAN device, sorted by MAC.
    pub fdb: Vec<Fdb>,
    /// What became of each peer subnet (for logs and node status), sorted by peer name.
    pub peers: Vec<PeerStatus>,
    /// The WireGuard device (WireGuard backend only).
    pub wireguard: Option<WgDevice>,
}

/// The WireGuard device [`crate::WG_DEVICE`]: its link (MTU, addresses, up) is planned like
/// the VXLAN device's; the private key, listen port and peers are the agent's to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgDevice {
    pub name: String,
    pub mtu: u32,
    pub listen_port: u16,
    /// The network address of each local podCIDR as a host prefix, as on the VXLAN device.
    pub addresses: Vec<IpNet>,
    /// One per programmable peer node, sorted by node name.
    pub peers: Vec<WgPeer>,
}

/// One WireGuard peer: a node whose pod subnets are routed through the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgPeer {
    /// The node's name.
    pub node: String,
    pub public_key: [u8; 32],
    /// Its `wg_endpoint` annotation, else its InternalIP of the underlay's family with our
    /// listen port.
    pub endpoint: SocketAddr,
    /// Its programmed pod subnets (every family), sorted.
    pub allowed_ips: Vec<IpNet>,
    /// Persistent keepalive in seconds; 0 = off.
    pub keepalive: u16,
    pub psk: Option<[u8; 32]>,
}

/// The VXLAN device: `ip link add <name> address <mac> mtu <mtu> type vxlan id <vni>
/// dstport <port> local <local> dev <underlay> nolearning`, then the addresses, then up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanDevice {
    pub name: String,
    pub vni: u32,
    pub port: u16,
    pub local: IpAddr,
    pub underlay_ifindex: u32,
    /// Set at creation, before the link goes up (else systemd's MACAddressPolicy may rewrite it).
    pub mac: Mac,
    pub mtu: u32,
    /// The network address of each local podCIDR as a host prefix (`10.42.1.0/32`,
    /// `fd00:42:1::/128`), as Flannel does: the source for host-originated traffic to peers.
    pub addresses: Vec<IpNet>,
}

/// Where a route leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dev {
    /// The underlay interface ([`Desired::underlay_ifindex`]).
    Underlay,
    /// The VXLAN device ([`Desired::device`]), whatever ifindex it has now.
    Vxlan,
    /// The WireGuard device ([`Desired::wireguard`]), whatever ifindex it has now.
    Wireguard,
}

/// A route Lichen wants: `dst via gw dev <dev> [onlink] proto 108`, main table, metric 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteEntry {
    pub dst: IpNet,
    pub gw: IpAddr,
    pub dev: Dev,
    /// `RTNH_F_ONLINK`: the gateway is not in any subnet of the device (VXLAN and WireGuard
    /// routes).
    pub onlink: bool,
}

/// A permanent neighbour (`NUD_PERMANENT`) on the VXLAN device: a peer subnet's network address
/// → the peer's VTEP MAC, so the kernel never ARPs/solicits over the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub mac: Mac,
}

/// A permanent FDB entry on the VXLAN device (`bridge fdb append <mac> dev <vxlan> dst <dst>
/// self permanent`): frames for a peer's VTEP MAC are sent to the peer's underlay address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fdb {
    pub mac: Mac,
    pub dst: IpAddr,
}

/// How a programmed peer subnet is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A host-gw route on the underlay (host-gw, or VXLAN with DirectRouting).
    Direct,
    /// The VXLAN overlay.
    Overlay,
    /// The WireGuard device.
    Wireguard,
}

/// What became of one peer subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    /// Routes (and neighbour/FDB entries) are desired for it.
    Programmed(Via),
    /// It cannot be routed with this configuration (not L2-adjacent, outside the cluster
    /// network, overlapping, colliding MAC…); the text says why and what to change.
    Unreachable(String),
    /// It lacks something the cluster will probably fill in soon (podCIDR, InternalIP).
    Pending(String),
    /// Its routes, neighbours or FDB entries were desired but the kernel refused one at the
    /// last pass (the text holds the kernel's error); set by the agent, never by a backend.
    Failed(String),
}

impl PeerState {
    /// Why the subnet is not programmed; `None` when it is.
    pub fn reason(&self) -> Option<&str> {
        match self {
            PeerState::Programmed(_) => None,
            PeerState::Unreachable(r) | PeerState::Pending(r) | PeerState::Failed(r) => Some(r),
        }
    }
}

impl Desired {
    /// An address inside the peer subnet a plan step programs, so a failed step can be
    /// charged to its peer: a route's destination, a neighbour's address, an FDB entry's
    /// neighbour (by MAC). `None` for device steps and deletions.
    pub fn peer_addr_of(&self, op: &crate::Op) -> Option<IpAddr> {
        use crate::Op;
        match op {
            Op::AddRoute(r) | Op::ReplaceRoute(r) => Some(r.dst.network()),
            Op::AddNeighbour { neighbour, .. } => Some(neighbour.ip),
            Op::AddFdb { fdb, .. } => self
                .neighbours
                .iter()
                .find(|n| n.mac == fdb.mac)
                .map(|n| n.ip),
            _ => None,
        }
    }
}

/// One peer subnet's fate. `subnet` is `None` when the peer has no podCIDR at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub name: String,
    pub subnet: Option<IpNet>,
    pub state: PeerState,
}

/// What the agent read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actual {
    /// Every VXLAN device named `lichen.*` (see [`crate::DEVICE_PREFIX`]).
    pub devices: Vec<ActualDevice>,
    /// Every route in the main table with protocol [`RT_PROTO_LICHEN`], both families.
    pub routes: Vec<ActualRoute>,
    /// The link named [`crate::WG_DEVICE`], if there is one.
    pub wireguard: Option<ActualLink>,
}

/// The `lichen-wg` link as found, whatever its kind (kernel WireGuard or wireguard-go's TUN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualLink {
    pub name: String,
    pub ifindex: u32,
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Every address on it.
    pub addresses: Vec<IpNet>,
}

/// A `lichen.*` device as found, with the neighbours and FDB entries on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualDevice {
    pub name: String,
    pub ifindex: u32,
    pub vni: u32,
    pub port: u16,
    /// `IFLA_VXLAN_LOCAL`/`LOCAL6`, if set.
    pub local: Option<IpAddr>,
    /// `IFLA_VXLAN_LINK`, if set.
    pub underlay_ifindex: Option<u32>,
    pub learning: bool,
    pub mac: Mac,
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Every address on it (a DHCP client may have added some: they are removed).
    pub addresses: Vec<IpNet>,
    /// Every neighbour entry on it (both families), whatever its state.
    pub neighbours: Vec<ActualNeighbour>,
    /// Every unicast FDB entry on it with a remote (`NDA_DST`); the all-zero-MAC default
    /// entries included if present.
    pub fdb: Vec<Fdb>,
}

/// A neighbour entry as found: it may be incomplete (no MAC) or learned rather than permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActualNeighbour {
    pub ip: IpAddr,
    pub mac: Option<Mac>,
    pub permanent: bool,
}

/// A route with Lichen's protocol as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActualRoute {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    /// Output interface index.
    pub oif: u32,
    pub onlink: bool,
}
