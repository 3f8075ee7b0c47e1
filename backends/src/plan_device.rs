//! The device part of a plan: create, replace or adjust the wanted VXLAN device or create or
//! adjust the WireGuard device, and find the stale `lichen.*` devices and WireGuard device to
//! delete at the end.

use ipnet::IpNet;

use crate::op::Op;
use crate::state::{Actual, ActualDevice, ActualNeighbour, Desired, Fdb, VxlanDevice};

/// The wanted device as it will be once the device operations are applied.
pub(crate) struct DeviceView<'a> {
    /// Its ifindex if it exists and is kept: routes through it may stay.
    pub kept_ifindex: Option<u32>,
    /// Routes through this ifindex vanish (the device is replaced).
    pub replaced_ifindex: Option<u32>,
    /// What is on it (empty once created or replaced).
    pub neighbours: &'a [ActualNeighbour],
    pub fdb: &'a [Fdb],
    /// `lichen.*` devices to delete once routes have moved off them.
    pub stale: Vec<String>,
    /// The WireGuard device's ifindex if it exists and is kept.
    pub wg_kept_ifindex: Option<u32>,
    /// The WireGuard device to delete once routes have moved off it.
    pub wg_stale: Option<String>,
}

/// Emits the device operations and describes the result.
pub(crate) fn plan_device<'a>(
    desired: &Desired,
    actual: &'a Actual,
    ops: &mut Vec<Op>,
) -> DeviceView<'a> {
    let wanted = desired.device.as_ref();
    let stale = actual
        .devices
        .iter()
        .filter(|d| wanted.is_none_or(|w| w.name != d.name))
        .map(|d| d.name.clone())
        .collect();
    let (wg_kept_ifindex, wg_stale) = plan_wireguard(desired, actual, ops);
    let mut view = DeviceView {
        kept_ifindex: None,
        replaced_ifindex: None,
        neighbours: &[],
        fdb: &[],
        stale,
        wg_kept_ifindex,
        wg_stale,
    };
    let Some(want) = wanted else {
        return view;
    };
    match actual.devices.iter().find(|d| d.name == want.name) {
        None => {
            ops.push(Op::CreateDevice(want.clone()));
            fresh_link(&want.name, &want.addresses, ops);
        }
        Some(cur) if must_recreate(want, cur) => {
            ops.push(Op::ReplaceDevice(want.clone()));
            view.replaced_ifindex = Some(cur.ifindex);
            fresh_link(&want.name, &want.addresses, ops);
        }
        Some(cur) => {
            let have = LinkState {
                mtu: cur.mtu,
                up: cur.up,
                addresses: &cur.addresses,
            };
            adjust_link(&want.name, want.mtu, &want.addresses, &have, ops);
            view.kept_ifindex = Some(cur.ifindex);
            view.neighbours = &cur.neighbours;
            view.fdb = &cur.fdb;
        }
    }
    view
}

/// The WireGuard device's steps (create, or MTU, addresses and up); returns the ifindex it
/// keeps, if it exists, and its name if it is no longer wanted.
fn plan_wireguard(
    desired: &Desired,
    actual: &Actual,
    ops: &mut Vec<Op>,
) -> (Option<u32>, Option<String>) {
    let have = actual.wireguard.as_ref();
    let Some(want) = desired.wireguard.as_ref() else {
        return (None, have.map(|l| l.name.clone()));
    };
    match have.filter(|l| l.name == want.name) {
        None => {
            ops.push(Op::CreateWireguard(want.clone()));
            fresh_link(&want.name, &want.addresses, ops);
            (None, have.map(|l| l.name.clone()))
        }
        Some(cur) => {
            let state = LinkState {
                mtu: cur.mtu,
                up: cur.up,
                addresses: &cur.addresses,
            };
            adjust_link(&want.name, want.mtu, &want.addresses, &state, ops);
            (Some(cur.ifindex), None)
        }
    }
}

/// What a link has that the plan adjusts in place.
struct LinkState<'a> {
    mtu: u32,
    up: bool,
    addresses: &'a [IpNet],
}

/// Attributes that cannot be changed in place (or that we do not trust to change in place).
fn must_recreate(want: &VxlanDevice, cur: &ActualDevice) -> bool {
    cur.vni != want.vni
        || cur.port != want.port
        || cur.local != Some(want.local)
        || cur.underlay_ifindex != Some(want.underlay_ifindex)
        || cur.learning
        || cur.mac != want.mac
}

/// A new device: addresses, then up.
fn fresh_link(name: &str, addresses: &[IpNet], ops: &mut Vec<Op>) {
    for addr in addresses {
        ops.push(Op::AddAddress {
            dev: name.to_string(),
            addr: *addr,
        });
    }
    ops.push(Op::SetDeviceUp {
        dev: name.to_string(),
    });
}

/// An existing device with the right identity: MTU, addresses, up.
fn adjust_link(name: &str, mtu: u32, addresses: &[IpNet], cur: &LinkState, ops: &mut Vec<Op>) {
    let dev = || name.to_string();
    if cur.mtu != mtu {
        ops.push(Op::SetDeviceMtu { dev: dev(), mtu });
    }
    for addr in cur.addresses {
        if !addresses.contains(addr) && !is_kernel_owned(addr) {
            ops.push(Op::DelAddress {
                dev: dev(),
                addr: *addr,
            });
        }
    }
    for addr in addresses {
        if !cur.addresses.contains(addr) {
            ops.push(Op::AddAddress {
                dev: dev(),
                addr: *addr,
            });
        }
    }
    if !cur.up {
        ops.push(Op::SetDeviceUp { dev: dev() });
    }
}

/// IPv6 link-local addresses are the kernel's own (it adds one when the link goes up):
/// removing them would only make every reconcile after a restart do work.
fn is_kernel_owned(addr: &IpNet) -> bool {
    match addr {
        IpNet::V6(a) => a.addr().segments()[0] & 0xffc0 == 0xfe80,
        IpNet::V4(_) => false,
    }
}
