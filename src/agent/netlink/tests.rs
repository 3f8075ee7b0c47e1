//! Kernel tests of the agent's netlink kernel, each in a throwaway namespace of its own (the
//! test thread unshares): what `apply` makes, `actual` reads back, and planning again is empty.
//! The monitor's tests are in `monitor`.

use std::net::IpAddr;

use ipnet::IpNet;
use lichen_backends::{
    desired, plan, Actual, BackendConf, Desired, Fdb, LocalUnderlay, NodeInfo, Op, PeerState,
    RouteEntry, Via, VxlanConf, RT_PROTO_LICHEN,
};

use super::NetlinkKernel;
use crate::agent::kernel::Kernel;
use testkit::{enter_node, run_ok};

mod monitor;
mod wireguard;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn node(name: &str, cidrs: &[&str], addr: &str) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        pod_cidrs: cidrs.iter().map(|c| net(c)).collect(),
        internal_ips: vec![ip(addr)],
        ..NodeInfo::default()
    }
}

/// A node namespace with an underlay `licu0` (198.51.100.1/24, up) whose peer end stays here.
fn underlay_node() -> (NetlinkKernel, LocalUnderlay) {
    enter_node();
    run_ok(
        "ip",
        &[
            "link", "add", "licu0", "type", "veth", "peer", "name", "licu1",
        ],
    );
    run_ok("ip", &["addr", "add", "198.51.100.1/24", "dev", "licu0"]);
    run_ok("ip", &["link", "set", "licu0", "up"]);
    run_ok("ip", &["link", "set", "licu1", "up"]);
    let mut k = NetlinkKernel::open().unwrap();
    let u = k.underlay(None, ip("198.51.100.1")).unwrap();
    (k, u)
}

const CLUSTER: [&str; 2] = ["10.100.0.0/16", "fd00:100::/32"];

fn want(u: &LocalUnderlay, peers: &[NodeInfo], conf: &BackendConf) -> Desired {
    let me = node(
        "node1",
        &["10.100.1.0/24", "fd00:100:1::/64"],
        "198.51.100.1",
    );
    let cluster: Vec<IpNet> = CLUSTER.iter().map(|c| net(c)).collect();
    desired(&me, u, peers, conf, &cluster)
}

/// Plans, applies every step (each must succeed), and checks that planning again is empty.
fn converge(k: &mut NetlinkKernel, want: &Desired) -> Actual {
    let ops = plan(want, &k.actual().unwrap());
    for op in &ops {
        k.apply(want, op).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
    let actual = k.actual().unwrap();
    assert_eq!(plan(want, &actual), vec![], "after {ops:?}: {actual:?}");
    actual
}

fn vxlan(direct_routing: bool) -> BackendConf {
    BackendConf::Vxlan(VxlanConf {
        vni: 1,
        port: 8472,
        direct_routing,
        mtu: None,
        tx_checksum_offload: true,
    })
}

#[test]
fn underlay_is_the_interface_holding_the_address() {
    testkit::require_root!();
    let (mut k, u) = underlay_node();
    assert_eq!(u.name, "licu0");
    assert_eq!(u.addr, ip("198.51.100.1"));
    assert!(u.onlink.contains(&net("198.51.100.0/24")), "{:?}", u.onlink);
    assert!(u.is_adjacent(&ip("198.51.100.7")));
    assert!(!u.is_adjacent(&ip("203.0.113.7")));
    assert_eq!(u.mtu, 1500);
    let by_name = k.underlay(Some("licu0"), ip("198.51.100.1")).unwrap();
    // (onlink may have gained the IPv6 link-local prefix meanwhile: the kernel adds it
    // asynchronously after the link goes up)
    assert_eq!(
        (by_name.ifindex, &by_name.name, by_name.addr, by_name.mtu),
        (u.ifindex, &u.name, u.addr, u.mtu)
    );
    assert!(by_name.onlink.contains(&net("198.51.100.0/24")));
    let e = k.underlay(None, ip("198.51.100.99")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(k.underlay(Some("nosuch0"), ip("198.51.100.1")).is_err());
}

/// The device, its addresses, neighbours and FDB entries, and the routes, as `want` has them.
fn assert_vxlan_read_back(actual: &Actual, want: &Desired, u: &LocalUnderlay) {
    let dev = want.device.as_ref().unwrap();
    assert_eq!(actual.devices.len(), 1);
    let d = &actual.devices[0];
    assert_eq!(d.name, "lichen.1");
    assert_eq!((d.vni, d.port, d.local), (1, 8472, Some(u.addr)));
    assert_eq!(d.underlay_ifindex, Some(u.ifindex));
    assert!(!d.learning && d.up);
    assert_eq!((d.mac, d.mtu), (dev.mac, 1450));
    for a in ["10.100.1.0/32", "fd00:100:1::/128"] {
        assert!(d.addresses.contains(&net(a)), "{a} in {:?}", d.addresses);
    }
    let permanent: Vec<(IpAddr, Option<[u8; 6]>)> = d
        .neighbours
        .iter()
        .filter(|n| n.permanent)
        .map(|n| (n.ip, n.mac))
        .collect();
    assert_eq!(permanent.len(), 3, "{:?}", d.neighbours);
    for n in &want.neighbours {
        assert!(permanent.contains(&(n.ip, Some(n.mac))), "{n:?}");
    }
    assert_eq!(d.fdb, want.fdb);
    assert_eq!(actual.routes.len(), 3);
    assert!(actual.routes.iter().all(|r| r.oif == d.ifindex && r.onlink));
}

/// What iproute2 sees of the VXLAN state.
fn assert_iproute2_sees_vxlan() {
    let shown = run_ok("ip", &["-d", "link", "show", "dev", "lichen.1"]);
    assert!(
        shown.contains("vxlan id 1 local 198.51.100.1 dev licu0"),
        "{shown}"
    );
    assert!(
        shown.contains("dstport 8472") && shown.contains("nolearning"),
        "{shown}"
    );
    let routes = run_ok("ip", &["-6", "route", "show", "proto", "108"]);
    assert!(
        routes.contains("fd00:100:2::/64 via fd00:100:2:: dev lichen.1")
            && routes.contains("onlink"),
        "{routes}"
    );
    let fdb = run_ok("bridge", &["fdb", "show", "dev", "lichen.1"]);
    assert!(fdb.contains("dst 198.51.100.3 self permanent"), "{fdb}");
}

#[test]
fn vxlan_state_is_read_back_as_applied_and_removed_again() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate every rtnetlink message the agent uses (neighbours, FDB, VXLAN, multicast)") {
        return;
    }
    let (mut k, u) = underlay_node();
    let peers = [
        node(
            "node2",
            &["10.100.2.0/24", "fd00:100:2::/64"],
            "198.51.100.2",
        ),
        node("node3", &["10.100.3.0/24"], "198.51.100.3"),
    ];
    let want = want(&u, &peers, &vxlan(false));
    let actual = converge(&mut k, &want);
    assert_vxlan_read_back(&actual, &want, &u);
    assert_iproute2_sees_vxlan();

    // Deleted by someone: recreated with the same MAC, and everything on it restored.
    run_ok("ip", &["link", "del", "lichen.1"]);
    assert!(k.actual().unwrap().routes.is_empty());
    let again = converge(&mut k, &want);
    assert_eq!(again.devices[0].mac, want.device.as_ref().unwrap().mac);
    assert_eq!(again.devices[0].fdb, want.fdb);
    assert_eq!(again.routes.len(), 3);

    // A peer leaves: its route, neighbours and FDB entry go.
    let fewer = self::want(&u, &peers[1..], &vxlan(false));
    let after = converge(&mut k, &fewer);
    assert_eq!(after.routes.len(), 1);
    assert_eq!(after.devices[0].fdb.len(), 1);

    // Cleanup: nothing of ours is left.
    let none = Desired::default();
    assert_eq!(converge(&mut k, &none), Actual::default());
    assert!(!run_ok("ip", &["-o", "link"]).contains("lichen.1"));
}

#[test]
fn host_gw_and_direct_routing_routes_are_read_back_as_applied() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate every rtnetlink message the agent uses (neighbours, FDB, VXLAN, multicast)") {
        return;
    }
    let (mut k, u) = underlay_node();
    let peers = [
        node("node2", &["10.100.2.0/24"], "198.51.100.2"),
        node("node3", &["10.100.3.0/24"], "198.51.100.3"),
        node("node4", &["10.100.4.0/24"], "203.0.113.4"),
    ];
    let want = want(&u, &peers, &BackendConf::HostGw);
    let far = want.peers.iter().find(|p| p.name == "node4").unwrap();
    assert!(matches!(far.state, PeerState::Unreachable(_)), "{far:?}");
    let actual = converge(&mut k, &want);
    assert!(actual.devices.is_empty());
    assert_eq!(actual.routes.len(), 2);
    for r in &actual.routes {
        assert_eq!(r.oif, u.ifindex);
        assert!(!r.onlink);
    }
    let shown = run_ok("ip", &["route", "show", "10.100.2.0/24"]);
    assert!(
        shown.contains("via 198.51.100.2 dev licu0 proto 108"),
        "{shown}"
    );

    // Switching to VXLAN with DirectRouting: the adjacent peers keep their routes, the far one
    // goes over the overlay.
    let want = self::want(&u, &peers, &vxlan(true));
    let over: Vec<&str> = want
        .peers
        .iter()
        .filter(|p| p.state == PeerState::Programmed(Via::Overlay))
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(over, ["node4"]);
    let actual = converge(&mut k, &want);
    assert_eq!(actual.routes.len(), 3);
    let shown = run_ok("ip", &["route", "show", "10.100.4.0/24"]);
    assert!(shown.contains("via 10.100.4.0 dev lichen.1"), "{shown}");
}

/// Deletions of what does not exist: a route, an FDB entry, a neighbour and an address on the
/// device, and a device.
fn gone_ops(u: &LocalUnderlay, fdb: Fdb) -> [Op; 5] {
    let route = lichen_backends::ActualRoute {
        dst: net("10.100.9.0/24"),
        gw: Some(ip("198.51.100.9")),
        oif: u.ifindex,
        onlink: false,
    };
    let dev = || "lichen.1".to_string();
    [
        Op::DelRoute(route),
        Op::DelFdb { dev: dev(), fdb },
        Op::DelNeighbour {
            dev: dev(),
            ip: ip("10.100.9.0"),
        },
        Op::DelAddress {
            dev: dev(),
            addr: net("10.100.9.0/32"),
        },
        Op::DeleteDevice {
            dev: "lichen.9".into(),
        },
    ]
}

/// A route through the device Lichen did not make (another protocol) is left alone: not read
/// as ours, and not replaced by an add of the same destination.
fn assert_foreign_route_left_alone(k: &mut NetlinkKernel, want: &Desired) {
    run_ok(
        "ip",
        &[
            "route",
            "add",
            "10.100.8.0/24",
            "via",
            "198.51.100.8",
            "dev",
            "licu0",
        ],
    );
    let actual = k.actual().unwrap();
    assert!(actual.routes.is_empty(), "{:?}", actual.routes);
    let e = k
        .apply(
            want,
            &Op::AddRoute(RouteEntry {
                dst: net("10.100.8.0/24"),
                gw: ip("198.51.100.8"),
                dev: lichen_backends::Dev::Underlay,
                onlink: false,
            }),
        )
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
    let mine = run_ok(
        "ip",
        &["route", "show", "proto", &RT_PROTO_LICHEN.to_string()],
    );
    assert!(mine.is_empty(), "{mine}");
}

#[test]
fn deleting_what_is_already_gone_succeeds() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate every rtnetlink message the agent uses (neighbours, FDB, VXLAN, multicast)") {
        return;
    }
    let (mut k, u) = underlay_node();
    let want = want(&u, &[], &vxlan(false));
    converge(&mut k, &want);
    let mac = [0x0e, 0x6c, 10, 100, 9, 0];
    let fdb = Fdb {
        mac,
        dst: ip("198.51.100.9"),
    };
    for op in &gone_ops(&u, fdb) {
        k.apply(&want, op).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
    // Added twice: the second is a no-op, not an error (FDB append, neighbour replace).
    for _ in 0..2 {
        let dev = "lichen.1".to_string();
        k.apply(&want, &Op::AddFdb { dev, fdb }).unwrap();
    }
    assert_foreign_route_left_alone(&mut k, &want);
}

/// Pods are bridged when a host end of the plugin's (`lic` + 12 hex digits) has a master; a
/// routed host end, or another link on a bridge, does not count.
#[test]
fn bridged_pods_are_host_ends_on_a_bridge() {
    testkit::require_root!();
    use crate::agent::kernel::PolicyKernel;
    enter_node();
    let k = &mut super::NftPolicy;
    assert!(!k.bridged_pods().unwrap(), "nothing yet");
    run_ok("ip", &["link", "add", "lbr0", "type", "bridge"]);
    run_ok(
        "ip",
        &[
            "link",
            "add",
            "lic0123456789ab",
            "type",
            "veth",
            "peer",
            "name",
            "pod0",
        ],
    );
    run_ok("ip", &["link", "set", "pod0", "master", "lbr0"]);
    assert!(
        !k.bridged_pods().unwrap(),
        "a routed host end, another port"
    );
    run_ok("ip", &["link", "set", "lic0123456789ab", "master", "lbr0"]);
    assert!(k.bridged_pods().unwrap(), "a host end on the bridge");
}
