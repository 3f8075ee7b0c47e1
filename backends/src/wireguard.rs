//! WireGuard: one device `lichen-wg` and one WireGuard peer per node, instead of VXLAN's static
//! L2 entries.
//!
//! Design notes. The device carries both families, like Flannel's wireguard backend in its
//! `auto` mode (flannel-io/flannel pkg/backend/wireguard/wireguard_network.go), but routes per
//! peer subnet as the VXLAN backend does: `S via S.0 dev lichen-wg onlink` for every peer
//! subnet `S`. WireGuard picks the peer by the destination (its allowed IPs), so the gateway is
//! only there to keep the route's shape; the link has no ARP. Each peer lists all its
//! programmed subnets (both families) as allowed IPs. Its endpoint is its
//! `lichen.dev/wireguard-endpoint` annotation, else its InternalIP of the underlay's family
//! (a published public-ip comes first) with our listen port: every node shares one net-conf.
//!
//! A peer needs its public key (the annotation `lichen.dev/wireguard-public-key`); without
//! it, or without an address, it is pending. Two nodes with one key cannot both be peers (a
//! WireGuard peer is its key): the first by name keeps it, the others, and a peer with our own
//! key, are unreachable until their key is fixed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::conf::{WireguardConf, WG_DEVICE};
use crate::model::{LocalUnderlay, NodeInfo};
use crate::peers::{pending, status, Candidate};
use crate::state::{Desired, Dev, PeerState, RouteEntry, Via, WgDevice, WgPeer};
use crate::vxlan::host_prefix;

/// The device this node should have, and every candidate's routes and status in `out`.
pub(crate) fn add_all(
    out: &mut Desired,
    candidates: &[Candidate],
    local: &NodeInfo,
    underlay: &LocalUnderlay,
    conf: &WireguardConf,
) -> WgDevice {
    let mut addresses: Vec<IpNet> = local.pod_cidrs.iter().map(host_prefix).collect();
    addresses.sort();
    addresses.dedup();
    let mut device = WgDevice {
        name: WG_DEVICE.to_string(),
        mtu: conf.device_mtu(underlay),
        listen_port: conf.listen_port,
        addresses,
        peers: Vec::new(),
    };
    // Which node owns each key, to refuse a second node with the same one.
    let mut owners: BTreeMap<[u8; 32], &str> = BTreeMap::new();
    // Candidates come sorted by node name, a node's subnets together.
    for group in candidates.chunk_by(|a, b| a.peer.name == b.peer.name) {
        let peer = group[0].peer;
        let state = match wg_peer(peer, local, underlay, conf, &owners) {
            Ok(mut p) => {
                owners.insert(p.public_key, &peer.name);
                p.allowed_ips = group.iter().map(|c| c.cidr).collect();
                p.allowed_ips.sort();
                out.routes.extend(group.iter().map(|c| route(c.cidr)));
                device.peers.push(p);
                PeerState::Programmed(Via::Wireguard)
            }
            Err(state) => state,
        };
        for c in group {
            out.peers.push(status(peer, Some(c.cidr), state.clone()));
        }
    }
    device
}

/// `S via S.0 dev lichen-wg onlink`.
fn route(cidr: IpNet) -> RouteEntry {
    RouteEntry {
        dst: cidr,
        gw: cidr.network(),
        dev: Dev::Wireguard,
        onlink: true,
    }
}

/// The peer entry for a node (allowed IPs still empty), or why there is none.
fn wg_peer(
    peer: &NodeInfo,
    local: &NodeInfo,
    underlay: &LocalUnderlay,
    conf: &WireguardConf,
    owners: &BTreeMap<[u8; 32], &str>,
) -> Result<WgPeer, PeerState> {
    let Some(key) = peer.wg_public_key else {
        return Err(pending(
            "no WireGuard public key yet (annotation lichen.dev/wireguard-public-key: its \
             agent publishes it with the API source; with a cluster directory, add it to its \
             Node file)",
        ));
    };
    let problem = if local.wg_public_key == Some(key) {
        Some("is this node's own".to_string())
    } else {
        owners
            .get(&key)
            .map(|owner| format!("is already used by node {owner}"))
    };
    if let Some(p) = problem {
        return Err(PeerState::Unreachable(format!(
            "its WireGuard public key {p}; give each node its own key (delete its key file \
             and restart its agent)"
        )));
    }
    Ok(WgPeer {
        node: peer.name.clone(),
        public_key: key,
        endpoint: endpoint(peer, underlay, conf)?,
        allowed_ips: Vec::new(),
        keepalive: conf.keepalive,
        psk: conf.psk,
    })
}

/// The annotated endpoint, else the InternalIP of the underlay's family with our port.
fn endpoint(
    peer: &NodeInfo,
    underlay: &LocalUnderlay,
    conf: &WireguardConf,
) -> Result<SocketAddr, PeerState> {
    if let Some(e) = peer.wg_endpoint {
        return Ok(e);
    }
    let ip: Option<IpAddr> = peer.internal_ip_like(&underlay.addr);
    ip.map(|ip| SocketAddr::new(ip, conf.listen_port))
        .ok_or_else(|| {
            let family = if underlay.addr.is_ipv4() {
                "IPv4"
            } else {
                "IPv6"
            };
            pending(&format!(
                "no {family} InternalIP to reach it over the {family} underlay {}; set its \
                 lichen.dev/wireguard-endpoint annotation (ip:port) to reach it elsewhere",
                underlay.name
            ))
        })
}
