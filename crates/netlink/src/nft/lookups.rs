//! Rules that look packets up in sets and maps, and the conntrack state match: the expression
//! sequences `nft` generates for `ip saddr @s`, `meta l4proto . th dport @s`,
//! `ip daddr . meta l4proto . th dport @s`, `ip saddr vmap @m` and
//! `ct state established,related`.
//!
//! A key's fields are loaded into consecutive 4-byte registers from `NFT_REG32_00` (a field
//! shorter than 4 bytes zeroes the rest of its register), then one `lookup` reads the whole
//! key. Address fields in an `inet` table first need `meta nfproto`, so a rule is for IPv4 or
//! for IPv6, never both.

use super::expr::{CmpOp, CtKey, Expr, MetaKey, PayloadBase, Register};
use super::expr::{CT_STATE_ESTABLISHED, CT_STATE_RELATED};
use super::objects::{Family, Rule};
use super::sys::{NFPROTO_IPV4, NFPROTO_IPV6};

/// One field of a lookup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `ip saddr` / `ip6 saddr`.
    Saddr,
    /// `ip daddr` / `ip6 daddr`.
    Daddr,
    /// `meta l4proto`.
    L4Proto,
    /// `th dport`: the destination port of any transport header (TCP, UDP, SCTP, …).
    Dport,
}

/// The IP version of a rule's address fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpVersion {
    V4,
    V6,
}

impl Field {
    /// (load expression, bytes) into `dreg`.
    fn load(self, v: IpVersion, dreg: Register) -> (Expr, u32) {
        let payload = |base, offset, len| {
            (
                Expr::Payload {
                    dreg,
                    base,
                    offset,
                    len,
                },
                len,
            )
        };
        match (self, v) {
            (Field::Saddr, IpVersion::V4) => payload(PayloadBase::Network, 12, 4),
            (Field::Daddr, IpVersion::V4) => payload(PayloadBase::Network, 16, 4),
            (Field::Saddr, IpVersion::V6) => payload(PayloadBase::Network, 8, 16),
            (Field::Daddr, IpVersion::V6) => payload(PayloadBase::Network, 24, 16),
            (Field::L4Proto, _) => (
                Expr::Meta {
                    dreg,
                    key: MetaKey::L4Proto,
                },
                1,
            ),
            (Field::Dport, _) => payload(PayloadBase::Transport, 2, 2),
        }
    }

    fn is_addr(self) -> bool {
        matches!(self, Field::Saddr | Field::Daddr)
    }
}

impl Rule {
    /// `ct state established,related`.
    pub fn ct_established_or_related(mut self) -> Rule {
        let reg = Register::R1;
        let mask = CT_STATE_ESTABLISHED | CT_STATE_RELATED;
        self.exprs.extend([
            Expr::Ct {
                dreg: reg,
                key: CtKey::State,
            },
            // ct state is host byte order
            Expr::Bitwise {
                sreg: reg,
                dreg: reg,
                mask: mask.to_ne_bytes().to_vec(),
                xor: vec![0; 4],
            },
            Expr::Cmp {
                sreg: reg,
                op: CmpOp::Neq,
                data: vec![0; 4],
            },
        ]);
        self
    }

    /// `key @set`: the packet's key (fields of IP version `v`) is in `set`.
    pub fn lookup(self, key: &[Field], v: IpVersion, set: &str) -> Rule {
        self.lookup_into(key, v, set, None)
    }

    /// `key vmap @map`: the verdict of the packet's key in verdict map `map`; no element: the
    /// rule does not match.
    pub fn vmap(self, key: &[Field], v: IpVersion, map: &str) -> Rule {
        self.lookup_into(key, v, map, Some(Register::Verdict))
    }

    fn lookup_into(
        mut self,
        key: &[Field],
        v: IpVersion,
        set: &str,
        dreg: Option<Register>,
    ) -> Rule {
        if self.table.family == Family::Inet && key.iter().any(|f| f.is_addr()) {
            self.require_nfproto(match v {
                IpVersion::V4 => NFPROTO_IPV4,
                IpVersion::V6 => NFPROTO_IPV6,
            });
        }
        let mut next = 0u8;
        for field in key {
            let (load, len) = field.load(v, Register::R32(next));
            self.exprs.push(load);
            next += len.div_ceil(4) as u8;
        }
        self.exprs.push(Expr::Lookup {
            sreg: Register::R32(0),
            set: set.to_owned(),
            dreg,
            invert: false,
        });
        self
    }
}
