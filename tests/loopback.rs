//! `lichen` invoked as `loopback` (a symlink, as the installer makes it), side by side with
//! Debian's reference `loopback` where that is cheap: same kernel effect, same result.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use lichen::cni::CniResult;

/// A temp dir with `loopback -> lichen`, removed on drop.
struct Link {
    dir: PathBuf,
}

impl Link {
    fn new(node: &Node) -> Link {
        let dir = node.dir.join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(BIN, dir.join(lichen::plugin::LOOPBACK_NAME)).unwrap();
        Link { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("loopback")
    }
}

fn reference() -> PathBuf {
    Path::new(REF_PLUGINS).join("loopback")
}

fn conf(version: &str) -> String {
    format!(r#"{{"cniVersion":"{version}","name":"cni-loopback","type":"loopback"}}"#)
}

/// Runs `bin` with `command` for container `id` in `netns` (CNI_IFNAME lo, as runtimes pass).
fn call(node: &Node, bin: &Path, command: &str, netns: Option<&Path>, conf: &str) -> Answer {
    node.run(bin, command, "sandbox1", netns, "lo", conf, vec![])
}

/// A pod namespace with `lo` down (as a runtime hands it over).
fn pod_lo_down(node: &Node, tag: &str) -> NamedNs {
    let pod = node.pod(tag);
    pod.ip(&["link", "set", "lo", "down"]).unwrap();
    assert!(!lo_up(&pod));
    pod
}

/// Whether `lo` is administratively up in `ns`, as the kernel says.
fn lo_up(ns: &NamedNs) -> bool {
    let out = ns.ip(&["-o", "link", "show", "dev", "lo"]).unwrap();
    let flags = &out[out.find('<').unwrap()..out.find('>').unwrap()];
    flags.split(['<', ',']).any(|f| f == "UP")
}

/// A result with the sandbox path taken out (it names a different pod per plugin).
fn shape(stdout: &str, sandbox: &Path) -> CniResult {
    let mut r = CniResult::parse(stdout.as_bytes()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    for i in &mut r.interfaces {
        assert_eq!(i.sandbox, sandbox.display().to_string());
        i.sandbox.clear();
    }
    r
}

#[test]
fn add_brings_lo_up_and_answers_as_the_reference_does_for_each_version() {
    testkit::require_root!();
    let node = Node::new("lo-add");
    let link = Link::new(&node);
    for v in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let pod = pod_lo_down(&node, "p");
        let a = call(&node, &link.path(), "ADD", Some(&pod.path), &conf(v));
        assert!(a.ok, "{v}: {} {}", a.stdout, a.stderr);
        assert!(lo_up(&pod), "{v}: lo is up after ADD");
        assert!(
            a.stdout.contains(&format!(r#""cniVersion":"{v}""#)),
            "{v}: {}",
            a.stdout
        );
        assert_eq!(
            a.stdout.contains(r#""version":"4""#),
            v.starts_with('0'),
            "{v}: {}",
            a.stdout
        );
        let ours = shape(&a.stdout, &pod.path);
        assert_eq!(ours.interfaces.len(), 1, "{v}: {}", a.stdout);
        assert_eq!(ours.interfaces[0].name, "lo");
        assert_eq!(ours.interfaces[0].mac, "00:00:00:00:00:00");
        let ips: Vec<_> = ours
            .ips
            .iter()
            .map(|i| (i.address.to_string(), i.interface))
            .collect();
        assert_eq!(
            ips[0],
            ("127.0.0.1/8".to_string(), Some(0)),
            "{v}: {}",
            a.stdout
        );
        assert!(ours.routes.is_empty() && ours.dns.is_empty());

        // Debian's reference plugin (1.1.1) speaks up to 1.0.0.
        if v != "1.1.0" {
            let other = pod_lo_down(&node, "r");
            let r = call(&node, &reference(), "ADD", Some(&other.path), &conf(v));
            assert!(r.ok, "reference {v}: {} {}", r.stdout, r.stderr);
            assert!(lo_up(&other));
            assert_eq!(
                ours,
                shape(&r.stdout, &other.path),
                "{v}: the reference's result"
            );
        }
    }
}

#[test]
fn add_passes_prev_result_through() {
    testkit::require_root!();
    let node = Node::new("lo-prev");
    let link = Link::new(&node);
    let prev = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"0a:58:0a:4d:00:07","sandbox":"/run/netns/x"}],"ips":[{"interface":0,"address":"10.77.0.7/24","gateway":"10.77.0.1"}]}"#;
    let with_prev = extend(&conf("1.0.0"), &format!(r#""prevResult":{prev}"#));
    let pod = pod_lo_down(&node, "p");
    let a = call(&node, &link.path(), "ADD", Some(&pod.path), &with_prev);
    assert!(a.ok, "{} {}", a.stdout, a.stderr);
    assert!(lo_up(&pod));
    let want = CniResult::parse(prev.as_bytes()).unwrap();
    assert_eq!(CniResult::parse(a.stdout.as_bytes()).unwrap(), want);
    let other = pod_lo_down(&node, "r");
    let r = call(&node, &reference(), "ADD", Some(&other.path), &with_prev);
    assert_eq!(
        CniResult::parse(r.stdout.as_bytes()).unwrap(),
        want,
        "the reference"
    );
}

#[test]
fn del_brings_lo_down_and_succeeds_when_the_netns_is_gone() {
    testkit::require_root!();
    let node = Node::new("lo-del");
    let link = Link::new(&node);
    let c = conf("1.0.0");
    let pod = pod_lo_down(&node, "p");
    assert!(call(&node, &link.path(), "ADD", Some(&pod.path), &c).ok);
    assert!(lo_up(&pod));
    for _ in 0..2 {
        let d = call(&node, &link.path(), "DEL", Some(&pod.path), &c);
        assert!(d.ok, "{} {}", d.stdout, d.stderr);
        assert_eq!(d.stdout, "", "DEL prints nothing");
        assert!(!lo_up(&pod), "lo is down after DEL");
    }
    // CNI_ARGS is not read (as the reference): unknown keys without IgnoreUnknown are fine.
    let args = vec![("CNI_ARGS", "FOO=bar;IP=not-an-ip")];
    let a = node.run(
        &link.path(),
        "ADD",
        "s2",
        Some(&pod.path),
        "lo",
        &c,
        args.clone(),
    );
    assert!(
        a.ok && lo_up(&pod),
        "ADD with foreign CNI_ARGS: {} {}",
        a.stdout,
        a.stderr
    );
    let d = node.run(&link.path(), "DEL", "s2", Some(&pod.path), "lo", &c, args);
    assert!(
        d.ok && !lo_up(&pod),
        "DEL with foreign CNI_ARGS: {}",
        d.stdout
    );
    let gone = node.pod("gone");
    let path = gone.path.clone();
    drop(gone);
    for bin in [link.path(), reference()] {
        let d = call(&node, &bin, "DEL", Some(&path), &c);
        assert!(
            d.ok,
            "{}: DEL, netns gone: {} {}",
            bin.display(),
            d.stdout,
            d.stderr
        );
        let d = call(&node, &bin, "DEL", None, &c);
        assert!(
            d.ok,
            "{}: DEL without CNI_NETNS: {}",
            bin.display(),
            d.stdout
        );
    }
}

#[test]
fn check_fails_when_lo_is_down() {
    testkit::require_root!();
    let node = Node::new("lo-check");
    let link = Link::new(&node);
    let pod = pod_lo_down(&node, "p");
    let add = call(&node, &link.path(), "ADD", Some(&pod.path), &conf("1.0.0"));
    assert!(add.ok);
    let with_prev = |v: &str| extend(&conf(v), &format!(r#""prevResult":{}"#, add.stdout.trim()));
    for bin in [link.path(), reference()] {
        pod.ip(&["link", "set", "lo", "up"]).unwrap();
        let ok = call(&node, &bin, "CHECK", Some(&pod.path), &with_prev("1.0.0"));
        assert!(
            ok.ok,
            "{}: CHECK with lo up: {} {}",
            bin.display(),
            ok.stdout,
            ok.stderr
        );
        pod.ip(&["link", "set", "lo", "down"]).unwrap();
        let bad = call(&node, &bin, "CHECK", Some(&pod.path), &with_prev("1.0.0"));
        assert!(
            bad.stdout.contains("loopback interface is down"),
            "{}: {}",
            bin.display(),
            bad.stdout
        );
        assert!(!bad.ok);
        // CHECK does not exist before 0.4.0
        let old = call(&node, &bin, "CHECK", Some(&pod.path), &with_prev("0.3.1"));
        assert_eq!(error_code(&old), 1, "{}: {}", bin.display(), old.stdout);
    }
    assert_eq!(
        error_code(&call(
            &node,
            &link.path(),
            "CHECK",
            Some(&pod.path),
            &with_prev("1.0.0")
        )),
        105
    );
}

/// VERSION lists every version; GC and STATUS succeed silently from 1.1.0 and are refused
/// before.
fn assert_version_gc_and_status(node: &Node, bin: &Path) {
    let v = call(node, bin, "VERSION", None, &conf("1.0.0"));
    assert!(v.ok);
    assert!(
        v.stdout
            .contains(r#""supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]"#),
        "{}",
        v.stdout
    );
    for verb in ["GC", "STATUS"] {
        let a = node.run(bin, verb, "", None, "", &conf("1.1.0"), vec![]);
        assert!(
            a.ok && a.stdout.is_empty(),
            "{verb}: {} {}",
            a.stdout,
            a.stderr
        );
        let old = node.run(bin, verb, "", None, "", &conf("1.0.0"), vec![]);
        assert_eq!(error_code(&old), 1, "{verb} before 1.1.0: {}", old.stdout);
    }
}

#[test]
fn version_gc_status_and_errors() {
    testkit::require_root!();
    let node = Node::new("lo-misc");
    let link = Link::new(&node);
    let bin = link.path();
    assert_version_gc_and_status(&node, &bin);
    let pod = pod_lo_down(&node, "p");
    let cases = [
        (
            "broken JSON",
            call(&node, &bin, "ADD", Some(&pod.path), "{\"cniVersion\":"),
            6,
        ),
        (
            "unknown version",
            call(&node, &bin, "ADD", Some(&pod.path), &conf("9.9.9")),
            1,
        ),
        (
            "no netns",
            call(&node, &bin, "ADD", None, &conf("1.0.0")),
            4,
        ),
        (
            "missing netns",
            call(
                &node,
                &bin,
                "ADD",
                Some(Path::new("/run/netns/lichen-no-such")),
                &conf("1.0.0"),
            ),
            4,
        ),
    ];
    for (what, a, code) in &cases {
        assert_eq!(error_code(a), *code, "{what}: {}", a.stdout);
        assert!(
            a.stdout.trim_start().starts_with('{'),
            "{what}: only the error on stdout"
        );
    }
    assert!(!lo_up(&pod), "a refused ADD changes nothing");
}
