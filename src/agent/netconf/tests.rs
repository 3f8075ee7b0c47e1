use super::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn k3s_default_vxlan() {
    // What k3s writes for its embedded Flannel.
    let c = ClusterNetwork::parse(
        br#"{
        "Network": "10.42.0.0/16",
        "EnableIPv6": false,
        "EnableIPv4": true,
        "IPv6Network": "::/0",
        "Backend": {"Type": "vxlan"}
    }"#,
    )
    .unwrap();
    assert_eq!(c.network, vec![net("10.42.0.0/16")]);
    assert_eq!(c.subnet_len, vec![24]);
    assert_eq!(
        c.backend,
        BackendConf::Vxlan(VxlanConf {
            vni: 1,
            port: 8472,
            direct_routing: false,
            mtu: None,
            tx_checksum_offload: true,
        })
    );
    assert_eq!((c.mtu, c.ipmasq, c.network_policy), (None, true, false));
}

#[test]
fn every_key() {
    let c = ClusterNetwork::parse(br#"{"Network":"10.42.0.0/16","SubnetLen":25,"SubnetMin":"10.42.1.0",
        "SubnetMax":"10.42.200.0","EnableIPv6":true,"IPv6Network":"fd00:42::/56","IPv6SubnetLen":72,
        "Backend":{"Type":"vxlan","VNI":4097,"Port":4789,"DirectRouting":true,"MTU":1400,"GBP":false,
        "TxChecksumOffload":false},
        "IPMasq":false,"NetworkPolicy":true}"#)
    .unwrap();
    assert_eq!(c.network, vec![net("10.42.0.0/16"), net("fd00:42::/56")]);
    assert_eq!(c.subnet_len, vec![25, 72]);
    assert_eq!(
        c.backend,
        BackendConf::Vxlan(VxlanConf {
            vni: 4097,
            port: 4789,
            direct_routing: true,
            mtu: Some(1400),
            tx_checksum_offload: false,
        })
    );
    assert_eq!(
        (c.mtu, c.ipmasq, c.network_policy),
        (Some(1400), false, true)
    );
}

#[test]
fn host_gw_ipv6_only_and_defaults() {
    let c = ClusterNetwork::parse(
        br#"{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:1::/48",
        "Backend":{"Type":"host-gw"}}"#,
    )
    .unwrap();
    assert_eq!(c.network, vec![net("fd00:1::/48")]);
    assert_eq!(c.subnet_len, vec![64]);
    assert_eq!(c.backend, BackendConf::HostGw);
    // No Backend at all: VXLAN. A /23 network: subnets of /25.
    let c = ClusterNetwork::parse(br#"{"Network":"10.9.0.0/23"}"#).unwrap();
    assert_eq!(c.subnet_len, vec![25]);
    assert!(matches!(c.backend, BackendConf::Vxlan(_)));
}

#[test]
fn unknown_backend_names_value_and_choices() {
    let e = ClusterNetwork::parse(br#"{"Network":"10.42.0.0/16","Backend":{"Type":"ipsec"}}"#)
        .unwrap_err();
    assert!(matches!(&e, ClusterNetworkError::UnknownBackend(t) if t == "ipsec"));
    let msg = e.to_string();
    assert_eq!(
        msg,
        "net-conf: unknown Backend.Type \"ipsec\"; accepted: host-gw, vxlan, wireguard"
    );
}

/// `wg genpsk` output (32 bytes).
const PSK: &str = "GKvbLdU1JmSN3Pm8hFLs3Xo9Z9Sda0jkAx6l0aCj5b4=";

fn backend(json: &str) -> Result<BackendConf, ClusterNetworkError> {
    let doc = format!(r#"{{"Network":"10.42.0.0/16","Backend":{json}}}"#);
    ClusterNetwork::parse(doc.as_bytes()).map(|c| c.backend)
}

#[test]
fn wireguard_defaults_follow_flannel() {
    assert_eq!(
        backend(r#"{"Type":"wireguard"}"#).unwrap(),
        BackendConf::Wireguard(WireguardConf {
            listen_port: 51820,
            keepalive: 0,
            mtu: None,
            psk: None,
        })
    );
    // Flannel's Mode and ListenPortV6 are accepted and ignored; "" is no PSK, as in Flannel.
    let flannel = r#"{"Type":"wireguard","Mode":"separate","ListenPortV6":51821,"PSK":""}"#;
    assert_eq!(
        backend(flannel).unwrap(),
        BackendConf::Wireguard(WireguardConf::default())
    );
}

#[test]
fn k3s_wireguard_native() {
    // What k3s writes for --flannel-backend=wireguard-native (k3s-io/k3s
    // pkg/agent/flannel/setup.go, wireguardNativeBackend).
    let c = ClusterNetwork::parse(
        br#"{
        "Network": "10.42.0.0/16",
        "EnableIPv6": false,
        "EnableIPv4": true,
        "IPv6Network": "::/0",
        "Backend": {
        "Type": "wireguard",
        "PersistentKeepaliveInterval": 25
    }
    }"#,
    )
    .unwrap();
    assert_eq!(
        c.backend,
        BackendConf::Wireguard(WireguardConf {
            keepalive: 25,
            ..WireguardConf::default()
        })
    );
    assert_eq!(c.mtu, None);
}

#[test]
fn wireguard_every_key() {
    let doc = format!(
        r#"{{"Network":"10.42.0.0/16","Backend":{{"Type":"wireguard","ListenPort":51000,
        "PersistentKeepaliveInterval":25,"MTU":1380,"PSK":"{PSK}"}}}}"#
    );
    let c = ClusterNetwork::parse(doc.as_bytes()).unwrap();
    let BackendConf::Wireguard(w) = c.backend else {
        panic!("{:?}", c.backend);
    };
    assert_eq!((w.listen_port, w.keepalive, w.mtu), (51000, 25, Some(1380)));
    let psk = w.psk.unwrap();
    assert_eq!(crate::k8s::base64::encode(&psk), PSK);
    assert_eq!(c.mtu, Some(1380));
}

#[test]
fn wireguard_errors_are_clear() {
    let err = |json: &str| backend(json).unwrap_err();
    let e = err(r#"{"Type":"wireguard","ListenPort":0}"#);
    assert!(matches!(
        e,
        ClusterNetworkError::Backend(ConfError::WgPortZero)
    ));
    assert_eq!(
        e.to_string(),
        "net-conf: Backend: WireGuard ListenPort must not be 0"
    );
    let e = err(r#"{"Type":"wireguard","MTU":500}"#);
    assert!(matches!(
        e,
        ClusterNetworkError::Backend(ConfError::WgMtuTooSmall(500))
    ));
    assert!(e.to_string().contains("WireGuard MTU 500"), "{e}");
    // 31 bytes, then text that is no base64: the message names neither the key nor its bytes.
    for bad in ["GKvbLdU1JmSN3Pm8hFLs3Xo9Z9Sda0jkAx6l0aCj5Q==", "not a key!"] {
        let e = err(&format!(r#"{{"Type":"wireguard","PSK":"{bad}"}}"#));
        assert!(matches!(e, ClusterNetworkError::InvalidPsk(n) if n == bad.len()));
        let msg = e.to_string();
        assert!(msg.contains("wg genpsk") && !msg.contains(bad), "{msg}");
    }
    let e = err(r#"{"Type":"wireguard","PersistentKeepaliveInterval":70000}"#);
    assert!(matches!(e, ClusterNetworkError::InvalidKeepalive(70000)));
    assert!(e.to_string().contains("65535"), "{e}");
}

#[test]
fn errors() {
    let err = |doc: &str| ClusterNetwork::parse(doc.as_bytes()).unwrap_err();
    assert!(matches!(
        err("{}"),
        ClusterNetworkError::MissingNetwork("Network")
    ));
    assert!(matches!(
        err(r#"{"Network":"10.42.0.0/16","EnableIPv6":true}"#),
        ClusterNetworkError::MissingNetwork("IPv6Network")
    ));
    assert!(matches!(
        err(r#"{"Network":"10.42.0.0"}"#),
        ClusterNetworkError::InvalidNetwork {
            field: "Network",
            ..
        }
    ));
    assert!(matches!(
        err(r#"{"Network":"fd00::/48"}"#),
        ClusterNetworkError::InvalidNetwork {
            field: "Network",
            ..
        }
    ));
    assert!(matches!(
        err(r#"{"Network":"10.42.0.0/16","SubnetLen":8}"#),
        ClusterNetworkError::InvalidSubnetLen { len: 8, .. }
    ));
    assert!(matches!(
        err(r#"{"Network":"10.42.0.0/16","SubnetLen":33}"#),
        ClusterNetworkError::InvalidSubnetLen { len: 33, .. }
    ));
    assert!(matches!(
        err(r#"{"Network":"10.42.0.0/16","Backend":{"VNI":16777216}}"#),
        ClusterNetworkError::Backend(ConfError::VniOutOfRange(16777216))
    ));
    // The backends' check, at parse time: a device MTU that cannot carry IPv4.
    let e = err(r#"{"Network":"10.42.0.0/16","Backend":{"MTU":100}}"#);
    assert!(matches!(
        e,
        ClusterNetworkError::Backend(ConfError::MtuTooSmall(100))
    ));
    assert_eq!(
        e.to_string(),
        "net-conf: Backend: VXLAN MTU 100 is below the minimum of 576"
    );
    assert!(matches!(
        err(r#"{"EnableIPv4":false}"#),
        ClusterNetworkError::NoFamily
    ));
    assert!(matches!(
        err(r#"{"Network":"10.42.0.0/16","Backend":{"Port":70000}}"#),
        ClusterNetworkError::Json(_)
    ));
    assert!(matches!(err("{"), ClusterNetworkError::Json(_)));
}

#[test]
fn load_reports_the_path() {
    let e = ClusterNetwork::load(Path::new("/nonexistent/lichen/net-conf.json")).unwrap_err();
    assert!(
        matches!(&e, ClusterNetworkError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    );
    assert!(e.to_string().contains("/nonexistent/lichen/net-conf.json"));
}
