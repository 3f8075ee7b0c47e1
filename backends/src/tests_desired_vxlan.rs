use crate::conf::{pod_mtu, BackendConf, ConfError, VxlanConf};
use crate::desired::desired;
use crate::mac::vtep_mac;
use crate::state::{Dev, Fdb, Neighbour, PeerState, RouteEntry, Via};
use crate::test_fixtures::*;

#[test]
fn the_device_follows_flannel() {
    let d = desired(&local(), &underlay(), &[], &vx(), &cluster());
    let dev = d.device.expect("device");
    assert_eq!(dev.name, "lichen.1");
    assert_eq!((dev.vni, dev.port), (1, 8472));
    assert_eq!(dev.local, ip("198.51.100.10"));
    assert_eq!(dev.underlay_ifindex, 2);
    assert_eq!(dev.mac, [0x0e, 0x6c, 10, 42, 1, 0]);
    assert_eq!(dev.mtu, 1450);
    assert_eq!(dev.addresses, vec![net("10.42.1.0/32")]);
}

#[test]
fn each_peer_gets_neighbour_fdb_and_an_onlink_route() {
    let d = desired(&local(), &underlay(), &[peer(2)], &vx(), &cluster());
    let mac = vtep_mac(&peer(2));
    assert_eq!(
        d.neighbours,
        vec![Neighbour {
            ip: ip("10.42.2.0"),
            mac
        }]
    );
    assert_eq!(
        d.fdb,
        vec![Fdb {
            mac,
            dst: ip("198.51.100.12")
        }]
    );
    assert_eq!(
        d.routes,
        vec![RouteEntry {
            dst: net("10.42.2.0/24"),
            gw: ip("10.42.2.0"),
            dev: Dev::Vxlan,
            onlink: true
        }]
    );
    assert_eq!(d.peers[0].state, PeerState::Programmed(Via::Overlay));
}

#[test]
fn the_overlay_reaches_peers_on_other_segments() {
    let d = desired(&local(), &underlay(), &[far_peer(5)], &vx(), &cluster());
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.fdb[0].dst, ip("203.0.113.5"));
    assert_eq!(d.peers[0].state, PeerState::Programmed(Via::Overlay));
}

#[test]
fn direct_routing_uses_host_gw_for_adjacent_peers_only() {
    let d = desired(
        &local(),
        &underlay(),
        &[peer(2), far_peer(5)],
        &vx_direct(),
        &cluster(),
    );
    assert_eq!(
        d.routes,
        vec![
            RouteEntry {
                dst: net("10.42.2.0/24"),
                gw: ip("198.51.100.12"),
                dev: Dev::Underlay,
                onlink: false
            },
            RouteEntry {
                dst: net("10.42.5.0/24"),
                gw: ip("10.42.5.0"),
                dev: Dev::Vxlan,
                onlink: true
            },
        ]
    );
    assert_eq!(d.neighbours.len(), 1);
    assert_eq!(d.neighbours[0].ip, ip("10.42.5.0"));
    assert_eq!(d.fdb.len(), 1);
    assert_eq!(d.peers[0].state, PeerState::Programmed(Via::Direct));
    assert_eq!(d.peers[1].state, PeerState::Programmed(Via::Overlay));
    assert!(d.device.is_some());
}

#[test]
fn direct_routing_wants_the_device_only_while_a_peer_needs_the_overlay() {
    // All peers on the LAN (or none yet): no device, so a kernel without vxlan still works.
    for peers in [vec![], vec![peer(2), peer(3)]] {
        let d = desired(&local(), &underlay(), &peers, &vx_direct(), &cluster());
        assert_eq!(d.device, None, "{peers:?}");
        assert!(d.routes.iter().all(|r| r.dev == Dev::Underlay));
    }
    // One peer behind a router: the device is wanted again.
    let peers = [peer(2), far_peer(5)];
    let d = desired(&local(), &underlay(), &peers, &vx_direct(), &cluster());
    assert_eq!(d.device.map(|d| d.name), Some("lichen.1".to_owned()));
    // Without DirectRouting it is always wanted.
    let d = desired(&local(), &underlay(), &[], &vx(), &cluster());
    assert!(d.device.is_some());
}

#[test]
fn dual_stack_pods_share_one_device_and_one_fdb_entry_per_peer() {
    let d = desired(
        &local_dual(),
        &underlay(),
        &[peer_dual(2)],
        &vx(),
        &cluster(),
    );
    let dev = d.device.as_ref().unwrap();
    assert_eq!(
        dev.addresses,
        vec![net("10.42.1.0/32"), net("fd00:42:0:1::/128")]
    );
    assert_eq!(d.fdb.len(), 1);
    assert_eq!(d.fdb[0].dst, ip("198.51.100.12"));
    let ips: Vec<_> = d.neighbours.iter().map(|n| n.ip).collect();
    assert_eq!(ips, vec![ip("10.42.2.0"), ip("fd00:42:0:2::")]);
    assert_eq!(d.routes[1].dst, net("fd00:42:0:2::/64"));
    assert_eq!(d.routes[1].gw, ip("fd00:42:0:2::"));
    assert!(d.routes.iter().all(|r| r.dev == Dev::Vxlan && r.onlink));
}

#[test]
fn direct_routing_falls_back_to_the_overlay_per_family() {
    // IPv6 podCIDR but no IPv6 InternalIP: the IPv4 subnet goes direct, the IPv6 one overlays.
    let half = node(
        "n2",
        &["10.42.2.0/24", "fd00:42:0:2::/64"],
        &["198.51.100.12"],
    );
    let d = desired(
        &local_dual(),
        &underlay(),
        &[half],
        &vx_direct(),
        &cluster(),
    );
    assert_eq!(d.routes[0].dev, Dev::Underlay);
    assert_eq!(d.routes[1].dev, Dev::Vxlan);
    assert_eq!(d.peers[0].state, PeerState::Programmed(Via::Direct));
    assert_eq!(d.peers[1].state, PeerState::Programmed(Via::Overlay));
}

#[test]
fn an_ipv6_underlay_uses_ipv6_vteps_and_a_70_byte_overhead() {
    let me = node("n1", &["10.42.1.0/24"], &["2001:db8:1::10"]);
    let p = node(
        "n2",
        &["10.42.2.0/24"],
        &["198.51.100.12", "2001:db8:1::12"],
    );
    let v4only = node("n3", &["10.42.3.0/24"], &["198.51.100.13"]);
    let d = desired(&me, &underlay6(), &[p, v4only], &vx(), &cluster());
    let dev = d.device.as_ref().unwrap();
    assert_eq!(dev.mtu, 1430);
    assert_eq!(dev.local, ip("2001:db8:1::10"));
    assert_eq!(d.fdb.len(), 1);
    assert_eq!(d.fdb[0].dst, ip("2001:db8:1::12"));
    assert!(matches!(&d.peers[1].state, PeerState::Pending(r) if r.contains("IPv6")));
    assert_eq!(pod_mtu(&vx(), &underlay6()), 1430);
}

#[test]
fn vni_port_and_mtu_come_from_the_config() {
    let conf = BackendConf::Vxlan(VxlanConf {
        vni: 4242,
        port: 4789,
        direct_routing: false,
        mtu: Some(1400),
        tx_checksum_offload: true,
    });
    let d = desired(&local(), &underlay(), &[], &conf, &cluster());
    let dev = d.device.unwrap();
    assert_eq!(dev.name, "lichen.4242");
    assert_eq!((dev.vni, dev.port, dev.mtu), (4242, 4789, 1400));
    assert_eq!(pod_mtu(&conf, &underlay()), 1400);
    assert_eq!(pod_mtu(&vx(), &underlay()), 1450);
}

#[test]
fn the_longest_device_name_fits_ifnamsiz() {
    let conf = VxlanConf {
        vni: crate::conf::MAX_VNI,
        ..VxlanConf::default()
    };
    assert!(conf.device_name().len() <= 15);
}

#[test]
fn bad_configs_are_refused() {
    let with = |vni, port, mtu| {
        BackendConf::Vxlan(VxlanConf {
            vni,
            port,
            direct_routing: false,
            mtu,
            tx_checksum_offload: true,
        })
        .validate()
    };
    assert_eq!(with(0, 8472, None), Err(ConfError::VniOutOfRange(0)));
    assert_eq!(
        with(1 << 24, 8472, None),
        Err(ConfError::VniOutOfRange(1 << 24))
    );
    assert_eq!(with(1, 0, None), Err(ConfError::PortZero));
    assert_eq!(with(1, 8472, Some(100)), Err(ConfError::MtuTooSmall(100)));
    assert_eq!(with(1, 8472, Some(1400)), Ok(()));
    assert_eq!(BackendConf::HostGw.validate(), Ok(()));
}

#[test]
fn the_annotated_mac_is_used_for_peers_and_the_device() {
    let mut me = local();
    me.vtep_mac = Some([0x02, 0, 0, 0, 0, 1]);
    let mut p = peer(2);
    p.vtep_mac = Some([0x02, 0, 0, 0, 0, 2]);
    let d = desired(&me, &underlay(), &[p], &vx(), &cluster());
    assert_eq!(d.device.unwrap().mac, [0x02, 0, 0, 0, 0, 1]);
    assert_eq!(d.fdb[0].mac, [0x02, 0, 0, 0, 0, 2]);
    assert_eq!(d.neighbours[0].mac, [0x02, 0, 0, 0, 0, 2]);
}

#[test]
fn colliding_or_multicast_macs_are_refused() {
    let mut a = peer(2);
    a.vtep_mac = Some([0x02, 0, 0, 0, 0, 9]);
    let mut b = peer(3);
    b.vtep_mac = Some([0x02, 0, 0, 0, 0, 9]);
    let mut c = peer(4);
    c.vtep_mac = Some([0x01, 0, 0x5e, 0, 0, 1]);
    let mut e = peer(5);
    e.vtep_mac = Some(vtep_mac(&local()));
    let d = desired(&local(), &underlay(), &[a, b, c, e], &vx(), &cluster());
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.fdb.len(), 1);
    assert_eq!(d.peers[0].state, PeerState::Programmed(Via::Overlay));
    for (p, word) in d.peers[1..].iter().zip(["n2", "unicast", "this node"]) {
        assert!(
            matches!(&p.state, PeerState::Unreachable(r) if r.contains(word)),
            "{p:?}"
        );
    }
}

#[test]
fn missing_fields_and_bad_cidrs_are_reported_as_for_host_gw() {
    let peers = [
        local(),
        node("n7", &[], &["198.51.100.17"]),
        node("n8", &["10.42.8.0/24"], &[]),
        node("n9", &["10.42.1.0/24"], &["198.51.100.19"]),
    ];
    let d = desired(&local(), &underlay(), &peers, &vx(), &cluster());
    assert!(d.routes.is_empty() && d.neighbours.is_empty() && d.fdb.is_empty());
    let kinds: Vec<bool> = d
        .peers
        .iter()
        .map(|p| matches!(p.state, PeerState::Pending(_)))
        .collect();
    assert_eq!(kinds, vec![true, true, false]);
}

#[test]
fn a_local_node_without_podcidr_still_gets_a_device_without_addresses() {
    let me = node("n1", &[], &["198.51.100.10"]);
    let d = desired(&me, &underlay(), &[peer(2)], &vx(), &cluster());
    let dev = d.device.unwrap();
    assert!(dev.addresses.is_empty());
    assert_eq!(d.routes.len(), 1);
}
