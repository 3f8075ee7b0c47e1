//! A node behind a NAT: node3 sits on 203.0.113.0/24 behind a router namespace that masquerades
//! it onto the LAN as 198.51.100.1; the LAN nodes have no route to 203.0.113.0/24, so their
//! peer entry for node3 (endpoint: its InternalIP 203.0.113.13:51820) cannot reach it first.
//! With `PersistentKeepaliveInterval` node3 opens the sessions; its pod reaches the others', the
//! LAN nodes roam node3's endpoint to the NAT's address and their pods reach node3's back. The
//! periodic resync must not set the endpoint again: watched on every LAN node across two
//! resync passes (the agent's 10 s period, src/agent/timing.rs `RESYNC`; counted by
//! `lichen_node_rules_runs_total`, which every tick raises), with no traffic meanwhile (only
//! node3's keepalives, every 25 s, would roam a wrongly re-set endpoint back), the endpoint
//! stays the NAT's; the pods still talk after.

use super::*;

const KEEPALIVE: u16 = 25;
/// The NAT router's LAN address, as the LAN nodes see node3's packets come.
const NAT_IP: &str = "198.51.100.1";

#[test]
fn a_node_behind_a_nat_reaches_the_others_and_keeps_its_roamed_endpoint() {
    testkit::require_root!();
    if !wireguard_tools() {
        return;
    }
    let backend = format!(r#"{{"Type":"wireguard","PersistentKeepaliveInterval":{KEEPALIVE}}}"#);
    let mut c = Cluster::new("wgnat", 2, &backend);
    let far = c.add_natted_node(3);
    c.isolate_mounts();
    c.give_wg_keys();
    c.start_agents();
    wait_all_programmed(&c);
    let pods = pods_everywhere(&c);
    let key = annotation(&c, far, WG_KEY_ANNOTATION);
    for k in 0..far {
        let what = format!("node3's pod (behind the NAT) -> node{}'s pod", k + 1);
        wait_ping(&pods[far].0, &pods[k].1, &what);
    }
    for k in 0..far {
        let (endpoint, keepalive) = nat_peer(&c, k, &key);
        assert!(
            endpoint.starts_with(&format!("{NAT_IP}:")),
            "node{} roamed: {endpoint}",
            k + 1
        );
        assert_eq!(keepalive, KEEPALIVE, "node{}'s peer node3", k + 1);
        let what = format!("node{}'s pod -> node3's pod (behind the NAT)", k + 1);
        wait_ping(&pods[k].0, &pods[far].1, &what);
    }
    watch_through_resyncs(&c, far, &key);
    full_mesh(&c, &pods);
}

/// Node `k`'s peer entry for the NAT node (public key `key`): its endpoint and keepalive.
fn nat_peer(c: &Cluster, k: usize, key: &str) -> (String, u16) {
    let d = c.wg_dump(k).expect("lichen-wg");
    let p = d
        .peer(key)
        .unwrap_or_else(|| panic!("no peer {key} on node{}: {d:?}", k + 1));
    (p.endpoint.clone().unwrap_or_default(), p.keepalive)
}

/// Reads the LAN nodes' endpoint for the NAT node until each has run two more resync passes,
/// asserting on every read that it is still the NAT's address.
fn watch_through_resyncs(c: &Cluster, far: usize, key: &str) {
    const RUNS: &str = "lichen_node_rules_runs_total";
    let start: Vec<u64> = (0..far).map(|k| metric(c, k, RUNS)).collect();
    assert!(
        start.iter().all(|&n| n > 0),
        "{RUNS} on the LAN nodes: {start:?}"
    );
    let mut reads = 0;
    wait_for(
        "two resync passes on each LAN node",
        Duration::from_secs(60),
        || {
            for k in 0..far {
                let (endpoint, _) = nat_peer(c, k, key);
                assert!(
                    endpoint.starts_with(&format!("{NAT_IP}:")),
                    "node{}'s resync set node3's endpoint again ({endpoint}) after {reads} reads",
                    k + 1
                );
            }
            reads += 1;
            (0..far).all(|k| metric(c, k, RUNS) >= start[k] + 2)
        },
    );
    eprintln!("node3's roamed endpoint held through two resyncs ({reads} reads)");
}
