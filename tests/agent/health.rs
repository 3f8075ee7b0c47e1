//! The agent's own life and health: it exits at once on SIGTERM and SIGINT leaving the data
//! plane, is unready (not unhealthy) while a pass fails, and tells a Node without a podCIDR
//! how to get one.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::common::cluster::*;
use super::WAIT;

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
    c.nodes[0].set_subnet("10.200.1.0/24"); // outside the Network: every pass fails
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

    c.nodes[0].set_subnet("10.100.1.0/24");
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
    assert!(
        json.contains(r#""nodeRules":{"networks":["10.100.0.0/16"],"masquerade":true,"#),
        "{json}"
    );
    assert_eq!(c.lichen(0, &["status", "-o", "yaml"]).1, 2);
    assert_eq!(c.http(0, "/readyz").0, 200);
    assert_eq!(c.http(0, "/healthz").0, 200);
    assert!(c.status(0).contains("ready:    yes"));
    assert!(!c.route(0, "10.100.2.0/24").is_empty());
}

/// The DaemonSet's hand-off on node 0: the installer stages the conflist, the agent (with the
/// arguments set here) writes it into the runtime's conf dir only once the node is programmed.
/// Returns (the staged conflist, the conf dir).
fn stage_conflist(c: &mut Cluster) -> (PathBuf, PathBuf) {
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
    (staged, conf_dir)
}

/// The controller-manager flags the hint names.
const FLAGS: &str =
    "--allocate-node-cidrs=true --cluster-cidr=10.100.0.0/16 --node-cidr-mask-size=24";

/// The hint in `lichen status`, with where to change the flags and what to restart; the agent
/// alive and not ready. Returns the status.
fn assert_hint_in_status(c: &Cluster) -> String {
    wait_for("the hint in lichen status", WAIT, || {
        c.status(0).contains(FLAGS)
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
    st
}

/// More passes while it waits: the status keeps the hint, the log said it once; no subnet file
/// and no conflist yet.
fn assert_hint_kept_and_logged_once(c: &Cluster, st: &str, conf_dir: &Path) {
    let runs = |st: &str| -> u64 {
        let i = st.find(" runs,").expect("a run count");
        st[..i].rsplit('(').next().unwrap().parse().unwrap()
    };
    let before = runs(st);
    c.put_object(
        "node3.json",
        &testkit::node_json("node3", "10.100.3.0/24", "198.51.100.13"),
    );
    wait_for("another pass", WAIT, || runs(&c.status(0)) > before);
    assert!(c.status(0).contains(FLAGS));
    let log = c.agent_log(0);
    let warned: Vec<&str> = log.lines().filter(|l| l.contains(FLAGS)).collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(warned[0].contains("WARN"), "{}", warned[0]);
    assert!(!c.subnet_file(0).exists());
    assert!(
        !conf_dir.join("10-lichen.conflist").exists(),
        "no conflist before the node works"
    );
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
    let (staged, conf_dir) = stage_conflist(&mut c);
    c.start_agent(0);
    let st = assert_hint_in_status(&c);
    assert_hint_kept_and_logged_once(&c, &st, &conf_dir);

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
