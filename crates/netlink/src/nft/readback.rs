//! Reading a whole table back from the kernel in a form that compares by meaning: chains
//! (hook, type, policy, flags) with their rules in order (expressions and comment), sets and
//! maps (key, data, flags) with their elements as a sorted multiset. Handles, positions, use
//! counters and transaction ids are left out: two tables built by different batches compare
//! equal when a packet cannot tell them apart.
//!
//! Used by the policy churn test to check that what the agent left in the kernel is exactly
//! what a fresh replace of the same compile gives.

use std::collections::BTreeMap;
use std::io;

use super::list::{named, table_exists};
use super::objects::Table;
use super::scan::generation;
use super::socket::Socket;
use super::sys::*;
use super::wire::attrs;

/// One table as the kernel holds it, without handles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDump {
    /// Chains by name.
    pub chains: BTreeMap<String, ChainDump>,
    /// Sets and maps by name.
    pub sets: BTreeMap<String, SetDump>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainDump {
    /// The chain's attributes that carry meaning (hook, policy, type, flags), by kind.
    pub attrs: Vec<(u16, Vec<u8>)>,
    /// Each rule's expressions and user data (comment), in chain order.
    pub rules: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetDump {
    /// The set's attributes that carry meaning (flags, key, data, description), by kind.
    pub attrs: Vec<(u16, Vec<u8>)>,
    /// Every element (its attributes as the kernel dumps them), sorted.
    pub elements: Vec<Vec<u8>>,
}

impl TableDump {
    /// Names the first difference from `other` (`None`: equal), for test failures.
    pub fn difference(&self, other: &TableDump) -> Option<String> {
        if names(&self.chains) != names(&other.chains) {
            return Some(format!(
                "chains {:?} vs {:?}",
                names(&self.chains),
                names(&other.chains)
            ));
        }
        if names(&self.sets) != names(&other.sets) {
            return Some(format!(
                "sets {:?} vs {:?}",
                names(&self.sets),
                names(&other.sets)
            ));
        }
        for (name, c) in &self.chains {
            let o = &other.chains[name];
            if c.attrs != o.attrs {
                return Some(format!(
                    "chain {name}: attributes differ: {:?} vs {:?}",
                    c.attrs, o.attrs
                ));
            }
            if c.rules != o.rules {
                let at = c.rules.iter().zip(&o.rules).position(|(a, b)| a != b);
                return Some(format!(
                    "chain {name}: {} rules vs {}, first differing at {at:?}: {:?} vs {:?}",
                    c.rules.len(),
                    o.rules.len(),
                    at.map(|i| &c.rules[i]),
                    at.map(|i| &o.rules[i]),
                ));
            }
        }
        for (name, s) in &self.sets {
            let o = &other.sets[name];
            if s.attrs != o.attrs {
                return Some(format!(
                    "set {name}: attributes differ: {:?} vs {:?}",
                    s.attrs, o.attrs
                ));
            }
            if s.elements != o.elements {
                return Some(format!(
                    "set {name}: {} elements vs {} (or they differ)",
                    s.elements.len(),
                    o.elements.len()
                ));
            }
        }
        None
    }
}

fn names<T>(map: &BTreeMap<String, T>) -> Vec<&String> {
    map.keys().collect()
}

/// Reads `table` back, `None` when it does not exist. The chains, rules, sets and elements
/// come from separate dumps: a commit between them (another writer's, e.g. a running agent's
/// resync) would give a table that never existed, so the read is repeated until the ruleset
/// generation is the same before and after it.
pub fn read_table(sock: &Socket, table: &Table) -> io::Result<Option<TableDump>> {
    const ATTEMPTS: usize = 10;
    for _ in 1..ATTEMPTS {
        let before = generation(sock)?;
        let dump = read_once(sock, table)?;
        if generation(sock)? == before {
            return Ok(dump);
        }
    }
    read_once(sock, table)
}

fn read_once(sock: &Socket, table: &Table) -> io::Result<Option<TableDump>> {
    let family = table.family.code();
    if !table_exists(sock, table)? {
        return Ok(None);
    }
    let mut out = TableDump::default();
    let dump = |msg, table_attr| {
        sock.get(msg, family, NLM_F_DUMP, |w| {
            w.put_str(table_attr, &table.name)
        })
    };
    for reply in dump(NFT_MSG_GETCHAIN, NFTA_CHAIN_TABLE)? {
        let Some(name) = named(&reply, NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, &table.name) else {
            continue;
        };
        let skip = [
            NFTA_CHAIN_TABLE,
            NFTA_CHAIN_NAME,
            NFTA_CHAIN_HANDLE,
            NFTA_CHAIN_USE,
            NFTA_CHAIN_ID,
        ];
        out.chains.entry(name).or_default().attrs = kept(&reply, &skip);
    }
    for reply in dump(NFT_MSG_GETRULE, NFTA_RULE_TABLE)? {
        let Some(chain) = named(&reply, NFTA_RULE_TABLE, NFTA_RULE_CHAIN, &table.name) else {
            continue;
        };
        let get = |kind| {
            attrs(&reply)
                .find(|(k, _)| *k == kind)
                .map(|(_, d)| d.to_vec())
                .unwrap_or_default()
        };
        let rule = (get(NFTA_RULE_EXPRESSIONS), get(NFTA_RULE_USERDATA));
        out.chains.entry(chain).or_default().rules.push(rule);
    }
    for reply in dump(NFT_MSG_GETSET, NFTA_SET_TABLE)? {
        let Some(name) = named(&reply, NFTA_SET_TABLE, NFTA_SET_NAME, &table.name) else {
            continue;
        };
        let skip = [NFTA_SET_TABLE, NFTA_SET_NAME, NFTA_SET_HANDLE, NFTA_SET_ID];
        let elements = elements(sock, table, &name)?;
        let set = SetDump {
            attrs: kept(&reply, &skip),
            elements,
        };
        out.sets.insert(name, set);
    }
    Ok(Some(out))
}

/// The elements of set `name`, each as its attribute bytes, sorted.
fn elements(sock: &Socket, table: &Table, name: &str) -> io::Result<Vec<Vec<u8>>> {
    let replies = sock.get(NFT_MSG_GETSETELEM, table.family.code(), NLM_F_DUMP, |w| {
        w.put_str(NFTA_SET_ELEM_LIST_TABLE, &table.name);
        w.put_str(NFTA_SET_ELEM_LIST_SET, name);
    })?;
    let mut out = Vec::new();
    for reply in &replies {
        for (kind, list) in attrs(reply) {
            if kind == NFTA_SET_ELEM_LIST_ELEMENTS {
                out.extend(
                    attrs(list)
                        .filter(|(k, _)| *k == NFTA_LIST_ELEM)
                        .map(|(_, e)| e.to_vec()),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The attributes of `area` whose kind is not in `skip`, sorted by kind.
fn kept(area: &[u8], skip: &[u16]) -> Vec<(u16, Vec<u8>)> {
    let mut out: Vec<(u16, Vec<u8>)> = attrs(area)
        .filter(|(k, _)| !skip.contains(k))
        .map(|(k, d)| (k, d.to_vec()))
        .collect();
    out.sort();
    out
}
