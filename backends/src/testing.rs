//! A model of the kernel objects Lichen owns, applying [`Op`]s with the kernel's rules, for
//! tests here and in the agent. It enforces what the planner promises: a route through the
//! VXLAN device needs its static neighbour and FDB entry first (else the kernel would ARP), a
//! neighbour or FDB entry cannot go while a route still uses it, a route needs its device to
//! exist and be up, and a host-gw next hop must be on the underlay's L2 segment. The WireGuard
//! device is a bare link here (no peers: the agent's controller syncs those, not the plan); it
//! gets no IPv6 link-local address when it goes up (an `ARPHRD_NONE` link has no MAC to derive
//! one from).
//! Built for this crate's tests and, with the `fake` feature (a dev-dependency of the `lichen`
//! package enables it), for the agent's; never in the shipped binary.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

use crate::model::{LocalUnderlay, Mac};
use crate::op::Op;
use crate::state::{
    Actual, ActualDevice, ActualLink, ActualNeighbour, ActualRoute, Desired, Dev, Fdb, RouteEntry,
    VxlanDevice,
};

/// Why the model refused an operation (the kernel would fail or misbehave).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeError {
    /// EEXIST.
    Exists(String),
    /// ENOENT/ESRCH.
    NotFound(String),
    /// ENODEV.
    NoDevice(String),
    /// ENETDOWN: the device is down.
    NetDown(String),
    /// ENETUNREACH: a next hop that is not on link.
    Unreachable(String),
    /// Not an error to the kernel, but a broken promise: it would have to ARP/solicit.
    WouldResolve(String),
    /// A broken promise: removing a neighbour or FDB entry a route still uses.
    InUse(String),
}

impl fmt::Display for FakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for FakeError {}

/// The kernel, reduced to Lichen's objects on one node.
mod wireguard;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeKernel {
    pub underlay: LocalUnderlay,
    pub devices: Vec<ActualDevice>,
    pub routes: Vec<ActualRoute>,
    /// The `lichen-wg` link.
    pub wireguard: Option<ActualLink>,
    pub next_ifindex: u32,
}

impl FakeKernel {
    /// An empty kernel with this underlay.
    pub fn new(underlay: &LocalUnderlay) -> FakeKernel {
        FakeKernel {
            underlay: underlay.clone(),
            devices: Vec::new(),
            routes: Vec::new(),
            wireguard: None,
            next_ifindex: underlay.ifindex.max(100) + 1,
        }
    }

    /// What the agent would read.
    pub fn actual(&self) -> Actual {
        Actual {
            devices: self.devices.clone(),
            routes: self.routes.clone(),
            wireguard: self.wireguard.clone(),
        }
    }

    /// Applies the operations in order; stops at the first refusal (with its index).
    pub fn apply_all(&mut self, desired: &Desired, ops: &[Op]) -> Result<(), (usize, FakeError)> {
        for (i, op) in ops.iter().enumerate() {
            self.apply(desired, op).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Applies one operation. `desired` names the devices `Dev::Vxlan` and `Dev::Wireguard`
    /// stand for.
    pub fn apply(&mut self, desired: &Desired, op: &Op) -> Result<(), FakeError> {
        match op {
            Op::CreateDevice(d) => self.create(d),
            Op::ReplaceDevice(d) => {
                self.delete_device(&d.name)?;
                self.create(d)
            }
            Op::CreateWireguard(d) => self.create_wireguard(d),
            Op::DeleteWireguard { dev } => self.delete_wireguard(dev),
            Op::SetDeviceMtu { .. }
            | Op::AddAddress { .. }
            | Op::DelAddress { .. }
            | Op::SetDeviceUp { .. } => self.apply_link(op),
            Op::AddNeighbour { dev, neighbour } => {
                let d = self.dev_mut(dev)?;
                d.neighbours.retain(|n| n.ip != neighbour.ip);
                d.neighbours.push(ActualNeighbour {
                    ip: neighbour.ip,
                    mac: Some(neighbour.mac),
                    permanent: true,
                });
                Ok(())
            }
            Op::DelNeighbour { dev, ip } => self.del_neighbour(dev, ip),
            Op::AddFdb { dev, fdb } => add_unique(&mut self.dev_mut(dev)?.fdb, *fdb),
            Op::DelFdb { dev, fdb } => self.del_fdb(dev, fdb),
            Op::AddRoute(r) => {
                if self.routes.iter().any(|x| x.dst == r.dst) {
                    return Err(FakeError::Exists(format!("route {}", r.dst)));
                }
                let route = self.check_route(desired, r)?;
                self.routes.push(route);
                Ok(())
            }
            Op::ReplaceRoute(r) => {
                let route = self.check_route(desired, r)?;
                match self.routes.iter().position(|x| x.dst == r.dst) {
                    Some(i) => self.routes[i] = route,
                    None => self.routes.push(route),
                }
                Ok(())
            }
            Op::DelRoute(r) => remove_one(&mut self.routes, r),
            Op::DeleteDevice { dev } => self.delete_device(dev),
        }
    }

    fn dev_mut(&mut self, name: &str) -> Result<&mut ActualDevice, FakeError> {
        self.devices
            .iter_mut()
            .find(|d| d.name == name)
            .ok_or_else(|| FakeError::NoDevice(name.to_string()))
    }

    fn dev_by_index(&self, ifindex: u32) -> Option<&ActualDevice> {
        self.devices.iter().find(|d| d.ifindex == ifindex)
    }

    fn create(&mut self, d: &VxlanDevice) -> Result<(), FakeError> {
        if self.devices.iter().any(|x| x.name == d.name) {
            return Err(FakeError::Exists(d.name.clone()));
        }
        self.devices.push(ActualDevice {
            name: d.name.clone(),
            ifindex: self.next_ifindex,
            vni: d.vni,
            port: d.port,
            local: Some(d.local),
            underlay_ifindex: Some(d.underlay_ifindex),
            learning: false,
            mac: d.mac,
            mtu: d.mtu,
            up: false,
            addresses: Vec::new(),
            neighbours: Vec::new(),
            fdb: Vec::new(),
        });
        self.next_ifindex += 1;
        Ok(())
    }

    /// Deleting a link takes its routes, neighbours and FDB with it.
    fn delete_device(&mut self, name: &str) -> Result<(), FakeError> {
        let i = self
            .devices
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| FakeError::NoDevice(name.to_string()))?;
        let gone = self.devices.remove(i);
        self.routes.retain(|r| r.oif != gone.ifindex);
        Ok(())
    }

    fn del_neighbour(&mut self, dev: &str, ip: &IpAddr) -> Result<(), FakeError> {
        let ifindex = self.dev_mut(dev)?.ifindex;
        if self
            .routes
            .iter()
            .any(|r| r.oif == ifindex && r.gw == Some(*ip))
        {
            return Err(FakeError::InUse(format!("neighbour {ip} on {dev}")));
        }
        let d = self.dev_mut(dev)?;
        let before = d.neighbours.len();
        d.neighbours.retain(|n| n.ip != *ip);
        if d.neighbours.len() == before {
            return Err(FakeError::NotFound(format!("neighbour {ip} on {dev}")));
        }
        Ok(())
    }

    fn del_fdb(&mut self, dev: &str, fdb: &Fdb) -> Result<(), FakeError> {
        let d = self.dev_mut(dev)?.clone();
        if !d.fdb.contains(fdb) {
            return Err(FakeError::NotFound(format!("fdb {fdb:?} on {dev}")));
        }
        let others = d.fdb.iter().any(|f| f.mac == fdb.mac && f != fdb);
        let used = self.routes.iter().any(|r| {
            r.oif == d.ifindex
                && d.neighbours
                    .iter()
                    .any(|n| Some(n.ip) == r.gw && n.mac == Some(fdb.mac))
        });
        if used && !others {
            return Err(FakeError::InUse(format!("fdb {fdb:?} on {dev}")));
        }
        remove_one(&mut self.dev_mut(dev)?.fdb, fdb)
    }

    /// The route as the kernel would store it, if it would take it.
    fn check_route(&self, desired: &Desired, r: &RouteEntry) -> Result<ActualRoute, FakeError> {
        let route = |oif| ActualRoute {
            dst: r.dst,
            gw: Some(r.gw),
            oif,
            onlink: r.onlink,
        };
        match r.dev {
            Dev::Underlay => {
                if r.gw.is_ipv4() != r.dst.addr().is_ipv4() {
                    return Err(FakeError::Unreachable(format!("{} via {}", r.dst, r.gw)));
                }
                if !r.onlink && !self.underlay.is_adjacent(&r.gw) {
                    return Err(FakeError::Unreachable(format!("gateway {}", r.gw)));
                }
                Ok(route(self.underlay.ifindex))
            }
            Dev::Wireguard => self.wg_route(desired, r).map(&route),
            Dev::Vxlan => {
                let name = desired
                    .device
                    .as_ref()
                    .map(|d| d.name.as_str())
                    .unwrap_or("");
                let d = self
                    .devices
                    .iter()
                    .find(|d| d.name == name)
                    .ok_or_else(|| FakeError::NoDevice(name.to_string()))?;
                if !d.up {
                    return Err(FakeError::NetDown(name.to_string()));
                }
                if !r.onlink {
                    return Err(FakeError::Unreachable(format!(
                        "gateway {} not onlink",
                        r.gw
                    )));
                }
                let mac = d
                    .neighbours
                    .iter()
                    .find(|n| n.ip == r.gw && n.permanent)
                    .and_then(|n| n.mac)
                    .ok_or_else(|| FakeError::WouldResolve(format!("no neighbour {}", r.gw)))?;
                if !d.fdb.iter().any(|f| f.mac == mac) {
                    return Err(FakeError::WouldResolve(format!("no fdb for {:?}", mac)));
                }
                Ok(route(d.ifindex))
            }
        }
    }

    /// Whether every route through a VXLAN device resolves statically (neighbour + FDB); a
    /// WireGuard device needs no neighbours (its peers' allowed IPs pick the peer).
    pub fn routes_resolve(&self) -> bool {
        let wg = self.wireguard.as_ref().map(|l| l.ifindex);
        self.routes.iter().all(|r| match self.dev_by_index(r.oif) {
            None => r.oif == self.underlay.ifindex || Some(r.oif) == wg,
            Some(d) => d
                .neighbours
                .iter()
                .find(|n| Some(n.ip) == r.gw && n.permanent)
                .and_then(|n| n.mac)
                .is_some_and(|mac| d.fdb.iter().any(|f| f.mac == mac)),
        })
    }
}

/// The EUI-64 link-local address the kernel gives a link when it goes up.
fn link_local(mac: &Mac) -> IpNet {
    let m = mac;
    let seg = |a: u8, b: u8| (u16::from(a) << 8) | u16::from(b);
    let ip = Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        seg(m[0] ^ 2, m[1]),
        seg(m[2], 0xff),
        seg(0xfe, m[3]),
        seg(m[4], m[5]),
    );
    IpNet::V6(Ipv6Net::new(ip, 64).expect("64 is a valid prefix"))
}

fn add_unique<T: PartialEq + fmt::Debug>(list: &mut Vec<T>, item: T) -> Result<(), FakeError> {
    if list.contains(&item) {
        return Err(FakeError::Exists(format!("{item:?}")));
    }
    list.push(item);
    Ok(())
}

fn remove_one<T: PartialEq + fmt::Debug>(list: &mut Vec<T>, item: &T) -> Result<(), FakeError> {
    match list.iter().position(|x| x == item) {
        Some(i) => {
            list.remove(i);
            Ok(())
        }
        None => Err(FakeError::NotFound(format!("{item:?}"))),
    }
}
