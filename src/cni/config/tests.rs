use super::*;
use crate::cni::result::tests::{BRIDGE_PORTMAP_040, BRIDGE_PORTMAP_100};
use crate::cni::syntax::address_of;
use crate::cni::{Dns, Interface, IpConfig, Route};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A realistic Lichen config as an admin writes it in /etc/cni/net.d (bare form).
fn bare(v: Version) -> String {
    format!(
        r#"{{
  "cniVersion": "{v}",
  "name": "lichen",
  "type": "lichen",
  "bridge": "lichen0",
  "mtu": 1450,
  "hairpinMode": true,
  "isDefaultGateway": true,
  "subnetFile": "/run/lichen/subnet.env",
  "logLevel": "info",
  "logFile": "/var/log/lichen.log",
  "capabilities": {{"ips": true, "portMappings": true}},
  "ipam": {{
    "type": "lichen-ipam",
    "ranges": [
      [{{"subnet": "10.42.1.0/24", "rangeStart": "10.42.1.10", "rangeEnd": "10.42.1.250", "gateway": "10.42.1.1"}}],
      [{{"subnet": "fd00:42:1::/64"}}]
    ],
    "routes": [{{"dst": "0.0.0.0/0"}}, {{"dst": "10.43.0.0/16", "gw": "10.42.1.1"}}],
    "dataDir": "/var/lib/cni/networks"
  }}
}}
"#
    )
}

fn expected(v: Version) -> NetConf {
    NetConf {
        cni_version: v,
        name: "lichen".into(),
        kind: "lichen".into(),
        bridge: "lichen0".into(),
        mtu: Some(1450),
        hairpin_mode: true,
        is_default_gateway: true,
        subnet_file: "/run/lichen/subnet.env".into(),
        log_level: Some("info".into()),
        log_file: Some("/var/log/lichen.log".into()),
        ipam: IpamConf {
            kind: Some("lichen-ipam".into()),
            ranges: vec![
                vec![RangeConf {
                    subnet: net("10.42.1.0/24"),
                    range_start: Some(ip("10.42.1.10")),
                    range_end: Some(ip("10.42.1.250")),
                    gateway: Some(ip("10.42.1.1")),
                }],
                vec![RangeConf {
                    subnet: net("fd00:42:1::/64"),
                    range_start: None,
                    range_end: None,
                    gateway: None,
                }],
            ],
            routes: vec![
                RouteConf {
                    dst: net("0.0.0.0/0"),
                    gw: None,
                },
                RouteConf {
                    dst: net("10.43.0.0/16"),
                    gw: Some(ip("10.42.1.1")),
                },
            ],
            data_dir: Some("/var/lib/cni/networks".into()),
        },
        requested_mac: None,
        requested_ips: vec![],
        valid_attachments: None,
        prev_result: None,
    }
}

/// The prevResult a runtime would hand Lichen for each version: real captured output of the
/// reference bridge+portmap chain where we have it, our own writer's output otherwise.
fn prev_result(v: Version) -> (String, CniResult) {
    let doc = match v {
        Version::V040 => BRIDGE_PORTMAP_040.to_string(),
        Version::V100 => BRIDGE_PORTMAP_100.to_string(),
        _ => {
            let r = CniResult {
                interfaces: vec![
                    Interface {
                        name: "lichen0".into(),
                        mac: "0a:58:0a:2a:01:01".into(),
                        ..Default::default()
                    },
                    Interface {
                        name: "eth0".into(),
                        mac: "0a:58:0a:2a:01:07".into(),
                        sandbox: "/var/run/netns/cni-77".into(),
                        mtu: (v == Version::V110).then_some(1450),
                    },
                ],
                ips: vec![IpConfig {
                    address: net("10.42.1.7/24"),
                    gateway: Some(ip("10.42.1.1")),
                    interface: Some(1),
                }],
                routes: vec![Route {
                    table: (v == Version::V110).then_some(254),
                    ..Route::new(net("0.0.0.0/0"), Some(ip("10.42.1.1")))
                }],
                dns: Dns {
                    nameservers: vec!["10.43.0.10".into()],
                    ..Default::default()
                },
            };
            r.to_json(v)
        }
    };
    let parsed = CniResult::parse(doc.as_bytes()).unwrap();
    (doc, parsed)
}

/// The same plugin as libcni hands it over from a conflist: name and cniVersion injected,
/// runtimeConfig for the capabilities, prevResult from the plugin before.
fn injected(v: Version) -> String {
    let (prev, _) = prev_result(v);
    format!(
        r#"{{"bridge":"lichen0","hairpinMode":true,"ipam":{{"ranges":[[{{"subnet":"10.42.1.0/24"}}]]}},"isDefaultGateway":true,"mtu":1450,
"type":"lichen","cniVersion":"{v}","name":"k8s-pod-network",
"runtimeConfig":{{"ips":["10.42.1.7/24","fd00:42:1::7"],"portMappings":[{{"hostPort":8080,"containerPort":80,"protocol":"tcp"}}]}},
"args":{{"cni":{{"ips":["10.42.1.8"]}},"labels":[{{"key":"app","value":"web"}}]}},
"prevResult":{prev}}}
"#
    )
}

#[test]
fn bare_config_of_every_version() {
    for v in Version::ALL {
        assert_eq!(
            NetConf::parse(bare(v).as_bytes()).unwrap(),
            expected(v),
            "{v}"
        );
        assert_eq!(NetConf::peek_version(bare(v).as_bytes()), v.as_str());
    }
}

#[test]
fn injected_config_with_prev_result_of_every_version() {
    for v in Version::ALL {
        let c = NetConf::parse(injected(v).as_bytes()).unwrap();
        assert_eq!(c.cni_version, v);
        assert_eq!(c.name, "k8s-pod-network");
        assert_eq!(c.ipam.ranges[0][0].subnet, net("10.42.1.0/24"));
        assert!(c.ipam.is_builtin());
        assert_eq!(
            c.requested_ips,
            vec![ip("10.42.1.7"), ip("fd00:42:1::7"), ip("10.42.1.8")]
        );
        let (_, prev) = prev_result(v);
        assert_eq!(c.prev_result.as_ref(), Some(&prev), "{v}");
        assert!(!prev.interfaces.is_empty() && prev.ips[0].interface.is_some());
    }
    let c = NetConf::parse(injected(Version::V110).as_bytes()).unwrap();
    let prev = c.prev_result.unwrap();
    assert_eq!(
        (prev.interfaces[1].mtu, prev.routes[0].table),
        (Some(1450), Some(254))
    );
}

#[test]
fn defaults() {
    let c = NetConf::parse(br#"{"cniVersion":"1.0.0","name":"n","type":"lichen"}"#).unwrap();
    assert_eq!(c.bridge, "lichen0");
    assert_eq!(c.mtu, None);
    assert!(!c.hairpin_mode);
    assert!(c.is_default_gateway);
    assert_eq!(c.subnet_file, PathBuf::from("/run/lichen/subnet.env"));
    assert_eq!((c.log_level, c.log_file), (None, None));
    assert_eq!(c.ipam, IpamConf::default());
    assert!(c.ipam.is_builtin());
    assert_eq!(
        (c.requested_ips, c.valid_attachments, c.prev_result),
        (vec![], None, None)
    );
    // null is the same as absent.
    let c = NetConf::parse(
        br#"{"cniVersion":"1.0.0","name":"n","type":"lichen","mtu":null,"ipam":null,"prevResult":null,"bridge":null}"#,
    )
    .unwrap();
    assert_eq!(
        (c.mtu, c.bridge.as_str(), c.prev_result),
        (None, "lichen0", None)
    );
    let c = NetConf::parse(
        br#"{"cniVersion":"1.0.0","name":"n","type":"bridge","ipam":{"type":"host-local"}}"#,
    )
    .unwrap();
    assert!(!c.ipam.is_builtin());
}

#[test]
fn legacy_single_range_becomes_the_first_set() {
    let c = NetConf::parse(
        br#"{"cniVersion":"0.3.1","name":"n","type":"lichen","ipam":{"type":"host-local",
        "subnet":"10.42.1.0/24","rangeStart":"10.42.1.100","gateway":"10.42.1.1",
        "ranges":[[{"subnet":"fd00::/64"}]]}}"#,
    )
    .unwrap();
    assert_eq!(
        c.ipam.ranges,
        vec![
            vec![RangeConf {
                subnet: net("10.42.1.0/24"),
                range_start: Some(ip("10.42.1.100")),
                range_end: None,
                gateway: Some(ip("10.42.1.1")),
            }],
            vec![RangeConf {
                subnet: net("fd00::/64"),
                range_start: None,
                range_end: None,
                gateway: None,
            }],
        ]
    );
}

#[test]
fn escapes_in_strings() {
    let c = NetConf::parse(
        br#"{"cniVersion":"1.1.0","name":"a\u0030b","type":"lichen",
        "subnetFile":"\/run\/lichen\/subnet.env","logFile":"/var/log/li\"chen\\x.log",
        "ipam":{"ranges":[[{"subnet":"10.42.1.0\/24"}]],"dataDir":"\/var\/lib\/cni\/networks"},
        "cni.dev/valid-attachments":[{"containerID":"c\u0031","ifname":"eth\u0030"}]}"#,
    )
    .unwrap();
    assert_eq!(c.name, "a0b");
    assert_eq!(c.subnet_file, PathBuf::from("/run/lichen/subnet.env"));
    assert_eq!(c.log_file, Some(PathBuf::from("/var/log/li\"chen\\x.log")));
    assert_eq!(c.ipam.ranges[0][0].subnet, net("10.42.1.0/24"));
    assert_eq!(
        c.ipam.data_dir,
        Some(PathBuf::from("/var/lib/cni/networks"))
    );
    assert_eq!(
        c.valid_attachments,
        Some(vec![Attachment {
            container_id: "c1".into(),
            ifname: "eth0".into()
        }])
    );
    // An escaped '/' is still a '/': the name check sees the decoded value.
    let e =
        NetConf::parse(br#"{"cniVersion":"1.1.0","name":"..\/etc","type":"lichen"}"#).unwrap_err();
    assert_eq!(e.code, 7);
    assert!(
        e.msg
            .starts_with(r#"name "../etc" does not start with a letter or digit"#),
        "{}",
        e.msg
    );
}

#[test]
fn trailing_whitespace_is_accepted() {
    for tail in ["\n", "\r\n", "  \n\n", "\t"] {
        let doc = format!(r#"{{"cniVersion":"1.0.0","name":"n","type":"lichen"}}{tail}"#);
        NetConf::parse(doc.as_bytes()).unwrap();
    }
}

#[test]
fn unknown_keys_of_every_type_are_skipped() {
    let doc = br#"{"cniVersion":"1.1.0","name":"n","type":"lichen",
      "cniVersions":["1.0.0","1.1.0"],"num":-12.5e-3,"int":42,"t":true,"f":false,"nul":null,
      "obj":{"deep":{"er":[{"x":[1,2,{"y":"z"}]}]}},"arr":[[],[{}],"s",0,true,null],
      "dns":{"nameservers":["10.43.0.10"]},"capabilities":{"ips":true},
      "ipam":{"type":"lichen-ipam","x":{"a":[1]},"y":[null,{"b":false}],"z":1e3,"w":"s",
        "ranges":[[{"subnet":"10.42.1.0/24","x":{"n":[1]},"y":[true],"z":-1,"w":null}]],
        "routes":[{"dst":"0.0.0.0/0","x":{"a":{}},"y":[[]],"z":0.5,"w":false}]},
      "runtimeConfig":{"portMappings":[{"hostPort":80}],"bandwidth":{"ingressRate":1000},"x":null,"ips":["10.42.1.9"]},
      "args":{"cni":{"ips":[],"x":{"y":1}},"k8s":true},
      "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0","x":{"y":[1]},"n":1,"b":true}],
      "prevResult":{"cniVersion":"1.1.0","x":{"y":[{}]},"ips":[{"address":"10.42.1.9/24","x":[1]}],"n":1.5,"b":false}}
"#;
    let c = NetConf::parse(doc).unwrap();
    assert_eq!(c.ipam.ranges[0][0].subnet, net("10.42.1.0/24"));
    assert_eq!(c.ipam.routes[0].dst, net("0.0.0.0/0"));
    assert_eq!(c.requested_ips, vec![ip("10.42.1.9")]);
    assert_eq!(c.valid_attachments.unwrap().len(), 1);
    assert_eq!(c.prev_result.unwrap().ips[0].address, net("10.42.1.9/24"));
}

#[test]
fn attachments_are_the_union_of_both_keys() {
    let c = NetConf::parse(
        br#"{"cniVersion":"1.1.0","name":"n","type":"lichen",
        "cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"},{"containerID":"b","ifname":"eth0"}],
        "cni.dev/attachments":[{"containerID":"b","ifname":"eth0"},{"containerID":"c","ifname":"net1"}]}"#,
    )
    .unwrap();
    let ids: Vec<_> = c
        .valid_attachments
        .unwrap()
        .into_iter()
        .map(|a| format!("{}/{}", a.container_id, a.ifname))
        .collect();
    assert_eq!(ids, ["a/eth0", "b/eth0", "c/net1"]);
    let c = NetConf::parse(
        br#"{"cniVersion":"1.1.0","name":"n","type":"lichen","cni.dev/attachments":[]}"#,
    )
    .unwrap();
    assert_eq!(c.valid_attachments, Some(vec![]));
}

#[test]
fn depth_guard_runs_before_parsing() {
    let doc = format!(
        r#"{{"cniVersion":"1.0.0","name":"n","type":"lichen","x":{}{}}}"#,
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let e = NetConf::parse(doc.as_bytes()).unwrap_err();
    assert_eq!(e.code, 6);
    assert!(
        e.msg
            .starts_with("network config nests objects/arrays more than 32 levels deep"),
        "{}",
        e.msg
    );
    assert_eq!(NetConf::peek_version(doc.as_bytes()), "1.0.0");
}

fn err(doc: &str) -> CniError {
    NetConf::parse(doc.as_bytes()).unwrap_err()
}

/// A config with `extra` members added to a valid minimal one.
fn with(extra: &str) -> String {
    format!(r#"{{"cniVersion":"1.0.0","type":"lichen",{extra}}}"#)
}

fn with_name(extra: &str) -> String {
    with(&format!(r#""name":"n",{extra}"#))
}

#[test]
fn broken_json_is_code_6() {
    let e = err("{\"cniVersion\":\"1.0.0\",\n\"name\":\"n\"\n\"type\":\"lichen\"}");
    assert_eq!(e.code, 6);
    assert_eq!(
        e.msg,
        "network config is not valid JSON: expected ',' or '}' after an object member at line 3, column 1"
    );
    let e = err("[]");
    assert_eq!(
        (e.code, e.msg.as_str()),
        (
            6,
            "network config: the document must be a JSON object {...}; got []"
        )
    );
    assert_eq!(err("").code, 6);
    assert_eq!(
        NetConf::peek_version(b"{\"cniVersion\": \"0.4.0\", broken"),
        "0.4.0"
    );
    assert_eq!(
        NetConf::peek_version(b"{\"cniVersion\": \"7.0.0\"}"),
        "1.1.0"
    );
    assert_eq!(NetConf::peek_version(b"garbage"), "1.1.0");
}

#[test]
fn bad_versions_are_code_1() {
    let supported = "lichen supports cniVersion 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0";
    for (doc, start) in [
        (
            r#"{"name":"n","type":"lichen"}"#.to_string(),
            "cniVersion is missing: ",
        ),
        (
            r#"{"cniVersion":"0.2.0","name":"n","type":"lichen"}"#.to_string(),
            "cniVersion \"0.2.0\" is not supported: ",
        ),
        (
            r#"{"cniVersion":1.0,"name":"n","type":"lichen"}"#.to_string(),
            "cniVersion 1.0 is not a string: ",
        ),
    ] {
        let e = err(&doc);
        assert_eq!(e.code, 1, "{doc}");
        assert!(e.msg.starts_with(start), "{}", e.msg);
        assert!(e.msg.contains(supported), "{}", e.msg);
    }
}

/// Every bad field value: code 7 and a message that starts with the field and its value.
#[test]
fn bad_fields_are_code_7() {
    let ipam = |inner: &str| with_name(&format!(r#""ipam":{{{inner}}}"#));
    let range = |r: &str| ipam(&format!(r#""ranges":[[{r}]]"#));
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"cniVersion":"1.0.0","type":"lichen"}"#.into(),
            "name is missing: give the network a name",
        ),
        (
            with(r#""name":"""#),
            r#"name "" is empty: use 1-255 letters, digits"#,
        ),
        (
            with(r#""name":".""#),
            r#"name "." does not start with a letter or digit"#,
        ),
        (
            with(r#""name":"..""#),
            r#"name ".." does not start with a letter or digit"#,
        ),
        (with(r#""name":"a/b""#), r#"name "a/b" contains '/'"#),
        (with(r#""name":"a\u0000b""#), r#"name "a\0b" contains '\0'"#),
        // The spec's grammar, as libcni checks it: no newline, space, or other punctuation.
        (
            with(r#""name":"new\nline""#),
            r#"name "new\nline" contains '\n': use 1-255 letters"#,
        ),
        (with(r#""name":"a b""#), r#"name "a b" contains ' '"#),
        (with(r#""name":"a&b""#), r#"name "a&b" contains '&'"#),
        (with(r#""name":"é""#), r#"name "é" does not start"#),
        (with(r#""name":"-x""#), r#"name "-x" does not start"#),
        (
            with(&format!(r#""name":"{}""#, "x".repeat(256))),
            "name \"xxx",
        ),
        (with(r#""name":7"#), "name must be a string; got 7"),
        (
            r#"{"cniVersion":"1.0.0","name":"n"}"#.into(),
            "type is missing: it names the plugin",
        ),
        (
            with_name(r#""bridge":"br:0""#),
            r#"bridge "br:0" is not a valid interface name"#,
        ),
        (
            with_name(r#""bridge":"averyveryverylongbridge""#),
            r#"bridge "averyveryverylongbridge""#,
        ),
        (
            with_name(r#""mtu":67"#),
            "mtu 67 is out of range: use 68 to 65535 (like 1450)",
        ),
        (with_name(r#""mtu":65536"#), "mtu 65536 is out of range"),
        (
            with_name(r#""mtu":"1500""#),
            r#"mtu must be an integer from 68 to 65535; got "1500""#,
        ),
        (
            with_name(r#""mtu":-1"#),
            "mtu must be an integer from 68 to 65535; got -1",
        ),
        (
            with_name(r#""hairpinMode":"yes""#),
            r#"hairpinMode must be true or false; got "yes""#,
        ),
        (
            with_name(r#""isDefaultGateway":1"#),
            "isDefaultGateway must be true or false; got 1",
        ),
        (
            with_name(r#""logLevel":"loud""#),
            r#"logLevel "loud" is not a log level: use one of error, warn, info, debug, trace"#,
        ),
        (
            with_name(r#""subnetFile":"run/subnet.env""#),
            r#"subnetFile "run/subnet.env" is not an absolute path"#,
        ),
        (
            with_name(r#""logFile":"""#),
            r#"logFile "" is not an absolute path"#,
        ),
        (
            with_name(r#""ipam":[]"#),
            "ipam must be a JSON object {...}; got []",
        ),
        (ipam(r#""type":5"#), "ipam.type must be a string; got 5"),
        (
            ipam(r#""ranges":[{"subnet":"10.0.0.0/24"}]"#),
            "ipam.ranges must be a list of range sets like [[",
        ),
        (
            range(r#"{"subnet":"10.0.0.0/33"}"#),
            r#"ipam.ranges[0][0].subnet "10.0.0.0/33" is not a CIDR (like 10.42.0.0/16 or fd00:42::/48)"#,
        ),
        (
            range(r#"{"gateway":"10.0.0.1"}"#),
            "ipam.ranges[0][0].subnet is missing: every range needs one",
        ),
        (
            range(r#"{"subnet":"10.0.0.5/24"}"#),
            r#"ipam.ranges[0][0].subnet "10.0.0.5/24" has host bits set: use the network address, 10.0.0.0/24"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/31"}"#),
            r#"ipam.ranges[0][0].subnet "10.0.0.0/31" is too small to allocate from"#,
        ),
        (
            range(r#"{"subnet":"fd00::/127"}"#),
            r#"ipam.ranges[0][0].subnet "fd00::/127" is too small"#,
        ),
        // Special ranges: not unicast pod addresses (issue 11, hole 7), in both directions.
        (
            range(r#"{"subnet":"127.0.0.0/8"}"#),
            r#"ipam.ranges[0][0].subnet "127.0.0.0/8" overlaps 127.0.0.0/8, the loopback range: pod subnets must be unicast"#,
        ),
        (
            range(r#"{"subnet":"127.1.2.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "127.1.2.0/24" overlaps 127.0.0.0/8, the loopback range"#,
        ),
        (
            range(r#"{"subnet":"224.0.0.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "224.0.0.0/24" overlaps 224.0.0.0/4, the multicast range"#,
        ),
        (
            ipam(r#""subnet":"0.0.0.0/0""#),
            r#"ipam.subnet "0.0.0.0/0" overlaps 0.0.0.0/8, the "this network" range"#,
        ),
        (
            range(r#"{"subnet":"0.0.0.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "0.0.0.0/24" overlaps 0.0.0.0/8"#,
        ),
        (
            range(r#"{"subnet":"169.254.7.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "169.254.7.0/24" overlaps 169.254.0.0/16, the link-local range"#,
        ),
        (
            range(r#"{"subnet":"255.255.255.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "255.255.255.0/24" overlaps 255.255.255.255/32, the limited broadcast address"#,
        ),
        (
            range(r#"{"subnet":"::/64"}"#),
            r#"ipam.ranges[0][0].subnet "::/64" overlaps ::/128, the unspecified address"#,
        ),
        (
            range(r#"{"subnet":"::/0"}"#),
            r#"ipam.ranges[0][0].subnet "::/0" overlaps ::/128"#,
        ),
        (
            range(r#"{"subnet":"fe80::/64"}"#),
            r#"ipam.ranges[0][0].subnet "fe80::/64" overlaps fe80::/10, the link-local range"#,
        ),
        (
            range(r#"{"subnet":"ff02::/64"}"#),
            r#"ipam.ranges[0][0].subnet "ff02::/64" overlaps ff00::/8, the multicast range"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","gateway":"10.0.0.255"}"#),
            r#"ipam.ranges[0][0].gateway "10.0.0.255" is the broadcast address of 10.0.0.0/24: a gateway must be a host address (leave it out for the first one, 10.0.0.1)"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.5"}"#),
            r#"ipam.ranges[0][0].rangeStart "10.0.1.5" is not inside the subnet 10.0.0.0/24"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","rangeEnd":"fd00::5"}"#),
            r#"ipam.ranges[0][0].rangeEnd "fd00::5" is not inside the subnet 10.0.0.0/24"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","gateway":"10.0.0.x"}"#),
            r#"ipam.ranges[0][0].gateway "10.0.0.x" is not an IP address"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","gateway":"10.9.0.1"}"#),
            r#"ipam.ranges[0][0].gateway "10.9.0.1" is not inside the subnet"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50","rangeEnd":"10.0.0.20"}"#),
            r#"ipam.ranges[0][0].rangeEnd "10.0.0.20" is before rangeStart 10.0.0.50: swap them"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}"#),
            r#"ipam.ranges[0][1].subnet "fd00::/64" is not the same IP family as ipam.ranges[0][0].subnet 10.0.0.0/24"#,
        ),
        (
            ipam(r#""ranges":[[{"subnet":"10.0.0.0/24"}],[]]"#),
            r#"ipam.ranges[1] "[]" is an empty range set"#,
        ),
        (
            ipam(r#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.128/25"}]]"#),
            r#"ipam.ranges[1][0].subnet "10.0.0.128/25" overlaps ipam.ranges[0][0].subnet 10.0.0.0/24"#,
        ),
        (
            ipam(r#""subnet":"10.0.0.0/16","ranges":[[{"subnet":"10.0.5.0/24"}]]"#),
            r#"ipam.ranges[0][0].subnet "10.0.5.0/24" overlaps ipam.subnet 10.0.0.0/16"#,
        ),
        (
            ipam(r#""rangeStart":"10.0.0.5""#),
            "ipam.subnet is missing: ipam.rangeStart is given without it",
        ),
        (
            ipam(r#""subnet":"10.0.0.0""#),
            r#"ipam.subnet "10.0.0.0" is not a CIDR"#,
        ),
        (
            ipam(r#""routes":[{"dst":"default"}]"#),
            r#"ipam.routes[0].dst "default" is not a CIDR"#,
        ),
        (
            ipam(r#""routes":[{"gw":"10.0.0.1"}]"#),
            "ipam.routes[0].dst is missing",
        ),
        (
            ipam(r#""routes":[{"dst":"0.0.0.0/0","gw":"gateway"}]"#),
            r#"ipam.routes[0].gw "gateway" is not an IP address"#,
        ),
        (
            ipam(r#""routes":{"dst":"0.0.0.0/0"}"#),
            "ipam.routes must be a list of",
        ),
        (
            ipam(r#""dataDir":"var/lib""#),
            r#"ipam.dataDir "var/lib" is not an absolute path"#,
        ),
        (
            with_name(r#""runtimeConfig":{"ips":["10.42.1.300"]}"#),
            r#"runtimeConfig.ips[0] "10.42.1.300" is not an IP address"#,
        ),
        (
            with_name(r#""runtimeConfig":{"ips":"10.42.1.3"}"#),
            r#"runtimeConfig.ips must be a list of strings like ["10.42.1.7/24"]; got "10.42.1.3""#,
        ),
        (
            with_name(r#""args":{"cni":{"ips":["x"]}}"#),
            r#"args.cni.ips[0] "x" is not an IP address"#,
        ),
        (
            with_name(r#""args":{"cni":[]}"#),
            "args.cni must be a JSON object",
        ),
        (
            with_name(r#""cni.dev/valid-attachments":{}"#),
            "cni.dev/valid-attachments must be a list of {\"containerID\"",
        ),
        (
            with_name(r#""cni.dev/attachments":[{"containerID":"a"}]"#),
            "cni.dev/attachments[0].containerID/ifname is missing",
        ),
    ];
    for (doc, start) in cases {
        let e = err(&doc);
        assert_eq!(e.code, 7, "{doc}: {}", e.msg);
        assert!(
            e.msg.starts_with(start),
            "{doc}\n  want: {start}\n  got:  {}",
            e.msg
        );
    }
}

#[test]
fn broken_prev_result_is_code_6_naming_it() {
    for (prev, start) in [
        (r#"5"#, "prevResult must be a JSON object {...}; got 5"),
        (
            r#"{"ips":[{"address":"10.1.0.2"}]}"#,
            r#"prevResult.ips[0].address "10.1.0.2" is not an address with a prefix length"#,
        ),
        (
            r#"{"ips":[{"address":"10.1.0.2/24","interface":3}]}"#,
            "prevResult.ips[0].interface 3 does not index",
        ),
        (
            r#"{"routes":"none"}"#,
            "prevResult.routes must be a list of",
        ),
    ] {
        let e = err(&with_name(&format!(r#""prevResult":{prev}"#)));
        assert_eq!(e.code, 6, "{}", e.msg);
        assert!(e.msg.starts_with(start), "{}", e.msg);
    }
    let e = err(&with_name(
        r#""prevResult":{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.2/24"}}"#,
    ));
    assert_eq!(e.code, 1);
    assert!(
        e.msg
            .starts_with("prevResult.cniVersion \"0.2.0\": results in the 0.1.0/0.2.0 format"),
        "{}",
        e.msg
    );
}

#[test]
fn address_of_keeps_the_address() {
    assert_eq!(address_of("10.1.2.3/24"), Some(ip("10.1.2.3")));
    assert_eq!(address_of("fd00::3"), Some(ip("fd00::3")));
    assert_eq!(address_of("10.1.2.3/33"), None);
    assert_eq!(address_of("host"), None);
}
