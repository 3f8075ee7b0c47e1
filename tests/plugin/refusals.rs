//! The plugin's refusals: bad input, an exhausted range, an address leased twice. Each gets
//! the spec's error code and changes nothing.

use std::path::Path;

use super::common::*;
use super::SUBNET;

#[test]
fn exhausted_range_is_a_clear_error_and_status_50() {
    testkit::require_root!();
    let node = Node::new("exh");
    let conf = format!(
        r#"{{"cniVersion":"1.1.0","name":"{}","type":"lichen","mode":"bridge","bridge":"lbr0","ipam":{{"ranges":[[{{"subnet":"10.80.0.0/29","rangeStart":"10.80.0.2","rangeEnd":"10.80.0.3"}}]],"dataDir":"{}"}}}}"#,
        node.network,
        node.data_dir().display()
    );
    let pods: Vec<_> = (0..3).map(|i| node.pod(&format!("p{i}"))).collect();
    assert!(node.cni("ADD", "c0", Some(&pods[0].path), "eth0", &conf).ok);
    assert!(node.cni("ADD", "c1", Some(&pods[1].path), "eth0", &conf).ok);
    let made = node.plugin_links();
    let a = node.cni("ADD", "c2", Some(&pods[2].path), "eth0", &conf);
    assert_eq!(error_code(&a), 100);
    assert!(
        a.stdout.contains("10.80.0.2"),
        "names the range: {}",
        a.stdout
    );
    assert_eq!(node.plugin_links(), made, "a failed ADD leaves no link");
    assert!(!links(&pods[2]).contains(&"eth0".to_string()));
    assert_eq!(node.leases().len(), 2);
    assert_eq!(error_code(&node.cni("STATUS", "", None, "", &conf)), 50);
}

/// What ADD makes in a pod, as iproute2 shows it: its interface `eth0` and the IPv4 addresses
/// on it (IPv6 flags change by themselves while DAD runs).
fn pod_eth0(ns: &NamedNs) -> String {
    ns.ip(&["-o", "link", "show", "dev", "eth0"]).unwrap()
        + &ns.ip(&["-4", "-o", "addr", "show", "dev", "eth0"]).unwrap()
}

/// Where a bad invocation's CNI_NETNS points.
#[derive(Clone, Copy)]
enum Netns {
    /// A pod of its own, with no attachment.
    Other,
    /// The pod attached as "keep" (its eth0 exists).
    Attached,
    /// No namespace at all.
    Missing,
}

/// One bad invocation and the error code it must get.
struct Bad {
    what: &'static str,
    command: &'static str,
    id: &'static str,
    netns: Netns,
    ifname: &'static str,
    /// The config sent, made from the node and its good config.
    conf: fn(&Node, &str) -> String,
    cni_args: Option<&'static str>,
    code: u32,
}

/// An ADD of the good config into the other pod as `eth0`: what most cases change one thing of.
const ADD: Bad = Bad {
    what: "",
    command: "ADD",
    id: "",
    netns: Netns::Other,
    ifname: "eth0",
    conf: |_, good| good.to_owned(),
    cni_args: None,
    code: 0,
};

const BAD: [Bad; 11] = [
    Bad {
        what: "broken JSON",
        id: "x1",
        conf: |_, _| "{\"cniVersion\":".to_owned(),
        code: 6,
        ..ADD
    },
    Bad {
        what: "unknown version",
        id: "x2",
        conf: |_, good| good.replace("1.1.0", "9.9.9"),
        code: 1,
        ..ADD
    },
    Bad {
        what: "bad container id",
        id: "-bad/id",
        code: 4,
        ..ADD
    },
    Bad {
        what: "ifname too long",
        id: "x3",
        ifname: "eth0123456789abc",
        code: 4,
        ..ADD
    },
    Bad {
        what: "ifname with /",
        id: "x4",
        ifname: "et/h0",
        code: 4,
        ..ADD
    },
    Bad {
        what: "ifname ..",
        id: "x5",
        ifname: "..",
        code: 4,
        ..ADD
    },
    Bad {
        what: "network escaping dataDir",
        id: "x6",
        conf: |node, good| good.replace(&node.network, "../../etc"),
        code: 7,
        ..ADD
    },
    Bad {
        what: "missing netns",
        id: "x7",
        netns: Netns::Missing,
        code: 4,
        ..ADD
    },
    Bad {
        what: "ifname exists in the pod",
        id: "x8",
        netns: Netns::Attached,
        code: 102,
        ..ADD
    },
    Bad {
        what: "unknown CNI_ARGS key",
        id: "x9",
        cni_args: Some("FOO=bar"),
        code: 4,
        ..ADD
    },
    Bad {
        what: "unknown command",
        command: "FROB",
        id: "x10",
        code: 4,
        ..ADD
    },
];

#[test]
fn bad_input_gets_the_right_code_and_changes_nothing() {
    testkit::require_root!();
    let node = Node::new("bad");
    let conf = node.conf("1.1.0", SUBNET);
    let pod = node.pod("p");
    // a healthy attachment first, so "nothing changed" has something to compare with
    assert!(node.cni("ADD", "keep", Some(&pod.path), "eth0", &conf).ok);
    let leases = node.leases();
    let made = node.plugin_links();
    let pod_eth0_before = pod_eth0(&pod);
    let other = node.pod("o");
    let missing = Path::new("/run/netns/lichen-does-not-exist");
    let answers: Vec<Answer> = BAD
        .iter()
        .map(|b| {
            let netns = match b.netns {
                Netns::Other => other.path.as_path(),
                Netns::Attached => pod.path.as_path(),
                Netns::Missing => missing,
            };
            let env = b.cni_args.map(|a| ("CNI_ARGS", a)).into_iter().collect();
            let conf = (b.conf)(&node, &conf);
            node.cni_env(b.command, b.id, Some(netns), b.ifname, &conf, env)
        })
        .collect();
    for (Bad { what, code, .. }, answer) in BAD.iter().zip(&answers) {
        assert_eq!(error_code(answer), *code, "{what}: {}", answer.stdout);
        assert!(
            answer.stdout.contains("\"msg\""),
            "{what}: {}",
            answer.stdout
        );
        assert!(
            answer.stdout.trim_start().starts_with('{'),
            "{what}: stdout is only the error object"
        );
    }
    assert_eq!(node.leases(), leases, "no lease changed");
    assert_eq!(node.plugin_links(), made, "no node link changed");
    assert_eq!(pod_eth0(&pod), pod_eth0_before, "the pod is untouched");
    assert!(!links(&other).contains(&"eth0".to_string()));
}

#[test]
fn requested_ip_through_cni_args_and_capability() {
    testkit::require_root!();
    let node = Node::new("req");
    let conf = node.conf("1.1.0", SUBNET);
    let pod = node.pod("p");
    let a = node.cni_env(
        "ADD",
        "c1",
        Some(&pod.path),
        "eth0",
        &conf,
        vec![("CNI_ARGS", "IgnoreUnknown=1;IP=10.77.0.42;K8S_POD_NAME=x")],
    );
    assert!(a.ok, "{}", a.stdout);
    assert_eq!(first_ip(&a.stdout), "10.77.0.42");
    let pod2 = node.pod("p2");
    let cap = extend(&conf, r#""runtimeConfig":{"ips":["10.77.0.42/24"]}"#);
    let b = node.cni("ADD", "c2", Some(&pod2.path), "eth0", &cap);
    assert_eq!(
        error_code(&b),
        101,
        "a leased address cannot be requested twice"
    );
    assert_eq!(node.leases(), vec!["10.77.0.42".to_string()]);
}
