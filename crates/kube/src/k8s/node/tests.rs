use super::*;

const K3S_NODE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/k3s-node.json"
));

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn parses_a_k3s_node() {
    let n = Node::from_json(K3S_NODE).unwrap();
    assert_eq!(n.name, "edge-pi-01");
    assert_eq!(n.resource_version, "1849302");
    assert_eq!(n.pod_cidrs, vec!["10.42.3.0/24".parse::<IpNet>().unwrap()]);
    assert_eq!(n.internal_ips, vec![ip("198.51.100.21")]);
    assert!(n.external_ips.is_empty());
    assert_eq!(n.vtep_mac, Some([0x6a, 0x3e, 0x91, 0x0c, 0x5f, 0xd2]));
    assert_eq!(n.public_ip, Some(ip("198.51.100.21")));
    assert!(!n.deleting);
}

#[test]
fn dual_stack_and_external_addresses() {
    let doc = br#"{"kind":"Node","metadata":{"name":"b","deletionTimestamp":"2025-01-01T00:00:00Z",
        "annotations":{"lichen.dev/vtep-mac":"AA:bb:cc:00:11:22","lichen.dev/public-ip":"2001:db8::5",
        "flannel.alpha.coreos.com/public-ip":"203.0.113.9"}},
        "spec":{"podCIDR":"10.42.1.0/24","podCIDRs":["10.42.1.0/24","fd00:42:1::/64"]},
        "status":{"addresses":[{"type":"InternalIP","address":"203.0.113.5"},
            {"type":"InternalIP","address":"2001:db8::5"},{"type":"ExternalIP","address":"198.51.100.5"},
            {"type":"Hostname","address":"b"}]}}"#;
    let n = Node::from_json(doc).unwrap();
    assert_eq!(
        n.pod_cidrs,
        vec![
            "10.42.1.0/24".parse::<IpNet>().unwrap(),
            "fd00:42:1::/64".parse().unwrap()
        ]
    );
    assert_eq!(n.internal_ips, vec![ip("203.0.113.5"), ip("2001:db8::5")]);
    assert_eq!(n.external_ips, vec![ip("198.51.100.5")]);
    assert_eq!(n.vtep_mac, Some([0xaa, 0xbb, 0xcc, 0x00, 0x11, 0x22]));
    assert_eq!(n.public_ip, Some(ip("2001:db8::5")));
    assert!(n.deleting);
}

#[test]
fn escaped_strings_are_unescaped() {
    // The name carries \u0026, \" and \\ (not valid for a real Node, but it is a string field).
    let doc = br#"{"kind":"Node","metadata":{"name":"a\u0026b\"c\\d","resourceVersion":"7"}}"#;
    let n = Node::from_json(doc).unwrap();
    assert_eq!(n.name, "a&b\"c\\d");
    // The Flannel backend data is itself JSON inside an escaped string.
    let doc = br#"{"metadata":{"name":"x","annotations":{"flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:00:01\"}"}}}"#;
    assert_eq!(
        Node::from_json(doc).unwrap().vtep_mac,
        Some([10, 0, 0, 0, 0, 1])
    );
}

#[test]
fn missing_fields_give_an_empty_node() {
    let n = Node::from_json(br#"{"kind":"Node","metadata":{"name":"bare"}}"#).unwrap();
    assert_eq!(n.name, "bare");
    assert!(n.pod_cidrs.is_empty() && n.internal_ips.is_empty());
    assert_eq!((n.vtep_mac, n.public_ip, n.deleting), (None, None, false));
    let n = Node::from_json(br#"{"metadata":{"name":"n"},"spec":{"podCIDRs":null},"status":{}}"#);
    assert!(n.unwrap().pod_cidrs.is_empty());
}

#[test]
fn rejects_what_cannot_be_routed() {
    assert_eq!(
        Node::from_json(br#"{"kind":"Node","metadata":{}}"#),
        Err(ParseError::MissingField("metadata.name"))
    );
    assert_eq!(
        Node::from_json(br#"{"kind":"Pod","metadata":{"name":"p"}}"#),
        Err(ParseError::WrongKind {
            expected: "Node",
            found: "Pod".into()
        })
    );
    assert_eq!(
        Node::from_json(br#"{"metadata":{"name":"n"},"spec":{"podCIDR":"10.42.300.0/24"}}"#),
        Err(ParseError::InvalidField {
            field: "spec.podCIDRs",
            value: "10.42.300.0/24".into()
        })
    );
    assert!(matches!(
        Node::from_json(br#"{"metadata":{"name":"n"},"spec":{"podCIDR":5}}"#),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        Node::from_json(br#"{"metadata":{"name":"n"}} x"#),
        Err(ParseError::Json(_))
    ));
}

#[test]
fn bad_optional_annotations_are_ignored() {
    let doc = br#"{"metadata":{"name":"n","annotations":{"lichen.dev/vtep-mac":"zz:00:00:00:00:00",
        "lichen.dev/public-ip":"nope","flannel.alpha.coreos.com/backend-data":"{"}}}"#;
    let n = Node::from_json(doc).unwrap();
    assert_eq!((n.vtep_mac, n.public_ip), (None, None));
}

#[test]
fn too_deep_or_too_big_is_refused_before_parsing() {
    let deep = format!(
        r#"{{"metadata":{{"name":"n"}},"x":{}{}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(
        Node::from_json(deep.as_bytes()),
        Err(ParseError::TooDeep {
            max: crate::k8s::json::MAX_DEPTH
        })
    );
    let mut big = br#"{"metadata":{"name":"n"},"pad":""#.to_vec();
    big.resize(crate::k8s::json::MAX_OBJECT_BYTES, b'a');
    big.extend_from_slice(b"\"}");
    assert!(matches!(
        Node::from_json(&big),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn nesting_up_to_the_cap_parses_without_overflowing_the_stack() {
    // The document's object, 62 levels of {"a":[ …, and an innermost {}: 64, all skipped.
    let doc = format!(
        r#"{{"metadata":{{"name":"n"}},"x":{}{{}}{}}}"#,
        r#"{"a":["#.repeat(31),
        r#"]}"#.repeat(31)
    );
    assert_eq!(Node::from_json(doc.as_bytes()).unwrap().name, "n");
    let deeper = doc
        .replacen(r#""x":"#, r#""x":["#, 1)
        .replacen("]}}", "]}]}", 1);
    assert!(matches!(
        Node::from_json(deeper.as_bytes()),
        Err(ParseError::TooDeep { .. })
    ));
}

#[test]
fn wireguard_annotations() {
    // `wg pubkey` output; an IPv6 endpoint in brackets.
    let doc = br#"{"metadata":{"name":"n","annotations":{
        "lichen.dev/wireguard-public-key":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
        "lichen.dev/wireguard-endpoint":"[2001:db8::5]:51820"}}}"#;
    let n = Node::from_json(doc).unwrap();
    let key = n.wg_public_key.unwrap();
    assert_eq!(
        super::super::base64::encode(&key),
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
    );
    assert_eq!(n.wg_endpoint, Some("[2001:db8::5]:51820".parse().unwrap()));
    let doc = br#"{"metadata":{"name":"n","annotations":{
        "lichen.dev/wireguard-endpoint":"203.0.113.9:40000"}}}"#;
    let n = Node::from_json(doc).unwrap();
    assert_eq!(n.wg_endpoint, Some("203.0.113.9:40000".parse().unwrap()));
    assert_eq!(n.wg_public_key, None);
}

#[test]
fn malformed_wireguard_annotations_are_ignored() {
    let node = |key: &str, endpoint: &str| {
        let doc = format!(
            r#"{{"metadata":{{"name":"n","annotations":{{
            "lichen.dev/wireguard-public-key":"{key}","lichen.dev/wireguard-endpoint":"{endpoint}"}}}}}}"#
        );
        let n = Node::from_json(doc.as_bytes()).unwrap();
        (n.wg_public_key, n.wg_endpoint)
    };
    // 31 bytes; 33 bytes; not base64. No port; an unbracketed IPv6; port 0; 0.0.0.0;
    // multicast; a host name.
    let keys = [
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8A==",
        "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8DgA",
        "not a key",
    ];
    let endpoints = [
        "203.0.113.9",
        "2001:db8::5:51820",
        "203.0.113.9:0",
        "0.0.0.0:51820",
        "[ff02::1]:51820",
        "node2:51820",
    ];
    for (key, endpoint) in keys.iter().zip(endpoints.iter().cycle()) {
        assert_eq!(node(key, endpoint), (None, None), "{key} {endpoint}");
    }
    for endpoint in &endpoints[keys.len()..] {
        assert_eq!(node(keys[0], endpoint), (None, None), "{endpoint}");
    }
}
