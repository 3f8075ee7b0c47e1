//! Netlink without a protocol: the socket calls and the wire format every netlink family shares
//! (nlmsghdr, attributes), for the protocols Lichen speaks byte by byte — nf_tables over
//! NETLINK_NETFILTER ([`crate::nft`]) and WireGuard over NETLINK_GENERIC (lichen-wireguard).
//! What follows the nlmsghdr (nfgenmsg, genlmsghdr) and the meaning of attributes are theirs.
//!
//! Headers and attribute headers are host byte order; everything is padded to 4 bytes.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Size of the nlmsghdr.
pub const NLMSG_HDRLEN: usize = 16;
/// The flags of an attribute type (nested, network byte order) are masked off by [`attrs`].
pub const NLA_TYPE_MASK: u16 = 0x3fff;

/// `n` rounded up to the netlink alignment (4).
pub fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// A netlink socket of `protocol` (e.g. `libc::NETLINK_GENERIC`), bound with a kernel-chosen
/// port, in the calling thread's network namespace.
pub fn open(protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscalls on a fd we own at once; the address is a zeroed sockaddr_nl.
    unsafe {
        let raw = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
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
        Ok(fd)
    }
}

/// Sets an integer or struct socket option.
pub fn set_opt<T>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    let len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` outlives the call; the length is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value as *const T as *const _,
            len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes a receive that waits longer than `secs` seconds return nothing ([`recv`]'s `None`).
pub fn set_recv_timeout(fd: &OwnedFd, secs: i64) -> io::Result<()> {
    let tv = libc::timeval {
        // as the field is (time_t: 32 or 64 bits by target)
        tv_sec: secs as _,
        tv_usec: 0,
    };
    set_opt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// Sends `bytes` to the kernel in one datagram; a short send is an error.
pub fn send(fd: &OwnedFd, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `bytes` is valid for its length; the kernel (port 0) is the destination.
    let sent = unsafe {
        let mut addr: libc::sockaddr_nl = mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        let to = &addr as *const _ as *const libc::sockaddr;
        libc::sendto(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            to,
            len,
        )
    };
    match sent {
        n if n < 0 => Err(io::Error::last_os_error()),
        n if n as usize != bytes.len() => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short netlink send",
        )),
        _ => Ok(()),
    }
}

/// One datagram into `buf` (`flags` e.g. `MSG_DONTWAIT`); `None` when nothing is queued
/// (non-blocking) or the receive timeout passed. Interrupted calls are retried.
pub fn recv(fd: &OwnedFd, buf: &mut [u8], flags: i32) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// A received message: its header fields and payload (after the nlmsghdr).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
    /// The whole message, header included.
    pub whole: &'a [u8],
}

/// Splits a receive buffer into messages; stops at the first truncated one.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    std::iter::from_fn(move || {
        if buf.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return None;
        }
        let msg = Message {
            kind: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: u32::from_ne_bytes(buf[8..12].try_into().ok()?),
            payload: &buf[NLMSG_HDRLEN..len],
            whole: &buf[..len],
        };
        buf = &buf[align(len).min(buf.len())..];
        Some(msg)
    })
}

/// Iterates the attributes in `buf` as (type without flags, payload); stops at a malformed one.
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let data = &buf[4..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((kind, data))
    })
}

/// A string attribute's text without its NUL.
pub fn attr_str(data: &[u8]) -> &str {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    std::str::from_utf8(&data[..end]).unwrap_or("")
}
