//! Typed nf_tables objects: tables, chains (base or regular), rules, and a reference to a
//! rule already in the kernel. [`super::Batch`] turns them into messages.

use std::fmt;

use super::expr::{Expr, Verdict};
use super::sys::*;

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

/// As `nft` names it: `inet lichen`.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.family, self.name)
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

/// A rule: its expressions, and an optional comment (rule userdata, shown by `nft` as
/// `comment "…"`). [`super::Batch::add_rule`] appends it, [`super::Batch::insert_rule`]
/// puts it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: Table,
    pub chain: String,
    pub exprs: Vec<Expr>,
    pub comment: Option<String>,
}

/// A rule in the kernel, known by its handle (from a dump).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub table: Table,
    pub chain: String,
    pub handle: u64,
}
