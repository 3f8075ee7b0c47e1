//! Applying one plan step (see `lichen_backends::Op` for the semantics of each; the WireGuard
//! device's two are the controller's, `crate::agent::wireguard`).

use std::io;
use std::path::Path;

use lichen_backends::{
    ActualRoute, Desired, Dev, Op, RouteEntry, VxlanDevice, WgDevice, RT_PROTO_LICHEN,
};
use lichen_wireguard::uapi::SOCKET_DIR;

use super::NetlinkKernel;
use crate::agent::wireguard::{controller, WgError};
use crate::nl::{
    exists_ok, missing_ok, LinkChange, LinkId, LinkKind, NewLink, Route, RouteScope, TABLE_MAIN,
};

pub(super) fn apply(k: &mut NetlinkKernel, desired: &Desired, op: &Op) -> io::Result<()> {
    let r = step(k, desired, op);
    if let Err(e) = &r {
        if e.raw_os_error() == Some(libc::ENODEV) {
            // A cached ifindex may be stale: look the device up again next time.
            if let Some(dev) = device_of(desired, op) {
                k.index.remove(dev);
            }
        }
    }
    r
}

fn step(k: &mut NetlinkKernel, desired: &Desired, op: &Op) -> io::Result<()> {
    match op {
        Op::CreateDevice(d) => create_device(k, d),
        Op::ReplaceDevice(d) => {
            delete_device(k, &d.name)?;
            create_device(k, d)
        }
        Op::DeleteDevice { dev } => delete_device(k, dev),
        Op::CreateWireguard(d) => create_wireguard(k, d),
        Op::DeleteWireguard { dev } => delete_wireguard(k, dev),
        Op::SetDeviceMtu { dev, mtu } => k.nl.set_link(
            LinkId::Name(dev),
            &LinkChange {
                mtu: Some(*mtu),
                ..LinkChange::default()
            },
        ),
        Op::SetDeviceUp { dev } => k.nl.set_link(
            LinkId::Name(dev),
            &LinkChange {
                up: Some(true),
                ..LinkChange::default()
            },
        ),
        Op::AddAddress { dev, addr } => {
            let i = ifindex(k, dev)?;
            exists_ok(k.nl.add_addr(i, *addr, true))
        }
        Op::DelAddress { dev, addr } => {
            let i = ifindex(k, dev)?;
            missing_ok(k.nl.delete_addr(i, *addr))
        }
        Op::AddNeighbour { dev, neighbour } => {
            let i = ifindex(k, dev)?;
            k.nl.replace_neigh(i, neighbour.ip, &neighbour.mac)
        }
        Op::DelNeighbour { dev, ip } => {
            let i = ifindex(k, dev)?;
            missing_ok(k.nl.delete_neigh(i, *ip))
        }
        Op::AddFdb { dev, fdb } => {
            let i = ifindex(k, dev)?;
            exists_ok(k.nl.append_fdb(i, &fdb.mac, fdb.dst))
        }
        Op::DelFdb { dev, fdb } => {
            let i = ifindex(k, dev)?;
            missing_ok(k.nl.delete_fdb(i, &fdb.mac, fdb.dst))
        }
        Op::AddRoute(r) => {
            let route = route(k, desired, r)?;
            k.nl.add_route(&route)
        }
        Op::ReplaceRoute(r) => {
            let route = route(k, desired, r)?;
            k.nl.replace_route(&route)
        }
        Op::DelRoute(r) => missing_ok(k.nl.delete_route(&actual_route(r))),
    }
}

/// The device a step works on, if any.
fn device_of<'a>(desired: &'a Desired, op: &'a Op) -> Option<&'a str> {
    match op {
        Op::CreateDevice(d) | Op::ReplaceDevice(d) => Some(&d.name),
        Op::CreateWireguard(d) => Some(&d.name),
        Op::DeleteDevice { dev }
        | Op::DeleteWireguard { dev }
        | Op::SetDeviceMtu { dev, .. }
        | Op::SetDeviceUp { dev }
        | Op::AddAddress { dev, .. }
        | Op::DelAddress { dev, .. }
        | Op::AddNeighbour { dev, .. }
        | Op::DelNeighbour { dev, .. }
        | Op::AddFdb { dev, .. }
        | Op::DelFdb { dev, .. } => Some(dev),
        Op::AddRoute(r) | Op::ReplaceRoute(r) if r.dev == Dev::Vxlan => {
            desired.device.as_ref().map(|d| d.name.as_str())
        }
        Op::AddRoute(r) | Op::ReplaceRoute(r) if r.dev == Dev::Wireguard => {
            desired.wireguard.as_ref().map(|d| d.name.as_str())
        }
        _ => None,
    }
}

/// `ip link add NAME address MAC mtu MTU type vxlan id VNI dstport PORT local LOCAL dev
/// UNDERLAY nolearning`, left down (the MAC is in place before anything can bring it up).
fn create_device(k: &mut NetlinkKernel, d: &VxlanDevice) -> io::Result<()> {
    let link = NewLink {
        name: &d.name,
        mtu: Some(d.mtu),
        mac: Some(d.mac),
        up: false,
        ..NewLink::default()
    };
    let kind = LinkKind::Vxlan {
        vni: d.vni,
        port: d.port,
        local: Some(d.local),
        lower: Some(d.underlay_ifindex),
        learning: false,
    };
    k.index.remove(&d.name);
    k.nl.create_link(&link, &kind)?;
    ifindex(k, &d.name).map(drop)
}

/// The WireGuard device, by the controller (the path it chose, key, port, peers, MTU).
fn create_wireguard(k: &mut NetlinkKernel, d: &WgDevice) -> io::Result<()> {
    k.index.remove(&d.name);
    let wg =
        k.wg.as_mut()
            .ok_or_else(|| io::Error::other(WgError::NotConfigured))?;
    wg.create(&mut k.nl, d).map_err(io::Error::other)?;
    ifindex(k, &d.name).map(drop)
}

/// The WireGuard device gone, and the wireguard-go the agent started (recorded) ended.
fn delete_wireguard(k: &mut NetlinkKernel, name: &str) -> io::Result<()> {
    k.index.remove(name);
    let r = match k.wg.as_mut() {
        Some(wg) => wg.remove(&mut k.nl, name),
        None => controller::remove(&mut k.nl, Path::new(SOCKET_DIR), name, None),
    };
    r.map_err(io::Error::other)
}

fn delete_device(k: &mut NetlinkKernel, name: &str) -> io::Result<()> {
    k.index.remove(name);
    missing_ok(k.nl.delete_link(LinkId::Name(name)))
}

/// The ifindex of a device: cached, or looked up (ENODEV if there is none).
fn ifindex(k: &mut NetlinkKernel, name: &str) -> io::Result<u32> {
    if let Some(i) = k.index.get(name) {
        return Ok(*i);
    }
    let link =
        k.nl.link(LinkId::Name(name))?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
    k.index.insert(name.to_string(), link.index);
    Ok(link.index)
}

/// The kernel route for a wanted one.
fn route(k: &mut NetlinkKernel, desired: &Desired, r: &RouteEntry) -> io::Result<Route> {
    let oif = match r.dev {
        Dev::Underlay => desired.underlay_ifindex,
        Dev::Vxlan => {
            let dev = desired.device.as_ref().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a route through the VXLAN device, but no device is wanted",
                )
            })?;
            ifindex(k, &dev.name)?
        }
        Dev::Wireguard => {
            let dev = desired.wireguard.as_ref().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a route through the WireGuard device, but no device is wanted",
                )
            })?;
            ifindex(k, &dev.name)?
        }
    };
    Ok(Route {
        dst: r.dst,
        gateway: Some(r.gw),
        oif: Some(oif),
        table: TABLE_MAIN,
        protocol: RT_PROTO_LICHEN,
        scope: RouteScope::Universe,
        onlink: r.onlink,
        metric: None,
    })
}

/// Exactly the route found (destination, gateway, oif, protocol).
fn actual_route(r: &ActualRoute) -> Route {
    Route {
        dst: r.dst,
        gateway: r.gw,
        oif: (r.oif != 0).then_some(r.oif),
        table: TABLE_MAIN,
        protocol: RT_PROTO_LICHEN,
        scope: RouteScope::Universe,
        onlink: r.onlink,
        metric: None,
    }
}
