//! The desired kernel state for this node: the entry point the agent calls on every change.

use ipnet::IpNet;

use crate::conf::BackendConf;
use crate::model::{LocalUnderlay, NodeInfo};
use crate::peers::vet;
use crate::state::{Desired, Dev};
use crate::{hostgw, vxlan, wireguard};

/// What the kernel should hold on this node, given its peers and the backend.
///
/// `peers` may contain the local node (skipped by name) and nodes in any order; `cluster` is
/// the cluster network(s) (e.g. 10.42.0.0/16): a peer podCIDR outside them is not routed
/// (an empty list disables that check). Every peer subnet gets a [`crate::PeerStatus`].
/// The output is sorted, so equal inputs give equal outputs.
pub fn desired(
    local_node: &NodeInfo,
    underlay: &LocalUnderlay,
    peers: &[NodeInfo],
    conf: &BackendConf,
    cluster: &[IpNet],
) -> Desired {
    let (candidates, statuses) = vet(local_node, underlay, peers, cluster);
    let mut out = Desired {
        underlay_ifindex: underlay.ifindex,
        device: None,
        routes: Vec::new(),
        neighbours: Vec::new(),
        fdb: Vec::new(),
        peers: statuses,
        wireguard: None,
    };
    match conf {
        BackendConf::HostGw => hostgw::add_all(&mut out, &candidates, underlay),
        BackendConf::Vxlan(v) => {
            let device = vxlan::device(v, local_node, underlay);
            vxlan::add_all(&mut out, &candidates, underlay, v, device.mac);
            // With DirectRouting the device exists only while some peer needs the overlay:
            // an all-LAN cluster then runs on a kernel without the vxlan module.
            if !v.direct_routing || out.routes.iter().any(|r| r.dev == Dev::Vxlan) {
                out.device = Some(device);
            }
        }
        BackendConf::Wireguard(w) => {
            let device = wireguard::add_all(&mut out, &candidates, local_node, underlay, w);
            out.wireguard = Some(device);
        }
    }
    sort(&mut out);
    out
}

fn sort(out: &mut Desired) {
    out.routes.sort_by_key(|r| r.dst);
    out.neighbours.sort_by_key(|n| n.ip);
    out.fdb.sort();
    // Stable: a peer's subnets keep their order after the by-name sort.
    out.peers
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.subnet.cmp(&b.subnet)));
}
