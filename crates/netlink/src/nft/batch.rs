//! The batch that carries objects to the kernel as one transaction:
//! `BATCH_BEGIN, msg…, BATCH_END`. Every message asks for an ACK, so the sender can check
//! each one; the kernel applies all messages or none.

use super::objects::{BaseChain, Chain, ChainType, Family, Hook, Rule, RuleRef, Table};
use super::sys::*;
use super::udata;
use super::wire::{Header, Writer};

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
        Batch::begin(|_| {})
    }

    /// A batch the kernel refuses with `ERESTART`, applying nothing, unless the ruleset is
    /// still at generation `genid` (see [`super::generation`]): what was read before building
    /// the batch is still true when it commits.
    pub fn checked(genid: u32) -> Batch {
        Batch::begin(|w| w.put_be32(NFNL_BATCH_GENID, genid))
    }

    fn begin(attrs: impl FnOnce(&mut Writer)) -> Batch {
        let mut writer = Writer::default();
        writer.message(delimiter(NFNL_MSG_BATCH_BEGIN, 0), attrs);
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

    /// Deletes a chain (with its rules; no other rule or map element may still jump to it).
    pub fn delete_chain(&mut self, t: &Table, chain: &str) {
        let what = format!("delete chain {} {} {chain}", t.family, t.name);
        self.push(NFT_MSG_DELCHAIN, 0, t.family, what, |w| {
            w.put_str(NFTA_CHAIN_TABLE, &t.name);
            w.put_str(NFTA_CHAIN_NAME, chain);
        });
    }

    /// Deletes every rule of a chain (`DELRULE` naming only table and chain: a flush).
    pub fn flush_chain(&mut self, t: &Table, chain: &str) {
        let what = format!("flush chain {} {} {chain}", t.family, t.name);
        self.push(NFT_MSG_DELRULE, 0, t.family, what, |w| {
            w.put_str(NFTA_RULE_TABLE, &t.name);
            w.put_str(NFTA_RULE_CHAIN, chain);
        });
    }

    /// Appends `r` at the end of its chain.
    pub fn add_rule(&mut self, r: &Rule) {
        self.new_rule(r, NLM_F_APPEND, "add");
    }

    /// Inserts `r` at the head of its chain (no NLM_F_APPEND and no position: the kernel
    /// puts the rule first). Inserting A then B leaves B before A.
    pub fn insert_rule(&mut self, r: &Rule) {
        self.new_rule(r, 0, "insert");
    }

    /// Deletes one rule by handle (it must exist).
    pub fn delete_rule(&mut self, r: &RuleRef) {
        let t = &r.table;
        let what = format!(
            "delete rule {} {} {} handle {}",
            t.family, t.name, r.chain, r.handle
        );
        self.push(NFT_MSG_DELRULE, 0, t.family, what, |w| {
            w.put_str(NFTA_RULE_TABLE, &t.name);
            w.put_str(NFTA_RULE_CHAIN, &r.chain);
            w.put(NFTA_RULE_HANDLE, &r.handle.to_be_bytes());
        });
    }

    fn new_rule(&mut self, r: &Rule, position: u16, verb: &str) {
        let t = &r.table;
        let n = self.ops.len() + 1;
        let what = format!("{verb} rule {} {} {} (#{n})", t.family, t.name, r.chain);
        self.push(
            NFT_MSG_NEWRULE,
            NLM_F_CREATE | position,
            t.family,
            what,
            |w| {
                w.put_str(NFTA_RULE_TABLE, &t.name);
                w.put_str(NFTA_RULE_CHAIN, &r.chain);
                w.nest(NFTA_RULE_EXPRESSIONS, |w| {
                    r.exprs.iter().for_each(|e| e.encode(w))
                });
                if let Some(c) = &r.comment {
                    w.put(NFTA_RULE_USERDATA, &udata::comment(c));
                }
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

    pub(super) fn push(
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
