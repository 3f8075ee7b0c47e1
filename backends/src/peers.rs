//! The checks every backend makes before routing a peer subnet: the peer is not this node, has a
//! podCIDR and an address, the podCIDR lies in the cluster network and overlaps nothing already
//! routed. What passes is a [`Candidate`]; what fails gets its [`PeerStatus`] here.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{LocalUnderlay, NodeInfo};
use crate::state::{PeerState, PeerStatus};

/// A peer subnet that may be routed, if the backend can reach the peer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub peer: &'a NodeInfo,
    /// The podCIDR, host bits cleared.
    pub cidr: IpNet,
}

/// Splits the peers (sorted by name, the local node and repeated names dropped) into candidates
/// and statuses for the subnets that cannot be routed whatever the backend.
pub(crate) fn vet<'a>(
    local: &NodeInfo,
    underlay: &LocalUnderlay,
    peers: &'a [NodeInfo],
    cluster: &[IpNet],
) -> (Vec<Candidate<'a>>, Vec<PeerStatus>) {
    let mut sorted: Vec<&NodeInfo> = peers.iter().filter(|p| p.name != local.name).collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted.dedup_by(|a, b| a.name == b.name);

    let local_cidrs: Vec<IpNet> = local.pod_cidrs.iter().map(IpNet::trunc).collect();
    let mut taken: Vec<(IpNet, &str)> = Vec::new();
    let mut candidates = Vec::new();
    let mut statuses = Vec::new();
    for peer in sorted {
        if peer.pod_cidrs.is_empty() {
            statuses.push(status(peer, None, pending("no podCIDR assigned yet")));
            continue;
        }
        let peer_problem = peer_problem(peer, local, underlay, cluster);
        for cidr in unique_cidrs(peer) {
            let problem = peer_problem.clone().or_else(|| {
                cidr_problem(cidr, cluster, &local_cidrs, &taken)
                    .or_else(|| connected_problem(cidr, underlay, &local_cidrs))
            });
            match problem {
                Some(state) => statuses.push(status(peer, Some(cidr), state)),
                None => {
                    taken.push((cidr, &peer.name));
                    candidates.push(Candidate { peer, cidr });
                }
            }
        }
    }
    (candidates, statuses)
}

pub(crate) fn status(peer: &NodeInfo, subnet: Option<IpNet>, state: PeerState) -> PeerStatus {
    PeerStatus {
        name: peer.name.clone(),
        subnet,
        state,
    }
}

pub(crate) fn pending(why: &str) -> PeerState {
    PeerState::Pending(why.to_string())
}

fn unique_cidrs(peer: &NodeInfo) -> Vec<IpNet> {
    let mut seen = BTreeSet::new();
    peer.pod_cidrs
        .iter()
        .map(IpNet::trunc)
        .filter(|c| seen.insert(*c))
        .collect()
}

/// Problems with the peer as a whole.
fn peer_problem(
    peer: &NodeInfo,
    local: &NodeInfo,
    underlay: &LocalUnderlay,
    cluster: &[IpNet],
) -> Option<PeerState> {
    if peer.internal_ips.is_empty() {
        return Some(pending("no InternalIP address yet"));
    }
    let ours = |ip: &IpAddr| {
        *ip == underlay.addr
            || local.internal_ips.contains(ip)
            || underlay.node_nets.iter().any(|(n, _)| n.addr() == *ip)
    };
    if let Some(ip) = peer.internal_ips.iter().find(|ip| ours(ip)) {
        return Some(PeerState::Unreachable(format!(
            "its InternalIP {ip} is this node's own address; two Nodes share an address"
        )));
    }
    if let Some(ip) = peer.internal_ips.iter().find(|ip| !is_unicast(ip)) {
        return Some(PeerState::Unreachable(format!(
            "its InternalIP {ip} is not a unicast host address; not routed"
        )));
    }
    let in_cluster = |ip: &IpAddr| cluster.iter().find(|n| n.contains(ip));
    peer.internal_ips
        .iter()
        .find_map(|ip| in_cluster(ip).map(|n| (ip, n)))
        .map(|(ip, n)| {
            PeerState::Unreachable(format!(
                "its InternalIP {ip} is inside the cluster network {n}: a pod address, not a node's; not routed"
            ))
        })
}

/// Whether `ip` can be a node's address: not unspecified, loopback, multicast or broadcast.
fn is_unicast(ip: &IpAddr) -> bool {
    let v4_broadcast = matches!(ip, IpAddr::V4(a) if a.is_broadcast());
    !(ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || v4_broadcast)
}

/// A peer subnet overlapping a network this node is connected to (or one of its own
/// addresses), other than Lichen's own bridge addresses inside this node's podCIDRs.
fn connected_problem(
    cidr: IpNet,
    underlay: &LocalUnderlay,
    local_cidrs: &[IpNet],
) -> Option<PeerState> {
    let lichens = |n: &IpNet| local_cidrs.iter().any(|l| l.contains(n));
    underlay
        .node_nets
        .iter()
        .find(|(n, _)| !lichens(n) && overlaps(&n.trunc(), &cidr))
        .map(|(n, link)| {
            PeerState::Unreachable(format!(
                "podCIDR {cidr} overlaps {n} on {link}, a network this node is connected to: \
                 routing it to the peer would cut this node off from it; not routed"
            ))
        })
}

/// Problems with one subnet of the peer.
fn cidr_problem(
    cidr: IpNet,
    cluster: &[IpNet],
    local_cidrs: &[IpNet],
    taken: &[(IpNet, &str)],
) -> Option<PeerState> {
    if !cluster.is_empty() && !cluster.iter().any(|net| net.contains(&cidr)) {
        let nets: Vec<String> = cluster.iter().map(ToString::to_string).collect();
        return Some(PeerState::Unreachable(format!(
            "podCIDR {cidr} is outside the cluster network ({}); not routed",
            nets.join(", ")
        )));
    }
    if let Some(mine) = local_cidrs.iter().find(|l| overlaps(l, &cidr)) {
        return Some(PeerState::Unreachable(format!(
            "podCIDR {cidr} overlaps this node's podCIDR {mine}; not routed"
        )));
    }
    taken
        .iter()
        .find(|(t, _)| overlaps(t, &cidr))
        .map(|(t, who)| {
            PeerState::Unreachable(format!(
                "podCIDR {cidr} overlaps {t} of node {who}; not routed"
            ))
        })
}

/// Two prefixes of the same family overlap when one contains the other.
pub(crate) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
