//! Interop with an implementation Lichen did not write and a configuration it did not make: node2
//! runs no agent; its `wg0` is wireguard-go configured by hand with `wg set` (its key, node1 as
//! a peer with node1's pod subnet), an address of node2's pod subnet on it. Node2's Node file
//! carries its public key and podCIDR, as an operator would write it. A pod on node1 pings that
//! address and sends 1 MiB over TCP to it, node2 sends 1 MiB back to the pod, the addresses
//! kept both ways, and both ends count the handshake.

use super::*;

/// The hand-made peer's address on its `wg0` (in its pod subnet 10.100.2.0/24).
const HAND_IP: &str = "10.100.2.1";

#[test]
fn a_peer_configured_by_hand_with_wg_reaches_a_lichen_pod_and_back() {
    testkit::require_root!();
    let Some(mut c) = wg_cluster("wgiop", 2, WIREGUARD) else {
        return;
    };
    c.start_agent(0);
    hand_peer(&c, 1, 0, HAND_IP);
    wait_programmed(&c, 0, &[1]);
    let (pod, pod_ip) = c.pod(0, "a");
    wait_ping(&pod, HAND_IP, "the Lichen pod -> the hand-made peer");
    let (n, seen) = tcp_transfer(&c.nodes[1].ns, HAND_IP, &pod, 1 << 20);
    assert_eq!(
        (n, seen.as_str()),
        (1 << 20, pod_ip.as_str()),
        "pod -> hand peer"
    );
    let (n, seen) = tcp_transfer(&pod, &pod_ip, &c.nodes[1].ns, 1 << 20);
    assert_eq!((n, seen.as_str()), (1 << 20, HAND_IP), "hand peer -> pod");
    let node1 = annotation(&c, 0, WG_KEY_ANNOTATION);
    let hand = c.wg_dump_of(1, "wg0").expect("wg0 on the hand-made peer");
    let peer = hand.peer(&node1).expect("node1 on wg0");
    assert!(peer.latest_handshake > 0, "{peer:?}");
    assert!(peer.rx >= 1 << 20 && peer.tx >= 1 << 20, "{peer:?}");
    let lichen = c.wg_dump(0).unwrap();
    let peer = lichen.peer(&annotation(&c, 1, WG_KEY_ANNOTATION)).unwrap();
    assert!(peer.latest_handshake > 0, "{peer:?}");
    assert_eq!(peer.endpoint.as_deref(), Some("198.51.100.12:51820"));
}

/// Node `k` as a WireGuard peer made by hand: wireguard-go `wg0` (it daemonizes itself) with
/// address `addr`, its key file (written by the harness), node `to` as its peer with that
/// node's pod subnet, and a route to that subnet through `wg0`.
pub(super) fn hand_peer(c: &Cluster, k: usize, to: usize, addr: &str) {
    // Its banner (the kernel could do WireGuard: not here) is only shown when it fails. The
    // daemon it forks keeps none of our pipes (wireguard-go main.go: /dev/null unless LOG_LEVEL).
    let out = c
        .node_command(k, "wireguard-go")
        .arg("wg0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wireguard-go wg0 on {}: {}",
        c.nodes[k].name,
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("wg0's socket", WAIT, || c.wg(k, &["show", "wg0"]).1);
    let key_file = c.wg_key_file(k).display().to_string();
    let endpoint = format!("{}:{PORT}", c.nodes[to].ip);
    let peer = annotation(c, to, WG_KEY_ANNOTATION);
    let port = PORT.to_string();
    let (out, ok) = c.wg(
        k,
        &[
            "set",
            "wg0",
            "listen-port",
            &port,
            "private-key",
            &key_file,
            "peer",
            &peer,
            "endpoint",
            &endpoint,
            "allowed-ips",
            &c.nodes[to].subnet,
        ],
    );
    assert!(ok, "wg set: {out}");
    let ns = &c.nodes[k].ns;
    ns.add_addr("wg0", &format!("{addr}/32")).unwrap();
    ns.ip(&["link", "set", "wg0", "up"]).unwrap();
    ns.ip(&["route", "add", &c.nodes[to].subnet, "dev", "wg0"])
        .unwrap();
}
