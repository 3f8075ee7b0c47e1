//! Accepting cluster traffic in the forward chains of other tables.
//!
//! Why: every base chain on a hook sees the packet, and an accept only ends its own chain. So
//! the accept in `inet lichen` does not save pod traffic from a `policy drop` in iptables'
//! FORWARD (Docker sets one) or from a final drop in another tool's chain. Flannel appends
//! ACCEPT rules to iptables' FORWARD. With iptables-nft (Debian's default) iptables' tables
//! are nf_tables tables (`ip filter` and `ip6 filter`, chain `FORWARD`), so Lichen does the
//! same over netlink: at the head of every base chain on hook forward of families ip, ip6
//! and inet outside `inet lichen`, it inserts `saddr C accept` and `daddr C accept` for each
//! cluster network C of the chain's family, with the comment [`MARK`].
//!
//! Every such chain, not only those whose policy is drop: a final `drop` rule matters as
//! much, and a policy can turn to drop later (Docker starting after the agent) without a gap.
//! In a chain that would accept anyway the rules change nothing.
//!
//! Ownership: Lichen's rules are exactly those commented [`MARK`], as rule userdata (what we
//! write) or as iptables' `-m comment` (what `iptables-nft-save | iptables-nft-restore` turns
//! it into). Each apply deletes them by handle and inserts the current ones, in the same
//! checked batch as the table replacement: nothing else is touched, re-applying never
//! duplicates, and a ruleset changed between reading and commit makes the kernel refuse the
//! whole batch (ERESTART), so the caller reads again.
//!
//! Limits: iptables-legacy (x_tables) is not nf_tables and stays invisible here: on a node
//! whose iptables is legacy, a FORWARD policy drop still drops pod traffic. Tables flagged
//! `owner` refuse other writers and are skipped. A tool that flushes its chain (`iptables -F
//! FORWARD`) removes our rules until the next apply.

use ipnet::IpNet;

use crate::nft::{Addr, Batch, Family, ForwardChain, Rule, Verdict};

/// The comment that marks Lichen's rules in other tables' chains.
pub const MARK: &str = "lichen: forward cluster network";

/// Replaces our rules in `chains` with the accepts for `cluster`.
pub fn update(batch: &mut Batch, chains: &[ForwardChain], cluster: &[IpNet]) {
    for chain in chains {
        remove(batch, std::slice::from_ref(chain));
        // Each insert lands first: insert backwards so the chain reads in order.
        for rule in accept_rules(chain, cluster).iter().rev() {
            batch.insert_rule(rule);
        }
    }
}

/// Deletes our rules in `chains`.
pub fn remove(batch: &mut Batch, chains: &[ForwardChain]) {
    chains
        .iter()
        .flat_map(|c| &c.ours)
        .for_each(|r| batch.delete_rule(r));
}

/// `saddr C accept`, `daddr C accept` for each cluster net of the chain's family.
fn accept_rules(chain: &ForwardChain, cluster: &[IpNet]) -> Vec<Rule> {
    let family = chain.table.family;
    cluster
        .iter()
        .map(IpNet::trunc)
        .filter(|net| fits(family, net))
        .flat_map(|net| {
            [Addr::Source, Addr::Destination].map(|which| {
                Rule::new(&chain.table, &chain.name)
                    .match_net(which, net)
                    .verdict(Verdict::Accept)
                    .comment(MARK)
            })
        })
        .collect()
}

fn fits(family: Family, net: &IpNet) -> bool {
    matches!(
        (family, net),
        (Family::Inet, _) | (Family::Ip, IpNet::V4(_)) | (Family::Ip6, IpNet::V6(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nft::{RuleRef, Table};

    fn chain(family: Family, ours: &[u64]) -> ForwardChain {
        let table = Table::new(family, "filter");
        let ours = ours.iter().map(|&handle| RuleRef {
            table: table.clone(),
            chain: "FORWARD".into(),
            handle,
        });
        ForwardChain {
            ours: ours.collect(),
            table,
            name: "FORWARD".into(),
            policy: Verdict::Drop,
        }
    }

    fn dual() -> Vec<IpNet> {
        vec![
            "10.42.1.0/16".parse().unwrap(),
            "fd42::/64".parse().unwrap(),
        ]
    }

    #[test]
    fn each_family_gets_its_own_networks() {
        let v4 = accept_rules(&chain(Family::Ip, &[]), &dual());
        assert_eq!(v4.len(), 2);
        assert_eq!(v4[0], {
            let t = Table::new(Family::Ip, "filter");
            let net = "10.42.0.0/16".parse().unwrap();
            let r = Rule::new(&t, "FORWARD").match_net(Addr::Source, net);
            r.verdict(Verdict::Accept).comment(MARK)
        });
        assert_eq!(accept_rules(&chain(Family::Ip6, &[]), &dual()).len(), 2);
        assert_eq!(accept_rules(&chain(Family::Inet, &[]), &dual()).len(), 4);
    }

    #[test]
    fn update_deletes_ours_then_inserts_backwards() {
        let mut batch = Batch::new();
        update(&mut batch, &[chain(Family::Ip, &[7, 9])], &dual());
        let ops: Vec<_> = (1..=4).map(|s| batch.describe(s).unwrap()).collect();
        assert_eq!(ops[0], "delete rule ip filter FORWARD handle 7");
        assert_eq!(ops[1], "delete rule ip filter FORWARD handle 9");
        assert!(ops[2].starts_with("insert rule ip filter FORWARD"));
        assert_eq!(batch.len(), 4);
    }
}
