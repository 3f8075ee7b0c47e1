//! nf_tables expressions, encoded by hand (what libnftnl does for `nft`).
//!
//! An expression is one list element `{ NFTA_EXPR_NAME, NFTA_EXPR_DATA { … } }` of a rule's
//! `NFTA_RULE_EXPRESSIONS`. Registers hold data between expressions; the verdict register
//! decides the packet's fate. New kinds (lookup, ct, counter, nat, …) are new variants here.

use super::sys::*;
use super::wire::Writer;

/// A data register (`NFT_REG_1..4`, 16 bytes each), a 4-byte register (`NFT_REG32_00..15`,
/// the same storage: `R1` is `R32(0..=3)`), or the verdict register. Concatenations load
/// each field into consecutive 4-byte registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Register {
    Verdict,
    R1,
    R2,
    R3,
    R4,
    /// `NFT_REG32_00 + n`, n < 16.
    R32(u8),
}

impl Register {
    fn number(self) -> u32 {
        match self {
            Register::Verdict => 0,
            Register::R1 => 1,
            Register::R2 => 2,
            Register::R3 => 3,
            Register::R4 => 4,
            Register::R32(n) => NFT_REG32_00 + u32::from(n),
        }
    }
}

/// The conntrack keys the builder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtKey {
    /// `ct state` (4 bytes, host byte order, one bit per state: see [`CT_STATE_ESTABLISHED`]).
    State,
}

/// `ct state` bits (`NF_CT_STATE_BIT`).
impl CtKey {
    fn number(self) -> u32 {
        match self {
            CtKey::State => NFT_CT_STATE,
        }
    }
}

pub const CT_STATE_ESTABLISHED: u32 = 1 << 1;
pub const CT_STATE_RELATED: u32 = 1 << 2;

/// Where a payload load starts counting its offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadBase {
    Link,
    Network,
    Transport,
}

impl PayloadBase {
    fn number(self) -> u32 {
        match self {
            PayloadBase::Link => NFT_PAYLOAD_LL_HEADER,
            PayloadBase::Network => NFT_PAYLOAD_NETWORK_HEADER,
            PayloadBase::Transport => NFT_PAYLOAD_TRANSPORT_HEADER,
        }
    }
}

/// The `meta` keys the builder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// The netfilter family of the packet (`meta nfproto`, 1 byte: NFPROTO_IPV4/IPV6).
    NfProto,
    /// The layer-4 protocol (`meta l4proto`, 1 byte).
    L4Proto,
}

impl MetaKey {
    fn number(self) -> u32 {
        match self {
            MetaKey::NfProto => NFT_META_NFPROTO,
            MetaKey::L4Proto => NFT_META_L4PROTO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
}

impl CmpOp {
    fn number(self) -> u32 {
        match self {
            CmpOp::Eq => NFT_CMP_EQ,
            CmpOp::Neq => NFT_CMP_NEQ,
        }
    }
}

/// A verdict: a rule's final `immediate`, or a base chain's policy (accept/drop only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    Accept,
    Drop,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

impl Verdict {
    pub(crate) fn code(&self) -> i32 {
        match self {
            Verdict::Accept => NF_ACCEPT,
            Verdict::Drop => NF_DROP,
            Verdict::Continue => NFT_CONTINUE,
            Verdict::Return => NFT_RETURN,
            Verdict::Jump(_) => NFT_JUMP,
            Verdict::Goto(_) => NFT_GOTO,
        }
    }

    /// The verdict as nf_tables data (`NFTA_DATA_VERDICT { code, chain }`): an immediate's
    /// data or a verdict map element's.
    pub(crate) fn encode_data(&self, w: &mut Writer) {
        w.nest(NFTA_DATA_VERDICT, |w| {
            w.put_be32(NFTA_VERDICT_CODE, self.code() as u32);
            if let Some(chain) = self.chain() {
                w.put_str(NFTA_VERDICT_CHAIN, chain);
            }
        })
    }

    fn chain(&self) -> Option<&str> {
        match self {
            Verdict::Jump(c) | Verdict::Goto(c) => Some(c),
            _ => None,
        }
    }
}

/// Flags of a NAT expression (`nf_nat_range` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatFlags {
    pub random: bool,
    pub fully_random: bool,
    pub persistent: bool,
}

impl NatFlags {
    fn bits(self) -> u32 {
        let mut bits = 0;
        if self.random {
            bits |= NF_NAT_RANGE_PROTO_RANDOM;
        }
        if self.fully_random {
            bits |= NF_NAT_RANGE_PROTO_RANDOM_FULLY;
        }
        if self.persistent {
            bits |= NF_NAT_RANGE_PERSISTENT;
        }
        bits
    }
}

/// One expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Copies `len` bytes at `offset` from `base` into `dreg`.
    Payload {
        dreg: Register,
        base: PayloadBase,
        offset: u32,
        len: u32,
    },
    /// Loads a meta key into `dreg`.
    Meta { dreg: Register, key: MetaKey },
    /// Breaks the rule unless `sreg op data` holds.
    Cmp {
        sreg: Register,
        op: CmpOp,
        data: Vec<u8>,
    },
    /// `dreg = (sreg & mask) ^ xor`, over `mask.len()` bytes (`xor` has the same length).
    Bitwise {
        sreg: Register,
        dreg: Register,
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    /// Sets the verdict.
    Verdict(Verdict),
    /// Source NAT to the outgoing interface's address.
    Masquerade(NatFlags),
    /// Looks the key in `sreg` (as long as the set's key) up in set `set`. Without `dreg`
    /// it breaks the rule unless found (or, `invert`, unless not found); with `dreg` (a map)
    /// the element's data goes there: [`Register::Verdict`] for a verdict map (`vmap`).
    Lookup {
        sreg: Register,
        set: String,
        dreg: Option<Register>,
        invert: bool,
    },
    /// Loads a conntrack key into `dreg`.
    Ct { dreg: Register, key: CtKey },
}

impl Expr {
    /// Writes this expression as one `NFTA_LIST_ELEM`.
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nest(NFTA_LIST_ELEM, |w| {
            w.put_str(NFTA_EXPR_NAME, self.name());
            w.nest(NFTA_EXPR_DATA, |w| self.encode_data(w));
        });
    }

    fn name(&self) -> &'static str {
        match self {
            Expr::Payload { .. } => "payload",
            Expr::Meta { .. } => "meta",
            Expr::Cmp { .. } => "cmp",
            Expr::Bitwise { .. } => "bitwise",
            Expr::Verdict(_) => "immediate",
            Expr::Masquerade(_) => "masq",
            Expr::Lookup { .. } => "lookup",
            Expr::Ct { .. } => "ct",
        }
    }

    fn encode_data(&self, w: &mut Writer) {
        match self {
            Expr::Payload {
                dreg,
                base,
                offset,
                len,
            } => {
                w.put_be32(NFTA_PAYLOAD_DREG, dreg.number());
                w.put_be32(NFTA_PAYLOAD_BASE, base.number());
                w.put_be32(NFTA_PAYLOAD_OFFSET, *offset);
                w.put_be32(NFTA_PAYLOAD_LEN, *len);
            }
            Expr::Meta { dreg, key } => {
                w.put_be32(NFTA_META_DREG, dreg.number());
                w.put_be32(NFTA_META_KEY, key.number());
            }
            Expr::Cmp { sreg, op, data } => {
                w.put_be32(NFTA_CMP_SREG, sreg.number());
                w.put_be32(NFTA_CMP_OP, op.number());
                w.nest(NFTA_CMP_DATA, |w| w.put(NFTA_DATA_VALUE, data));
            }
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => {
                w.put_be32(NFTA_BITWISE_SREG, sreg.number());
                w.put_be32(NFTA_BITWISE_DREG, dreg.number());
                w.put_be32(NFTA_BITWISE_LEN, mask.len() as u32);
                w.nest(NFTA_BITWISE_MASK, |w| w.put(NFTA_DATA_VALUE, mask));
                w.nest(NFTA_BITWISE_XOR, |w| w.put(NFTA_DATA_VALUE, xor));
            }
            Expr::Verdict(v) => {
                w.put_be32(NFTA_IMMEDIATE_DREG, Register::Verdict.number());
                w.nest(NFTA_IMMEDIATE_DATA, |w| v.encode_data(w));
            }
            Expr::Masquerade(flags) => {
                if flags.bits() != 0 {
                    w.put_be32(NFTA_MASQ_FLAGS, flags.bits());
                }
            }
            Expr::Lookup {
                sreg,
                set,
                dreg,
                invert,
            } => encode_lookup(w, *sreg, set, *dreg, *invert),
            Expr::Ct { dreg, key } => {
                w.put_be32(NFTA_CT_DREG, dreg.number());
                w.put_be32(NFTA_CT_KEY, key.number());
            }
        }
    }
}

/// A lookup's data: the set, the key's register, the map's data register, the inversion.
fn encode_lookup(w: &mut Writer, sreg: Register, set: &str, dreg: Option<Register>, invert: bool) {
    w.put_str(NFTA_LOOKUP_SET, set);
    w.put_be32(NFTA_LOOKUP_SREG, sreg.number());
    if let Some(d) = dreg {
        w.put_be32(NFTA_LOOKUP_DREG, d.number());
    }
    if invert {
        w.put_be32(NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    }
}
