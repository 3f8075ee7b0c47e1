//! The survey's texts from facts (the kernel side is tested in tests/field.rs).

use std::io;

use lichen_backends::{Op, VxlanDevice};

use super::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn device() -> VxlanDevice {
    VxlanDevice {
        name: "lichen.1".into(),
        vni: 1,
        port: 8472,
        local: "198.51.100.1".parse().unwrap(),
        underlay_ifindex: 2,
        mac: [0x0e, 0x6c, 10, 100, 1, 0],
        mtu: 1450,
        addresses: vec![],
    }
}

fn flannel() -> Foreign {
    Foreign {
        vxlan: vec![ForeignVxlan {
            name: "flannel.1".into(),
            vni: 1,
            port: 8472,
        }],
        ..Foreign::default()
    }
}

#[test]
fn a_missing_vxlan_module_says_what_to_install_or_choose() {
    let e = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
    let why = explain(&Op::CreateDevice(device()), &e, &Foreign::default(), false).unwrap();
    assert!(why.contains("linux-modules-extra-raspi"), "{why}");
    assert!(why.contains("modprobe vxlan"), "{why}");
    assert!(why.contains("host-gw"), "{why}");
    assert!(why.contains("DirectRouting"), "{why}");
    // other steps and other errors are left as they are
    let route_e = io::Error::from_raw_os_error(libc::ENETUNREACH);
    assert_eq!(
        explain(&Op::CreateDevice(device()), &route_e, &flannel(), false),
        None
    );
}

#[test]
fn eexist_names_the_device_with_the_same_vni_and_port() {
    let e = io::Error::from_raw_os_error(libc::EEXIST);
    let why = explain(&Op::ReplaceDevice(device()), &e, &flannel(), false).unwrap();
    assert!(why.contains("flannel.1 already exists"), "{why}");
    assert!(why.contains("`ip link delete flannel.1`"), "{why}");
    let mut other_port = flannel();
    other_port.vxlan[0].port = 4789;
    assert_eq!(
        explain(&Op::CreateDevice(device()), &e, &other_port, false),
        None
    );
}

#[test]
fn leftover_routes_are_named_except_the_bridge_route_of_this_node() {
    let mut f = flannel();
    let route = |dst: &str, dev: Option<&str>, protocol, blackhole| ForeignRoute {
        dst: net(dst),
        gateway: None,
        dev: dev.map(Into::into),
        protocol,
        blackhole,
    };
    f.routes = vec![
        route("10.100.1.0/24", Some("lichen0"), PROTO_KERNEL, false),
        route("10.100.7.64/26", None, 0, true),
        route("10.100.8.0/26", Some("vxlan.calico"), 3, false),
        // less specific than the cluster network: not competing with Lichen's routes
        route("0.0.0.0/0", Some("eth0"), 3, false),
        route("10.0.0.0/8", Some("wg0"), 3, false),
    ];
    let w = warnings(&f, &[net("10.100.0.0/16")], &[net("10.100.1.0/24")]);
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(w[0].contains("flannel.1") && w[0].contains("`ip link delete flannel.1`"));
    assert!(
        w[1].contains("`ip route del blackhole 10.100.7.64/26`"),
        "{}",
        w[1]
    );
    assert!(w[1].contains("Calico"));
    assert!(
        w[2].contains("`ip route del 10.100.8.0/26 dev vxlan.calico`"),
        "{}",
        w[2]
    );
}

#[test]
fn the_kernel_route_of_the_vxlan_device_ipv6_address_is_not_foreign() {
    // IPv6 gives the device's own address (the podCIDR's network address as a /128) a prefix
    // route of its own; the same /128 on another device, another node's, or a wider route on
    // the device are still named.
    let route = |dst: &str, dev: &str, protocol| ForeignRoute {
        dst: net(dst),
        gateway: None,
        dev: Some(dev.into()),
        protocol,
        blackhole: false,
    };
    let f = Foreign {
        routes: vec![
            route("2001:db8:42:1::/128", "lichen.1", PROTO_KERNEL),
            route("2001:db8:42:1::/64", "lichen0", PROTO_KERNEL),
            route("2001:db8:42:1::/128", "eth1", PROTO_KERNEL),
            route("2001:db8:42:2::/128", "lichen.1", PROTO_KERNEL),
            route("2001:db8:42:1::/128", "lichen.1", 3),
            route("2001:db8:42:1::/96", "lichen.1", PROTO_KERNEL),
        ],
        ..Foreign::default()
    };
    let w = warnings(
        &f,
        &[net("10.100.0.0/16"), net("2001:db8:42::/48")],
        &[net("10.100.1.0/24"), net("2001:db8:42:1::/64")],
    );
    assert_eq!(w.len(), 4, "{w:#?}");
    assert!(
        w[0].contains("ip route del 2001:db8:42:1::/128 dev eth1"),
        "{}",
        w[0]
    );
    assert!(
        w[1].contains("ip route del 2001:db8:42:2::/128 dev lichen.1"),
        "{}",
        w[1]
    );
    assert!(
        w[2].contains("ip route del 2001:db8:42:1::/128 dev lichen.1"),
        "{}",
        w[2]
    );
    assert!(
        w[3].contains("ip route del 2001:db8:42:1::/96 dev lichen.1"),
        "{}",
        w[3]
    );
}

#[test]
fn a_legacy_forward_drop_gives_the_fix() {
    let f = |policy_drop, rules, drops| Foreign {
        legacy_forward: Some(Ok(LegacyForward {
            policy_drop,
            rules,
            drops,
        })),
        ..Foreign::default()
    };
    let cluster = [net("10.100.0.0/16")];
    assert!(warnings(&f(false, 4, 0), &cluster, &[]).is_empty());
    let w = warnings(&f(true, 4, 0), &cluster, &[]);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("has the policy DROP"), "{}", w[0]);
    assert!(w[0].contains("`iptables-legacy -P FORWARD ACCEPT`"));
    assert!(w[0].contains("iptables-legacy -I FORWARD -s 10.100.0.0/16 -j ACCEPT"));
    let w = warnings(&f(false, 2, 1), &cluster, &[]);
    assert!(w[0].contains("has 1 DROP/REJECT rules"), "{}", w[0]);
    let unread = Foreign {
        legacy_forward: Some(Err("Operation not permitted".into())),
        ..Foreign::default()
    };
    assert!(warnings(&unread, &cluster, &[])[0].contains("could not be read"));
}
