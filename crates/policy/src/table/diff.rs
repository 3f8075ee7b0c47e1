//! Pod churn as element changes: when two rulesets differ only in set and map elements, the
//! change is a batch of element deletions and additions ([`super::incremental`] sends them).
//!
//! Units ([`super::encode::set_units`]) are compared whole: a changed address range is the
//! old range (start and end elements) deleted and the new one added, in that order, in one
//! transaction; a verdict map entry whose chain changed is deleted and added again.

use std::collections::HashSet;
use std::mem::discriminant;

use lichen_netlink::nft::{Element, Set};

use crate::Ruleset;

use super::encode::all_units;

/// One kernel set's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub set: Set,
    pub delete: Vec<Element>,
    pub add: Vec<Element>,
}

/// The element changes turning `old` into `new`, or `None` when chains, rules or the sets
/// themselves differ (then the table must be replaced).
pub fn element_changes(old: &Ruleset, new: &Ruleset) -> Option<Vec<Change>> {
    let same_shape = old.established_passes == new.established_passes
        && old.chains == new.chains
        && old.maps.keys().eq(new.maps.keys())
        && old.sets.len() == new.sets.len()
        && old
            .sets
            .iter()
            .zip(&new.sets)
            .all(|((a, x), (b, y))| a == b && discriminant(x) == discriminant(y));
    if !same_shape {
        return None;
    }
    let old_units = all_units(old);
    let mut out = Vec::new();
    for (name, (set, units)) in all_units(new) {
        let before = &old_units.get(&name)?.1;
        out.extend(delta(set, before, &units));
    }
    Some(out)
}

/// The change turning the element units `before` of `set` into `after`, `None` when equal.
/// Units are compared whole; deletions carry no verdict.
pub fn delta(set: Set, before: &[Vec<Element>], after: &[Vec<Element>]) -> Option<Change> {
    if before == after {
        return None;
    }
    let was: HashSet<&Vec<Element>> = before.iter().collect();
    let is: HashSet<&Vec<Element>> = after.iter().collect();
    let delete = before
        .iter()
        .filter(|u| !is.contains(u))
        .flatten()
        .map(|e| Element {
            verdict: None,
            ..e.clone()
        })
        .collect();
    let add = after
        .iter()
        .filter(|u| !was.contains(u))
        .flatten()
        .cloned()
        .collect();
    Some(Change { set, delete, add })
}
