//! The cluster-dir workflow an operator follows, and the peers Lichen refuses: agents start with
//! key files of their own making and Node files without keys, so every peer is `pending` and
//! nothing is programmed; the operator copies each node's public key from its `lichen status`
//! into its Node file and the pods talk. A Node file that claims another node's key makes that
//! peer `unreachable` (no WireGuard peer, no route) until it is corrected.

use super::*;

#[test]
fn keys_copied_from_lichen_status_into_the_node_files_bring_pending_peers_up() {
    testkit::require_root!();
    if !wireguard_tools() {
        return;
    }
    let mut c = Cluster::new("wgop", 2, WIREGUARD);
    c.isolate_mounts();
    for k in 0..2 {
        c.use_wg_key_file(k);
    }
    c.start_agents();
    for k in 0..2 {
        wait_peer_state(&c, k, 1 - k, "pending");
        assert_eq!(
            c.wg_dump(k).unwrap().peers.len(),
            0,
            "no peer without its key"
        );
        assert!(!c.route(k, &c.nodes[1 - k].subnet).contains("lichen-wg"));
    }
    for k in 0..2 {
        let key = status_key(&c.status(k)).expect("the public key in lichen status");
        let file = std::fs::read_to_string(c.wg_key_file(k)).unwrap();
        assert_eq!(
            key,
            wg_pubkey(file.trim()),
            "the key of the file the agent made"
        );
        c.set_annotation(k, WG_KEY_ANNOTATION, &key);
        c.publish(k);
    }
    wait_all_programmed(&c);
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    full_mesh(&c, &pods);

    // node2's Node file now claims node1's key.
    let node2 = annotation(&c, 1, WG_KEY_ANNOTATION);
    let node1 = annotation(&c, 0, WG_KEY_ANNOTATION);
    c.set_annotation(1, WG_KEY_ANNOTATION, &node1);
    c.publish(1);
    wait_peer_state(&c, 0, 1, "unreachable");
    wait_for("node2's peer off node1's device", WAIT, || {
        c.wg_dump(0).is_some_and(|d| d.peers.is_empty())
    });
    assert!(!c.route(0, &c.nodes[1].subnet).contains("lichen-wg"));
    c.set_annotation(1, WG_KEY_ANNOTATION, &node2);
    c.publish(1);
    wait_programmed(&c, 0, &[1]);
    wait_ping(
        &pods[0].0,
        &pods[1].1,
        "pod -> node2's pod once its key is right again",
    );
}

/// Waits until node `k`'s `lichen status` reports node `p` (its peer line) as `state`.
fn wait_peer_state(c: &Cluster, k: usize, p: usize, state: &str) {
    let name = c.nodes[p].name.clone();
    let mut status = String::new();
    let seen = testkit::poll(WAIT, Duration::from_millis(100), || {
        status = c.status(k);
        status
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{name} ")) && l.contains(state))
    });
    assert!(seen, "{name} {state} on {}:\n{status}", c.nodes[k].name);
}

/// This node's public key in `lichen status` (`wireguard: public key <key> …`).
fn status_key(status: &str) -> Option<String> {
    let line = status.lines().find(|l| l.starts_with("wireguard:"))?;
    let rest = line.split_once("public key ")?.1;
    Some(rest.split_whitespace().next()?.to_owned())
}
