use std::collections::BTreeSet;

use crate::mac::{derived_vtep_mac, is_local, is_unicast, vtep_mac};
use crate::model::{mac_to_string, parse_mac};
use crate::test_fixtures::node;

#[test]
fn ipv4_podcidr_gives_0e_6c_and_the_network_address() {
    let n = node("a", &["10.42.2.0/24"], &[]);
    assert_eq!(vtep_mac(&n), [0x0e, 0x6c, 10, 42, 2, 0]);
}

#[test]
fn host_bits_and_address_order_do_not_matter() {
    let a = node("a", &["10.42.2.7/24"], &[]);
    let b = node("b", &["fd00::/64", "10.42.2.0/24"], &["198.51.100.1"]);
    assert_eq!(vtep_mac(&a), vtep_mac(&b));
}

#[test]
fn derivation_is_stable_and_depends_on_the_node_alone() {
    let n = node("a", &["fd00:42:0:7::/64"], &["2001:db8::1"]);
    let again = n.clone();
    assert_eq!(vtep_mac(&n), vtep_mac(&again));
    // The address and name are not inputs when a podCIDR exists.
    let other = node("zzz", &["fd00:42:0:7::/64"], &["2001:db8::2"]);
    assert_eq!(vtep_mac(&n), vtep_mac(&other));
}

#[test]
fn ipv6_only_node_gets_a_hashed_0e_6d_mac() {
    let m = vtep_mac(&node("a", &["fd00:42:0:7::/64"], &[]));
    assert_eq!(&m[..2], &[0x0e, 0x6d]);
}

#[test]
fn a_node_without_podcidr_gets_a_name_hash_0e_6e() {
    let a = vtep_mac(&node("a", &[], &[]));
    let b = vtep_mac(&node("b", &[], &[]));
    assert_eq!(&a[..2], &[0x0e, 0x6e]);
    assert_ne!(a, b);
}

#[test]
fn derived_macs_are_locally_administered_unicast() {
    let nodes = [
        node("a", &["10.42.2.0/24"], &[]),
        node("a", &["255.255.255.0/24"], &[]),
        node("a", &["fd00:42:0:7::/64"], &[]),
        node("a", &[], &[]),
    ];
    for n in &nodes {
        let m = vtep_mac(n);
        assert!(is_unicast(&m) && is_local(&m), "{}", mac_to_string(&m));
    }
}

#[test]
fn the_annotation_wins() {
    let mut n = node("a", &["10.42.2.0/24"], &[]);
    n.vtep_mac = Some([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
    assert_eq!(vtep_mac(&n), [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
    assert_eq!(derived_vtep_mac(&n), [0x0e, 0x6c, 10, 42, 2, 0]);
}

#[test]
fn distinct_podcidrs_give_distinct_macs() {
    let mut seen = BTreeSet::new();
    for i in 0..=255u8 {
        for j in [0u8, 42, 255] {
            let v4 = node("a", &[&format!("10.{j}.{i}.0/24")], &[]);
            assert!(seen.insert(vtep_mac(&v4)));
        }
        let v6 = node("a", &[&format!("fd00:42:0:{i:x}::/64")], &[]);
        assert!(seen.insert(vtep_mac(&v6)));
        let v6_56 = node("a", &[&format!("fd00:42:{i:x}::/56")], &[]);
        assert!(seen.insert(vtep_mac(&v6_56)));
    }
}

#[test]
fn macs_print_and_parse() {
    let m = [0x0e, 0x6c, 0x0a, 0x2a, 0x02, 0xff];
    assert_eq!(mac_to_string(&m), "0e:6c:0a:2a:02:ff");
    assert_eq!(parse_mac("0E:6C:0A:2A:02:FF"), Some(m));
    for bad in [
        "",
        "0e-6c-0a-2a-02-ff",
        " 0e:6c:0a:2a:02:ff",
        "0e:6c:0a:2a:02",
        "0e:6c:0a:2a:02:ff:00",
        "0e:6c:0a:2a:02:g0",
        "e:6c:0a:2a:02:ff",
    ] {
        assert_eq!(parse_mac(bad), None, "{bad}");
    }
}
