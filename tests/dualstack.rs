//! Dual-stack and IPv6-only clusters end to end, for both backends (issue 15): three node
//! namespaces on an underlay of the cluster's families (198.51.100.0/24, 2001:db8:100::/64), an
//! agent on each reading Node objects with `spec.podCIDRs` of both families (10.100.<i>.0/24,
//! 2001:db8:42:<i>::/64) from a cluster dir (one case from the test Kubernetes API server, with
//! k3s Node objects of both families), one pod per node attached by the real plugin through
//! the subnet-file hand-off. Checked: the subnet file's content, the routes the agent programmed
//! (host-gw: via the peer's InternalIP of the subnet's family; VXLAN: over `lichen.1`, whose
//! underlay is the family of the Node's first InternalIP), one address per family in every pod
//! with a default route per family, `lichen status` ready with every peer subnet programmed and
//! no warning, ping and TCP across every pair of pods in every family (pod addresses kept),
//! egress to a host outside the cluster masqueraded to the node's address of that family, then
//! CHECK and DEL.

mod common;

use std::fs;
use std::time::Duration;

use common::cluster::*;
use common::*;

#[path = "dualstack/direct.rs"]
mod direct;

const WAIT: Duration = Duration::from_secs(20);
const HOST_GW: &str = r#"{"Type":"host-gw"}"#;
const VXLAN: &str = r#"{"Type":"vxlan"}"#;
/// Bytes sent over TCP per pair and family.
const BYTES: usize = 1 << 20;

fn is_v6(addr: &str) -> bool {
    addr.contains(':')
}

/// The address or subnet of `list` in the family of IPv6 (`v6`) or IPv4.
fn of_family(list: &[String], v6: bool) -> &str {
    list.iter()
        .find(|a| is_v6(a) == v6)
        .unwrap_or_else(|| panic!("no {} entry in {list:?}", if v6 { "IPv6" } else { "IPv4" }))
}

/// The families of the cluster, in the Nodes' order (true: IPv6).
fn families(c: &Cluster) -> Vec<bool> {
    c.nodes[0].subnets.iter().map(|s| is_v6(s)).collect()
}

/// The subnet file node `k`'s agent should write: IPv4 lines first, whatever the Node's order,
/// the gateway (first address) with the subnet's prefix; the pod MTU is the underlay's (1500),
/// less the VXLAN overhead of the underlay's family (50 over IPv4, 70 over IPv6).
fn expected_subnet_file(c: &Cluster, k: usize, vxlan: bool) -> String {
    let n = &c.nodes[k];
    let mut out = String::new();
    if c.stack.has_v4() {
        let s = of_family(&n.subnets, false);
        out += &format!(
            "LICHEN_NETWORK={NETWORK}\nLICHEN_SUBNET={}.1/24\n",
            s.strip_suffix(".0/24").unwrap()
        );
    }
    if c.stack.has_v6() {
        let s = of_family(&n.subnets, true);
        out += &format!(
            "LICHEN_IPV6_NETWORK={NETWORK6}\nLICHEN_IPV6_SUBNET={}1/64\n",
            s.strip_suffix("/64").unwrap()
        );
    }
    let mtu = match (vxlan, is_v6(&n.ip)) {
        (false, _) => 1500,
        (true, false) => 1450,
        (true, true) => 1430,
    };
    out + &format!("LICHEN_MTU={mtu}\nLICHEN_IPMASQ=true\n")
}

/// Is node `k`'s route to peer `j`'s subnet `subnet` the one the agent should program?
/// host-gw: via the peer's InternalIP of the subnet's family on eth0. VXLAN: via the subnet's
/// network address over the device, onlink. Both with Lichen's protocol (108).
fn route_ok(c: &Cluster, k: usize, j: usize, subnet: &str, vxlan: bool) -> bool {
    let r = c.route(k, subnet);
    let via = if vxlan {
        let net = subnet.split('/').next().unwrap();
        format!("via {net} dev lichen.1 ")
    } else {
        format!(
            "via {} dev eth0 ",
            of_family(&c.nodes[j].ips, is_v6(subnet))
        )
    };
    r.starts_with(subnet)
        && r.contains(&via)
        && r.contains("proto 108")
        && (!vxlan || r.contains("onlink"))
}

/// An outside host on the underlay (no route to any pod subnet): 198.51.100.200 and/or
/// 2001:db8:100::200, in the cluster's families.
fn outside(c: &Cluster) -> (NamedNs, Vec<String>) {
    let ns = NamedNs::create(&testkit::unique_name("lc", "outside")).unwrap();
    let mut ips = Vec::new();
    if c.stack.has_v6() {
        no_dad(&ns);
    }
    c.lan.attach(&ns, "eth0", "", "pout").unwrap();
    for v6 in families(c) {
        let (addr, ip) = if v6 {
            ("2001:db8:100::200/64", "2001:db8:100::200")
        } else {
            ("198.51.100.200/24", "198.51.100.200")
        };
        ns.add_addr("eth0", addr).unwrap();
        ips.push(ip.to_owned());
    }
    (ns, ips)
}

/// The subnet file carries every family's network and this node's subnet.
fn assert_subnet_files(c: &Cluster, vxlan: bool) {
    for k in 0..c.nodes.len() {
        let path = c.subnet_file(k);
        wait_for(&format!("{}'s subnet file", c.nodes[k].name), WAIT, || {
            path.exists()
        });
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            expected_subnet_file(c, k, vxlan),
            "{}'s subnet file",
            c.nodes[k].name
        );
    }
}

/// Every node routes every peer's subnet of every family.
fn assert_peer_routes(c: &Cluster, vxlan: bool) {
    for k in 0..c.nodes.len() {
        for j in (0..c.nodes.len()).filter(|j| *j != k) {
            for s in &c.nodes[j].subnets {
                let what = format!("{}'s route to {} ({s})", c.nodes[k].name, c.nodes[j].name);
                if !testkit::poll(WAIT, Duration::from_millis(50), || {
                    route_ok(c, k, j, s, vxlan)
                }) {
                    panic!("{what}: got {:?}", c.route(k, s));
                }
            }
        }
    }
}

/// `lichen status`: ready, every peer subnet programmed, and no warning (the kernel's own
/// route to the VXLAN device's IPv6 address was once named a foreign route to delete).
fn assert_status_settled(c: &Cluster) {
    for k in 0..c.nodes.len() {
        let peers: Vec<&String> = (0..c.nodes.len())
            .filter(|j| *j != k)
            .flat_map(|j| &c.nodes[j].subnets)
            .collect();
        let settled = |st: &str| {
            st.contains("ready:    yes")
                && peers.iter().all(|s| {
                    st.lines()
                        .any(|l| l.contains(&format!(" {s} ")) && l.contains("programmed"))
                })
        };
        if !testkit::poll(WAIT, Duration::from_millis(100), || settled(&c.status(k))) {
            panic!("{}'s status:\n{}", c.nodes[k].name, c.status(k));
        }
        let st = c.status(k);
        assert!(
            !st.contains("warning:"),
            "{}'s status:\n{st}",
            c.nodes[k].name
        );
    }
}

/// The VXLAN device rides the underlay of the Node's first InternalIP: its local address, and
/// one FDB entry per peer to the peer's address of that family.
fn assert_vxlan_underlay(c: &Cluster) {
    for k in 0..c.nodes.len() {
        let n = &c.nodes[k];
        let dev = n.ns.ip(&["-d", "link", "show", "lichen.1"]).unwrap();
        assert!(
            dev.contains(&format!("local {} ", n.ip)),
            "{}'s lichen.1 on its first InternalIP {}: {dev}",
            n.name,
            n.ip
        );
        let fdb =
            n.ns.exec("bridge", &["fdb", "show", "dev", "lichen.1"])
                .unwrap();
        let fdb = String::from_utf8_lossy(&fdb.stdout);
        for j in (0..c.nodes.len()).filter(|j| *j != k) {
            assert!(
                fdb.contains(&format!("dst {} ", c.nodes[j].ip)),
                "{}'s FDB entry to {} ({}): {fdb}",
                n.name,
                c.nodes[j].name,
                c.nodes[j].ip
            );
        }
    }
}

/// One pod per node: one address per family, in the node's subnet, and a default route per
/// family via the node's gateway.
fn assert_pod_addresses(c: &Cluster, pods: &[Pod], fams: &[bool]) {
    for (k, p) in pods.iter().enumerate() {
        let n = &c.nodes[k];
        assert_eq!(
            p.ips.len(),
            fams.len(),
            "{}'s pod addresses {:?}",
            n.name,
            p.ips
        );
        for &v6 in fams {
            let ip: std::net::IpAddr = of_family(&p.ips, v6).parse().unwrap();
            let net: ipnet::IpNet = of_family(&n.subnets, v6).parse().unwrap();
            assert!(net.contains(&ip), "{}'s pod {ip} in {net}", n.name);
            let gw = lichen::subnet_file::SubnetFile::read(&c.subnet_file(k))
                .unwrap()
                .unwrap()
                .ranges()
                .into_iter()
                .find(|(s, _)| *s == net)
                .map(|(_, gw)| gw)
                .unwrap();
            let family = if v6 { "-6" } else { "-4" };
            let default = p.ns.ip(&[family, "route", "show", "default"]).unwrap();
            assert!(
                default.contains(&format!("via {gw} dev eth0")),
                "{}'s pod default route ({family}) via {gw}: {default:?}",
                n.name
            );
        }
    }
}

/// Every pod reaches every pod on another node in every family: ping and TCP, with the pod
/// addresses kept (no masquerading inside the cluster).
fn assert_pods_reach_each_other(c: &Cluster, pods: &[Pod], fams: &[bool]) {
    for (a, pa) in pods.iter().enumerate() {
        for (b, pb) in pods.iter().enumerate().filter(|(b, _)| *b != a) {
            for &v6 in fams {
                let (from, to) = (of_family(&pa.ips, v6), of_family(&pb.ips, v6));
                let what = format!(
                    "{} pod ({from}) -> {} pod ({to})",
                    c.nodes[a].name, c.nodes[b].name
                );
                assert!(pa.ns.ping(to, 3).unwrap(), "ping {what}");
                let (n, peer) = tcp_transfer(&pb.ns, to, &pa.ns, BYTES);
                assert_eq!(n, BYTES, "TCP {what}");
                assert_eq!(peer, from, "TCP {what}: the pod address is kept");
            }
        }
    }
}

/// Egress to a host outside the cluster leaves with the node's address of the family.
fn assert_egress_masqueraded(c: &Cluster, pods: &[Pod], fams: &[bool]) {
    let (out, out_ips) = outside(c);
    for (k, p) in pods.iter().enumerate() {
        for &v6 in fams {
            let dst = of_family(&out_ips, v6);
            let node_ip = of_family(&c.nodes[k].ips, v6);
            let (n, peer) = tcp_transfer(&out, dst, &p.ns, 64 << 10);
            assert_eq!(n, 64 << 10, "{}'s pod -> outside {dst}", c.nodes[k].name);
            assert_eq!(
                peer, node_ip,
                "{}'s pod -> outside {dst}: masqueraded to the node's address",
                c.nodes[k].name
            );
        }
    }
}

/// CHECK agrees with what ADD made; DEL removes the pod's interface and its leases.
fn assert_check_and_del(c: &Cluster, pods: &[Pod]) {
    for (k, p) in pods.iter().enumerate() {
        let name = &c.nodes[k].name;
        let check = extend(
            &c.pod_conf(k),
            &format!(r#""prevResult":{}"#, p.result.trim()),
        );
        let ans = c.pod_cni(k, "CHECK", &p.ns, &check);
        assert!(ans.ok, "CHECK on {name}: {} {}", ans.stdout, ans.stderr);
        let ans = c.pod_cni(k, "DEL", &p.ns, &c.pod_conf(k));
        assert!(ans.ok, "DEL on {name}: {} {}", ans.stdout, ans.stderr);
        assert!(
            !links(&p.ns).contains(&"eth0".to_owned()),
            "{name}'s pod has no eth0 after DEL"
        );
        let leases: Vec<String> = fs::read_dir(c.ipam_dir(k).join("cluster"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.parse::<std::net::IpAddr>().is_ok())
            .collect();
        assert!(leases.is_empty(), "{name}'s leases after DEL: {leases:?}");
    }
}

/// One cluster per case; the steps run in order on it. `api`: the Nodes come from the test API
/// server (as the shipped DaemonSet's agents read them), else from a cluster dir.
fn dual_cluster_works(tag: &str, backend: &str, stack: Stack, api: bool) {
    let vxlan = backend == VXLAN;
    let mut c = if api {
        Cluster::with_stack_api(tag, 3, backend, stack)
    } else {
        Cluster::with_stack(tag, 3, backend, stack)
    };
    let fams = families(&c);
    c.start_agents();

    assert_subnet_files(&c, vxlan);
    assert_peer_routes(&c, vxlan);
    assert_status_settled(&c);
    if vxlan {
        assert_vxlan_underlay(&c);
    }
    let pods: Vec<Pod> = (0..c.nodes.len())
        .map(|k| c.pod_attached(k, &format!("{tag}-pod{k}")))
        .collect();
    assert_pod_addresses(&c, &pods, &fams);
    assert_pods_reach_each_other(&c, &pods, &fams);
    assert_egress_masqueraded(&c, &pods, &fams);
    assert_check_and_del(&c, &pods);
}

#[test]
fn dual_stack_host_gw() {
    testkit::require_root!();
    dual_cluster_works("dshg", HOST_GW, Stack::Dual, false);
}

/// Through the Kubernetes API: k3s Nodes with `spec.podCIDRs` and InternalIPs of both families.
#[test]
fn dual_stack_vxlan_from_the_kubernetes_api() {
    testkit::require_root!();
    dual_cluster_works("dsvx", VXLAN, Stack::Dual, true);
}

#[test]
fn dual_stack_ipv6_first_host_gw() {
    testkit::require_root!();
    dual_cluster_works("d6hg", HOST_GW, Stack::DualV6First, false);
}

#[test]
fn dual_stack_ipv6_first_vxlan_over_an_ipv6_underlay() {
    testkit::require_root!();
    dual_cluster_works("d6vx", VXLAN, Stack::DualV6First, false);
}

#[test]
fn ipv6_only_host_gw() {
    testkit::require_root!();
    dual_cluster_works("v6hg", HOST_GW, Stack::V6, false);
}

#[test]
fn ipv6_only_vxlan() {
    testkit::require_root!();
    dual_cluster_works("v6vx", VXLAN, Stack::V6, false);
}
