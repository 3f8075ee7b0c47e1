//! Requested MACs (`CNI_ARGS` `MAC=`, `args.cni.mac`, the `mac` capability) and the gratuitous
//! ARP / unsolicited NA a pod sends after ADD, with the built binary in namespaces made here.

mod common;

use std::time::{Duration, Instant};

use common::*;

const BRIDGE: &str = "lbr0";

/// A dual-stack config (10.77.0.0/24 and fd77::/64) on `node`.
fn dual_stack(node: &Node) -> String {
    format!(
        r#"{{"cniVersion":"1.0.0","name":"{}","type":"lichen","mode":"bridge","bridge":"{BRIDGE}","ipam":{{"ranges":[[{{"subnet":"10.77.0.0/24"}}],[{{"subnet":"fd77::/64"}}]],"dataDir":"{}"}}}}"#,
        node.network,
        node.data_dir().display()
    )
}

/// The MAC of `ifname` in `ns`, as the kernel has it.
fn kernel_mac(ns: &NamedNs, ifname: &str) -> String {
    let out = ns.ip(&["-o", "link", "show", "dev", ifname]).unwrap();
    let at = out.find("link/ether ").expect("an Ethernet link") + 11;
    out[at..at + 17].to_string()
}

/// The pod interface's MAC in an ADD result.
fn result_mac(stdout: &str) -> String {
    let r = lichen::cni::CniResult::parse(stdout.as_bytes()).expect("a result");
    let pod = r.interfaces.iter().find(|i| !i.sandbox.is_empty()).unwrap();
    pod.mac.clone()
}

/// The node's neighbour entry for `ip` on the bridge: its MAC, if it has one.
fn neigh_mac(node: &Node, ip: &str) -> Option<String> {
    let out = node
        .ns
        .ip(&["neigh", "show", "to", ip, "dev", BRIDGE])
        .unwrap();
    let line = out.lines().find(|l| l.starts_with(&format!("{ip} ")))?;
    let at = line.find("lladdr ")? + 7;
    Some(line[at..at + 17].to_string())
}

/// Waits (up to 5 s, polling) until the node's entry for `ip` has `mac`; returns what it has.
/// The announcement is processed in the kernel's softirq, which may run a moment after the
/// plugin returned.
fn neigh_becomes(node: &Node, ip: &str, mac: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = neigh_mac(node, ip);
        if now.as_deref() == Some(mac) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A neighbour entry the test makes: `ip` at `mac` on the bridge, STALE (as one left behind by
/// an earlier holder of the address).
fn stale_entry(node: &Node, ip: &str, mac: &str) {
    node.ns
        .ip(&[
            "neigh", "replace", ip, "lladdr", mac, "dev", BRIDGE, "nud", "stale",
        ])
        .unwrap();
    assert_eq!(neigh_mac(node, ip).as_deref(), Some(mac));
}

#[test]
fn requested_mac_from_each_source_is_the_pods_and_the_results() {
    testkit::require_root!();
    let node = Node::new("mac");
    let conf = dual_stack(&node);
    let cases = [
        (
            "CNI_ARGS",
            conf.clone(),
            "IgnoreUnknown=1;MAC=0A:58:0A:4D:00:07;IP=10.77.0.7",
            "0a:58:0a:4d:00:07",
        ),
        (
            "args.cni.mac over CNI_ARGS",
            extend(&conf, r#""args":{"cni":{"mac":"0a:58:0a:4d:00:08"}}"#),
            "MAC=0a:58:0a:4d:00:99",
            "0a:58:0a:4d:00:08",
        ),
        (
            "runtimeConfig.mac over args.cni.mac",
            extend(
                &conf,
                r#""runtimeConfig":{"mac":"0a-58-0a-4d-00-09"},"args":{"cni":{"mac":"0a:58:0a:4d:00:98"}}"#,
            ),
            "",
            "0a:58:0a:4d:00:09",
        ),
    ];
    for (i, (what, conf, args, want)) in cases.iter().enumerate() {
        assert_requested_mac(&node, i, what, conf, args, want);
    }
    assert_ip_and_mac_compose(&node, &conf);
}

/// ADD of pod `m<i>` with `conf` and CNI_ARGS `args`: the pod's interface and the result have
/// MAC `want`, and the pod reaches its gateway.
fn assert_requested_mac(node: &Node, i: usize, what: &str, conf: &str, args: &str, want: &str) {
    let pod = node.pod(&format!("m{i}"));
    let id = format!("m{i}");
    let a = node.cni_env(
        "ADD",
        &id,
        Some(&pod.path),
        "eth0",
        conf,
        vec![("CNI_ARGS", args)],
    );
    assert!(a.ok, "{what}: {} {}", a.stdout, a.stderr);
    assert_eq!(
        kernel_mac(&pod, "eth0"),
        want,
        "{what}: the pod's interface"
    );
    assert_eq!(result_mac(&a.stdout), want, "{what}: the result");
    assert!(pod.ping("10.77.0.1", 1).unwrap(), "{what}: pod -> gateway");
}

/// IP= and MAC= compose: both honoured in one ADD.
fn assert_ip_and_mac_compose(node: &Node, conf: &str) {
    let r = lichen::cni::CniResult::parse(
        node.cni_env(
            "ADD",
            "both",
            Some(&node.pod("both").path),
            "eth0",
            conf,
            vec![("CNI_ARGS", "MAC=0a:58:0a:4d:00:20;IP=10.77.0.20,fd77::20")],
        )
        .stdout
        .as_bytes(),
    )
    .expect("ADD with MAC and IP");
    let ips: Vec<String> = r.ips.iter().map(|i| i.address.to_string()).collect();
    assert_eq!(ips, ["10.77.0.20/24", "fd77::20/64"]);
    assert_eq!(r.interfaces[2].mac, "0a:58:0a:4d:00:20");
}

#[test]
fn a_malformed_mac_is_refused_and_changes_nothing() {
    testkit::require_root!();
    let node = Node::new("badmac");
    let conf = dual_stack(&node);
    let keep = node.pod("keep");
    assert!(node.cni("ADD", "keep", Some(&keep.path), "eth0", &conf).ok);
    let (leases, node_links) = (node.leases(), node.links());
    let pod = node.pod("p");
    let cases = [
        ("short", conf.clone(), "MAC=0a:58:0a:4d:00", 4),
        ("not hex", conf.clone(), "MAC=0a:58:0a:4d:00:zz", 4),
        ("multicast", conf.clone(), "MAC=01:00:5e:00:00:01", 4),
        (
            "capability",
            extend(&conf, r#""runtimeConfig":{"mac":"00:00:00:00:00:00"}"#),
            "",
            7,
        ),
        (
            "args.cni",
            extend(&conf, r#""args":{"cni":{"mac":"0a:58:0a:4d:00:07:01"}}"#),
            "",
            7,
        ),
    ];
    for (what, conf, args, code) in &cases {
        let env = vec![("CNI_ARGS", *args)];
        let a = node.cni_env("ADD", "p", Some(&pod.path), "eth0", conf, env.clone());
        assert_eq!(error_code(&a), *code, "{what}: {}", a.stdout);
        assert!(
            a.stdout.contains("MAC") || a.stdout.contains("mac"),
            "{what}: {}",
            a.stdout
        );
        assert_eq!(node.leases(), leases, "{what}: no lease taken");
        assert_eq!(node.links(), node_links, "{what}: no veth left on the node");
        assert_eq!(
            links(&pod),
            vec!["lo".to_string()],
            "{what}: the pod untouched"
        );
        // DEL with the same arguments succeeds: the runtime cleans up after a failed ADD.
        let d = node.cni_env("DEL", "p", Some(&pod.path), "eth0", conf, env);
        assert!(d.ok, "{what}: DEL {} {}", d.stdout, d.stderr);
    }
}

#[test]
fn the_pod_announces_itself_and_corrects_a_stale_neighbour() {
    testkit::require_root!();
    let node = Node::new("garp");
    let conf = dual_stack(&node);
    // A first pod makes the bridge, where the node keeps its neighbour entries.
    let first = node.pod("first");
    assert!(
        node.cni("ADD", "first", Some(&first.path), "eth0", &conf)
            .ok
    );
    let old = "0a:58:de:ad:be:ef";
    stale_entry(&node, "10.77.0.30", old);
    stale_entry(&node, "fd77::30", old);

    let pod = node.pod("p");
    let args = "MAC=0a:58:0a:4d:00:30;IP=10.77.0.30,fd77::30";
    let a = node.cni_env(
        "ADD",
        "p",
        Some(&pod.path),
        "eth0",
        &conf,
        vec![("CNI_ARGS", args)],
    );
    assert!(a.ok, "{} {}", a.stdout, a.stderr);
    let new = "0a:58:0a:4d:00:30";
    // Nothing but the pod's announcements can have told the node (it sent nothing itself).
    let seen = (
        neigh_becomes(&node, "10.77.0.30", new),
        neigh_becomes(&node, "fd77::30", new),
    );
    let want = (Some(new.to_string()), Some(new.to_string()));
    assert_eq!(seen, want, "(gratuitous ARP, unsolicited NA)");
}

/// ADD of the container `ctr` into `pod` with CNI_ARGS `args`.
fn add_ctr(node: &Node, pod: &NamedNs, conf: &str, args: &str) -> Answer {
    let a = node.cni_env(
        "ADD",
        "ctr",
        Some(&pod.path),
        "eth0",
        conf,
        vec![("CNI_ARGS", args)],
    );
    assert!(a.ok, "{} {}", a.stdout, a.stderr);
    a
}

fn del_ctr(node: &Node, pod: &NamedNs, conf: &str) {
    let d = node.cni_env("DEL", "ctr", Some(&pod.path), "eth0", conf, vec![]);
    assert!(d.ok, "{} {}", d.stdout, d.stderr);
}

#[test]
fn podman_reload_keeps_mac_and_ip_and_the_node_follows() {
    testkit::require_root!();
    let node = Node::new("reload");
    let conf = dual_stack(&node);
    // Another pod keeps the bridge's carrier up across the DEL: with none, the kernel flushes
    // the bridge's neighbour entries when its last port goes.
    let other = node.pod("other");
    assert!(
        node.cni("ADD", "other", Some(&other.path), "eth0", &conf)
            .ok
    );
    let pod = node.pod("p");
    let (mac, args) = ("0a:58:0a:4d:00:40", "MAC=0a:58:0a:4d:00:40;IP=10.77.0.40");
    let a = add_ctr(&node, &pod, &conf, args);
    assert_eq!(
        (first_ip(&a.stdout), result_mac(&a.stdout)),
        ("10.77.0.40".into(), mac.into())
    );
    assert!(node.ns.ping("10.77.0.40", 1).unwrap(), "node -> pod");
    assert_eq!(neigh_mac(&node, "10.77.0.40").as_deref(), Some(mac));

    // `podman network reload`: DEL, then ADD with the same MAC and IP.
    del_ctr(&node, &pod, &conf);
    let a = add_ctr(&node, &pod, &conf, args);
    assert_eq!(
        (first_ip(&a.stdout), result_mac(&a.stdout)),
        ("10.77.0.40".into(), mac.into())
    );
    assert_eq!(kernel_mac(&pod, "eth0"), mac);
    assert_eq!(neigh_mac(&node, "10.77.0.40").as_deref(), Some(mac));
    assert!(
        node.ns.ping("10.77.0.40", 1).unwrap(),
        "node -> pod after reload"
    );

    // A runtime that does not keep the MAC: the address comes back on a new MAC, and the
    // node's entry follows it without having sent anything.
    del_ctr(&node, &pod, &conf);
    let a = add_ctr(&node, &pod, &conf, "IP=10.77.0.40");
    let fresh = result_mac(&a.stdout);
    assert_ne!(fresh, mac);
    assert_eq!(neigh_becomes(&node, "10.77.0.40", &fresh), Some(fresh));
    assert!(
        node.ns.ping("10.77.0.40", 1).unwrap(),
        "node -> pod on its new MAC"
    );
}
