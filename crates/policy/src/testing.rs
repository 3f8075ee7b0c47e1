//! Builders of small clusters for policy tests: nodes n1 and n2, namespaces, pods and
//! policies (through the real parser), and a reachability check over `explain`. This crate's
//! tests use them, and so do the agent's (through feature `testing`, enabled only from
//! `lichen`'s `[dev-dependencies]`: never in the shipped binary).

use std::net::IpAddr;

use lichen_kube::k8s::{
    ContainerPort, Labels, Namespace, NetworkPolicy, Node, Object, Pod, PodPhase, Protocol,
};
use lichen_kube::model::ClusterState;

use crate::{compile, Ruleset};

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
            wg_public_key: None,
            wg_endpoint: None,
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
        let e = rs.explain(crate::Packet {
            src: ip(src),
            dst: ip(dst),
            protocol: proto,
            port,
        });
        assert_eq!(e.allowed(), want, "on {node}: {e}");
        // The free function compiles the same ruleset.
        assert_eq!(crate::explain(s, node, ip(src), ip(dst), port, proto), e);
    }
}
