//! A seeded fuzz of the plugin's stdin and environment, every verb (issue 11): hundreds of
//! mutated invocations of the binary in one node/pod namespace pair. Per case: no panic, no
//! signal, exit status and stdout agree (a result, or the spec's error object), and a failed
//! ADD leaves nothing (no veth or bridge in the node, no veth in the pod, no lease or index
//! file); a successful one is DELeted with the same input and leaves nothing either.
//!
//! `LICHEN_FUZZ_SEED` replays a run (the seed is printed), `LICHEN_FUZZ_CASES` sets how many
//! cases (default 500).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::mutate::{env::mutate_env, mutate_conf, Conf, TextMutation, TEXT};
use common::raw::{self, check_answer, Rng};
use common::{NamedNs, Node};

const VERBS: [&str; 6] = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"];

/// One invocation's inputs.
struct Case {
    verb: &'static str,
    conf: Conf,
    env: Vec<(String, String)>,
    /// A byte-level change applied to the rendered config.
    text: Option<TextMutation>,
    what: Vec<String>,
}

/// What an attachment can leave behind: veths, bridges and their addresses in the node, veths in the pod,
/// lease, index and temp files in the data dir (not the lock, cursor or cache files).
fn state(node: &Node, pod: &NamedNs) -> BTreeSet<String> {
    let typed = |ns: &NamedNs, kind: &str, tag: &str| -> Vec<String> {
        let out = ns
            .ip(&["-o", "link", "show", "type", kind])
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| format!("{tag} {}", n.split('@').next().unwrap_or(n)))
            .collect()
    };
    let mut s: BTreeSet<String> = typed(&node.ns, "veth", "node")
        .into_iter()
        .chain(typed(&node.ns, "bridge", "node bridge"))
        .chain(typed(pod, "veth", "pod"))
        .collect();
    // Bridge addresses: `<n>: <dev> inet <cidr> ...`.
    let addrs = node
        .ns
        .ip(&["-o", "addr", "show", "type", "bridge"])
        .unwrap_or_default();
    for l in addrs.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() > 3 {
            s.insert(format!("node bridge address {} {}", w[1], w[3]));
        }
    }
    s.extend(raw::store_files(&node.data_dir()));
    s
}

fn env_for(verb: &str, id: &str, pod: &NamedNs, node: &Node) -> Vec<(String, String)> {
    let cni_path = format!("{}:{}", node.dir.join("bin").display(), common::REF_PLUGINS);
    [
        ("CNI_COMMAND", verb.to_string()),
        ("CNI_CONTAINERID", id.to_string()),
        ("CNI_NETNS", pod.path.display().to_string()),
        ("CNI_IFNAME", "eth0".to_string()),
        ("CNI_PATH", cni_path),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Draws case `n`: a verb (ADD two times in five), its valid inputs, then one or two mutations.
fn draw_case(r: &mut Rng, n: usize, node: &Node, pod: &NamedNs, scratch: &Path) -> (usize, Case) {
    let v = if r.below(5) < 2 { 0 } else { r.below(6) };
    let mut case = Case {
        verb: VERBS[v],
        conf: Conf::base(&node.data_dir()),
        env: env_for(VERBS[v], &format!("fz{n}"), pod, node),
        text: None,
        what: Vec::new(),
    };
    for _ in 0..1 + r.below(2) {
        match r.below(3) {
            0 => case.what.push(mutate_conf(r, &mut case.conf)),
            1 => case.what.push(mutate_env(r, &mut case.env, scratch)),
            _ => case.text = Some(*r.pick(&TEXT)),
        }
    }
    (v, case)
}

/// Runs case `n`: its failures (none if the answer is right and an ADD, failed or DELeted
/// again, left nothing), and whether it was an ADD that succeeded.
fn run_case(
    r: &mut Rng,
    n: usize,
    mut case: Case,
    node: &Node,
    pod: &NamedNs,
) -> (Vec<String>, bool) {
    let mut failures = Vec::new();
    let (mut stdin, protected) = case.conf.render();
    if let Some(f) = case.text {
        case.what.push(f(r, &mut stdin, protected));
    }
    let label = format!("case {n} {} [{}]", case.verb, case.what.join("; "));
    let before = (case.verb == "ADD").then(|| state(node, pod));
    let o = raw::run(&node.ns, &case.env, stdin.clone());
    if let Err(e) = check_answer(case.verb, &o) {
        failures.push(format!(
            "{label}: {e}\n  stdout {:?}\n  stderr {:?}",
            o.stdout, o.stderr
        ));
        return (failures, false);
    }
    let Some(before) = before else {
        return (failures, false);
    };
    if o.code == Some(0) {
        let mut env = case.env.clone();
        env.retain(|(k, _)| k != "CNI_COMMAND");
        env.push(("CNI_COMMAND".into(), "DEL".into()));
        let d = raw::run(&node.ns, &env, stdin);
        if d.code != Some(0) {
            failures.push(format!("{label}: DEL after it failed: {d:?}"));
        }
    }
    // Bridges and their addresses may stay after a successful ADD and its DEL (by
    // design); nothing else.
    let after = state(node, pod);
    let left: Vec<&String> = after
        .difference(&before)
        .filter(|s| o.code != Some(0) || !s.starts_with("node bridge"))
        .collect();
    if !left.is_empty() {
        failures.push(format!(
            "{label}: left behind {left:?}\n  stdout {:?}",
            o.stdout
        ));
    }
    (failures, o.code == Some(0))
}

/// The unmutated ADD works (the fuzz starts from a valid invocation) and sets up the bridge
/// and the data dir; DEL makes the baseline.
fn warm_up(node: &Node, pod: &NamedNs) {
    let (conf, _) = Conf::base(&node.data_dir()).render();
    let env = env_for("ADD", "warmup", pod, node);
    let o = raw::run(&node.ns, &env, conf.clone());
    assert_eq!(o.code, Some(0), "{o:?}");
    let env = env_for("DEL", "warmup", pod, node);
    assert_eq!(raw::run(&node.ns, &env, conf).code, Some(0));
}

#[test]
fn fuzz_stdin_and_env_of_every_verb() {
    testkit::require_root!();
    let node = Node::new("fuzz");
    let pod = node.pod("fuzzpod");
    let scratch = node.dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("regular-file"), "not a namespace").unwrap();
    let mut r = Rng::from_env("LICHEN_FUZZ_SEED");
    let cases: usize = std::env::var("LICHEN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    warm_up(&node, &pod);

    let mut failures = Vec::new();
    let mut per_verb = [0usize; 6];
    let mut adds_ok = 0;
    for n in 0..cases {
        let (v, case) = draw_case(&mut r, n, &node, &pod, &scratch);
        per_verb[v] += 1;
        let (failed, add_ok) = run_case(&mut r, n, case, &node, &pod);
        failures.extend(failed);
        adds_ok += usize::from(add_ok);
    }
    eprintln!(
        "fuzz: {cases} cases (ADD {}, DEL {}, CHECK {}, VERSION {}, GC {}, STATUS {}), {adds_ok} ADDs succeeded",
        per_verb[0], per_verb[1], per_verb[2], per_verb[3], per_verb[4], per_verb[5]
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed (replay with the seed above):\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
