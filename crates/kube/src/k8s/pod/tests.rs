use super::*;

const POD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/k8s-pod.json"
));

#[test]
fn parses_a_kubectl_pod() {
    let p = Pod::from_json(POD).unwrap();
    assert_eq!(
        (p.namespace.as_str(), p.name.as_str()),
        ("shop", "web-7d9c6b5f4-x2kqp")
    );
    assert_eq!(p.resource_version, "2290417");
    assert_eq!(p.labels.get("tier"), Some("frontend"));
    assert_eq!(p.labels.0.len(), 3);
    assert_eq!(p.node_name.as_deref(), Some("edge-pi-01"));
    assert!(!p.host_network && !p.deleting);
    assert_eq!(p.phase, PodPhase::Running);
    assert_eq!(
        p.ips,
        vec![
            "10.42.3.17".parse::<IpAddr>().unwrap(),
            "fd00:42:3::11".parse().unwrap()
        ]
    );
    let port = |name: &str, port, protocol| ContainerPort {
        name: Some(name.into()),
        port,
        protocol,
    };
    assert_eq!(
        p.ports,
        vec![
            port("http", 8080, Protocol::Tcp),
            port("metrics", 9113, Protocol::Tcp),
            port("dns", 5353, Protocol::Udp),
            port("dns-tcp", 5353, Protocol::Tcp),
        ]
    );
    assert_eq!(p.named_port("dns", Protocol::Udp), Some(5353));
    assert_eq!(p.named_port("dns", Protocol::Tcp), None);
    assert_eq!(p.named_port("http", Protocol::Tcp), Some(8080));
    assert!(p.has_pod_network());
}

#[test]
fn host_network_pending_and_finished_pods_have_no_pod_network() {
    let p = Pod::from_json(
        br#"{"metadata":{"name":"kube-proxy","namespace":"kube-system"},
        "spec":{"hostNetwork":true,"nodeName":"n1"},
        "status":{"phase":"Running","podIP":"198.51.100.21"}}"#,
    )
    .unwrap();
    assert!(p.host_network && !p.has_pod_network());
    let p =
        Pod::from_json(br#"{"metadata":{"name":"new"},"spec":{},"status":{"phase":"Pending"}}"#)
            .unwrap();
    assert_eq!(p.namespace, "default");
    assert!(p.ips.is_empty() && p.node_name.is_none() && !p.has_pod_network());
    let p = Pod::from_json(
        br#"{"metadata":{"name":"job","namespace":"a","deletionTimestamp":"2025-01-01T00:00:00Z"},
        "status":{"phase":"Succeeded","podIP":"10.42.0.9"}}"#,
    )
    .unwrap();
    assert!(p.deleting && !p.has_pod_network());
}

#[test]
fn rejects_bad_addresses_ports_and_protocols() {
    let bad_ip = br#"{"metadata":{"name":"p"},"status":{"podIPs":[{"ip":"10.42.0.300"}]}}"#;
    assert!(matches!(
        Pod::from_json(bad_ip),
        Err(ParseError::InvalidField {
            field: "status.podIPs",
            ..
        })
    ));
    let bad_port =
        br#"{"metadata":{"name":"p"},"spec":{"containers":[{"ports":[{"containerPort":70000}]}]}}"#;
    assert!(matches!(
        Pod::from_json(bad_port),
        Err(ParseError::InvalidField { .. })
    ));
    let bad_proto = br#"{"metadata":{"name":"p"},"spec":{"containers":[{"ports":[{"containerPort":7,"protocol":"ICMP"}]}]}}"#;
    assert!(matches!(
        Pod::from_json(bad_proto),
        Err(ParseError::InvalidField { .. })
    ));
    assert_eq!(
        Pod::from_json(br#"{"kind":"Pod","metadata":{}}"#),
        Err(ParseError::MissingField("metadata.name"))
    );
}

#[test]
fn namespace_fixture_and_name_label() {
    use crate::k8s::namespace::{Namespace, NAME_LABEL};
    let bytes = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/k8s-namespace.json"
    ));
    let ns = Namespace::from_json(bytes).unwrap();
    assert_eq!(ns.name, "shop");
    assert_eq!(ns.labels.get("team"), Some("storefront"));
    assert_eq!(ns.labels.get(NAME_LABEL), Some("shop"));
    let ns = Namespace::from_json(br#"{"kind":"Namespace","metadata":{"name":"bare"}}"#).unwrap();
    assert_eq!(ns.labels, crate::k8s::Labels::from([(NAME_LABEL, "bare")]));
}
