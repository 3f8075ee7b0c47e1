//! Kernel tests of the agent-side operations (vxlan, neighbours, FDB, tagged routes), each in a
//! throwaway namespace of its own.

use std::net::IpAddr;

use ipnet::IpNet;

use super::*;
use testkit::{enter_node, run_ok};

const MAC: [u8; 6] = [0x02, 0x4c, 0x69, 0x63, 0x00, 0x02];
const PROTO_TEST: u8 = 0x4c;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const PEER_MAC: [u8; 6] = [0x02, 0x4c, 0x69, 0x63, 0x00, 0x03];

/// The underlay: veth `licu0` up with 198.51.100.1/24 (added twice: the second says it
/// exists). Returns its index.
fn underlay(nl: &mut Nl) -> u32 {
    run_ok(
        "ip",
        &[
            "link", "add", "licu0", "type", "veth", "peer", "name", "licu1",
        ],
    );
    let u0 = nl.link(LinkId::Name("licu0")).unwrap().unwrap();
    nl.set_link(
        LinkId::Index(u0.index),
        &LinkChange {
            up: Some(true),
            ..LinkChange::default()
        },
    )
    .unwrap();
    nl.add_addr(u0.index, "198.51.100.1/24".parse().unwrap(), false)
        .unwrap();
    let e = nl
        .add_addr(u0.index, "198.51.100.1/24".parse().unwrap(), false)
        .unwrap_err();
    assert!(is_exists(&e), "{e}");
    u0.index
}

/// The VXLAN device `lic.1` over `lower`, as asked (created twice: the second says it exists),
/// read back over netlink and as `ip -d` shows it.
fn vxlan(nl: &mut Nl, lower: u32) -> Link {
    let vtep = NewLink {
        name: "lic.1",
        mtu: Some(1450),
        up: true,
        mac: Some(MAC),
        ..NewLink::default()
    };
    let kind = LinkKind::Vxlan {
        vni: 1,
        port: 8472,
        local: Some(ip("198.51.100.1")),
        lower: Some(lower),
        learning: false,
    };
    nl.create_link(&vtep, &kind).unwrap();
    assert!(is_exists(&nl.create_link(&vtep, &kind).unwrap_err()));
    let vx = nl.link(LinkId::Name("lic.1")).unwrap().unwrap();
    assert!(vx.is_kind("vxlan") && vx.up && vx.mtu == 1450);
    assert_eq!(vx.mac, MAC);
    let d = run_ok("ip", &["-d", "-o", "link", "show", "dev", "lic.1"]);
    assert!(d.contains("vxlan id 1 local 198.51.100.1 dev licu0"), "{d}");
    assert!(
        d.contains("dstport 8472") && d.contains("nolearning"),
        "{d}"
    );
    vx
}

/// Flannel's order: neighbour, FDB, then the onlink route (each replaced twice). Returns the
/// route.
fn program_peer(nl: &mut Nl, vx: u32) -> Route {
    nl.replace_neigh(vx, ip("10.42.2.0"), &PEER_MAC).unwrap();
    nl.replace_neigh(vx, ip("10.42.2.0"), &PEER_MAC).unwrap();
    nl.replace_fdb(vx, &PEER_MAC, ip("198.51.100.2")).unwrap();
    let mut route = Route::new(
        "10.42.2.0/24".parse().unwrap(),
        Some(ip("10.42.2.0")),
        Some(vx),
    );
    route.onlink = true;
    route.protocol = PROTO_TEST;
    nl.replace_route(&route).unwrap();
    nl.replace_route(&route).unwrap();
    route
}

/// The dumps hold what [`program_peer`] made, once each. Only the entries this test made: the
/// kernel adds its own on an up device (e.g. the ff02::16 MLD entry once IPv6 is on), so the
/// dump is never compared whole.
fn assert_peer_dumped(nl: &mut Nl, vx: u32, route: &Route) {
    let neighs: Vec<Neigh> = nl
        .neighs(vx)
        .unwrap()
        .into_iter()
        .filter(|n| n.ip == ip("10.42.2.0"))
        .collect();
    assert_eq!(
        neighs,
        vec![Neigh {
            index: vx,
            ip: ip("10.42.2.0"),
            mac: PEER_MAC.to_vec(),
            permanent: true
        }]
    );
    let fdbs: Vec<Fdb> = nl
        .fdbs(vx)
        .unwrap()
        .into_iter()
        .filter(|f| f.mac == PEER_MAC)
        .collect();
    assert_eq!(
        fdbs,
        vec![Fdb {
            index: vx,
            mac: PEER_MAC.to_vec(),
            dst: ip("198.51.100.2")
        }]
    );
    let ours: Vec<Route> = nl
        .routes(TABLE_MAIN, None)
        .unwrap()
        .into_iter()
        .filter(|r| r.protocol == PROTO_TEST)
        .collect();
    assert_eq!(ours, vec![*route]);
    let shown = run_ok("ip", &["route", "show", "10.42.2.0/24"]);
    assert!(
        shown.contains("via 10.42.2.0 dev lic.1") && shown.contains("onlink"),
        "{shown}"
    );
}

/// Deletions, and what a second deletion says.
fn delete_all(nl: &mut Nl, u0: u32, vx: u32, route: &Route) {
    nl.delete_route(route).unwrap();
    assert!(is_not_found(&nl.delete_route(route).unwrap_err()));
    nl.delete_fdb(vx, &PEER_MAC, ip("198.51.100.2")).unwrap();
    assert!(nl.fdbs(vx).unwrap().iter().all(|f| f.mac != PEER_MAC));
    nl.delete_neigh(vx, ip("10.42.2.0")).unwrap();
    assert!(is_not_found(
        &nl.delete_neigh(vx, ip("10.42.2.0")).unwrap_err()
    ));
    nl.delete_addr(u0, "198.51.100.1/24".parse().unwrap())
        .unwrap();
    assert!(nl
        .addrs(Some(u0))
        .unwrap()
        .iter()
        .all(|a| a.net != "198.51.100.1/24".parse().unwrap()));
    nl.delete_link(LinkId::Name("lic.1")).unwrap();
    let e = nl.delete_link(LinkId::Name("lic.1")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    assert!(nl.link(LinkId::Name("lic.1")).unwrap().is_none());
}

#[test]
fn vxlan_neighbour_fdb_and_tagged_routes() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate neighbour/FDB netlink messages") {
        return;
    }
    enter_node();
    let mut nl = Nl::open().unwrap();
    let u0 = underlay(&mut nl);
    let vx = vxlan(&mut nl, u0);
    let route = program_peer(&mut nl, vx.index);
    assert_peer_dumped(&mut nl, vx.index, &route);
    delete_all(&mut nl, u0, vx.index, &route);
}

/// A kernel with WireGuard creates the link (of kind "wireguard", as asked); one without the
/// module refuses the kind with EOPNOTSUPP (rtnl_newlink finds no rtnl_link_ops for it), the
/// answer the agent takes as "use the userspace implementation".
#[test]
fn a_wireguard_link_is_created_or_its_kind_refused() {
    testkit::require_root!();
    enter_node();
    let mut nl = Nl::open().unwrap();
    let link = NewLink {
        name: "licwg0",
        mtu: Some(1420),
        ..NewLink::default()
    };
    match nl.create_link(&link, &LinkKind::Wireguard) {
        Ok(()) => {
            let wg = nl.link(LinkId::Name("licwg0")).unwrap().unwrap();
            assert!(wg.is_kind("wireguard") && wg.mtu == 1420, "{wg:?}");
            nl.delete_link(LinkId::Index(wg.index)).unwrap();
        }
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}");
            assert!(nl.link(LinkId::Name("licwg0")).unwrap().is_none());
        }
    }
}

/// A batch: every request is answered on its own, in order, a failed one in the middle
/// included; a lookup is refused inside one; set-and-get sees its own change.
#[test]
fn a_batch_answers_each_request() {
    testkit::require_root!();
    enter_node();
    let mut nl = Nl::open().unwrap();
    let bridge = NewLink {
        name: "licb0",
        ..NewLink::default()
    };
    nl.create_link(&bridge, &LinkKind::Bridge).unwrap();
    let (set, link) = nl
        .set_link_and_get(
            LinkId::Name("licb0"),
            &LinkChange {
                up: Some(true),
                ..LinkChange::default()
            },
        )
        .unwrap();
    set.unwrap();
    let link = link.unwrap().unwrap();
    assert!(link.up, "{link:?}");
    let a: IpNet = "203.0.113.7/24".parse().unwrap();
    let b: IpNet = "203.0.113.8/24".parse().unwrap();
    let results = nl
        .batch(|nl| {
            nl.add_addr(link.index, a, false)?;
            nl.add_addr(link.index, a, false)?;
            nl.add_addr(link.index, b, false)
        })
        .unwrap()
        .unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok(), "{results:?}");
    assert!(is_exists(results[1].as_ref().unwrap_err()), "{results:?}");
    assert!(results[2].is_ok(), "{results:?}");
    let mut addrs: Vec<IpNet> = nl
        .addrs(Some(link.index))
        .unwrap()
        .into_iter()
        .map(|x| x.net)
        .filter(|n| n.addr().is_ipv4())
        .collect();
    addrs.sort();
    assert_eq!(addrs, vec![a, b]);
    let refused = nl.batch(|nl| nl.link(LinkId::Index(link.index)).map(drop));
    assert!(refused.is_err());
    nl.delete_link(LinkId::Index(link.index)).unwrap();
}
