//! Links: look up, create (bridge, veth with its peer in another namespace), change, delete.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use super::{one, Msg, Nl, ACK, CREATE, GET};
use crate::netns::NetNs;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoVeth, InfoVxlan, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Hardware address (empty for links without one).
    pub mac: Vec<u8>,
    pub mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// `IFLA_INFO_KIND`: "bridge", "veth", "vxlan"… (`None` for plain devices).
    pub kind: Option<String>,
    /// The bridge (or other master) this link is a port of.
    pub master: Option<u32>,
    /// `IFLA_LINK`: a veth's peer index, a vxlan's lower device…
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID`: the namespace `link` lives in, if not this one.
    pub link_netnsid: Option<i32>,
}

impl Link {
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }

    /// The MAC as lower-case `aa:bb:cc:dd:ee:ff`.
    pub fn mac_string(&self) -> String {
        mac_string(&self.mac)
    }

    pub(super) fn from_msg(msg: LinkMessage) -> Link {
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            mac: Vec::new(),
            mtu: 0,
            up: msg.header.flags.contains(LinkFlags::Up),
            kind: None,
            master: None,
            link: None,
            link_netnsid: None,
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => link.name = n,
                LinkAttribute::Address(a) => link.mac = a,
                LinkAttribute::Mtu(m) => link.mtu = m,
                LinkAttribute::Controller(m) => link.master = Some(m),
                LinkAttribute::Link(l) => link.link = Some(l),
                LinkAttribute::LinkNetNsId(id) => link.link_netnsid = Some(id),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Kind(k) = info {
                            link.kind = Some(k.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }
}

/// How a request names a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkId<'a> {
    Index(u32),
    Name(&'a str),
}

impl LinkId<'_> {
    fn message(self) -> LinkMessage {
        let mut msg = LinkMessage::default();
        match self {
            LinkId::Index(i) => msg.header.index = i,
            LinkId::Name(n) => msg.attributes.push(LinkAttribute::IfName(n.to_string())),
        }
        msg
    }
}

/// The attributes every new link can carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewLink<'a> {
    pub name: &'a str,
    pub mtu: Option<u32>,
    /// Enslave to this bridge at creation.
    pub master: Option<u32>,
    /// Create administratively up.
    pub up: bool,
    /// Create it in this namespace (only for a veth peer: `IFLA_NET_NS_FD`).
    pub netns: Option<&'a NetNs>,
    /// A fixed MAC (e.g. a VTEP's, set before the link is up).
    pub mac: Option<[u8; 6]>,
}

impl NewLink<'_> {
    fn message(&self) -> LinkMessage {
        let mut msg = LinkMessage::default();
        msg.attributes
            .push(LinkAttribute::IfName(self.name.to_string()));
        push_settings(&mut msg.attributes, self.mtu, self.master, self.mac);
        if let Some(ns) = self.netns {
            msg.attributes
                .push(LinkAttribute::NetNsFd(ns.file.as_raw_fd()));
        }
        if self.up {
            msg.header.flags |= LinkFlags::Up;
            msg.header.change_mask |= LinkFlags::Up;
        }
        msg
    }
}

/// What a new link is.
#[derive(Debug, Clone, Copy)]
pub enum LinkKind<'a> {
    Bridge,
    /// A veth pair; `peer` is the other end (set its `netns` to create it directly there).
    Veth {
        peer: NewLink<'a>,
    },
    /// A VXLAN device: `vni`, UDP `port`, local VTEP address and underlay device.
    Vxlan {
        vni: u32,
        port: u16,
        local: Option<IpAddr>,
        lower: Option<u32>,
        learning: bool,
    },
    /// A kernel WireGuard device (`ip link add NAME type wireguard`): no attributes of its own
    /// at creation; key, port and peers go over generic netlink (drivers/net/wireguard/device.c
    /// registers rtnl_link_ops of kind KBUILD_MODNAME, "wireguard", with no attribute policy). Creating one where the
    /// kernel has no WireGuard module fails with EOPNOTSUPP.
    Wireguard,
}

/// Changes to an existing link; `None` leaves an attribute alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkChange {
    pub mtu: Option<u32>,
    pub up: Option<bool>,
    pub master: Option<u32>,
    /// The hardware address. Setting the one a link already has still tells the kernel's
    /// listeners it changed (`NETDEV_CHANGEADDR`).
    pub mac: Option<[u8; 6]>,
}

impl Nl {
    /// The link named or numbered `id`, `None` if there is none.
    pub fn link(&mut self, id: LinkId<'_>) -> io::Result<Option<Link>> {
        Ok(self.get(Msg::GetLink(id.message()))?.and_then(link_of))
    }

    /// Every link in the namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let replies = self.dump(Msg::GetLink(LinkMessage::default()))?;
        Ok(replies.into_iter().filter_map(link_of).collect())
    }

    /// The ports of master `index` (a bridge's), filtered by the kernel: `IFLA_MASTER` in the
    /// dump request (net/core/rtnetlink.c, `rtnl_dump_ifinfo` skips every device of another
    /// master), so a node's other links are not sent.
    pub fn ports(&mut self, index: u32) -> io::Result<Vec<Link>> {
        let mut req = LinkMessage::default();
        req.attributes.push(LinkAttribute::Controller(index));
        let replies = self.dump(Msg::GetLink(req))?;
        Ok(replies
            .into_iter()
            .filter_map(link_of)
            // a kernel without the filter sends every link: keep the ports
            .filter(|l| l.master == Some(index))
            .collect())
    }

    /// Creates a link (EEXIST if the name is taken, in either namespace for a veth).
    pub fn create_link(&mut self, link: &NewLink<'_>, kind: &LinkKind<'_>) -> io::Result<()> {
        self.ack(Msg::NewLink(new_link_message(link, kind)), CREATE)
    }

    /// Changes MTU, state and master of an existing link in one request.
    pub fn set_link(&mut self, id: LinkId<'_>, change: &LinkChange) -> io::Result<()> {
        self.ack(Msg::NewLink(change_message(id, change)), ACK)
    }

    /// [`Nl::set_link`], then [`Nl::link`] on the same link, in one round trip: the change's
    /// result and the link as it is after it.
    pub fn set_link_and_get(
        &mut self,
        id: LinkId<'_>,
        change: &LinkChange,
    ) -> io::Result<(io::Result<()>, io::Result<Option<Link>>)> {
        let set = (Msg::NewLink(change_message(id, change)), ACK);
        let get = (Msg::GetLink(id.message()), GET);
        let mut replies = self.sock.batch(vec![set, get])?.into_iter();
        let set = replies.next().expect("one reply per request").map(drop);
        let link = one(replies.next().expect("one reply per request")).map(|m| m.and_then(link_of));
        Ok((set, link))
    }

    /// Sets hairpin mode on a bridge port (`IFLA_BRPORT_MODE` in the port's slave data).
    pub fn set_hairpin(&mut self, id: LinkId<'_>, on: bool) -> io::Result<()> {
        let mut msg = id.message();
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::PortData(
                InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(on)]),
            )]));
        self.ack(Msg::NewLink(msg), ACK)
    }

    /// Deletes a link (a veth takes its peer with it). ENODEV if it does not exist.
    pub fn delete_link(&mut self, id: LinkId<'_>) -> io::Result<()> {
        self.ack(Msg::DelLink(id.message()), ACK)
    }
}

/// The `RTM_NEWLINK` body that creates `link` of `kind`.
fn new_link_message(link: &NewLink<'_>, kind: &LinkKind<'_>) -> LinkMessage {
    let mut msg = link.message();
    let info = match kind {
        LinkKind::Bridge => vec![LinkInfo::Kind(InfoKind::Bridge)],
        LinkKind::Veth { peer } => {
            // One queue each way on both ends, said at creation: what the kernel leaves a veth
            // with anyway, but without it the kernel allocates one per CPU and then cuts the
            // real count to 1, and cutting waits for an RCU grace period, twice per pair
            // (Linux drivers/net/veth.c, `veth_newlink` -> `veth_init_queues`, which skips it
            // when the request has IFLA_NUM_TX/RX_QUEUES; `netif_set_real_num_tx_queues` ->
            // `synchronize_net` when disabling queues). Measured (perf sched_switch): two
            // `synchronize_rcu_expedited` sleeps per ADD, gone with these.
            let one_queue = || [LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)];
            msg.attributes.extend(one_queue());
            let mut peer = peer.message();
            peer.attributes.extend(one_queue());
            vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ]
        }
        LinkKind::Vxlan {
            vni,
            port,
            local,
            lower,
            learning,
        } => {
            let mut data = vec![
                InfoVxlan::Id(*vni),
                InfoVxlan::Port(*port),
                InfoVxlan::Learning(*learning),
            ];
            match local {
                Some(IpAddr::V4(a)) => data.push(InfoVxlan::Local(*a)),
                Some(IpAddr::V6(a)) => data.push(InfoVxlan::Local6(*a)),
                None => {}
            }
            if let Some(l) = lower {
                data.push(InfoVxlan::Link(*l));
            }
            vec![
                LinkInfo::Kind(InfoKind::Vxlan),
                LinkInfo::Data(InfoData::Vxlan(data)),
            ]
        }
        LinkKind::Wireguard => vec![LinkInfo::Kind(InfoKind::Wireguard)],
    };
    msg.attributes.push(LinkAttribute::LinkInfo(info));
    msg
}

/// A hardware address as lower-case `aa:bb:cc:dd:ee:ff` (any length).
pub fn mac_string(mac: &[u8]) -> String {
    let mut s = String::with_capacity(mac.len() * 3);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The settings a new link and a change share: MTU, master, MAC (each only when given).
fn push_settings(
    attrs: &mut Vec<LinkAttribute>,
    mtu: Option<u32>,
    master: Option<u32>,
    mac: Option<[u8; 6]>,
) {
    attrs.extend(mtu.map(LinkAttribute::Mtu));
    attrs.extend(master.map(LinkAttribute::Controller));
    attrs.extend(mac.map(|m| LinkAttribute::Address(m.to_vec())));
}

/// A link from a reply, if it is one.
fn link_of(m: Msg) -> Option<Link> {
    match m {
        Msg::NewLink(m) => Some(Link::from_msg(m)),
        _ => None,
    }
}

/// The request of [`Nl::set_link`].
fn change_message(id: LinkId<'_>, change: &LinkChange) -> LinkMessage {
    let mut msg = id.message();
    push_settings(&mut msg.attributes, change.mtu, change.master, change.mac);
    if let Some(up) = change.up {
        if up {
            msg.header.flags |= LinkFlags::Up;
        }
        msg.header.change_mask |= LinkFlags::Up;
    }
    msg
}

#[cfg(test)]
mod encoding_tests {
    use super::*;
    use netlink_packet_core::Emitable;

    /// A WireGuard link is `IFLA_IFNAME`, `IFLA_MTU`, then `IFLA_LINKINFO` (18) holding only
    /// `IFLA_INFO_KIND` (1) = "wireguard\0" (include/uapi/linux/if_link.h; `ip link add … type
    /// wireguard` sends the same).
    #[test]
    fn a_wireguard_link_carries_only_its_kind() {
        let link = NewLink {
            name: "lichen-wg",
            mtu: Some(1420),
            ..NewLink::default()
        };
        let msg = new_link_message(&link, &LinkKind::Wireguard);
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        let linkinfo: &[u8] = &[
            20, 0, 18, 0, // IFLA_LINKINFO, 4 + 16 bytes
            14, 0, 1, 0, // IFLA_INFO_KIND, 4 + 10 bytes
            b'w', b'i', b'r', b'e', b'g', b'u', b'a', b'r', b'd', 0, 0, 0, // padded to 4
        ];
        assert!(buf.ends_with(linkinfo), "{buf:?}");
        let mtu: &[u8] = &[8, 0, 4, 0, 0x8c, 0x05, 0, 0]; // IFLA_MTU 1420
        assert!(buf.windows(8).any(|w| w == mtu), "{buf:?}");
    }
}
