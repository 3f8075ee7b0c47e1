//! The userspace path end to end: wireguard-go started by `Daemon`, configured and read back
//! through the configuration protocol, compared with `wg show <dev> dump` (wireguard-tools,
//! an implementation Lichen did not write), and a ping across a tunnel both ends of which this
//! crate configured. Needs root (namespaces, TUN) and the Debian packages wireguard-go and
//! wireguard-tools; skips, saying so, without them. Run inside a throwaway namespace:
//! `unshare -n -- scripts/in-netns.sh cargo test -q -p lichen-wireguard --test userspace`.
//!
//! wireguard-go's socket directory is fixed (/var/run/wireguard), so device names carry the
//! test process's id.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use ipnet::IpNet;
use lichen_wireguard::uapi::SOCKET_DIR;
use lichen_wireguard::userspace::{find_on_path, Daemon};
use lichen_wireguard::{DeviceConfig, Key, PeerConfig, PrivateKey};
use testkit::{require_root, unique_name, veth, NamedNs};

/// Are wireguard-go and wg installed? Prints why the test is skipped when not.
fn tools() -> bool {
    if testkit::skip_emulated("wireguard-go's TUN device through qemu-user") {
        return false;
    }
    let ok = find_on_path("wireguard-go").is_some() && find_on_path("wg").is_some();
    if !ok {
        eprintln!(
            "SKIPPED: wireguard-go and wg are not installed \
             (Debian: apt-get install wireguard-go wireguard-tools)"
        );
    }
    ok
}

fn device(tag: char) -> String {
    format!("lw{}{tag}", std::process::id())
}

/// `wg show <dev> dump`, split into lines of tab-separated fields.
fn wg_dump(dev: &str) -> Vec<Vec<String>> {
    let out = Command::new("wg")
        .args(["show", dev, "dump"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wg show: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn peer_config(key: Key, psk: Key) -> PeerConfig {
    let mut p = PeerConfig::new(key);
    p.preshared_key = Some(psk);
    p.endpoint = Some("198.51.100.9:51821".parse().unwrap());
    p.persistent_keepalive = Some(25);
    p.replace_allowed_ips = true;
    p.allowed_ips = vec![
        "10.99.5.0/24".parse().unwrap(),
        "fd00:99:5::/64".parse().unwrap(),
    ];
    p
}

#[test]
fn a_device_configured_here_reads_back_the_same_here_and_in_wg() {
    require_root!();
    if !tools() {
        return;
    }
    testkit::enter_node();
    let dev = device('a');
    let daemon = Daemon::start(&dev).unwrap();
    let uapi = daemon.uapi();
    let key = PrivateKey::generate().unwrap();
    let peer = PrivateKey::generate().unwrap().public();
    let psk = PrivateKey::generate().unwrap().0;
    let config = DeviceConfig {
        private_key: Some(key.clone()),
        listen_port: Some(51820),
        replace_peers: false,
        peers: vec![peer_config(peer, psk)],
    };
    uapi.set(&config).unwrap();

    let state = uapi.get().unwrap();
    assert_eq!(state.private_key.as_ref(), Some(&key));
    assert_eq!(state.listen_port, 51820);
    let p = state.peer(&peer).expect("the peer");
    assert_eq!(p.preshared_key, Some(psk));
    assert_eq!(p.endpoint, Some("198.51.100.9:51821".parse().unwrap()));
    assert_eq!(p.persistent_keepalive, 25);
    let mut ips = p.allowed_ips.clone();
    ips.sort();
    assert_eq!(ips, config.peers[0].allowed_ips);

    // wg derives the public key itself: it must be the one this crate computes.
    let dump = wg_dump(&dev);
    let (me, them) = (&dump[0], &dump[1]);
    assert_eq!(
        me[..3],
        [key.0.to_base64(), key.public().to_base64(), "51820".into()]
    );
    let mut wg_ips: Vec<IpNet> = them[3].split(',').map(|s| s.parse().unwrap()).collect();
    wg_ips.sort();
    assert_eq!(
        them[..3],
        [
            peer.to_base64(),
            psk.to_base64(),
            "198.51.100.9:51821".into()
        ]
    );
    assert_eq!((wg_ips, them[7].as_str()), (ips, "25"));
    assert_eq!(dump.len(), 2);

    update_only_and_remove(&dev, daemon, peer);
}

/// update_only changes a known peer and never creates one; remove drops it; stopping the
/// daemon removes the device and its socket.
fn update_only_and_remove(dev: &str, daemon: Daemon, peer: Key) {
    let uapi = daemon.uapi().clone();
    let stranger = PrivateKey::generate().unwrap().public();
    let moved: SocketAddr = "198.51.100.10:51822".parse().unwrap();
    let mut update = PeerConfig::new(peer);
    update.update_only = true;
    update.endpoint = Some(moved);
    let mut ghost = PeerConfig::new(stranger);
    ghost.update_only = true;
    ghost.endpoint = Some(moved);
    let change = DeviceConfig {
        peers: vec![update, ghost],
        ..DeviceConfig::default()
    };
    uapi.set(&change).unwrap();
    let state = uapi.get().unwrap();
    assert_eq!(state.peers.len(), 1);
    assert_eq!(state.peer(&peer).unwrap().endpoint, Some(moved));
    assert_eq!(wg_dump(dev)[1][2], moved.to_string());

    let removal = DeviceConfig {
        peers: vec![PeerConfig::removal(peer)],
        ..DeviceConfig::default()
    };
    uapi.set(&removal).unwrap();
    assert!(uapi.get().unwrap().peers.is_empty());
    assert_eq!(wg_dump(dev).len(), 1);

    daemon.stop().unwrap();
    assert!(!uapi.path.exists(), "{} left behind", uapi.path.display());
    let link = Command::new("ip")
        .args(["link", "show", dev])
        .output()
        .unwrap();
    assert!(!link.status.success(), "{dev} still there after stop");
}

/// One end of the tunnel: wireguard-go in `ns` for `dev`, its tunnel address `addr`.
fn tunnel_end(ns: &NamedNs, dev: &str, addr: &str) -> Daemon {
    let program = find_on_path("wireguard-go").unwrap();
    let daemon = Daemon::start_with(ns.command(program).unwrap(), dev, Path::new(SOCKET_DIR));
    let daemon = daemon.unwrap();
    ns.add_addr(dev, addr).unwrap();
    ns.ip(&["link", "set", dev, "up"]).unwrap();
    daemon
}

fn end_config(key: &PrivateKey, peer: Key, endpoint: &str, allowed: &str) -> DeviceConfig {
    let mut p = PeerConfig::new(peer);
    p.endpoint = Some(endpoint.parse().unwrap());
    p.allowed_ips = vec![allowed.parse().unwrap()];
    DeviceConfig {
        private_key: Some(key.clone()),
        listen_port: Some(51820),
        replace_peers: true,
        peers: vec![p],
    }
}

#[test]
fn a_ping_crosses_a_tunnel_configured_here_at_both_ends() {
    require_root!();
    if !tools() {
        return;
    }
    let a = NamedNs::create(&unique_name("lichen-wg", "a")).unwrap();
    let b = NamedNs::create(&unique_name("lichen-wg", "b")).unwrap();
    veth(&a, "ul0", "198.51.100.1/24", &b, "ul0", "198.51.100.2/24").unwrap();
    let (dev_a, dev_b) = (device('b'), device('c'));
    let end_a = tunnel_end(&a, &dev_a, "10.99.0.1/24");
    let end_b = tunnel_end(&b, &dev_b, "10.99.0.2/24");
    let (ka, kb) = (
        PrivateKey::generate().unwrap(),
        PrivateKey::generate().unwrap(),
    );
    let conf_a = end_config(&ka, kb.public(), "198.51.100.2:51820", "10.99.0.2/32");
    let conf_b = end_config(&kb, ka.public(), "198.51.100.1:51820", "10.99.0.1/32");
    end_a.uapi().set(&conf_a).unwrap();
    end_b.uapi().set(&conf_b).unwrap();

    assert!(a.ping("10.99.0.2", 3).unwrap(), "no ping across the tunnel");
    let seen = end_a.uapi().get().unwrap();
    let peer = seen.peer(&kb.public()).unwrap();
    assert!(
        peer.last_handshake.is_some(),
        "no handshake recorded: {peer:?}"
    );
    assert!(peer.rx_bytes > 0 && peer.tx_bytes > 0, "{peer:?}");

    // A wrong key at one end: the tunnel must not carry the ping (the test can fail).
    let wrong = PrivateKey::generate().unwrap().public();
    let conf_b = end_config(&kb, wrong, "198.51.100.1:51820", "10.99.0.1/32");
    end_b.uapi().set(&conf_b).unwrap();
    assert!(
        !a.ping("10.99.0.2", 1).unwrap(),
        "ping crossed with a wrong peer key"
    );
    end_a.stop().unwrap();
    end_b.stop().unwrap();
}
