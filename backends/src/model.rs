//! Types shared by the backends and the agent: what the agent tells us about the cluster and
//! this host. The desired/actual kernel state lives in [`crate::state`], the config in
//! [`crate::conf`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// A MAC address, as the kernel carries it.
pub type Mac = [u8; 6];

/// Lower-case `aa:bb:cc:dd:ee:ff`.
pub fn mac_to_string(mac: &Mac) -> String {
    MacDisplay(mac).to_string()
}

/// Parses `aa:bb:cc:dd:ee:ff` (either case), as a node annotation carries it (Flannel's
/// `backend-data` `VtepMAC`, Lichen's own): the one MAC reader of the agent. `None` when
/// malformed. (The plugin's `cni::Mac::parse` reads the wider forms of Go's `net.ParseMAC`.)
pub fn parse_mac(text: &str) -> Option<Mac> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for byte in out.iter_mut() {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Formats a [`Mac`] in messages without allocating.
pub struct MacDisplay<'a>(pub &'a Mac);

impl fmt::Display for MacDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// One Kubernetes Node as the backends need it (the local node or a peer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// `metadata.name`: identifies the node; the local node is skipped in the peer list by name.
    pub name: String,
    /// `spec.podCIDRs` (or `spec.podCIDR`), at most one per family in practice.
    pub pod_cidrs: Vec<IpNet>,
    /// The node's `InternalIP` addresses, in the order the Node lists them (one per family on a
    /// dual-stack node). host-gw routes an IPv6 podCIDR via the IPv6 one; VXLAN uses the one of
    /// the underlay's family as the peer's VTEP address.
    pub internal_ips: Vec<IpAddr>,
    /// The VTEP MAC published in the node's annotation, if any (see [`crate::vtep_mac`]).
    pub vtep_mac: Option<Mac>,
    /// Its WireGuard public key (annotation `lichen.dev/wireguard-public-key`); for the local
    /// node, the agent's own key.
    pub wg_public_key: Option<[u8; 32]>,
    /// Its WireGuard endpoint (annotation `lichen.dev/wireguard-endpoint`), overriding the
    /// InternalIP with our listen port.
    pub wg_endpoint: Option<SocketAddr>,
}

impl NodeInfo {
    /// The first InternalIP of the family of `like` (IPv4 or IPv6).
    pub fn internal_ip_like(&self, like: &IpAddr) -> Option<IpAddr> {
        self.internal_ips
            .iter()
            .copied()
            .find(|ip| ip.is_ipv4() == like.is_ipv4())
    }

    /// The first InternalIP of the family of `net`.
    pub fn internal_ip_for(&self, net: &IpNet) -> Option<IpAddr> {
        self.internal_ip_like(&net.addr())
    }
}

/// This host's underlay interface: the one that carries node-to-node traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUnderlay {
    pub ifindex: u32,
    pub name: String,
    /// The node's address on it (the VXLAN `local` address; its family is the underlay family).
    pub addr: IpAddr,
    /// The connected subnets of the interface (both families), to judge L2 adjacency: a peer
    /// whose address lies in one of them can be reached without a gateway.
    pub onlink: Vec<IpNet>,
    pub mtu: u32,
    /// Every address of this node with its prefix (`10.251.0.10/16`), on any link but
    /// Lichen's VXLAN device, with the link's name: no peer subnet may overlap one (routing it
    /// would send part of a connected network, or this node's own address, to the peer).
    /// Addresses inside this node's podCIDRs (the bridge gateway) are Lichen's and ignored.
    pub node_nets: Vec<(IpNet, String)>,
}

impl LocalUnderlay {
    /// Whether `ip` is directly reachable on this interface (same L2 segment).
    pub fn is_adjacent(&self, ip: &IpAddr) -> bool {
        self.onlink.iter().any(|net| net.contains(ip))
    }
}
