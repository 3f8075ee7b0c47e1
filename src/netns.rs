//! Network namespaces: open by path, run a closure (or open a socket) inside one, come back.
//!
//! Namespaces are entered per *thread* with setns(2) only long enough to open a netlink socket
//! there; sockets keep their namespace, so the rest of the work happens from the caller's
//! namespace over that socket (netavark's approach).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// An open network namespace.
#[derive(Debug)]
pub struct NetNs {
    pub path: PathBuf,
    pub file: File,
}

impl NetNs {
    /// Opens a namespace file (e.g. `/var/run/netns/x`, `/proc/<pid>/ns/net`). `NotFound` when
    /// the path does not exist; `InvalidInput` when it is not a network namespace.
    pub fn open(path: &Path) -> io::Result<NetNs> {
        let _ = path;
        todo!("netns::NetNs::open")
    }

    /// The calling thread's current namespace.
    pub fn current() -> io::Result<NetNs> {
        todo!("netns::NetNs::current")
    }

    /// Runs `f` with the calling thread inside this namespace, then switches back (also when `f`
    /// fails). Keep `f` short: only socket creation or a sysctl write belongs here.
    pub fn run<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let _ = f;
        todo!("netns::NetNs::run")
    }
}
