//! Kernel notifications: a multicast rtnetlink subscription (links, IPv4/IPv6 addresses and
//! routes, neighbours and FDB entries), read as our own small [`Event`]s.
//!
//! The subscription is a socket of its own, bound to the groups in the namespace it was opened
//! in; it can move to another thread. [`Monitor::run`] blocks and hands every event to a
//! callback, so the caller decides what is worth waking up for.

use std::io;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::NeighbourMessage;
use netlink_packet_route::route::{RouteAttribute, RouteFlags, RouteMessage, RouteType};
use netlink_packet_route::AddressFamily;
use netlink_proto::sys::protocols::NETLINK_ROUTE;
use netlink_proto::sys::{AsyncSocket, SmolSocket, SocketAddr};
use netlink_proto::Connection;
use smol::stream::{Stream, StreamExt};

use super::Msg;

/// One notification, reduced to what a reconciler filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `RTM_NEWLINK`/`RTM_DELLINK`.
    Link {
        index: u32,
        name: Option<String>,
        deleted: bool,
    },
    /// `RTM_NEWADDR`/`RTM_DELADDR`.
    Addr { index: u32, deleted: bool },
    /// `RTM_NEWROUTE`/`RTM_DELROUTE` of a unicast, non-cloned route.
    Route {
        table: u32,
        protocol: u8,
        oif: Option<u32>,
        deleted: bool,
    },
    /// `RTM_NEWNEIGH`/`RTM_DELNEIGH`: a neighbour (`bridge` false) or an FDB entry (true).
    Neigh {
        index: u32,
        bridge: bool,
        deleted: bool,
    },
    /// The kernel dropped notifications (the socket buffer was full): anything may have changed.
    Overrun,
}

/// A multicast subscription.
pub struct Monitor {
    conn: Connection<Msg, SmolSocket>,
    messages: Unsolicited,
}

type Unsolicited = Box<dyn Stream<Item = (NetlinkMessage<Msg>, SocketAddr)> + Send + Unpin>;

/// The groups the agent listens to, as the bind address's group mask (`RTMGRP_*`, include/uapi/
/// linux/rtnetlink.h: bit `RTNLGRP_x - 1`; every group here is below 32, so no
/// `NETLINK_ADD_MEMBERSHIP` is needed).
const GROUPS: u32 = (libc::RTMGRP_LINK
    | libc::RTMGRP_NEIGH
    | libc::RTMGRP_IPV4_IFADDR
    | libc::RTMGRP_IPV4_ROUTE
    | libc::RTMGRP_IPV6_IFADDR
    | libc::RTMGRP_IPV6_ROUTE) as u32;

/// Receive buffer: a reconcile of a thousand peers makes thousands of notifications at once.
const RCVBUF: usize = 4 << 20;

impl Monitor {
    /// Subscribes in the calling thread's namespace.
    pub fn open() -> io::Result<Monitor> {
        let (mut conn, _handle, messages) =
            netlink_proto::new_connection_with_socket::<Msg, SmolSocket>(NETLINK_ROUTE)?;
        conn.socket_mut()
            .socket_mut()
            .bind(&SocketAddr::new(0, GROUPS))?;
        // Best effort: the kernel caps it at net.core.rmem_max; an overrun only means a wake-up.
        let _ = conn.socket_mut().socket_mut().set_rx_buf_sz(RCVBUF);
        Ok(Monitor {
            conn,
            messages: Box::new(messages),
        })
    }

    /// Blocks, handing each event to `f` until `f` returns false (then `Ok`) or the socket
    /// fails (then an error).
    pub fn run(self, mut f: impl FnMut(Event) -> bool) -> io::Result<()> {
        let Monitor { conn, mut messages } = self;
        let read = async move {
            while let Some((msg, _)) = messages.next().await {
                if let Some(ev) = event_of(msg) {
                    if !f(ev) {
                        return Ok(());
                    }
                }
            }
            Err(closed())
        };
        let driver = async move {
            conn.await;
            Err(closed())
        };
        smol::block_on(smol::future::or(read, driver))
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "netlink monitor socket closed")
}

/// The event a notification stands for (`None` for what we do not follow).
pub fn event_of(msg: NetlinkMessage<Msg>) -> Option<Event> {
    use Msg as R;
    let m = match msg.payload {
        NetlinkPayload::InnerMessage(m) => m,
        NetlinkPayload::Overrun(_) => return Some(Event::Overrun),
        _ => return None,
    };
    match m {
        R::NewLink(l) => Some(link_event(&l, false)),
        R::DelLink(l) => Some(link_event(&l, true)),
        R::NewAddress(a) => Some(Event::Addr {
            index: a.header.index,
            deleted: false,
        }),
        R::DelAddress(a) => Some(Event::Addr {
            index: a.header.index,
            deleted: true,
        }),
        R::NewRoute(r) => route_event(&r, false),
        R::DelRoute(r) => route_event(&r, true),
        R::NewNeighbour(n) => Some(neigh_event(&n, false)),
        R::DelNeighbour(n) => Some(neigh_event(&n, true)),
        _ => None,
    }
}

fn link_event(l: &LinkMessage, deleted: bool) -> Event {
    let name = l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    });
    Event::Link {
        index: l.header.index,
        name,
        deleted,
    }
}

fn route_event(r: &RouteMessage, deleted: bool) -> Option<Event> {
    if r.header.kind != RouteType::Unicast || r.header.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let mut table = u32::from(r.header.table);
    let mut oif = None;
    for attr in &r.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Oif(o) => oif = Some(*o),
            _ => {}
        }
    }
    Some(Event::Route {
        table,
        protocol: u8::from(r.header.protocol),
        oif,
        deleted,
    })
}

fn neigh_event(n: &NeighbourMessage, deleted: bool) -> Event {
    Event::Neigh {
        index: n.header.ifindex,
        bridge: n.header.family == AddressFamily::Bridge,
        deleted,
    }
}
