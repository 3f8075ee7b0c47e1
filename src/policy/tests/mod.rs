//! Pure tests of the policy compiler and `explain`: small clusters, reachability cells checked
//! both ways (allowed and denied), and the ruleset's shape where it matters (churn, names).

mod cases;
mod ports;
mod shape;

use std::net::IpAddr;

use crate::k8s::{
    ContainerPort, Labels, Namespace, NetworkPolicy, Node, Object, Pod, PodPhase, Protocol,
};
use crate::model::ClusterState;

use super::{compile, Ruleset};

pub const TCP: Protocol = Protocol::Tcp;
pub const UDP: Protocol = Protocol::Udp;
pub const SCTP: Protocol = Protocol::Sctp;

/// Nodes n1 (pods 10.42.1.0/24, address 198.51.100.1) and n2 (10.42.2.0/24, 198.51.100.2).
pub fn cluster() -> ClusterState {
    let mut s = ClusterState::default();
    for i in 1..=2u8 {
        s.upsert(Object::Node(Node {
            name: format!("n{i}"),
            resource_version: String::new(),
            pod_cidrs: vec![format!("10.42.{i}.0/24").parse().unwrap()],
            internal_ips: vec![format!("198.51.100.{i}").parse().unwrap()],
            external_ips: Vec::new(),
            vtep_mac: None,
            public_ip: None,
            deleting: false,
        }));
    }
    s
}

pub fn ns(s: &mut ClusterState, name: &str, labels: &[(&str, &str)]) {
    s.upsert(Object::Namespace(Namespace::new(name, labels_of(labels))));
}

pub fn labels_of(pairs: &[(&str, &str)]) -> Labels {
    Labels(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// A running pod `ns/name` on `node` with address `ip` (`""`: none yet).
pub fn pod(s: &mut ClusterState, id: &str, node: &str, ip: &str, labels: &[(&str, &str)]) {
    pod_with_ports(s, id, node, ip, labels, &[]);
}

pub fn pod_with_ports(
    s: &mut ClusterState,
    id: &str,
    node: &str,
    ip: &str,
    labels: &[(&str, &str)],
    ports: &[(&str, u16, Protocol)],
) {
    let (namespace, name) = id.split_once('/').unwrap();
    s.upsert(Object::Pod(Pod {
        namespace: namespace.into(),
        name: name.into(),
        resource_version: String::new(),
        labels: labels_of(labels),
        node_name: Some(node.into()),
        host_network: false,
        ports: ports
            .iter()
            .map(|&(n, port, protocol)| ContainerPort {
                name: Some(n.into()),
                port,
                protocol,
            })
            .collect(),
        ips: ip
            .split(',')
            .filter(|a| !a.is_empty())
            .map(|a| a.parse().unwrap())
            .collect(),
        phase: PodPhase::Running,
        deleting: false,
    }));
}

/// Adds the policy `ns/name` with `spec` (JSON), through the real parser.
pub fn policy(s: &mut ClusterState, id: &str, spec: &str) {
    let (namespace, name) = id.split_once('/').unwrap();
    let doc = format!(
        r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
        "metadata":{{"name":"{name}","namespace":"{namespace}"}},"spec":{spec}}}"#
    );
    let p = NetworkPolicy::from_json(doc.as_bytes()).unwrap_or_else(|e| panic!("{spec}: {e}"));
    s.upsert(Object::NetworkPolicy(p));
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Checks reachability cells on `node`: (src, dst, port, protocol, allowed).
#[track_caller]
pub fn check(s: &ClusterState, node: &str, cells: &[(&str, &str, u16, Protocol, bool)]) {
    let rs: Ruleset = compile(s, node);
    for &(src, dst, port, proto, want) in cells {
        let e = rs.explain(super::Packet {
            src: ip(src),
            dst: ip(dst),
            protocol: proto,
            port,
        });
        assert_eq!(e.allowed(), want, "on {node}: {e}");
        // The free function compiles the same ruleset.
        assert_eq!(super::explain(s, node, ip(src), ip(dst), port, proto), e);
    }
}

/// What wakes the agent's policy reconciler: what `compile` reads for this node, and only
/// that (another Node's change, or this Node's non-address fields, does not recompile).
#[test]
fn inputs_differ_names_what_compile_reads() {
    use super::compile::inputs_differ;
    let base = cluster();
    let changed = |f: &dyn Fn(&mut ClusterState)| {
        let mut s = base.clone();
        f(&mut s);
        inputs_differ(&base, &s, "n1")
    };
    assert!(!changed(&|_| {}));
    // another node: its address, its podCIDR, a new node
    assert!(!changed(&|s| {
        let n2 = s.nodes.get_mut("n2").unwrap();
        n2.internal_ips = vec![ip("198.51.100.9")];
        n2.pod_cidrs = vec!["10.42.9.0/24".parse().unwrap()];
    }));
    assert!(!changed(&|s| {
        let mut n3 = s.nodes["n2"].clone();
        n3.name = "n3".into();
        s.upsert(Object::Node(n3));
    }));
    // this node: a field compile does not read, then its addresses
    assert!(!changed(&|s| {
        s.nodes.get_mut("n1").unwrap().resource_version = "7".into();
    }));
    assert!(changed(&|s| {
        s.nodes.get_mut("n1").unwrap().internal_ips = vec![ip("198.51.100.9")];
    }));
    assert!(changed(&|s| {
        s.nodes.get_mut("n1").unwrap().public_ip = Some(ip("203.0.113.9"));
    }));
    // every policy kind, on any node
    assert!(changed(&|s| ns(s, "a", &[("team", "t")])));
    assert!(changed(&|s| pod(s, "a/web", "n2", "10.42.2.5", &[])));
    assert!(changed(&|s| policy(s, "a/p", r#"{"podSelector":{}}"#)));
}
