//! Typed objects (table, chain, rule) and the batch that carries them to the kernel as one
//! transaction: `BATCH_BEGIN, msg…, BATCH_END`. Every message asks for an ACK, so the sender
//! can check each one; the kernel applies all messages or none.

use std::fmt;

use super::expr::{Expr, Verdict};
use super::sys::*;
use super::wire::{Header, Writer};

/// The address family of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Inet,
    Ip,
    Ip6,
}

impl Family {
    pub(crate) fn code(self) -> u8 {
        match self {
            Family::Inet => NFPROTO_INET,
            Family::Ip => NFPROTO_IPV4,
            Family::Ip6 => NFPROTO_IPV6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Inet => "inet",
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
        })
    }
}

/// A table, e.g. `inet lichen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub family: Family,
    pub name: String,
}

impl Table {
    pub fn new(family: Family, name: &str) -> Table {
        Table {
            family,
            name: name.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// Standard chain priorities (as `nft` names them).
pub mod priority {
    pub const RAW: i32 = -300;
    pub const DSTNAT: i32 = -100;
    pub const FILTER: i32 = 0;
    pub const SRCNAT: i32 = 100;
}

/// What makes a chain a base chain: it hangs on a netfilter hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: i32,
    /// `Verdict::Accept` or `Verdict::Drop`.
    pub policy: Verdict,
}

/// A chain; `base: None` is a regular chain (a jump target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub table: Table,
    pub name: String,
    pub base: Option<BaseChain>,
}

/// A rule appended at the end of its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: Table,
    pub chain: String,
    pub exprs: Vec<Expr>,
}

/// One transaction under construction.
#[derive(Debug, Clone)]
pub struct Batch {
    writer: Writer,
    /// What each message in the batch does, in order: message `i` has sequence number `i + 1`.
    ops: Vec<String>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    pub fn new() -> Batch {
        let mut writer = Writer::default();
        writer.message(delimiter(NFNL_MSG_BATCH_BEGIN, 0), |_| {});
        Batch {
            writer,
            ops: Vec::new(),
        }
    }

    /// Adds a table; an existing one is kept as is (no NLM_F_EXCL).
    pub fn add_table(&mut self, t: &Table) {
        self.push(
            NFT_MSG_NEWTABLE,
            NLM_F_CREATE,
            t.family,
            format!("add table {} {}", t.family, t.name),
            |w| w.put_str(NFTA_TABLE_NAME, &t.name),
        );
    }

    /// Deletes a table with all its chains, rules and sets (it must exist).
    pub fn delete_table(&mut self, t: &Table) {
        self.push(
            NFT_MSG_DELTABLE,
            0,
            t.family,
            format!("delete table {} {}", t.family, t.name),
            |w| w.put_str(NFTA_TABLE_NAME, &t.name),
        );
    }

    pub fn add_chain(&mut self, c: &Chain) {
        let what = format!("add chain {} {} {}", c.table.family, c.table.name, c.name);
        self.push(NFT_MSG_NEWCHAIN, NLM_F_CREATE, c.table.family, what, |w| {
            w.put_str(NFTA_CHAIN_TABLE, &c.table.name);
            w.put_str(NFTA_CHAIN_NAME, &c.name);
            if let Some(base) = &c.base {
                encode_base(w, base);
            }
        });
    }

    pub fn add_rule(&mut self, r: &Rule) {
        let what = format!(
            "add rule {} {} {} (#{})",
            r.table.family,
            r.table.name,
            r.chain,
            self.ops.len() + 1
        );
        self.push(
            NFT_MSG_NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND,
            r.table.family,
            what,
            |w| {
                w.put_str(NFTA_RULE_TABLE, &r.table.name);
                w.put_str(NFTA_RULE_CHAIN, &r.chain);
                w.nest(NFTA_RULE_EXPRESSIONS, |w| {
                    r.exprs.iter().for_each(|e| e.encode(w))
                });
            },
        );
    }

    /// Number of messages between the delimiters.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// What the message with sequence number `seq` does (for error reports).
    pub fn describe(&self, seq: u32) -> Option<&str> {
        self.ops
            .get((seq as usize).checked_sub(1)?)
            .map(String::as_str)
    }

    /// The whole transaction, BATCH_END included.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = self.writer.clone();
        w.message(
            delimiter(NFNL_MSG_BATCH_END, self.ops.len() as u32 + 1),
            |_| {},
        );
        w.bytes().to_vec()
    }

    fn push(
        &mut self,
        msg: u16,
        flags: u16,
        family: Family,
        what: String,
        body: impl FnOnce(&mut Writer),
    ) {
        self.ops.push(what);
        let header = Header {
            kind: (NFNL_SUBSYS_NFTABLES << 8) | msg,
            flags: NLM_F_REQUEST | NLM_F_ACK | flags,
            seq: self.ops.len() as u32,
            family: family.code(),
            res_id: 0,
        };
        self.writer.message(header, body);
    }
}

fn delimiter(kind: u16, seq: u32) -> Header {
    Header {
        kind,
        flags: NLM_F_REQUEST,
        seq,
        family: NFPROTO_UNSPEC,
        res_id: NFNL_SUBSYS_NFTABLES,
    }
}

fn encode_base(w: &mut Writer, base: &BaseChain) {
    let hook = match base.hook {
        Hook::Prerouting => NF_INET_PRE_ROUTING,
        Hook::Input => NF_INET_LOCAL_IN,
        Hook::Forward => NF_INET_FORWARD,
        Hook::Output => NF_INET_LOCAL_OUT,
        Hook::Postrouting => NF_INET_POST_ROUTING,
    };
    let kind = match base.kind {
        ChainType::Filter => "filter",
        ChainType::Nat => "nat",
        ChainType::Route => "route",
    };
    w.nest(NFTA_CHAIN_HOOK, |w| {
        w.put_be32(NFTA_HOOK_HOOKNUM, hook);
        w.put_be32(NFTA_HOOK_PRIORITY, base.priority as u32);
    });
    w.put_be32(NFTA_CHAIN_POLICY, base.policy.code() as u32);
    w.put_str(NFTA_CHAIN_TYPE, kind);
}
