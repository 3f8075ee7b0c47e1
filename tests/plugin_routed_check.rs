//! CHECK of a routed pod (`"mode": "routed"`, and without `mode`, where CHECK goes by the
//! kernel: a host end without a master was routed): besides the node's routes and proxy ARP,
//! the pod's permanent neighbour entries for its link-local gateways (169.254.1.1, fe80::1,
//! MAC ee:ee:ee:ee:ee:ee) and the host end's fe80::1/64. Each missing or wrong one is its own
//! difference; CHECK passes again once it is put back.

mod common;

use common::*;

const SUBNET: &str = "10.74.0.0/24";
const SUBNET6: &str = "fd74::/64";

/// A dual-stack config of `node` with `mode` (`None`: without the key).
fn conf(node: &Node, mode: Option<&str>) -> String {
    let m = mode
        .map(|m| format!(r#""mode":"{m}","#))
        .unwrap_or_default();
    node.conf("1.1.0", SUBNET)
        .replace(
            &format!(r#"[[{{"subnet":"{SUBNET}"}}]]"#),
            &format!(r#"[[{{"subnet":"{SUBNET}"}}],[{{"subnet":"{SUBNET6}"}}]]"#),
        )
        .replacen(r#""mode":"bridge","#, &m, 1)
}

/// CHECK's answer: `None` when it passed, else its message.
fn check(node: &Node, pod: &NamedNs, with_prev: &str) -> Option<String> {
    let a = node.cni("CHECK", "c1", Some(&pod.path), "eth0", with_prev);
    if a.ok {
        return None;
    }
    assert_eq!(error_code(&a), 105, "{} {}", a.stdout, a.stderr);
    Some(a.stdout)
}

/// Runs `f` (which breaks one thing), asserts that CHECK (with and without `mode`) then says
/// `want`, runs `fix`, and asserts CHECK passes again.
fn breaks(node: &Node, pod: &NamedNs, confs: &[String], want: &str, f: &[&str], fix: &[&str]) {
    let (ns_of, args) = (f[0], &f[1..]);
    let run = |which: &str, args: &[&str]| match which {
        "pod" => pod.ip(args).unwrap(),
        _ => node.ns.ip(args).unwrap(),
    };
    run(ns_of, args);
    for c in confs {
        let msg = check(node, pod, c).unwrap_or_else(|| panic!("CHECK passed after {f:?}"));
        assert!(msg.contains(want), "after {f:?}: want {want:?} in {msg}");
    }
    run(fix[0], &fix[1..]);
    for c in confs {
        assert_eq!(check(node, pod, c), None, "after {fix:?}");
    }
}

#[test]
fn routed_check_wants_the_gateway_neighbours_and_the_host_ends_fe80_1() {
    testkit::require_root!();
    let node = Node::new("rtnb");
    let routed = conf(&node, Some("routed"));
    let pod = node.pod("p");
    let add = node.cni("ADD", "c1", Some(&pod.path), "eth0", &routed);
    assert!(add.ok, "{} {}", add.stdout, add.stderr);
    let host = lichen::cni::CniResult::parse(add.stdout.as_bytes())
        .unwrap()
        .interfaces[0]
        .name
        .clone();
    let prev = format!(r#""prevResult":{}"#, add.stdout.trim());
    let confs = [extend(&routed, &prev), extend(&conf(&node, None), &prev)];
    for c in &confs {
        assert_eq!(check(&node, &pod, c), None, "an intact attachment");
    }
    let ee = "ee:ee:ee:ee:ee:ee";
    let put_back = |gw: &'static str| -> Vec<&str> {
        vec![
            "pod",
            "neigh",
            "replace",
            gw,
            "lladdr",
            ee,
            "nud",
            "permanent",
            "dev",
            "eth0",
        ]
    };
    breaks(
        &node,
        &pod,
        &confs,
        "the pod's neighbour entry for its gateway 169.254.1.1 (permanent, ee:ee:ee:ee:ee:ee) is missing",
        &["pod", "neigh", "del", "169.254.1.1", "dev", "eth0"],
        &put_back("169.254.1.1"),
    );
    breaks(
        &node,
        &pod,
        &confs,
        "the pod's neighbour entry for its gateway fe80::1 (permanent, ee:ee:ee:ee:ee:ee) is missing",
        &["pod", "neigh", "del", "fe80::1", "dev", "eth0"],
        &put_back("fe80::1"),
    );
    breaks(
        &node,
        &pod,
        &confs,
        "the pod's neighbour entry for its gateway 169.254.1.1 has MAC 02:00:00:00:00:01, not ee:ee:ee:ee:ee:ee",
        &["pod", "neigh", "replace", "169.254.1.1", "lladdr", "02:00:00:00:00:01", "nud", "permanent", "dev", "eth0"],
        &put_back("169.254.1.1"),
    );
    breaks(
        &node,
        &pod,
        &confs,
        "the pod's neighbour entry for its gateway 169.254.1.1 is not permanent",
        &[
            "pod",
            "neigh",
            "replace",
            "169.254.1.1",
            "lladdr",
            ee,
            "nud",
            "reachable",
            "dev",
            "eth0",
        ],
        &put_back("169.254.1.1"),
    );
    let gone = format!("the gateway address fe80::1/64 is missing on the host end {host}");
    breaks(
        &node,
        &pod,
        &confs,
        &gone,
        &["node", "addr", "del", "fe80::1/64", "dev", &host],
        &["node", "addr", "add", "fe80::1/64", "dev", &host, "nodad"],
    );
}
