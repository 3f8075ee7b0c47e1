//! A NETLINK_GENERIC socket: one request at a time, its replies read until the ACK (or the
//! dump's NLMSG_DONE, which carries the dump's error code).

use std::cell::Cell;
use std::io;
use std::os::fd::OwnedFd;

use lichen_netlink::raw;

use super::wire::{self, NLMSG_DONE, NLMSG_ERROR};
use super::GenlError;

/// An open generic netlink socket (in the network namespace of the thread that opened it).
#[derive(Debug)]
pub struct Genl {
    fd: OwnedFd,
    seq: Cell<u32>,
}

impl Genl {
    pub fn open() -> io::Result<Genl> {
        let fd = raw::open(libc::NETLINK_GENERIC)?;
        // A reply that never comes must not hang the caller.
        let _ = raw::set_recv_timeout(&fd, 5);
        Ok(Genl {
            fd,
            seq: Cell::new(0),
        })
    }

    pub(crate) fn next_seq(&self) -> u32 {
        self.seq.set(self.seq.get().wrapping_add(1));
        self.seq.get()
    }

    /// Sends `msg` (one message with NLM_F_ACK, or a dump; its sequence number is read from
    /// it) and returns the payload after the genlmsghdr of every reply, until the ACK or
    /// NLMSG_DONE.
    pub(crate) fn request(&self, msg: &[u8], op: &'static str) -> Result<Vec<Vec<u8>>, GenlError> {
        let seq = u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
        raw::send(&self.fd, msg)?;
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = raw::recv(&self.fd, &mut buf, 0)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::TimedOut, "no netlink reply in 5 s")
            })?;
            for m in wire::messages(&buf[..n]).filter(|m| m.seq == seq) {
                if m.kind != NLMSG_ERROR && m.kind != NLMSG_DONE {
                    let body = m.payload.get(wire::HEADERS - 16..).unwrap_or_default();
                    replies.push(body.to_vec());
                    continue;
                }
                // The ACK (requests carry NLM_F_ACK) or the dump's end: both end with the
                // error code, 0 or a negative errno.
                let code = m.payload.get(0..4).and_then(wire::ne::<4>);
                return match code.map(i32::from_ne_bytes) {
                    Some(0) => Ok(replies),
                    Some(c) => Err(GenlError::Kernel { op, errno: -c }),
                    None => Err(GenlError::Malformed("netlink ACK without an error code")),
                };
            }
        }
    }
}
