//! Results written in every version's format and read back, other plugins' results read
//! (unknown members skipped, strings unescaped), and (in `errors`) the results refused.

use super::*;

mod errors;

fn sample() -> CniResult {
    let net = |s: &str| s.parse::<IpNet>().unwrap();
    let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    CniResult {
        interfaces: vec![
            Interface {
                name: "lichen0".into(),
                mac: "0a:58:0a:2a:01:01".into(),
                ..Default::default()
            },
            Interface {
                name: "veth5e1f0a2b".into(),
                ..Default::default()
            },
            Interface {
                name: "eth0".into(),
                mac: "0a:58:0a:2a:01:05".into(),
                sandbox: "/var/run/netns/cni-1234".into(),
                mtu: Some(1450),
            },
        ],
        ips: vec![
            IpConfig {
                address: net("10.42.1.5/24"),
                gateway: ip("10.42.1.1"),
                interface: Some(2),
            },
            IpConfig {
                address: net("fd00:42:1::5/64"),
                gateway: None,
                interface: Some(2),
            },
        ],
        routes: vec![
            Route {
                mtu: Some(1400),
                advmss: Some(1360),
                priority: Some(100),
                table: Some(254),
                scope: Some(0),
                ..Route::new(net("0.0.0.0/0"), ip("10.42.1.1"))
            },
            Route::new(net("fd00:42::/48"), None),
        ],
        dns: Dns {
            nameservers: vec!["10.43.0.10".into()],
            domain: "cluster.local".into(),
            search: vec![
                "default.svc.cluster.local".into(),
                "svc.cluster.local".into(),
            ],
            options: vec!["ndots:5".into()],
        },
    }
}

const IFACES: &str = r#""interfaces":[{"name":"lichen0","mac":"0a:58:0a:2a:01:01"},{"name":"veth5e1f0a2b"},{"name":"eth0","mac":"0a:58:0a:2a:01:05","sandbox":"/var/run/netns/cni-1234"}]"#;
const IFACES_110: &str = r#""interfaces":[{"name":"lichen0","mac":"0a:58:0a:2a:01:01"},{"name":"veth5e1f0a2b"},{"name":"eth0","mac":"0a:58:0a:2a:01:05","mtu":1450,"sandbox":"/var/run/netns/cni-1234"}]"#;
const IPS_OLD: &str = r#""ips":[{"version":"4","interface":2,"address":"10.42.1.5/24","gateway":"10.42.1.1"},{"version":"6","interface":2,"address":"fd00:42:1::5/64"}]"#;
const IPS_NEW: &str = r#""ips":[{"interface":2,"address":"10.42.1.5/24","gateway":"10.42.1.1"},{"interface":2,"address":"fd00:42:1::5/64"}]"#;
const ROUTES: &str = r#""routes":[{"dst":"0.0.0.0/0","gw":"10.42.1.1"},{"dst":"fd00:42::/48"}]"#;
const ROUTES_110: &str = r#""routes":[{"dst":"0.0.0.0/0","gw":"10.42.1.1","mtu":1400,"advmss":1360,"priority":100,"table":254,"scope":0},{"dst":"fd00:42::/48"}]"#;
const DNS: &str = r#""dns":{"nameservers":["10.43.0.10"],"domain":"cluster.local","search":["default.svc.cluster.local","svc.cluster.local"],"options":["ndots:5"]}"#;

fn golden(v: Version) -> String {
    let (ifaces, ips, routes) = match v {
        Version::V030 | Version::V031 | Version::V040 => (IFACES, IPS_OLD, ROUTES),
        Version::V100 => (IFACES, IPS_NEW, ROUTES),
        Version::V110 => (IFACES_110, IPS_NEW, ROUTES_110),
    };
    format!(r#"{{"cniVersion":"{v}",{ifaces},{ips},{routes},{DNS}}}"#)
}

#[test]
fn golden_output_for_every_version() {
    for v in Version::ALL {
        assert_eq!(sample().to_json(v), golden(v), "version {v}");
    }
}

/// What each version can carry survives to_json → parse unchanged.
#[test]
fn round_trip_every_version() {
    for v in Version::ALL {
        let mut expected = sample();
        if v != Version::V110 {
            expected.interfaces[2].mtu = None;
            let r = &mut expected.routes[0];
            (r.mtu, r.advmss, r.priority, r.table, r.scope) = (None, None, None, None, None);
        }
        let json = sample().to_json(v);
        assert_eq!(CniResult::parse(json.as_bytes()).unwrap(), expected, "{v}");
    }
}

#[test]
fn empty_parts_are_omitted() {
    let r = CniResult {
        ips: vec![IpConfig {
            address: "10.42.1.9/24".parse().unwrap(),
            gateway: None,
            interface: None,
        }],
        ..Default::default()
    };
    assert_eq!(
        r.to_json(Version::V100),
        r#"{"cniVersion":"1.0.0","ips":[{"address":"10.42.1.9/24"}]}"#
    );
    assert_eq!(
        CniResult::default().to_json(Version::V040),
        r#"{"cniVersion":"0.4.0","ips":[]}"#
    );
    let mtu_only = CniResult {
        interfaces: vec![Interface {
            name: "a\"b".into(),
            mtu: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        mtu_only.to_json(Version::V110),
        r#"{"cniVersion":"1.1.0","interfaces":[{"name":"a\"b"}],"ips":[]}"#
    );
}

/// Captured from Debian's containernetworking-plugins 1.1.1: `host-local` ADD with a
/// dual-stack range set, two routes and a resolvConf, cniVersion 0.3.1.
const HOST_LOCAL_031: &str = r#"{
    "cniVersion": "0.3.1",
    "ips": [
        {
            "version": "4",
            "address": "10.22.0.2/24",
            "gateway": "10.22.0.1"
        },
        {
            "version": "6",
            "address": "fd00:22::2/64",
            "gateway": "fd00:22::1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        },
        {
            "dst": "10.100.0.0/16",
            "gw": "10.22.0.254"
        }
    ],
    "dns": {
        "nameservers": [
            "10.22.0.53"
        ],
        "search": [
            "svc.cluster.local",
            "cluster.local"
        ],
        "options": [
            "ndots:5"
        ]
    }
}"#;

/// Same plugin and config, cniVersion 1.0.0 (no `ips[].version`).
const HOST_LOCAL_100: &str = r#"{
    "cniVersion": "1.0.0",
    "ips": [
        {
            "address": "10.22.0.4/24",
            "gateway": "10.22.0.1"
        },
        {
            "address": "fd00:22::4/64",
            "gateway": "fd00:22::1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        },
        {
            "dst": "10.100.0.0/16",
            "gw": "10.22.0.254"
        }
    ],
    "dns": {
        "nameservers": [
            "10.22.0.53"
        ],
        "search": [
            "svc.cluster.local",
            "cluster.local"
        ],
        "options": [
            "ndots:5"
        ]
    }
}"#;

/// Captured: `bridge` (isGateway, ipMasq, host-local) then `portmap` given the bridge result
/// as prevResult; this is portmap's output (it passes the result through), cniVersion 0.4.0.
pub(crate) const BRIDGE_PORTMAP_040: &str = r#"{
    "cniVersion": "0.4.0",
    "interfaces": [
        {
            "name": "cni-test0",
            "mac": "7a:db:60:ea:75:31"
        },
        {
            "name": "veth6b34ee66",
            "mac": "ee:ea:98:4c:ef:d3"
        },
        {
            "name": "eth0",
            "mac": "66:82:27:06:0a:23",
            "sandbox": "/proc/7834/ns/net"
        }
    ],
    "ips": [
        {
            "version": "4",
            "interface": 2,
            "address": "10.88.0.2/16",
            "gateway": "10.88.0.1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        }
    ],
    "dns": {}
}"#;

/// The same chain at cniVersion 1.0.0.
pub(crate) const BRIDGE_PORTMAP_100: &str = r#"{
    "cniVersion": "1.0.0",
    "interfaces": [
        {
            "name": "cni-test0",
            "mac": "56:2d:b5:45:c6:66"
        },
        {
            "name": "veth27a02040",
            "mac": "5e:40:13:47:01:c4"
        },
        {
            "name": "eth0",
            "mac": "26:a2:be:ad:40:22",
            "sandbox": "/proc/7444/ns/net"
        }
    ],
    "ips": [
        {
            "interface": 2,
            "address": "10.88.0.2/16",
            "gateway": "10.88.0.1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        }
    ],
    "dns": {}
}"#;

#[test]
fn reads_host_local_results() {
    for (doc, last) in [(HOST_LOCAL_031, "2"), (HOST_LOCAL_100, "4")] {
        let r = CniResult::parse(format!("{doc}\n").as_bytes()).unwrap();
        assert!(r.interfaces.is_empty());
        assert_eq!(r.ips.len(), 2);
        assert_eq!(r.ips[0].address.to_string(), format!("10.22.0.{last}/24"));
        assert_eq!(r.ips[0].gateway, Some("10.22.0.1".parse().unwrap()));
        assert_eq!(r.ips[1].address.to_string(), format!("fd00:22::{last}/64"));
        assert_eq!(r.ips[1].interface, None);
        assert_eq!(
            r.routes,
            vec![
                Route::new("0.0.0.0/0".parse().unwrap(), None),
                Route::new(
                    "10.100.0.0/16".parse().unwrap(),
                    Some("10.22.0.254".parse().unwrap())
                ),
            ]
        );
        assert_eq!(
            r.dns,
            Dns {
                nameservers: vec!["10.22.0.53".into()],
                domain: String::new(),
                search: vec!["svc.cluster.local".into(), "cluster.local".into()],
                options: vec!["ndots:5".into()],
            }
        );
    }
}

#[test]
fn reads_bridge_portmap_chain_results() {
    for doc in [BRIDGE_PORTMAP_040, BRIDGE_PORTMAP_100] {
        let r = CniResult::parse(doc.as_bytes()).unwrap();
        assert_eq!(r.interfaces.len(), 3);
        assert_eq!(r.interfaces[0].sandbox, "");
        assert_eq!(r.interfaces[2].name, "eth0");
        assert!(r.interfaces[2].sandbox.starts_with("/proc/"));
        assert_eq!(r.ips.len(), 1);
        assert_eq!(r.ips[0].interface, Some(2));
        assert_eq!(r.ips[0].address.to_string(), "10.88.0.2/16");
        assert!(r.dns.is_empty());
        // Written back in its own version, it keeps the same content.
        let v = if doc == BRIDGE_PORTMAP_040 {
            Version::V040
        } else {
            Version::V100
        };
        assert_eq!(CniResult::parse(r.to_json(v).as_bytes()).unwrap(), r);
    }
}

#[test]
fn unknown_fields_of_every_type_are_skipped() {
    let doc = br#"{"cniVersion":"1.1.0","x-num":-1.5e3,"x-bool":true,"x-null":null,
        "x-obj":{"a":[{"b":{}}],"c":"d"},"x-arr":[[],{},"s",1,false,null],
        "interfaces":[{"name":"eth0","socketPath":"/run/x.sock","pciID":"0000:00:1f.6","extra":{"k":[1]}}],
        "ips":[{"address":"10.1.0.2/24","version":"4","extra":[null]}],
        "routes":[{"dst":"10.0.0.0/8","unknown":{"a":1}}],
        "dns":{"nameservers":[],"extra":true}}
"#;
    let r = CniResult::parse(doc).unwrap();
    assert_eq!(r.interfaces[0].name, "eth0");
    assert_eq!(r.ips[0].address.to_string(), "10.1.0.2/24");
    assert_eq!(r.routes[0].dst.to_string(), "10.0.0.0/8");
}

#[test]
fn strings_are_unescaped() {
    let r = CniResult::parse(
        br#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"\/var\/run\/netns\/a\u0026b\"c"}],"ips":[{"address":"10.1.0.2\/24"}]}"#,
    )
    .unwrap();
    assert_eq!(r.interfaces[0].sandbox, "/var/run/netns/a&b\"c");
    assert_eq!(r.ips[0].address.to_string(), "10.1.0.2/24");
    // And escaped again on output.
    assert!(r
        .to_json(Version::V100)
        .contains(r#""sandbox":"/var/run/netns/a&b\"c""#));
}
