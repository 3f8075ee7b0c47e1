//! The path Flannel builds, set up by hand on a bench node, as the baseline of the data-path
//! bench: each pod attached by Debian's reference `bridge` + `host-local` with the delegate
//! config flannel's CNI plugin hands them (flannel-io/cni-plugin flannel_linux.go: type bridge,
//! isGateway, ipMasq false when flanneld masquerades, the MTU and subnet from subnet.env, a
//! route to the cluster network; `hairpinMode` and `isDefaultGateway` as kube-flannel's conflist
//! sets them), peers reached by a static route via the peer (host-gw) or over a `flannel.1`
//! VXLAN device with static ARP and FDB entries (VNI 1, port 8472, no learning, as flannel's
//! vxlan backend programs them), and flannel's iptables rules (flannel-io/flannel
//! pkg/trafficmngr/iptables/iptables.go: `masqRules`, `forwardRules`).

use std::path::Path;

use lichen::cni::CniResult;
use testkit::{Invocation, NamedNs};

/// The cluster network and node `i`'s pod subnet (as the Lichen modes of the bench use).
pub const NETWORK: &str = "10.128.0.0/9";
pub fn subnet(i: usize) -> String {
    format!("10.128.{i}.0/24")
}

const PLUGINS: &str = "/usr/lib/cni";
/// The VTEP MAC of node `i`'s flannel.1 (flannel publishes it in the Node's annotations).
fn vtep_mac(i: usize) -> String {
    format!("0e:6c:69:63:00:{i:02x}")
}

/// Runs `cmd` (`ip` or `bridge`, arguments split on whitespace) in `ns`; panics on failure.
fn run(ns: &NamedNs, cmd: &str, args: &str) {
    let argv: Vec<&str> = args.split_whitespace().collect();
    let out = ns.exec(cmd, &argv).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd} {args} in {}: {err}", ns.name);
}

/// Node `i` of `nodes` ((namespace, underlay address), nodes numbered from 1) as flanneld
/// leaves it: the peer routes of the backend and the iptables rules.
pub fn program_node(nodes: &[(NamedNs, String)], i: usize, vxlan: bool) {
    let (ns, own) = &nodes[i - 1];
    if vxlan {
        let mac = vtep_mac(i);
        let vxlan = "type vxlan id 1 dev eth0 dstport 8472 nolearning";
        run(
            ns,
            "ip",
            &format!("link add flannel.1 address {mac} mtu 1450 {vxlan} local {own}"),
        );
        run(ns, "ip", &format!("addr add 10.128.{i}.0/32 dev flannel.1"));
        run(ns, "ip", "link set flannel.1 up");
    }
    for (k, (_, peer)) in nodes.iter().enumerate() {
        let (j, net) = (k + 1, subnet(k + 1));
        if j == i {
            continue;
        }
        if !vxlan {
            run(ns, "ip", &format!("route add {net} via {peer} dev eth0"));
            continue;
        }
        let (gw, mac) = (format!("10.128.{j}.0"), vtep_mac(j));
        run(
            ns,
            "ip",
            &format!("route add {net} via {gw} dev flannel.1 onlink"),
        );
        run(
            ns,
            "ip",
            &format!("neigh add {gw} lladdr {mac} dev flannel.1 nud permanent"),
        );
        run(
            ns,
            "bridge",
            &format!("fdb add {mac} dev flannel.1 dst {peer} self permanent"),
        );
    }
    iptables(ns, &subnet(i));
}

/// flanneld's masquerade and forward rules for pod subnet `pods` of [`NETWORK`] (`@` stands for
/// the rule's comment, "flanneld masq" or "flanneld forward").
fn iptables(ns: &NamedNs, pods: &str) {
    let n = NETWORK;
    let masq = [
        "-N FLANNEL-POSTRTG".to_owned(),
        "-A POSTROUTING -m comment --comment @ -j FLANNEL-POSTRTG".to_owned(),
        "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment @ -j RETURN".to_owned(),
        format!("-A FLANNEL-POSTRTG -s {pods} -d {n} -m comment --comment @ -j RETURN"),
        format!("-A FLANNEL-POSTRTG -s {n} -d {pods} -m comment --comment @ -j RETURN"),
        format!("-A FLANNEL-POSTRTG ! -s {n} -d {pods} -m comment --comment @ -j RETURN"),
        format!("-A FLANNEL-POSTRTG -s {n} ! -d 224.0.0.0/4 -m comment --comment @ -j MASQUERADE --random-fully"),
        format!("-A FLANNEL-POSTRTG ! -s {n} -d {n} -m comment --comment @ -j MASQUERADE --random-fully"),
    ];
    let forward = [
        "-N FLANNEL-FWD".to_owned(),
        "-A FORWARD -m comment --comment @ -j FLANNEL-FWD".to_owned(),
        format!("-A FLANNEL-FWD -s {n} -m comment --comment @ -j ACCEPT"),
        format!("-A FLANNEL-FWD -d {n} -m comment --comment @ -j ACCEPT"),
    ];
    let all = masq.iter().map(|r| ("nat", "flanneld masq", r));
    for (table, comment, rule) in
        all.chain(forward.iter().map(|r| ("filter", "flanneld forward", r)))
    {
        let mut argv = vec!["-t", table];
        argv.extend(
            rule.split_whitespace()
                .map(|w| if w == "@" { comment } else { w }),
        );
        let out = ns.exec("iptables", &argv).unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "iptables {argv:?}: {err}");
    }
}

/// A pod on node `i` (`node`), attached by the reference bridge + host-local as flannel's CNI
/// plugin delegates it; leases under `data`. The pod and its address.
pub fn attach_pod(
    node: &NamedNs,
    i: usize,
    vxlan: bool,
    data: &Path,
    name: &str,
) -> (NamedNs, String) {
    let pod = NamedNs::create(name).unwrap();
    let mtu = if vxlan { 1450 } else { 1500 };
    let conf = format!(
        r#"{{"cniVersion":"1.0.0","name":"cbr0","type":"bridge","bridge":"cni0","isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"ipMasq":false,"mtu":{mtu},"ipam":{{"type":"host-local","ranges":[[{{"subnet":"{}"}}]],"routes":[{{"dst":"{NETWORK}"}}],"dataDir":"{}"}}}}"#,
        subnet(i),
        data.display()
    );
    let bridge = Path::new(PLUGINS).join("bridge");
    let a = testkit::invoke(&bridge, node, &Invocation::pod("ADD", &pod, &conf, PLUGINS)).unwrap();
    assert!(a.ok, "reference bridge ADD: {} {}", a.stdout, a.stderr);
    let ip = CniResult::parse(a.stdout.as_bytes()).unwrap().ips[0]
        .address
        .addr()
        .to_string();
    (pod, ip)
}
