//! Data-path benchmark (issue 16), in namespaces made here (root, under `unshare -n`; see
//! scripts/bench.sh). Prints figures; asserts nothing about time.
//!
//! Two nodes on a switch, one pod on each per mode. For every mode, alternating rounds (three
//! by default) of the plain underlay (node to node) and pod to pod, with medians kept: TCP
//! throughput (iperf3, one stream), the machine's CPU time per GB moved
//! (datapath/measure.rs), and the median latency of a 1-byte TCP request/response. Modes:
//! Lichen host-gw and VXLAN, NetworkPolicy off and on (agent `--network-policy`, no policy
//! objects: the cost of the mode itself), with the shipped net-conf's `IPMasq`, each with pods
//! on the bridge and in the plugin's routed mode (`"mode": "routed"`: no bridge, a /32 route
//! per pod); and the path Flannel builds for the same backend (datapath/flannel.rs). VXLAN runs without `DirectRouting`, which on one segment would
//! route directly and measure host-gw again.
//!
//! Lichen's WireGuard backend runs after the VXLAN rows, on a bed of its own, compared with
//! Lichen VXLAN (bridge mode, policy off) of the same run (datapath/wireguard.rs: userspace
//! wireguard-go on this machine).
//!
//! Lichen's bridge-mode and routed-mode pods of one backend and policy setting share one bed
//! (both kinds on each node) and alternate within each round, so the two modes are compared
//! under the same load.
//!
//! `BENCH_IPERF_SECONDS` (default 5) per transfer, `BENCH_RR` (default 5000) round trips,
//! `BENCH_ROUNDS` (default 3) rounds,
//! `BENCH_BACKEND=host-gw|vxlan|wireguard` for one backend only (wireguard: with the Lichen
//! VXLAN bridge-mode row, policy off, it is compared with), `BENCH_MODE=bridge|routed` for Lichen's
//! pods in one mode only. `BENCH_AB=toggle,…`: instead, paired A/B rounds of one setting off
//! and on (datapath/ab.rs).

#[path = "datapath/ab.rs"]
mod ab;
mod common;
#[path = "datapath/flannel.rs"]
mod flannel;
#[path = "datapath/measure.rs"]
mod measure;
#[path = "datapath/report.rs"]
mod report;
#[path = "datapath/wireguard.rs"]
mod wireguard;

use common::*;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use measure::Transfer;
use testkit::mounts::{kill_netns_processes, PrivateMounts};
use testkit::{AgentArgs, NamedNs, Source, Underlay};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Lichen {
        vxlan: bool,
        policy: bool,
        routed: bool,
    },
    Flannel {
        vxlan: bool,
    },
    /// Lichen's WireGuard backend (userspace wireguard-go here: datapath/wireguard.rs).
    LichenWg,
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Lichen {
                vxlan,
                policy,
                routed,
            } => format!(
                "lichen {}{} policy {}",
                if routed { "routed " } else { "" },
                backend(vxlan),
                if policy { "on" } else { "off" }
            ),
            Mode::Flannel { vxlan } => format!("flannel-equivalent {}", backend(vxlan)),
            Mode::LichenWg => "lichen wireguard (wireguard-go)".into(),
        }
    }
}

fn backend(vxlan: bool) -> &'static str {
    if vxlan {
        "vxlan"
    } else {
        "host-gw"
    }
}

/// The medians of one mode.
struct Row {
    mode: Mode,
    under: Transfer,
    pod: Transfer,
    rr_under: f64,
    rr_pod: f64,
}

fn main() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("bench: needs root; run scripts/bench.sh");
        std::process::exit(1);
    }
    let secs = std::env::var("BENCH_IPERF_SECONDS").unwrap_or_else(|_| "5".into());
    let rr: usize = std::env::var("BENCH_RR")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    println!("Data-path benchmark (binary: {})", bin().display());
    if let Ok(list) = std::env::var("BENCH_AB") {
        ab::run(&list, &secs, rr);
        return;
    }
    let only = std::env::var("BENCH_BACKEND").ok();
    let only_mode = std::env::var("BENCH_MODE").ok();
    let mut rows = Vec::new();
    if only.as_deref() == Some("wireguard") {
        // WireGuard alone: with the Lichen VXLAN row it is compared with.
        rows.extend(measure_bed(&[VXLAN_BASE], &secs, rr));
        rows.extend(measure_bed(&[Mode::LichenWg], &secs, rr));
    }
    for vxlan in [false, true] {
        if only.as_deref().is_some_and(|b| b != backend(vxlan)) {
            continue;
        }
        rows.extend(measure_bed(&[Mode::Flannel { vxlan }], &secs, rr));
        for policy in [false, true] {
            let modes: Vec<Mode> = [false, true]
                .into_iter()
                .filter(|&routed| {
                    only_mode
                        .as_deref()
                        .is_none_or(|m| (m == "routed") == routed)
                })
                .map(|routed| Mode::Lichen {
                    vxlan,
                    policy,
                    routed,
                })
                .collect();
            rows.extend(measure_bed(&modes, &secs, rr));
        }
        if vxlan {
            rows.extend(measure_bed(&[Mode::LichenWg], &secs, rr));
        }
    }
    report::print_rows(&rows, &secs, rr);
}

/// The row WireGuard is compared with: Lichen's VXLAN, bridge mode, policy off.
const VXLAN_BASE: Mode = Mode::Lichen {
    vxlan: true,
    policy: false,
    routed: false,
};

/// The bed of one backend and policy setting: the switch, the nodes, a pod on each node per
/// mode measured on it (`pods[mode][node]`: Lichen's bridge and routed pods side by side,
/// alternated round by round, so both see the same machine), the agents, the work dir.
struct Bed {
    _sw: Underlay,
    nodes: Vec<(NamedNs, String)>,
    pods: Vec<Vec<(NamedNs, String)>>,
    _agents: Vec<Agent>,
    /// The nodes' private mount namespaces (WireGuard only).
    mounts: Vec<PrivateMounts>,
    dir: PathBuf,
}

impl Drop for Bed {
    fn drop(&mut self) {
        self._agents.clear();
        // What the agents left running (the WireGuard backend's wireguard-go, by design).
        for (ns, _) in &self.nodes {
            kill_netns_processes(ns);
        }
        self.mounts.clear();
        self.pods.clear();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `BENCH_ROUNDS` (default 3) alternating rounds on one bed for `modes` (one Flannel mode, or
/// Lichen's modes of one backend and policy setting): the underlay, then each mode's pods.
fn measure_bed(modes: &[Mode], secs: &str, rr: usize) -> Vec<Row> {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let bed = build(modes);
    let n = &bed.nodes;
    for (p, mode) in bed.pods.iter().zip(modes) {
        let reach = || p[0].0.ping(&p[1].1, 1).unwrap_or(false);
        let label = mode.label();
        assert!(
            wait(Duration::from_secs(10), reach),
            "{label}: pods cannot reach each other"
        );
    }
    let (mut under, mut rr_u) = (vec![], vec![]);
    let (mut pod, mut rr_p) = (vec![vec![]; modes.len()], vec![vec![]; modes.len()]);
    for _ in 0..rounds {
        under.push(measure::transfer(
            &n[1].0, &n[0].0, &n[1].1, secs, "underlay",
        ));
        for (k, p) in bed.pods.iter().enumerate() {
            let label = modes[k].label();
            pod[k].push(measure::transfer(&p[1].0, &p[0].0, &p[1].1, secs, &label));
        }
        rr_u.push(measure::request_response(&n[1].0, &n[0].0, &n[1].1, rr));
        for (k, p) in bed.pods.iter().enumerate() {
            rr_p[k].push(measure::request_response(&p[1].0, &p[0].0, &p[1].1, rr));
        }
    }
    let (under, rr_under) = (median_transfer(under), median(rr_u));
    modes
        .iter()
        .zip(pod.into_iter().zip(rr_p))
        .map(|(&mode, (pod, rr))| Row {
            mode,
            under,
            pod: median_transfer(pod),
            rr_under,
            rr_pod: median(rr),
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Throughput and CPU per GB, each its own median.
fn median_transfer(v: Vec<Transfer>) -> Transfer {
    Transfer {
        gbps: median(v.iter().map(|t| t.gbps).collect()),
        cpu_s_per_gb: median(v.iter().map(|t| t.cpu_s_per_gb).collect()),
    }
}

/// Nodes n1 and n2 (198.51.100.11 and .12) on a switch, programmed for `modes` (all of one
/// backend and policy setting), a pod on each per mode.
fn build(modes: &[Mode]) -> Bed {
    let sw = Underlay::create(&testkit::unique_name("lbd", "sw")).unwrap();
    let dir = std::env::temp_dir().join(format!("{}-dir", sw.ns.name));
    fs::create_dir_all(dir.join("objects")).unwrap();
    let mut nodes = Vec::new();
    for i in 1..=2 {
        let ns = NamedNs::create(&testkit::unique_name("lbd", &format!("n{i}"))).unwrap();
        let ip = format!("198.51.100.{}", 10 + i);
        sw.attach(&ns, "eth0", &format!("{ip}/24"), &format!("p{i}"))
            .unwrap();
        let json = node_json(&format!("n{i}"), &flannel::subnet(i), &ip);
        fs::write(dir.join(format!("objects/n{i}.json")), json).unwrap();
        nodes.push((ns, ip));
    }
    let routed: Vec<bool> = modes
        .iter()
        .filter_map(|m| match m {
            Mode::Lichen { routed, .. } => Some(*routed),
            Mode::Flannel { .. } | Mode::LichenWg => None,
        })
        .collect();
    let (agents, mounts, pods) = match modes[0] {
        Mode::Lichen { vxlan, policy, .. } => {
            let (agents, pods) = lichen_nodes(&nodes, &dir, vxlan, policy, &routed);
            (agents, Vec::new(), pods)
        }
        Mode::Flannel { vxlan } => {
            let (agents, pods) = flannel_nodes(&nodes, &dir, vxlan);
            (agents, Vec::new(), pods)
        }
        Mode::LichenWg => {
            let (agents, mounts, pods) = wireguard::lichen_wg_nodes(&nodes, &dir, pod_name);
            (agents, mounts, vec![pods])
        }
    };
    Bed {
        _sw: sw,
        nodes,
        pods,
        _agents: agents,
        mounts,
        dir,
    }
}

fn pod_name(i: usize) -> String {
    testkit::unique_name("lbd", &format!("pod{i}"))
}

fn lichen_nodes(
    nodes: &[(NamedNs, String)],
    dir: &std::path::Path,
    vxlan: bool,
    policy: bool,
    routed: &[bool],
) -> (Vec<Agent>, Vec<Vec<(NamedNs, String)>>) {
    let backend = if vxlan {
        r#"{"Type":"vxlan","DirectRouting":false}"#
    } else {
        r#"{"Type":"host-gw"}"#
    };
    let conf = format!(
        r#"{{"Network":"{}","IPMasq":true,"Backend":{backend}}}"#,
        flannel::NETWORK
    );
    fs::write(dir.join("net-conf.json"), conf).unwrap();
    let mut agents = Vec::new();
    let mut pods: Vec<Vec<(NamedNs, String)>> = routed.iter().map(|_| Vec::new()).collect();
    for (k, (ns, _)) in nodes.iter().enumerate() {
        let name = format!("n{}", k + 1);
        let args = AgentArgs {
            node_name: &name,
            net_conf: &dir.join("net-conf.json"),
            source: Source::ClusterDir(&dir.join("objects")),
            subnet_file: &dir.join(format!("{name}.env")),
            ipam_dir: None,
        };
        let mut c = testkit::agent_command(ns, bin(), &args, std::path::Path::new("/dev/null"));
        if policy {
            c.arg("--network-policy");
        }
        agents.push(Agent(
            c.env("LICHEN_LOG", "warn").spawn().expect("start agent"),
        ));
        let env = dir.join(format!("{name}.env"));
        for (path, &routed) in pods.iter_mut().zip(routed) {
            path.push(attach_pod_in(
                ns,
                &env,
                &dir.join(format!("{name}-ipam")),
                &pod_name(k),
                if routed { "routed" } else { "bridge" },
            ));
        }
    }
    (agents, pods)
}

fn flannel_nodes(
    nodes: &[(NamedNs, String)],
    dir: &std::path::Path,
    vxlan: bool,
) -> (Vec<Agent>, Vec<Vec<(NamedNs, String)>>) {
    let mut pods = Vec::new();
    for (k, (ns, _)) in nodes.iter().enumerate() {
        flannel::program_node(nodes, k + 1, vxlan);
        let data = dir.join(format!("n{}-ipam", k + 1));
        pods.push(flannel::attach_pod(ns, k + 1, vxlan, &data, &pod_name(k)));
    }
    (Vec::new(), vec![pods])
}
