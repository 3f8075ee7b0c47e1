//! NetworkPolicy under churn (issue 13): a seeded random walk of policy creates, edits and
//! deletes, pod and namespace relabels (several per step, a delete and a create in one step
//! included) written to the cluster dir of two running agents (`--network-policy`), nine
//! pods x/y/z × a/b/c serving TCP 80 and 81. After every step:
//! 1. both agents report (`status`: `ruleset: <fingerprint>`) the ruleset a fresh compile of
//!    the directory gives, within [`CONVERGE`] of the write;
//! 2. each node's table, read back over netlink, equals what a fresh replace of that compile
//!    makes in an empty namespace (chains, rules, sets, elements; not handles);
//! 3. a sample of pod pairs is probed, every probe started within 100 ms of (1) holding: TCP
//!    connect with a short timeout (a drop is silence), compared with the compiled verdict
//!    (egress on the source's node and ingress on the destination's);
//! 4. each agent's `/policy/explain` agrees with the probe for those pairs.
//!
//! `LICHEN_CHURN_SEED` replays a walk (the seed is printed), `LICHEN_CHURN_STEPS` sets its
//! length.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::probe::*;

use lichen::k8s::Protocol;
use lichen::nft::policy::{apply_policy, read_policy_table};
use lichen::nft::readback::TableDump;
use lichen::policy::churn::{state_of, Churn, ChurnPod, PORTS};
use lichen::policy::{compile, Packet, Ruleset};

/// The longest a change may take to be enforced by both agents.
const CONVERGE: Duration = Duration::from_secs(2);
/// A probe's connect (and read) timeout: an allowed connection between namespaces on one
/// machine answers in microseconds; a dropped SYN is never answered.
const PROBE: Duration = Duration::from_millis(300);
/// Pairs probed per step.
const SAMPLE: usize = 6;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().expect(name))
}

/// Every `*.json` file of the cluster dir: what the agents read.
fn dir_files(c: &Cluster) -> BTreeMap<String, String> {
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
fn write(c: &Cluster, before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
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
fn applied(c: &Cluster, k: usize) -> Option<String> {
    let (_, body) = c.http(k, "/status");
    body.lines()
        .find_map(|l| l.trim().strip_prefix("ruleset: "))
        .map(str::to_owned)
}

/// Node `k`'s policy table read back.
fn kernel_table(c: &Cluster, k: usize) -> TableDump {
    let path = c.nodes[k].ns.path.clone();
    std::thread::spawn(move || {
        enter(&path);
        read_policy_table().unwrap().expect("no policy table")
    })
    .join()
    .unwrap()
}

/// The table a fresh apply of `rs` makes, read back in a namespace of its own.
fn reference(rs: &Ruleset) -> TableDump {
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
fn explained(c: &Cluster, k: usize, src: &str, dst: &str, port: u16) -> bool {
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
struct Bed {
    c: Cluster,
    tag: String,
    seed: u64,
    pods: Vec<ChurnPod>,
    /// Each pod's namespace and node index.
    netns: Vec<(lichen::testbed::NamedNs, usize)>,
    walk: Churn,
    files: BTreeMap<String, String>,
    history: Vec<String>,
    latencies: Vec<Duration>,
}

/// What the agents enforce after a change: the compiled rulesets and when they were seen.
struct Enforced {
    rulesets: Vec<Ruleset>,
}

impl Bed {
    fn new(backend: &str, tag: &str, seed: u64) -> Bed {
        let mut c = Cluster::new(tag, 2, backend);
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
        }
    }

    #[track_caller]
    fn fail(&self, msg: String) -> ! {
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
    fn step(
        &mut self,
        what: String,
        cells: &[(usize, usize, u16, Proto)],
        explain: bool,
    ) -> Enforced {
        self.history.push(what);
        let after = self.walk.files();
        write(&self.c, &self.files, &after);
        self.files = after;
        let written = Instant::now();
        let state = state_of(&dir_files(&self.c));
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
        // each starts all its probes at once (non-blocking sockets).
        let mut by_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, cell) in cells.iter().enumerate() {
            by_source.entry(cell.0).or_default().push(i);
        }
        let go = Barrier::new(by_source.len() + 1);
        let abort = AtomicBool::new(false);
        let mut at = written;
        let mut stuck = None;
        let mut got: Vec<Option<(bool, Instant)>> = vec![None; cells.len()];
        std::thread::scope(|s| {
            let handles: Vec<_> = by_source
                .iter()
                .map(|(&a, indices)| {
                    let from = self.netns[a].0.path.clone();
                    let probes: Vec<(usize, SocketAddr, Proto)> = indices
                        .iter()
                        .map(|&i| {
                            let (_, b, port, proto) = cells[i];
                            let addr = format!("{}:{port}", self.pods[b].ip).parse().unwrap();
                            (i, addr, proto)
                        })
                        .collect();
                    let (go, abort) = (&go, &abort);
                    s.spawn(move || {
                        enter(&from);
                        go.wait();
                        if abort.load(Ordering::SeqCst) {
                            return Vec::new();
                        }
                        // A local executor: the sockets are made on this thread, in the
                        // pod's namespace.
                        let ex = smol::LocalExecutor::new();
                        let tasks: Vec<_> = probes
                            .into_iter()
                            .map(|(i, addr, proto)| {
                                ex.spawn(async move {
                                    let started = Instant::now();
                                    (i, probe(addr, proto).await, started)
                                })
                            })
                            .collect();
                        smol::block_on(ex.run(async {
                            let mut out = Vec::new();
                            for t in tasks {
                                out.push(t.await);
                            }
                            out
                        }))
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
            for h in handles {
                for (i, reached, started) in h.join().unwrap() {
                    got[i] = Some((reached, started));
                }
            }
        });
        if let Some(got) = stuck {
            self.fail(format!(
                "agents enforce {got:?}, the state compiles to {want:?}"
            ));
        }
        self.latencies.push(at - written);
        let mut wrong = Vec::new();
        for (&(a, b, port, proto), r) in cells.iter().zip(&got) {
            let (reached, started) = r.expect("probe ran");
            let late = started - at;
            assert!(
                late < Duration::from_millis(100),
                "probe started {late:?} after enforcement"
            );
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
            let egress = rulesets[ka].explain(packet).allowed();
            let ingress = rulesets[kb].explain(packet).allowed();
            let pair = format!(
                "{}/{} -> {}/{}:{port}/{proto:?}",
                pa.namespace, pa.name, pb.namespace, pb.name
            );
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
    fn check_tables(&self, e: &Enforced) {
        for (k, rs) in e.rulesets.iter().enumerate() {
            if let Some(d) = kernel_table(&self.c, k).difference(&reference(rs)) {
                self.fail(format!(
                    "node {k}'s table differs from a fresh compile: {d}"
                ));
            }
        }
    }

    fn report(&mut self) {
        let l = &mut self.latencies;
        l.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "policy churn ({}): {} changes, change -> enforced median {:.1} ms, worst {:.1} ms",
            self.tag,
            l.len(),
            ms(l[l.len() / 2]),
            ms(*l.last().unwrap())
        );
    }
}

/// Kernel notifications the agents wake up for, all the time: a neighbour entry on each
/// node's bridge (an address of its pod subnet no pod has) changing its link-layer address
/// every few milliseconds, as ARP entries for busy pods change state under probe traffic.
/// Stops when dropped.
struct Noise {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Noise {
    fn start(c: &Cluster) -> Noise {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = c
            .nodes
            .iter()
            .map(|n| {
                let (ns, stop) = (n.ns.name.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ip = std::process::Command::new("ip")
                        .args(["-n", &ns, "-force", "-batch", "-"])
                        .stdin(std::process::Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut input = ip.stdin.take().unwrap();
                    let mut i = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let line = match i {
                            1 => "link add noise0 type bridge\n".to_owned(),
                            _ => format!(
                                "addr {} 203.0.113.1/32 dev noise0\n",
                                if i % 2 == 0 { "add" } else { "del" }
                            ),
                        };
                        if input.write_all(line.as_bytes()).is_err() {
                            break;
                        }
                        let _ = input.flush();
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    drop(input);
                    let _ = ip.wait();
                })
            })
            .collect();
        Noise { stop, threads }
    }
}

impl Drop for Noise {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One probe from the current thread's namespace, started at once: TCP connect and the
/// server's "ok", or a UDP echo (two tries); [`PROBE`] each. A drop is silence.
async fn probe(addr: SocketAddr, proto: Proto) -> bool {
    use smol::future::FutureExt;
    use smol::io::AsyncReadExt;
    let timeout = || async {
        smol::Timer::after(PROBE).await;
        false
    };
    match proto {
        Proto::Tcp => {
            async {
                let Ok(mut c) = smol::net::TcpStream::connect(addr).await else {
                    return false;
                };
                let mut buf = [0u8; 2];
                c.read_exact(&mut buf).await.is_ok() && &buf == b"ok"
            }
            .or(timeout())
            .await
        }
        Proto::Udp => {
            let s = smol::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
            for _ in 0..2 {
                s.send_to(b"ping", addr).await.unwrap();
                let echo = async {
                    let mut buf = [0u8; 8];
                    matches!(s.recv_from(&mut buf).await, Ok((4, _)))
                };
                if echo.or(timeout()).await {
                    return true;
                }
            }
            false
        }
    }
}

fn seed() -> u64 {
    env_u64("LICHEN_CHURN_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    })
}

fn churn(backend: &str, tag: &str) {
    let seed = seed();
    let steps = env_u64("LICHEN_CHURN_STEPS").unwrap_or(150);
    eprintln!("policy churn ({tag}): LICHEN_CHURN_SEED={seed} LICHEN_CHURN_STEPS={steps}");
    let mut bed = Bed::new(backend, tag, seed);
    bed.step("initial state".into(), &[], false);
    let n = bed.pods.len();
    for step in 1..=steps {
        let what = bed.walk.step();
        let rng = bed.walk.rng();
        let sample: Vec<(usize, usize, u16, Proto)> = (0..SAMPLE)
            .map(|_| {
                let a = rng.below(n);
                let b = (a + 1 + rng.below(n - 1)) % n;
                (a, b, PORTS[rng.below(PORTS.len())], Proto::Tcp)
            })
            .collect();
        let e = bed.step(format!("step {step}: {}", what.join("; ")), &sample, true);
        bed.check_tables(&e);
    }
    bed.report();
}

/// The issue's sequence, as the upstream e2e suite runs it: no policy → default-deny-ingress
/// → default-deny-all → allow-from-podselector in namespace x, each case deleting the
/// previous case's policy and creating its own in one step; the whole matrix (72 pairs, TCP
/// 80 and UDP 81) probed right after each change, three rounds.
fn e2e_sequence(backend: &str, tag: &str) {
    let mut bed = Bed::new(backend, tag, seed());
    let _noise = Noise::start(&bed.c);
    for (i, p) in bed.pods.clone().iter().enumerate() {
        bed.walk.set_app(i, p.name.chars().next().unwrap());
    }
    let n = bed.pods.len();
    let mut cells = Vec::new();
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            cells.push((a, b, 80, Proto::Tcp));
            cells.push((a, b, 81, Proto::Udp));
        }
    }
    let cases: [(&str, Option<&str>); 4] = [
        ("no policy", None),
        (
            "default-deny-ingress",
            Some(r#"{"podSelector":{},"policyTypes":["Ingress"]}"#),
        ),
        (
            "default-deny-all",
            Some(r#"{"podSelector":{},"policyTypes":["Ingress","Egress"]}"#),
        ),
        (
            "allow-from-podselector",
            Some(
                r#"{"podSelector":{"matchLabels":{"app":"a"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"b"}}}]}]}"#,
            ),
        ),
    ];
    for round in 0..3 {
        for (name, spec) in cases {
            bed.walk.clear_policies();
            if let Some(spec) = spec {
                bed.walk.put_policy("x", name, spec);
            }
            let e = bed.step(format!("round {round}: {name}"), &cells, false);
            bed.check_tables(&e);
        }
    }
    bed.report();
}

#[test]
fn churn_host_gw() {
    churn(r#"{"Type":"host-gw"}"#, "pch-gw");
}

#[test]
fn churn_vxlan() {
    churn(r#"{"Type":"vxlan"}"#, "pch-vx");
}

#[test]
fn e2e_sequence_host_gw() {
    e2e_sequence(r#"{"Type":"host-gw"}"#, "pe2e-gw");
}

#[test]
fn e2e_sequence_vxlan() {
    e2e_sequence(r#"{"Type":"vxlan"}"#, "pe2e-vx");
}
