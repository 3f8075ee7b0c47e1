//! A compiled NetworkPolicy ruleset in table `inet lichen-policy`, as `nft` renders it; pod
//! churn as element changes; turning it off.

use testkit::nft::{fresh_netns, nft};

use crate::compile;
use crate::table::*;
use crate::testing::*;

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn state() -> lichen_kube::model::ClusterState {
    let mut s = cluster();
    ns(&mut s, "a", &[("team", "a")]);
    pod_with_ports(
        &mut s,
        "a/web",
        "n1",
        "10.42.1.2",
        &[("app", "web")],
        &[("http", 8080, TCP)],
    );
    pod(
        &mut s,
        "a/db",
        "n1",
        "10.42.1.3,fd42:1::3",
        &[("app", "db")],
    );
    pod(&mut s, "a/client", "n2", "10.42.2.2", &[("app", "client")]);
    policy(
        &mut s,
        "a/web-in",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}],
        "ports":[{"port":"http"},{"port":9000,"endPort":9100},{"port":53,"protocol":"UDP"}]}]}"#,
    );
    policy(
        &mut s,
        "a/db-eg",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Egress"],
        "egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.42.2.0/24"]}}]}]}"#,
    );
    s
}

/// What `nft` must show of the first ruleset of [`state`]: both base chains, the `ip`/`ip6`
/// twins, the dispatch maps, a rule's peers, ports and named ports, the comments.
const RENDERED: &[&str] = &[
    "chain egress { type filter hook forward priority filter - 1; policy accept;",
    "chain ingress { type filter hook forward priority filter; policy accept;",
    "ct state established,related accept comment \"established/related connection\"",
    "ip daddr @node-addrs.v4 accept",
    "ip6 daddr @node-addrs.v6 accept",
    "ip saddr vmap @egress-pods.v4",
    "ip6 saddr vmap @egress-pods.v6",
    "ip daddr vmap @ingress-pods.v4",
    "set node-addrs.v4 { type ipv4_addr flags interval elements = { 10.42.1.1, 198.51.100.1 } }",
    "ip saddr @ingress/a/web-in/0/peers.v4 meta l4proto . th dport @ingress/a/web-in/0/ports accept",
    "ip saddr @ingress/a/web-in/0/peers.v4 ip daddr . meta l4proto . th dport @ingress/a/web-in/0/named.v4 accept",
    "elements = { tcp . 9000-9100, udp . 53 }",
    "elements = { 10.42.1.2 . tcp . 8080 }",
    "set ingress/a/web-in/0/peers.v4 { type ipv4_addr flags interval elements = { 10.42.2.2 } }",
    "elements = { 10.0.0.0-10.42.1.255, 10.42.3.0-10.255.255.255 }",
    "map egress-pods.v6 { type ipv6_addr : verdict elements = { fd42:1::3 : jump egress-group-",
    "drop comment \"default deny (ingress isolated by a/web-in)\"",
];

/// The table as `nft` lists it holds [`RENDERED`], and `policy_status` counts its chains and
/// rules as `size` does.
fn assert_rendered(rs: &crate::Ruleset) {
    let listing = nft("list table inet lichen-policy");
    if std::env::var_os("LICHEN_SHOW").is_some() {
        eprintln!("{listing}");
    }
    let text = flat(&listing);
    for want in RENDERED {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let (chains, rules, _, _) = size(rs);
    let listed = policy_status().unwrap().unwrap();
    assert_eq!(listed.len(), chains);
    assert_eq!(listed.iter().map(|c| c.rules).sum::<usize>(), rules);
}

#[test]
fn ruleset_renders_with_twins_maps_and_comments() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    let mut s = state();
    let rs = compile(&s, "n1");
    assert!(matches!(
        apply_policy(&rs, None).unwrap(),
        Applied::Replaced(_)
    ));
    assert_rendered(&rs);

    // A label change: elements only, and the listing follows.
    pod(&mut s, "a/client", "n2", "10.42.2.2", &[("app", "other")]);
    pod(&mut s, "a/client2", "n2", "10.42.2.7", &[("app", "client")]);
    let rs2 = compile(&s, "n1");
    assert!(matches!(
        apply_policy(&rs2, Some(&rs)).unwrap(),
        Applied::Elements(2)
    ));
    let text = flat(&nft("list table inet lichen-policy"));
    assert!(
        text.contains("set ingress/a/web-in/0/peers.v4 { type ipv4_addr flags interval elements = { 10.42.2.7 } }"),
        "{text}"
    );
    assert_eq!(apply_policy(&rs2, Some(&rs2)).unwrap(), Applied::Unchanged);

    // A new policy changes chains: the table is edited in place.
    policy(&mut s, "a/deny", r#"{"podSelector":{},"ingress":[]}"#);
    let rs3 = compile(&s, "n1");
    assert!(matches!(
        apply_policy(&rs3, Some(&rs2)).unwrap(),
        Applied::Incremental(_)
    ));
    let text = flat(&nft("list table inet lichen-policy"));
    assert!(text.contains("chain ingress/a/deny {"), "{text}");

    remove_policy_table().unwrap();
    assert!(policy_status().unwrap().is_none());
    remove_policy_table().unwrap();
}
