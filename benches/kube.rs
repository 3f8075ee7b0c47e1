//! The agent against the Kubernetes API (the test API server of crates/testkit/src/kube_api.rs, full
//! k3s Node objects), in namespaces made here (run as root under `unshare -n`, see
//! scripts/bench.sh). Prints figures; asserts nothing about time.
//! - the agent's RSS when idle in a 100-node cluster (listed, watching, routes programmed);
//! - the time from a Node ADDED on the watch to its route in the kernel (median and worst of
//!   several), both backends.

mod common;
use common::*;

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use lichen::netns::NetNs;
use lichen::nl::Nl;
use testkit::{kube_api, AgentArgs, Source};

const NODES: usize = 100;
const EVENTS: usize = 20;
const TOKEN: &str = "bench-token";

fn main() {
    common::require_root();
    println!(
        "Agent with the Kubernetes API (binary: {})",
        bin().display()
    );
    for backend in ["host-gw", "vxlan"] {
        run(backend);
    }
}

/// Peer `i`'s pod subnet and underlay address (a /16 underlay: every peer is adjacent).
fn peer(i: usize) -> (String, String) {
    (
        format!("10.{}.{}.0/24", 128 + i / 256, i % 256),
        format!("100.64.{}.{}", i / 250 + 1, i % 250 + 1),
    )
}

/// A full k3s Node without Flannel's VTEP MAC (every peer derives its own).
fn put(api: &kube_api::KubeApi, name: &str, cidr: &str, ip: &str) {
    api.put_node_with(name, |rv| {
        let json = kube_api::node_json(name, cidr, ip, rv);
        let strip =
            r#"{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":null}}}"#;
        kube_api::patch_annotations(&json, strip).unwrap()
    });
}

fn run(backend: &str) {
    let (ns, _far) = testkit::node_and_far("lbk");
    let api = api_in(&ns);
    let dir = std::env::temp_dir().join(format!("{}-dir", ns.name));
    fs::create_dir_all(&dir).unwrap();
    write_configs(&dir, backend);
    let args = AgentArgs {
        node_name: "self",
        net_conf: &dir.join("net-conf.json"),
        source: Source::Kubeconfig(&dir.join("kubeconfig")),
        subnet_file: &dir.join("self.env"),
        ipam_dir: None,
    };
    let agent = testkit::spawn_agent(&ns, bin(), &args, Path::new("/dev/null"), "warn");

    let mut nl = Nl::open_in(&NetNs::open(&ns.path).unwrap()).unwrap();
    let mut routes = |dst: Option<&str>| {
        nl.routes(254, None)
            .unwrap()
            .iter()
            .filter(|r| r.protocol == lichen_backends::RT_PROTO_LICHEN)
            .filter(|r| dst.is_none_or(|d| r.dst.to_string() == d))
            .count()
    };
    let t = Instant::now();
    assert!(
        wait(Duration::from_secs(60), || routes(None) >= NODES - 1),
        "{backend}: only {} routes of {} after 60 s",
        routes(None),
        NODES - 1
    );
    let start = t.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let rss = rss_kib(agent.0.id());

    let mut lat = Vec::new();
    for e in 0..EVENTS {
        let i = NODES + e;
        let (cidr, ip) = peer(i);
        let t = Instant::now();
        put(&api, &format!("peer{i}"), &cidr, &ip);
        assert!(
            wait(Duration::from_secs(10), || routes(Some(&cidr)) == 1),
            "{backend}: no route to {cidr}"
        );
        lat.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    print_figures(backend, start, rss, lat);
    drop(agent);
    api.set_down(true);
    let _ = fs::remove_dir_all(&dir);
}

/// One line: the start-up time, the idle RSS (KiB), the ADDED-to-route latencies.
fn print_figures(backend: &str, start: Duration, rss: u64, mut lat: Vec<Duration>) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{backend:<8} {NODES} nodes: listed and programmed in {:>7.1} ms; agent RSS idle {:>5.2} MB; Node ADDED -> route in kernel: median {:>5.1} ms, worst {:>5.1} ms ({EVENTS} events)",
        ms(start),
        rss as f64 / 1024.0,
        ms(lat[lat.len() / 2]),
        ms(lat[lat.len() - 1]),
    );
}

/// The API server, listening on the node's own loopback (the test certificate names
/// 127.0.0.1), with this node and its peers.
fn api_in(ns: &testkit::NamedNs) -> kube_api::KubeApi {
    let path = ns.path.clone();
    let listener = std::thread::spawn(move || {
        let f = fs::File::open(path).unwrap();
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        std::net::TcpListener::bind("127.0.0.1:6443").unwrap()
    })
    .join()
    .unwrap();
    let api = kube_api::KubeApi::start_on(listener, Some(TOKEN));
    put(&api, "self", "10.128.0.0/24", "100.64.0.1");
    for i in 1..NODES {
        let (cidr, ip) = peer(i);
        put(&api, &format!("peer{i}"), &cidr, &ip);
    }
    api
}

/// The agent's net-conf (`backend`) and kubeconfig (a token) in `dir`.
fn write_configs(dir: &Path, backend: &str) {
    fs::write(
        dir.join("net-conf.json"),
        format!(r#"{{"Network":"10.128.0.0/9","Backend":{{"Type":"{backend}"}}}}"#),
    )
    .unwrap();
    fs::write(
        dir.join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority: {}/ca.crt\nusers:\n- name: b\n  user:\n    token: {TOKEN}\ncontexts:\n- name: b\n  context:\n    cluster: b\n    user: b\ncurrent-context: b\n",
            kube_api::PKI
        ),
    )
    .unwrap();
}
