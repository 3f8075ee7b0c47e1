//! The veth pair of one pod: created from the node with its pod end directly inside the pod
//! (under its final name, with its MTU), then plumbed (hairpin, up, addresses, routes); and the
//! host end of a pod's veth, seen from the node (CHECK).

use super::{find, kernel, DpError, PodSpec};
use crate::netns::NetNs;
use crate::nl::{self, Link, LinkChange, LinkId, LinkKind, NewLink, Nl, Route};

/// Creates the veth pair: host end enslaved and up, pod end inside the pod as `ifname`.
/// A stale host end of the same attachment (a crashed earlier ADD) is replaced.
pub(super) fn create_veth(
    host: &mut Nl,
    pod_nl: &mut Nl,
    ns: &NetNs,
    pod: &PodSpec,
    bridge: u32,
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
        master: Some(bridge),
        up: true,
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
    nl::missing_ok(host.delete_link(LinkId::Name(&pod.host_veth)))
        .map_err(|e| DpError::Kernel(format!("delete stale {}", pod.host_veth), e))?;
    host.create_link(&veth, &kind)
        .map_err(|e| DpError::Kernel(what(), e))
}

/// Everything after the veth exists: hairpin, pod end up, its addresses and routes. Returns
/// the host end and the pod end as they now are.
pub(super) fn plumb(
    host: &mut Nl,
    pod_nl: &mut Nl,
    pod: &PodSpec,
) -> Result<(Link, Link), DpError> {
    if pod.hairpin {
        host.set_hairpin(LinkId::Name(&pod.host_veth), true)
            .map_err(|e| DpError::Kernel(format!("set hairpin on {}", pod.host_veth), e))?;
    }
    let up = LinkChange {
        up: Some(true),
        ..LinkChange::default()
    };
    pod_nl
        .set_link(LinkId::Name(&pod.ifname), &up)
        .map_err(|e| DpError::Kernel(format!("set {} up in the pod", pod.ifname), e))?;
    let pod_link =
        find(pod_nl, &pod.ifname)?.ok_or_else(|| DpError::NoSuchInterface(pod.ifname.clone()))?;
    for &addr in &pod.addresses {
        pod_nl
            .add_addr(pod_link.index, addr, true)
            .map_err(|e| DpError::Kernel(format!("add {addr} to {} in the pod", pod.ifname), e))?;
    }
    for &(dst, gw) in &pod.routes {
        let route = Route::new(dst, gw, Some(pod_link.index));
        // EEXIST: the kernel's own prefix route already is this route.
        nl::exists_ok(pod_nl.add_route(&route)).map_err(|e| {
            let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
            DpError::Kernel(format!("add route {dst}{via} in the pod"), e)
        })?;
    }
    let host_veth = find(host, &pod.host_veth)?
        .ok_or_else(|| DpError::NoSuchInterface(pod.host_veth.clone()))?;
    Ok((host_veth, pod_link))
}

/// The host end of a pod's veth (seen from the calling thread's namespace) and its master.
pub(super) fn host_peer(pod_link: &Link) -> Result<(Option<String>, Option<String>), DpError> {
    let Some(peer) = pod_link.link.filter(|_| pod_link.is_kind("veth")) else {
        return Ok((None, None));
    };
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let found = host
        .link(LinkId::Index(peer))
        .map_err(kernel("look up the host end"))?;
    // Index numbers are per namespace: make sure this is the pod end's peer.
    let Some(veth) = found.filter(|l| l.is_kind("veth") && l.link == Some(pod_link.index)) else {
        return Ok((None, None));
    };
    let master = match veth.master {
        Some(m) => host
            .link(LinkId::Index(m))
            .map_err(kernel("look up the bridge"))?
            .map(|l| l.name),
        None => None,
    };
    Ok((Some(veth.name), master))
}
