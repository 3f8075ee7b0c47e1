//! The agent's life around the device: `lichen status` shows the node's key and, per peer, the
//! latest handshake and the bytes; an agent restart leaves the traffic flowing (wireguard-go
//! outlives the agent and the new one takes it over) and, with wireguard-go gone too, the new
//! agent makes the device again; `lichen agent --cleanup` with the agent's flags removes
//! `lichen-wg` and ends the wireguard-go.

use std::path::Path;

use super::*;

/// Two nodes with agents, a pod on each that reaches the other.
fn two_nodes(tag: &str) -> Option<(Cluster, Vec<(NamedNs, String)>)> {
    let mut c = wg_cluster(tag, 2, WIREGUARD)?;
    c.start_agents();
    wait_all_programmed(&c);
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    Some((c, pods))
}

#[test]
fn status_shows_the_key_and_each_peers_handshake_and_bytes() {
    testkit::require_root!();
    let Some((c, pods)) = two_nodes("wgstat") else {
        return;
    };
    full_mesh(&c, &pods);
    let mut status = c.status(0);
    assert!(
        status.contains(&annotation(&c, 0, WG_KEY_ANNOTATION)),
        "this node's public key:\n{status}"
    );
    let peer = c.wg_dump(0).unwrap();
    let peer = peer.peer(&annotation(&c, 1, WG_KEY_ANNOTATION)).unwrap();
    assert!(peer.latest_handshake > 0 && peer.rx >= 1 << 20, "{peer:?}");
    // The peer's line(s): its name, "handshake", and byte counts of at least the 1 MiB each
    // way. The agent reads them from the device on its passes: wait for one after the traffic
    // (a resync at the latest).
    let every = Duration::from_millis(200);
    let shown = testkit::poll(WAIT, every, || {
        status = c.status(0);
        let lines: Vec<&str> = status.lines().filter(|l| l.contains("node2")).collect();
        let text = lines.join("\n");
        let mib = status_numbers(&text).into_iter().filter(|&n| n >= 1 << 20);
        text.contains("handshake") && !text.contains("handshake never") && mib.count() >= 2
    });
    assert!(
        shown,
        "node2's handshake, rx and tx (≥ 1 MiB each):\n{status}"
    );
    let (json, code) = c.lichen(0, &["status", "-o", "json"]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json.contains(&annotation(&c, 1, WG_KEY_ANNOTATION)),
        "{json}"
    );
}

/// The decimal numbers in `text` (digits with `,` or `_` separators allowed).
fn status_numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '_'))
        .filter_map(|w| w.replace([',', '_'], "").parse().ok())
        .collect()
}

#[test]
fn an_agent_restart_keeps_the_traffic_and_a_lost_device_comes_back() {
    testkit::require_root!();
    let Some((mut c, pods)) = two_nodes("wgrst") else {
        return;
    };
    let daemon = c.wireguard_go(0);
    assert_eq!(daemon.len(), 1, "{:?}", c.processes(0));
    c.kill_agent(0);
    assert!(
        pods[0].0.ping(&pods[1].1, 3).unwrap(),
        "traffic without the agent"
    );
    c.start_agent(0);
    wait_for("the restarted agent ready", WAIT, || {
        c.http(0, "/readyz").0 == 200
    });
    assert_eq!(
        c.wireguard_go(0),
        daemon,
        "the new agent took the running wireguard-go over"
    );
    assert!(
        pods[0].0.ping(&pods[1].1, 3).unwrap(),
        "traffic after the restart"
    );
    full_mesh(&c, &pods);

    // wireguard-go dies with the agent down (its socket file stays behind, stale).
    c.kill_agent(0);
    for pid in c.wireguard_go(0) {
        // SAFETY: kill has no memory effects; the pid is a process in our node's namespace.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    wait_for("lichen-wg gone with wireguard-go", WAIT, || {
        c.nodes[0].ns.ip(&["link", "show", WG_DEVICE]).is_err()
    });
    c.start_agent(0);
    wait_programmed(&c, 0, &[1]);
    assert_eq!(c.wireguard_go(0).len(), 1, "{:?}", c.processes(0));
    wait_ping(
        &pods[0].0,
        &pods[1].1,
        "pod -> node2's pod over the new device",
    );
    full_mesh(&c, &pods);
}

#[test]
fn cleanup_with_the_agents_flags_removes_the_device_and_ends_wireguard_go() {
    testkit::require_root!();
    let Some((mut c, _pods)) = two_nodes("wgcln") else {
        return;
    };
    assert_eq!(c.wireguard_go(0).len(), 1, "{:?}", c.processes(0));
    c.kill_agent(0);
    let log = c.dir.join("cleanup.log");
    let status = c.agent_command(0, &log).arg("--cleanup").status().unwrap();
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "lichen agent --cleanup: {said}");
    assert!(
        c.nodes[0].ns.ip(&["link", "show", WG_DEVICE]).is_err(),
        "lichen-wg removed ({said})"
    );
    wait_for("wireguard-go ended", WAIT, || c.wireguard_go(0).is_empty());
    let socket = Path::new(WG_SOCKET_DIR).join("lichen-wg.sock");
    let gone = !c
        .node_command(0, "test")
        .arg("-e")
        .arg(&socket)
        .status()
        .unwrap()
        .success();
    assert!(gone, "its socket removed");
    assert_eq!(
        c.route(0, &c.nodes[1].subnet),
        "",
        "the route to node2's pods removed"
    );
    assert!(c.wg_dump(1).is_some(), "node2 untouched");
}
