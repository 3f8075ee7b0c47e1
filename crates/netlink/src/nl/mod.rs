//! Netlink, synchronously: a thin facade over rtnetlink (a blocking socket of our own,
//! `sock.rs`, carrying [`msg::Msg`]: only the message families Lichen uses).
//!
//! `Nl` owns one rtnetlink socket (in the namespace it was opened in) and makes each call on
//! the calling thread: no executor, no reactor thread. Errors keep the kernel's errno so
//! callers can tell EEXIST from ENOENT.
//!
//! Design notes:
//! - One call = one request and its replies (an ACK, one object or a dump): callers can count
//!   round trips. [`Nl::batch`] puts several requests in one round trip (see `sock.rs`).
//! - Objects are our own small types ([`Link`], [`Addr`], [`Route`]), built from and into
//!   netlink-packet-route's types in one file per family (`link.rs`, `addr.rs`, `route.rs`); the
//!   agent's objects (neighbours, FDB entries, vxlan links) go in the same way.
//! - The socket has `NETLINK_GET_STRICT_CHK` on (where the kernel has it, 4.20+), so dumps are
//!   filtered by the kernel (by interface, table); the parsers filter again, so older kernels
//!   give the same answers.
//! - No `rtnetlink` crate: its messages are typed to netlink-packet-route's
//!   `RouteNetlinkMessage`, whose one decoder links every rtnetlink family in, traffic control
//!   and rules included. [`msg::Msg`] has only links, addresses, routes and neighbours (~150 KB
//!   smaller on every target). The agent's [`Monitor`] still reads events through
//!   netlink-proto's connection on smol's socket.

mod addr;
pub mod ethtool;
mod link;
mod monitor;
mod msg;
mod neigh;
mod route;
mod sock;
mod vxlan;
pub mod xtables;

pub use addr::Addr;
pub use link::{mac_string, Link, LinkChange, LinkId, LinkKind, NewLink};
pub use monitor::{Event, Monitor};
pub use neigh::{Fdb, Neigh};
pub use route::{Route, RouteScope, PROTO_BOOT, PROTO_KERNEL, TABLE_MAIN};
pub use vxlan::VxlanInfo;

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};

use crate::netns::NetNs;
use msg::Msg;
use sock::Sock;

/// A netlink route socket bound to one namespace.
pub struct Nl {
    sock: Sock,
    /// Inside [`Nl::batch`]: the requests queued for its one round trip.
    queue: Option<Vec<(Msg, u16)>>,
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
        Ok(Nl {
            sock: Sock::open()?,
            queue: None,
        })
    }

    /// A socket inside `ns` (entered only to create the socket).
    pub fn open_in(ns: &NetNs) -> io::Result<Nl> {
        ns.run(Nl::open)
    }

    /// Sends one request and collects its replies (none for an ACK-only exchange). A kernel
    /// error becomes an `io::Error` with its errno.
    fn exchange(&mut self, msg: Msg, flags: u16) -> io::Result<Vec<Msg>> {
        if let Some(queue) = &mut self.queue {
            if flags & NLM_F_ACK == 0 {
                return Err(io::Error::other(
                    "a lookup or dump cannot wait in a netlink batch",
                ));
            }
            queue.push((msg, flags));
            return Ok(Vec::new());
        }
        let mut replies = self.sock.batch(vec![(msg, flags)])?;
        replies.pop().expect("one reply per request")
    }

    /// Runs `f` with every change it requests (adds, sets, replaces, deletes: the calls answered
    /// by an ACK; lookups and dumps are refused) queued, then sends them in one round trip:
    /// one result per request, in the order `f` made them. The kernel carries on after a failed
    /// request (see `sock.rs`), so batch only changes the caller undoes together on failure.
    /// The outer error is `f`'s own (nothing is sent then), the middle one the socket's.
    #[allow(clippy::type_complexity)] // three levels, each its own failure
    pub fn batch<E>(
        &mut self,
        f: impl FnOnce(&mut Nl) -> Result<(), E>,
    ) -> Result<io::Result<Vec<io::Result<()>>>, E> {
        self.queue = Some(Vec::new());
        let built = f(self);
        let queued = self.queue.take().unwrap_or_default();
        built?;
        if queued.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        Ok(self
            .sock
            .batch(queued)
            .map(|replies| replies.into_iter().map(|r| r.map(drop)).collect()))
    }

    /// A request answered by an ACK or an error.
    fn ack(&mut self, msg: Msg, flags: u16) -> io::Result<()> {
        self.exchange(msg, flags).map(drop)
    }

    /// A request answered by exactly one object, `None` for ENODEV/ENOENT.
    fn get(&mut self, msg: Msg) -> io::Result<Option<Msg>> {
        one(self.exchange(msg, GET))
    }

    /// A dump.
    fn dump(&mut self, msg: Msg) -> io::Result<Vec<Msg>> {
        self.exchange(msg, DUMP)
    }
}

/// The answer to a lookup: its one object, `None` for ENODEV/ENOENT (see [`is_not_found`]).
fn one(reply: io::Result<Vec<Msg>>) -> io::Result<Option<Msg>> {
    match reply {
        Ok(mut v) => Ok(v.pop()),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
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

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

#[cfg(test)]
mod tests;
