//! The veth pair of one pod: created from the node with its pod end directly inside the pod
//! (under its final name, with its MTU), then plumbed (hairpin, up, addresses, routes); and the
//! host end of a pod's veth, seen from the node (CHECK). Both modes: in routed mode the host
//! end has no master and a fixed MAC (see `routed.rs`).

use ipnet::IpNet;

use super::{batch, find, kernel, veth_named, DpError, Named, PodSpec};
use crate::netns::NetNs;
use crate::nl::{self, Link, LinkChange, LinkId, LinkKind, NewLink, Nl, Route, TABLE_MAIN};

/// Creates the veth pair: host end up (enslaved to `bridge` when given, with `host_mac` when
/// given), pod end inside the pod as `ifname`. A stale host end of the same attachment (a
/// crashed earlier ADD) is replaced.
pub(super) fn create_veth(
    host: &mut Nl,
    pod_nl: &mut Nl,
    ns: &NetNs,
    pod: &PodSpec,
    (bridge, host_mac): (Option<u32>, Option<[u8; 6]>),
) -> Result<(), DpError> {
    // Not up yet: a veth peer cannot be opened before its pair is complete (ENOTCONN).
    let peer = NewLink {
        name: &pod.ifname,
        mtu: pod.mtu,
        up: false,
        netns: Some(ns),
        mac: pod.mac,
        ..NewLink::default()
    };
    let veth = NewLink {
        name: &pod.host_veth,
        mtu: pod.mtu,
        master: bridge,
        up: true,
        mac: host_mac,
        ..NewLink::default()
    };
    let kind = LinkKind::Veth { peer };
    let what = || format!("create veth {} / {}", pod.host_veth, pod.ifname);
    match host.create_link(&veth, &kind) {
        Ok(()) => return Ok(()),
        Err(e) if nl::is_exists(&e) => {}
        Err(e) => return Err(DpError::Kernel(what(), e)),
    }
    // EEXIST: either `ifname` appeared in the pod since the check, or the host name is taken.
    if find(pod_nl, &pod.ifname)?.is_some() {
        return Err(DpError::IfnameExists(pod.ifname.clone()));
    }
    // Only a veth can be a stale host end: a link of another kind is not ours to delete.
    match veth_named(host, &pod.host_veth)? {
        Named::Veth(index) => nl::missing_ok(host.delete_link(LinkId::Index(index)))
            .map_err(|e| DpError::Kernel(format!("delete stale {}", pod.host_veth), e))?,
        Named::Other(kind) => return Err(DpError::HostEndTaken(pod.host_veth.clone(), kind)),
        Named::Nothing => {}
    }
    host.create_link(&veth, &kind)
        .map_err(|e| DpError::Kernel(what(), e))
}

/// Everything after the veth exists: hairpin, pod end up, its addresses and routes, and in
/// routed mode (`gateway_mac`) the pod's permanent neighbours for its gateways. Returns the
/// host end and the pod end as they now are.
///
/// Round trips: 1 (hairpin, if asked) + 1 (pod end up, and its lookup) + 1 (addresses,
/// routes, neighbours: one batch) + 1 (host end lookup).
pub(super) fn plumb(
    host: &mut Nl,
    pod_nl: &mut Nl,
    pod: &PodSpec,
    gateway_mac: Option<[u8; 6]>,
) -> Result<(Link, Link), DpError> {
    if pod.hairpin {
        host.set_hairpin(LinkId::Name(&pod.host_veth), true)
            .map_err(|e| DpError::Kernel(format!("set hairpin on {}", pod.host_veth), e))?;
    }
    let up = LinkChange {
        up: Some(true),
        ..LinkChange::default()
    };
    let (set, found) = pod_nl
        .set_link_and_get(LinkId::Name(&pod.ifname), &up)
        .map_err(kernel("netlink in the pod"))?;
    set.map_err(|e| DpError::Kernel(format!("set {} up in the pod", pod.ifname), e))?;
    let pod_link = found
        .map_err(|e| DpError::Kernel(format!("look up {}", pod.ifname), e))?
        .ok_or_else(|| DpError::NoSuchInterface(pod.ifname.clone()))?;
    in_pod(pod_nl, pod, &pod_link, gateway_mac)?;
    let host_veth = find(host, &pod.host_veth)?
        .ok_or_else(|| DpError::NoSuchInterface(pod.host_veth.clone()))?;
    Ok((host_veth, pod_link))
}

/// The pod end's addresses and routes, and the gateway neighbours, in one batch; the first
/// failure is the error, worded as when they went one by one.
fn in_pod(
    pod_nl: &mut Nl,
    pod: &PodSpec,
    link: &Link,
    gateway_mac: Option<[u8; 6]>,
) -> Result<(), DpError> {
    batch(pod_nl, "netlink in the pod", |nl, what| {
        for &addr in &pod.addresses {
            what.push((format!("add {addr} to {} in the pod", pod.ifname), false));
            nl.add_addr(link.index, addr, true)?;
        }
        for &(dst, gw) in &pod.routes {
            let mut route = Route::new(dst, gw, Some(link.index));
            // A link-local gateway outside the pod's /32 (routed mode) is on the link all the
            // same.
            route.onlink = pod.onlink && gw.is_some_and(|g| g.is_ipv4());
            let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
            // EEXIST: the kernel's own prefix route already is this route.
            what.push((format!("add route {dst}{via} in the pod"), true));
            nl.add_route(&route)?;
        }
        if let Some(mac) = gateway_mac {
            for gw in super::gateways(pod.addresses.iter().map(|a| a.addr())) {
                what.push((format!("add neighbour {gw} in the pod"), false));
                nl.replace_neigh(link.index, gw, &mac)?;
            }
        }
        Ok(())
    })
}

/// The host end of a pod's veth as CHECK sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEnd {
    pub name: String,
    /// The bridge it is a port of.
    pub master: Option<String>,
    /// The destinations of Lichen's pod routes ([`super::RT_PROTO_POD`]) through it.
    pub routes: Vec<IpNet>,
    /// `proxy_arp` is on (routed mode).
    pub proxy_arp: bool,
    /// Its addresses (routed mode: fe80::1/64 for IPv6 pods).
    pub addresses: Vec<IpNet>,
}

/// The host end of a pod's veth (seen from the calling thread's namespace).
pub(super) fn host_peer(pod_link: &Link) -> Result<Option<HostEnd>, DpError> {
    let Some(peer) = pod_link.link.filter(|_| pod_link.is_kind("veth")) else {
        return Ok(None);
    };
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let found = host
        .link(LinkId::Index(peer))
        .map_err(kernel("look up the host end"))?;
    // Index numbers are per namespace: make sure this is the pod end's peer.
    let Some(veth) = found.filter(|l| l.is_kind("veth") && l.link == Some(pod_link.index)) else {
        return Ok(None);
    };
    let master = match veth.master {
        Some(m) => host
            .link(LinkId::Index(m))
            .map_err(kernel("look up the bridge"))?
            .map(|l| l.name),
        None => None,
    };
    let routes = host
        .routes(TABLE_MAIN, Some(veth.index))
        .map_err(kernel("list routes through the host end"))?
        .into_iter()
        .filter(|r| r.protocol == super::RT_PROTO_POD)
        .map(|r| r.dst)
        .collect();
    let proxy_arp = std::fs::read(format!("/proc/sys/net/ipv4/conf/{}/proxy_arp", veth.name))
        .is_ok_and(|v| v.trim_ascii() == b"1");
    let addresses = host
        .addrs(Some(veth.index))
        .map_err(kernel("list the host end's addresses"))?
        .into_iter()
        .map(|a| a.net)
        .collect();
    Ok(Some(HostEnd {
        name: veth.name,
        master,
        routes,
        proxy_arp,
        addresses,
    }))
}
