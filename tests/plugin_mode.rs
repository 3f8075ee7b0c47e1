//! The plugin without `mode` in its config (the shipped conflist's case): the node decides.
//! A fresh node gets routed pods; a node whose bridge has a port (a pod attached in bridge
//! mode, as by an older Lichen) gets bridged pods until its bridge pods are gone, so old and
//! new pods stay on one L2 segment. Packets prove each case; CHECK checks each pod the way it
//! was attached.

mod common;

use common::*;
use lichen::cni::CniResult;

const SUBNET: &str = "10.76.0.0/24";

/// `node`'s config without `mode` (bridge `lbr0`, as in bridge mode).
fn auto_conf(node: &Node) -> String {
    let conf = node
        .conf("1.1.0", SUBNET)
        .replacen(r#""mode":"bridge","#, "", 1);
    assert!(!conf.contains("\"mode\"") && conf.contains(r#""bridge":"lbr0""#));
    conf
}

fn add(node: &Node, id: &str, pod: &NamedNs, conf: &str) -> (CniResult, String) {
    let a = node.cni("ADD", id, Some(&pod.path), "eth0", conf);
    assert!(a.ok, "ADD {id}: {} {}", a.stdout, a.stderr);
    (CniResult::parse(a.stdout.as_bytes()).unwrap(), a.stdout)
}

/// CHECK of `id` with `conf` and its ADD output as prevResult passes.
fn check_passes(node: &Node, id: &str, pod: &NamedNs, conf: &str, added: &str) {
    let with_prev = extend(conf, &format!(r#""prevResult":{}"#, added.trim()));
    let c = node.cni("CHECK", id, Some(&pod.path), "eth0", &with_prev);
    assert!(c.ok, "CHECK {id}: {} {}", c.stdout, c.stderr);
}

/// The bridge a pod's host end is a port of (`None`: routed), from the kernel.
fn master_of(node: &Node, r: &CniResult) -> Option<String> {
    let host = r.interfaces.iter().find(|i| i.name.starts_with("lic"))?;
    let out = node
        .ns
        .ip(&["-o", "link", "show", "dev", &host.name])
        .unwrap();
    out.split_whitespace()
        .skip_while(|w| *w != "master")
        .nth(1)
        .map(str::to_owned)
}

#[test]
fn a_fresh_node_routes_its_pods() {
    testkit::require_root!();
    let node = Node::new("mdfresh");
    let conf = auto_conf(&node);
    let (p1, p2) = (node.pod("p1"), node.pod("p2"));
    let (r1, out1) = add(&node, "c1", &p1, &conf);
    let (r2, _) = add(&node, "c2", &p2, &conf);
    assert!(!node.links().contains(&"lbr0".to_string()), "no bridge");
    for r in [&r1, &r2] {
        assert_eq!(r.interfaces.len(), 2, "host end and pod: {r:?}");
        assert_eq!(r.ips[0].address.prefix_len(), 32);
        assert_eq!(r.ips[0].gateway.unwrap().to_string(), "169.254.1.1");
        assert_eq!(master_of(&node, r), None);
    }
    let (ip1, ip2) = (r1.ips[0].address.addr(), r2.ips[0].address.addr());
    assert!(p1.ping(&ip2.to_string(), 1).unwrap(), "pod1 -> pod2");
    assert!(p2.ping(&ip1.to_string(), 1).unwrap(), "pod2 -> pod1");
    // the node pings from an address of its own (a node has one: here on its uplink)
    let _client = node.client();
    assert!(node.ns.ping(&ip1.to_string(), 1).unwrap(), "node -> pod");
    check_passes(&node, "c1", &p1, &conf, &out1);
}

#[test]
fn a_node_with_bridge_pods_keeps_bridging_until_they_are_gone() {
    testkit::require_root!();
    let node = Node::new("mdkeep");
    let bridged = node.conf("1.1.0", SUBNET);
    let auto = auto_conf(&node);
    let (old, p2, p3) = (node.pod("old"), node.pod("p2"), node.pod("p3"));
    // the pod an older Lichen (bridge mode) attached
    let (r_old, out_old) = add(&node, "old", &old, &bridged);
    let (r2, out2) = add(&node, "c2", &p2, &auto);
    let (r3, _) = add(&node, "c3", &p3, &auto);
    for r in [&r2, &r3] {
        assert_eq!(r.interfaces[0].name, "lbr0", "bridged: {r:?}");
        assert_eq!(r.ips[0].address.prefix_len(), 24);
        assert_eq!(r.ips[0].gateway.unwrap().to_string(), "10.76.0.1");
        assert_eq!(master_of(&node, r).as_deref(), Some("lbr0"));
    }
    let ip = |r: &CniResult| r.ips[0].address.addr().to_string();
    assert!(p2.ping(&ip(&r_old), 1).unwrap(), "new pod -> old pod");
    assert!(old.ping(&ip(&r3), 1).unwrap(), "old pod -> new pod");
    assert!(p3.ping(&ip(&r2), 1).unwrap(), "new pod -> new pod");
    // CHECK without `mode` checks each the way it was attached: both bridged here
    check_passes(&node, "old", &old, &auto, &out_old);
    check_passes(&node, "c2", &p2, &auto, &out2);

    // once the bridge pods are gone, the next pod is routed; the bridge that stays holds the
    // gateway (.1), which IPAM keeps reserved in routed mode too
    for (id, pod, conf) in [
        ("old", &old, &bridged),
        ("c2", &p2, &auto),
        ("c3", &p3, &auto),
    ] {
        assert!(node.cni("DEL", id, Some(&pod.path), "eth0", conf).ok);
    }
    assert!(node.links().contains(&"lbr0".to_string()));
    let (p4, p5) = (node.pod("p4"), node.pod("p5"));
    let (r4, out4) = add(&node, "c4", &p4, &auto);
    let (r5, _) = add(&node, "c5", &p5, &auto);
    for r in [&r4, &r5] {
        assert_eq!(r.interfaces.len(), 2, "routed: {r:?}");
        assert_eq!(master_of(&node, r), None);
        assert_ne!(ip(r), "10.76.0.1", "the gateway stays reserved");
    }
    // asked for outright, the gateway is refused in routed mode too
    let p6 = node.pod("p6");
    let gw = node.cni_env(
        "ADD",
        "c6",
        Some(&p6.path),
        "eth0",
        &auto,
        vec![("CNI_ARGS", "IP=10.76.0.1")],
    );
    assert_eq!(error_code(&gw), 101, "{} {}", gw.stdout, gw.stderr);
    assert!(!node.leases().contains(&"10.76.0.1".to_string()));
    assert!(p4.ping(&ip(&r5), 1).unwrap(), "routed pod -> routed pod");
    assert!(node.ns.ping(&ip(&r4), 1).unwrap(), "node -> routed pod");
    check_passes(&node, "c4", &p4, &auto, &out4);
}

#[test]
fn an_explicit_mode_wins_over_the_node() {
    testkit::require_root!();
    let node = Node::new("mdforce");
    let bridged = node.conf("1.1.0", SUBNET);
    let routed = bridged.replacen(r#""mode":"bridge""#, r#""mode":"routed""#, 1);
    let (p1, p2) = (node.pod("p1"), node.pod("p2"));
    let (r1, _) = add(&node, "c1", &p1, &bridged);
    assert_eq!(master_of(&node, &r1).as_deref(), Some("lbr0"));
    // the bridge has a port, yet "routed" routes
    let (r2, out2) = add(&node, "c2", &p2, &routed);
    assert_eq!(master_of(&node, &r2), None);
    check_passes(&node, "c2", &p2, &routed, &out2);
    // a bridge-less link named like the bridge does not make a node bridged
    let (p3, other) = (node.pod("p3"), node.pod("other"));
    testkit::veth(&node.ns, "lbr9", "", &other, "eth0", "").unwrap();
    let conf9 = auto_conf(&node).replace(r#""bridge":"lbr0""#, r#""bridge":"lbr9""#);
    let (r3, _) = add(&node, "c3", &p3, &conf9);
    assert_eq!(r3.interfaces.len(), 2, "routed: {r3:?}");
}
