//! `lichen demo`, the README's first command (scripts/demo.sh runs it in a throwaway network
//! namespace), end to end: all three runs (host-gw, VXLAN, dual-stack VXLAN) attach their pods,
//! every cross-node ping in every family passes, and nothing the demo made is left behind (its
//! namespaces, its work directories). Root only; the suite runs inside `unshare -n`.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lichen");

/// Names in `dir` that start with `prefix`.
fn leftovers(dir: &str, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_demo_runs_every_backend_and_family_and_leaves_nothing() {
    testkit::require_root!();
    let child = Command::new(BIN).arg("demo").output().unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(child.status.success(), "lichen demo failed:\n{out}\n{err}");
    for run in [
        "== backend host-gw",
        "== backend vxlan",
        "== dual-stack, backend vxlan",
    ] {
        assert!(out.contains(run), "no {run:?} run:\n{out}");
    }
    // "demo: ping FROM -> TO ADDRESS ok|FAILED"
    let pings: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("demo: ping "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let failed: Vec<String> = pings
        .iter()
        .filter(|p| p.get(6) != Some(&"ok"))
        .map(|p| p.join(" "))
        .collect();
    assert!(failed.is_empty(), "pings failed: {failed:#?}\n{out}");
    let v6 = pings.iter().filter(|p| p[5].contains(':')).count();
    // 3 nodes x 2 pods, each pinging the 4 pods on other nodes: 24 per run and family; the
    // IPv6 ones are the dual-stack run's.
    assert_eq!(
        (pings.len() - v6, v6),
        (3 * 24, 24),
        "IPv4 and IPv6 pings:\n{out}"
    );
    assert!(out.contains("demo: done, everything removed"), "{out}");
    let pid = child_pid_prefix(&out);
    assert_eq!(leftovers("/run/netns", &pid), Vec::<String>::new());
    let tmp = std::env::temp_dir();
    let work = leftovers(tmp.to_str().unwrap(), &pid);
    assert!(work.is_empty(), "work directories left: {work:?}");
}

/// `lichen-demo-<pid>-`: the prefix of every namespace the demo made (from its first line
/// naming one).
fn child_pid_prefix(out: &str) -> String {
    let name = out
        .split_whitespace()
        .find(|w| w.starts_with("lichen-demo-"))
        .unwrap_or_else(|| panic!("no namespace named in:\n{out}"));
    let pid = name.split('-').nth(2).unwrap();
    format!("lichen-demo-{pid}-")
}
