//! nf_tables over netlink (NETLINK_NETFILTER), without the `nft` binary.
//!
//! Lichen owns one table, `inet lichen`; what it programs lives there and is replaced in one
//! batch (add table, delete table, add table + chains + rules, in one transaction), so no
//! packet ever sees a half-applied ruleset. Outside the table it touches only its own rules,
//! commented [`FOREIGN_MARK`], at the head of other tables' forward chains (iptables-nft's
//! FORWARD among them), replaced in the same batch: see [`apply_node_rules`]. iptables-legacy
//! (x_tables) is out of reach: a FORWARD policy drop there still drops pod traffic.
//!
//! Layers, each reusable by the later NetworkPolicy mode (sets and maps become new messages
//! in [`Batch`] and new [`Expr`] variants):
//! - `wire`: netlink messages and attributes; `sys`: the uapi numbers.
//! - [`Expr`] and friends: hand-encoded expressions; [`Rule`] helpers build common matches.
//! - [`Batch`] with [`Table`], [`Chain`], [`Rule`]: one transaction; [`Socket`] sends it and
//!   checks every ACK ([`KernelError`] keeps the errno and names the failing message).
//! - `node_rules`: the agent's rules, a plain user of the above; [`list_table`] reads back.
//! - [`readback`]: a whole table read back without handles, to compare by meaning (tests).
//! - `scan`: what is there before a change (generation, other tables' forward chains);
//!   `foreign`: our accepts in those chains (design notes there); `udata`: rule comments.
//! - `set`, `lookups`: named sets, maps and their elements; lookups, `vmap`, `ct state`.
//! - [`policy`]: the NetworkPolicy ruleset in its own table `inet lichen-policy`.

mod batch;
mod expr;
mod foreign;
mod list;
mod lookups;
mod matches;
mod node_rules;
mod objects;
pub mod policy;
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

use ipnet::IpNet;

pub use batch::Batch;
pub use expr::{CmpOp, CtKey, Expr, MetaKey, NatFlags, PayloadBase, Register, Verdict};
pub use foreign::MARK as FOREIGN_MARK;
pub use list::{list_table, ChainSummary};
pub use lookups::{Field, IpVersion};
pub use matches::Addr;
pub use node_rules::{lichen_table, FORWARD, POSTROUTING, TABLE};
pub use objects::{priority, BaseChain, Chain, ChainType, Family, Hook, Rule, RuleRef, Table};
pub use scan::{generation, ForwardChain};
pub use set::{concat, Element, KeyType, Set};
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
///   `saddr C accept`, `daddr C accept`.
///
/// An nf_tables accept is final only within its own base chain, so the same two rules per
/// cluster net of the right family, commented [`FOREIGN_MARK`], go at the head of every
/// other table's base chain on hook forward (families ip, ip6, inet: iptables-nft's
/// `FORWARD` with Docker's policy drop, firewalld's, …), replacing the ones the previous
/// apply put there. See [`foreign_forward_chains`] for what is found.
///
/// One netlink batch, checked against the generation the chains were read at; the whole
/// change is applied or nothing is (a concurrent change makes the kernel refuse it, and it is
/// rebuilt, up to 3 times). NAT chains in an `inet` table need Linux ≥ 5.2; older kernels
/// refuse the batch (the error names the message). Runs in the calling thread's network
/// namespace. Errors from the kernel carry a [`KernelError`] (errno + failing message)
/// inside the `io::Error`.
pub fn apply_node_rules(rules: &NodeRules) -> io::Result<()> {
    transact(|foreign, genid| node_rules::replace_batch(rules, foreign, genid))
}

/// Deletes table `inet lichen` if it exists and our rules in other tables' forward chains
/// (one checked batch). Absent is success.
pub fn remove_lichen_table() -> io::Result<()> {
    transact(node_rules::remove_batch)
}

/// What table `inet lichen` holds now (chains with rule counts), `None` when absent.
pub fn lichen_status() -> io::Result<Option<Vec<ChainSummary>>> {
    list_table(&Socket::open()?, &lichen_table())
}

/// The other tables' base chains on hook forward (with their policy) and the handles of our
/// rules in each: what [`apply_node_rules`] keeps our accepts in. iptables-legacy chains are
/// not nf_tables and never appear.
pub fn foreign_forward_chains() -> io::Result<Vec<ForwardChain>> {
    let sock = Socket::open()?;
    scan::forward_chains(&sock, &own_tables(), FOREIGN_MARK)
}

/// Lichen's tables: never "foreign" (the policy table's drops must not get our accepts).
fn own_tables() -> [Table; 2] {
    [lichen_table(), policy::policy_table()]
}

/// Reads the generation and the foreign chains, builds a batch checked against that
/// generation and applies it; rebuilds when another writer committed in between.
fn transact(build: impl Fn(&[ForwardChain], u32) -> Batch) -> io::Result<()> {
    const ATTEMPTS: usize = 3;
    let sock = Socket::open()?;
    let mut attempt = 1;
    loop {
        let genid = generation(&sock)?;
        let foreign = scan::forward_chains(&sock, &own_tables(), FOREIGN_MARK)?;
        match sock.apply(&build(&foreign, genid)) {
            Err(e) if errno(&e) == Some(libc::ERESTART) => {
                if attempt == ATTEMPTS {
                    return Err(e);
                }
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The errno of a [`KernelError`] inside `e`.
fn errno(e: &io::Error) -> Option<i32> {
    e.get_ref()?.downcast_ref::<KernelError>().map(|k| k.errno)
}
