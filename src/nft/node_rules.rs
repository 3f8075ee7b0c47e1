//! The agent's node rules as a user of the builder: table `inet lichen` with a `postrouting`
//! NAT chain (return inside the cluster and to multicast, masquerade the rest of the pod
//! traffic) and a `forward` filter chain accepting cluster traffic; plus the same accepts in
//! the forward chains of other tables (see `foreign`).

use ipnet::IpNet;

use super::batch::Batch;
use super::expr::{NatFlags, Verdict};
use super::foreign;
use super::matches::Addr;
use super::objects::{priority, BaseChain, Chain, ChainType, Family, Hook, Table};
use super::scan::ForwardChain;
use super::{NodeRules, Rule};

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
