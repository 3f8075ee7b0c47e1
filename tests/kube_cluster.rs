//! The agents driven by the Kubernetes API end to end: three node namespaces on an underlay,
//! the test API server (crates/testkit/src/kube_api.rs) in its own namespace on that underlay at
//! 198.51.100.250:6443, one `lichen agent --kubeconfig` per node. For both backends: the same
//! cluster network as with --cluster-dir, a Node deleted in the API unprogrammed on the others,
//! the PATCHes the agents send, and API outages (cut connections, refused connections,
//! forgotten history) that leave the data plane as it was until the API is back.

mod common;

use std::time::Duration;

use common::cluster::*;
use common::kube_api::{Auth, Recorded};
use common::*;

const WAIT: Duration = Duration::from_secs(15);

fn patches(c: &Cluster) -> Vec<Recorded> {
    c.api()
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

/// Every agent's status PATCH has arrived.
fn wait_for_status_patches(c: &Cluster) {
    wait_for("every node's status PATCH", WAIT, || {
        c.nodes.iter().all(|n| {
            let t = format!("/api/v1/nodes/{}/status", n.name);
            patches(c).iter().any(|r| r.target == t && r.status == 200)
        })
    });
}

/// The MAC of `lichen.1` in node `k`.
fn device_mac(c: &Cluster, k: usize) -> String {
    let out = c.nodes[k].ns.ip(&["link", "show", "lichen.1"]).unwrap();
    let i = out.find("link/ether ").expect("a MAC") + 11;
    out[i..i + 17].to_owned()
}

/// What the agents sent is what the API expects: paths, content types, bodies, credentials;
/// and no request beyond list/watch of Nodes and these PATCHes.
fn check_patches(c: &Cluster, vxlan: bool) {
    wait_for_status_patches(c);
    if vxlan {
        wait_for("every node's VTEP MAC annotation", WAIT, || {
            c.nodes.iter().all(|n| {
                c.api()
                    .node(&n.name)
                    .is_some_and(|j| j.contains("lichen.dev/vtep-mac"))
            })
        });
    }
    // Let the agents see the patched Nodes (no timing is asserted: a late agent would only
    // send another PATCH, which the count below would catch).
    std::thread::sleep(Duration::from_secs(1));
    let all = c.api().requests();
    assert_only_node_reads_and_patches(&all);
    for (k, n) in c.nodes.iter().enumerate() {
        assert_status_patch(&all, &n.name);
        let ann: Vec<&Recorded> = all
            .iter()
            .filter(|r| r.target == format!("/api/v1/nodes/{}", n.name))
            .collect();
        if !vxlan {
            assert!(ann.is_empty(), "host-gw publishes no annotation: {ann:?}");
            continue;
        }
        assert_vtep_annotation(c, k, &ann);
    }
}

/// Every request has the agents' credentials, and is a GET of Nodes (list or watch) or a PATCH.
fn assert_only_node_reads_and_patches(all: &[Recorded]) {
    for r in all {
        assert_eq!(r.auth, Auth::Bearer(API_TOKEN.into()), "{r:?}");
        if r.method == "GET" {
            let path = r.target.split('?').next().unwrap();
            assert_eq!(path, "/api/v1/nodes", "{r:?}");
        } else {
            assert_eq!(r.method, "PATCH", "{r:?}");
        }
    }
}

/// One status PATCH for Node `name`: NetworkUnavailable false, as a strategic merge patch.
fn assert_status_patch(all: &[Recorded], name: &str) {
    let status: Vec<&Recorded> = all
        .iter()
        .filter(|r| r.target == format!("/api/v1/nodes/{name}/status"))
        .collect();
    assert_eq!(status.len(), 1, "one status PATCH per agent: {status:?}");
    let s = status[0];
    assert_eq!(
        s.content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    assert!(
        s.body.starts_with(
            r#"{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"LichenIsUp""#
        ),
        "{}",
        s.body
    );
    assert!(s.body.contains(r#""lastTransitionTime":"20"#), "{}", s.body);
}

/// `ann`, node `k`'s annotation PATCHes, is one merge patch with its VXLAN device's MAC, sent
/// after the data plane: the device exists with that MAC, and the peers' FDB entries name it.
fn assert_vtep_annotation(c: &Cluster, k: usize, ann: &[&Recorded]) {
    let n = &c.nodes[k];
    assert_eq!(ann.len(), 1, "one annotation PATCH per agent: {ann:?}");
    assert_eq!(
        ann[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    let mac = device_mac(c, k);
    assert_eq!(
        ann[0].body,
        format!(r#"{{"metadata":{{"annotations":{{"lichen.dev/vtep-mac":"{mac}"}}}}}}"#)
    );
    let peer = (k + 1) % c.nodes.len();
    let fdb = c.nodes[peer]
        .ns
        .exec("bridge", &["fdb", "show", "dev", "lichen.1"])
        .unwrap();
    let fdb = String::from_utf8_lossy(&fdb.stdout).into_owned();
    assert!(
        fdb.lines()
            .any(|l| l.starts_with(&mac) && l.contains(&n.ip)),
        "{fdb}"
    );
}

fn from_the_api(backend: &str) {
    let vxlan = backend.contains("vxlan");
    let mut c = Cluster::with_api(if vxlan { "apivx" } else { "apigw" }, 3, backend);
    c.start_agents();
    let pods = pods_everywhere(&c);
    full_mesh(&c, &pods);
    check_patches(&c, vxlan);

    // a Node deleted in the API is unprogrammed on the others; traffic between the rest flows
    c.unpublish(2);
    for k in 0..2 {
        wait_for("the deleted node's route gone", WAIT, || {
            c.route(k, "10.100.3.0/24").is_empty()
        });
    }
    if vxlan {
        let fdb = c.nodes[0]
            .ns
            .exec("bridge", &["fdb", "show", "dev", "lichen.1"])
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&fdb.stdout).contains(&c.nodes[2].ip),
            "FDB entry of the deleted node removed"
        );
    }
    assert!(!pods[0].0.ping(&pods[2].1, 1).unwrap(), "node3 is gone");
    assert!(pods[0].0.ping(&pods[1].1, 2).unwrap());
    // and added back
    c.publish(2);
    wait_for("the node's route back", WAIT, || {
        !c.route(0, "10.100.3.0/24").is_empty()
    });
    assert!(pods[0].0.ping(&pods[2].1, 3).unwrap());
}

#[test]
fn host_gw_three_nodes_from_the_api() {
    testkit::require_root!();
    from_the_api(r#"{"Type":"host-gw"}"#);
}

#[test]
fn vxlan_three_nodes_from_the_api() {
    testkit::require_root!();
    from_the_api(r#"{"Type":"vxlan"}"#);
}

/// Routes to every peer are in place on every node, and a pod on node 1 reaches the others.
fn still_flowing(c: &Cluster, pods: &[(NamedNs, String)], what: &str) {
    for k in 0..c.nodes.len() {
        for (j, n) in c.nodes.iter().enumerate() {
            if j != k {
                assert!(
                    !c.route(k, &n.subnet).is_empty(),
                    "{what}: {}'s route to {} removed",
                    c.nodes[k].name,
                    n.name
                );
            }
        }
    }
    for (_, ip) in &pods[1..] {
        assert!(pods[0].0.ping(ip, 2).unwrap(), "{what}: pod -> {ip}");
    }
}

/// In the API server's namespace, TCP connections to 6443 reset (`refuse`), or accepted again.
fn refuse_api_connections(c: &Cluster, refuse: bool) {
    let rules: &[&str] = if refuse {
        &[
            "add table inet outage",
            "add chain inet outage in { type filter hook input priority 0; }",
            "add rule inet outage in tcp dport 6443 reject with tcp reset",
        ]
    } else {
        &["delete table inet outage"]
    };
    for rule in rules {
        let out = c.api.as_ref().unwrap().ns.exec("nft", &[rule]).unwrap();
        assert!(out.status.success(), "nft {rule}: {out:?}");
    }
}

#[test]
fn api_outage_leaves_the_data_plane_and_the_watch_resumes() {
    testkit::require_root!();
    let mut c = Cluster::with_api("outage", 3, r#"{"Type":"vxlan"}"#);
    c.start_agents();
    let pods = pods_everywhere(&c);
    wait_for_status_patches(&c);
    still_flowing(&c, &pods, "before the outage");

    // 1. the server cuts every watch and closes new connections (TLS fails)
    c.api().set_down(true);
    wait_for("the agents to see the cut", WAIT, || {
        (0..3).all(|k| c.agent_log(k).contains("API: Node watch"))
    });
    still_flowing(&c, &pods, "connections cut");
    // a change the agents cannot see: node3 deleted, history compacted (they must relist)
    c.api().delete_node_unseen("node3");

    // 2. nothing listens: connections are refused (TCP reset)
    refuse_api_connections(&c, true);
    c.api().set_down(false);
    wait_for("the agents to be refused", WAIT, || {
        (0..3).all(|k| c.agent_log(k).contains("Connection refused"))
    });
    still_flowing(&c, &pods, "connections refused");
    let (n, _) = tcp_transfer(&pods[1].0, &pods[1].1, &pods[0].0, 1 << 20);
    assert_eq!(n, 1 << 20, "TCP during the outage");

    // 3. the agents restart during the outage: they program nothing and remove nothing
    c.kill_agent(1);
    c.start_agent(1);
    wait_for("the restarted agent to be refused", WAIT, || {
        c.agent_log(1).contains("Connection refused")
    });
    still_flowing(&c, &pods, "agent restarted during the outage");

    // the API is back: the watch resumes (a relist here), the deletion is applied
    refuse_api_connections(&c, false);
    for k in 0..2 {
        wait_for("node3 unprogrammed after the outage", WAIT, || {
            c.route(k, "10.100.3.0/24").is_empty()
        });
    }
    assert!(pods[0].0.ping(&pods[1].1, 2).unwrap());
    // and a later change too
    c.publish(2);
    for k in 0..2 {
        wait_for("node3 programmed again", WAIT, || {
            !c.route(k, "10.100.3.0/24").is_empty()
        });
    }
    assert!(pods[0].0.ping(&pods[2].1, 3).unwrap());
}
