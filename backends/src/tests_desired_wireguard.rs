use std::net::SocketAddr;

use crate::conf::{pod_mtu, BackendConf, ConfError, WireguardConf};
use crate::desired::desired;
use crate::model::NodeInfo;
use crate::state::{Desired, Dev, PeerState, RouteEntry, Via, WgPeer};
use crate::test_fixtures::*;

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// n1 with key 1.
fn me() -> NodeInfo {
    keyed(local(), 1)
}

fn want(peers: &[NodeInfo]) -> Desired {
    desired(&me(), &underlay(), peers, &wg(), &cluster())
}

fn state_of<'a>(d: &'a Desired, name: &str) -> Vec<&'a PeerState> {
    d.peers
        .iter()
        .filter(|p| p.name == name)
        .map(|p| &p.state)
        .collect()
}

#[test]
fn the_device_takes_the_overhead_off_the_underlay() {
    let d = want(&[]);
    let dev = d.wireguard.expect("device");
    assert_eq!(dev.name, "lichen-wg");
    assert_eq!((dev.mtu, dev.listen_port), (1440, 51820));
    assert_eq!(dev.addresses, vec![net("10.42.1.0/32")]);
    assert!(dev.peers.is_empty());
    assert_eq!(d.device, None);
    assert_eq!(pod_mtu(&wg(), &underlay()), 1440);
    // Over IPv6 the outer header is 20 bytes longer.
    let six = desired(&me(), &underlay6(), &[], &wg(), &cluster());
    assert_eq!(six.wireguard.unwrap().mtu, 1420);
    assert_eq!(pod_mtu(&wg(), &underlay6()), 1420);
}

#[test]
fn an_explicit_mtu_and_port_are_used() {
    let conf = BackendConf::Wireguard(WireguardConf {
        listen_port: 4000,
        mtu: Some(1300),
        ..WireguardConf::default()
    });
    let d = desired(&me(), &underlay(), &[keyed(peer(2), 2)], &conf, &cluster());
    let dev = d.wireguard.clone().unwrap();
    assert_eq!((dev.mtu, dev.listen_port), (1300, 4000));
    assert_eq!(dev.peers[0].endpoint, sock("198.51.100.12:4000"));
    assert_eq!(pod_mtu(&conf, &underlay()), 1300);
}

#[test]
fn each_peer_gets_a_wireguard_peer_and_an_onlink_route() {
    let conf = BackendConf::Wireguard(WireguardConf {
        keepalive: 25,
        psk: Some([7; 32]),
        ..WireguardConf::default()
    });
    let d = desired(
        &me(),
        &underlay(),
        &[keyed(far_peer(5), 5)],
        &conf,
        &cluster(),
    );
    assert_eq!(
        d.wireguard.clone().unwrap().peers,
        vec![WgPeer {
            node: "n5".into(),
            public_key: key(5),
            endpoint: sock("203.0.113.5:51820"),
            allowed_ips: vec![net("10.42.5.0/24")],
            keepalive: 25,
            psk: Some([7; 32]),
        }]
    );
    assert_eq!(
        d.routes,
        vec![RouteEntry {
            dst: net("10.42.5.0/24"),
            gw: ip("10.42.5.0"),
            dev: Dev::Wireguard,
            onlink: true
        }]
    );
    assert!(d.neighbours.is_empty() && d.fdb.is_empty());
    assert_eq!(state_of(&d, "n5"), [&PeerState::Programmed(Via::Wireguard)]);
}

#[test]
fn a_dual_stack_peer_is_one_peer_with_both_subnets() {
    let d = desired(
        &keyed(local_dual(), 1),
        &underlay(),
        &[keyed(peer_dual(2), 2)],
        &wg(),
        &cluster(),
    );
    let dev = d.wireguard.clone().unwrap();
    assert_eq!(
        dev.addresses,
        vec![net("10.42.1.0/32"), net("fd00:42:0:1::/128")]
    );
    assert_eq!(dev.peers.len(), 1);
    assert_eq!(
        dev.peers[0].allowed_ips,
        vec![net("10.42.2.0/24"), net("fd00:42:0:2::/64")]
    );
    // The IPv4 underlay's family picks the endpoint.
    assert_eq!(dev.peers[0].endpoint, sock("198.51.100.12:51820"));
    let dsts: Vec<_> = d.routes.iter().map(|r| (r.dst, r.gw, r.dev)).collect();
    assert_eq!(
        dsts,
        [
            (net("10.42.2.0/24"), ip("10.42.2.0"), Dev::Wireguard),
            (net("fd00:42:0:2::/64"), ip("fd00:42:0:2::"), Dev::Wireguard),
        ]
    );
    let programmed = PeerState::Programmed(Via::Wireguard);
    assert_eq!(state_of(&d, "n2"), [&programmed, &programmed]);
}

#[test]
fn over_an_ipv6_underlay_the_endpoint_is_the_ipv6_internal_ip() {
    let d = desired(
        &keyed(local_dual(), 1),
        &underlay6(),
        &[keyed(peer_dual(2), 2)],
        &wg(),
        &cluster(),
    );
    let peers = d.wireguard.clone().unwrap().peers;
    assert_eq!(peers[0].endpoint, sock("[2001:db8:1::12]:51820"));
}

#[test]
fn the_endpoint_annotation_overrides_the_internal_ip() {
    let mut p = keyed(peer(2), 2);
    p.wg_endpoint = Some(sock("203.0.113.9:40000"));
    let d = want(&[p]);
    assert_eq!(
        d.wireguard.clone().unwrap().peers[0].endpoint,
        sock("203.0.113.9:40000")
    );
}

#[test]
fn the_endpoint_annotation_reaches_a_peer_without_an_address_of_our_family() {
    let six_only = || keyed(node("n2", &["10.42.2.0/24"], &["2001:db8:1::12"]), 2);
    let d = want(&[six_only()]);
    let PeerState::Pending(why) = state_of(&d, "n2")[0] else {
        panic!("{:?}", d.peers);
    };
    assert!(why.contains("no IPv4 InternalIP"), "{why}");
    assert!(why.contains("lichen.dev/wireguard-endpoint"), "{why}");
    assert!(d.routes.is_empty() && d.wireguard.clone().unwrap().peers.is_empty());

    let mut p = six_only();
    p.wg_endpoint = Some(sock("[2001:db8:1::12]:51820"));
    let d = want(&[p]);
    assert_eq!(state_of(&d, "n2"), [&PeerState::Programmed(Via::Wireguard)]);
}

#[test]
fn a_published_public_ip_comes_first() {
    // node_info puts the public-ip annotation first among the InternalIPs.
    let p = keyed(
        node("n2", &["10.42.2.0/24"], &["203.0.113.2", "198.51.100.12"]),
        2,
    );
    let d = want(&[p]);
    assert_eq!(
        d.wireguard.clone().unwrap().peers[0].endpoint,
        sock("203.0.113.2:51820")
    );
}

#[test]
fn a_peer_without_a_key_is_pending_with_what_publishes_it() {
    let d = want(&[peer_dual(2), keyed(peer(3), 3)]);
    let states = state_of(&d, "n2");
    assert_eq!(states.len(), 2);
    let PeerState::Pending(why) = states[0] else {
        panic!("{states:?}");
    };
    assert!(why.contains("lichen.dev/wireguard-public-key"), "{why}");
    assert!(why.contains("agent") && why.contains("Node file"), "{why}");
    let dev = d.wireguard.clone().unwrap();
    assert_eq!(dev.peers.len(), 1);
    assert_eq!(dev.peers[0].node, "n3");
    assert_eq!(d.routes.len(), 1);
}

#[test]
fn a_key_used_twice_goes_to_the_first_node_by_name() {
    let d = want(&[keyed(peer(4), 2), keyed(peer(2), 2), keyed(peer(3), 3)]);
    let dev = d.wireguard.clone().unwrap();
    let nodes: Vec<&str> = dev.peers.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(nodes, ["n2", "n3"]);
    let PeerState::Unreachable(why) = state_of(&d, "n4")[0] else {
        panic!("{:?}", d.peers);
    };
    assert!(why.contains("already used by node n2"), "{why}");
    assert!(!d.routes.iter().any(|r| r.dst == net("10.42.4.0/24")));
}

#[test]
fn a_peer_with_our_own_key_is_unreachable() {
    let d = want(&[keyed(peer(2), 1)]);
    let PeerState::Unreachable(why) = state_of(&d, "n2")[0] else {
        panic!("{:?}", d.peers);
    };
    assert!(why.contains("this node's own"), "{why}");
    assert!(d.routes.is_empty() && d.wireguard.clone().unwrap().peers.is_empty());
}

#[test]
fn peers_are_sorted_by_name_and_the_common_checks_still_apply() {
    let outside = keyed(node("n9", &["10.99.0.0/24"], &["198.51.100.19"]), 9);
    let d = want(&[keyed(peer(3), 3), outside, keyed(peer(2), 2)]);
    assert!(matches!(state_of(&d, "n9")[0], PeerState::Unreachable(_)));
    let dev = d.wireguard.clone().unwrap();
    let nodes: Vec<&str> = dev.peers.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(nodes, ["n2", "n3"]);
    let sorted = want(&[keyed(peer(2), 2), keyed(peer(3), 3)]);
    assert_eq!(Some(dev), sorted.wireguard);
    assert_eq!(d.routes, sorted.routes);
}

#[test]
fn bad_options_are_refused() {
    let bad = |c: WireguardConf| BackendConf::Wireguard(c).validate();
    let ok = WireguardConf::default();
    assert_eq!(bad(ok), Ok(()));
    let zero = WireguardConf {
        listen_port: 0,
        ..ok
    };
    assert_eq!(bad(zero), Err(ConfError::WgPortZero));
    let small = WireguardConf {
        mtu: Some(500),
        ..ok
    };
    assert_eq!(bad(small), Err(ConfError::WgMtuTooSmall(500)));
    assert!(ConfError::WgPortZero.to_string().contains("ListenPort"));
}
