//! Kernel notifications: a multicast rtnetlink subscription (links, IPv4/IPv6 addresses and
//! routes, neighbours and FDB entries), read as our own small [`Event`]s.
//!
//! The subscription is a socket of its own, bound to the groups in the namespace it was opened
//! in; it can move to another thread. [`Monitor::run`] blocks and hands every event to a
//! callback, so the caller decides what is worth waking up for.

use std::io;

use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::packet_route::neighbour::NeighbourMessage;
use rtnetlink::packet_route::route::{RouteAttribute, RouteFlags, RouteMessage, RouteType};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::proto::Connection;
use rtnetlink::sys::{AsyncSocket, SmolSocket, SocketAddr};
use rtnetlink::MulticastGroup;
use smol::stream::{Stream, StreamExt};

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
    conn: Connection<RouteNetlinkMessage, SmolSocket>,
    messages: Unsolicited,
}

type Unsolicited =
    Box<dyn Stream<Item = (NetlinkMessage<RouteNetlinkMessage>, SocketAddr)> + Send + Unpin>;

/// The groups the agent listens to.
const GROUPS: [MulticastGroup; 6] = [
    MulticastGroup::Link,
    MulticastGroup::Neigh,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Ipv6Ifaddr,
    MulticastGroup::Ipv6Route,
];

/// Receive buffer: a reconcile of a thousand peers makes thousands of notifications at once.
const RCVBUF: usize = 4 << 20;

impl Monitor {
    /// Subscribes in the calling thread's namespace.
    pub fn open() -> io::Result<Monitor> {
        let (mut conn, _handle, messages) =
            rtnetlink::new_multicast_connection_with_socket::<SmolSocket>(&GROUPS)?;
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
pub fn event_of(msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<Event> {
    use RouteNetlinkMessage as R;
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
