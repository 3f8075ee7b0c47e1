//! Changes of one peer, applied in place: key rotation of one node of three (its agent stops,
//! its key file gets a new key and its Node file the new public key, its agent starts again:
//! its device has the new key, the others replace the peer, none keeps the old key, pods on
//! every node reach its pod again), and a node removed (its peer and route leave the others'
//! devices) and added back. The peer the change did not concern keeps its session: its byte
//! counters are not reset (the change was made in place, not by rebuilding the device).

use super::*;

#[test]
fn a_node_with_a_new_key_is_reached_again() {
    testkit::require_root!();
    let Some(mut c) = wg_cluster("wgrot", 3, WIREGUARD) else {
        return;
    };
    c.start_agents();
    wait_all_programmed(&c);
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    let old = annotation(&c, 2, WG_KEY_ANNOTATION);
    let node2 = annotation(&c, 1, WG_KEY_ANNOTATION);
    let rx_before = c.wg_dump(0).unwrap().peer(&node2).unwrap().rx;
    assert!(rx_before > 0, "node1 heard node2 before the rotation");

    c.kill_agent(2);
    let new = WgKey::generate();
    c.set_wg_key(2, &new);
    c.publish(2);
    c.start_agent(2);

    wait_for("node3's device with the new key", WAIT, || {
        c.wg_dump(2).is_some_and(|d| d.public_key == new.public)
    });
    for k in 0..2 {
        wait_programmed(&c, k, &[2]);
        let d = c.wg_dump(k).unwrap();
        assert!(
            d.peer(&old).is_none(),
            "{} keeps the old key: {d:?}",
            c.nodes[k].name
        );
        assert_eq!(d.peers.len(), 2, "{}: {d:?}", c.nodes[k].name);
    }
    for k in 0..2 {
        wait_ping(&pods[k].0, &pods[2].1, &format!("pod {k} -> node3's pod"));
        wait_ping(&pods[2].0, &pods[k].1, &format!("node3's pod -> pod {k}"));
    }
    // No traffic between node1 and node2 since rx_before: a rebuilt device would count anew.
    let rx_after = c.wg_dump(0).unwrap().peer(&node2).unwrap().rx;
    assert!(
        rx_after >= rx_before,
        "node1's session with node2 was reset by node3's rotation ({rx_before} -> {rx_after} B)"
    );
    full_mesh(&c, &pods);
}

#[test]
fn a_node_removed_and_added_back_changes_only_its_own_peer() {
    testkit::require_root!();
    let Some(mut c) = wg_cluster("wgrm", 3, WIREGUARD) else {
        return;
    };
    c.start_agents();
    wait_all_programmed(&c);
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    let (node2, node3) = (
        annotation(&c, 1, WG_KEY_ANNOTATION),
        annotation(&c, 2, WG_KEY_ANNOTATION),
    );
    let rx_before = c.wg_dump(0).unwrap().peer(&node2).unwrap().rx;
    assert!(rx_before > 0, "node1 heard node2");

    c.unpublish(2);
    wait_for("node3's peer off node1's device", WAIT, || {
        c.wg_dump(0).is_some_and(|d| d.peer(&node3).is_none())
    });
    wait_for("node1's route to node3's pods gone", WAIT, || {
        c.route(0, &c.nodes[2].subnet).is_empty()
    });
    let rx_after = c.wg_dump(0).unwrap().peer(&node2).unwrap().rx;
    assert!(
        rx_after >= rx_before,
        "node1's session with node2 was reset by node3's removal ({rx_before} -> {rx_after} B)"
    );
    assert!(
        pods[0].0.ping(&pods[1].1, 2).unwrap(),
        "node1 <-> node2 untouched"
    );

    c.publish(2);
    wait_programmed(&c, 0, &[2]);
    wait_ping(&pods[0].0, &pods[2].1, "pod -> node3's pod once it is back");
}
