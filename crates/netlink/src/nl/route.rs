//! Routes: add, replace, delete, list (one table, optionally one interface).
//!
//! A route carries its protocol tag so the agent can list and remove only its own routes.

use std::io;
use std::net::IpAddr;

use super::addr::family;
use super::{invalid, Msg, Nl, ACK, CREATE, REPLACE};
use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol,
    RouteScope as RtScope, RouteType,
};

/// The main routing table.
pub const TABLE_MAIN: u32 = 254;
/// `RTPROT_BOOT`: what `ip route add` tags routes with.
pub const PROTO_BOOT: u8 = 3;
/// `RTPROT_KERNEL`: routes the kernel derives from addresses.
pub const PROTO_KERNEL: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteScope {
    /// Reached through a gateway.
    Universe,
    /// Directly on the link.
    Link,
    Host,
    Other(u8),
}

/// A unicast route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    /// Output interface.
    pub oif: Option<u32>,
    pub table: u32,
    /// `rtm_protocol` tag (`PROTO_BOOT` unless set).
    pub protocol: u8,
    pub scope: RouteScope,
    /// Use the gateway as if it were on the link, even without a matching prefix.
    pub onlink: bool,
    pub metric: Option<u32>,
}

impl Route {
    /// A route in the main table: through `gateway` if given (scope universe), otherwise
    /// directly on `oif` (scope link).
    pub fn new(dst: IpNet, gateway: Option<IpAddr>, oif: Option<u32>) -> Route {
        Route {
            dst,
            gateway,
            oif,
            table: TABLE_MAIN,
            protocol: PROTO_BOOT,
            scope: if gateway.is_some() {
                RouteScope::Universe
            } else {
                RouteScope::Link
            },
            onlink: false,
            metric: None,
        }
    }

    fn message(&self) -> io::Result<RouteMessage> {
        if self
            .gateway
            .is_some_and(|g| g.is_ipv4() != self.dst.addr().is_ipv4())
        {
            return Err(invalid(
                "route gateway and destination are of different families",
            ));
        }
        let mut msg = RouteMessage::default();
        let h = &mut msg.header;
        h.address_family = family(self.dst.addr());
        h.destination_prefix_length = self.dst.prefix_len();
        h.protocol = RouteProtocol::from(self.protocol);
        h.kind = RouteType::Unicast;
        h.scope = match self.scope {
            RouteScope::Universe => RtScope::Universe,
            RouteScope::Link => RtScope::Link,
            RouteScope::Host => RtScope::Host,
            RouteScope::Other(s) => RtScope::from(s),
        };
        set_table(&mut msg, self.table);
        if self.onlink {
            msg.header.flags |= RouteFlags::Onlink;
        }
        // The kernel wants no RTA_DST for a default route.
        if self.dst.prefix_len() > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(
                    self.dst.network(),
                )));
        }
        if let Some(gw) = self.gateway {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        if let Some(oif) = self.oif {
            msg.attributes.push(RouteAttribute::Oif(oif));
        }
        if let Some(m) = self.metric {
            msg.attributes.push(RouteAttribute::Priority(m));
        }
        Ok(msg)
    }

    /// `None` for what is not a plain unicast route (local, broadcast, cache, multipath).
    fn from_msg(m: RouteMessage) -> Option<Route> {
        if m.header.kind != RouteType::Unicast || m.header.flags.contains(RouteFlags::Cloned) {
            return None;
        }
        let mut table = u32::from(m.header.table);
        let mut dst_ip = None;
        let mut gateway = None;
        let mut oif = None;
        let mut metric = None;
        for attr in m.attributes {
            match attr {
                RouteAttribute::Destination(a) => dst_ip = ip_of(a),
                RouteAttribute::Gateway(a) => gateway = ip_of(a),
                RouteAttribute::Oif(i) => oif = Some(i),
                RouteAttribute::Table(t) => table = t,
                RouteAttribute::Priority(p) => metric = Some(p),
                RouteAttribute::MultiPath(_) => return None,
                _ => {}
            }
        }
        let dst_ip = dst_ip.unwrap_or(match m.header.address_family {
            netlink_packet_route::AddressFamily::Inet6 => IpAddr::from([0u16; 8]),
            _ => IpAddr::from([0u8; 4]),
        });
        let dst = IpNet::new(dst_ip, m.header.destination_prefix_length).ok()?;
        Some(Route {
            dst,
            gateway,
            oif,
            table,
            protocol: u8::from(m.header.protocol),
            scope: match m.header.scope {
                RtScope::Universe => RouteScope::Universe,
                RtScope::Link => RouteScope::Link,
                RtScope::Host => RouteScope::Host,
                other => RouteScope::Other(u8::from(other)),
            },
            onlink: m.header.flags.contains(RouteFlags::Onlink),
            metric,
        })
    }
}

fn set_table(msg: &mut RouteMessage, table: u32) {
    if let Ok(t) = u8::try_from(table) {
        msg.header.table = t;
    } else {
        msg.header.table = RouteHeader::RT_TABLE_UNSPEC;
        msg.attributes.push(RouteAttribute::Table(table));
    }
}

fn ip_of(a: RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

impl Nl {
    /// Adds a route; EEXIST if one with the same key exists.
    pub fn add_route(&mut self, route: &Route) -> io::Result<()> {
        let msg = route.message()?;
        self.ack(Msg::NewRoute(msg), CREATE)
    }

    /// Adds or replaces a route (the agent's reconcile).
    pub fn replace_route(&mut self, route: &Route) -> io::Result<()> {
        let msg = route.message()?;
        self.ack(Msg::NewRoute(msg), REPLACE)
    }

    /// Adds an `unreachable` route for `dst` in the main table, tagged `protocol`, with
    /// `metric`; EEXIST if one with the same key exists. The kernel answers what it catches
    /// with ICMP unreachable (ENETUNREACH locally) instead of routing it elsewhere.
    pub fn add_unreachable(&mut self, dst: IpNet, protocol: u8, metric: u32) -> io::Result<()> {
        self.ack(
            Msg::NewRoute(unreachable_msg(dst, protocol, metric)?),
            CREATE,
        )
    }

    /// Deletes a route (ESRCH if absent).
    pub fn delete_route(&mut self, route: &Route) -> io::Result<()> {
        let mut msg = route.message()?;
        // Match any scope.
        msg.header.scope = RtScope::NoWhere;
        self.ack(Msg::DelRoute(msg), ACK)
    }

    /// The unicast routes of `table` (both families), only those through `oif` if given.
    pub fn routes(&mut self, table: u32, oif: Option<u32>) -> io::Result<Vec<Route>> {
        let mut req = RouteMessage::default();
        // Filters honoured under NETLINK_GET_STRICT_CHK (and re-applied below).
        set_table(&mut req, table);
        if let Some(oif) = oif {
            req.attributes.push(RouteAttribute::Oif(oif));
        }
        let replies = self.dump(Msg::GetRoute(req))?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                Msg::NewRoute(m) => Route::from_msg(m),
                _ => None,
            })
            .filter(|r| r.table == table && oif.is_none_or(|o| r.oif == Some(o)))
            .collect())
    }
}

impl Nl {
    /// The destinations of the `blackhole` routes of `table` (both families): what another
    /// network plugin (Calico, for its own address blocks) leaves behind.
    pub fn blackholes(&mut self, table: u32) -> io::Result<Vec<IpNet>> {
        self.routes_of_kind(table, RouteType::BlackHole, None)
    }

    /// The destinations of the `unreachable` routes of `table` with `protocol` (both
    /// families): what [`Nl::add_unreachable`] made.
    pub fn unreachables(&mut self, table: u32, protocol: u8) -> io::Result<Vec<IpNet>> {
        self.routes_of_kind(table, RouteType::Unreachable, Some(protocol))
    }

    /// The destinations of the routes of `kind` in `table` (of `protocol` when given).
    fn routes_of_kind(
        &mut self,
        table: u32,
        kind: RouteType,
        protocol: Option<u8>,
    ) -> io::Result<Vec<IpNet>> {
        let mut req = RouteMessage::default();
        set_table(&mut req, table);
        let replies = self.dump(Msg::GetRoute(req))?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                Msg::NewRoute(m)
                    if m.header.kind == kind
                        && protocol.is_none_or(|p| u8::from(m.header.protocol) == p) =>
                {
                    route_dst(m, table)
                }
                _ => None,
            })
            .collect())
    }

    /// Deletes the `unreachable` route to `dst` with `protocol` and `metric` (ESRCH if absent).
    pub fn delete_unreachable(&mut self, dst: IpNet, protocol: u8, metric: u32) -> io::Result<()> {
        self.ack(Msg::DelRoute(unreachable_msg(dst, protocol, metric)?), ACK)
    }
}

/// The message of an `unreachable` route to `dst` (main table, scope universe).
fn unreachable_msg(dst: IpNet, protocol: u8, metric: u32) -> io::Result<RouteMessage> {
    let mut route = Route::new(dst, None, None);
    (route.protocol, route.metric, route.scope) = (protocol, Some(metric), RouteScope::Universe);
    let mut msg = route.message()?;
    msg.header.kind = RouteType::Unreachable;
    Ok(msg)
}

/// A blackhole or unreachable route's destination, when it is in `table`.
fn route_dst(m: RouteMessage, table: u32) -> Option<IpNet> {
    let mut in_table = u32::from(m.header.table);
    let mut dst = None;
    for attr in m.attributes {
        match attr {
            RouteAttribute::Destination(a) => dst = ip_of(a),
            RouteAttribute::Table(t) => in_table = t,
            _ => {}
        }
    }
    (in_table == table)
        .then(|| IpNet::new(dst?, m.header.destination_prefix_length).ok())
        .flatten()
}
