//! The netlink wire format as nf_tables writes it: message headers, nfgenmsg, attributes (TLVs,
//! nested ones too). Reading messages and attributes is [`crate::raw`]'s, shared.
//!
//! Headers and attribute headers are host byte order; nf_tables integer payloads are big
//! endian (the callers pick `put_be32`). Everything is padded to 4 bytes.

use super::sys::{NFNETLINK_V0, NLA_F_NESTED};
use crate::raw::align;
// Reading is the same for every netlink protocol.
pub use crate::raw::{attr_str, attrs, messages, Message};

/// A growing buffer of netlink messages.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends one message (nlmsghdr + nfgenmsg + whatever `body` writes) and fixes its length.
    pub fn message(&mut self, header: Header, body: impl FnOnce(&mut Writer)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched below
        self.buf.extend_from_slice(&header.kind.to_ne_bytes());
        self.buf.extend_from_slice(&header.flags.to_ne_bytes());
        self.buf.extend_from_slice(&header.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        self.buf.push(header.family);
        self.buf.push(NFNETLINK_V0);
        self.buf.extend_from_slice(&header.res_id.to_be_bytes());
        body(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// One attribute with a raw payload.
    pub fn put(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// A NUL-terminated string attribute.
    pub fn put_str(&mut self, kind: u16, s: &str) {
        let mut data = Vec::with_capacity(s.len() + 1);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
        self.put(kind, &data);
    }

    pub fn put_be32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_be_bytes());
    }

    /// A nested attribute whose content `f` writes.
    pub fn nest(&mut self, kind: u16, f: impl FnOnce(&mut Writer)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self.buf[start + 2..start + 4].copy_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }
}

/// The fixed part of a message.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub family: u8,
    /// nfgenmsg.res_id: the subsystem for batch delimiters, 0 otherwise.
    pub res_id: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_measured() {
        let mut w = Writer::default();
        w.nest(4, |w| {
            w.put_str(1, "ab"); // 4 + 3 = 7 → padded to 8
            w.put_be32(2, 0x0102_0304);
        });
        let b = w.bytes();
        assert_eq!(b.len(), 4 + 8 + 8);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 20);
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), 4 | NLA_F_NESTED);
        let outer: Vec<_> = attrs(b).collect();
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].0, 4);
        let inner: Vec<_> = attrs(outer[0].1).collect();
        assert_eq!(attr_str(inner[0].1), "ab");
        assert_eq!(inner[1], (2, &[1u8, 2, 3, 4][..]));
    }

    #[test]
    fn messages_round_trip() {
        let mut w = Writer::default();
        for seq in [7, 8] {
            let h = Header {
                kind: 0x0a06,
                flags: 5,
                seq,
                family: 1,
                res_id: 0,
            };
            w.message(h, |w| w.put_str(1, "lichen"));
        }
        let got: Vec<_> = messages(w.bytes()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!((got[1].kind, got[1].flags, got[1].seq), (0x0a06, 5, 8));
        let (kind, data) = attrs(&got[0].payload[4..]).next().unwrap();
        assert_eq!((kind, attr_str(data)), (1, "lichen"));
    }
}
