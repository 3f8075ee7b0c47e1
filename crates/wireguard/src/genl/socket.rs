//! A NETLINK_GENERIC socket: one request at a time, its replies read until the ACK (or the
//! dump's NLMSG_DONE, which carries the dump's error code).

use std::cell::Cell;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
        // SAFETY: plain syscalls on a fd we own; the address is a zeroed sockaddr_nl.
        unsafe {
            let raw = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            );
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_nl = mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            let len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            if libc::bind(raw, &addr as *const _ as *const libc::sockaddr, len) < 0 {
                return Err(io::Error::last_os_error());
            }
            // A reply that never comes must not hang the caller.
            let tv = libc::timeval {
                tv_sec: 5,
                tv_usec: 0,
            };
            let tv_len = mem::size_of::<libc::timeval>() as libc::socklen_t;
            let opt = &tv as *const libc::timeval as *const libc::c_void;
            libc::setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVTIMEO, opt, tv_len);
            Ok(Genl {
                fd,
                seq: Cell::new(0),
            })
        }
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
        self.send(msg)?;
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = self.recv(&mut buf)?;
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

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        // SAFETY: `bytes` is valid for its length; the kernel (port 0) is the destination.
        let sent = unsafe {
            let mut addr: libc::sockaddr_nl = mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            let len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            let to = &addr as *const _ as *const libc::sockaddr;
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                to,
                len,
            )
        };
        match sent {
            n if n < 0 => Err(io::Error::last_os_error()),
            n if n as usize != bytes.len() => Err(io::ErrorKind::WriteZero.into()),
            _ => Ok(()),
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}
