//! nf_tables over netlink (NETLINK_NETFILTER), without the `nft` binary: a generic library
//! that knows nothing of Lichen's tables. What Lichen programs with it lives above: the node
//! rules (table `inet lichen` and our accepts in other tables' forward chains) in
//! `agent::node_rules`, the NetworkPolicy ruleset (table `inet lichen-policy`) in
//! `policy::table`.
//!
//! Layers:
//! - `wire`: netlink messages and attributes; `sys`: the uapi numbers.
//! - [`Expr`] and friends: hand-encoded expressions; [`Rule`] helpers build common matches.
//! - [`Batch`] with [`Table`], [`Chain`], [`Rule`]: one transaction; [`Socket`] sends it and
//!   checks every ACK ([`KernelError`] keeps the errno and names the failing message;
//!   [`errno`] finds it in an `io::Error`). [`list_table`] reads a table's chains back.
//! - [`readback`]: a whole table read back without handles, to compare by meaning (tests).
//! - `scan`: what is there before a change ([`generation`], [`forward_chains`]: other tables'
//!   forward chains and the rules in them carrying a given comment); `udata`: rule comments.
//! - `set`, `lookups`: named sets, maps and their elements; lookups, `vmap`, `ct state`.
//!
//! iptables-legacy (x_tables) is out of reach: its chains are not nf_tables and never appear.

mod batch;
mod expr;
mod list;
mod lookups;
mod matches;
mod objects;
pub mod readback;
mod scan;
mod set;
mod socket;
mod sys;
mod udata;
mod wire;

#[cfg(test)]
mod tests;

use std::io;

pub use batch::Batch;
pub use expr::{CmpOp, CtKey, Expr, MetaKey, NatFlags, PayloadBase, Register, Verdict};
pub use list::{list_table, ChainSummary};
pub use lookups::{Field, IpVersion};
pub use matches::Addr;
pub use objects::{priority, BaseChain, Chain, ChainType, Family, Hook, Rule, RuleRef, Table};
pub use scan::{forward_chains, generation, ForwardChain};
pub use set::{concat, Element, KeyType, Set};
pub use socket::{KernelError, Socket};

/// The errno of a [`KernelError`] inside `e`.
pub fn errno(e: &io::Error) -> Option<i32> {
    e.get_ref()?.downcast_ref::<KernelError>().map(|k| k.errno)
}
