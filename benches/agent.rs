//! Agent benchmark, in namespaces made here (run as root under `unshare -n`, see
//! scripts/bench.sh). Prints figures; asserts nothing about time.
//! - convergence: from a cluster-dir change (one file renamed into place) to the routes being in
//!   the kernel, for 1 and 1,000 new peers, both backends;
//! - the agent's RSS when idle with 10 and 1,000 peers;
//! - TCP throughput pod→pod across two nodes (host-gw, VXLAN) against the plain underlay path
//!   between the two node namespaces (iperf3).

mod common;
use common::*;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use lichen::netns::NetNs;
use lichen::nl::Nl;
use testkit::{AgentArgs, NamedNs, Source, Underlay};

const PROTO_LICHEN: u8 = lichen_backends::RT_PROTO_LICHEN;

fn main() {
    common::require_root();
    println!("Agent benchmark (binary: {})", bin().display());
    for backend in ["host-gw", "vxlan"] {
        for peers in [1usize, 1000] {
            let (t, rss) = convergence(backend, peers);
            println!(
                "{backend:<8} {peers:>5} new peer(s): routes in the kernel after {:>8.1} ms; agent RSS idle {:>6.2} MB",
                t.as_secs_f64() * 1000.0,
                rss as f64 / 1024.0
            );
        }
    }
    let (_, rss10) = convergence("vxlan", 10);
    println!(
        "vxlan       10 peers: agent RSS idle {:.2} MB",
        rss10 as f64 / 1024.0
    );
    throughput();
}

fn start_agent(ns: &NamedNs, dir: &Path, backend: &str, node: &str) -> Agent {
    fs::write(
        dir.join("net-conf.json"),
        format!(r#"{{"Network":"10.128.0.0/9","Backend":{{"Type":"{backend}"}}}}"#),
    )
    .unwrap();
    let args = AgentArgs {
        node_name: node,
        net_conf: &dir.join("net-conf.json"),
        source: Source::ClusterDir(&dir.join("objects")),
        subnet_file: &dir.join(format!("{node}.env")),
        ipam_dir: None,
    };
    testkit::spawn_agent(ns, bin(), &args, Path::new("/dev/null"), "warn")
}

/// (time from the change to all routes present, idle RSS in KiB afterwards).
fn convergence(backend: &str, peers: usize) -> (Duration, u64) {
    let (ns, _far) = testkit::node_and_far("lba");
    let dir = std::env::temp_dir().join(format!("{}-dir", ns.name));
    fs::create_dir_all(dir.join("objects")).unwrap();
    fs::write(
        dir.join("objects/self.json"),
        node_json("self", "10.128.0.0/24", "100.64.0.1"),
    )
    .unwrap();
    let agent = start_agent(&ns, &dir, backend, "self");
    assert!(
        wait(Duration::from_secs(10), || dir.join("self.env").exists()),
        "agent did not start"
    );

    let mut nl = Nl::open_in(&NetNs::open(&ns.path).unwrap()).unwrap();
    let mut count = || {
        nl.routes(254, None)
            .unwrap()
            .iter()
            .filter(|r| r.protocol == PROTO_LICHEN)
            .count()
    };
    // the change: one List document with every new peer, renamed into place
    let items: Vec<String> = (1..=peers)
        .map(|i| {
            node_json(
                &format!("peer{i}"),
                &format!("10.{}.{}.0/24", 128 + i / 256, i % 256),
                &format!("100.64.{}.{}", i / 250 + 1, i % 250 + 1),
            )
        })
        .collect();
    let tmp = dir.join("objects/.peers.tmp");
    fs::write(
        &tmp,
        format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
            items.join(",")
        ),
    )
    .unwrap();
    let t = Instant::now();
    fs::rename(&tmp, dir.join("objects/peers.json")).unwrap();
    let ok = wait(Duration::from_secs(60), || count() >= peers);
    let took = t.elapsed();
    assert!(
        ok,
        "{backend}: only {} of {peers} routes after 60 s",
        count()
    );
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_kib(agent.0.id());
    drop(agent);
    let _ = fs::remove_dir_all(&dir);
    (took, rss)
}

fn throughput() {
    let secs = std::env::var("BENCH_IPERF_SECONDS").unwrap_or_else(|_| "5".into());
    let mut rows = Vec::new();
    for backend in ["host-gw", "vxlan"] {
        let sw = Underlay::create(&testkit::unique_name("lbt", "sw")).unwrap();
        let dir = std::env::temp_dir().join(format!("{}-dir", sw.ns.name));
        fs::create_dir_all(dir.join("objects")).unwrap();
        let nodes = two_nodes(&sw, &dir);
        let agents: Vec<Agent> = nodes
            .iter()
            .enumerate()
            .map(|(k, (ns, _))| start_agent(ns, &dir, backend, &format!("n{}", k + 1)))
            .collect();
        let pods: Vec<(NamedNs, String)> = nodes
            .iter()
            .enumerate()
            .map(|(k, (ns, _))| {
                let name = format!("n{}", k + 1);
                let pod = testkit::unique_name("lbt", &format!("pod{k}"));
                attach_pod(
                    ns,
                    &dir.join(format!("{name}.env")),
                    &dir.join(format!("{name}-ipam")),
                    &pod,
                )
            })
            .collect();
        assert!(wait(Duration::from_secs(10), || pods[0]
            .0
            .ping(&pods[1].1, 1)
            .unwrap_or(false)));
        // Alternate the plain path and the pod path, three rounds each, and keep the medians:
        // one iperf3 run on a shared 2-core machine varies by ±15%.
        let (mut plain, mut pod) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            plain.push(iperf(&nodes[1].0, &nodes[0].0, &nodes[1].1, &secs));
            pod.push(iperf(&pods[1].0, &pods[0].0, &pods[1].1, &secs));
        }
        rows.push((backend, median(plain), median(pod)));
        drop(agents);
        let _ = fs::remove_dir_all(&dir);
    }
    println!("TCP throughput (iperf3, {secs} s, one stream, median of 3 alternating rounds):");
    for (backend, plain, pod) in &rows {
        println!(
            "  {backend:<8} plain underlay node to node {plain:>6.2} Gbit/s; pod to pod {pod:>6.2} Gbit/s; ratio {:.3}",
            pod / plain
        );
    }
}

/// Nodes n1 and n2 (198.51.100.11 and .12) on the underlay `sw`, their Node objects in `dir`:
/// (namespace, address) each.
fn two_nodes(sw: &Underlay, dir: &Path) -> Vec<(NamedNs, String)> {
    let mut nodes = Vec::new();
    for i in 1..=2 {
        let ns = NamedNs::create(&testkit::unique_name("lbt", &format!("n{i}"))).unwrap();
        let ip = format!("198.51.100.{}", 10 + i);
        sw.attach(&ns, "eth0", &format!("{ip}/24"), &format!("p{i}"))
            .unwrap();
        fs::write(
            dir.join(format!("objects/n{i}.json")),
            node_json(&format!("n{i}"), &format!("10.128.{i}.0/24"), &ip),
        )
        .unwrap();
        nodes.push((ns, ip));
    }
    nodes
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
