//! Three nodes from a cluster dir whose Node files carry the keys: each node's `lichen-wg` has
//! the two others as peers (public key, endpoint InternalIP:51820, their pod subnet as allowed
//! IPs), routes to their subnets go through it, and pods ping and send 1 MiB over TCP across
//! every pair while a capture on the underlay sees nothing but UDP between node addresses on
//! the listen port: no pod address in clear.

use super::capture::{check_only_wireguard, Capture};
use super::*;

#[test]
fn three_nodes_talk_across_every_pair_and_the_underlay_carries_only_wireguard() {
    testkit::require_root!();
    let Some(mut c) = wg_cluster("wgmesh", 3, WIREGUARD) else {
        return;
    };
    c.start_agents();
    wait_all_programmed(&c);
    check_devices(&c);
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    let cap = Capture::start(&c.lan.ns, c.dir.join("underlay.pcap"));
    full_mesh(&c, &pods);
    let lines = cap.stop();
    let nodes: Vec<String> = c.nodes.iter().map(|n| n.ip.clone()).collect();
    // 6 transfers of 1 MiB, each at least ~730 full-size packets one way.
    let n = check_only_wireguard(&lines, &nodes, 6 * 700);
    eprintln!(
        "underlay: {n} WireGuard packets of {} captured",
        lines.len()
    );
}

/// Every node's device as the keys and Node files say: its own key, the listen port, each other
/// node a peer at InternalIP:51820 with its pod subnet, and one wireguard-go per node.
fn check_devices(c: &Cluster) {
    for k in 0..c.nodes.len() {
        let d = c.wg_dump(k).expect("lichen-wg");
        let name = &c.nodes[k].name;
        assert_eq!(
            d.public_key,
            annotation(c, k, WG_KEY_ANNOTATION),
            "{name}'s key"
        );
        assert_eq!(d.listen_port, PORT, "{name}'s listen port");
        assert_eq!(d.peers.len(), c.nodes.len() - 1, "{name}'s peers: {d:?}");
        for p in (0..c.nodes.len()).filter(|&p| p != k) {
            let peer = d.peer(&annotation(c, p, WG_KEY_ANNOTATION)).unwrap();
            let endpoint = format!("{}:{PORT}", c.nodes[p].ip);
            assert_eq!(
                peer.endpoint.as_deref(),
                Some(endpoint.as_str()),
                "{name}: {peer:?}"
            );
            assert_eq!(
                peer.allowed_ips,
                [c.nodes[p].subnet.clone()],
                "{name}: {peer:?}"
            );
            assert_eq!(
                peer.keepalive, 0,
                "no keepalive unless net-conf asks: {peer:?}"
            );
        }
        assert_eq!(c.wireguard_go(k).len(), 1, "{name}: {:?}", c.processes(k));
    }
}
