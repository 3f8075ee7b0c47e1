//! End to end through a real container runtime's Kubernetes path, as users run Lichen: Debian's
//! containerd with its CRI plugin, driven over CRI v1 like a kubelet (tests/runtime/cri.py), on
//! two nodes laid out like a k3s node with flannel off and like a microk8s node
//! (tests/runtime/node.rs). The shipped manifest's DaemonSet runs as written: its init
//! containers, then its agent (tests/runtime/daemonset.py), against the test API server. Then:
//! NetworkReady false until the agent is ready and true after; pod sandboxes with addresses in
//! their node's podCIDR and `lo` up; traffic within a node and across nodes; a pod reaching
//! itself through its own host port; stop and remove leaving no lease and no veth. The k3s node
//! runs once more in dual-stack, the manifest edited as the README says: one address per
//! family per pod in the CRI's status, traffic over both families.
//!
//! The sandbox image is built here (nothing can be pulled): a static `pause()` loop. The tests
//! take a lock so only one runs at a time (they bind over the same host paths, each in its own
//! mount namespace, and create missing mount points, which the last one out removes).

mod common;
#[path = "runtime/layout.rs"]
mod layout;
#[path = "runtime/node.rs"]
mod node;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::cluster::{tcp_transfer_via, wait_for, Cluster, Stack};
use common::*;
use layout::{DaemonSet, Layout, MountPoints, PYTHON};
use node::{Pod, RuntimeNode};

const READY: Duration = Duration::from_secs(60);
const HOST_PORT: &str = "30501";

#[test]
fn k3s_node_without_flannel() {
    testkit::require_root!();
    run(&layout::K3S);
}

#[test]
fn microk8s_node() {
    testkit::require_root!();
    run(&layout::MICROK8S);
}

/// The README's edit of the ConfigMap's net-conf.json for a dual-stack k3s cluster ("Dual-stack
/// (IPv4 + IPv6) on k3s", step 2), as written there.
const DUAL_STACK_EDIT: &str = r#""EnableIPv6": true, "IPv6Network": "fd42:42::/56""#;

/// The k3s layout with the manifest edited as the README says for dual-stack, Nodes with a
/// podCIDR and an InternalIP of each family: pods get one address per family, and talk over
/// both, within a node and across nodes.
#[test]
fn k3s_node_dual_stack() {
    testkit::require_root!();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    assert!(
        readme.unwrap().contains(DUAL_STACK_EDIT),
        "README's dual-stack step no longer reads {DUAL_STACK_EDIT}: update the test with it"
    );
    let edit = format!("{{{DUAL_STACK_EDIT}}}");
    run_with(
        &layout::K3S,
        DaemonSet::load_merged(layout::K3S.manifest, Some(&edit)),
    );
}

/// Fails (not skips) when what scripts/setup.sh installs is missing.
fn require_tools() {
    for (tool, arg) in [
        ("containerd", "--version"),
        ("runc", "--version"),
        ("ctr", "--version"),
        ("gcc", "--version"),
        ("nsenter", "--version"),
    ] {
        let ok = Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "{tool} is missing: run scripts/setup.sh (containerd, runc, gcc)"
        );
    }
    let py = Command::new(PYTHON)
        .args(["-c", "import grpc, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        py,
        "python3-grpcio or python3-yaml is missing: run scripts/setup.sh"
    );
}

/// Only one runtime test at a time on this machine (an flock held until dropped).
fn exclusive() -> std::fs::File {
    let f = std::fs::File::create(std::env::temp_dir().join("lichen-runtime-test.lock")).unwrap();
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

/// The nodes, then the mount points the test created, then the working dir.
struct Site {
    nodes: Vec<RuntimeNode>,
    mounts: MountPoints,
    dir: PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.nodes.clear();
        self.mounts = MountPoints::default();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ping(from: &Path, ip: &str) -> bool {
    Command::new("nsenter")
        .arg(format!("--net={}", from.display()))
        .args(["ping", "-c", "3", "-i", "0.2", "-w", "5", ip])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Ping and 1 MiB over TCP from `a` to `b`, which sees `a`'s own address: in each family the
/// pods have (their addresses pair up in the order the CRI reports them).
fn traffic(what: &str, a: &Pod, b: &Pod) {
    let ips =
        |p: &Pod| -> Vec<String> { std::iter::once(&p.ip).chain(&p.more_ips).cloned().collect() };
    for (from, to) in ips(a).iter().zip(&ips(b)) {
        assert!(ping(&a.netns, to), "{what}: ping {from} -> {to}");
        let target = match to.contains(':') {
            true => format!("[{to}]:5001"),
            false => format!("{to}:5001"),
        };
        let (n, peer) = tcp_transfer_via(&b.netns, &a.netns, &target, 1 << 20);
        assert_eq!(n, 1 << 20, "{what}: TCP {from} -> {to}");
        assert_eq!(&peer, from, "{what}: pod traffic keeps the pod address");
    }
}

fn lo_up(pod: &Pod) -> bool {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", pod.netns.display()))
        .args(["ip", "-o", "link", "show", "lo"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let flags = text.split('<').nth(1).and_then(|t| t.split('>').next());
    flags.is_some_and(|f| f.split(',').any(|x| x == "UP"))
}

/// The test cluster, its Nodes' podCIDRs from the manifest's own cluster network(s), as the
/// controller-manager hands them out (the first /SubnetLen to the first node, …): IPv4, or
/// dual-stack when net-conf.json has an `IPv6Network`.
fn cluster_for(layout: &Layout, ds: &DaemonSet) -> Cluster {
    let network: ipnet::Ipv4Net = ds.network.parse().unwrap();
    let (tag, stack) = match ds.network6 {
        Some(_) => (format!("rt-{}6", layout.name), Stack::Dual),
        None => (format!("rt-{}", layout.name), Stack::V4),
    };
    let mut cluster = Cluster::with_stack_api(&tag, 2, "{}", stack);
    let mut v4 = network.subnets(ds.subnet_len).unwrap();
    let mut v6 = ds.network6.as_ref().map(|(net, len)| {
        let net: ipnet::Ipv6Net = net.parse().unwrap();
        net.subnets(*len).unwrap()
    });
    for k in 0..cluster.nodes.len() {
        let mut all = vec![v4.next().unwrap().to_string()];
        all.extend(v6.as_mut().map(|s| s.next().unwrap().to_string()));
        cluster.nodes[k].set_subnets(&all);
        cluster.publish(k);
    }
    cluster
}

/// A runtime node for every node of the cluster, in a working dir of their own.
fn site_for(layout: &Layout, cluster: &Cluster, ds: &DaemonSet) -> Site {
    let dir = std::env::temp_dir().join(testkit::unique_name("lr", layout.name));
    std::fs::create_dir_all(&dir).unwrap();
    let mut site = Site {
        nodes: Vec::new(),
        mounts: MountPoints::default(),
        dir: dir.clone(),
    };
    let image = layout::pause_image(&dir);
    for n in &cluster.nodes {
        let rn = RuntimeNode::start(layout, n, &dir, &mut site.mounts, &ds.host_paths, &image);
        site.nodes.push(rn);
    }
    site
}

/// The DaemonSet's init containers run to completion; until its agent is ready, containerd
/// finds no network config and says the network is not ready. Then the agent runs, and the
/// network is ready on every node.
fn run_daemonset(layout: &Layout, ds: &DaemonSet, nodes: &mut [RuntimeNode]) {
    for n in nodes.iter_mut() {
        for c in &ds.init {
            n.run_container(ds, c, false);
        }
        let (ready, msg) = n.network_ready();
        let files = n.conf_files();
        assert!(
            !ready && files.is_empty(),
            "{}: before the agent runs containerd must see no network (NetworkReady={ready} \
             {msg:?}; {} holds {files:?})",
            n.name,
            layout.conf_dir()
        );
    }
    for n in nodes.iter_mut() {
        for c in &ds.containers {
            n.run_container(ds, c, true);
        }
    }
    for n in nodes.iter() {
        wait_for(&format!("NetworkReady on {}", n.name), READY, || {
            n.network_ready().0
        });
    }
}

/// Two pods per node, each in its node's podCIDR with `lo` up and one lease; the first one
/// maps a host port on its node's address to its port 5001.
fn run_pods(nodes: &[RuntimeNode]) -> Vec<Vec<Pod>> {
    let mut pods: Vec<Vec<Pod>> = Vec::new();
    for n in nodes.iter() {
        let mapping = format!("TCP:5001:{HOST_PORT}:{}", n.ip);
        let a = n.run_pod("a", &[&mapping]);
        let b = n.run_pod("b", &[]);
        pods.push(vec![a, b]);
    }
    for (n, ps) in nodes.iter().zip(&pods) {
        for p in ps {
            assert_addresses(n, p);
            assert!(lo_up(p), "{}: lo is not up in pod {}", n.name, p.ip);
        }
        let families = n.subnets.len();
        let leases = n.leases();
        assert_eq!(
            leases.len(),
            2 * families,
            "{}: one lease per pod and family: {leases:?}",
            n.name
        );
    }
    pods
}

/// The pod's addresses as the CRI reports them: exactly one in each of its node's podCIDRs.
fn assert_addresses(n: &RuntimeNode, p: &Pod) {
    let ips: Vec<std::net::IpAddr> = std::iter::once(&p.ip)
        .chain(&p.more_ips)
        .map(|ip| ip.parse().unwrap())
        .collect();
    for subnet in &n.subnets {
        let subnet: ipnet::IpNet = subnet.parse().unwrap();
        let inside = ips.iter().filter(|ip| subnet.contains(*ip)).count();
        assert_eq!(
            inside, 1,
            "{}: pod {ips:?}: one address in {subnet}",
            n.name
        );
    }
    assert_eq!(ips.len(), n.subnets.len(), "{}: pod {ips:?}", n.name);
}

/// Traffic within a node and across nodes, both ways, and a pod reaching itself through its
/// own host port.
fn assert_traffic(nodes: &[RuntimeNode], pods: &[Vec<Pod>]) {
    traffic("same node", &pods[0][0], &pods[0][1]);
    traffic("same node (back)", &pods[0][1], &pods[0][0]);
    traffic("across nodes", &pods[0][1], &pods[1][0]);
    traffic("across nodes (back)", &pods[1][1], &pods[0][0]);
    for (n, ps) in nodes.iter().zip(pods) {
        let target = format!("{}:{HOST_PORT}", n.ip);
        let (got, _) = tcp_transfer_via(&ps[0].netns, &ps[0].netns, &target, 1 << 16);
        assert_eq!(
            got,
            1 << 16,
            "{}: a pod reaches itself via {target}",
            n.name
        );
    }
}

/// Stop and remove: no lease and no pod veth left behind.
fn remove_pods(nodes: &[RuntimeNode], pods: &[Vec<Pod>]) {
    for (n, ps) in nodes.iter().zip(pods) {
        let veths = n.pod_veths();
        assert_eq!(
            veths.len(),
            2,
            "{}: one host veth per pod: {veths:?}",
            n.name
        );
        let mut leased = n.leases();
        leased.retain(|l| ps.iter().any(|p| &p.ip == l));
        assert_eq!(
            leased.len(),
            2,
            "{}: the pods' leases are where we look",
            n.name
        );
        for p in ps {
            n.remove_pod(p);
        }
        assert_eq!(n.leases(), Vec::<String>::new(), "{}: leases left", n.name);
        let left: Vec<String> = n
            .pod_veths()
            .into_iter()
            .filter(|v| veths.contains(v))
            .collect();
        assert!(left.is_empty(), "{}: veths left: {left:?}", n.name);
    }
}

fn run(layout: &Layout) {
    run_with(layout, DaemonSet::load(layout.manifest));
}

fn run_with(layout: &Layout, ds: DaemonSet) {
    require_root();
    require_tools();
    let _lock = exclusive();
    let cluster = cluster_for(layout, &ds);
    let mut site = site_for(layout, &cluster, &ds);
    run_daemonset(layout, &ds, &mut site.nodes);
    let pods = run_pods(&site.nodes);
    assert_traffic(&site.nodes, &pods);
    remove_pods(&site.nodes, &pods);
    drop(site);
    drop(cluster);
}
