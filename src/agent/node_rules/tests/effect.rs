//! Real packets: pod namespaces behind a "node" namespace carrying the rules, and an
//! "outside" host on the node's underlay. The outside host sees the node's address once the
//! rules are in; pod-to-pod traffic keeps the pod address.
//!
//!   pod1 10.42.1.2 ─┐                    ┌─ 198.51.100.2 out (route back to 10.42/16 via node)
//!   pod2 10.42.2.2 ─┴─ node (forwarding) ┘   198.51.100.1
//!
//! With iptables' FORWARD policy set to drop on the node (what Docker does), pod traffic
//! passes only while our accepts sit in iptables' chain too.

use std::fs::File;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::agent::node_rules::{apply_node_rules, remove_lichen_table, NodeRules};

/// Named namespaces, deleted on drop (also when the test fails).
struct Namespaces(Vec<String>);

impl Namespaces {
    fn create(roles: &[&str]) -> Namespaces {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let names = roles
            .iter()
            .map(|r| format!("lichen-nft-{pid}-{n}-{r}"))
            .collect();
        let ns = Namespaces(names);
        for name in &ns.0 {
            run(&format!("ip netns add {name}"));
        }
        ns
    }

    fn name(&self, i: usize) -> &str {
        &self.0[i]
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Runs `cmd` (split on spaces) and returns its stdout.
fn run(cmd: &str) -> String {
    let out = Command::new(cmd.split_whitespace().next().unwrap())
        .args(cmd.split_whitespace().skip(1))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `f` on a thread that has entered namespace `name` (sockets keep that namespace).
fn in_ns<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(format!("/var/run/netns/{name}")).unwrap();
    std::thread::spawn(move || {
        // SAFETY: changes only this new thread's network namespace.
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        f()
    })
    .join()
    .unwrap()
}

/// The peer address `listener` sees when `client_ns` connects to `to`.
fn seen_source(listener: &TcpListener, client_ns: &str, to: SocketAddr) -> SocketAddr {
    let stream = in_ns(client_ns, move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(10))
    });
    let _stream = stream.expect("connect");
    listener.accept().unwrap().1
}

/// Whether a connection from `client_ns` to `to` goes unanswered (its SYN dropped).
fn dropped(client_ns: &str, to: SocketAddr) -> bool {
    let res = in_ns(client_ns, move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(1))
    });
    matches!(res, Err(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

fn listen(ns: &str, addr: &str) -> (TcpListener, SocketAddr) {
    let addr: SocketAddr = addr.parse().unwrap();
    (in_ns(ns, move || TcpListener::bind(addr).unwrap()), addr)
}

fn build(ns: &Namespaces) {
    let [pod1, pod2, node, out] = [0, 1, 2, 3].map(|i| ns.name(i));
    for (pod, node_if, gw, addr) in [
        (pod1, "p1", "10.42.1.1", "10.42.1.2"),
        (pod2, "p2", "10.42.2.1", "10.42.2.2"),
    ] {
        run(&format!(
            "ip -n {node} link add {node_if} type veth peer name eth0 netns {pod}"
        ));
        run(&format!("ip -n {node} addr add {gw}/24 dev {node_if}"));
        run(&format!("ip -n {node} link set {node_if} up"));
        run(&format!("ip -n {pod} addr add {addr}/24 dev eth0"));
        run(&format!("ip -n {pod} link set eth0 up"));
        run(&format!("ip -n {pod} route add default via {gw}"));
    }
    run(&format!(
        "ip -n {node} link add up0 type veth peer name eth0 netns {out}"
    ));
    run(&format!("ip -n {node} addr add 198.51.100.1/24 dev up0"));
    run(&format!("ip -n {node} link set up0 up"));
    run(&format!("ip -n {out} addr add 198.51.100.2/24 dev eth0"));
    run(&format!("ip -n {out} link set eth0 up"));
    run(&format!(
        "ip -n {out} route add 10.42.0.0/16 via 198.51.100.1"
    ));
    run(&format!(
        "ip netns exec {node} sysctl -qw net.ipv4.ip_forward=1"
    ));
}

#[test]
fn outside_sees_the_node_address_and_pods_see_pods() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    let ns = Namespaces::create(&["pod1", "pod2", "node", "out"]);
    build(&ns);
    let [pod1, node, out] = [ns.name(0), ns.name(2), ns.name(3)];
    let (outside, outside_addr) = listen(out, "198.51.100.2:8080");
    let (pod2, pod2_addr) = listen(ns.name(1), "10.42.2.2:8080");
    let pod1_ip: IpAddr = "10.42.1.2".parse().unwrap();
    let node_ip: IpAddr = "198.51.100.1".parse().unwrap();

    // Control: without rules the outside host sees the pod address.
    assert_eq!(seen_source(&outside, pod1, outside_addr).ip(), pod1_ip);

    let rules = NodeRules {
        cluster: vec!["10.42.0.0/16".parse().unwrap()],
        masquerade: true,
    };
    in_ns(node, move || apply_node_rules(&rules)).unwrap();
    assert_eq!(seen_source(&outside, pod1, outside_addr).ip(), node_ip);
    assert_eq!(seen_source(&pod2, pod1, pod2_addr).ip(), pod1_ip);

    in_ns(node, remove_lichen_table).unwrap();
    assert_eq!(seen_source(&outside, pod1, outside_addr).ip(), pod1_ip);
}

#[test]
fn iptables_forward_policy_drop_lets_pods_through_only_with_our_rules() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    let ns = Namespaces::create(&["pod1", "pod2", "node", "out"]);
    build(&ns);
    let [pod1, node, out] = [ns.name(0), ns.name(2), ns.name(3)];
    run(&format!("ip netns exec {node} iptables -P FORWARD DROP"));
    let (outside, outside_addr) = listen(out, "198.51.100.2:8080");
    let (pod2, pod2_addr) = listen(ns.name(1), "10.42.2.2:8080");
    let pod1_ip: IpAddr = "10.42.1.2".parse().unwrap();

    assert!(dropped(pod1, pod2_addr), "iptables' policy drop must apply");
    assert!(dropped(pod1, outside_addr));

    let rules = NodeRules {
        cluster: vec!["10.42.0.0/16".parse().unwrap()],
        masquerade: true,
    };
    let again = rules.clone();
    in_ns(node, move || apply_node_rules(&again)).unwrap();
    assert_eq!(seen_source(&pod2, pod1, pod2_addr).ip(), pod1_ip);
    let node_ip: IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(seen_source(&outside, pod1, outside_addr).ip(), node_ip);

    // Our accepts flushed from FORWARD: the one in `inet lichen` alone does not help; the
    // next apply puts them back.
    run(&format!("ip netns exec {node} iptables -F FORWARD"));
    assert!(dropped(pod1, pod2_addr));
    in_ns(node, move || apply_node_rules(&rules)).unwrap();
    assert_eq!(seen_source(&pod2, pod1, pod2_addr).ip(), pod1_ip);

    in_ns(node, remove_lichen_table).unwrap();
    assert!(dropped(pod1, pod2_addr));
    let forward = run(&format!("ip netns exec {node} iptables -S FORWARD"));
    assert_eq!(forward, "-P FORWARD DROP\n");
}
