//! The churn test's bed: two nodes with policy-enforcing agents, nine pods, the walk that
//! writes their cluster dir (or the test API server's objects), and the checks made after each
//! change (see the test's docs; the verdicts and the report are in bed/verdicts.rs).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::agents::*;
use super::common::cluster::*;
use super::common::probe::*;
use super::probes::{spawn_probes, Probes};

use lichen::policy::churn::{state_of, Churn, ChurnPod, PORTS};
use lichen::policy::{compile, Ruleset};

#[path = "bed/verdicts.rs"]
mod verdicts;

/// The longest a change may take to be enforced by both agents.
pub const CONVERGE: Duration = Duration::from_secs(10);
/// A probe's connect (and read) timeout: an allowed connection between namespaces on one
/// machine answers in microseconds; a dropped SYN is never answered.
pub const PROBE: Duration = Duration::from_millis(300);
/// When the early probes start after a change: the bound on change -> enforced.
pub const EARLY: Duration = Duration::from_millis(100);
/// At most this many cells are probed at change + [`EARLY`].
pub const EARLY_SAMPLE: usize = 12;
/// Pairs probed per step.
pub const SAMPLE: usize = 6;

pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().expect(name))
}

/// Two nodes with agents enforcing policy, nine pods x/y/z × a/b/c (alternating nodes)
/// serving TCP and UDP 80 and 81, and the walk that writes their cluster dir.
pub struct Bed {
    pub c: Cluster,
    tag: String,
    seed: u64,
    pub pods: Vec<ChurnPod>,
    /// Each pod's namespace and node index.
    netns: Vec<(netbed::NamedNs, usize)>,
    pub walk: Churn,
    files: BTreeMap<String, String>,
    history: Vec<String>,
    latencies: Vec<Duration>,
    /// The latest any probe started after its step was enforced (reported, not asserted).
    probe_late: Duration,
    /// Per step, cells stale at change + [`EARLY`] and cells probed then.
    early: Vec<(usize, usize)>,
    /// The latest an early probe started after change + [`EARLY`].
    early_late: Duration,
    /// Probes that should have passed, failed, and passed when tried again slowly (reported).
    retried: usize,
}

/// What the agents enforce after a change: the compiled rulesets and when they were seen.
pub struct Enforced {
    pub rulesets: Vec<Ruleset>,
}

/// A cell of the matrix: source pod, destination pod, port, protocol.
pub type Cell = (usize, usize, u16, Proto);

/// A probe's outcome: reached, and when it started (`None`: not probed).
type Outcome = Option<(bool, Instant)>;

/// One change's wait and probes.
struct Run {
    /// When both agents were seen enforcing the change (or the wait gave up).
    enforced: Instant,
    /// What the agents enforced instead, when they never converged.
    stuck: Option<Vec<Option<String>>>,
    /// The probes made once enforced, and the early ones, by cell.
    got: Vec<Outcome>,
    early: Vec<Outcome>,
}

impl Bed {
    /// Agents reading the cluster dir.
    pub fn new(backend: &str, tag: &str, seed: u64) -> Bed {
        Bed::build(Cluster::new(tag, 2, backend), tag, seed)
    }

    /// Agents reading the test API server (`--kubeconfig`), which serves the walk's objects.
    pub fn with_api(backend: &str, tag: &str, seed: u64) -> Bed {
        Bed::build(Cluster::with_api(tag, 2, backend), tag, seed)
    }

    fn build(mut c: Cluster, tag: &str, seed: u64) -> Bed {
        c.agent_args = vec!["--network-policy".into()];
        c.start_agents();
        let mut pods = Vec::new();
        let mut netns = Vec::new();
        for (i, ns) in ["x", "y", "z"].iter().enumerate() {
            for (j, name) in ["a", "b", "c"].iter().enumerate() {
                let k = (i + j) % 2;
                let (pod, ip) = c.pod(k, &format!("{ns}{name}"));
                serve(&pod, &PORTS, &PORTS);
                pods.push(ChurnPod {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    node: c.nodes[k].name.clone(),
                    ip,
                });
                netns.push((pod, k));
            }
        }
        let walk = Churn::new(seed, pods.clone(), BTreeMap::new());
        Bed {
            c,
            tag: tag.to_owned(),
            seed,
            pods,
            netns,
            walk,
            files: BTreeMap::new(),
            history: Vec::new(),
            latencies: Vec::new(),
            probe_late: Duration::ZERO,
            early: Vec::new(),
            early_late: Duration::ZERO,
            retried: 0,
        }
    }

    #[track_caller]
    pub fn fail(&self, msg: String) -> ! {
        panic!(
            "LICHEN_CHURN_SEED={} ({}): {msg}\n{}",
            self.seed,
            self.tag,
            self.history.join("\n")
        )
    }

    /// Writes the walk's current state (deletions, then creations and changes, back to back),
    /// waits until both agents enforce it, and probes `cells` (source pod, destination pod,
    /// port, protocol) at once: the probe threads are in their namespaces before the wait and
    /// start together when it ends. Checks each cell against the compiled verdict (egress on
    /// the source's node, ingress on the destination's); with `explain`, also the agents'
    /// `/policy/explain` against what the probe saw.
    pub fn step(&mut self, what: String, cells: &[Cell], explain: bool) -> Enforced {
        self.history.push(what);
        let (written, rulesets) = self.write_state();
        let want: Vec<String> = rulesets
            .iter()
            .map(|r| format!("{:016x}", r.fingerprint()))
            .collect();
        let run = self.converge_and_probe(cells, written, &want);
        if let Some(got) = run.stuck {
            self.fail(format!(
                "agents enforce {got:?}, the state compiles to {want:?}"
            ));
        }
        self.latencies.push(run.enforced - written);
        self.report_early(cells, &run.early, &rulesets, written, run.enforced);
        let wrong = self.check_cells(cells, &run.got, &rulesets, run.enforced, explain);
        if !wrong.is_empty() {
            self.fail(format!(
                "{} of {} cells wrong: {wrong:#?}",
                wrong.len(),
                cells.len()
            ));
        }
        Enforced { rulesets }
    }

    /// Writes the walk's files (to the cluster dir or the test API server) and compiles,
    /// per node, the state they hold: when they were written and what each node must enforce.
    fn write_state(&mut self) -> (Instant, Vec<Ruleset>) {
        let after = self.walk.files();
        let api = self.c.api.is_some();
        if api {
            super::api::write(&self.c, &self.files, &after);
        } else {
            write(&self.c, &self.files, &after);
        }
        self.files = after;
        let written = Instant::now();
        let state = state_of(&if api {
            super::api::files(&self.c, &self.files)
        } else {
            dir_files(&self.c)
        });
        let rulesets = self
            .c
            .nodes
            .iter()
            .map(|n| compile(&state, &n.name))
            .collect();
        (written, rulesets)
    }

    /// The probe threads' work, one group per source pod: all of `cells`, or (`early`) at
    /// most [`EARLY_SAMPLE`] of them spread over `cells`.
    fn probe_groups(&self, cells: &[Cell], early: bool) -> Vec<(PathBuf, Probes)> {
        let mut by_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, cell) in cells.iter().enumerate() {
            by_source.entry(cell.0).or_default().push(i);
        }
        let stride = cells.len().div_ceil(EARLY_SAMPLE).max(1);
        by_source
            .iter()
            .map(|(&a, indices)| {
                let probes = indices
                    .iter()
                    .filter(|&&i| !early || i % stride == 0)
                    .map(|&i| {
                        let (_, b, port, proto) = cells[i];
                        let addr = format!("{}:{port}", self.pods[b].ip).parse().unwrap();
                        (i, addr, proto)
                    })
                    .collect();
                (self.netns[a].0.path.clone(), probes)
            })
            .filter(|(_, probes): &(_, Vec<_>)| !probes.is_empty())
            .collect()
    }

    /// Waits until both agents report `want` and then releases the probe threads (one per
    /// source pod, in its namespace before the wait; each starts all its probes at once). A
    /// second set starts at change + [`EARLY`] whatever the agents say.
    fn converge_and_probe(&self, cells: &[Cell], written: Instant, want: &[String]) -> Run {
        let (groups, early_groups) = (
            self.probe_groups(cells, false),
            self.probe_groups(cells, true),
        );
        let go = Barrier::new(groups.len() + 1);
        let abort = AtomicBool::new(false);
        let mut run = Run {
            enforced: written,
            stuck: None,
            got: vec![None; cells.len()],
            early: vec![None; cells.len()],
        };
        std::thread::scope(|s| {
            let (go, abort) = (&go, &abort);
            let handles: Vec<_> = groups
                .iter()
                .map(|(from, probes)| {
                    spawn_probes(s, from.clone(), probes.clone(), move || {
                        go.wait();
                        !abort.load(Ordering::SeqCst)
                    })
                })
                .collect();
            let early_handles: Vec<_> = early_groups
                .iter()
                .map(|(from, probes)| {
                    spawn_probes(s, from.clone(), probes.clone(), move || {
                        let due = written + EARLY;
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        true
                    })
                })
                .collect();
            run.stuck = self.wait_enforced(written, want);
            if run.stuck.is_some() {
                abort.store(true, Ordering::SeqCst);
            }
            run.enforced = Instant::now();
            go.wait();
            for (hs, out) in [(handles, &mut run.got), (early_handles, &mut run.early)] {
                for h in hs {
                    for (i, reached, started) in h.join().unwrap() {
                        out[i] = Some((reached, started));
                    }
                }
            }
        });
        run
    }

    /// Polls both agents' status until they enforce `want`; what they enforce instead when
    /// [`CONVERGE`] passes first.
    fn wait_enforced(&self, written: Instant, want: &[String]) -> Option<Vec<Option<String>>> {
        loop {
            let got: Vec<Option<String>> = (0..2).map(|k| applied(&self.c, k)).collect();
            if got.iter().zip(want).all(|(g, w)| g.as_ref() == Some(w)) {
                return None;
            }
            if written.elapsed() > CONVERGE {
                return Some(got);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Each node's table read back equals a fresh replace of its compile.
    pub fn check_tables(&self, e: &Enforced) {
        for (k, rs) in e.rulesets.iter().enumerate() {
            if let Some(d) = kernel_table(&self.c, k).difference(&reference(rs)) {
                self.fail(format!(
                    "node {k}'s table differs from a fresh compile: {d}"
                ));
            }
        }
    }
}
