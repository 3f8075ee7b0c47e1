use super::*;
use crate::k8s::labels::{Labels, Operator};

const POLICY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/k8s-netpol.json"
));

fn parse(spec: &str) -> Result<NetworkPolicy, ParseError> {
    NetworkPolicy::from_json(
        format!(
            r#"{{"kind":"NetworkPolicy","metadata":{{"name":"p","namespace":"ns"}},"spec":{spec}}}"#
        )
        .as_bytes(),
    )
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn parses_a_kubectl_policy_and_its_ingress() {
    let p = NetworkPolicy::from_json(POLICY).unwrap();
    assert_eq!(
        (p.namespace.as_str(), p.name.as_str()),
        ("shop", "web-allow")
    );
    assert_eq!(
        p.pod_selector.match_labels,
        Labels::from([("tier", "frontend")])
    );
    assert_eq!(
        p.types,
        PolicyTypes {
            ingress: true,
            egress: true
        }
    );
    assert_eq!(p.ingress.len(), 1);
    let rule = &p.ingress[0];
    match &rule.peers[0] {
        Peer::Pods {
            namespaces: None,
            pods: Some(s),
        } => {
            assert_eq!(s.match_expressions.len(), 2);
            assert_eq!(s.match_expressions[0].operator, Operator::In);
            assert_eq!(s.match_expressions[0].values, ["frontend", "gateway"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &rule.peers[1],
        Peer::Pods {
            namespaces: Some(_),
            pods: None
        }
    ));
    assert_eq!(
        rule.ports,
        vec![
            PolicyPort {
                protocol: Protocol::Tcp,
                port: Some(PortRef::Name("http".into())),
                end_port: None
            },
            PolicyPort {
                protocol: Protocol::Tcp,
                port: Some(PortRef::Number(9113)),
                end_port: None
            },
        ]
    );
}

#[test]
fn parses_a_kubectl_policys_egress() {
    let p = NetworkPolicy::from_json(POLICY).unwrap();
    assert_eq!(p.egress.len(), 2);
    assert!(matches!(
        &p.egress[0].peers[0],
        Peer::Pods {
            namespaces: Some(_),
            pods: Some(_)
        }
    ));
    assert_eq!(p.egress[0].ports[0].protocol, Protocol::Udp);
    assert_eq!(
        p.egress[1].peers,
        vec![Peer::IpBlock(IpBlock {
            cidr: net("203.0.113.0/24"),
            except: vec![net("203.0.113.128/25")]
        })]
    );
    assert_eq!(p.egress[1].ports[0].end_port, Some(32768));
    assert_eq!(p.egress[1].ports[0].port, Some(PortRef::Number(32000)));
}

#[test]
fn policy_types_implied_and_explicit() {
    let t = |spec: &str| parse(spec).unwrap().types;
    let ti = |ingress, egress| PolicyTypes { ingress, egress };
    assert_eq!(t(r#"{"podSelector":{}}"#), ti(true, false));
    assert_eq!(t(r#"{"podSelector":{},"egress":[{}]}"#), ti(true, true));
    assert_eq!(t(r#"{"podSelector":{},"egress":[]}"#), ti(true, false));
    assert_eq!(
        t(r#"{"podSelector":{},"policyTypes":["Egress"]}"#),
        ti(false, true)
    );
    assert_eq!(
        t(r#"{"podSelector":{},"policyTypes":[],"ingress":[{}]}"#),
        ti(true, false)
    );
    assert!(parse(r#"{"podSelector":{},"policyTypes":["Sideways"]}"#).is_err());
}

#[test]
fn empty_and_allow_all_rules() {
    let p = parse(r#"{"podSelector":{},"ingress":[{}]}"#).unwrap();
    assert_eq!(p.ingress, vec![PolicyRule::default()]);
    let p = parse(r#"{"podSelector":{},"ingress":[]}"#).unwrap();
    assert!(p.ingress.is_empty());
    let p =
        parse(r#"{"podSelector":{"matchLabels":{"a":"b"}},"ingress":[{"from":[],"ports":[]}]}"#)
            .unwrap();
    assert_eq!(p.ingress, vec![PolicyRule::default()]);
    assert!(!p.pod_selector.is_empty());
}

#[test]
fn ports_protocols_and_names() {
    let p = parse(
        r#"{"podSelector":{},"ingress":[{"ports":[{"port":"dns","protocol":"UDP"},
        {"protocol":"SCTP"},{"port":80,"endPort":90},{"port":"8080"}]}]}"#,
    )
    .unwrap();
    let ports = &p.ingress[0].ports;
    assert_eq!(ports[0].port, Some(PortRef::Name("dns".into())));
    assert_eq!(ports[0].protocol, Protocol::Udp);
    assert_eq!(
        (ports[1].protocol, ports[1].port.clone()),
        (Protocol::Sctp, None)
    );
    assert_eq!(
        (ports[2].port.clone(), ports[2].end_port, ports[2].protocol),
        (Some(PortRef::Number(80)), Some(90), Protocol::Tcp)
    );
    // A quoted number is the number (an IANA service name must contain a letter).
    assert_eq!(ports[3].port, Some(PortRef::Number(8080)));
}

#[test]
fn invalid_policies_are_rejected_whole() {
    for spec in [
        r#"{"ingress":[{"from":[{}]}]}"#,
        r#"{"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}]}]}"#,
        r#"{"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/33"}}]}]}"#,
        r#"{"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/16","except":["10.1.0.0/24"]}}]}]}"#,
        r#"{"ingress":[{"ports":[{"port":0}]}]}"#,
        r#"{"ingress":[{"ports":[{"port":65536}]}]}"#,
        r#"{"ingress":[{"ports":[{"port":"http","endPort":90}]}]}"#,
        r#"{"ingress":[{"ports":[{"port":100,"endPort":90}]}]}"#,
        r#"{"ingress":[{"ports":[{"endPort":90}]}]}"#,
        r#"{"ingress":[{"ports":[{"port":80,"protocol":"ICMP"}]}]}"#,
        r#"{"podSelector":{"matchExpressions":[{"key":"a","operator":"In"}]}}"#,
    ] {
        assert!(
            matches!(parse(spec), Err(ParseError::InvalidField { .. })),
            "{spec}: {:?}",
            parse(spec)
        );
    }
    assert!(matches!(
        NetworkPolicy::from_json(br#"{"kind":"Pod","metadata":{"name":"x"}}"#),
        Err(ParseError::WrongKind { .. })
    ));
}

#[test]
fn missing_pod_selector_and_namespace_default() {
    let p = NetworkPolicy::from_json(br#"{"metadata":{"name":"x"},"spec":{}}"#).unwrap();
    assert_eq!(p.namespace, "default");
    assert!(p.pod_selector.is_empty());
    assert!(p.types.ingress && !p.types.egress);
}
