//! Generic netlink messages: nlmsghdr, genlmsghdr, attributes (nested ones with
//! NLA_F_NESTED, which the kernel accepts on every nested attribute and requires under strict
//! validation). Headers and integers are host byte order; everything is padded to 4 bytes.

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;
pub const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 1 << 15;
/// nlmsghdr + genlmsghdr.
pub const HEADERS: usize = 16 + 4;

use lichen_netlink::raw::align;
// Reading messages and attributes is the same for every netlink protocol.
pub use lichen_netlink::raw::{attrs, messages};

/// One message being written.
#[derive(Debug, Clone)]
pub struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    /// A request to `family` (its id), command `cmd` of version `version`.
    pub fn new(family: u16, flags: u16, seq: u32, cmd: u8, version: u8) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&family.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        buf.extend_from_slice(&[cmd, version, 0, 0]);
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    pub fn put(&mut self, kind: u16, data: &[u8]) {
        self.buf
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
    }

    pub fn put_u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }

    pub fn put_u16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_ne_bytes());
    }

    pub fn put_u32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_ne_bytes());
    }

    /// A NUL-terminated string.
    pub fn put_str(&mut self, kind: u16, s: &str) {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.put(kind, &data);
    }

    /// Opens a nested attribute; [`Msg::end`] closes it.
    pub fn begin(&mut self, kind: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }

    pub fn end(&mut self) {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
    }

    /// The message's bytes, its length filled in (open nests are closed).
    pub fn finish(mut self) -> Vec<u8> {
        while !self.nests.is_empty() {
            self.end();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// A native-endian integer attribute of exactly `N` bytes.
pub fn ne<const N: usize>(data: &[u8]) -> Option<[u8; N]> {
    data.try_into().ok()
}
