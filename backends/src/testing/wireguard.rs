//! The fake kernel's WireGuard link, and the steps that work on any of Lichen's links.

use ipnet::IpNet;

use super::{add_unique, link_local, remove_one, FakeError, FakeKernel};
use crate::model::Mac;
use crate::op::Op;
use crate::state::{ActualLink, Desired, RouteEntry, WgDevice};

/// What every link has, for the steps that work on any of Lichen's links.
struct LinkFields<'a> {
    mtu: &'a mut u32,
    up: &'a mut bool,
    addresses: &'a mut Vec<IpNet>,
    /// The MAC the kernel derives the IPv6 link-local address from (none on WireGuard).
    mac: Option<Mac>,
}

impl FakeKernel {
    /// A step on a link's MTU, addresses or state.
    pub(super) fn apply_link(&mut self, op: &Op) -> Result<(), FakeError> {
        match op {
            Op::SetDeviceMtu { dev, mtu } => {
                *self.link_mut(dev)?.mtu = *mtu;
                Ok(())
            }
            Op::AddAddress { dev, addr } => add_unique(self.link_mut(dev)?.addresses, *addr),
            Op::DelAddress { dev, addr } => remove_one(self.link_mut(dev)?.addresses, addr),
            Op::SetDeviceUp { dev } => {
                let l = self.link_mut(dev)?;
                *l.up = true;
                let ll = l.mac.as_ref().map(link_local);
                if let Some(ll) = ll.filter(|ll| !l.addresses.contains(ll)) {
                    l.addresses.push(ll);
                }
                Ok(())
            }
            _ => unreachable!("not a link step: {op:?}"),
        }
    }

    /// The WireGuard link or a VXLAN device by name.
    fn link_mut(&mut self, name: &str) -> Result<LinkFields<'_>, FakeError> {
        let FakeKernel {
            wireguard, devices, ..
        } = self;
        if let Some(l) = wireguard.as_mut().filter(|l| l.name == name) {
            return Ok(LinkFields {
                mtu: &mut l.mtu,
                up: &mut l.up,
                addresses: &mut l.addresses,
                mac: None,
            });
        }
        let d = devices
            .iter_mut()
            .find(|d| d.name == name)
            .ok_or_else(|| FakeError::NoDevice(name.to_string()))?;
        Ok(LinkFields {
            mtu: &mut d.mtu,
            up: &mut d.up,
            addresses: &mut d.addresses,
            mac: Some(d.mac),
        })
    }

    pub(super) fn create_wireguard(&mut self, d: &WgDevice) -> Result<(), FakeError> {
        let taken = self.devices.iter().any(|x| x.name == d.name);
        if taken || self.wireguard.is_some() {
            return Err(FakeError::Exists(d.name.clone()));
        }
        self.wireguard = Some(ActualLink {
            name: d.name.clone(),
            ifindex: self.next_ifindex,
            mtu: d.mtu,
            up: false,
            addresses: Vec::new(),
        });
        self.next_ifindex += 1;
        Ok(())
    }

    pub(super) fn delete_wireguard(&mut self, name: &str) -> Result<(), FakeError> {
        match self.wireguard.take_if(|l| l.name == name) {
            Some(gone) => {
                self.routes.retain(|r| r.oif != gone.ifindex);
                Ok(())
            }
            None => Err(FakeError::NoDevice(name.to_string())),
        }
    }

    /// The ifindex a route through the WireGuard device gets, if the kernel would take it.
    pub(super) fn wg_route(&self, desired: &Desired, r: &RouteEntry) -> Result<u32, FakeError> {
        let name = desired.wireguard.as_ref().map_or("", |d| d.name.as_str());
        let l = self
            .wireguard
            .as_ref()
            .filter(|l| l.name == name)
            .ok_or_else(|| FakeError::NoDevice(name.to_string()))?;
        if !l.up {
            return Err(FakeError::NetDown(name.to_string()));
        }
        if !r.onlink {
            return Err(FakeError::Unreachable(format!(
                "gateway {} not onlink",
                r.gw
            )));
        }
        Ok(l.ifindex)
    }
}
