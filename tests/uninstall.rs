//! `lichen uninstall --all` on a node that ran the agent and a pod: what `lichen install` put in
//! the CNI dirs and everything the agent made go; the other node and the files install did not
//! make stay.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cluster::*;

const WAIT: Duration = Duration::from_secs(10);

/// `lichen install` on node 0 into CNI dirs of the cluster's, the bin dir already holding a
/// plugin of the node's own, with `extra` options. Returns (bin dir, conf dir).
fn install(c: &Cluster, extra: &[&str]) -> (PathBuf, PathBuf) {
    let bin = c.dir.join("cni-bin");
    let conf = c.dir.join("net.d");
    fs::create_dir_all(&bin).unwrap();
    fs::write(bin.join("portmap"), b"the node's own plugin").unwrap();
    let (out, code) = c.lichen(
        0,
        &[
            "install",
            "--bin-dir",
            bin.to_str().unwrap(),
            "--conf-dir",
            conf.to_str().unwrap(),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(conf.join("10-lichen.conflist").exists());
    (bin, conf)
}

/// What the agent and the plugin made on node 0 is gone: its routes (the agent's, proto 108,
/// and routed mode's unreachable pod subnet, proto 109; a live pod keeps its own), devices,
/// tables and subnet file.
fn assert_node_clean(c: &Cluster, subnet: &Path) {
    let node = &c.nodes[0].ns;
    for family in ["-4", "-6"] {
        let left = node.ip(&[family, "route", "show", "proto", "108"]).unwrap();
        assert_eq!(left.trim(), "", "{family}");
        // a live routed pod keeps its own route: only the subnet's must go
        let left = node.ip(&[family, "route", "show", "proto", "109"]).unwrap();
        assert!(!left.contains("unreachable"), "{family}: {left}");
    }
    for dev in ["lichen.1", "lichen0"] {
        assert!(
            node.ip(&["link", "show", dev]).is_err(),
            "{dev} is still there"
        );
    }
    let tables = c.nft(0, &["list", "tables"]);
    assert!(!tables.contains("lichen"), "{tables}");
    assert!(!subnet.exists());
}

#[test]
fn uninstall_all_removes_what_install_and_the_agent_made() {
    testkit::require_root!();
    let mut c = Cluster::new("unin", 2, r#"{"Type":"vxlan"}"#);
    c.agent_args.push("--network-policy".into());
    c.start_agents();
    let (_pod, _ip) = c.pod(0, "a");
    // and one in routed mode: its pod subnet's unreachable route outlives the pod
    c.pod_mode = "routed";
    let (_routed, _ip) = c.pod(0, "r");
    let node = &c.nodes[0].ns;
    let unreachable = node.ip(&["route", "show", "proto", "109"]).unwrap();
    assert!(
        unreachable.contains("unreachable 10.100.1.0/24"),
        "{unreachable}"
    );
    wait_for("node1's route to node2", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("lichen.1")
    });
    // the built-in conflist names no mode (each node picks); --mode writes one
    let (_, conf) = install(&c, &[]);
    let written = fs::read_to_string(conf.join("10-lichen.conflist")).unwrap();
    assert!(!written.contains(r#""mode""#), "{written}");
    let (bin, conf) = install(&c, &["--mode", "routed"]);
    let written = fs::read_to_string(conf.join("10-lichen.conflist")).unwrap();
    assert!(written.contains(r#""mode": "routed""#), "{written}");
    c.kill_agent(0);

    let subnet = c.subnet_file(0);
    let (out, code) = c.lichen(
        0,
        &[
            "uninstall",
            "--all",
            "--bin-dir",
            bin.to_str().unwrap(),
            "--conf-dir",
            conf.to_str().unwrap(),
            "--subnet-file",
            subnet.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("removed bridge lichen0"), "{out}");
    // the CNI dirs: only what install made is gone
    let mut left: Vec<String> = fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["portmap"], "{out}");
    assert!(!conf.join("10-lichen.conflist").exists());
    assert_node_clean(&c, &subnet);
    // the other node is untouched
    assert!(c.route(1, "10.100.1.0/24").contains("lichen.1"));
    assert!(c.nft(1, &["list", "tables"]).contains("lichen"));
}
