//! Any change as an edit of the table in place: objects are compared by name, and only what
//! differs is sent, in one transaction.
//!
//! Order inside the batch (every reference is gone before its target goes, every target
//! exists before a reference to it is made):
//! 1. element deletions: of kept sets and maps, and every element of a disappearing verdict
//!    map (map entries jump to chains that may be deleted below);
//! 2. flushes (`DELRULE` naming only the chain) of chains whose rules change or that
//!    disappear: their rules may use sets or jump to chains deleted below;
//! 3. deletion of disappearing sets and maps (no rule uses them any more), then
//! 4. of disappearing chains (empty, and nothing jumps to them any more);
//! 5. new chains (empty), 6. new sets and maps with their elements (map entries may jump to
//!    the new chains), 7. element additions to kept sets and maps;
//! 8. the rules of changed and new chains (their sets and jump targets all exist now).
//!
//! A set whose kernel type changes, or a chain that becomes or stops being a base chain, is
//! deleted and added again under the same name.

use std::collections::BTreeMap;

use lichen_netlink::nft::{Batch, Chain, Element, Set};

use crate::ruleset::{self, Ruleset};

use super::diff::{delta, Change};
use super::encode::{add_rules, all_units, kernel_chain, policy_table};

/// The edit turning the table of one ruleset into the table of another.
#[derive(Debug)]
pub struct Plan<'a> {
    elements: Vec<Change>,
    flush: Vec<&'a str>,
    delete_sets: Vec<Set>,
    delete_chains: Vec<&'a str>,
    add_chains: Vec<Chain>,
    add_sets: Vec<(Set, Vec<Element>)>,
    fill: Vec<(&'a str, &'a ruleset::Chain)>,
}

impl<'a> Plan<'a> {
    pub fn new(old: &'a Ruleset, new: &'a Ruleset) -> Plan<'a> {
        let mut plan = Plan {
            elements: Vec::new(),
            flush: Vec::new(),
            delete_sets: Vec::new(),
            delete_chains: Vec::new(),
            add_chains: Vec::new(),
            add_sets: Vec::new(),
            fill: Vec::new(),
        };
        plan.sets(old, new);
        plan.chains(old, new);
        plan
    }

    fn sets(&mut self, old: &Ruleset, new: &Ruleset) {
        let (was, is) = (all_units(old), all_units(new));
        for (name, (set, units)) in &was {
            match is.get(name) {
                Some((s, after)) if s == set => {
                    self.elements.extend(delta(s.clone(), units, after))
                }
                _ => {
                    if set.verdict_map && !units.is_empty() {
                        self.elements.extend(delta(set.clone(), units, &[]));
                    }
                    self.delete_sets.push(set.clone());
                }
            }
        }
        for (name, (set, units)) in is {
            if was.get(&name).map(|(s, _)| s) != Some(&set) {
                self.add_sets.push((set, units.concat()));
            }
        }
    }

    fn chains(&mut self, old: &'a Ruleset, new: &'a Ruleset) {
        for (name, chain) in &old.chains {
            match new.chains.get(name) {
                Some(c) if c.hook == chain.hook => {
                    if c.rules != chain.rules {
                        self.flush.push(name);
                        self.fill.push((name, c));
                    }
                }
                _ => {
                    self.flush.push(name);
                    self.delete_chains.push(name);
                }
            }
        }
        let hooks: BTreeMap<&str, _> = old.chains.iter().map(|(n, c)| (&**n, c.hook)).collect();
        for (name, chain) in &new.chains {
            if hooks.get(&**name) != Some(&chain.hook) {
                self.add_chains.push(kernel_chain(name, chain));
                self.fill.push((name, chain));
            }
        }
    }

    /// Nothing differs.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty() && self.is_elements_only()
    }

    /// Only elements of existing sets and maps change (pod churn, label changes).
    pub fn is_elements_only(&self) -> bool {
        self.flush.is_empty()
            && self.delete_sets.is_empty()
            && self.delete_chains.is_empty()
            && self.add_chains.is_empty()
            && self.add_sets.is_empty()
            && self.fill.is_empty()
    }

    /// Appends the edit to `batch` (see the module docs for the order).
    pub fn encode(&self, batch: &mut Batch) {
        let t = policy_table();
        for c in self.elements.iter().filter(|c| !c.delete.is_empty()) {
            batch.delete_elements(&c.set, &c.delete);
        }
        for chain in &self.flush {
            batch.flush_chain(&t, chain);
        }
        for set in &self.delete_sets {
            batch.delete_set(set);
        }
        for chain in &self.delete_chains {
            batch.delete_chain(&t, chain);
        }
        for chain in &self.add_chains {
            batch.add_chain(chain);
        }
        for (set, elements) in &self.add_sets {
            batch.add_set(set);
            if !elements.is_empty() {
                batch.add_elements(set, elements);
            }
        }
        for c in self.elements.iter().filter(|c| !c.add.is_empty()) {
            batch.add_elements(&c.set, &c.add);
        }
        for (name, chain) in &self.fill {
            add_rules(batch, name, chain);
        }
    }
}
