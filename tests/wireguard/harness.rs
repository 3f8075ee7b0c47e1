//! The harness itself: each node's private mount namespace holds its own `/run/wireguard`
//! (what one node puts there neither another node nor the machine sees), the node's agent runs
//! in it and still programs the data plane (host-gw here: no WireGuard needed), and the
//! teardown ends every process left in a node's namespace.

use std::path::Path;

use super::capture::{check_only_wireguard, Capture};
use super::interop::hand_peer;
use super::*;

#[test]
fn each_node_has_its_own_run_wireguard_and_its_agent_works_there() {
    testkit::require_root!();
    let mut c = Cluster::new("wgmnt", 2, r#"{"Type":"host-gw"}"#);
    c.isolate_mounts();
    let mark = format!("{}-mark", c.nodes[0].ns.name);
    let out = c
        .node_command(0, "touch")
        .arg(format!("{WG_SOCKET_DIR}/{mark}"))
        .status()
        .unwrap();
    assert!(out.success(), "touch in node1's /run/wireguard");
    let seen = |k: usize| {
        c.node_command(k, "test")
            .args(["-e", &format!("{WG_SOCKET_DIR}/{mark}")])
            .status()
            .unwrap()
            .success()
    };
    assert!(seen(0), "node1 sees its own file");
    assert!(!seen(1), "node2's /run/wireguard is its own");
    assert!(
        !Path::new(WG_SOCKET_DIR).join(&mark).exists(),
        "the machine's /run/wireguard is untouched"
    );
    c.start_agents();
    let agent = c.nodes[0].agent.as_ref().unwrap().id();
    let (mine, holder) = (
        mount_ns(agent),
        mount_ns(c.nodes[0].mounts.as_ref().unwrap().pid()),
    );
    assert_eq!(mine, holder, "the agent runs in the node's mount namespace");
    assert_ne!(mine, mount_ns(std::process::id()), "not in the test's");
    let (p0, _) = c.pod(0, "a");
    let (_p1, ip1) = c.pod(1, "b");
    wait_for("route to node2", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("via 198.51.100.12")
    });
    assert!(p0.ping(&ip1, 2).unwrap(), "pods talk across the nodes");
    wait_for("node1 ready", WAIT, || c.http(0, "/readyz").0 == 200);
}

#[test]
fn teardown_kills_what_is_left_in_a_node() {
    testkit::require_root!();
    let mut c = Cluster::new("wgkill", 1, r#"{"Type":"host-gw"}"#);
    c.isolate_mounts();
    // A daemon of the node's own, not a child of the test: as wireguard-go is of the agent.
    let ok = c
        .node_command(0, "sh")
        .args(["-c", "sleep 600 >/dev/null 2>&1 &"])
        .status()
        .unwrap();
    assert!(ok.success());
    let left: Vec<u32> = c
        .processes(0)
        .into_iter()
        .filter(|(_, comm)| comm == "sleep")
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        left.len(),
        2,
        "the holder and the daemon: {:?}",
        c.processes(0)
    );
    drop(c);
    for p in left {
        assert!(!testkit::mounts::alive(p), "process {p} outlived its node");
    }
}

#[test]
fn two_hand_made_wireguard_go_wg0_in_two_nodes_talk_and_the_capture_sees_only_wireguard() {
    testkit::require_root!();
    // No agent: the same device name (hence the same socket path) on both nodes, each in its
    // private mount namespace; the capture check passes real WireGuard traffic.
    let Some(c) = wg_cluster("wghand", 2, WIREGUARD) else {
        return;
    };
    hand_peer(&c, 0, 1, "10.100.1.1");
    hand_peer(&c, 1, 0, "10.100.2.1");
    let cap = Capture::start(&c.lan.ns, c.dir.join("hand.pcap"));
    wait_ping(&c.nodes[0].ns, "10.100.2.1", "node1's wg0 -> node2's wg0");
    let (n, from) = tcp_transfer(&c.nodes[1].ns, "10.100.2.1", &c.nodes[0].ns, 1 << 20);
    assert_eq!((n, from.as_str()), (1 << 20, "10.100.1.1"));
    let lines = cap.stop();
    let nodes: Vec<String> = c.nodes.iter().map(|n| n.ip.clone()).collect();
    check_only_wireguard(&lines, &nodes, 700);
    for k in 0..2 {
        let d = c.wg_dump_of(k, "wg0").expect("wg0");
        assert_eq!(d.public_key, annotation(&c, k, WG_KEY_ANNOTATION));
        let peer = d.peer(&annotation(&c, 1 - k, WG_KEY_ANNOTATION)).unwrap();
        assert!(
            peer.latest_handshake > 0 && peer.rx > 0 && peer.tx > 0,
            "{peer:?}"
        );
        assert_eq!(c.wireguard_go(k).len(), 1, "{:?}", c.processes(k));
    }
}

#[test]
fn a_natted_node_reaches_the_lan_as_the_router_and_is_not_reached_from_it() {
    testkit::require_root!();
    let mut c = Cluster::new("wgnatb", 1, r#"{"Type":"host-gw"}"#);
    let far = c.add_natted_node(2);
    assert_eq!(c.nodes[far].ip, "203.0.113.12");
    let (n, seen) = tcp_transfer(&c.nodes[0].ns, "198.51.100.11", &c.nodes[far].ns, 1000);
    assert_eq!((n, seen.as_str()), (1000, "198.51.100.1"), "masqueraded");
    assert!(!c.nodes[0].ns.ping("203.0.113.12", 1).unwrap(), "no way in");
}

/// The mount namespace of process `pid` (the target of its `ns/mnt` link).
fn mount_ns(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .unwrap()
        .display()
        .to_string()
}
