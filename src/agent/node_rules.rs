//! The agent's node rules: table `inet lichen` with a `postrouting` NAT chain (return inside
//! the cluster and to multicast, masquerade the rest of the pod traffic) and a `forward` filter
//! chain accepting cluster traffic; plus the same accepts in the forward chains of other tables
//! ([`foreign`], design notes there). Built with the generic nf_tables library ([`crate::nft`]),
//! which knows nothing of these tables.
//!
//! The table is replaced in one batch (add table, delete table, add table + chains + rules, in
//! one transaction), so no packet ever sees a half-applied ruleset. Outside the table the
//! agent touches only its own rules, commented [`foreign::MARK`], at the head of other tables'
//! forward chains (iptables-nft's FORWARD among them), replaced in the same batch: see
//! [`apply_node_rules`]. iptables-legacy (x_tables) is out of reach: a FORWARD policy drop
//! there still drops pod traffic. The NetworkPolicy table (`inet lichen-policy`,
//! [`crate::policy::table`]) is ours too: never "foreign".
//!
//! Cost for in-cluster traffic: the `postrouting` NAT chain runs for a flow's first packet
//! only. `nf_nat_inet_fn` (net/netfilter/nf_nat_core.c) walks a NAT hook's chains only for a
//! packet of a new conntrack entry without a NAT binding yet (`IP_CT_NEW`, `RELATED`); the
//! first `return` leaves it a null binding, and every later packet of the flow just applies
//! that binding. What remains per packet is conntrack itself and the two compares of
//! `forward`. Skipping conntrack for pod-to-pod packets (`notrack`) was measured and is not
//! done: see benches/datapath/ab.rs.

pub mod foreign;
#[cfg(test)]
mod tests;

use std::io;

use ipnet::IpNet;

use crate::nft::{
    errno, forward_chains, generation, list_table, priority, Addr, BaseChain, Batch, Chain,
    ChainSummary, ChainType, Family, ForwardChain, Hook, NatFlags, Rule, Socket, Table, Verdict,
};
use crate::policy::table::policy_table;

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
/// cluster net of the right family, commented [`foreign::MARK`], go at the head of every
/// other table's base chain on hook forward (families ip, ip6, inet: iptables-nft's
/// `FORWARD` with Docker's policy drop, firewalld's, …), replacing the ones the previous
/// apply put there. See [`foreign_forward_chains`] for what is found.
///
/// One netlink batch, checked against the generation the chains were read at; the whole
/// change is applied or nothing is (a concurrent change makes the kernel refuse it, and it is
/// rebuilt, up to 3 times). NAT chains in an `inet` table need Linux ≥ 5.2; older kernels
/// refuse the batch (the error names the message). Runs in the calling thread's network
/// namespace. Errors from the kernel carry a [`KernelError`](crate::nft::KernelError) (errno +
/// failing message) inside the `io::Error`.
pub fn apply_node_rules(rules: &NodeRules) -> io::Result<()> {
    transact(|foreign, genid| replace_batch(rules, foreign, genid))
}

/// Deletes table `inet lichen` if it exists and our rules in other tables' forward chains
/// (one checked batch). Absent is success.
pub fn remove_lichen_table() -> io::Result<()> {
    transact(remove_batch)
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
    forward_chains(&sock, &own_tables(), foreign::MARK)
}

/// Lichen's tables: never "foreign" (the policy table's drops must not get our accepts).
fn own_tables() -> [Table; 2] {
    [lichen_table(), policy_table()]
}

/// Reads the generation and the foreign chains, builds a batch checked against that
/// generation and applies it; rebuilds when another writer committed in between.
fn transact(build: impl Fn(&[ForwardChain], u32) -> Batch) -> io::Result<()> {
    const ATTEMPTS: usize = 3;
    let sock = Socket::open()?;
    let mut attempt = 1;
    loop {
        let genid = generation(&sock)?;
        let foreign = forward_chains(&sock, &own_tables(), foreign::MARK)?;
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

pub const TABLE: &str = "lichen";
pub const POSTROUTING: &str = "postrouting";
pub const FORWARD: &str = "forward";

pub fn lichen_table() -> Table {
    Table::new(Family::Inet, TABLE)
}

/// add + delete (so a missing table is not an error) + add again, then everything inside;
/// then our rules in `foreign` chains replaced. Valid only at generation `genid`.
pub fn replace_batch(rules: &NodeRules, foreign: &[ForwardChain], genid: u32) -> Batch {
    let table = lichen_table();
    let mut batch = Batch::checked(genid);
    drop_table(&mut batch);
    batch.add_table(&table);
    batch.add_chain(&base_chain(
        &table,
        POSTROUTING,
        ChainType::Nat,
        Hook::Postrouting,
        priority::SRCNAT,
    ));
    batch.add_chain(&base_chain(
        &table,
        FORWARD,
        ChainType::Filter,
        Hook::Forward,
        priority::FILTER,
    ));
    for net in &rules.cluster {
        let net = net.trunc();
        for rule in postrouting_rules(&table, net, rules.masquerade) {
            batch.add_rule(&rule);
        }
    }
    for net in &rules.cluster {
        let net = net.trunc();
        for which in [Addr::Source, Addr::Destination] {
            batch.add_rule(
                &Rule::new(&table, FORWARD)
                    .match_net(which, net)
                    .verdict(Verdict::Accept),
            );
        }
    }
    foreign::update(&mut batch, foreign, &rules.cluster);
    batch
}

/// Deletes the table and our rules in `foreign` chains. Valid only at generation `genid`.
pub fn remove_batch(foreign: &[ForwardChain], genid: u32) -> Batch {
    let mut batch = Batch::checked(genid);
    drop_table(&mut batch);
    foreign::remove(&mut batch, foreign);
    batch
}

/// Deletes the table; the leading add makes an absent table a no-op, not ENOENT.
fn drop_table(batch: &mut Batch) {
    let table = lichen_table();
    batch.add_table(&table);
    batch.delete_table(&table);
}

fn base_chain(table: &Table, name: &str, kind: ChainType, hook: Hook, priority: i32) -> Chain {
    let base = BaseChain {
        kind,
        hook,
        priority,
        policy: Verdict::Accept,
    };
    Chain {
        table: table.clone(),
        name: name.to_owned(),
        base: Some(base),
    }
}

fn postrouting_rules(table: &Table, net: IpNet, masquerade: bool) -> Vec<Rule> {
    let multicast: IpNet = match net {
        IpNet::V4(_) => "224.0.0.0/4".parse(),
        IpNet::V6(_) => "ff00::/8".parse(),
    }
    .expect("valid multicast prefix");
    let from = |t| Rule::new(t, POSTROUTING).match_net(Addr::Source, net);
    let mut rules = vec![
        from(table)
            .match_net(Addr::Destination, net)
            .verdict(Verdict::Return),
        from(table)
            .match_net(Addr::Destination, multicast)
            .verdict(Verdict::Return),
    ];
    if masquerade {
        let flags = NatFlags {
            fully_random: true,
            ..NatFlags::default()
        };
        rules.push(from(table).masquerade(flags));
    }
    rules
}
