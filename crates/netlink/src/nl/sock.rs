//! rtnetlink requests over a plain blocking socket: [`Msg`]s encoded and decoded by
//! netlink-packet-core, sent with one `sendto` and answered by blocking `recv`s, on the calling
//! thread.
//!
//! Design notes:
//! - Why not netlink-proto's connection on smol's socket (what `Nl` used before): its reactor
//!   is a thread of its own ("async-io", spawned on first use), and every reply went through it
//!   (the socket read EAGAIN, then a futex wait until that thread's epoll woke the caller): two
//!   thread switches per round trip, plus the thread's start. On a busy node each switch waits
//!   for a CPU. Measured with strace -f on one bridge-mode ADD: 12 round trips, each through
//!   the reactor. A blocking socket needs none: the kernel runs rtnetlink requests inside
//!   `sendmsg` (net/core/rtnetlink.c, `rtnetlink_rcv` via `netlink_unicast_kernel`), so the
//!   answer is queued when `sendto` returns; dumps continue inside `recvmsg` (`netlink_dump`).
//! - Batches: several requests in one datagram. The kernel handles them one after the other
//!   (`netlink_rcv_skb` loops over the messages of the skb) and answers each (ACK or error,
//!   `NLM_F_ACK`), so one failure does not stop the rest; [`Sock::batch`] returns one result
//!   per request, matched by sequence number, and callers report the first failure as they did
//!   when the requests went one by one. Only requests whose later members are harmless after an
//!   earlier failure (the caller rolls back anyway) go in one batch.
//! - Messages that do not parse are skipped (netlink-proto logged and skipped them too); the
//!   header still says whether the exchange is over.

use std::io;
use std::os::fd::OwnedFd;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP};

use super::msg::Msg;
use crate::raw;

/// `SOL_NETLINK` and `NETLINK_GET_STRICT_CHK` (include/uapi/linux/netlink.h).
const SOL_NETLINK: i32 = 270;
const NETLINK_GET_STRICT_CHK: i32 = 12;
/// Receive buffer: dumps come in datagrams of up to 32 KiB (`netlink_dump`'s allocation).
const RECV_BUF: usize = 64 * 1024;

/// One NETLINK_ROUTE socket in the namespace it was opened in.
pub(super) struct Sock {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// What one request got back: its objects, or the kernel's error.
pub(super) type Reply = io::Result<Vec<Msg>>;

impl Sock {
    /// A socket in the calling thread's namespace, with strict dump checking where the kernel
    /// has it (4.20+; the parsers filter again on older ones).
    pub(super) fn open() -> io::Result<Sock> {
        let fd = raw::open(libc::NETLINK_ROUTE)?;
        let _ = raw::set_opt(&fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &1i32);
        Ok(Sock {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Sends `requests` (message, flags) in one datagram and collects every answer: one
    /// result per request, in order. The outer error is the socket's own (send, receive).
    pub(super) fn batch(&mut self, requests: Vec<(Msg, u16)>) -> io::Result<Vec<Reply>> {
        let first = self.seq.wrapping_add(1);
        let mut out = Vec::new();
        let mut pending = Vec::with_capacity(requests.len());
        for (msg, flags) in requests {
            self.seq = self.seq.wrapping_add(1);
            let mut req = NetlinkMessage::from(msg);
            req.header.flags = flags;
            req.header.sequence_number = self.seq;
            req.finalize();
            let at = out.len();
            out.resize(at + raw::align(req.buffer_len()), 0);
            req.serialize(&mut out[at..]);
            pending.push(State::Open(Vec::new(), flags));
        }
        raw::send(&self.fd, &out)?;
        while pending.iter().any(|s| matches!(s, State::Open(..))) {
            let n = raw::recv(&self.fd, &mut self.buf, 0)?
                .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no netlink answer"))?;
            for m in raw::messages(&self.buf[..n]) {
                let Some(state) = pending.get_mut(m.seq.wrapping_sub(first) as usize) else {
                    continue; // another exchange's late answer
                };
                if let State::Open(objects, flags) = state {
                    if let Some(done) = take(m, objects, *flags) {
                        *state = State::Done(done);
                    }
                }
            }
        }
        Ok(pending
            .into_iter()
            .map(|s| match s {
                State::Done(r) => r,
                State::Open(..) => unreachable!("loop ran until none is open"),
            })
            .collect())
    }
}

/// One request's answer so far: the objects collected and the request's flags, or finished.
enum State {
    Open(Vec<Msg>, u16),
    Done(Reply),
}

/// Takes one answer message into `objects`; `Some` when the request's answer is complete.
fn take(m: raw::Message<'_>, objects: &mut Vec<Msg>, flags: u16) -> Option<Reply> {
    let parsed = NetlinkMessage::<Msg>::deserialize(m.whole).ok();
    match parsed.map(|p| p.payload) {
        Some(NetlinkPayload::InnerMessage(msg)) => objects.push(msg),
        Some(NetlinkPayload::Error(e)) if e.code.is_some() => return Some(Err(e.to_io())),
        Some(NetlinkPayload::Overrun(_)) => {
            return Some(Err(io::Error::from_raw_os_error(libc::ENOBUFS)))
        }
        // An ACK (error 0) or DONE ends it; NOOP and unparsable messages do not.
        Some(NetlinkPayload::Error(_)) | Some(NetlinkPayload::Done(_)) => {
            return Some(Ok(std::mem::take(objects)))
        }
        _ => {}
    }
    // A single answer (not part of a dump) to a request that asked for no ACK ends it too.
    let single = m.flags & libc::NLM_F_MULTI as u16 == 0 && flags & (NLM_F_ACK | NLM_F_DUMP) == 0;
    let is_end = m.kind == libc::NLMSG_ERROR as u16 || m.kind == libc::NLMSG_DONE as u16;
    (single && !is_end).then(|| Ok(std::mem::take(objects)))
}
