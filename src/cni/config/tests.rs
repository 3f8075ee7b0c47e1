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
        mode: None,
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
    assert_eq!(c.mode, None, "absent: the node decides at ADD");
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
fn mode_is_bridge_or_routed() {
    let parse = |m: &str| {
        NetConf::parse(
            format!(r#"{{"cniVersion":"1.0.0","name":"n","type":"lichen","mode":{m}}}"#).as_bytes(),
        )
        .map(|c| c.mode)
    };
    assert_eq!(parse(r#""routed""#).unwrap(), Some(Mode::Routed));
    assert_eq!(parse(r#""bridge""#).unwrap(), Some(Mode::Bridge));
    assert_eq!(parse("null").unwrap(), None);
    assert_eq!(Mode::Routed.as_str(), "routed");
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

mod errors;
