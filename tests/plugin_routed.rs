//! The plugin in routed mode (`"mode": "routed"`), end to end: no bridge, the pod's /32 (/128)
//! with a link-local gateway, proxy ARP on the host end, a route per pod address on the node
//! (protocol 109); CHECK, DEL and a failed ADD's rollback.

mod common;

use common::*;

const SUBNET: &str = "10.79.0.0/24";
const SUBNET6: &str = "fd79::/64";

/// A dual-stack routed config of `node`.
fn routed_conf(node: &Node) -> String {
    node.conf("1.1.0", SUBNET)
        .replace(
            &format!(r#"[[{{"subnet":"{SUBNET}"}}]]"#),
            &format!(r#"[[{{"subnet":"{SUBNET}"}}],[{{"subnet":"{SUBNET6}"}}]]"#),
        )
        .replacen(
            r#""mode":"bridge","bridge":"lbr0""#,
            r#""mode":"routed""#,
            1,
        )
}

fn result(a: &Answer) -> lichen::cni::CniResult {
    assert!(a.ok, "{} {}", a.stdout, a.stderr);
    lichen::cni::CniResult::parse(a.stdout.as_bytes()).unwrap()
}

/// The pod's addresses (IPv4, IPv6) in a result.
fn addrs(r: &lichen::cni::CniResult) -> (String, String) {
    let of = |v4: bool| {
        r.ips
            .iter()
            .find(|ip| ip.address.addr().is_ipv4() == v4)
            .map(|ip| ip.address.addr().to_string())
            .unwrap()
    };
    (of(true), of(false))
}

fn sysctl(node: &Node, path: &str) -> String {
    let out = node.ns.exec("cat", &[path]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn routed_pods_reach_each_other_and_the_node_without_a_bridge() {
    testkit::require_root!();
    let node = Node::new("rt");
    let conf = routed_conf(&node);
    assert!(conf.contains(r#""mode":"routed""#) && conf.contains(SUBNET6));
    let (p1, p2) = (node.pod("p1"), node.pod("p2"));
    let r1 = result(&node.cni("ADD", "c1", Some(&p1.path), "eth0", &conf));
    let r2 = result(&node.cni("ADD", "c2", Some(&p2.path), "eth0", &conf));
    let ((v4a, v6a), (v4b, v6b)) = (addrs(&r1), addrs(&r2));
    // no bridge: the result names the host end and the pod end, the gateway is link-local
    assert_eq!(node.plugin_links().len(), 2, "{:?}", node.plugin_links());
    assert!(!node.links().contains(&"lbr0".to_string()));
    assert_eq!(r1.interfaces.len(), 2);
    let host = r1.interfaces[0].name.clone();
    assert!(host.starts_with("lic") && r1.interfaces[0].sandbox.is_empty());
    assert_eq!(r1.interfaces[0].mac, "ee:ee:ee:ee:ee:ee");
    assert_eq!(r1.interfaces[1].name, "eth0");
    for ip in &r1.ips {
        assert_eq!(ip.interface, Some(1));
        assert_eq!(ip.address.prefix_len(), ip.address.max_prefix_len());
    }
    let gw: Vec<String> = r1
        .ips
        .iter()
        .map(|i| i.gateway.unwrap().to_string())
        .collect();
    assert_eq!(gw, ["169.254.1.1", "fe80::1"]);
    // the pod: host prefixes, default routes via the link-local gateways
    let a = p1.ip(&["-o", "addr", "show", "dev", "eth0"]).unwrap();
    assert!(
        a.contains(&format!("{v4a}/32")) && a.contains(&format!("{v6a}/128")),
        "{a}"
    );
    let r = p1.ip(&["route", "show", "default"]).unwrap();
    assert!(r.contains("via 169.254.1.1 dev eth0 onlink"), "{r}");
    let r = p1.ip(&["-6", "route", "show", "default"]).unwrap();
    assert!(r.contains("via fe80::1 dev eth0"), "{r}");
    node_side(&node, &host, &v4a, &v6a);
    let _client = unreachable_subnets(&node);
    // packets: pod to pod (both families), node to pod, pod to node
    assert!(p1.ping(&v4b, 1).unwrap(), "pod1 -> pod2");
    assert!(p2.ping(&v4a, 1).unwrap(), "pod2 -> pod1");
    assert!(p1.ping(&v6b, 1).unwrap(), "pod1 -> pod2 (IPv6)");
    assert!(p2.ping(&v6a, 1).unwrap(), "pod2 -> pod1 (IPv6)");
    assert!(node.ns.ping(&v4a, 1).unwrap(), "node -> pod");
    assert!(node.ns.ping(&v6b, 1).unwrap(), "node -> pod (IPv6)");
}

/// The node's side of a routed attachment: a route per address through the host end, proxy
/// ARP, no IPv4 address on it.
fn node_side(node: &Node, host: &str, v4a: &str, v6a: &str) {
    let routes = node.ns.ip(&["route", "show", "proto", "109"]).unwrap();
    assert!(
        routes.contains(&format!("{v4a} dev {host} scope link")),
        "{routes}"
    );
    let routes = node
        .ns
        .ip(&["-6", "route", "show", "proto", "109"])
        .unwrap();
    assert!(routes.contains(&format!("{v6a} dev {host}")), "{routes}");
    assert_eq!(
        sysctl(node, &format!("/proc/sys/net/ipv4/conf/{host}/proxy_arp")),
        "1"
    );
    let host_addrs = node
        .ns
        .ip(&["-4", "-o", "addr", "show", "dev", host])
        .unwrap();
    assert!(host_addrs.trim().is_empty(), "{host_addrs}");
}

/// An address no pod holds is unreachable on the node, not sent to its default route; the
/// node's own address (a node has one: here on its uplink) is also the source it pings pods
/// from. The uplink's client namespace is returned: the uplink lives while it does.
fn unreachable_subnets(node: &Node) -> NamedNs {
    let client = node.client();
    node.ns
        .ip(&["route", "add", "default", "via", "198.51.100.2"])
        .unwrap();
    for (dst, net) in [("10.79.0.200", SUBNET), ("fd79::c8", SUBNET6)] {
        let got = node
            .ns
            .ip(&["route", "get", dst])
            .unwrap_or_else(|e| e.to_string());
        // EHOSTUNREACH: the kernel's answer for an unreachable route (without it: the default)
        assert!(got.contains("No route to host"), "{dst}: {got}");
        let family = if net.contains(':') { "-6" } else { "-4" };
        let r = node
            .ns
            .ip(&[family, "route", "show", "type", "unreachable", net]);
        let r = r.unwrap();
        assert!(r.contains("proto 109"), "{net}: {r}");
    }
    client
}

#[test]
fn proxy_arp_answers_for_the_gateway_once_the_pods_entry_is_gone() {
    testkit::require_root!();
    let node = Node::new("rtarp");
    let conf = routed_conf(&node);
    let (p1, p2) = (node.pod("p1"), node.pod("p2"));
    let r1 = result(&node.cni("ADD", "c1", Some(&p1.path), "eth0", &conf));
    let r2 = result(&node.cni("ADD", "c2", Some(&p2.path), "eth0", &conf));
    let ((_, _), (v4b, _)) = (addrs(&r1), addrs(&r2));
    let n = p1
        .ip(&["neigh", "show", "169.254.1.1", "dev", "eth0"])
        .unwrap();
    assert!(n.contains("lladdr ee:ee:ee:ee:ee:ee PERMANENT"), "{n}");
    // Proxy ARP answers for a target the node routes through another device: a default route,
    // as nodes have.
    let _client = node.client();
    node.ns
        .ip(&["route", "add", "default", "via", "198.51.100.2"])
        .unwrap();
    p1.ip(&["neigh", "del", "169.254.1.1", "dev", "eth0"])
        .unwrap();
    assert!(p1.ping(&v4b, 1).unwrap(), "pod1 -> pod2 through proxy ARP");
    let n = p1
        .ip(&["neigh", "show", "169.254.1.1", "dev", "eth0"])
        .unwrap();
    assert!(
        n.contains("lladdr ee:ee:ee:ee:ee:ee") && !n.contains("PERMANENT"),
        "{n}"
    );
}

#[test]
fn routed_check_finds_a_missing_node_route_and_del_removes_everything() {
    testkit::require_root!();
    let node = Node::new("rtchk");
    let conf = routed_conf(&node);
    let pod = node.pod("p");
    let add = node.cni("ADD", "c1", Some(&pod.path), "eth0", &conf);
    let r = result(&add);
    let (v4, v6) = addrs(&r);
    let host = r.interfaces[0].name.clone();
    let with_prev = extend(&conf, &format!(r#""prevResult":{}"#, add.stdout.trim()));
    let ok = node.cni("CHECK", "c1", Some(&pod.path), "eth0", &with_prev);
    assert!(
        ok.ok,
        "CHECK on an intact attachment: {} {}",
        ok.stdout, ok.stderr
    );
    node.ns
        .ip(&["route", "del", &format!("{v4}/32"), "dev", &host])
        .unwrap();
    let bad = node.cni("CHECK", "c1", Some(&pod.path), "eth0", &with_prev);
    assert_eq!(error_code(&bad), 105, "{}", bad.stdout);
    assert!(
        bad.stdout
            .contains(&format!("route {v4}/32 dev {host} is missing")),
        "{}",
        bad.stdout
    );
    // the same attachment checked as a bridge one is not on the bridge
    let as_bridge = with_prev.replace(r#""mode":"routed""#, r#""mode":"bridge","bridge":"lbr0""#);
    let bad = node.cni("CHECK", "c1", Some(&pod.path), "eth0", &as_bridge);
    assert!(
        bad.stdout.contains("not attached to bridge lbr0"),
        "{}",
        bad.stdout
    );
    let del = node.cni("DEL", "c1", Some(&pod.path), "eth0", &with_prev);
    assert!(del.ok, "{} {}", del.stdout, del.stderr);
    assert!(node.plugin_links().is_empty(), "{:?}", node.plugin_links());
    assert!(node.leases().is_empty(), "{:?}", node.leases());
    let left = node
        .ns
        .ip(&["-6", "route", "show", &format!("{v6}/128")])
        .unwrap();
    assert!(
        left.trim().is_empty(),
        "the pod route goes with the veth: {left}"
    );
    assert!(
        node.cni("DEL", "c1", Some(&pod.path), "eth0", &with_prev)
            .ok
    );
}

#[test]
fn a_routed_add_that_fails_on_the_node_route_leaves_nothing() {
    testkit::require_root!();
    let node = Node::new("rtfail");
    let conf = routed_conf(&node);
    let pod = node.pod("p");
    // The address asked for is routed elsewhere already: the node route cannot be added.
    let _client = node.client();
    node.ns
        .ip(&["route", "add", "10.79.0.9/32", "dev", "uplink"])
        .unwrap();
    let add = node.cni_env(
        "ADD",
        "c1",
        Some(&pod.path),
        "eth0",
        &conf,
        vec![("CNI_ARGS", "IP=10.79.0.9")],
    );
    assert!(!add.ok, "{}", add.stdout);
    assert_eq!(error_code(&add), 103, "{}", add.stdout);
    assert!(
        add.stdout.contains("add route 10.79.0.9/32"),
        "{}",
        add.stdout
    );
    assert!(node.plugin_links().is_empty(), "{:?}", node.plugin_links());
    assert!(node.leases().is_empty(), "{:?}", node.leases());
    let left = pod.ip(&["-o", "link", "show", "eth0"]);
    assert!(
        left.is_err() || left.unwrap().is_empty(),
        "the pod end is gone"
    );
    // the route that was there stays
    let r = node.ns.ip(&["route", "show", "10.79.0.9/32"]).unwrap();
    assert!(r.contains("dev uplink"), "{r}");
}

#[test]
fn an_unknown_mode_is_refused_before_anything_is_leased() {
    testkit::require_root!();
    let node = Node::new("rtbad");
    let conf = routed_conf(&node).replace(r#""mode":"routed""#, r#""mode":"l3""#);
    let pod = node.pod("p");
    let add = node.cni("ADD", "c1", Some(&pod.path), "eth0", &conf);
    assert_eq!(error_code(&add), 7, "{}", add.stdout);
    assert!(
        add.stdout.contains(r#"use \"routed\""#) && add.stdout.contains("leave it out"),
        "{}",
        add.stdout
    );
    assert!(node.leases().is_empty() && node.plugin_links().is_empty());
}

/// Hairpin without a bridge: a pod reaches itself through a Service address (DNAT on the node,
/// and the masquerade kube-proxy gives traffic from an endpoint to itself). The node routes the
/// packet back out the pod's own veth: no `hairpinMode` is needed.
#[test]
fn a_routed_pod_reaches_itself_through_a_service_address() {
    testkit::require_root!();
    let node = Node::new("rthp");
    let conf = routed_conf(&node);
    let pod = node.pod("p");
    let (v4, _) = addrs(&result(&node.cni(
        "ADD",
        "c1",
        Some(&pod.path),
        "eth0",
        &conf,
    )));
    let _client = node.client(); // the node's address, which the masquerade picks
    probe::serve(&pod, &[8080], &[]);
    for rule in [
        "add table ip svc".to_string(),
        "add chain ip svc pre { type nat hook prerouting priority -100; }".into(),
        format!("add rule ip svc pre ip daddr 10.96.0.10 tcp dport 80 dnat to {v4}:8080"),
        "add chain ip svc post { type nat hook postrouting priority 100; }".into(),
        format!("add rule ip svc post ip saddr {v4} ip daddr {v4} masquerade"),
    ] {
        let out = node.ns.exec("nft", &[&rule]).unwrap();
        assert!(out.status.success(), "nft {rule}: {out:?}");
    }
    assert!(
        probe::reach(&pod.path, "10.96.0.10", 80, probe::Proto::Tcp),
        "pod -> its own Service address"
    );
}
