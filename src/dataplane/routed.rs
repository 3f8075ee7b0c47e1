//! Routed mode (`"mode": "routed"`; without `mode` too unless the node's bridge has ports, see
//! `mode.rs`): a pod's veth without a bridge, as Calico attaches pods (projectcalico/calico,
//! cni-plugin/pkg/dataplane/linux/dataplane_linux.go: `DoNetworking`, `SetupRoutes`,
//! `configureSysctls`).
//!
//! - The pod has its addresses as /32 (/128) and its routes via a link-local next hop:
//!   [`GATEWAY_V4`] (169.254.1.1, `onlink`: outside the pod's /32) and [`GATEWAY_V6`]. Calico
//!   uses 169.254.1.1 too, with a scope-link route to it; `onlink` says the same in one route.
//! - The node answers for that next hop. IPv4: `proxy_arp` on the host end with `proxy_delay`
//!   0, as Calico sets them; the host end has no IPv4 address. Proxy ARP answers only when the
//!   node routes 169.254.1.1 through another device (a default route), so the pod also gets a
//!   permanent neighbour entry for the gateway with the host end's MAC, fixed to
//!   [`HOST_MAC`] (Calico's `EE:EE:EE:EE:EE:EE`): no ARP at all while the entry lives, and
//!   proxy ARP when it is gone (the pod's interface set down and up flushes it). IPv6: Calico
//!   takes the host end's kernel-made link-local address and waits for it; here the host end
//!   gets a fixed one, [`GATEWAY_V6`] (fe80::1/64, no DAD; link-local addresses are per link,
//!   so every host end has the same), and the pod a permanent neighbour for it: nothing to
//!   wait for.
//! - The node routes each pod address to the host end: `addr/32 dev <host end> scope link`,
//!   tagged [`RT_PROTO_POD`]. Not the agent's tag (`RT_PROTO_LICHEN`, 108): the agent removes
//!   every route of its own tag it does not want. The route goes when the veth goes (the
//!   kernel drops the routes of a deleted device), so DEL and rollback delete the host end and
//!   nothing else.
//! - The node makes the pod subnets themselves `unreachable` (tagged [`RT_PROTO_POD`], metric
//!   [`UNREACHABLE_METRIC`]), as Calico blackholes its own address blocks: without a bridge
//!   there is no connected route for them, and a packet for an address no pod holds (a pod
//!   just deleted) would follow the default route, or loop between nodes until its TTL ends.
//!   Longest prefix keeps the pod routes first; the highest metric keeps a bridge's connected
//!   route first on a node that has both modes. It stays after the last DEL (ADD adds it when
//!   missing, EEXIST otherwise).
//! - No announcement (`announce.rs`): every neighbour of the pod is the node, and the host end
//!   is new with each ADD, so no neighbour can hold a stale MAC for the pod's address.
//! - Pod-to-pod traffic on one node is routed, so it passes the forward hook where the policy
//!   table filters it: br_netfilter plays no part.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{
    batch, create_veth, enable_forwarding, info, kernel, plumb, Attached, Checked, DpError, PodSpec,
};
use crate::nl::{self, Link, LinkId, Nl, Route};

/// The pod's IPv4 next hop (Calico's).
pub const GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// The pod's IPv6 next hop, on every host end.
pub const GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// The host end's MAC in routed mode (Calico's): the pod's gateway entry names it.
pub const HOST_MAC: [u8; 6] = [0xee; 6];
/// The route protocol of the plugin's pod routes on the node (`ip route show proto 109`).
/// 109: next to the agent's 108, not among iproute2's reserved values.
pub const RT_PROTO_POD: u8 = 109;

/// The metric of the node's `unreachable` route for a routed pod subnet: the last resort.
pub const UNREACHABLE_METRIC: u32 = u32::MAX;

/// The pod's next hop for `addr`'s family.
pub fn gateway_for(addr: IpAddr) -> IpAddr {
    if addr.is_ipv4() {
        IpAddr::V4(GATEWAY_V4)
    } else {
        IpAddr::V6(GATEWAY_V6)
    }
}

/// Each family's gateway for `addresses` (routed mode's next hops), once each, IPv4's first.
pub fn gateways(addresses: impl IntoIterator<Item = IpAddr>) -> Vec<IpAddr> {
    let mut gws: Vec<IpAddr> = addresses.into_iter().map(gateway_for).collect();
    gws.sort();
    gws.dedup();
    gws
}

/// ADD's data plane in routed mode, for a namespace [`super::preflight`] checked: forwarding
/// on, the veth pair (host end with [`HOST_MAC`], up, no master), the pod's addresses, routes
/// (`pod.addresses` are host prefixes, `pod.routes` via [`gateway_for`]) and gateway
/// neighbours, then the host end's sysctls and IPv6 gateway address, the node's pod routes,
/// and the pod subnets' unreachable routes. On any failure it deletes the host end
/// (which takes the pod end, the pod routes and the address with it) before returning the
/// error; an unreachable route it made stays, as after a DEL: it belongs to the node's subnet.
///
/// Netlink round trips: 1 (ifname check) + 1 (veth) + 1 (pod end up, and its lookup) + 1 (the
/// pod's addresses, routes and gateway neighbours, one batch) + 1 (host end lookup) + 1 (the
/// node's pod routes and unreachable routes [and the host end's IPv6 address], one batch):
/// 6, whatever the families.
pub fn attach_routed(pod: &PodSpec, checked: Checked) -> Result<Attached, DpError> {
    let Checked { ns, nl: mut pod_nl } = checked;
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let v6 = pod.addresses.iter().any(|a| a.addr().is_ipv6());
    enable_forwarding(v6)?;
    create_veth(&mut host, &mut pod_nl, &ns, pod, (None, Some(HOST_MAC)))?;
    let done = plumb(&mut host, &mut pod_nl, pod, Some(HOST_MAC)).and_then(|(end, pod_link)| {
        node_side(&mut host, &end, pod)?;
        Ok(Attached {
            bridge: None,
            host_veth: info(&end),
            pod: info(&pod_link),
        })
    });
    if done.is_err() {
        if let Err(undo) = nl::missing_ok(host.delete_link(LinkId::Name(&pod.host_veth))) {
            log::warn!("rollback: cannot delete {}: {undo}", pod.host_veth);
        }
    }
    done
}

/// The node's side: proxy ARP on the host end (IPv4), then in one batch its link-local
/// gateway address (IPv6), a route per pod address through it, and the pod subnets'
/// unreachable routes (EEXIST but for the first ADD: one request in the batch costs next to
/// nothing, a lookup first would be a round trip).
fn node_side(host: &mut Nl, end: &Link, pod: &PodSpec) -> Result<(), DpError> {
    if pod.addresses.iter().any(|a| a.addr().is_ipv4()) {
        for (f, v) in [
            (
                format!("/proc/sys/net/ipv4/conf/{}/proxy_arp", end.name),
                "1",
            ),
            (
                format!("/proc/sys/net/ipv4/neigh/{}/proxy_delay", end.name),
                "0",
            ),
        ] {
            std::fs::write(&f, v).map_err(|e| DpError::Kernel(format!("write {f}"), e))?;
        }
    }
    batch(host, "netlink on the node", |nl, what| {
        if pod.addresses.iter().any(|a| a.addr().is_ipv6()) {
            let gw = IpNet::new(IpAddr::V6(GATEWAY_V6), 64).expect("a valid prefix");
            what.push((format!("add {gw} to {}", end.name), true));
            nl.add_addr(end.index, gw, true)?;
        }
        for a in &pod.addresses {
            let dst = IpNet::new(a.addr(), a.max_prefix_len()).expect("a host prefix");
            let mut route = Route::new(dst, None, Some(end.index));
            route.protocol = RT_PROTO_POD;
            what.push((
                format!("add route {dst} dev {} on the node", end.name),
                false,
            ));
            nl.add_route(&route)?;
        }
        for &net in &pod.subnets {
            what.push((format!("add unreachable {net} on the node"), true));
            nl.add_unreachable(net, RT_PROTO_POD, UNREACHABLE_METRIC)?;
        }
        Ok(())
    })
}

/// Removes the pod subnets' unreachable routes ADD made (`lichen uninstall --all`: they
/// outlive every DEL, as the bridge does); returns the subnets.
pub fn remove_unreachable() -> Result<Vec<IpNet>, DpError> {
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let nets = host
        .unreachables(nl::TABLE_MAIN, RT_PROTO_POD)
        .map_err(kernel("list the unreachable routes"))?;
    for &net in &nets {
        nl::missing_ok(host.delete_unreachable(net, RT_PROTO_POD, UNREACHABLE_METRIC))
            .map_err(|e| DpError::Kernel(format!("delete unreachable {net}"), e))?;
    }
    Ok(nets)
}
