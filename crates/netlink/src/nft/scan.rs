//! Reading the ruleset before changing it: the generation (for [`Batch::checked`]) and the
//! base chains at the forward hook of the other tables, with the handles of the rules the caller
//! put in them (those carrying its comment).
//!
//! [`Batch::checked`]: super::Batch::checked

use std::io;

use super::expr::Verdict;
use super::objects::{Family, RuleRef, Table};
use super::socket::Socket;
use super::sys::*;
use super::udata;
use super::wire::{attr_str, attrs};

/// A base chain at hook `forward` in a table the caller does not own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardChain {
    pub table: Table,
    pub name: String,
    /// The chain's policy (accept or drop).
    pub policy: Verdict,
    /// The caller's rules in it (commented with the mark given to [`forward_chains`]), in
    /// chain order.
    pub ours: Vec<RuleRef>,
}

/// The ruleset's generation; every committed change increments it.
pub fn generation(sock: &Socket) -> io::Result<u32> {
    let replies = sock.get(NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, |_| {})?;
    let id = replies
        .iter()
        .flat_map(|r| attrs(r))
        .find(|(kind, _)| *kind == NFTA_GEN_ID)
        .and_then(|(_, d)| Some(u32::from_be_bytes(d.try_into().ok()?)));
    id.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "nf_tables: no generation"))
}

/// Every forward base chain of families ip, ip6 and inet outside the `own` tables, with the rules in
/// it whose comment is `mark`. Tables flagged `owner` (another process holds them; the
/// kernel refuses changes from anyone else) are left out.
pub fn forward_chains(sock: &Socket, own: &[Table], mark: &str) -> io::Result<Vec<ForwardChain>> {
    let mut out = Vec::new();
    for family in [Family::Ip, Family::Ip6, Family::Inet] {
        let writable = writable_tables(sock, family)?;
        let replies = sock.get(NFT_MSG_GETCHAIN, family.code(), NLM_F_DUMP, |_| {})?;
        for reply in &replies {
            let Some((table, name, policy)) = forward_chain(reply) else {
                continue;
            };
            let table = Table::new(family, &table);
            if own.contains(&table) || !writable.contains(&table.name) {
                continue;
            }
            let ours = marked_rules(sock, &table, &name, mark)?;
            out.push(ForwardChain {
                table,
                name,
                policy,
                ours,
            });
        }
    }
    Ok(out)
}

/// Names of the tables of `family` that any process may change.
fn writable_tables(sock: &Socket, family: Family) -> io::Result<Vec<String>> {
    let replies = sock.get(NFT_MSG_GETTABLE, family.code(), NLM_F_DUMP, |_| {})?;
    let mut out = Vec::new();
    for reply in &replies {
        let mut name = None;
        let mut flags = 0;
        for (kind, data) in attrs(reply) {
            match kind {
                NFTA_TABLE_NAME => name = Some(attr_str(data).to_owned()),
                NFTA_TABLE_FLAGS => flags = be32(data),
                _ => {}
            }
        }
        if flags & NFT_TABLE_F_OWNER == 0 {
            out.extend(name);
        }
    }
    Ok(out)
}

/// (table, chain, policy) of a chain dump entry that is a base chain at hook forward.
fn forward_chain(reply: &[u8]) -> Option<(String, String, Verdict)> {
    let (mut table, mut name, mut hook, mut policy) = (None, None, None, Verdict::Accept);
    for (kind, data) in attrs(reply) {
        match kind {
            NFTA_CHAIN_TABLE => table = Some(attr_str(data).to_owned()),
            NFTA_CHAIN_NAME => name = Some(attr_str(data).to_owned()),
            NFTA_CHAIN_HOOK => {
                hook = attrs(data)
                    .find(|(k, _)| *k == NFTA_HOOK_HOOKNUM)
                    .map(|(_, d)| be32(d))
            }
            NFTA_CHAIN_POLICY if be32(data) as i32 == NF_DROP => policy = Verdict::Drop,
            _ => {}
        }
    }
    (hook == Some(NF_INET_FORWARD)).then_some(())?;
    Some((table?, name?, policy))
}

/// The rules of `table`/`chain` marked with `mark`.
fn marked_rules(sock: &Socket, table: &Table, chain: &str, mark: &str) -> io::Result<Vec<RuleRef>> {
    let replies = sock.get(NFT_MSG_GETRULE, table.family.code(), NLM_F_DUMP, |w| {
        w.put_str(NFTA_RULE_TABLE, &table.name);
        w.put_str(NFTA_RULE_CHAIN, chain);
    })?;
    let mut out = Vec::new();
    for reply in &replies {
        let (mut in_table, mut in_chain, mut handle, mut marked) = (false, false, None, false);
        for (kind, data) in attrs(reply) {
            match kind {
                NFTA_RULE_TABLE => in_table = attr_str(data) == table.name,
                NFTA_RULE_CHAIN => in_chain = attr_str(data) == chain,
                NFTA_RULE_HANDLE => handle = data.try_into().ok().map(u64::from_be_bytes),
                NFTA_RULE_USERDATA => marked |= udata::parse_comment(data) == Some(mark),
                NFTA_RULE_EXPRESSIONS => marked |= has_xt_comment(data, mark),
                _ => {}
            }
        }
        if let (true, true, Some(handle), true) = (in_table, in_chain, handle, marked) {
            out.push(RuleRef {
                table: table.clone(),
                chain: chain.to_owned(),
                handle,
            });
        }
    }
    Ok(out)
}

/// Whether a rule's expressions hold iptables' `-m comment --comment <mark>`: what
/// `iptables-nft-save | iptables-nft-restore` turns our userdata comment into.
fn has_xt_comment(exprs: &[u8], mark: &str) -> bool {
    attrs(exprs).any(|(_, elem)| {
        let mut is_match = false;
        let mut data = None;
        for (kind, d) in attrs(elem) {
            match kind {
                NFTA_EXPR_NAME => is_match = attr_str(d) == "match",
                NFTA_EXPR_DATA => data = Some(d),
                _ => {}
            }
        }
        let Some(data) = data.filter(|_| is_match) else {
            return false;
        };
        let mut name = "";
        let mut info = None;
        for (kind, d) in attrs(data) {
            match kind {
                NFTA_MATCH_NAME => name = attr_str(d),
                NFTA_MATCH_INFO => info = Some(attr_str(d)),
                _ => {}
            }
        }
        name == "comment" && info == Some(mark)
    })
}

fn be32(data: &[u8]) -> u32 {
    data.try_into().map(u32::from_be_bytes).unwrap_or(0)
}
