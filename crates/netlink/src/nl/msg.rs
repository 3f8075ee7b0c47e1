//! The rtnetlink messages Lichen exchanges, and only those: links, addresses, routes and
//! neighbours (FDB entries included), as requests (`RTM_NEW*`, `RTM_DEL*`, `RTM_GET*`) and as the
//! kernel's answers and notifications (`RTM_NEW*`, `RTM_DEL*`).
//!
//! netlink-packet-route's own `RouteNetlinkMessage` covers every rtnetlink family (traffic
//! control, rules, namespace ids, neighbour tables, statistics…), and a connection over it links
//! in the parser, encoder and `Debug` of each (153 KB of the x86_64 static binary) although Lichen
//! never sends them nor subscribes to their groups. [`Msg`] has the same variant names and
//! payload types for the four families Lichen uses, so the rest of `nl` reads the same and
//! netlink-proto's trace log (the agent's [`super::Monitor`]) prints these messages exactly as
//! before; a message of another type fails to parse, which netlink-proto and `sock.rs` (the
//! requests' socket) log or skip, as they did for types the crate does not know. Message type
//! numbers: `RTM_*` in the kernel's include/uapi/linux/rtnetlink.h (the `libc` crate's
//! constants).

use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NetlinkDeserializable, NetlinkHeader, NetlinkPayload,
    NetlinkSerializable, Parseable,
};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::neighbour::NeighbourMessage;
use netlink_packet_route::route::RouteMessage;

/// One rtnetlink message of the families Lichen uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    NewLink(LinkMessage),
    DelLink(LinkMessage),
    GetLink(LinkMessage),
    NewAddress(AddressMessage),
    DelAddress(AddressMessage),
    GetAddress(AddressMessage),
    NewNeighbour(NeighbourMessage),
    GetNeighbour(NeighbourMessage),
    DelNeighbour(NeighbourMessage),
    NewRoute(RouteMessage),
    DelRoute(RouteMessage),
    GetRoute(RouteMessage),
}

/// The payload, for the encoder.
enum Body<'a> {
    Link(&'a LinkMessage),
    Address(&'a AddressMessage),
    Neighbour(&'a NeighbourMessage),
    Route(&'a RouteMessage),
}

impl Msg {
    fn body(&self) -> Body<'_> {
        use Msg::*;
        match self {
            NewLink(m) | DelLink(m) | GetLink(m) => Body::Link(m),
            NewAddress(m) | DelAddress(m) | GetAddress(m) => Body::Address(m),
            NewNeighbour(m) | GetNeighbour(m) | DelNeighbour(m) => Body::Neighbour(m),
            NewRoute(m) | DelRoute(m) | GetRoute(m) => Body::Route(m),
        }
    }
}

impl NetlinkSerializable for Msg {
    fn message_type(&self) -> u16 {
        use Msg::*;
        match self {
            NewLink(_) => libc::RTM_NEWLINK,
            DelLink(_) => libc::RTM_DELLINK,
            GetLink(_) => libc::RTM_GETLINK,
            NewAddress(_) => libc::RTM_NEWADDR,
            DelAddress(_) => libc::RTM_DELADDR,
            GetAddress(_) => libc::RTM_GETADDR,
            NewNeighbour(_) => libc::RTM_NEWNEIGH,
            GetNeighbour(_) => libc::RTM_GETNEIGH,
            DelNeighbour(_) => libc::RTM_DELNEIGH,
            NewRoute(_) => libc::RTM_NEWROUTE,
            DelRoute(_) => libc::RTM_DELROUTE,
            GetRoute(_) => libc::RTM_GETROUTE,
        }
    }

    fn buffer_len(&self) -> usize {
        match self.body() {
            Body::Link(m) => m.buffer_len(),
            Body::Address(m) => m.buffer_len(),
            Body::Neighbour(m) => m.buffer_len(),
            Body::Route(m) => m.buffer_len(),
        }
    }

    fn serialize(&self, buffer: &mut [u8]) {
        match self.body() {
            Body::Link(m) => m.emit(buffer),
            Body::Address(m) => m.emit(buffer),
            Body::Neighbour(m) => m.emit(buffer),
            Body::Route(m) => m.emit(buffer),
        }
    }
}

impl NetlinkDeserializable for Msg {
    type Error = DecodeError;

    /// The kernel's answers and notifications: `RTM_NEW*` and `RTM_DEL*` of the four families.
    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Msg, DecodeError> {
        // The same parsers and error contexts as RouteNetlinkMessage's.
        let link = || LinkMessage::parse(payload).context("invalid link message");
        let addr = || AddressMessage::parse(payload).context("invalid address message");
        let neigh = || NeighbourMessage::parse(payload).context("invalid neighbour message");
        let route = || RouteMessage::parse(payload).context("invalid route message");
        Ok(match header.message_type {
            libc::RTM_NEWLINK => Msg::NewLink(link()?),
            libc::RTM_DELLINK => Msg::DelLink(link()?),
            libc::RTM_NEWADDR => Msg::NewAddress(addr()?),
            libc::RTM_DELADDR => Msg::DelAddress(addr()?),
            libc::RTM_NEWNEIGH => Msg::NewNeighbour(neigh()?),
            libc::RTM_DELNEIGH => Msg::DelNeighbour(neigh()?),
            libc::RTM_NEWROUTE => Msg::NewRoute(route()?),
            libc::RTM_DELROUTE => Msg::DelRoute(route()?),
            other => return Err(format!("Unknown message type: {other}").into()),
        })
    }
}

impl From<Msg> for NetlinkPayload<Msg> {
    fn from(message: Msg) -> Self {
        NetlinkPayload::InnerMessage(message)
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NetlinkMessage, NLM_F_REQUEST};
    use netlink_packet_route::link::LinkAttribute;
    use netlink_packet_route::route::RouteAttribute;

    use super::*;

    /// A message through the encoder and back through the parser (the kernel's `RTM_NEW*`).
    fn round_trip(msg: Msg) -> Msg {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST;
        req.finalize();
        let mut buf = vec![0; req.buffer_len()];
        req.serialize(&mut buf);
        match NetlinkMessage::<Msg>::deserialize(&buf).unwrap().payload {
            NetlinkPayload::InnerMessage(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn messages_of_the_four_families_round_trip_with_their_type() {
        let mut link = LinkMessage::default();
        link.header.index = 7;
        link.attributes
            .push(LinkAttribute::IfName("lichen0".into()));
        assert_eq!(
            round_trip(Msg::NewLink(link.clone())),
            Msg::NewLink(link.clone())
        );
        assert_eq!(round_trip(Msg::DelLink(link.clone())), Msg::DelLink(link));
        let mut route = RouteMessage::default();
        route.header.destination_prefix_length = 24;
        route.attributes.push(RouteAttribute::Oif(7));
        assert_eq!(
            round_trip(Msg::DelRoute(route.clone())),
            Msg::DelRoute(route)
        );
        let addr = AddressMessage::default();
        assert_eq!(
            round_trip(Msg::NewAddress(addr.clone())),
            Msg::NewAddress(addr)
        );
        let neigh = NeighbourMessage::default();
        assert_eq!(
            round_trip(Msg::NewNeighbour(neigh.clone())),
            Msg::NewNeighbour(neigh)
        );
    }

    #[test]
    fn request_types_are_the_kernels_numbers() {
        let types = [
            (Msg::GetLink(LinkMessage::default()), 18),
            (Msg::GetAddress(AddressMessage::default()), 22),
            (Msg::GetRoute(RouteMessage::default()), 26),
            (Msg::GetNeighbour(NeighbourMessage::default()), 30),
        ];
        for (msg, t) in types {
            assert_eq!(msg.message_type(), t, "{msg:?}");
        }
    }

    #[test]
    fn other_families_do_not_parse() {
        // RTM_NEWQDISC (traffic control), with a tcmsg-sized payload.
        let mut header = NetlinkHeader::default();
        header.message_type = 36;
        let err = Msg::deserialize(&header, &[0; 20]).unwrap_err();
        assert_eq!(err.to_string(), "Unknown message type: 36");
    }
}
