//! One test per semantic item, as reachability cells on the node that enforces them: peers
//! (pod and namespace selectors, ipBlocks, host-network and addressless pods, dual stack) and
//! which node enforces which direction. Isolation and rules are in `cases.rs`.

use lichen_kube::k8s::{Pod, PodPhase};

use super::cases::{base, API, DB, DEV_WEB, OUTSIDE, PROM, WEB};
use super::*;
use crate::{Origin, Step};

#[test]
fn bare_pod_selector_peers_are_scoped_to_the_policy_namespace() {
    let mut s = base();
    pod(&mut s, "dev/api", "n2", "10.42.2.21", &[("app", "api")]);
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"api"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[(API, DB, 1, TCP, true), ("10.42.2.21", DB, 1, TCP, false)],
    );
}

#[test]
fn namespace_selectors_alone_and_anded_with_pod_selectors() {
    let mut s = base();
    pod(&mut s, "mon/agent", "n2", "10.42.2.31", &[("app", "agent")]);
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[
        {"from":[{"namespaceSelector":{"matchLabels":{"team":"monitoring"}}}],"ports":[{"port":9187}]},
        {"from":[{"namespaceSelector":{"matchLabels":{"env":"dev"}},"podSelector":{"matchLabels":{"app":"web"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (PROM, DB, 9187, TCP, true),
            ("10.42.2.31", DB, 9187, TCP, true),
            (PROM, DB, 5432, TCP, false),
            (DEV_WEB, DB, 5432, TCP, true),
            (WEB, DB, 5432, TCP, false), // web, but in prod: the AND fails
            (API, DB, 5432, TCP, false),
        ],
    );
    // Two peers (OR) instead of one peer with both selectors (AND).
    let mut s = base();
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[
        {"from":[{"namespaceSelector":{"matchLabels":{"env":"dev"}}},{"podSelector":{"matchLabels":{"app":"web"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (DEV_WEB, DB, 1, TCP, true),
            (WEB, DB, 1, TCP, true),
            (API, DB, 1, TCP, false),
        ],
    );
    // An empty namespaceSelector: every namespace.
    let mut s = base();
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[
        {"from":[{"namespaceSelector":{},"podSelector":{"matchLabels":{"app":"web"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (DEV_WEB, DB, 1, TCP, true),
            (WEB, DB, 1, TCP, true),
            (PROM, DB, 1, TCP, false),
        ],
    );
}

#[test]
fn namespace_without_object_matches_by_name_label() {
    let mut s = base();
    pod(&mut s, "ghost/x", "n2", "10.42.2.40", &[]);
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[
        {"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ghost"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[("10.42.2.40", DB, 1, TCP, true), (PROM, DB, 1, TCP, false)],
    );
}

#[test]
fn ip_blocks_with_except() {
    let mut s = base();
    policy(
        &mut s,
        "prod/web",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Ingress","Egress"],
        "ingress":[{"from":[{"ipBlock":{"cidr":"203.0.113.0/24","except":["203.0.113.0/28"]}}]}],
        "egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.42.0.0/16"]}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            ("203.0.113.20", WEB, 80, TCP, true),
            ("203.0.113.5", WEB, 80, TCP, false),
            (API, WEB, 80, TCP, false),
            (WEB, OUTSIDE, 443, TCP, true),
            (WEB, "198.51.100.77", 443, TCP, true),
            (WEB, DB, 5432, TCP, false),
            (WEB, API, 80, TCP, false),
        ],
    );
}

#[test]
fn node_to_own_pods_is_always_allowed() {
    let mut s = base();
    policy(
        &mut s,
        "prod/deny",
        r#"{"podSelector":{},"policyTypes":["Ingress","Egress"]}"#,
    );
    check(
        &s,
        "n1",
        &[
            ("198.51.100.1", WEB, 8080, TCP, true),  // n1's address
            ("10.42.1.1", DB, 8080, TCP, true),      // n1's bridge gateway
            ("198.51.100.2", WEB, 8080, TCP, false), // another node
            ("10.42.2.1", WEB, 8080, TCP, false),
            (WEB, "198.51.100.1", 10250, TCP, true),
            (WEB, "198.51.100.2", 10250, TCP, false),
        ],
    );
    let e = crate::explain(&s, "n1", ip("198.51.100.1"), ip(WEB), 8080, TCP);
    assert_eq!(e.ingress, Step::Allowed(Origin::NodeTraffic));
    assert!(compile(&s, "n1").established_passes);
}

#[test]
fn ingress_at_the_destination_node_and_egress_at_the_source_node() {
    let mut s = base();
    // api (n2) accepts nothing; web (n1) may send nothing.
    policy(
        &mut s,
        "prod/api",
        r#"{"podSelector":{"matchLabels":{"app":"api"}}}"#,
    );
    policy(
        &mut s,
        "prod/web",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Egress"]}"#,
    );
    // n1 checks web's egress, n2 api's ingress.
    check(
        &s,
        "n1",
        &[
            (WEB, API, 80, TCP, false),
            (DB, API, 80, TCP, true),
            (API, DB, 80, TCP, true),
        ],
    );
    check(
        &s,
        "n2",
        &[
            (WEB, API, 80, TCP, false),
            (DB, API, 80, TCP, false),
            (API, DB, 80, TCP, true),
            (WEB, PROM, 1, TCP, true),
        ],
    );
    let e = crate::explain(&s, "n2", ip(DB), ip(API), 80, TCP);
    assert_eq!(e.egress, Step::NotLocal);
    assert!(matches!(e.ingress, Step::Denied(_)));
}

#[test]
fn host_network_and_addressless_pods_are_not_peers_nor_selected() {
    let mut s = base();
    let mut host = Pod::from_json(br#"{"metadata":{"name":"proxy","namespace":"prod","labels":{"app":"api"}},
        "spec":{"nodeName":"n1","hostNetwork":true},"status":{"phase":"Running","podIP":"198.51.100.9"}}"#).unwrap();
    s.upsert(Object::Pod(host.clone()));
    pod(&mut s, "prod/pending", "n1", "", &[("app", "api")]);
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"api"}}}]}]}"#,
    );
    policy(
        &mut s,
        "prod/all",
        r#"{"podSelector":{"matchLabels":{"app":"api"}}}"#,
    );
    check(
        &s,
        "n1",
        &[(API, DB, 1, TCP, true), ("198.51.100.9", DB, 1, TCP, false)],
    );
    let rs = compile(&s, "n1");
    assert!(!rs.pods.contains_key(&("prod".into(), "proxy".into())));
    assert!(!rs.pods.contains_key(&("prod".into(), "pending".into())));
    // A finished pod's address is gone from the peers.
    host.host_network = false;
    host.phase = PodPhase::Succeeded;
    s.upsert(Object::Pod(host));
    check(&s, "n1", &[("198.51.100.9", DB, 1, TCP, false)]);
}

#[test]
fn dual_stack_pods_are_dispatched_and_peered_by_every_address() {
    let mut s = base();
    pod(
        &mut s,
        "prod/db",
        "n1",
        "10.42.1.11,fd00:42:1::11",
        &[("app", "db")],
    );
    pod(
        &mut s,
        "prod/api",
        "n2",
        "10.42.2.10,fd00:42:2::10",
        &[("app", "api")],
    );
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"api"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            ("fd00:42:2::10", "fd00:42:1::11", 5432, TCP, true),
            ("fd00:42:2::20", "fd00:42:1::11", 5432, TCP, false),
            (API, DB, 5432, TCP, true),
        ],
    );
}
