//! A NETLINK_NETFILTER socket: sends batches and checks every ACK; runs GET requests and dumps.
//!
//! The kernel processes a batch inside `sendmsg`, so when `send` returns every ACK and error is
//! already queued on the socket: read them without blocking (what `nft` does), then require an
//! ACK for each message. Any error means the kernel aborted the transaction and applied nothing.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;

use super::batch::Batch;
use super::sys::*;
use super::wire::{self, Header, Message, Writer};
use crate::raw;

/// An error the kernel returned for one request, with its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// Positive errno, e.g. `libc::ENOENT`.
    pub errno: i32,
    /// The request that failed, e.g. `add rule inet lichen postrouting (#5)`.
    pub op: String,
    /// The kernel's extended-ACK message, when it sent one.
    pub detail: Option<String>,
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nf_tables: {}: {}",
            self.op,
            io::Error::from_raw_os_error(self.errno)
        )?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for KernelError {}

impl From<KernelError> for io::Error {
    /// Keeps the errno's kind; the `KernelError` stays reachable with `get_ref()`/`downcast`.
    fn from(e: KernelError) -> io::Error {
        io::Error::new(io::Error::from_raw_os_error(e.errno).kind(), e)
    }
}

/// Send and receive buffer size asked for (bytes).
const BUFFER: i32 = 16 << 20;

/// An open NETLINK_NETFILTER socket in the namespace of the thread that opened it.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    pub fn open() -> io::Result<Socket> {
        let sock = Socket {
            fd: raw::open(NETLINK_NETFILTER)?,
        };
        // Short ACKs and error strings; old kernels lack them, which is fine.
        let _ = raw::set_opt(&sock.fd, SOL_NETLINK, NETLINK_CAP_ACK, &1i32);
        let _ = raw::set_opt(&sock.fd, SOL_NETLINK, NETLINK_EXT_ACK, &1i32);
        // A policy batch can hold thousands of messages, each acknowledged: room for the
        // batch (the kernel refuses a send larger than the send buffer) and the ACKs.
        // Forcing needs CAP_NET_ADMIN, which the agent has; otherwise the defaults stay.
        for opt in [libc::SO_SNDBUFFORCE, libc::SO_RCVBUFFORCE] {
            let _ = raw::set_opt(&sock.fd, libc::SOL_SOCKET, opt, &BUFFER);
        }
        // A dump that never ends must not hang the agent.
        let _ = raw::set_recv_timeout(&sock.fd, 10);
        Ok(sock)
    }

    /// Sends `batch` as one transaction and checks an ACK for every message.
    pub fn apply(&self, batch: &Batch) -> io::Result<()> {
        self.send(&batch.encode())?;
        let mut acked = BTreeSet::new();
        let mut first_error: Option<KernelError> = None;
        let mut buf = vec![0u8; 1 << 16];
        while let Some(n) = self.recv(&mut buf, libc::MSG_DONTWAIT)? {
            for msg in wire::messages(&buf[..n]).filter(|m| m.kind == NLMSG_ERROR) {
                let (errno, detail) = parse_error(&msg);
                if errno == 0 {
                    acked.insert(msg.seq);
                } else if first_error.is_none() {
                    let op = batch.describe(msg.seq).unwrap_or("commit");
                    first_error = Some(KernelError {
                        errno,
                        op: op.to_owned(),
                        detail,
                    });
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e.into());
        }
        let missing = (1..=batch.len() as u32).find(|s| !acked.contains(s));
        match missing {
            None => Ok(()),
            Some(seq) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "nf_tables: no ACK for {}",
                    batch.describe(seq).unwrap_or("?")
                ),
            )),
        }
    }

    /// Sends one GET request (`flags` may add NLM_F_DUMP) and returns the attribute area of
    /// every reply, until NLMSG_DONE or the ACK.
    pub(crate) fn get(
        &self,
        msg: u16,
        family: u8,
        flags: u16,
        attrs: impl FnOnce(&mut Writer),
    ) -> io::Result<Vec<Vec<u8>>> {
        const SEQ: u32 = 1;
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | msg;
        let header = Header {
            kind,
            flags: NLM_F_REQUEST | NLM_F_ACK | flags,
            seq: SEQ,
            family,
            res_id: 0,
        };
        let mut w = Writer::default();
        w.message(header, attrs);
        self.send(w.bytes())?;
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = self
                .recv(&mut buf, 0)?
                .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))?;
            for m in wire::messages(&buf[..n]).filter(|m| m.seq == SEQ) {
                match m.kind {
                    NLMSG_DONE => return Ok(replies),
                    NLMSG_ERROR => {
                        let (errno, detail) = parse_error(&m);
                        if errno == 0 {
                            return Ok(replies);
                        }
                        let op = format!("get (message {msg})");
                        return Err(KernelError { errno, op, detail }.into());
                    }
                    // Skip the nfgenmsg.
                    _ => replies.push(m.payload.get(4..).unwrap_or_default().to_vec()),
                }
            }
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        raw::send(&self.fd, bytes)
    }

    /// One datagram; `None` when nothing is queued (non-blocking) or the wait timed out.
    fn recv(&self, buf: &mut [u8], flags: i32) -> io::Result<Option<usize>> {
        raw::recv(&self.fd, buf, flags)
    }
}

/// (positive errno, extended-ACK message) of an NLMSG_ERROR.
fn parse_error(m: &Message<'_>) -> (i32, Option<String>) {
    let Some(raw) = m.payload.get(0..4) else {
        return (libc::EBADMSG, None);
    };
    let errno = -i32::from_ne_bytes(raw.try_into().unwrap_or_default());
    let mut detail = None;
    if m.flags & NLM_F_ACK_TLVS != 0 {
        // nlmsgerr = error + the request's header (+ its payload unless capped).
        const NLM_F_CAPPED: u16 = 0x100;
        let req_len = match m.payload.get(4..8) {
            Some(l) if m.flags & NLM_F_CAPPED == 0 => {
                u32::from_ne_bytes(l.try_into().unwrap_or_default()) as usize
            }
            _ => NLMSG_HDRLEN,
        };
        let start = 4 + ((req_len + 3) & !3);
        let tlvs = m.payload.get(start..).unwrap_or_default();
        detail = wire::attrs(tlvs)
            .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
            .map(|(_, d)| wire::attr_str(d).to_owned());
    }
    (errno, detail)
}
