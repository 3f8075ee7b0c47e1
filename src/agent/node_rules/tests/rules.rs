//! The ruleset as `nft` renders it: content, replacement, removal, neighbours, atomicity.

use crate::agent::node_rules::*;
use crate::nft::*;
use testkit::nft::{fresh_netns, nft};

fn rules(cluster: &[&str], masquerade: bool) -> NodeRules {
    NodeRules {
        cluster: cluster.iter().map(|c| c.parse().unwrap()).collect(),
        masquerade,
    }
}

fn lichen() -> String {
    nft("list table inet lichen")
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

const V4_RULES: [&str; 5] = [
    "ip saddr 10.42.0.0/16 ip daddr 10.42.0.0/16 return",
    "ip saddr 10.42.0.0/16 ip daddr 224.0.0.0/4 return",
    "ip saddr 10.42.0.0/16 masquerade fully-random",
    "ip saddr 10.42.0.0/16 accept",
    "ip daddr 10.42.0.0/16 accept",
];

#[test]
fn applies_the_documented_chains_and_rules() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    apply_node_rules(&rules(&["10.42.0.0/16"], true)).unwrap();
    let text = lichen();
    assert!(
        text.contains("type nat hook postrouting priority srcnat; policy accept;"),
        "{text}"
    );
    assert!(
        text.contains("type filter hook forward priority filter; policy accept;"),
        "{text}"
    );
    for rule in V4_RULES {
        assert_eq!(count(&text, rule), 1, "{rule} in\n{text}");
    }
    let chains = lichen_status().unwrap().unwrap();
    let want = [(POSTROUTING, 3), (FORWARD, 2)].map(|(n, r)| ChainSummary {
        name: n.into(),
        rules: r,
    });
    assert_eq!(chains, want);
}

#[test]
fn dual_stack_and_no_masquerade() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    apply_node_rules(&rules(&["10.42.0.0/16", "fd42:0:0:1::/64"], false)).unwrap();
    let text = lichen();
    for rule in [
        "ip6 saddr fd42:0:0:1::/64 ip6 daddr fd42:0:0:1::/64 return",
        "ip6 saddr fd42:0:0:1::/64 ip6 daddr ff00::/8 return",
        "ip6 saddr fd42:0:0:1::/64 accept",
        "ip6 daddr fd42:0:0:1::/64 accept",
        V4_RULES[0],
        V4_RULES[4],
    ] {
        assert_eq!(count(&text, rule), 1, "{rule} in\n{text}");
    }
    assert!(!text.contains("masquerade"), "{text}");
}

#[test]
fn reapplying_replaces_and_a_new_cidr_replaces_the_old() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    nft("add table ip other");
    nft("add chain ip other keep");
    let r = rules(&["10.42.0.0/16"], true);
    apply_node_rules(&r).unwrap();
    apply_node_rules(&r).unwrap();
    let text = lichen();
    for rule in V4_RULES {
        assert_eq!(count(&text, rule), 1, "{rule} in\n{text}");
    }
    apply_node_rules(&rules(&["10.99.0.0/16"], true)).unwrap();
    let text = lichen();
    assert!(!text.contains("10.42."), "{text}");
    assert_eq!(
        count(&text, "ip saddr 10.99.0.0/16 masquerade fully-random"),
        1,
        "{text}"
    );
    assert!(nft("list ruleset").contains("table ip other {\n\tchain keep {"));
}

#[test]
fn removal_leaves_no_table_and_spares_others() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    remove_lichen_table().unwrap(); // absent: success
    assert_eq!(lichen_status().unwrap(), None);
    nft("add table ip other");
    apply_node_rules(&rules(&["10.42.0.0/16"], true)).unwrap();
    remove_lichen_table().unwrap();
    remove_lichen_table().unwrap();
    let tables = nft("list tables");
    assert_eq!(tables.trim(), "table ip other");
    assert_eq!(lichen_status().unwrap(), None);
}

#[test]
fn a_failing_batch_applies_nothing() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    apply_node_rules(&rules(&["10.42.0.0/16"], true)).unwrap();
    let before = nft("list ruleset");

    // The replacement minus its chains: the rule points at a chain that does not exist.
    let table = lichen_table();
    let mut batch = Batch::new();
    batch.add_table(&table);
    batch.delete_table(&table);
    batch.add_table(&table);
    batch.add_rule(&Rule::new(&table, "nosuch").verdict(Verdict::Accept));
    let err = Socket::open().unwrap().apply(&batch).unwrap_err();

    let kernel = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<KernelError>())
        .expect("a KernelError");
    assert_eq!(kernel.errno, libc::ENOENT, "{err}");
    assert!(kernel.op.contains("nosuch"), "{err}");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(nft("list ruleset"), before);
}
