//! The churn test's bed: two nodes with policy-enforcing agents, nine pods, the walk that
//! writes their cluster dir (or the test API server's objects), and the checks made after each change (see the test's docs).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::common::cluster::*;
use super::common::probe::*;
use super::probes::{spawn_probes, Probes};

use lichen::k8s::Protocol;
use lichen::nft::readback::TableDump;
use lichen::policy::churn::{state_of, Churn, ChurnPod, PORTS};
use lichen::policy::table::{apply_policy, read_policy_table};
use lichen::policy::{compile, Packet, Ruleset};

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

/// Every `*.json` file of the cluster dir: what the agents read.
pub fn dir_files(c: &Cluster) -> BTreeMap<String, String> {
    fs::read_dir(c.objects())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .map(|n| {
            let json = fs::read_to_string(c.objects().join(&n)).unwrap();
            (n, json)
        })
        .collect()
}

/// Writes the walk's files: removed ones deleted, changed ones replaced, back to back.
pub fn write(c: &Cluster, before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        c.remove_object(name);
    }
    for (name, json) in after {
        if before.get(name) != Some(json) {
            c.put_object(name, json);
        }
    }
}

/// The fingerprint of the ruleset node `k`'s agent enforces, from its status page.
pub fn applied(c: &Cluster, k: usize) -> Option<String> {
    let (_, body) = c.http(k, "/status");
    body.lines()
        .find_map(|l| l.trim().strip_prefix("ruleset: "))
        .map(str::to_owned)
}

/// Node `k`'s policy table read back.
pub fn kernel_table(c: &Cluster, k: usize) -> TableDump {
    let path = c.nodes[k].ns.path.clone();
    std::thread::spawn(move || {
        enter(&path);
        read_policy_table().unwrap().expect("no policy table")
    })
    .join()
    .unwrap()
}

/// The table a fresh apply of `rs` makes, read back in a namespace of its own.
pub fn reference(rs: &Ruleset) -> TableDump {
    let rs = rs.clone();
    std::thread::spawn(move || {
        // SAFETY: moves only this thread into a new network namespace.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
        apply_policy(&rs, None).unwrap();
        read_policy_table().unwrap().unwrap()
    })
    .join()
    .unwrap()
}

/// Agent `k`'s explain verdict (`true`: allowed) for a TCP packet.
pub fn explained(c: &Cluster, k: usize, src: &str, dst: &str, port: u16) -> bool {
    let (code, body) = c.http(
        k,
        &format!("/policy/explain?src={src}&dst={dst}&port={port}&proto=tcp"),
    );
    assert_eq!(code, 200, "explain on node {k}: {body}");
    let first = body.lines().next().unwrap_or_default();
    assert!(
        first.ends_with("ALLOWED") || first.ends_with("DENIED"),
        "{body}"
    );
    first.ends_with("ALLOWED")
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
    pub fn step(
        &mut self,
        what: String,
        cells: &[(usize, usize, u16, Proto)],
        explain: bool,
    ) -> Enforced {
        self.history.push(what);
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
        let rulesets: Vec<Ruleset> = self
            .c
            .nodes
            .iter()
            .map(|n| compile(&state, &n.name))
            .collect();
        let want: Vec<String> = rulesets
            .iter()
            .map(|r| format!("{:016x}", r.fingerprint()))
            .collect();
        // One thread per source pod, in its namespace before the wait; released together,
        // each starts all its probes at once (non-blocking sockets). A second set starts at
        // change + EARLY whatever the agents say: how many cells are stale then is reported.
        let mut by_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, cell) in cells.iter().enumerate() {
            by_source.entry(cell.0).or_default().push(i);
        }
        // the early set: at most EARLY_SAMPLE cells, spread over `cells`
        let stride = cells.len().div_ceil(EARLY_SAMPLE).max(1);
        let group = |early: bool| -> Vec<(PathBuf, Probes)> {
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
        };
        let (groups, early_groups) = (group(false), group(true));
        let go = Barrier::new(groups.len() + 1);
        let abort = AtomicBool::new(false);
        let mut at = written;
        let mut stuck = None;
        let mut got: Vec<Option<(bool, Instant)>> = vec![None; cells.len()];
        let mut early: Vec<Option<(bool, Instant)>> = vec![None; cells.len()];
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
            loop {
                let got: Vec<Option<String>> = (0..2).map(|k| applied(&self.c, k)).collect();
                if got.iter().zip(&want).all(|(g, w)| g.as_ref() == Some(w)) {
                    break;
                }
                if written.elapsed() > CONVERGE {
                    stuck = Some(got);
                    abort.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            at = Instant::now();
            go.wait();
            for (hs, out) in [(handles, &mut got), (early_handles, &mut early)] {
                for h in hs {
                    for (i, reached, started) in h.join().unwrap() {
                        out[i] = Some((reached, started));
                    }
                }
            }
        });
        if let Some(got) = stuck {
            self.fail(format!(
                "agents enforce {got:?}, the state compiles to {want:?}"
            ));
        }
        self.latencies.push(at - written);
        let verdict = |&(a, b, port, proto): &(usize, usize, u16, Proto)| {
            let (ka, kb) = (self.netns[a].1, self.netns[b].1);
            let (pa, pb) = (&self.pods[a], &self.pods[b]);
            let packet = Packet {
                src: pa.ip.parse().unwrap(),
                dst: pb.ip.parse().unwrap(),
                port,
                protocol: match proto {
                    Proto::Tcp => Protocol::Tcp,
                    Proto::Udp => Protocol::Udp,
                },
            };
            (
                rulesets[ka].explain(packet).allowed(),
                rulesets[kb].explain(packet).allowed(),
            )
        };
        // At change + EARLY: reported, not asserted (a loaded machine may be late; the
        // benchmark measures how late).
        let mut stale = 0;
        let mut probed = 0;
        for (cell, r) in cells.iter().zip(&early) {
            let Some((reached, started)) = *r else {
                continue;
            };
            probed += 1;
            self.early_late = self.early_late.max(started - (written + EARLY));
            let (egress, ingress) = verdict(cell);
            stale += usize::from(reached != (egress && ingress));
        }
        self.early.push((stale, probed));
        if stale > 0 {
            eprintln!(
                "policy churn ({}): {}: {stale} of {probed} cells stale at change + {} ms (enforced after {:.1} ms)",
                self.tag,
                self.history.last().unwrap(),
                EARLY.as_millis(),
                (at - written).as_secs_f64() * 1e3
            );
        }
        let mut wrong = Vec::new();
        for (cell, r) in cells.iter().zip(&got) {
            let &(a, b, port, proto) = cell;
            let (reached, started) = r.expect("probe ran");
            // how soon after enforcement the probes ran is reported, not asserted: a timing
            // figure belongs to the benchmark (benches/policy.rs), and a loaded machine may start
            // a probe late without the verdict being any less the one enforced
            self.probe_late = self.probe_late.max(started - at);
            let (ka, kb) = (self.netns[a].1, self.netns[b].1);
            let (pa, pb) = (&self.pods[a], &self.pods[b]);
            let (egress, ingress) = verdict(cell);
            let pair = format!(
                "{}/{} -> {}/{}:{port}/{proto:?}",
                pa.namespace, pa.name, pb.namespace, pb.name
            );
            // A probe that should pass and did not is tried again, slowly: once enforced the
            // verdict is fixed, so a pass then means the first try lost its packet or its
            // time to a loaded machine (its SYN is retransmitted only after 1 s), while a
            // drop by policy drops the retry too. A probe that passed where policy denies
            // is never retried: that is a hole.
            let reached = reached
                || (egress && ingress && {
                    self.retried += 1;
                    reach_slowly(&self.netns[a].0.path, &pb.ip, port, proto)
                });
            if reached != (egress && ingress) {
                wrong.push(format!(
                    "{pair}: reached {reached}, compiled egress {egress}, ingress {ingress}"
                ));
            } else if explain {
                let (ea, eb) = (
                    explained(&self.c, ka, &pa.ip, &pb.ip, port),
                    explained(&self.c, kb, &pa.ip, &pb.ip, port),
                );
                if (ea && eb) != reached {
                    wrong.push(format!(
                        "{pair}: reached {reached}, explain says {ea} on node {ka}, {eb} on {kb}"
                    ));
                }
            }
        }
        if !wrong.is_empty() {
            self.fail(format!(
                "{} of {} cells wrong: {wrong:#?}",
                wrong.len(),
                cells.len()
            ));
        }
        Enforced { rulesets }
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

    pub fn report(&mut self) {
        let l = &mut self.latencies;
        l.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "policy churn ({}): {} changes, change -> enforced median {:.1} ms, worst {:.1} ms; probes started at most {:.1} ms after enforcement",
            self.tag,
            l.len(),
            ms(l[l.len() / 2]),
            ms(*l.last().unwrap()),
            ms(self.probe_late)
        );
        if self.retried > 0 {
            eprintln!(
                "policy churn ({}): {} allowed probes failed once and were tried again",
                self.tag, self.retried
            );
        }
        let stale: usize = self.early.iter().map(|e| e.0).sum();
        let probed: usize = self.early.iter().map(|e| e.1).sum();
        let steps = self.early.iter().filter(|e| e.0 > 0).count();
        eprintln!(
            "policy churn ({}): at change + {} ms, {stale} of {probed} probed cells stale ({steps} of {} steps); early probes started at most {:.1} ms late",
            self.tag,
            EARLY.as_millis(),
            self.early.len(),
            ms(self.early_late)
        );
    }
}

/// A probe from the namespace at `from` with a generous timeout (3 s: past a SYN's first
/// retransmission), for a second try of a probe that should have passed.
fn reach_slowly(from: &std::path::Path, ip: &str, port: u16, proto: Proto) -> bool {
    let from = from.to_owned();
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
    std::thread::spawn(move || {
        testkit::probe::enter(&from);
        let timeout = Duration::from_secs(3);
        match proto {
            Proto::Tcp => testkit::probe::connects(addr, timeout),
            Proto::Udp => testkit::probe::echoes(addr, timeout),
        }
    })
    .join()
    .unwrap()
}
