//! The route pass with the WireGuard backend on the fake kernel: the device made by the plan,
//! its peers synced by the controller (over the in-memory device) after it, nothing sent when
//! nothing changed, a peer's key change applied in one set, the status section filled; this
//! node's own key is the agent's, whatever its Node says.

use lichen_wireguard::{Key, PrivateKey};

use super::*;

const WIREGUARD: &str = r#"{"Network":"10.100.0.0/16","Backend":{"Type":"wireguard","PersistentKeepaliveInterval":25}}"#;

/// A Node with a WireGuard public key annotation of 32 bytes `k`.
fn wg_node(name: &str, cidr: &str, ip: &str, k: u8) -> Node {
    let key = Key([k; 32]).to_base64();
    let json = format!(
        r#"{{"kind":"Node","metadata":{{"name":"{name}","annotations":{{"lichen.dev/wireguard-public-key":"{key}"}}}},"spec":{{"podCIDR":"{cidr}"}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}"#
    );
    Node::from_json(json.as_bytes()).unwrap()
}

fn ours() -> Key {
    PrivateKey(Key([0x11; 32])).public()
}

fn case() -> Case {
    let mut c = Case::new(WIREGUARD);
    c.rec.wg_public_key = Some(ours().0);
    c
}

fn nodes(node2_key: u8) -> Vec<Node> {
    vec![
        // This node's annotation is stale: the agent's own key counts.
        wg_node("node1", "10.100.1.0/24", "198.51.100.11", 9),
        wg_node("node2", "10.100.2.0/24", "198.51.100.12", node2_key),
        wg_node("node3", "10.100.3.0/24", "198.51.100.13", 3),
    ]
}

fn device_peers(c: &Case) -> Vec<(Key, Option<std::net::SocketAddr>)> {
    let s = &c.rec.kernel.wg.dev.state;
    s.peers.iter().map(|p| (p.public_key, p.endpoint)).collect()
}

#[test]
fn peers_are_synced_after_the_plan_and_a_key_change_is_one_set() {
    let mut c = case();
    let r = c.run(&state(&nodes(2)));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    assert!(
        c.rec.kernel.k.wireguard.is_some(),
        "the plan made the device"
    );
    let e = |ip: &str| Some(format!("{ip}:51820").parse().unwrap());
    assert_eq!(
        device_peers(&c),
        [
            (Key([2; 32]), e("198.51.100.12")),
            (Key([3; 32]), e("198.51.100.13"))
        ]
    );
    let wg = r.wireguard.as_ref().expect("status section");
    assert_eq!(wg.public_key, ours());
    assert_eq!(wg.peers.len(), 2);
    assert_eq!(c.rec.kernel.k.routes.len(), 2);

    // Nothing changed: nothing sent.
    let sets = c.rec.kernel.wg.dev.sets.len();
    let r = c.run(&state(&nodes(2)));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    assert_eq!(c.rec.kernel.wg.dev.sets.len(), sets);

    // node2 restarted with a new key: the old peer goes and the new comes in one set.
    let r = c.run(&state(&nodes(4)));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    assert_eq!(c.rec.kernel.wg.dev.sets.len(), sets + 1);
    let last = c.rec.kernel.wg.dev.sets.last().unwrap();
    assert_eq!(last.peers.len(), 2, "{last:?}");
    assert!(last.peers[0].remove && last.peers[0].public_key == Key([2; 32]));
    assert_eq!(
        device_peers(&c),
        [
            (Key([3; 32]), e("198.51.100.13")),
            (Key([4; 32]), e("198.51.100.12"))
        ]
    );
}

#[test]
fn a_peer_with_our_key_is_not_a_peer() {
    let mut c = case();
    let mut n = nodes(2);
    // node3 claims this node's public key.
    let json = format!(
        r#"{{"kind":"Node","metadata":{{"name":"node3","annotations":{{"lichen.dev/wireguard-public-key":"{}"}}}},"spec":{{"podCIDR":"10.100.3.0/24"}},"status":{{"addresses":[{{"type":"InternalIP","address":"198.51.100.13"}}]}}}}"#,
        ours().to_base64()
    );
    n[2] = Node::from_json(json.as_bytes()).unwrap();
    let r = c.run(&state(&n));
    assert_eq!(device_peers(&c).len(), 1);
    let node3 = r.peers.iter().find(|p| p.name == "node3").unwrap();
    assert!(
        matches!(node3.state, PeerState::Unreachable(_)),
        "{node3:?}"
    );
}

#[test]
fn a_refused_sync_fails_the_peers_and_the_pass() {
    let mut c = case();
    c.rec.kernel.wg.dev.refuse = Some(libc::EINVAL);
    let r = c.run(&state(&nodes(2)));
    assert_eq!(r.last_errors.len(), 1, "{:?}", r.last_errors);
    assert!(
        r.last_errors[0]
            .starts_with("syncing the WireGuard device: WireGuard configuration socket"),
        "{}",
        r.last_errors[0]
    );
    let failed = r
        .peers
        .iter()
        .filter(|p| matches!(p.state, PeerState::Failed(_)))
        .count();
    assert_eq!(failed, 2, "{:?}", r.peers);
    assert!(!r.ready());
    assert_eq!(r.wireguard.as_ref().map(|w| w.public_key), Some(ours()));
    c.rec.kernel.wg.dev.refuse = None;
    let r = c.run(&state(&nodes(2)));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    assert_eq!(device_peers(&c).len(), 2);
}

#[test]
fn the_key_is_in_the_status_while_the_node_waits_for_its_podcidr() {
    let mut c = case();
    let json = r#"{"kind":"Node","metadata":{"name":"node1"},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.11"}]}}"#;
    let r = c.run(&state(&[Node::from_json(json.as_bytes()).unwrap()]));
    assert!(r.waiting.is_some());
    let wg = r.wireguard.expect("the section");
    assert_eq!(
        (wg.public_key, wg.path, wg.listen_port),
        (ours(), None, 51820)
    );
    let mut page = String::new();
    wg.render(&mut page);
    assert!(
        page.contains("(device not reached yet, port 51820)"),
        "{page}"
    );
    // Another backend has no section.
    let mut c = Case::new(VXLAN);
    assert!(c.run(&state(&three())).wireguard.is_none());
}
