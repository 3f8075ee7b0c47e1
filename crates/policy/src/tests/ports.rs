//! Ports: numbers, ranges, protocols, and named ports resolved per destination pod.

use super::*;
use crate::ruleset::{AddrPort, Set};

const A: &str = "10.42.1.10"; // app/a on n1: "http" = 8080/TCP, "dns" = 53/UDP
const B: &str = "10.42.1.11"; // app/b on n1: "http" = 9090/TCP, "dns" = 5353/TCP (not UDP)
const C: &str = "10.42.2.10"; // app/c on n2: "http" = 3000/TCP
const CLIENT: &str = "10.42.2.99";

fn base() -> ClusterState {
    let mut s = cluster();
    pod_with_ports(
        &mut s,
        "app/a",
        "n1",
        A,
        &[("role", "server")],
        &[("http", 8080, TCP), ("dns", 53, UDP)],
    );
    pod_with_ports(
        &mut s,
        "app/b",
        "n1",
        B,
        &[("role", "server")],
        &[("http", 9090, TCP), ("dns", 5353, TCP)],
    );
    pod_with_ports(
        &mut s,
        "app/c",
        "n2",
        C,
        &[("role", "server")],
        &[("http", 3000, TCP)],
    );
    pod(&mut s, "app/client", "n2", CLIENT, &[("role", "client")]);
    s
}

#[test]
fn numbers_ranges_and_protocols() {
    let mut s = base();
    policy(
        &mut s,
        "app/p",
        r#"{"podSelector":{"matchLabels":{"role":"server"}},"ingress":[{"ports":[
        {"port":80},{"port":"53","protocol":"UDP"},{"port":30000,"endPort":30010,"protocol":"TCP"},
        {"protocol":"SCTP"}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (CLIENT, A, 80, TCP, true),
            (CLIENT, A, 80, UDP, false),
            (CLIENT, A, 53, UDP, true),
            (CLIENT, A, 53, TCP, false),
            (CLIENT, A, 30000, TCP, true),
            (CLIENT, A, 30010, TCP, true),
            (CLIENT, A, 30011, TCP, false),
            (CLIENT, A, 29999, TCP, false),
            (CLIENT, A, 30005, UDP, false),
            (CLIENT, A, 1, SCTP, true),
            (CLIENT, A, 65535, SCTP, true),
            (CLIENT, A, 81, TCP, false),
        ],
    );
}

#[test]
fn protocol_only_and_empty_ports() {
    let mut s = base();
    policy(
        &mut s,
        "app/p",
        r#"{"podSelector":{},"ingress":[
        {"from":[{"podSelector":{"matchLabels":{"role":"client"}}}],"ports":[{"protocol":"UDP"}]},
        {"from":[{"podSelector":{"matchLabels":{"role":"server"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (CLIENT, A, 123, UDP, true),
            (CLIENT, A, 123, TCP, false),
            (C, A, 123, TCP, true),
            (C, B, 1, SCTP, true),
        ],
    );
}

#[test]
fn ingress_named_ports_resolve_on_each_selected_pod() {
    let mut s = base();
    policy(
        &mut s,
        "app/p",
        r#"{"podSelector":{"matchLabels":{"role":"server"}},
        "ingress":[{"ports":[{"port":"http"},{"port":"dns","protocol":"UDP"}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (CLIENT, A, 8080, TCP, true),
            (CLIENT, A, 9090, TCP, false), // b's http, not a's
            (CLIENT, B, 9090, TCP, true),
            (CLIENT, B, 8080, TCP, false),
            (CLIENT, A, 53, UDP, true),
            (CLIENT, B, 5353, UDP, false), // b's dns is TCP
            (CLIENT, B, 5353, TCP, false),
        ],
    );
    check(
        &s,
        "n2",
        &[(A, C, 3000, TCP, true), (A, C, 8080, TCP, false)],
    );
    // The named set holds only the local selected pods' ports.
    let rs = compile(&s, "n1");
    let Some(Set::AddrPorts(named)) = rs.sets.get("ingress/app/p/0/named") else {
        panic!("{:?}", rs.sets.keys().collect::<Vec<_>>());
    };
    let e = |a: &str, protocol, port| AddrPort {
        addr: ip(a),
        protocol,
        port,
    };
    assert_eq!(named, &[e(A, TCP, 8080), e(A, UDP, 53), e(B, TCP, 9090)]);
}

#[test]
fn egress_named_ports_resolve_on_each_peer_pod() {
    let mut s = base();
    pod(
        &mut s,
        "app/client",
        "n1",
        "10.42.1.99",
        &[("role", "client")],
    );
    const CL: &str = "10.42.1.99";
    policy(
        &mut s,
        "app/out",
        r#"{"podSelector":{"matchLabels":{"role":"client"}},"policyTypes":["Egress"],
        "egress":[{"to":[{"podSelector":{"matchLabels":{"role":"server"}}}],"ports":[{"port":"http"},{"port":443}]},
                  {"to":[{"ipBlock":{"cidr":"203.0.113.0/24"}}],"ports":[{"port":"http"}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (CL, A, 8080, TCP, true),
            (CL, B, 9090, TCP, true),
            (CL, C, 3000, TCP, true),
            (CL, C, 8080, TCP, false),
            (CL, A, 3000, TCP, false),
            (CL, A, 443, TCP, true),
            (CL, C, 443, TCP, true),
            (CL, "203.0.113.9", 8080, TCP, false), // a name resolves on pods only
            (CL, "203.0.113.9", 443, TCP, false),
        ],
    );
}
