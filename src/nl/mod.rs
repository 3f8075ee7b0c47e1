//! Netlink, synchronously: a thin facade over rtnetlink on smol's socket.
//!
//! `Nl` owns one rtnetlink connection (in the namespace it was opened in) and drives it inside
//! `smol::block_on` for each call, so callers stay synchronous and no executor thread is spawned.
//! Errors keep the kernel's errno so callers can tell EEXIST from ENOENT.

use std::io;

use crate::netns::NetNs;

/// A netlink route socket bound to one namespace.
pub struct Nl {
    _private: (),
}

impl Nl {
    /// A socket in the calling thread's namespace.
    pub fn open() -> io::Result<Nl> {
        todo!("nl::Nl::open")
    }

    /// A socket inside `ns` (entered only to create the socket).
    pub fn open_in(ns: &NetNs) -> io::Result<Nl> {
        let _ = ns;
        todo!("nl::Nl::open_in")
    }
}
