//! Hostile cluster-dir entries against running agents, both backends: a two-node cluster, then
//! every kind of entry the agent refuses (as peers, and as files) lands in the directory. The
//! agents stay alive, the good peer stays programmed, every refusal is in `lichen status` and
//! logged once however many passes run. On node1 a LAN inside the cluster Network and a route
//! the kernel already has make a peer subnet overlap a connected network, and a route add fail.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::time::Duration;

use common::cluster::*;

const WAIT: Duration = Duration::from_secs(20);

/// A Node object; `cidr` and `ip` are left out when empty, `ip` may be any text.
fn node(name: &str, cidr: &str, ip: &str) -> String {
    let spec = if cidr.is_empty() {
        String::new()
    } else {
        format!(r#""spec":{{"podCIDR":"{cidr}"}},"#)
    };
    let status = if ip.is_empty() {
        String::new()
    } else {
        format!(r#","status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}"#)
    };
    format!(r#"{{"apiVersion":"v1","kind":"Node",{spec}"metadata":{{"name":"{name}"}}{status}}}"#)
}

/// Refused peers (named after node1 and node2, so no name order lets them take a good peer's
/// subnet first) and what node1's status must say about each.
const PEERS: &[(&str, &str, &str, &str)] = &[
    ("zz-nocidr", "", "198.51.100.40", "no podCIDR"),
    ("zz-noip", "10.100.41.0/24", "", "no InternalIP"),
    (
        "zz-default",
        "0.0.0.0/0",
        "198.51.100.42",
        "outside the cluster network",
    ),
    (
        "zz-outside",
        "10.200.0.0/24",
        "198.51.100.43",
        "outside the cluster network",
    ),
    (
        "zz-mine",
        "10.100.1.0/24",
        "198.51.100.44",
        "overlaps this node's podCIDR",
    ),
    (
        "zz-wide",
        "10.100.0.0/16",
        "198.51.100.45",
        "overlaps this node's podCIDR",
    ),
    ("zz-dup", "10.100.2.0/24", "198.51.100.46", "of node node2"),
    (
        "zz-ownip",
        "10.100.47.0/24",
        "198.51.100.11",
        "this node's own address",
    ),
    ("zz-zeroip", "10.100.48.0/24", "0.0.0.0", "not a unicast"),
    (
        "zz-loip",
        "10.100.49.0/24",
        "127.0.0.1",
        "its InternalIP 127.0.0.1 is",
    ),
    ("zz-mcastip", "10.100.50.0/24", "224.0.0.1", "not a unicast"),
    (
        "zz-bcastip",
        "10.100.51.0/24",
        "255.255.255.255",
        "not a unicast",
    ),
    (
        "zz-podip",
        "10.100.52.0/24",
        "10.100.2.5",
        "inside the cluster network",
    ),
    (
        "zz-lan",
        "10.100.200.0/24",
        "198.51.100.53",
        "on lan9, a network this node is connected to",
    ),
    (
        "zz-taken",
        "10.100.201.0/24",
        "198.51.100.54",
        "the kernel refused",
    ),
];

/// Files that contribute nothing, and what status says about each.
const FILES: &[(&str, &str)] = &[
    ("zz-broken.json", "invalid JSON"),
    ("zz-badip.json", "status.addresses"),
    ("zz-badcidr.json", "spec.podCIDRs"),
    ("zz-fifo.json", "not a regular file"),
    ("zz-zero.json", "not a regular file"),
    ("zz-huge.json", "limit"),
];

fn plant(c: &Cluster) {
    for (name, cidr, ip, _) in PEERS {
        c.put_object(&format!("{name}.json"), &node(name, cidr, ip));
    }
    let dir = c.objects();
    c.put_object("zz-broken.json", r#"{"kind":"Node","metadata":"#);
    c.put_object(
        "zz-badip.json",
        &node("zz-badip", "10.100.60.0/24", "10.0.0.300"),
    );
    c.put_object(
        "zz-badcidr.json",
        &node("zz-badcidr", "10.100.300.0/24", "198.51.100.61"),
    );
    let fifo = std::ffi::CString::new(
        dir.join("zz-fifo.json")
            .into_os_string()
            .into_encoded_bytes(),
    );
    assert_eq!(unsafe { libc::mkfifo(fifo.unwrap().as_ptr(), 0o644) }, 0);
    symlink("/dev/zero", dir.join("zz-zero.json")).unwrap();
    // Sparse: 100 MiB that cost nothing on disk (the agent must not read them either).
    let huge = fs::File::create(dir.join("zz-huge.json")).unwrap();
    huge.set_len(100 << 20).unwrap();
}

/// The number of passes node `k`'s agent ran, from its status page ("synced: … (N runs, …").
fn runs(c: &Cluster, k: usize) -> u64 {
    let s = c.status(k);
    let line = s.lines().find(|l| l.starts_with("synced:")).unwrap_or("");
    let at = line.find('(').map(|i| &line[i + 1..]).unwrap_or("");
    at.split(' ').next().unwrap_or("").parse().unwrap_or(0)
}

/// node1: a LAN inside the cluster Network, and a route the kernel has before Lichen's.
fn foreign_routes(c: &Cluster) {
    let n1 = &c.nodes[0].ns;
    n1.ip(&[
        "link", "add", "lan9", "type", "veth", "peer", "name", "lan9p",
    ])
    .unwrap();
    n1.ip(&["addr", "add", "10.100.200.10/24", "dev", "lan9"])
        .unwrap();
    n1.ip(&["link", "set", "lan9", "up"]).unwrap();
    n1.ip(&["route", "add", "blackhole", "10.100.201.0/24"])
        .unwrap();
}

/// More passes: a deleted route is repaired at once, each time a pass.
fn repair_three_times(c: &Cluster) {
    let before = runs(c, 0);
    for _ in 0..3 {
        c.nodes[0]
            .ns
            .ip(&["route", "del", "10.100.2.0/24", "proto", "108"])
            .unwrap();
        wait_for("the route repaired", WAIT, || {
            c.route(0, "10.100.2.0/24").contains("proto 108")
        });
    }
    wait_for("three more passes", WAIT, || runs(c, 0) >= before + 3);
}

/// Every refused peer and skipped file is in node1's status with its reason, and logged once
/// however many passes ran.
fn assert_refusals_reported_once(status: &str, log: &str) {
    for (name, _, _, why) in PEERS {
        let line = status
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in status:\n{status}"));
        assert!(line.contains(why), "{name}: {line}");
        assert!(!line.contains("programmed"), "{name}: {line}");
        let logged = log
            .lines()
            .filter(|l| l.contains(&format!("peer {name} ")) && l.contains("not programmed"))
            .count();
        assert_eq!(logged, 1, "{name} logged {logged} times");
    }
    for (file, why) in FILES {
        let line = format!("skipped:  {file}: ");
        let at = status
            .find(&line)
            .unwrap_or_else(|| panic!("{file}:\n{status}"));
        assert!(
            status[at..].lines().next().unwrap().contains(why),
            "{file}:\n{status}"
        );
        let logged = log.lines().filter(|l| l.contains(file)).count();
        assert_eq!(logged, 1, "{file} logged {logged} times");
    }
}

/// Alive, the good peer programmed on both nodes; nothing routed for the refused ones, and
/// node1's foreign routes kept.
fn assert_alive_and_routes_kept(c: &mut Cluster, status: &str) {
    for k in 0..2 {
        assert!(c.nodes[k]
            .agent
            .as_mut()
            .unwrap()
            .try_wait()
            .unwrap()
            .is_none());
        assert_eq!(c.http(k, "/healthz").0, 200);
        let peer = &c.nodes[1 - k];
        let line = c.status(k);
        let line = line
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", peer.name)));
        assert!(line.is_some_and(|l| l.contains("programmed (")), "{line:?}");
        assert!(c.route(k, &peer.subnet).contains("proto 108"));
    }
    let lan = c.route(0, "10.100.200.0/24");
    assert!(
        lan.contains("dev lan9") && !lan.contains("proto 108"),
        "{lan}"
    );
    assert!(c.route(0, "10.100.201.0/24").starts_with("blackhole"));
    assert!(status.contains("File exists"), "{status}");
}

fn hostile_entries(backend: &str, tag: &str) {
    let mut c = Cluster::new(tag, 2, backend);
    foreign_routes(&c);
    c.start_agents();
    for k in 0..2 {
        let other = &c.nodes[1 - k].subnet.clone();
        wait_for("the peer's route", WAIT, || {
            c.route(k, other).contains("proto 108")
        });
    }

    plant(&c);
    wait_for("every refusal in node1's status", WAIT, || {
        let s = c.status(0);
        PEERS.iter().all(|p| s.contains(p.0)) && FILES.iter().all(|f| s.contains(f.0))
    });
    repair_three_times(&c);

    let status = c.status(0);
    assert_refusals_reported_once(&status, &c.agent_log(0));
    assert_alive_and_routes_kept(&mut c, &status);
    let (p0, _) = c.pod(0, "a");
    let (_p1, ip1) = c.pod(1, "b");
    assert!(p0.ping(&ip1, 3).unwrap(), "pods still reach each other");
}

#[test]
fn hostile_entries_host_gw() {
    testkit::require_root!();
    hostile_entries(r#"{"Type":"host-gw"}"#, "hgw");
}

#[test]
fn hostile_entries_vxlan() {
    testkit::require_root!();
    hostile_entries(r#"{"Type":"vxlan"}"#, "vx");
}

/// node1's own Node file turns malformed; a peer's change still reaches node1's kernel.
#[test]
fn a_malformed_own_node_keeps_peer_changes_applying() {
    testkit::require_root!();
    let mut c = Cluster::new("own", 2, r#"{"Type":"host-gw"}"#);
    c.start_agents();
    wait_for("node2's route", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("via 198.51.100.12")
    });
    c.put_object("node1.json", r#"{"kind":"Node","metadata":{"name":"node1""#);
    // node2 moves to another address on the LAN.
    c.nodes[1]
        .ns
        .ip(&["addr", "add", "198.51.100.32/24", "dev", "eth0"])
        .unwrap();
    c.put_object(
        "node2.json",
        &node("node2", "10.100.2.0/24", "198.51.100.32"),
    );
    wait_for("node2's route to follow", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("via 198.51.100.32")
    });
    let s = c.status(0);
    assert!(s.contains("skipped:  node1.json"), "{s}");
    assert!(s.contains("last good entry"), "{s}");
}
