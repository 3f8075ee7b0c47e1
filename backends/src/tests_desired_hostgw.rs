use crate::conf::{pod_mtu, BackendConf};
use crate::desired::desired;
use crate::state::{Dev, PeerState, PeerStatus, RouteEntry, Via};
use crate::test_fixtures::*;

fn state_of<'a>(peers: &'a [PeerStatus], name: &str) -> Vec<&'a PeerState> {
    peers
        .iter()
        .filter(|p| p.name == name)
        .map(|p| &p.state)
        .collect()
}

fn reason(state: &PeerState) -> &str {
    state.reason().expect("not programmed")
}

#[test]
fn adjacent_peers_get_a_route_via_their_address_on_the_underlay() {
    let d = desired(
        &local(),
        &underlay(),
        &[peer(3), peer(2)],
        &BackendConf::HostGw,
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
                dst: net("10.42.3.0/24"),
                gw: ip("198.51.100.13"),
                dev: Dev::Underlay,
                onlink: false
            },
        ]
    );
    assert!(d.device.is_none() && d.neighbours.is_empty() && d.fdb.is_empty());
    assert_eq!(d.underlay_ifindex, 2);
    assert_eq!(d.peers.len(), 2);
    assert_eq!(d.peers[0].name, "n2");
    assert_eq!(d.peers[0].subnet, Some(net("10.42.2.0/24")));
    assert!(d
        .peers
        .iter()
        .all(|p| p.state == PeerState::Programmed(Via::Direct)));
}

#[test]
fn a_peer_on_another_segment_is_unreachable_with_the_fix_and_gets_no_route() {
    let d = desired(
        &local(),
        &underlay(),
        &[far_peer(5), peer(2)],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.routes[0].dst, net("10.42.2.0/24"));
    let s = state_of(&d.peers, "n5");
    assert!(matches!(s[0], PeerState::Unreachable(_)));
    let r = reason(s[0]);
    assert!(r.contains("203.0.113.5") && r.contains("eth0"), "{r}");
    assert!(r.contains("vxlan") && r.contains("DirectRouting"), "{r}");
}

#[test]
fn the_local_node_in_the_list_is_skipped() {
    let d = desired(
        &local(),
        &underlay(),
        &[local(), peer(2)],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 1);
    assert!(d.peers.iter().all(|p| p.name != "n1"));
}

#[test]
fn a_peer_without_podcidr_is_pending() {
    let bare = node("n7", &[], &["198.51.100.17"]);
    let d = desired(
        &local(),
        &underlay(),
        &[bare],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert!(d.routes.is_empty());
    assert_eq!(d.peers[0].subnet, None);
    assert!(matches!(&d.peers[0].state, PeerState::Pending(r) if r.contains("podCIDR")));
}

#[test]
fn a_peer_without_internal_ip_is_pending() {
    let bare = node("n7", &["10.42.7.0/24"], &[]);
    let d = desired(
        &local(),
        &underlay(),
        &[bare],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert!(d.routes.is_empty());
    assert!(matches!(&d.peers[0].state, PeerState::Pending(r) if r.contains("InternalIP")));
}

#[test]
fn a_podcidr_outside_the_cluster_network_is_not_routed() {
    let odd = node("n7", &["10.99.7.0/24"], &["198.51.100.17"]);
    let d = desired(
        &local(),
        &underlay(),
        &[odd],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert!(d.routes.is_empty());
    assert!(
        matches!(&d.peers[0].state, PeerState::Unreachable(r) if r.contains("outside the cluster"))
    );
}

#[test]
fn an_empty_cluster_list_disables_the_cluster_check() {
    let odd = node("n7", &["10.99.7.0/24"], &["198.51.100.17"]);
    let d = desired(&local(), &underlay(), &[odd], &BackendConf::HostGw, &[]);
    assert_eq!(d.routes.len(), 1);
}

#[test]
fn a_podcidr_overlapping_the_local_one_is_not_routed() {
    let clash = node("n7", &["10.42.1.0/25"], &["198.51.100.17"]);
    let wide = node("n8", &["10.42.0.0/23"], &["198.51.100.18"]);
    let d = desired(
        &local(),
        &underlay(),
        &[clash, wide],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert!(d.routes.is_empty());
    for p in &d.peers {
        assert!(
            matches!(&p.state, PeerState::Unreachable(r) if r.contains("this node's")),
            "{p:?}"
        );
    }
}

#[test]
fn of_two_overlapping_peers_the_first_by_name_wins() {
    let a = node("a-node", &["10.42.9.0/24"], &["198.51.100.30"]);
    let b = node("b-node", &["10.42.9.0/24"], &["198.51.100.31"]);
    let d = desired(
        &local(),
        &underlay(),
        &[b, a],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.routes[0].gw, ip("198.51.100.30"));
    let s = state_of(&d.peers, "b-node");
    assert!(matches!(s[0], PeerState::Unreachable(r) if r.contains("a-node")));
}

#[test]
fn a_peer_claiming_our_address_is_unreachable() {
    let twin = node("n7", &["10.42.7.0/24"], &["198.51.100.10"]);
    let d = desired(
        &local(),
        &underlay(),
        &[twin],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert!(d.routes.is_empty());
    assert!(matches!(&d.peers[0].state, PeerState::Unreachable(r) if r.contains("own address")));
}

#[test]
fn dual_stack_peers_get_one_route_per_family_via_that_family() {
    let d = desired(
        &local_dual(),
        &underlay(),
        &[peer_dual(2)],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 2);
    assert_eq!(d.routes[0].dst, net("10.42.2.0/24"));
    assert_eq!(d.routes[0].gw, ip("198.51.100.12"));
    assert_eq!(d.routes[1].dst, net("fd00:42:0:2::/64"));
    assert_eq!(d.routes[1].gw, ip("2001:db8:1::12"));
}

#[test]
fn ipv6_podcidr_without_ipv6_address_is_pending_but_ipv4_is_routed() {
    let half = node(
        "n2",
        &["10.42.2.0/24", "fd00:42:0:2::/64"],
        &["198.51.100.12"],
    );
    let d = desired(
        &local_dual(),
        &underlay(),
        &[half],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 1);
    let v6 = d
        .peers
        .iter()
        .find(|p| p.subnet == Some(net("fd00:42:0:2::/64")))
        .unwrap();
    assert!(matches!(&v6.state, PeerState::Pending(r) if r.contains("IPv6")));
}

#[test]
fn ipv6_only_peers_work() {
    let me = node("n1", &["fd00:42:0:1::/64"], &["2001:db8:1::10"]);
    let p = node("n2", &["fd00:42:0:2::/64"], &["2001:db8:1::12"]);
    let d = desired(&me, &underlay6(), &[p], &BackendConf::HostGw, &cluster());
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.routes[0].gw, ip("2001:db8:1::12"));
}

#[test]
fn host_bits_and_repeated_cidrs_are_normalised() {
    let p = node("n2", &["10.42.2.9/24", "10.42.2.0/24"], &["198.51.100.12"]);
    let d = desired(
        &local(),
        &underlay(),
        &[p],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.routes[0].dst, net("10.42.2.0/24"));
    assert_eq!(d.peers.len(), 1);
}

#[test]
fn repeated_node_names_count_once() {
    let d = desired(
        &local(),
        &underlay(),
        &[peer(2), peer(2)],
        &BackendConf::HostGw,
        &cluster(),
    );
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.peers.len(), 1);
}

#[test]
fn the_order_of_peers_does_not_matter() {
    let a = [peer(2), far_peer(3), peer(4), node("n5", &[], &[])];
    let mut b = a.clone();
    b.reverse();
    let da = desired(&local(), &underlay(), &a, &BackendConf::HostGw, &cluster());
    let db = desired(&local(), &underlay(), &b, &BackendConf::HostGw, &cluster());
    assert_eq!(da, db);
}

#[test]
fn host_gw_pods_use_the_underlay_mtu() {
    assert_eq!(pod_mtu(&BackendConf::HostGw, &underlay()), 1500);
}
