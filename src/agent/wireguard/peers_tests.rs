//! The peer diff and the endpoint memory, on devices written out by hand.

use super::*;

fn peer(n: u8, endpoint: &str, nets: &[&str]) -> WgPeer {
    WgPeer {
        node: format!("node{n}"),
        public_key: [n; 32],
        endpoint: endpoint.parse().unwrap(),
        allowed_ips: nets.iter().map(|s| s.parse().unwrap()).collect(),
        keepalive: 25,
        psk: None,
    }
}

/// The device entry `w` leaves once applied (with its endpoint moved to `endpoint`).
fn on_device(w: &WgPeer, endpoint: &str) -> PeerState {
    PeerState {
        public_key: Key(w.public_key),
        preshared_key: w.psk.map(Key),
        endpoint: Some(endpoint.parse().unwrap()),
        allowed_ips: w.allowed_ips.clone(),
        last_handshake: None,
        rx_bytes: 0,
        tx_bytes: 0,
        persistent_keepalive: w.keepalive,
    }
}

fn device(peers: Vec<PeerState>) -> DeviceState {
    DeviceState {
        peers,
        ..DeviceState::default()
    }
}

fn memory(peers: &[&WgPeer]) -> Endpoints {
    Endpoints(
        peers
            .iter()
            .map(|w| (Key(w.public_key), w.endpoint))
            .collect(),
    )
}

const E2: &str = "198.51.100.12:51820";
const E3: &str = "198.51.100.13:51820";

#[test]
fn missing_peers_are_added_with_everything_and_remembered() {
    let mut p2 = peer(2, E2, &["10.42.2.0/24", "fd42:2::/64"]);
    p2.psk = Some([9; 32]);
    let p3 = peer(3, E3, &["10.42.3.0/24"]);
    let c = peer_changes(
        &[p2.clone(), p3.clone()],
        &device(vec![]),
        &Endpoints::default(),
    );
    assert_eq!(c.peers.len(), 2);
    let a = &c.peers[0];
    assert_eq!(a.public_key, Key([2; 32]));
    assert!(!a.remove && !a.update_only && a.replace_allowed_ips);
    assert_eq!(a.endpoint, Some(E2.parse().unwrap()));
    assert_eq!(a.persistent_keepalive, Some(25));
    assert_eq!(a.preshared_key, Some(Key([9; 32])));
    assert_eq!(a.allowed_ips, p2.allowed_ips);
    assert_eq!(c.peers[1].preshared_key, None);
    assert_eq!(c.endpoints, memory(&[&p2, &p3]));
}

#[test]
fn a_device_that_matches_gets_nothing() {
    let p2 = peer(2, E2, &["10.42.2.0/24"]);
    let d = device(vec![on_device(&p2, E2)]);
    let c = peer_changes(std::slice::from_ref(&p2), &d, &memory(&[&p2]));
    assert_eq!(c.peers, []);
    assert_eq!(c.endpoints, memory(&[&p2]));
}

#[test]
fn a_roamed_endpoint_is_left_alone_and_a_changed_annotation_is_applied() {
    let p2 = peer(2, E2, &["10.42.2.0/24"]);
    // The peer's packets came from its NAT's address: the device moved there.
    let roamed = device(vec![on_device(&p2, "203.0.113.7:40001")]);
    assert_eq!(
        peer_changes(std::slice::from_ref(&p2), &roamed, &memory(&[&p2])).peers,
        []
    );
    // Its endpoint annotation changed since the agent set it: set, with the keepalive.
    let old = peer(2, "198.51.100.99:51820", &["10.42.2.0/24"]);
    let c = peer_changes(std::slice::from_ref(&p2), &roamed, &memory(&[&old]));
    let mut want = PeerConfig::new(Key([2; 32]));
    want.update_only = true;
    want.endpoint = Some(E2.parse().unwrap());
    want.persistent_keepalive = Some(25);
    assert_eq!(c.peers, [want]);
    assert_eq!(c.endpoints, memory(&[&p2]));
}

#[test]
fn after_a_restart_a_device_endpoint_is_adopted_and_a_missing_one_set() {
    let p2 = peer(2, E2, &["10.42.2.0/24"]);
    let p3 = peer(3, E3, &["10.42.3.0/24"]);
    let mut no_endpoint = on_device(&p3, E3);
    no_endpoint.endpoint = None;
    let d = device(vec![on_device(&p2, "203.0.113.7:40001"), no_endpoint]);
    let c = peer_changes(&[p2.clone(), p3.clone()], &d, &Endpoints::default());
    assert_eq!(c.peers.len(), 1, "{:?}", c.peers);
    assert_eq!(c.peers[0].public_key, Key([3; 32]));
    assert_eq!(c.peers[0].endpoint, Some(E3.parse().unwrap()));
    assert_eq!(c.endpoints, memory(&[&p2, &p3]));
}

#[test]
fn allowed_ips_psk_and_keepalive_are_corrected_in_place() {
    let p2 = peer(2, E2, &["10.42.2.0/24", "fd42:2::/64"]);
    let mut have = on_device(&p2, E2);
    // The same set in another order, one with host bits: no change.
    have.allowed_ips = vec![
        "fd42:2::1/64".parse().unwrap(),
        "10.42.2.0/24".parse().unwrap(),
    ];
    let d = device(vec![have.clone()]);
    assert_eq!(
        peer_changes(std::slice::from_ref(&p2), &d, &memory(&[&p2])).peers,
        []
    );
    have.allowed_ips.pop();
    have.preshared_key = Some(Key([7; 32]));
    have.persistent_keepalive = 0;
    let c = peer_changes(
        std::slice::from_ref(&p2),
        &device(vec![have]),
        &memory(&[&p2]),
    );
    let c = &c.peers[0];
    assert!(c.update_only && c.replace_allowed_ips && !c.remove);
    assert_eq!(c.allowed_ips, p2.allowed_ips);
    assert_eq!(c.preshared_key, Some(Key([0; 32])), "zeros remove the key");
    assert_eq!(c.persistent_keepalive, Some(25));
    assert_eq!(c.endpoint, None, "the endpoint is not touched");
}

#[test]
fn a_key_change_removes_the_old_peer_and_adds_the_new_in_one_set() {
    let old = peer(2, E2, &["10.42.2.0/24"]);
    let p3 = peer(3, E3, &["10.42.3.0/24"]);
    let mut new = peer(4, E2, &["10.42.2.0/24"]);
    new.node = "node2".into();
    let d = device(vec![on_device(&old, E2), on_device(&p3, E3)]);
    let c = peer_changes(&[new.clone(), p3.clone()], &d, &memory(&[&old, &p3]));
    assert_eq!(c.peers.len(), 2, "{:?}", c.peers);
    assert_eq!(c.peers[0], PeerConfig::removal(Key([2; 32])));
    assert_eq!(c.peers[1].public_key, Key([4; 32]));
    assert_eq!(c.peers[1].endpoint, Some(E2.parse().unwrap()));
    assert_eq!(
        c.endpoints,
        memory(&[&new, &p3]),
        "the old key is forgotten"
    );
}

#[test]
fn a_duplicate_key_is_wanted_once() {
    let p2 = peer(2, E2, &["10.42.2.0/24"]);
    let mut dup = peer(2, E3, &["10.42.3.0/24"]);
    dup.node = "node3".into();
    let c = peer_changes(&[p2.clone(), dup], &device(vec![]), &Endpoints::default());
    assert_eq!(c.peers.len(), 1);
    assert_eq!(c.endpoints, memory(&[&p2]));
}
