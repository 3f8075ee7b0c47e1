//! What the churn test reads and writes outside itself: the cluster dir's files, the agents'
//! status and explain pages, the policy tables (a node's, read back, and a fresh apply's in a
//! namespace of its own), and a slow second probe.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use super::common::cluster::*;
use super::common::probe::*;

use lichen::nft::readback::TableDump;
use lichen::policy::table::{apply_policy, read_policy_table};
use lichen::policy::Ruleset;

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

/// A probe from the namespace at `from` with a generous timeout (3 s: past a SYN's first
/// retransmission), for a second try of a probe that should have passed.
pub fn reach_slowly(from: &std::path::Path, ip: &str, port: u16, proto: Proto) -> bool {
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
