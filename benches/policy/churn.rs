//! Change → enforced under policy churn, per backend, quiet and under kernel-event noise:
//! two nodes on a switch, agents with `--network-policy`, nine pods x/y/z × a/b/c (objects
//! only, addresses in the nodes' pod subnets), and the seeded walk of
//! `lichen::policy::churn` (policy creates, edits, deletes, pod and namespace relabels,
//! several per step) written to the cluster dir. Per step: from the last file written to both
//! agents reporting the fingerprint of a fresh compile of the directory (status `ruleset:`,
//! polled every 2 ms, [`POLL`]). Noise: an address added to or removed from a dummy bridge in each
//! node every 5 ms (testkit::noise, as in tests/policy_churn.rs), kernel notifications the agents wake up
//! for; then the same with 100 more peer Nodes, so that every noise-woken route pass has
//! their routes (or neighbour and FDB entries) to read and plan. `BENCH_CHURN_STEPS` (default 200) and `LICHEN_CHURN_SEED` (default 1) set the walk.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use lichen::policy::churn::{state_of, Churn, ChurnPod};
use lichen::policy::compile;
use netbed::NamedNs;
use testkit::noise::Noise;

use super::{enter, put, start_agent_with, wait, Agent};

pub fn run() {
    let steps: usize = env("BENCH_CHURN_STEPS", 200);
    let seed: u64 = env("LICHEN_CHURN_SEED", 1);
    println!("Policy churn, {steps} steps (seed {seed}): change -> enforced on both nodes");
    for (noise, peers) in [(false, 0), (true, 0), (true, PEERS)] {
        for backend in ["host-gw", "vxlan"] {
            let mut ms = churn(backend, steps, seed, noise, peers);
            ms.sort_by(f64::total_cmp);
            let label = match (noise, peers) {
                (false, _) => "quiet".to_owned(),
                (true, 0) => "address change / 5 ms".to_owned(),
                (true, n) => format!("same, {n} more peers"),
            };
            println!(
                "  {backend:<8} {label:<22} median {:>6.1} ms   p90 {:>6.1} ms   worst {:>6.1} ms",
                ms[ms.len() / 2],
                ms[ms.len() * 9 / 10],
                ms[ms.len() - 1]
            );
        }
    }
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How often the agents' status is read while waiting: each read renders the whole status
/// page (100 peers with the peers configuration), and polling faster would make the
/// benchmark itself the agents' main load on a small machine.
const POLL: Duration = Duration::from_millis(2);

/// The ruleset fingerprint node `ns`'s agent reports.
fn applied(ns: &NamedNs) -> Option<String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(ns);
            let addr = lichen::agent::http::DEFAULT_LISTEN.parse().unwrap();
            let (_, body) = lichen::agent::client::fetch(addr, "/status").ok()?;
            body.lines()
                .find_map(|l| l.trim().strip_prefix("ruleset: "))
                .map(str::to_owned)
        })
        .join()
        .unwrap()
    })
}

/// Peer Nodes (objects only) added in the last configuration: each noise-woken route pass then
/// reads and plans their routes (or FDB and neighbour entries) too.
const PEERS: usize = 100;

/// Milliseconds from change to enforced, per step.
fn churn(backend: &str, steps: usize, seed: u64, noise: bool, peers: usize) -> Vec<f64> {
    let (_sw, dir, nodes) = super::two_nodes("lbc");
    let objs = dir.join("objects");
    for i in 0..peers {
        let name = format!("peer{i}");
        let json = netbed::node_json(
            &name,
            &format!("10.128.{}.0/24", 10 + i),
            &format!("198.51.100.{}", 100 + i),
        );
        put(&objs, &format!("{name}.json"), &json);
    }
    let backend_json = format!(r#"{{"Type":"{backend}"}}"#);
    let _agents: Vec<Agent> = nodes
        .iter()
        .enumerate()
        .map(|(k, ns)| start_agent_with(ns, &dir, &format!("n{}", k + 1), true, &backend_json))
        .collect();
    let _noise = noise.then(|| Noise::start(nodes.iter().map(|n| n.name.as_str())));
    if peers > 0 {
        wait_programmed(&nodes, backend, peers);
    }
    let mut walk = Churn::new(seed, churn_pods(), BTreeMap::new());
    let mut files = BTreeMap::new();
    let mut out = Vec::new();
    for step in 0..=steps {
        if step > 0 {
            walk.step();
        }
        let next = walk.files();
        let t = write(&objs, &files, &next);
        files = next;
        let want = fingerprints(&objs);
        let done = netbed::poll(Duration::from_secs(30), POLL, || {
            nodes
                .iter()
                .zip(&want)
                .all(|(ns, w)| applied(ns).as_ref() == Some(w))
        });
        assert!(done, "{backend} step {step}: not enforced after 30 s");
        if step > 0 {
            out.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    out
}

/// The nine pods x/y/z × a/b/c, spread over n1 and n2.
fn churn_pods() -> Vec<ChurnPod> {
    let mut pods = Vec::new();
    for (i, ns) in ["x", "y", "z"].iter().enumerate() {
        for (j, name) in ["a", "b", "c"].iter().enumerate() {
            let k = 1 + (i + j) % 2;
            pods.push(ChurnPod {
                namespace: ns.to_string(),
                name: name.to_string(),
                node: format!("n{k}"),
                ip: format!("10.128.{k}.{}", 10 + 3 * i + j),
            });
        }
    }
    pods
}

/// Waits until every peer is programmed on both nodes (before the walk starts).
fn wait_programmed(nodes: &[NamedNs], backend: &str, peers: usize) {
    let programmed = |ns: &NamedNs| {
        let args: &[&str] = match backend {
            "vxlan" => &["neigh", "show", "dev", "lichen.1"],
            _ => &["route", "show", "proto", "108"],
        };
        ns.ip(args).map(|o| o.lines().count()).unwrap_or(0)
    };
    let done = wait(Duration::from_secs(30), || {
        nodes.iter().all(|ns| programmed(ns) > peers)
    });
    assert!(done, "{backend}: {peers} peers not programmed after 30 s");
}

/// The fingerprints of a fresh compile of the cluster dir's objects for n1 and n2.
fn fingerprints(objs: &Path) -> Vec<String> {
    let all: BTreeMap<String, String> = fs::read_dir(objs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .map(|n| (n.clone(), fs::read_to_string(objs.join(&n)).unwrap()))
        .collect();
    let state = state_of(&all);
    ["n1", "n2"]
        .iter()
        .map(|n| format!("{:016x}", compile(&state, n).fingerprint()))
        .collect()
}

/// Writes the walk's files (deletions, then changes); returns when the last was written.
fn write(
    objs: &Path,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Instant {
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        fs::remove_file(objs.join(name)).unwrap();
    }
    for (name, json) in after {
        if before.get(name) != Some(json) {
            put(objs, name, json);
        }
    }
    Instant::now()
}
