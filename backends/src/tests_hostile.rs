//! Peers no backend may route: subnets overlapping a network this node is connected to (or
//! its own addresses), and InternalIPs that cannot be a node's; and charging a failed plan
//! step to its peer.

use crate::conf::BackendConf;
use crate::desired::desired;
use crate::op::Op;
use crate::state::{Fdb, PeerState};
use crate::test_fixtures::*;

/// n1's underlay, plus a LAN on eth1 and a /32 on lo inside the cluster network, and the bridge
/// gateway of n1's own podCIDR (Lichen's: ignored).
fn crowded() -> crate::LocalUnderlay {
    let mut u = underlay();
    u.node_nets.extend([
        (net("10.42.128.10/17"), "eth1".to_string()),
        (net("10.42.9.9/32"), "lo".to_string()),
        (net("10.42.1.1/24"), "lichen0".to_string()),
    ]);
    u
}

fn state_of(d: &crate::Desired, name: &str) -> PeerState {
    d.peers
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .state
        .clone()
}

#[test]
fn subnets_overlapping_a_connected_network_or_own_address_are_refused_on_both_backends() {
    let peers = [
        peer(2),
        node("lan", &["10.42.200.0/24"], &["198.51.100.20"]),
        node("wide", &["10.42.0.0/16"], &["198.51.100.21"]),
        node("own", &["10.42.9.0/24"], &["198.51.100.22"]),
    ];
    for conf in [BackendConf::HostGw, vx()] {
        let d = desired(&local(), &crowded(), &peers, &conf, &cluster());
        assert!(matches!(state_of(&d, "n2"), PeerState::Programmed(_)));
        for (name, link) in [("lan", "eth1"), ("own", "lo")] {
            let why = state_of(&d, name).reason().unwrap().to_string();
            assert!(why.contains(link) && why.contains("connected"), "{why}");
        }
        // Overlapping n1's podCIDR takes precedence; still refused.
        assert!(matches!(state_of(&d, "wide"), PeerState::Unreachable(_)));
        let dsts: Vec<String> = d.routes.iter().map(|r| r.dst.to_string()).collect();
        assert_eq!(dsts, ["10.42.2.0/24"], "{conf:?}");
        assert!(d
            .neighbours
            .iter()
            .all(|n| net("10.42.2.0/24").contains(&n.ip)));
    }
}

#[test]
fn internal_ips_that_cannot_be_a_node_are_refused() {
    let bad = [
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "10.42.7.7",
        "::",
        "::1",
    ];
    let peers: Vec<_> = bad
        .iter()
        .enumerate()
        .map(|(i, a)| {
            node(
                &format!("bad{i}"),
                &[&format!("10.42.{}.0/24", 20 + i)],
                &[a],
            )
        })
        .chain([peer(2)])
        .collect();
    for conf in [BackendConf::HostGw, vx()] {
        let d = desired(&local(), &underlay(), &peers, &conf, &cluster());
        for (i, a) in bad.iter().enumerate() {
            let state = state_of(&d, &format!("bad{i}"));
            let why = state.reason().unwrap_or_else(|| panic!("{a} programmed"));
            assert!(why.contains(a), "{a}: {why}");
        }
        assert_eq!(d.routes.len(), 1, "{conf:?}: {:?}", d.routes);
        assert!(d.fdb.iter().all(|f| f.dst == ip("198.51.100.12")));
    }
}

#[test]
fn a_failed_step_is_charged_to_its_peer_subnet() {
    let d = desired(
        &local(),
        &underlay(),
        &[peer(2), peer(3)],
        &vx(),
        &cluster(),
    );
    let route = d
        .routes
        .iter()
        .find(|r| r.dst == net("10.42.3.0/24"))
        .unwrap();
    assert_eq!(d.peer_addr_of(&Op::AddRoute(*route)), Some(ip("10.42.3.0")));
    let neighbour = *d
        .neighbours
        .iter()
        .find(|n| net("10.42.2.0/24").contains(&n.ip))
        .unwrap();
    let fdb = Fdb {
        mac: neighbour.mac,
        dst: ip("198.51.100.12"),
    };
    let dev = "lichen.1".to_string();
    let by_fdb = d.peer_addr_of(&Op::AddFdb {
        dev: dev.clone(),
        fdb,
    });
    assert!(by_fdb.is_some_and(|a| net("10.42.2.0/24").contains(&a)));
    assert_eq!(d.peer_addr_of(&Op::SetDeviceUp { dev }), None);
}
