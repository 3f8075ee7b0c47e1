//! nf_tables over netlink (NETLINK_NETFILTER), without the `nft` binary.
//!
//! Lichen owns one table, `inet lichen`; everything it programs lives there and is replaced in
//! one batch (add table, delete table, add table + chains + rules, in one transaction), so no
//! packet ever sees a half-applied ruleset and nothing outside the table is touched.
//!
//! Layers, each reusable by the later NetworkPolicy mode (sets and maps become new messages
//! in [`Batch`] and new [`Expr`] variants):
//! - `wire`: netlink messages and attributes; `sys`: the uapi numbers.
//! - [`Expr`] and friends: hand-encoded expressions; [`Rule`] helpers build common matches.
//! - [`Batch`] with [`Table`], [`Chain`], [`Rule`]: one transaction; [`Socket`] sends it and
//!   checks every ACK ([`KernelError`] keeps the errno and names the failing message).
//! - `node_rules`: the agent's rules, a plain user of the above; [`list_table`] reads back.

mod batch;
mod expr;
mod list;
mod matches;
mod node_rules;
mod socket;
mod sys;
mod wire;

#[cfg(test)]
mod tests;

use std::io;

use ipnet::IpNet;

pub use batch::{priority, BaseChain, Batch, Chain, ChainType, Family, Hook, Rule, Table};
pub use expr::{CmpOp, Expr, MetaKey, NatFlags, PayloadBase, Register, Verdict};
pub use list::{list_table, ChainSummary};
pub use matches::Addr;
pub use node_rules::{lichen_table, FORWARD, POSTROUTING, TABLE};
pub use socket::{KernelError, Socket};

/// The agent's node rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRules {
    /// The cluster networks (one per family), e.g. 10.42.0.0/16.
    pub cluster: Vec<IpNet>,
    /// Masquerade pod traffic that leaves the cluster network (fully random), except multicast.
    pub masquerade: bool,
}

/// Replaces table `inet lichen` with:
/// - chain `postrouting` (type nat, hook postrouting, priority srcnat): for each cluster net C:
///   `saddr C daddr C return`, `saddr C daddr <multicast> return`, and if masquerading
///   `saddr C masquerade fully-random`;
/// - chain `forward` (type filter, hook forward, priority filter, policy accept):
///   `saddr C accept`, `daddr C accept`. Caveat (checked in a namespace): an nf_tables accept
///   is final only within its own base chain, so this does NOT override a drop policy in
///   another table or in iptables' FORWARD (e.g. Docker's); that needs a rule over there.
///
/// One netlink batch; the whole change is applied or nothing is. NAT chains in an `inet`
/// table need Linux ≥ 5.2; older kernels refuse the batch (the error names the message).
/// Runs in the calling thread's network namespace. Errors from the kernel carry a
/// [`KernelError`] (errno + failing message) inside the `io::Error`.
pub fn apply_node_rules(rules: &NodeRules) -> io::Result<()> {
    Socket::open()?.apply(&node_rules::replace_batch(rules))
}

/// Deletes table `inet lichen` if it exists (one batch). Absent is success.
pub fn remove_lichen_table() -> io::Result<()> {
    Socket::open()?.apply(&node_rules::remove_batch())
}

/// What table `inet lichen` holds now (chains with rule counts), `None` when absent.
pub fn lichen_status() -> io::Result<Option<Vec<ChainSummary>>> {
    list_table(&Socket::open()?, &lichen_table())
}
