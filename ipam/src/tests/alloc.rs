//! The allocator over the in-memory store.

use std::net::IpAddr;

use super::common::{ip, set};
use crate::{Ipam, IpamError, MemStore, Range, RangeSet, Store};

fn mem() -> Ipam<MemStore> {
    Ipam::with_store(MemStore::new())
}

fn one(ipam: &Ipam<MemStore>, sets: &[RangeSet], cid: &str) -> IpAddr {
    let got = ipam.allocate(sets, cid, "eth0", &[]).unwrap();
    assert_eq!(got.len(), sets.len());
    got[0].address.addr()
}

#[test]
fn round_robin_skips_gateway_and_released_addresses_then_wraps() {
    let ipam = mem();
    // 10.0.0.1-10.0.0.6, gateway .1
    let sets = [set("10.0.0.0/29", None, None)];
    let first = ipam.allocate(&sets, "a", "eth0", &[]).unwrap();
    assert_eq!(first[0].address.to_string(), "10.0.0.2/29");
    assert_eq!(first[0].gateway, Some(ip("10.0.0.1")));
    assert_eq!(first[0].range_set, 0);
    assert_eq!(one(&ipam, &sets, "b"), ip("10.0.0.3"));
    assert_eq!(one(&ipam, &sets, "c"), ip("10.0.0.4"));
    assert_eq!(ipam.release("b", "eth0").unwrap(), vec![ip("10.0.0.3")]);
    // Round robin: the freed .3 is not reused before the end of the range.
    assert_eq!(one(&ipam, &sets, "d"), ip("10.0.0.5"));
    assert_eq!(one(&ipam, &sets, "e"), ip("10.0.0.6"));
    // Wrap: .1 is the gateway, .2 is taken, .3 is free again.
    assert_eq!(one(&ipam, &sets, "f"), ip("10.0.0.3"));
    assert_eq!(ipam.store().last_reserved(0).unwrap(), Some(ip("10.0.0.3")));
}

#[test]
fn cursor_outside_the_set_restarts_at_range_start() {
    let ipam = mem();
    ipam.store().set_cursor(0, ip("192.168.9.9"));
    let sets = [set("10.0.0.0/24", Some("10.0.0.50"), Some("10.0.0.60"))];
    assert_eq!(one(&ipam, &sets, "a"), ip("10.0.0.50"));
    ipam.store().set_cursor(0, ip("10.0.0.60"));
    assert_eq!(one(&ipam, &sets, "b"), ip("10.0.0.51"));
}

#[test]
fn exhaustion_names_the_range_set() {
    let ipam = mem();
    let sets = [set("10.0.0.0/29", Some("10.0.0.2"), Some("10.0.0.3"))];
    one(&ipam, &sets, "a");
    one(&ipam, &sets, "b");
    let err = ipam.allocate(&sets, "c", "eth0", &[]).unwrap_err();
    assert!(
        matches!(&err, IpamError::Exhausted { range } if range == "10.0.0.2-10.0.0.3 (10.0.0.0/29)")
    );
    assert_eq!(
        err.to_string(),
        "no free IP address left in range set 10.0.0.2-10.0.0.3 (10.0.0.0/29)"
    );
    assert_eq!(ipam.leases().unwrap().len(), 2);
}

#[test]
fn requested_addresses_are_honoured_or_refused_clearly() {
    let ipam = mem();
    let sets = [set("10.0.0.0/24", Some("10.0.0.10"), Some("10.0.0.20"))];
    let got = ipam
        .allocate(&sets, "a", "eth0", &[ip("10.0.0.15")])
        .unwrap();
    assert_eq!(got[0].address.to_string(), "10.0.0.15/24");
    // Again for the same attachment: the same address.
    assert_eq!(
        ipam.allocate(&sets, "a", "eth0", &[ip("10.0.0.15")])
            .unwrap(),
        got
    );

    let taken = ipam
        .allocate(&sets, "b", "eth0", &[ip("10.0.0.15")])
        .unwrap_err();
    assert!(
        matches!(&taken, IpamError::AlreadyLeased { holder, .. } if holder.contains("container a")),
        "{taken}"
    );
    // Inside the subnet but outside start..end.
    let outside = ipam
        .allocate(&sets, "b", "eth0", &[ip("10.0.0.30")])
        .unwrap_err();
    assert!(matches!(outside, IpamError::NotInRange { ip: i, .. } if i == ip("10.0.0.30")));
    let gw_sets = [set("10.0.1.0/24", None, None)];
    let gw = ipam
        .allocate(&gw_sets, "b", "eth0", &[ip("10.0.1.1")])
        .unwrap_err();
    assert!(
        matches!(&gw, IpamError::AlreadyLeased { holder, .. } if holder.contains("gateway")),
        "{gw}"
    );
    let two = ipam
        .allocate(&sets, "b", "eth0", &[ip("10.0.0.11"), ip("10.0.0.12")])
        .unwrap_err();
    assert!(matches!(two, IpamError::NotInRange { .. }));
    // None of the failures left anything behind.
    let leases = ipam.leases().unwrap();
    assert_eq!(
        leases.iter().map(|l| l.ip).collect::<Vec<_>>(),
        vec![ip("10.0.0.15")]
    );
}

#[test]
fn an_attachment_gets_its_address_back() {
    let ipam = mem();
    let sets = [set("10.0.0.0/24", None, None)];
    let a = ipam.allocate(&sets, "a", "eth0", &[]).unwrap();
    assert_eq!(ipam.allocate(&sets, "a", "eth0", &[]).unwrap(), a);
    // Another interface of the same container is another attachment.
    let a1 = ipam.allocate(&sets, "a", "eth1", &[]).unwrap();
    assert_ne!(a1, a);
    assert_eq!(ipam.get("a", "eth0").unwrap(), vec![a[0].address.addr()]);
    // host-local's older lease (container ID only) belongs to any interface of the container.
    ipam.store().insert(ip("10.0.0.200"), "old", "");
    let old = ipam.allocate(&sets, "old", "eth0", &[]).unwrap();
    assert_eq!(old[0].address.addr(), ip("10.0.0.200"));
}

#[test]
fn several_sets_are_all_or_nothing() {
    let ipam = mem();
    let v4 = set("10.0.0.0/24", None, None);
    let v6_full = set("fd00::/120", Some("fd00::10"), Some("fd00::10"));
    ipam.allocate(std::slice::from_ref(&v6_full), "x", "eth0", &[])
        .unwrap();
    let err = ipam
        .allocate(&[v4.clone(), v6_full.clone()], "a", "eth0", &[])
        .unwrap_err();
    assert!(matches!(err, IpamError::Exhausted { ref range } if range.contains("fd00::10")));
    assert_eq!(
        ipam.get("a", "eth0").unwrap(),
        Vec::<IpAddr>::new(),
        "the v4 address was rolled back"
    );

    // What the attachment held before the failing call is kept.
    let held = ipam
        .allocate(std::slice::from_ref(&v4), "b", "eth0", &[])
        .unwrap();
    ipam.allocate(&[v4.clone(), v6_full], "b", "eth0", &[])
        .unwrap_err();
    assert_eq!(ipam.get("b", "eth0").unwrap(), vec![held[0].address.addr()]);

    // A requested address outside every set fails the whole call.
    let v6 = set("fd01::/120", None, None);
    let err = ipam
        .allocate(&[v4.clone(), v6.clone()], "c", "eth0", &[ip("10.9.0.1")])
        .unwrap_err();
    assert!(matches!(err, IpamError::NotInRange { .. }));
    assert_eq!(ipam.get("c", "eth0").unwrap(), Vec::<IpAddr>::new());

    let both = ipam.allocate(&[v4, v6], "c", "eth0", &[]).unwrap();
    assert_eq!(
        both.iter().map(|a| a.range_set).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(both[1].address.to_string(), "fd01::2/120");
}

#[test]
fn ipv6_round_robin_and_multi_range_sets() {
    let ipam = mem();
    let r1 = Range::new(
        "fd00:1::/64".parse().unwrap(),
        None,
        Some(ip("fd00:1::3")),
        None,
    )
    .unwrap();
    let r2 = Range::new(
        "fd00:2::/64".parse().unwrap(),
        Some(ip("fd00:2::ffff")),
        Some(ip("fd00:2::1:0")),
        Some(ip("fd00:2::1")),
    )
    .unwrap();
    let sets = [RangeSet::new(vec![r1, r2]).unwrap()];
    let got: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|c| one(&ipam, &sets, c).to_string())
        .collect();
    assert_eq!(
        got,
        ["fd00:1::2", "fd00:1::3", "fd00:2::ffff", "fd00:2::1:0"]
    );
    let err = ipam.allocate(&sets, "e", "eth0", &[]).unwrap_err();
    assert!(matches!(err, IpamError::Exhausted { .. }));
    let e = ipam.allocate(&sets, "a", "eth0", &[]).unwrap();
    assert_eq!(e[0].address.to_string(), "fd00:1::2/64");
    assert_eq!(e[0].gateway, Some(ip("fd00:1::1")));
}

#[test]
fn gc_keeps_valid_attachments_and_free_counts_follow() {
    let ipam = mem();
    let sets = [set("10.0.0.0/29", None, None)];
    assert_eq!(ipam.free_counts(&sets).unwrap(), vec![5]);
    one(&ipam, &sets, "a");
    one(&ipam, &sets, "b");
    ipam.store().insert(ip("10.0.0.6"), "old", "");
    assert_eq!(ipam.free_counts(&sets).unwrap(), vec![2]);
    let valid = [
        ("a".to_string(), "eth0".to_string()),
        ("old".to_string(), "eth3".to_string()),
    ];
    let (released, errors) = ipam.gc(&valid);
    assert!(errors.is_empty());
    assert_eq!(released, vec![ip("10.0.0.3")]);
    let left: Vec<IpAddr> = ipam.leases().unwrap().iter().map(|l| l.ip).collect();
    assert_eq!(left, vec![ip("10.0.0.2"), ip("10.0.0.6")]);
    assert_eq!(ipam.free_counts(&sets).unwrap(), vec![3]);
}
