//! Neighbours (IP → MAC on an interface) and bridge/vxlan FDB entries (MAC → remote IP): the
//! agent's VXLAN backend programs both as permanent entries. Both are RTM_*NEIGH messages;
//! they differ in family (inet vs AF_BRIDGE) and in what the address attributes mean.

use std::io;
use std::net::IpAddr;

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::AddressFamily;

use super::addr::family;
use super::{Msg, Nl, ACK, APPEND, REPLACE};

/// A neighbour entry: `ip` lives at `mac` on link `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neigh {
    pub index: u32,
    pub ip: IpAddr,
    pub mac: Vec<u8>,
    pub permanent: bool,
}

/// A forwarding-database entry of a vxlan device: frames for `mac` go to VTEP `dst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fdb {
    pub index: u32,
    pub mac: Vec<u8>,
    pub dst: IpAddr,
}

fn neigh_message(index: u32, ip: IpAddr, mac: Option<&[u8]>) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = family(ip);
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    msg.attributes
        .push(NeighbourAttribute::Destination(ip.into()));
    if let Some(mac) = mac {
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    }
    msg
}

fn fdb_message(index: u32, mac: &[u8], dst: Option<IpAddr>) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Bridge;
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    // NTF_SELF: the entry belongs to the device's own table (vxlan), not to a bridge master.
    msg.header.flags = NeighbourFlags::Own;
    msg.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    if let Some(dst) = dst {
        msg.attributes
            .push(NeighbourAttribute::Destination(dst.into()));
    }
    msg
}

fn ip_of(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        // In AF_BRIDGE messages the family says nothing about NDA_DST: go by its length.
        NeighbourAddress::Other(b) => match b.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(&b[..]).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(&b[..]).ok()?)),
            _ => None,
        },
        _ => None,
    }
}

impl Nl {
    /// Adds or replaces a permanent neighbour entry.
    pub fn replace_neigh(&mut self, index: u32, ip: IpAddr, mac: &[u8]) -> io::Result<()> {
        let msg = neigh_message(index, ip, Some(mac));
        self.ack(Msg::NewNeighbour(msg), REPLACE)
    }

    /// Deletes a neighbour entry (ENOENT if absent).
    pub fn delete_neigh(&mut self, index: u32, ip: IpAddr) -> io::Result<()> {
        let msg = neigh_message(index, ip, None);
        self.ack(Msg::DelNeighbour(msg), ACK)
    }

    /// The neighbour entries (both families) of link `index`.
    pub fn neighs(&mut self, index: u32) -> io::Result<Vec<Neigh>> {
        // Under strict checking the interface filter is NDA_IFINDEX (the header must be zero).
        let mut req = NeighbourMessage::default();
        req.attributes.push(NeighbourAttribute::IfIndex(index));
        let replies = self.dump(Msg::GetNeighbour(req))?;
        let mut out = Vec::new();
        for reply in replies {
            let Msg::NewNeighbour(m) = reply else {
                continue;
            };
            if m.header.ifindex != index || m.header.family == AddressFamily::Bridge {
                continue;
            }
            let (ip, mac) = destination_and_mac(&m);
            if let Some(ip) = ip {
                out.push(Neigh {
                    index,
                    ip,
                    mac,
                    permanent: m.header.state == NeighbourState::Permanent,
                });
            }
        }
        Ok(out)
    }

    /// Adds or replaces the FDB entry `mac → dst` on vxlan device `index`.
    pub fn replace_fdb(&mut self, index: u32, mac: &[u8], dst: IpAddr) -> io::Result<()> {
        let msg = fdb_message(index, mac, Some(dst));
        self.ack(Msg::NewNeighbour(msg), REPLACE)
    }

    /// Adds the remote `dst` for `mac` on vxlan device `index`, keeping any other remotes of
    /// that MAC (`bridge fdb append`); adding a remote that is already there succeeds.
    pub fn append_fdb(&mut self, index: u32, mac: &[u8], dst: IpAddr) -> io::Result<()> {
        let msg = fdb_message(index, mac, Some(dst));
        self.ack(Msg::NewNeighbour(msg), APPEND)
    }

    /// Deletes the FDB entry `mac → dst` on device `index` (ENOENT if absent).
    pub fn delete_fdb(&mut self, index: u32, mac: &[u8], dst: IpAddr) -> io::Result<()> {
        let msg = fdb_message(index, mac, Some(dst));
        self.ack(Msg::DelNeighbour(msg), ACK)
    }

    /// The FDB entries of device `index` that point at a remote (those with a destination).
    pub fn fdbs(&mut self, index: u32) -> io::Result<Vec<Fdb>> {
        let mut req = NeighbourMessage::default();
        req.header.family = AddressFamily::Bridge;
        req.attributes.push(NeighbourAttribute::IfIndex(index));
        let replies = self.dump(Msg::GetNeighbour(req))?;
        let mut out = Vec::new();
        for reply in replies {
            let Msg::NewNeighbour(m) = reply else {
                continue;
            };
            if m.header.ifindex != index {
                continue;
            }
            let (dst, mac) = destination_and_mac(&m);
            if let Some(dst) = dst {
                out.push(Fdb { index, mac, dst });
            }
        }
        Ok(out)
    }
}

/// A neighbour or FDB entry's destination address (`None` without one) and link-layer address
/// (empty without one).
fn destination_and_mac(m: &NeighbourMessage) -> (Option<IpAddr>, Vec<u8>) {
    let mut ip = None;
    let mut mac = Vec::new();
    for attr in &m.attributes {
        match attr {
            NeighbourAttribute::Destination(a) => ip = ip_of(a),
            NeighbourAttribute::LinkLayerAddress(l) => mac = l.clone(),
            _ => {}
        }
    }
    (ip, mac)
}
