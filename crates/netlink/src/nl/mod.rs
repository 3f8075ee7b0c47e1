//! Netlink, synchronously: a thin facade over rtnetlink (netlink-proto's connection, on smol's
//! socket, carrying [`msg::Msg`]: only the message families Lichen uses).
//!
//! `Nl` owns one rtnetlink connection (in the namespace it was opened in) and drives it inside
//! `smol::block_on` for each call, so callers stay synchronous and no executor thread is spawned.
//! Errors keep the kernel's errno so callers can tell EEXIST from ENOENT.
//!
//! Design notes:
//! - One call = one request and its replies (an ACK, one object or a dump): callers can count
//!   round trips. The `Connection` future is polled together with the request (`future::or`),
//!   so it keeps moving while the request is in flight, and keeps its state between calls.
//!   Netlink replies are queued by the kernel before `sendmsg` returns, so the socket is read
//!   at once without waiting on the reactor.
//! - Objects are our own small types ([`Link`], [`Addr`], [`Route`]), built from and into
//!   netlink-packet-route's types in one file per family (`link.rs`, `addr.rs`, `route.rs`); the
//!   agent's objects (neighbours, FDB entries, vxlan links) go in the same way.
//! - The socket has `NETLINK_GET_STRICT_CHK` on (where the kernel has it, 4.20+), so dumps are
//!   filtered by the kernel (by interface, table); the parsers filter again, so older kernels
//!   give the same answers.
//! - The rtnetlink stack without the `rtnetlink` crate's handle layer: its connection is typed
//!   to netlink-packet-route's `RouteNetlinkMessage`, whose one decoder (and the trace log's
//!   Debug of it) links every rtnetlink family in, traffic control and rules included. The
//!   same connection (netlink-proto) on the same smol socket (netlink-sys) with [`msg::Msg`],
//!   which has only links, addresses, routes and neighbours, is ~150 KB smaller on every target.

mod addr;
pub mod ethtool;
mod link;
mod monitor;
mod msg;
mod neigh;
mod route;
mod vxlan;
pub mod xtables;

pub use addr::Addr;
pub use link::{Link, LinkChange, LinkId, LinkKind, NewLink};
pub use monitor::{Event, Monitor};
pub use neigh::{Fdb, Neigh};
pub use route::{Route, RouteScope, PROTO_BOOT, PROTO_KERNEL, TABLE_MAIN};
pub use vxlan::VxlanInfo;

use std::io;

use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_proto::sys::protocols::NETLINK_ROUTE;
use netlink_proto::sys::{AsyncSocket, SmolSocket, SocketAddr};
use netlink_proto::{Connection, ConnectionHandle};
use smol::stream::StreamExt;

use crate::netns::NetNs;
use msg::Msg;

/// A netlink route socket bound to one namespace.
pub struct Nl {
    conn: Connection<Msg, SmolSocket>,
    handle: ConnectionHandle<Msg>,
}

/// Request flags for the kinds of exchange we make.
const ACK: u16 = NLM_F_REQUEST | NLM_F_ACK;
const CREATE: u16 = ACK | NLM_F_CREATE | NLM_F_EXCL;
const REPLACE: u16 = ACK | NLM_F_CREATE | NLM_F_REPLACE;
const APPEND: u16 = ACK | NLM_F_CREATE | NLM_F_APPEND;
const GET: u16 = NLM_F_REQUEST;
const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;

impl Nl {
    /// A socket in the calling thread's namespace.
    pub fn open() -> io::Result<Nl> {
        let (mut conn, handle, _unsolicited) =
            netlink_proto::new_connection_with_socket::<Msg, SmolSocket>(NETLINK_ROUTE)?;
        // Best effort: kernels before 4.20 lack it, and the parsers filter again anyway.
        let _ = conn
            .socket_mut()
            .socket_mut()
            .set_netlink_get_strict_chk(true);
        Ok(Nl { conn, handle })
    }

    /// A socket inside `ns` (entered only to create the socket).
    pub fn open_in(ns: &NetNs) -> io::Result<Nl> {
        ns.run(Nl::open)
    }

    /// Sends one request and collects its replies (none for an ACK-only exchange). A kernel
    /// error becomes an `io::Error` with its errno.
    fn exchange(&mut self, msg: Msg, flags: u16) -> io::Result<Vec<Msg>> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        let mut replies = self
            .handle
            .request(req, SocketAddr::new(0, 0))
            .map_err(|_| request_failed())?;
        let op = async move {
            let mut out = Vec::new();
            while let Some(reply) = replies.next().await {
                match reply.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Overrun(_) => {
                        return Err(io::Error::from_raw_os_error(libc::ENOBUFS))
                    }
                    // ACK, DONE, NOOP.
                    _ => {}
                }
            }
            Ok(out)
        };
        let conn = &mut self.conn;
        let driver = async move {
            conn.await;
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "netlink connection closed",
            ))
        };
        // The request first: it queues the message, then the connection sends and reads.
        smol::block_on(smol::future::or(op, driver))
    }

    /// A request answered by an ACK or an error.
    fn ack(&mut self, msg: Msg, flags: u16) -> io::Result<()> {
        self.exchange(msg, flags).map(drop)
    }

    /// A request answered by exactly one object, `None` for ENODEV/ENOENT.
    fn get(&mut self, msg: Msg) -> io::Result<Option<Msg>> {
        match self.exchange(msg, GET) {
            Ok(mut v) => Ok(v.pop()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A dump.
    fn dump(&mut self, msg: Msg) -> io::Result<Vec<Msg>> {
        self.exchange(msg, DUMP)
    }
}

/// Whether `e` says the object already exists (EEXIST).
pub fn is_exists(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EEXIST)
}

/// Whether `e` says the object (or its interface) does not exist (ENODEV, ENOENT, ESRCH,
/// EADDRNOTAVAIL: what the kernel answers for a missing link, route or address).
pub fn is_not_found(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV) | Some(libc::ENOENT) | Some(libc::ESRCH) | Some(libc::EADDRNOTAVAIL)
    )
}

/// `Ok(())` for success or EEXIST.
pub fn exists_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if is_exists(&e) => Ok(()),
        other => other,
    }
}

/// `Ok(())` for success or a missing object.
pub fn missing_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// The request could not be queued: the connection is gone (the words rtnetlink's
/// `Error::RequestFailed` printed, which this crate used before it spoke netlink-proto directly).
fn request_failed() -> io::Error {
    io::Error::other("A netlink request failed")
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

#[cfg(test)]
mod tests;
