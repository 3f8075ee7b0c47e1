//! The node agent end to end: three (or four) node namespaces on an underlay, an agent on each,
//! pods attached by the plugin through the subnet-file hand-off, for both backends. The agent's
//! signals, readiness and hints are in agent/health.rs.

mod common;
#[path = "agent/health.rs"]
mod health;

use std::time::Duration;

use common::cluster::*;
use common::*;

const WAIT: Duration = Duration::from_secs(10);

fn cross_node_works(backend: &str) {
    let mut c = Cluster::new(&backend[9..13], 3, backend);
    // Before any agent runs there is no subnet file: pods can only be attached once the agents
    // ran, so check the "cannot fail" side with the node-level route instead.
    c.start_agents();
    let pods = pods_everywhere(&c);
    full_mesh(&c, &pods);
    // the agents are down: traffic keeps flowing (nothing flushed), and after a restart too
    for k in 0..3 {
        c.kill_agent(k);
    }
    assert!(
        pods[0].0.ping(&pods[1].1, 1).unwrap(),
        "traffic while the agents are down"
    );
    c.start_agents();
    std::thread::sleep(Duration::from_millis(500));
    full_mesh(&c, &pods);
}

#[test]
fn host_gw_three_nodes() {
    testkit::require_root!();
    cross_node_works(r#"{"Type":"host-gw"}"#);
}

#[test]
fn vxlan_three_nodes_and_traffic_crosses_the_vxlan_device() {
    testkit::require_root!();
    cross_node_works(r#"{"Type":"vxlan"}"#);
    let mut c = Cluster::new("vxc", 2, r#"{"Type":"vxlan"}"#);
    c.start_agents();
    let (p0, _) = c.pod(0, "a");
    let (_p1, ip1) = c.pod(1, "b");
    let tx = |c: &Cluster| -> u64 {
        let s = c.nodes[0]
            .ns
            .ip(&["-s", "-j", "link", "show", "lichen.1"])
            .unwrap();
        testkit::number_after(&s, "\"tx\":{\"bytes\":").expect("lichen.1 has counters")
    };
    let before = tx(&c);
    let (n, _) = tcp_transfer(&_p1, &ip1, &p0, 1 << 20);
    assert_eq!(n, 1 << 20);
    assert!(
        tx(&c) >= before + (1 << 20),
        "the transfer went through lichen.1"
    );
    assert!(
        c.route(0, "10.100.2.0/24").contains("dev lichen.1"),
        "{}",
        c.route(0, "10.100.2.0/24")
    );
}

#[test]
fn cross_node_traffic_needs_the_agents() {
    testkit::require_root!();
    let mut c = Cluster::new("need", 2, r#"{"Type":"host-gw"}"#);
    // attach pods with the subnet files written by a first agent run, then stop the agents and
    // remove what they programmed: cross-node traffic must fail, and work again once they run.
    c.start_agents();
    let (p0, _) = c.pod(0, "a");
    let (_p1, ip1) = c.pod(1, "b");
    for k in 0..2 {
        c.kill_agent(k);
        let out = testkit::binary_command(&c.nodes[k].ns, std::path::Path::new(BIN))
            .unwrap()
            .args(["agent", "--cleanup", "--subnet-file"])
            .arg(c.subnet_file(k))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(c.route(0, "10.100.2.0/24"), "", "cleanup removed the route");
    assert!(
        !p0.ping(&ip1, 1).unwrap(),
        "no cross-node traffic without the agents"
    );
    c.start_agents();
    wait_for("route to node2", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("via 198.51.100.12")
    });
    assert!(p0.ping(&ip1, 2).unwrap());
}

#[test]
fn nodes_added_and_removed_are_programmed_and_unprogrammed() {
    testkit::require_root!();
    for backend in [r#"{"Type":"host-gw"}"#, r#"{"Type":"vxlan"}"#] {
        let mut c = Cluster::new("addrm", 2, backend);
        c.unpublish(1);
        c.start_agent(0);
        wait_for("node1's subnet file", WAIT, || c.subnet_file(0).exists());
        assert_eq!(c.route(0, "10.100.2.0/24"), "");
        c.publish(1);
        wait_for("route to the new node", WAIT, || {
            !c.route(0, "10.100.2.0/24").is_empty()
        });
        c.unpublish(1);
        wait_for("route to the removed node gone", WAIT, || {
            c.route(0, "10.100.2.0/24").is_empty()
        });
        if backend.contains("vxlan") {
            let fdb = c.nodes[0]
                .ns
                .exec("bridge", &["fdb", "show", "dev", "lichen.1"])
                .unwrap();
            assert!(
                !String::from_utf8_lossy(&fdb.stdout).contains("198.51.100.12"),
                "FDB entry removed"
            );
        }
    }
}

#[test]
fn deleted_kernel_entries_are_restored() {
    testkit::require_root!();
    let mut c = Cluster::new("heal", 2, r#"{"Type":"vxlan"}"#);
    c.start_agents();
    wait_for("route", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("lichen.1")
    });
    c.nodes[0]
        .ns
        .ip(&["route", "del", "10.100.2.0/24"])
        .unwrap();
    wait_for("route restored", Duration::from_secs(3), || {
        c.route(0, "10.100.2.0/24").contains("lichen.1")
    });
    let fdb = |c: &Cluster| {
        let o = c.nodes[0]
            .ns
            .exec("bridge", &["fdb", "show", "dev", "lichen.1"])
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.contains("dst 198.51.100.12"))
            .map(str::to_owned)
    };
    let entry = fdb(&c).expect("FDB entry for node2");
    let mac = entry.split_whitespace().next().unwrap().to_owned();
    c.nodes[0]
        .ns
        .exec(
            "bridge",
            &[
                "fdb",
                "del",
                &mac,
                "dev",
                "lichen.1",
                "dst",
                "198.51.100.12",
            ],
        )
        .unwrap();
    wait_for("FDB entry restored", Duration::from_secs(3), || {
        fdb(&c).is_some()
    });
    c.nodes[0].ns.ip(&["link", "del", "lichen.1"]).unwrap();
    wait_for(
        "VXLAN device and route restored",
        Duration::from_secs(3),
        || c.route(0, "10.100.2.0/24").contains("lichen.1"),
    );
}

#[test]
fn routed_fourth_node_vxlan_direct_routing_and_host_gw_unreachable() {
    testkit::require_root!();
    let mut c = Cluster::new("l3", 2, r#"{"Type":"vxlan","DirectRouting":true}"#);
    let far = c.add_routed_node(4);
    c.start_agents();
    let pods = pods_everywhere(&c);
    // adjacent peers use host-gw routes, the routed one VXLAN
    assert!(
        c.route(0, "10.100.2.0/24")
            .contains("via 198.51.100.12 dev eth0"),
        "{}",
        c.route(0, "10.100.2.0/24")
    );
    assert!(
        c.route(0, "10.100.4.0/24").contains("lichen.1"),
        "{}",
        c.route(0, "10.100.4.0/24")
    );
    full_mesh(&c, &pods);
    drop(pods);
    drop(c);

    let mut c = Cluster::new("l3h", 2, r#"{"Type":"host-gw"}"#);
    let far = {
        let _ = far;
        c.add_routed_node(4)
    };
    c.start_agents();
    wait_for("route to the adjacent peer", WAIT, || {
        !c.route(0, "10.100.2.0/24").is_empty()
    });
    wait_for("node4 reported unreachable", WAIT, || {
        c.status(0).contains("unreachable")
    });
    let st = c.status(0);
    assert!(
        st.lines()
            .any(|l| l.contains(&c.nodes[far].name) && l.contains("unreachable")),
        "{st}"
    );
    assert_eq!(c.route(0, "10.100.4.0/24"), "");
}

#[test]
fn pod_egress_is_masqueraded_and_pod_to_pod_is_not() {
    testkit::require_root!();
    let mut c = Cluster::new("masq", 2, r#"{"Type":"host-gw"}"#);
    let outside = NamedNs::create(&testkit::unique_name("lc", "outside")).unwrap();
    c.lan
        .attach(&outside, "eth0", "198.51.100.200/24", "out")
        .unwrap();
    c.start_agents();
    let (p0, ip0) = c.pod(0, "a");
    let (p1, ip1) = c.pod(1, "b");
    let (_, seen) = tcp_transfer(&outside, "198.51.100.200", &p0, 1024);
    assert_eq!(
        seen, c.nodes[0].ip,
        "the outside host sees the node's address"
    );
    let (_, seen) = tcp_transfer(&p1, &ip1, &p0, 1024);
    assert_eq!(seen, ip0, "pod-to-pod keeps the pod address");
    let rules = c.nodes[0]
        .ns
        .exec("nft", &["list", "table", "inet", "lichen"])
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(rules.contains("masquerade"), "{rules}");
}

#[test]
fn status_shows_backend_subnet_and_peers() {
    testkit::require_root!();
    let mut c = Cluster::new("stat", 3, r#"{"Type":"host-gw"}"#);
    c.start_agents();
    // The routes appear during the agent's pass; its report is published when the pass ends.
    wait_for("routes and a finished pass", WAIT, || {
        !c.route(0, "10.100.3.0/24").is_empty() && !c.status(0).contains("synced:   never")
    });
    let st = c.status(0);
    assert!(st.contains("host-gw"), "{st}");
    assert!(st.contains("10.100.1.0/24"), "{st}");
    for peer in ["node2", "node3"] {
        assert!(
            st.lines()
                .any(|l| l.contains(peer) && l.contains("programmed")),
            "{st}"
        );
    }
    assert!(
        st.contains("rules:    table inet lichen: forward 10.100.0.0/16, masquerade on"),
        "{st}"
    );
}

/// The node rules are re-applied on every resync: a table someone deleted is back within one
/// period (10 s), the agent's own doing (its node-rules pass counter moved).
#[test]
fn node_rules_deleted_by_someone_are_put_back_by_their_resync() {
    testkit::require_root!();
    let mut c = Cluster::new("rsync", 2, r#"{"Type":"host-gw"}"#);
    c.start_agent(0);
    let table = |c: &Cluster| c.nft(0, &["list", "table", "inet", "lichen"]);
    wait_for("the node rules", WAIT, || table(&c).contains("masquerade"));
    let runs = |c: &Cluster| {
        testkit::number_after(&c.http(0, "/metrics").1, "\nlichen_node_rules_runs_total ")
            .expect("the node-rules counter")
    };
    let before = runs(&c);
    c.nft(0, &["delete", "table", "inet", "lichen"]);
    assert!(!table(&c).contains("masquerade"), "deleted");
    wait_for("the resync puts them back", 3 * WAIT, || {
        table(&c).contains("masquerade")
    });
    assert!(runs(&c) > before);
}
