//! VXLAN: one device `lichen.<VNI>` and, per peer, static entries instead of learning.
//!
//! Design notes (Flannel's "L3 routing with static L2 entries"). The device is created with
//! learning off and its own VTEP MAC; it carries the network address of each local podCIDR as a
//! host prefix. For every peer subnet `S` with network address `S.0`:
//!
//! 1. a permanent neighbour `S.0 → peer VTEP MAC` on the device,
//! 2. an FDB entry `peer VTEP MAC → peer underlay address` on the device (one per peer),
//! 3. the route `S via S.0 dev lichen.<VNI> onlink`.
//!
//! With 1 and 2 in place before 3, the kernel resolves the next hop from the static entries
//! and never ARPs or floods; the planner keeps that order and removes in reverse. One device
//! carries both families: IPv6 pod subnets ride the same IPv4 (or IPv6) underlay, with an NDP
//! neighbour for their network address. With DirectRouting, a peer subnet whose next hop is on
//! the underlay's L2 segment gets the host-gw route instead (see [`crate::hostgw`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::conf::VxlanConf;
use crate::hostgw::direct_route;
use crate::mac::{is_unicast, vtep_mac};
use crate::model::{LocalUnderlay, Mac, MacDisplay, NodeInfo};
use crate::peers::{pending, status, Candidate};
use crate::state::{Desired, Dev, Fdb, Neighbour, PeerState, RouteEntry, Via, VxlanDevice};

/// The device this node should have.
pub(crate) fn device(conf: &VxlanConf, local: &NodeInfo, underlay: &LocalUnderlay) -> VxlanDevice {
    let mut addresses: Vec<IpNet> = local.pod_cidrs.iter().map(host_prefix).collect();
    addresses.sort();
    addresses.dedup();
    VxlanDevice {
        name: conf.device_name(),
        vni: conf.vni,
        port: conf.port,
        local: underlay.addr,
        underlay_ifindex: underlay.ifindex,
        mac: vtep_mac(local),
        mtu: conf.device_mtu(underlay),
        addresses,
    }
}

/// The network address of a subnet as a /32 or /128.
pub(crate) fn host_prefix(net: &IpNet) -> IpNet {
    let net = net.trunc();
    IpNet::new(net.network(), net.max_prefix_len()).expect("max prefix length is valid")
}

/// Adds the entries (and statuses) for every candidate; `local_mac` is this node's VTEP MAC.
pub(crate) fn add_all(
    out: &mut Desired,
    candidates: &[Candidate],
    underlay: &LocalUnderlay,
    conf: &VxlanConf,
    local_mac: Mac,
) {
    // Which peer owns each MAC, to refuse a second peer with the same one (its FDB entry would
    // steal the first peer's traffic).
    let mut owners: BTreeMap<Mac, &str> = BTreeMap::new();
    for c in candidates {
        let state = if conf.direct_routing {
            match direct_route(c, underlay) {
                Ok(route) => {
                    out.routes.push(route);
                    Ok(Via::Direct)
                }
                Err(_) => overlay(out, c, underlay, local_mac, &mut owners),
            }
        } else {
            overlay(out, c, underlay, local_mac, &mut owners)
        };
        let state = state.map_or_else(|s| s, PeerState::Programmed);
        out.peers.push(status(c.peer, Some(c.cidr), state));
    }
}

/// The overlay entries for one peer subnet, or why there are none.
fn overlay<'a>(
    out: &mut Desired,
    c: &Candidate<'a>,
    underlay: &LocalUnderlay,
    local_mac: Mac,
    owners: &mut BTreeMap<Mac, &'a str>,
) -> Result<Via, PeerState> {
    let vtep = vtep_address(c.peer, underlay)?;
    let mac = vtep_mac(c.peer);
    check_mac(&mac, local_mac, owners, &c.peer.name)?;
    owners.insert(mac, &c.peer.name);

    let gw = c.cidr.network();
    let fdb = Fdb { mac, dst: vtep };
    if !out.fdb.contains(&fdb) {
        out.fdb.push(fdb);
    }
    out.neighbours.push(Neighbour { ip: gw, mac });
    out.routes.push(RouteEntry {
        dst: c.cidr,
        gw,
        dev: Dev::Vxlan,
        onlink: true,
    });
    Ok(Via::Overlay)
}

/// The peer's underlay address: its InternalIP of the underlay's family.
fn vtep_address(peer: &NodeInfo, underlay: &LocalUnderlay) -> Result<IpAddr, PeerState> {
    peer.internal_ip_like(&underlay.addr).ok_or_else(|| {
        let family = if underlay.addr.is_ipv4() {
            "IPv4"
        } else {
            "IPv6"
        };
        pending(&format!(
            "no {family} InternalIP to reach its VTEP over the {family} underlay {}",
            underlay.name
        ))
    })
}

fn check_mac(
    mac: &Mac,
    local_mac: Mac,
    owners: &BTreeMap<Mac, &str>,
    name: &str,
) -> Result<(), PeerState> {
    let problem = if !is_unicast(mac) {
        Some("is not a unicast address".to_string())
    } else if *mac == local_mac {
        Some("equals this node's".to_string())
    } else {
        owners
            .get(mac)
            .filter(|owner| **owner != name)
            .map(|owner| format!("is already used by node {owner}"))
    };
    match problem {
        Some(p) => Err(PeerState::Unreachable(format!(
            "its VTEP MAC {} {p}; fix or remove its VTEP MAC annotation",
            MacDisplay(mac)
        ))),
        None => Ok(()),
    }
}
