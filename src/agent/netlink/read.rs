//! Reading the kernel: the underlay interface, and what Lichen owns.

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use lichen_backends::{
    Actual, ActualDevice, ActualLink, ActualNeighbour, ActualRoute, Fdb, LocalUnderlay, Mac,
    DEVICE_PREFIX, RT_PROTO_LICHEN, WG_DEVICE,
};

use crate::nl::{is_not_found, Addr, Link, LinkId, Nl, VxlanInfo, TABLE_MAIN};

/// The underlay: `iface` if given, else the interface holding `addr`. Two round trips.
pub(super) fn underlay(
    nl: &mut Nl,
    iface: Option<&str>,
    addr: IpAddr,
) -> io::Result<LocalUnderlay> {
    let all = nl.addrs(None)?;
    let (link, addrs) = match iface {
        Some(name) => {
            let link = nl
                .link(LinkId::Name(name))?
                .ok_or_else(|| not_found(format!("no interface named {name}")))?;
            let addrs: Vec<Addr> = all
                .iter()
                .filter(|a| a.index == link.index)
                .copied()
                .collect();
            (link, addrs)
        }
        None => {
            let index = all
                .iter()
                .find(|a| a.net.addr() == addr)
                .map(|a| a.index)
                .ok_or_else(|| not_found(format!("no interface has the address {addr}")))?;
            let link = nl
                .link(LinkId::Index(index))?
                .ok_or_else(|| not_found(format!("interface {index} vanished")))?;
            let addrs: Vec<Addr> = all.iter().filter(|a| a.index == index).copied().collect();
            (link, addrs)
        }
    };
    Ok(LocalUnderlay {
        ifindex: link.index,
        name: link.name,
        addr,
        onlink: connected(&addrs),
        mtu: link.mtu,
        node_nets: node_nets(nl, &all)?,
    })
}

/// Every address of the node with its link's name, but those on Lichen's VXLAN devices.
/// One round trip (the link names).
fn node_nets(nl: &mut Nl, addrs: &[Addr]) -> io::Result<Vec<(IpNet, String)>> {
    let names: std::collections::HashMap<u32, String> =
        nl.links()?.into_iter().map(|l| (l.index, l.name)).collect();
    Ok(addrs
        .iter()
        .filter_map(|a| {
            let name = names
                .get(&a.index)
                .cloned()
                .unwrap_or_else(|| a.index.to_string());
            (!name.starts_with(DEVICE_PREFIX)).then_some((a.net, name))
        })
        .collect())
}

/// The connected prefixes of some addresses, without duplicates.
fn connected(addrs: &[Addr]) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = addrs.iter().map(|a| a.net.trunc()).collect();
    out.sort();
    out.dedup();
    out
}

fn not_found(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, msg)
}

/// Lichen's devices (with what is on them), routes and WireGuard link. 4 + 3 × devices round
/// trips.
pub(super) fn actual(nl: &mut Nl) -> io::Result<Actual> {
    let mut devices = Vec::new();
    for (link, vx) in nl.vxlan_links()? {
        if !link.name.starts_with(DEVICE_PREFIX) {
            continue;
        }
        match device(nl, link, vx) {
            Ok(d) => devices.push(d),
            // Deleted while we looked: it is simply not there.
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    let routes = nl
        .routes(TABLE_MAIN, None)?
        .into_iter()
        .filter(|r| r.protocol == RT_PROTO_LICHEN)
        .map(|r| ActualRoute {
            dst: r.dst,
            gw: r.gateway,
            oif: r.oif.unwrap_or(0),
            onlink: r.onlink,
        })
        .collect();
    Ok(Actual {
        devices,
        routes,
        wireguard: wireguard(nl)?,
    })
}

/// The link named `lichen-wg`, whatever its kind, with its addresses. Two round trips.
fn wireguard(nl: &mut Nl) -> io::Result<Option<ActualLink>> {
    let Some(link) = nl.link(LinkId::Name(WG_DEVICE))? else {
        return Ok(None);
    };
    let addresses = match nl.addrs(Some(link.index)) {
        Ok(a) => a.into_iter().map(|a| a.net).collect(),
        // Deleted while we looked: it is simply not there.
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(ActualLink {
        ifindex: link.index,
        mtu: link.mtu,
        up: link.up,
        addresses,
        name: link.name,
    }))
}

fn device(nl: &mut Nl, link: Link, vx: VxlanInfo) -> io::Result<ActualDevice> {
    let addresses = nl
        .addrs(Some(link.index))?
        .into_iter()
        .map(|a| a.net)
        .collect();
    let neighbours = nl
        .neighs(link.index)?
        .into_iter()
        .map(|n| ActualNeighbour {
            ip: n.ip,
            mac: mac_of(&n.mac),
            permanent: n.permanent,
        })
        .collect();
    let mut fdb = Vec::new();
    for f in nl.fdbs(link.index)? {
        if let Some(mac) = mac_of(&f.mac) {
            fdb.push(Fdb { mac, dst: f.dst });
        }
    }
    fdb.sort();
    Ok(ActualDevice {
        ifindex: link.index,
        vni: vx.vni,
        port: vx.port,
        local: vx.local,
        underlay_ifindex: vx.lower,
        learning: vx.learning,
        mac: mac_of(&link.mac).unwrap_or_default(),
        mtu: link.mtu,
        up: link.up,
        addresses,
        neighbours,
        fdb,
        name: link.name,
    })
}

/// A 6-byte hardware address; `None` for none (an incomplete neighbour) or another length.
fn mac_of(bytes: &[u8]) -> Option<Mac> {
    Mac::try_from(bytes).ok()
}
