//! Interface addresses: add (IPv6 without DAD when asked), delete, list.

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::AddressFamily;

use super::{invalid, Msg, Nl, ACK, CREATE};

/// An address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub net: IpNet,
}

fn message(index: u32, net: IpNet) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = net.prefix_len();
    msg.header.family = family(net.addr());
    msg.header.scope = AddressScope::Universe;
    msg.attributes.push(AddressAttribute::Local(net.addr()));
    if let IpAddr::V4(a) = net.addr() {
        // IPv4 wants IFA_ADDRESS too (the peer; equal to IFA_LOCAL off point-to-point links).
        msg.attributes
            .push(AddressAttribute::Address(IpAddr::V4(a)));
        if let IpNet::V4(n) = net {
            if n.prefix_len() < 31 {
                msg.attributes
                    .push(AddressAttribute::Broadcast(n.broadcast()));
            }
        }
    } else {
        msg.attributes.push(AddressAttribute::Address(net.addr()));
    }
    msg
}

pub(super) fn family(a: IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

impl Nl {
    /// Adds `net` (address with prefix) to link `index`. `nodad` skips IPv6 duplicate address
    /// detection so the address is usable at once (ignored for IPv4). EEXIST if present.
    pub fn add_addr(&mut self, index: u32, net: IpNet, nodad: bool) -> io::Result<()> {
        let mut msg = message(index, net);
        if nodad && net.addr().is_ipv6() {
            msg.header.flags |= AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.ack(Msg::NewAddress(msg), CREATE)
    }

    /// Removes `net` from link `index` (EADDRNOTAVAIL if absent).
    pub fn delete_addr(&mut self, index: u32, net: IpNet) -> io::Result<()> {
        self.ack(Msg::DelAddress(message(index, net)), ACK)
    }

    /// The addresses of link `index` (every link if `None`), both families.
    pub fn addrs(&mut self, index: Option<u32>) -> io::Result<Vec<Addr>> {
        let mut req = AddressMessage::default();
        req.header.index = index.unwrap_or(0);
        let replies = self.dump(Msg::GetAddress(req))?;
        let mut out = Vec::new();
        for reply in replies {
            let Msg::NewAddress(m) = reply else {
                continue;
            };
            if index.is_some_and(|i| i != m.header.index) {
                continue;
            }
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's on
            // point-to-point links (and the only one on IPv6).
            let mut local = None;
            let mut address = None;
            for attr in &m.attributes {
                match attr {
                    AddressAttribute::Local(a) => local = Some(*a),
                    AddressAttribute::Address(a) => address = Some(*a),
                    _ => {}
                }
            }
            let Some(ip) = local.or(address) else {
                continue;
            };
            let net = IpNet::new(ip, m.header.prefix_len)
                .map_err(|_| invalid("kernel reported an invalid prefix length"))?;
            out.push(Addr {
                index: m.header.index,
                net,
            });
        }
        Ok(out)
    }
}
