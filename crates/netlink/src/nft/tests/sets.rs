//! Sets, maps, lookups and `ct state` as `nft` renders them, and element changes.

use crate::nft::*;
use testkit::nft::{fresh_netns, nft};

fn v4(a: &str) -> Vec<u8> {
    a.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec()
}

fn sets(t: &Table) -> [Set; 5] {
    let set = |name: &str, key: Vec<KeyType>, interval, verdict_map| Set {
        table: t.clone(),
        name: name.into(),
        key,
        interval,
        verdict_map,
    };
    [
        set("addrs", vec![KeyType::Ipv4Addr], true, false),
        set(
            "ports",
            vec![KeyType::InetProto, KeyType::InetService],
            true,
            false,
        ),
        set(
            "named",
            vec![KeyType::Ipv4Addr, KeyType::InetProto, KeyType::InetService],
            false,
            false,
        ),
        set("addrs6", vec![KeyType::Ipv6Addr], true, false),
        set("pods", vec![KeyType::Ipv4Addr], false, true),
    ]
}

/// `proto . port`, the key of the `ports` set.
fn pp(proto: u8, port: u16) -> Vec<u8> {
    concat(&[&[proto], &port.to_be_bytes()])
}

fn v6(a: &str) -> Vec<u8> {
    a.parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec()
}

/// The table: a base chain `f`, a regular chain `group`, and the sets.
fn add_table_and_chains(b: &mut Batch, t: &Table, sets: &[&Set]) {
    b.add_table(t);
    b.add_chain(&Chain {
        table: t.clone(),
        name: "f".into(),
        base: Some(BaseChain {
            kind: ChainType::Filter,
            hook: Hook::Forward,
            priority: -1,
            policy: Verdict::Accept,
        }),
    });
    b.add_chain(&Chain {
        table: t.clone(),
        name: "group".into(),
        base: None,
    });
    for s in sets {
        b.add_set(s);
    }
}

/// The first elements of each set: intervals, concatenations, a range, a verdict mapping.
fn add_first_elements(b: &mut Batch, [addrs, ports, named, addrs6, pods]: [&Set; 5]) {
    b.add_elements(
        addrs,
        &[
            Element::key(v4("10.0.0.0")),
            Element::interval_end(v4("10.0.1.0")),
            Element::key(v4("10.1.0.5")),
            Element::interval_end(v4("10.1.0.6")),
        ],
    );
    b.add_elements(
        ports,
        &[
            Element::range(pp(6, 80), pp(6, 90)),
            Element::range(pp(17, 53), pp(17, 53)),
        ],
    );
    b.add_elements(
        named,
        &[Element::key(concat(&[
            &v4("10.1.0.5"),
            &[6],
            &8080u16.to_be_bytes(),
        ]))],
    );
    b.add_elements(
        addrs6,
        &[
            Element::key(v6("fd00::")),
            Element::interval_end(v6("fd00::100")),
        ],
    );
    b.add_elements(
        pods,
        &[Element::mapping(
            v4("10.1.0.5"),
            Verdict::Jump("group".into()),
        )],
    );
}

/// Rules in `f`: `ct state`, lookups of single and concatenated keys, a verdict map, IPv6.
fn add_rules(b: &mut Batch, t: &Table) {
    let rule = || Rule::new(t, "f");
    use Field::*;
    for r in [
        rule().ct_established_or_related().verdict(Verdict::Accept),
        rule()
            .lookup(&[Saddr], IpVersion::V4, "addrs")
            .lookup(&[L4Proto, Dport], IpVersion::V4, "ports")
            .verdict(Verdict::Accept),
        rule()
            .lookup(&[Daddr, L4Proto, Dport], IpVersion::V4, "named")
            .verdict(Verdict::Accept),
        rule().vmap(&[Saddr], IpVersion::V4, "pods"),
        rule()
            .lookup(&[Saddr], IpVersion::V6, "addrs6")
            .verdict(Verdict::Drop),
    ] {
        b.add_rule(&r);
    }
}

/// Element changes alone: a range and a mapping out, others in.
fn change_elements(b: &mut Batch, addrs: &Set, ports: &Set, pods: &Set) {
    b.delete_elements(
        addrs,
        &[
            Element::key(v4("10.1.0.5")),
            Element::interval_end(v4("10.1.0.6")),
        ],
    );
    b.add_elements(
        addrs,
        &[
            Element::key(v4("10.2.0.0")),
            Element::interval_end(v4("10.2.0.2")),
        ],
    );
    b.delete_elements(ports, &[Element::range(pp(17, 53), pp(17, 53))]);
    b.delete_elements(pods, &[Element::key(v4("10.1.0.5"))]);
    b.add_elements(
        pods,
        &[Element::mapping(
            v4("10.1.0.6"),
            Verdict::Jump("group".into()),
        )],
    );
}

/// `nft list table inet t` has every one of `wants`.
#[track_caller]
fn assert_listed(wants: &[&str]) {
    let text = flat(&nft("list table inet t"));
    for want in wants {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

#[test]
fn sets_maps_and_lookups_render_as_nft_writes_them() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    let t = Table::new(Family::Inet, "t");
    let [addrs, ports, named, addrs6, pods] = sets(&t);
    let all = [&addrs, &ports, &named, &addrs6, &pods];
    let mut b = Batch::new();
    add_table_and_chains(&mut b, &t, &all);
    add_first_elements(&mut b, all);
    add_rules(&mut b, &t);
    Socket::open().unwrap().apply(&b).unwrap();
    assert_listed(&[
        "ct state established,related accept",
        "ip saddr @addrs meta l4proto . th dport @ports accept",
        "ip daddr . meta l4proto . th dport @named accept",
        "ip saddr vmap @pods",
        "ip6 saddr @addrs6 drop",
        "type ipv4_addr flags interval elements = { 10.0.0.0/24, 10.1.0.5 }",
        "type inet_proto . inet_service flags interval elements = { tcp . 80-90, udp . 53 }",
        "type ipv4_addr . inet_proto . inet_service elements = { 10.1.0.5 . tcp . 8080 }",
        "type ipv6_addr flags interval elements = { fd00::/120 }",
        "type ipv4_addr : verdict elements = { 10.1.0.5 : jump group }",
    ]);

    let mut b = Batch::new();
    change_elements(&mut b, &addrs, &ports, &pods);
    Socket::open().unwrap().apply(&b).unwrap();
    assert_listed(&[
        "elements = { 10.0.0.0/24, 10.2.0.0/31 }",
        "elements = { tcp . 80-90 }",
        "elements = { 10.1.0.6 : jump group }",
    ]);
}

/// The listing with every run of whitespace made one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
