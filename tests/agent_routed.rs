//! The node agents with pods attached in the plugin's routed mode (`"mode": "routed"`: no
//! bridge, a /32 route per pod on its node): pods reach each other across nodes on host-gw and
//! VXLAN and on one node, egress is masqueraded and pod-to-pod is not, and the agents neither
//! remove the plugin's pod routes nor warn about them.

mod common;

use std::time::Duration;

use common::cluster::*;
use common::*;

const WAIT: Duration = Duration::from_secs(10);

fn routed_cluster(tag: &str, backend: &str) -> (Cluster, NamedNs) {
    let mut c = Cluster::new(tag, 3, backend);
    c.pod_mode = "routed";
    let outside = NamedNs::create(&testkit::unique_name("lc", "outside")).unwrap();
    c.lan
        .attach(&outside, "eth0", "198.51.100.200/24", "out")
        .unwrap();
    c.start_agents();
    (c, outside)
}

fn routed_cross_node(tag: &str, backend: &str) {
    let (mut c, outside) = routed_cluster(tag, backend);
    let mut pods = pods_everywhere(&c);
    // routed: no bridge on the node, the pod's /32 with the link-local gateway
    let (ref p0, ref ip0) = pods[0];
    assert!(!links(&c.nodes[0].ns).contains(&"lichen0".to_string()));
    let r = p0.ip(&["route", "show", "default"]).unwrap();
    assert!(r.contains("via 169.254.1.1 dev eth0 onlink"), "{r}");
    let routes = c.nodes[0]
        .ns
        .ip(&["route", "show", "proto", "109"])
        .unwrap();
    assert!(routes.contains(&format!("{ip0} dev lic")), "{routes}");
    full_mesh(&c, &pods);
    // a second pod on node1: same-node traffic is routed too
    pods.push(c.pod(0, "same"));
    let (p3, ip3) = (&pods[3].0, pods[3].1.clone());
    assert!(p3.ping(&pods[0].1, 1).unwrap(), "same-node pod -> pod");
    let (_, seen) = tcp_transfer(&pods[0].0, &pods[0].1, p3, 1 << 20);
    assert_eq!(seen, ip3, "same-node pod-to-pod keeps the pod address");
    // egress leaves with the node's address
    let (_, seen) = tcp_transfer(&outside, "198.51.100.200", &pods[0].0, 1024);
    assert_eq!(
        seen, c.nodes[0].ip,
        "the outside host sees the node's address"
    );
    // the agents leave the plugin's routes alone and do not warn about them, also after a
    // restart (a full pass over the kernel's routes)
    c.kill_agent(0);
    c.start_agent(0);
    wait_for("node1's agent to finish a pass", WAIT, || {
        let st = c.status(0);
        st.contains("synced:") && !st.contains("synced:   never")
    });
    let st = c.status(0);
    assert!(!st.contains("inside the cluster network"), "{st}");
    let routes = c.nodes[0]
        .ns
        .ip(&["route", "show", "proto", "109"])
        .unwrap();
    assert!(routes.contains(&format!("{ip3} dev lic")), "{routes}");
    full_mesh(&c, &pods[..3]);
}

#[test]
fn routed_pods_host_gw_three_nodes() {
    testkit::require_root!();
    routed_cross_node("rthg", r#"{"Type":"host-gw"}"#);
}

#[test]
fn routed_pods_vxlan_three_nodes() {
    testkit::require_root!();
    routed_cross_node("rtvx", r#"{"Type":"vxlan"}"#);
}
