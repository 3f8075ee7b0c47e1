//! Named sets and maps: the objects (`NFT_MSG_NEWSET`) and their elements
//! (`NFT_MSG_NEWSETELEM`/`DELSETELEM`), as `nft` encodes them.
//!
//! Design notes (facts from the kernel's `nf_tables_api.c` and nft's netlink code):
//! - A key is one field or a concatenation; every field takes whole 4-byte registers (an
//!   `inet_proto` byte is followed by 3 zero bytes, an `inet_service` by 2), so the key length
//!   is the sum of the rounded field lengths, and the concatenation's field lengths (unrounded)
//!   go in `NFTA_SET_DESC_CONCAT`. The key type is nft's datatype ids packed 6 bits per field;
//!   the kernel only stores it, nft's listing reads it back.
//! - Intervals of one field (rbtree): a range is two elements, its first key and the key
//!   after its last flagged `INTERVAL_END` (no end element when the range runs to the top).
//!   Intervals of a concatenation (pipapo, Linux ≥ 5.6, flag `CONCAT`): one element with
//!   `KEY` = first and `KEY_END` = last (inclusive).
//! - `NFTA_SET_ID` is mandatory: an id unique in the transaction.
//! - A verdict map's data is a verdict (`NFT_DATA_VERDICT`, no data length).
//! - A netlink attribute is at most 64 KiB, so elements go in messages of [`CHUNK`].

use super::batch::Batch;
use super::expr::Verdict;
use super::objects::Table;
use super::sys::*;
use super::wire::Writer;

/// Elements per NEWSETELEM/DELSETELEM message (an IPv6 range with its attributes takes well
/// under 128 bytes, so a chunk stays below the 64 KiB attribute limit).
pub const CHUNK: usize = 256;

/// The datatype of one key field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Ipv4Addr,
    Ipv6Addr,
    InetProto,
    InetService,
}

impl KeyType {
    fn id(self) -> u32 {
        match self {
            KeyType::Ipv4Addr => NFT_TYPE_IPADDR,
            KeyType::Ipv6Addr => NFT_TYPE_IP6ADDR,
            KeyType::InetProto => NFT_TYPE_INET_PROTOCOL,
            KeyType::InetService => NFT_TYPE_INET_SERVICE,
        }
    }

    /// The field's length in bytes (before register padding).
    pub fn bytes(self) -> u32 {
        match self {
            KeyType::Ipv4Addr => 4,
            KeyType::Ipv6Addr => 16,
            KeyType::InetProto => 1,
            KeyType::InetService => 2,
        }
    }
}

/// A named set, or a verdict map (`verdict_map`), in `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub table: Table,
    pub name: String,
    /// One field, or a concatenation (`a . b . c`).
    pub key: Vec<KeyType>,
    /// Elements are ranges.
    pub interval: bool,
    /// Elements map to verdicts (`vmap`).
    pub verdict_map: bool,
}

impl Set {
    fn flags(&self) -> u32 {
        let mut f = 0;
        if self.interval {
            f |= NFT_SET_INTERVAL;
        }
        if self.key.len() > 1 {
            f |= NFT_SET_CONCAT;
        }
        if self.verdict_map {
            f |= NFT_SET_MAP;
        }
        f
    }

    /// The key length: every field rounded up to 4 bytes.
    pub fn key_len(&self) -> u32 {
        self.key.iter().map(|k| k.bytes().div_ceil(4) * 4).sum()
    }

    fn key_type(&self) -> u32 {
        self.key
            .iter()
            .fold(0, |t, k| (t << NFT_TYPE_BITS) | k.id())
    }
}

/// One element as sent to the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Element {
    pub key: Vec<u8>,
    /// The inclusive end of a concatenated range.
    pub key_end: Option<Vec<u8>>,
    /// The end marker of a one-field range (its key is the first value after the range).
    pub interval_end: bool,
    /// A verdict map's data.
    pub verdict: Option<Verdict>,
}

impl Element {
    pub fn key(key: Vec<u8>) -> Element {
        Element {
            key,
            key_end: None,
            interval_end: false,
            verdict: None,
        }
    }

    /// The end element of a one-field range: `after` is the first key past the range.
    pub fn interval_end(after: Vec<u8>) -> Element {
        Element {
            interval_end: true,
            ..Element::key(after)
        }
    }

    /// A concatenated range `first..=last`.
    pub fn range(first: Vec<u8>, last: Vec<u8>) -> Element {
        Element {
            key_end: Some(last),
            ..Element::key(first)
        }
    }

    /// A verdict map entry.
    pub fn mapping(key: Vec<u8>, verdict: Verdict) -> Element {
        Element {
            verdict: Some(verdict),
            ..Element::key(key)
        }
    }
}

/// A concatenated key: each field padded with zeros to whole 4-byte registers.
pub fn concat(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(f);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    out
}

impl Batch {
    /// Adds a set or map (kept as is when it exists with the same type).
    pub fn add_set(&mut self, s: &Set) {
        let what = format!("add set {} {}", s.table, s.name);
        // The kernel wants an id unique in the transaction: the message's sequence number.
        let id = self.len() as u32 + 1;
        self.push(NFT_MSG_NEWSET, NLM_F_CREATE, s.table.family, what, |w| {
            w.put_str(NFTA_SET_TABLE, &s.table.name);
            w.put_str(NFTA_SET_NAME, &s.name);
            w.put_be32(NFTA_SET_FLAGS, s.flags());
            w.put_be32(NFTA_SET_KEY_TYPE, s.key_type());
            w.put_be32(NFTA_SET_KEY_LEN, s.key_len());
            w.put_be32(NFTA_SET_ID, id);
            if s.verdict_map {
                w.put_be32(NFTA_SET_DATA_TYPE, NFT_DATA_VERDICT);
                w.put_be32(NFTA_SET_DATA_LEN, 0);
            }
            if s.key.len() > 1 {
                w.nest(NFTA_SET_DESC, |w| {
                    w.nest(NFTA_SET_DESC_CONCAT, |w| {
                        for k in &s.key {
                            w.nest(NFTA_LIST_ELEM, |w| {
                                w.put_be32(NFTA_SET_FIELD_LEN, k.bytes())
                            });
                        }
                    })
                });
            }
        });
    }

    /// Deletes a set or map with its elements (no rule may still use it).
    pub fn delete_set(&mut self, s: &Set) {
        let what = format!("delete set {} {}", s.table, s.name);
        self.push(NFT_MSG_DELSET, 0, s.table.family, what, |w| {
            w.put_str(NFTA_SET_TABLE, &s.table.name);
            w.put_str(NFTA_SET_NAME, &s.name);
        });
    }

    /// Adds elements to `s` (one message per [`CHUNK`]).
    pub fn add_elements(&mut self, s: &Set, elements: &[Element]) {
        self.elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", s, elements);
    }

    /// Deletes elements of `s` (each must exist; a range by its start and end elements).
    pub fn delete_elements(&mut self, s: &Set, elements: &[Element]) {
        self.elements(NFT_MSG_DELSETELEM, 0, "delete", s, elements);
    }

    fn elements(&mut self, msg: u16, flags: u16, verb: &str, s: &Set, elements: &[Element]) {
        for chunk in elements.chunks(CHUNK) {
            let what = format!(
                "{verb} {} element(s) of set {} {}",
                chunk.len(),
                s.table,
                s.name
            );
            self.push(msg, flags, s.table.family, what, |w| {
                w.put_str(NFTA_SET_ELEM_LIST_TABLE, &s.table.name);
                w.put_str(NFTA_SET_ELEM_LIST_SET, &s.name);
                w.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |w| {
                    chunk.iter().for_each(|e| encode_element(w, e))
                });
            });
        }
    }
}

fn encode_element(w: &mut Writer, e: &Element) {
    w.nest(NFTA_LIST_ELEM, |w| {
        w.nest(NFTA_SET_ELEM_KEY, |w| w.put(NFTA_DATA_VALUE, &e.key));
        if let Some(end) = &e.key_end {
            w.nest(NFTA_SET_ELEM_KEY_END, |w| w.put(NFTA_DATA_VALUE, end));
        }
        if e.interval_end {
            w.put_be32(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
        }
        if let Some(v) = &e.verdict {
            w.nest(NFTA_SET_ELEM_DATA, |w| v.encode_data(w));
        }
    });
}
