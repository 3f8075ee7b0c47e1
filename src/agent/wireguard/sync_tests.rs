//! One sync pass after another on the in-memory device: key and port set once, peers added,
//! nothing sent when the device matches, a roamed endpoint kept across resyncs, a changed
//! wanted endpoint applied, and the report built from what the device said.

use std::net::SocketAddr;

use lichen_backends::{WgDevice, WgPeer};
use lichen_wireguard::{Key, PrivateKey};

use super::fake::FakeDevice;
use super::{PeerSync, WgPath, WgReport};

fn want(endpoint: &str) -> WgDevice {
    WgDevice {
        name: "lichen-wg".into(),
        mtu: 1440,
        listen_port: 51820,
        addresses: vec!["10.42.1.0/32".parse().unwrap()],
        peers: vec![WgPeer {
            node: "node2".into(),
            public_key: [2; 32],
            endpoint: endpoint.parse().unwrap(),
            allowed_ips: vec!["10.42.2.0/24".parse().unwrap()],
            keepalive: 25,
            psk: None,
        }],
    }
}

fn endpoint_of(d: &FakeDevice) -> Option<SocketAddr> {
    d.state.peer(&Key([2; 32])).and_then(|p| p.endpoint)
}

#[test]
fn passes_converge_keep_a_roamed_endpoint_and_apply_a_changed_one() {
    let key = PrivateKey(Key([0x11; 32]));
    let mut dev = FakeDevice::default();
    let mut sync = PeerSync::default();
    let w = want("198.51.100.12:51820");
    sync.pass(&mut dev, &key, &w).unwrap();
    assert_eq!(dev.sets.len(), 1);
    // Kept clamped (0x11 → 0x10 first, 0x51 last), and not set again for it.
    let mut clamped = [0x11; 32];
    (clamped[0], clamped[31]) = (0x10, 0x51);
    assert_eq!(dev.state.private_key, Some(PrivateKey(Key(clamped))));
    assert_eq!(dev.state.listen_port, 51820);
    assert_eq!(endpoint_of(&dev), Some(w.peers[0].endpoint));
    // Nothing differs: nothing is sent.
    let state = sync.pass(&mut dev, &key, &w).unwrap();
    assert_eq!(dev.sets.len(), 1);
    // The peer roamed (its packets came from a NAT): resyncs leave it there.
    let roamed: SocketAddr = "203.0.113.7:40001".parse().unwrap();
    dev.state.peers[0].endpoint = Some(roamed);
    sync.pass(&mut dev, &key, &w).unwrap();
    assert_eq!((dev.sets.len(), endpoint_of(&dev)), (1, Some(roamed)));
    // Its wanted endpoint changed (annotation): set.
    let moved = want("198.51.100.99:51820");
    sync.pass(&mut dev, &key, &moved).unwrap();
    assert_eq!(dev.sets.len(), 2);
    assert_eq!(endpoint_of(&dev), Some(moved.peers[0].endpoint));
    let report = WgReport::of(key.public(), WgPath::Userspace, &w, &state);
    assert_eq!(report.peers[0].node, "node2");
    assert_eq!(report.peers[0].endpoint, Some(w.peers[0].endpoint));
    assert_eq!(report.public_key, key.public());
}

#[test]
fn a_new_key_file_sets_the_private_key_again() {
    let mut dev = FakeDevice::default();
    let mut sync = PeerSync::default();
    let w = want("198.51.100.12:51820");
    sync.pass(&mut dev, &PrivateKey(Key([0x11; 32])), &w)
        .unwrap();
    let new = PrivateKey(Key([0x22; 32]));
    sync.pass(&mut dev, &new, &w).unwrap();
    assert_eq!(dev.sets.len(), 2);
    assert_eq!(dev.sets[1].private_key, Some(new.clone()));
    assert_eq!(dev.sets[1].peers, [], "the peers are left as they are");
    assert_eq!(dev.state.public_key, Some(new.public()));
}

#[test]
fn a_missing_wireguard_go_says_what_is_missing() {
    use lichen_wireguard::userspace::DaemonError;
    let e = super::WgError::Daemon(DaemonError::NotFound);
    assert_eq!(
        crate::agent::error::chain(&e).to_string(),
        "starting wireguard-go, the userspace WireGuard (for a kernel without WireGuard): \
         wireguard-go not found on PATH"
    );
}
