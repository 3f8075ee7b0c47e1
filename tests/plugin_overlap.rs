//! ADD's two halves, IPAM and the veth (plugin/add.rs runs one after the other; these tests
//! were written to hold if they overlap too): whichever fails, the ADD answers that failure's
//! CNI error (IPAM's unchanged, also when both fail) and leaves nothing: no host end in the
//! node, no interface in the pod, no bridge it made, no lease. And ordinary ADDs, many at once,
//! still get distinct addresses, DEL removes them; both ends of a routed pod's veth get the
//! subnet file's MTU.

mod common;

use std::path::PathBuf;

use common::*;

/// Two addresses: two ADDs exhaust it.
const SMALL: &str = r#"{"subnet":"10.86.0.0/29","rangeStart":"10.86.0.2","rangeEnd":"10.86.0.3"}"#;

/// `node`'s config in `mode` with range `range`; `ipam` goes first in the IPAM object (e.g.
/// a `type`, `routes`).
fn conf(node: &Node, mode: &str, range: &str, ipam: &str) -> String {
    format!(
        r#"{{"cniVersion":"1.0.0","name":"{}","type":"lichen","mode":"{mode}","bridge":"lbr0","ipam":{{{ipam}"ranges":[[{range}]],"dataDir":"{}"}}}}"#,
        node.network,
        node.data_dir().display()
    )
}

/// Every file of the lease directory with its content (leases, the IPAM's own files).
fn lease_dir(node: &Node) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(node.lease_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let content = std::fs::read(e.path()).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), content)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `lichen` invoked as `lichen-ipam` (the built-in IPAM alone), in the node's CNI_PATH.
fn ipam_alone(node: &Node) -> PathBuf {
    let dir = node.dir.join("bin");
    let bin = dir.join("lichen-ipam");
    if !bin.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(BIN, &bin).unwrap();
    }
    bin
}

fn add(node: &Node, id: &str, pod: &NamedNs, conf: &str) -> Answer {
    node.cni("ADD", id, Some(&pod.path), "eth0", conf)
}

/// A failed ADD of `pod` left nothing: the node's plugin links are `links`, the pod has no
/// `eth0`, the leases are `leases`.
fn assert_nothing_left(node: &Node, pod: &NamedNs, links: &[String], leases: &[String]) {
    assert_eq!(node.plugin_links(), links, "no host end, no bridge left");
    assert!(
        !common::links(pod).contains(&"eth0".to_string()),
        "no pod end left"
    );
    assert_eq!(node.leases(), leases, "no lease left");
}

/// Fills `SMALL` with two routed pods (kept while they live: a pod namespace that goes takes
/// its veth along); returns them and the node's plugin links then (their host ends).
fn fill(node: &Node) -> (Vec<NamedNs>, Vec<String>) {
    let routed = conf(node, "routed", SMALL, "");
    let pods: Vec<NamedNs> = (0..2).map(|i| node.pod(&format!("f{i}"))).collect();
    for (i, p) in pods.iter().enumerate() {
        let a = add(node, &format!("fill{i}"), p, &routed);
        assert!(a.ok, "{} {}", a.stdout, a.stderr);
    }
    let links = node.plugin_links();
    assert_eq!(links.len(), 2, "{links:?}");
    (pods, links)
}

#[test]
fn an_exhausted_range_answers_the_ipam_error_and_removes_the_veth_in_both_modes() {
    testkit::require_root!();
    for mode in ["routed", "bridge"] {
        let node = Node::new(&format!("ox{}", &mode[..1]));
        // Routed pods fill the range: in bridge mode the failed ADD is the one that makes lbr0.
        let (_filled, links) = fill(&node);
        let (leases, dir) = (node.leases(), lease_dir(&node));
        let conf = conf(&node, mode, SMALL, "");
        let pod = node.pod("p");
        let a = add(&node, "c", &pod, &conf);
        assert_eq!(error_code(&a), 100, "{mode}: {}", a.stdout);
        // The IPAM's error unchanged: what the built-in IPAM alone answers.
        let alone = node.run(
            &ipam_alone(&node),
            "ADD",
            "c",
            Some(&pod.path),
            "eth0",
            &conf,
            vec![],
        );
        assert_eq!(a.stdout, alone.stdout, "{mode}");
        assert!(a.stdout.contains("10.86.0.2"), "{}", a.stdout);
        assert_nothing_left(&node, &pod, &links, &leases);
        assert_eq!(
            lease_dir(&node),
            dir,
            "{mode}: the lease directory is as it was"
        );
    }
}

#[test]
fn a_delegated_ipam_error_is_answered_unchanged_and_removes_the_veth() {
    testkit::require_root!();
    for mode in ["routed", "bridge"] {
        let node = Node::new(&format!("od{}", &mode[..1]));
        let one = r#"{"subnet":"10.87.0.0/29","rangeStart":"10.87.0.2","rangeEnd":"10.87.0.2"}"#;
        let conf = conf(&node, mode, one, r#""type":"host-local","#);
        let p0 = node.pod("p0");
        let a0 = add(&node, "c0", &p0, &conf);
        assert!(a0.ok, "{mode}: {} {}", a0.stdout, a0.stderr);
        let (links, leases, dir) = (node.plugin_links(), node.leases(), lease_dir(&node));
        let pod = node.pod("p");
        let a = add(&node, "c1", &pod, &conf);
        assert!(!a.ok, "{mode}: {}", a.stdout);
        // host-local's own answer to the same ADD: its code, its message after Lichen's prefix.
        let hl = node.run(
            &PathBuf::from(REF_PLUGINS).join("host-local"),
            "ADD",
            "c1",
            Some(&pod.path),
            "eth0",
            &conf,
            vec![],
        );
        let (mine, theirs) = (error(&a), error(&hl));
        assert_eq!(mine.0, theirs.0, "{mode}: {} / {}", a.stdout, hl.stdout);
        assert_eq!(mine.1, format!("IPAM plugin host-local ADD: {}", theirs.1));
        assert_nothing_left(&node, &pod, &links, &leases);
        assert_eq!(
            lease_dir(&node),
            dir,
            "{mode}: host-local's directory is as it was"
        );
    }
}

#[test]
fn a_dhcp_ipam_is_refused_before_anything_is_made() {
    testkit::require_root!();
    let node = Node::new("odh");
    let conf = conf(&node, "bridge", SMALL, r#""type":"dhcp","#);
    let (links, leases) = (node.plugin_links(), node.leases());
    let pod = node.pod("p");
    let a = add(&node, "c1", &pod, &conf);
    assert!(!a.ok, "{}", a.stdout);
    let (code, msg) = error(&a);
    assert_eq!(code, 7, "{msg}");
    assert!(
        msg.contains("is not supported: its ADD needs the pod's interface"),
        "{msg}"
    );
    assert_nothing_left(&node, &pod, &links, &leases);
}

/// An error answer's code and message.
fn error(a: &Answer) -> (u64, String) {
    #[derive(serde::Deserialize)]
    struct Error<'a> {
        code: u64,
        msg: &'a str,
    }
    let (e, _) = serde_json_core::from_str::<Error>(a.stdout.trim()).expect("a JSON error");
    (e.code, e.msg.to_owned())
}

#[test]
fn both_halves_failing_answer_the_ipam_error_and_leave_nothing() {
    testkit::require_root!();
    let node = Node::new("obo");
    let (_filled, mut links) = fill(&node);
    // lbr0 is not a bridge: bridge mode's veth cannot be made either.
    node.ns
        .ip(&[
            "link", "add", "lbr0", "type", "veth", "peer", "name", "xlbr0",
        ])
        .unwrap();
    links.push("lbr0".into());
    links.sort();
    let leases = node.leases();
    let pod = node.pod("p");
    let a = add(&node, "c", &pod, &conf(&node, "bridge", SMALL, ""));
    assert_eq!(error_code(&a), 100, "{}", a.stdout);
    assert_nothing_left(&node, &pod, &links, &leases);
    let taken = node.ns.ip(&["-d", "-o", "link", "show", "lbr0"]).unwrap();
    assert!(taken.contains("veth"), "{taken}");
}

#[test]
fn a_veth_that_cannot_be_made_gives_the_lease_back() {
    testkit::require_root!();
    // Bridge mode: lbr0 is taken by a veth (code 7). Routed mode: the host end's name is taken
    // by the node's loopback, renamed: not a veth, so not a stale host end (code 102).
    for (mode, code) in [("bridge", 7), ("routed", 102)] {
        let node = Node::new(&format!("ov{}", &mode[..1]));
        let _filled = fill(&node);
        let del = node.cni(
            "DEL",
            "fill1",
            None,
            "eth0",
            &conf(&node, "routed", SMALL, ""),
        );
        assert!(del.ok, "{}", del.stdout);
        assert_eq!(node.leases().len(), 1, "one address free");
        if mode == "bridge" {
            node.ns
                .ip(&[
                    "link", "add", "lbr0", "type", "veth", "peer", "name", "xlbr0",
                ])
                .unwrap();
        } else {
            let host_end = lichen::dataplane::host_veth_name(&node.network, "c", "eth0");
            node.ns.ip(&["link", "set", "lo", "down"]).unwrap();
            node.ns
                .ip(&["link", "set", "lo", "name", &host_end])
                .unwrap();
        }
        let (links, leases) = (node.plugin_links(), node.leases());
        let pod = node.pod("p");
        let a = add(&node, "c", &pod, &conf(&node, mode, SMALL, ""));
        assert_eq!(error_code(&a), code, "{mode}: {}", a.stdout);
        assert_nothing_left(&node, &pod, &links, &leases);
    }
}

/// A link that is not a veth under a pod's host-end name is not Lichen's: ADD refuses (102,
/// the lease given back) instead of deleting it as a stale host end, and DEL leaves it.
#[test]
fn a_host_end_name_taken_by_another_kind_of_link_is_left_alone() {
    testkit::require_root!();
    for mode in ["routed", "bridge"] {
        let node = Node::new(&format!("ot{}", &mode[..1]));
        let host_end = lichen::dataplane::host_veth_name(&node.network, "c", "eth0");
        node.ns
            .ip(&["link", "add", &host_end, "type", "bridge"])
            .unwrap();
        let (links, leases) = (node.plugin_links(), node.leases());
        let pod = node.pod("p");
        let conf = conf(&node, mode, SMALL, "");
        let a = add(&node, "c", &pod, &conf);
        let (code, msg) = error(&a);
        assert_eq!(code, 102, "{mode}: {msg}");
        assert!(
            msg.contains(&host_end) && msg.contains("bridge link"),
            "{msg}"
        );
        assert_nothing_left(&node, &pod, &links, &leases);
        let d = node.cni("DEL", "c", Some(&pod.path), "eth0", &conf);
        assert!(d.ok, "{mode}: {}", d.stdout);
        let kept = node
            .ns
            .ip(&["-d", "-o", "link", "show", &host_end])
            .unwrap();
        assert!(kept.contains("bridge"), "{mode}: DEL removed it: {kept}");
    }
}

#[test]
fn a_bridge_add_failing_after_the_veth_gives_the_lease_back_and_removes_the_bridge() {
    testkit::require_root!();
    let node = Node::new("opl");
    // A route via a gateway outside the pod's subnet: ENETUNREACH once the veth is plumbed.
    let conf = conf(
        &node,
        "bridge",
        SMALL,
        r#""routes":[{"dst":"10.99.0.0/16","gw":"10.77.0.1"}],"#,
    );
    let pod = node.pod("p");
    let a = add(&node, "c", &pod, &conf);
    assert_eq!(error_code(&a), 103, "{}", a.stdout);
    assert!(a.stdout.contains("10.99.0.0/16"), "{}", a.stdout);
    // This ADD made lbr0: it goes too.
    assert_nothing_left(&node, &pod, &[], &[]);
}

#[test]
fn twenty_parallel_adds_in_each_mode_get_distinct_addresses_and_dels_leave_nothing() {
    testkit::require_root!();
    for mode in ["routed", "bridge"] {
        let node = Node::new(&format!("op{}", &mode[..1]));
        let conf = conf(&node, mode, r#"{"subnet":"10.88.0.0/24"}"#, "");
        let pods: Vec<_> = (0..20).map(|i| node.pod(&format!("p{i}"))).collect();
        let answers: Vec<Answer> = std::thread::scope(|s| {
            let hs: Vec<_> = pods
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let (node, conf) = (&node, &conf);
                    s.spawn(move || add(node, &format!("c{i}"), p, conf))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut ips = Vec::new();
        for (a, p) in answers.iter().zip(&pods) {
            assert!(a.ok, "{mode}: {} {}", a.stdout, a.stderr);
            let ip = first_ip(&a.stdout);
            let inside = p.ip(&["-4", "-o", "addr", "show", "dev", "eth0"]).unwrap();
            assert!(inside.contains(&format!("{ip}/")), "{mode}: {inside}");
            ips.push(ip);
        }
        let mut uniq = ips.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 20, "{mode}: duplicate addresses: {ips:?}");
        let mut leases = node.leases();
        leases.sort();
        assert_eq!(leases, uniq, "{mode}: one lease per address");
        let host_ends = node
            .plugin_links()
            .iter()
            .filter(|l| l.starts_with("lic"))
            .count();
        assert_eq!(host_ends, 20, "{mode}");
        std::thread::scope(|s| {
            for (i, p) in pods.iter().enumerate() {
                let (node, conf) = (&node, &conf);
                s.spawn(move || {
                    let d = node.cni("DEL", &format!("c{i}"), Some(&p.path), "eth0", conf);
                    assert!(d.ok, "{}", d.stdout);
                });
            }
        });
        assert!(node.leases().is_empty(), "{mode}: {:?}", node.leases());
        assert!(
            !node.plugin_links().iter().any(|l| l.starts_with("lic")),
            "{mode}: {:?}",
            node.plugin_links()
        );
        for p in &pods {
            assert!(!common::links(p).contains(&"eth0".to_string()), "{mode}");
        }
    }
}

/// Both ends of the veth have the MTU the subnet file gives.
#[test]
fn the_subnet_files_mtu_reaches_both_ends_in_routed_mode() {
    testkit::require_root!();
    let node = Node::new("omtu");
    let subnet_file = node.dir.join("subnet.env");
    std::fs::write(
        &subnet_file,
        "LICHEN_NETWORK=10.89.0.0/16\nLICHEN_SUBNET=10.89.3.1/24\nLICHEN_MTU=1400\n",
    )
    .unwrap();
    let conf = format!(
        r#"{{"cniVersion":"1.1.0","name":"{}","type":"lichen","mode":"routed","subnetFile":"{}","ipam":{{"dataDir":"{}"}}}}"#,
        node.network,
        subnet_file.display(),
        node.data_dir().display()
    );
    let pod = node.pod("p");
    let a = add(&node, "c", &pod, &conf);
    assert!(a.ok, "{} {}", a.stdout, a.stderr);
    let r = lichen::cni::CniResult::parse(a.stdout.as_bytes()).unwrap();
    assert!(
        r.ips[0].address.to_string().starts_with("10.89.3."),
        "{}",
        a.stdout
    );
    let host = &r.interfaces[0].name;
    assert_eq!(
        (r.interfaces[0].mtu, r.interfaces[1].mtu),
        (Some(1400), Some(1400))
    );
    let inside = pod.ip(&["link", "show", "eth0"]).unwrap();
    assert!(inside.contains("mtu 1400"), "{inside}");
    let outside = node.ns.ip(&["link", "show", host]).unwrap();
    assert!(outside.contains("mtu 1400"), "{outside}");
}
