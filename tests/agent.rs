//! The node agent end to end: three (or four) node namespaces on an underlay, an agent on each,
//! pods attached by the plugin through the subnet-file hand-off, for both backends.

mod common;

use std::fs;
use std::time::{Duration, Instant};

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
}

/// SIGTERM (and SIGINT) end the agent within a second with status 0, and nothing it
/// programmed is flushed: routes, the VXLAN device, the nftables table and the subnet file stay.
#[test]
fn sigterm_and_sigint_exit_at_once_and_leave_the_data_plane() {
    testkit::require_root!();
    let mut c = Cluster::new("term", 2, r#"{"Type":"vxlan"}"#);
    c.start_agents();
    for (k, signal) in [(0, libc::SIGTERM), (1, libc::SIGINT)] {
        let peer = &c.nodes[1 - k].subnet.clone();
        wait_for("a programmed node", WAIT, || {
            c.route(k, peer).contains("dev lichen.1") && c.http(k, "/readyz").0 == 200
        });
        let mut agent = c.nodes[k].agent.take().unwrap();
        let sent = Instant::now();
        assert_eq!(unsafe { libc::kill(agent.id() as i32, signal) }, 0);
        let mut status = None;
        while status.is_none() && sent.elapsed() < Duration::from_secs(5) {
            status = agent.try_wait().unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        let took = sent.elapsed();
        let Some(status) = status else {
            let _ = agent.kill();
            let _ = agent.wait();
            panic!("the agent still runs 5 s after signal {signal}");
        };
        assert!(status.success(), "signal {signal}: {status:?}");
        assert!(
            took < Duration::from_secs(1),
            "signal {signal}: took {took:?}"
        );
        let ours = c.nodes[k]
            .ns
            .ip(&["route", "show", "proto", "108"])
            .unwrap();
        assert!(
            ours.contains(&format!("{peer} via")) && ours.contains("dev lichen.1 onlink"),
            "{ours}"
        );
        assert!(c.nodes[k].ns.ip(&["link", "show", "lichen.1"]).is_ok());
        assert!(c
            .nft(k, &["list", "table", "inet", "lichen"])
            .contains("masquerade"));
        assert!(c.subnet_file(k).exists());
        assert!(c.agent_log(k).contains("exiting"), "{}", c.agent_log(k));
    }
}

/// `/healthz` is the loop being alive, whatever the passes find; `/readyz` is this node being
/// programmed: a reconcile error makes the agent unready, not dead, and fixing it makes it ready.
#[test]
fn a_reconcile_error_is_unready_not_unhealthy() {
    testkit::require_root!();
    let mut c = Cluster::new("probe", 2, r#"{"Type":"host-gw"}"#);
    c.nodes[0].subnet = "10.200.1.0/24".into(); // outside the Network: every pass fails
    c.publish(0);
    c.start_agent(0);
    wait_for("a failed pass", WAIT, || c.status(0).contains("error:"));
    assert_eq!(c.http(0, "/healthz").0, 200);
    let (code, body) = c.http(0, "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("not inside the cluster network"), "{body}");
    assert!(c.status(0).contains("ready:    no"));
    // `lichen status` says so with its exit code, also after waiting a while
    assert_eq!(c.lichen(0, &["status"]).1, 1);
    assert_eq!(c.lichen(0, &["status", "--wait", "1"]).1, 1);

    c.nodes[0].subnet = "10.100.1.0/24".into();
    c.publish(0);
    let (out, code) = c.lichen(0, &["status", "--wait", "10"]);
    assert_eq!(code, 0, "ready within the wait: {out}");
    let (json, code) = c.lichen(0, &["status", "-o", "json"]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json.starts_with(r#"{"node":"node1","backend":"host-gw","subnets":["10.100.1.0/24"]"#),
        "{json}"
    );
    assert!(
        json.contains(r#""ready":true"#) && json.contains(r#""name":"node2""#),
        "{json}"
    );
    assert_eq!(c.lichen(0, &["status", "-o", "yaml"]).1, 2);
    assert_eq!(c.http(0, "/readyz").0, 200);
    assert_eq!(c.http(0, "/healthz").0, 200);
    assert!(c.status(0).contains("ready:    yes"));
    assert!(!c.route(0, "10.100.2.0/24").is_empty());
}

/// A Node that keeps no podCIDR (microk8s' controller-manager allocates none) is told, after the
/// wait (`LICHEN_PODCIDR_WAIT`, here 1 s), exactly what to change: in `lichen status` for as long
/// as it waits, and once in the log.
#[test]
fn a_node_without_pod_cidr_is_told_how_to_get_one() {
    testkit::require_root!();
    let mut c = Cluster::new("nocidr", 2, r#"{"Type":"host-gw"}"#);
    let no_cidr = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node1"},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.11"}]}}"#;
    c.put_object("node1.json", no_cidr);
    c.agent_env = vec![("LICHEN_PODCIDR_WAIT".into(), "1".into())];
    // the DaemonSet's hand-off: the installer stages the conflist, the agent writes it into the
    // runtime's conf dir only once the node is programmed
    let (staged, conf_dir) = (c.dir.join("staged.conflist"), c.dir.join("net.d"));
    let (out, code) = c.lichen(
        0,
        &[
            "install",
            "--bin-dir",
            c.dir.join("bin").to_str().unwrap(),
            "--stage",
            staged.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}");
    c.nodes[0].args = [
        "--cni-conf-dir",
        conf_dir.to_str().unwrap(),
        "--cni-conflist",
        staged.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    c.start_agent(0);
    let flags = "--allocate-node-cidrs=true --cluster-cidr=10.100.0.0/16 --node-cidr-mask-size=24";
    wait_for("the hint in lichen status", WAIT, || {
        c.status(0).contains(flags)
    });
    let st = c.status(0);
    for want in [
        r#"Node "node1" has had no spec.podCIDR"#,
        "/var/snap/microk8s/current/args/kube-controller-manager on every control-plane node",
        "snap restart microk8s.daemon-kubelite",
    ] {
        assert!(st.contains(want), "{want:?} in\n{st}");
    }
    assert_eq!(c.http(0, "/readyz").0, 503);
    assert_eq!(c.http(0, "/healthz").0, 200);

    // More passes while it waits: the status keeps the hint, the log said it once.
    let runs = |st: &str| -> u64 {
        let i = st.find(" runs,").expect("a run count");
        st[..i].rsplit('(').next().unwrap().parse().unwrap()
    };
    let before = runs(&st);
    c.put_object(
        "node3.json",
        &testkit::node_json("node3", "10.100.3.0/24", "198.51.100.13"),
    );
    wait_for("another pass", WAIT, || runs(&c.status(0)) > before);
    assert!(c.status(0).contains(flags));
    let log = c.agent_log(0);
    let warned: Vec<&str> = log.lines().filter(|l| l.contains(flags)).collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(warned[0].contains("WARN"), "{}", warned[0]);
    assert!(!c.subnet_file(0).exists());
    assert!(
        !conf_dir.join("10-lichen.conflist").exists(),
        "no conflist before the node works"
    );

    c.publish(0);
    wait_for("ready once the podCIDR is there", WAIT, || {
        c.http(0, "/readyz").0 == 200
    });
    assert!(!c.status(0).contains("waiting:"));
    assert!(c.subnet_file(0).exists());
    assert_eq!(
        fs::read_to_string(conf_dir.join("10-lichen.conflist")).unwrap(),
        fs::read_to_string(&staged).unwrap(),
        "the staged conflist, in place once ready"
    );
}
