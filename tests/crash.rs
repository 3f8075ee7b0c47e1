//! The plugin SIGKILLed in the middle of ADD and DEL, end to end (issue 11). The IPAM crate's
//! own crash tests (`ipam/src/tests/crash.rs`) kill allocations; these kill the whole plugin
//! at any moment of a verb: before, during or after the lease, the veth, the pod's addresses.
//!
//! Rounds pick an attachment (a pod namespace each) and run ADD or DEL on it, killed after a
//! random delay within the time an ADD takes. After every round:
//! - no address is configured in two pods, and every address a pod has is leased to it;
//! - no veth without a lease: a host end or a pod `eth0` only exists while its attachment
//!   holds a lease;
//! - an attachment whose last verb was a completed ADD (the runtime's valid attachments) has
//!   its interface and lease intact.
//!
//! At the end the orphans are reclaimed as a runtime would: DEL for those with an interface
//! left, GC with the valid attachments for the rest; then nothing but the valid attachments
//! remains, and ADD works again for every other one.
//!
//! `LICHEN_CRASH_SEED` replays a run, `LICHEN_CRASH_ROUNDS` sets the rounds (default 150).

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::raw::{self, Rng};
use common::{NamedNs, Node};
use lichen::dataplane::host_veth_name;

const PODS: usize = 4;

struct Bed {
    node: Node,
    pods: Vec<NamedNs>,
    conf: String,
}

impl Bed {
    fn env(&self, verb: &str, i: usize) -> Vec<(String, String)> {
        [
            ("CNI_COMMAND", verb.to_string()),
            ("CNI_CONTAINERID", format!("crash{i}")),
            ("CNI_NETNS", self.pods[i].path.display().to_string()),
            ("CNI_IFNAME", "eth0".into()),
            ("CNI_PATH", common::REF_PLUGINS.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn run(&self, verb: &str, i: usize) -> raw::Outcome {
        raw::run(
            &self.node.ns,
            &self.env(verb, i),
            self.conf.clone().into_bytes(),
        )
    }

    /// Leases: address → attachment index.
    fn leases(&self) -> BTreeMap<IpAddr, usize> {
        let ipam = lichen_ipam::Ipam::open(&self.node.data_dir(), &self.node.network).unwrap();
        ipam.leases()
            .unwrap()
            .into_iter()
            .map(|l| {
                let i = l
                    .container_id
                    .strip_prefix("crash")
                    .and_then(|n| n.parse().ok());
                (l.ip, i.unwrap_or_else(|| panic!("a lease of {l:?}")))
            })
            .collect()
    }

    /// The IPv4 addresses on the pod's `eth0`; `None` without an `eth0`.
    fn pod_addrs(&self, i: usize) -> Option<Vec<IpAddr>> {
        let out = self.pods[i].ip(&["-o", "-4", "addr", "show", "dev", "eth0"]);
        let link = self.pods[i].ip(&["-o", "link", "show", "dev", "eth0"]);
        link.ok()?;
        let addrs = out.unwrap_or_default();
        Some(
            addrs
                .split_whitespace()
                .skip_while(|w| *w != "inet")
                .nth(1)
                .map(|a| a.split('/').next().unwrap().parse().unwrap())
                .into_iter()
                .collect(),
        )
    }

    fn host_end(&self, i: usize) -> bool {
        let name = host_veth_name(&self.node.network, &format!("crash{i}"), "eth0");
        self.node
            .ns
            .ip(&["-o", "link", "show", "dev", &name])
            .is_ok()
    }

    /// The invariants that hold after any round; `valid[i]`: the last verb on `i` was a
    /// completed ADD. Returns the orphans: invalid attachments with a lease and no interface,
    /// and those with an interface.
    fn check(&self, valid: &[bool], what: &str) -> (usize, usize) {
        let mut orphans = (0, 0);
        let leases = self.leases();
        let mut seen = BTreeMap::new();
        for (i, &valid) in valid.iter().enumerate() {
            let held: Vec<IpAddr> = leases
                .iter()
                .filter(|(_, &h)| h == i)
                .map(|(a, _)| *a)
                .collect();
            let addrs = self.pod_addrs(i);
            for a in addrs.iter().flatten() {
                if let Some(j) = seen.insert(*a, i) {
                    panic!("{what}: {a} is in pods {j} and {i}");
                }
                assert!(
                    held.contains(a),
                    "{what}: pod {i} has {a} without its lease ({leases:?})"
                );
            }
            let iface = addrs.is_some() || self.host_end(i);
            if iface {
                assert!(
                    !held.is_empty(),
                    "{what}: attachment {i} has a veth and no lease"
                );
            }
            if !valid && iface {
                orphans.1 += 1;
            } else if !valid && !held.is_empty() {
                orphans.0 += 1;
            }
            if valid {
                let addrs = addrs.unwrap_or_default();
                assert!(
                    held.len() == 1 && addrs == held,
                    "{what}: valid {i}: {addrs:?} {held:?}"
                );
                assert!(self.host_end(i), "{what}: valid {i} lost its host end");
            }
        }
        orphans
    }
}

/// How long a start (VERSION) and an ADD take here: the kills land between the two, where the
/// work is, with a share before and after. Returns (earliest kill, span) in µs.
fn kill_window(bed: &Bed) -> (u64, u64) {
    let time = |verb: &str| {
        let t = Instant::now();
        assert_eq!(bed.run(verb, 0).code, Some(0));
        t.elapsed().as_micros() as u64
    };
    let start = time("VERSION");
    let add = time("ADD").max(start + 1);
    time("DEL");
    eprintln!("a start takes {start} µs, an ADD {add} µs");
    (start * 3 / 4, add * 5 / 4 - start * 3 / 4)
}

/// `rounds` random ADDs and DELs, each SIGKILLed at a random moment of `window` unless it
/// finished first, with the invariants checked after each. Returns which attachments the
/// runtime holds valid at the end.
fn crash_rounds(bed: &Bed, r: &mut Rng, rounds: usize, window: (u64, u64)) -> [bool; PODS] {
    let (from, span) = window;
    let mut valid = [false; PODS];
    let (mut killed, mut finished, mut lease_only, mut with_iface) = (0, 0, 0, 0);
    for n in 0..rounds {
        let i = r.below(PODS);
        let verb = if r.below(5) < 3 { "ADD" } else { "DEL" };
        let child = raw::spawn(
            &bed.node.ns,
            &bed.env(verb, i),
            bed.conf.clone().into_bytes(),
        );
        std::thread::sleep(Duration::from_micros(from + r.next_u64() % span));
        // SAFETY: kill(2) on our own child, which has not been waited for yet.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let o = raw::wait(child);
        if o.signal == Some(libc::SIGKILL) {
            killed += 1;
        } else {
            finished += 1;
            raw::check_answer(verb, &o).unwrap_or_else(|e| panic!("round {n}: {e}: {o:?}"));
        }
        // The runtime's view: valid only after a completed ADD; any DEL ends it. An ADD on a
        // valid attachment fails (its eth0 exists) and leaves it valid.
        valid[i] = match verb {
            "ADD" => valid[i] || o.code == Some(0),
            _ => false,
        };
        let (l, w) = bed.check(&valid, &format!("round {n} ({verb} {i}, {:?})", o.signal));
        lease_only += l;
        with_iface += w;
    }
    eprintln!(
        "crash: {rounds} rounds, {killed} killed, {finished} finished first; orphan states seen \
         (summed over rounds): {lease_only} lease only, {with_iface} with an interface"
    );
    valid
}

/// Reclaim: DEL where an interface is left, GC with the valid attachments for the rest. Then
/// only the valid attachments hold leases, and the others have nothing left.
fn reclaim(bed: &Bed, valid: &[bool; PODS]) {
    for i in (0..PODS).filter(|&i| !valid[i]) {
        if bed.pod_addrs(i).is_some() || bed.host_end(i) {
            let o = bed.run("DEL", i);
            assert_eq!(o.code, Some(0), "{o:?}");
        }
    }
    let keep: Vec<String> = (0..PODS)
        .filter(|&i| valid[i])
        .map(|i| format!(r#"{{"containerID":"crash{i}","ifname":"eth0"}}"#))
        .collect();
    let gc = common::extend(
        &bed.conf,
        &format!(r#""cni.dev/valid-attachments":[{}]"#, keep.join(",")),
    );
    let o = raw::run(&bed.node.ns, &bed.env("GC", 0), gc.into_bytes());
    assert_eq!(o.code, Some(0), "{o:?}");
    let leases = bed.leases();
    assert!(leases.values().all(|&h| valid[h]), "{leases:?} {valid:?}");
    assert_eq!(leases.len(), valid.iter().filter(|v| **v).count());
    for i in (0..PODS).filter(|&i| !valid[i]) {
        assert!(
            bed.pod_addrs(i).is_none() && !bed.host_end(i),
            "{i} not reclaimed"
        );
    }
}

#[test]
fn sigkill_during_add_and_del_leaves_only_reclaimable_orphans() {
    testkit::require_root!();
    let node = Node::new("crash");
    let pods = (0..PODS).map(|i| node.pod(&format!("crash{i}"))).collect();
    let conf = node.conf("1.1.0", "10.66.0.0/24");
    let bed = Bed { node, pods, conf };
    let mut r = Rng::from_env("LICHEN_CRASH_SEED");
    let rounds: usize = std::env::var("LICHEN_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);

    let window = kill_window(&bed);
    let valid = crash_rounds(&bed, &mut r, rounds, window);
    reclaim(&bed, &valid);
    // Every reclaimed attachment can be made again, and then all are whole.
    let all = [true; PODS];
    for i in (0..PODS).filter(|&i| !valid[i]) {
        let o = bed.run("ADD", i);
        assert_eq!(o.code, Some(0), "ADD {i} after the reclaim: {o:?}");
    }
    bed.check(&all, "after the reclaim");
    let gw = "10.66.0.1";
    assert!(
        bed.pods[PODS - 1].ping(gw, 1).unwrap(),
        "the last pod reaches its gateway"
    );
}
