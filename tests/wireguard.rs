//! The WireGuard backend end to end (issue 14), on the userspace path (this machine's kernel has
//! no WireGuard module: every agent starts wireguard-go): node namespaces on the
//! 198.51.100.0/24 underlay (one behind a NAT on 203.0.113.0/24), each node's agent in a mount
//! namespace of its own with a private `/run/wireguard` (wireguard-go's fixed socket directory),
//! keys made with `wg genkey` and announced in the Node objects (cluster dir) or published by
//! the agents (API mode), pods attached by the real plugin. Checked: pods talk (ping and TCP)
//! across every pair of nodes while the underlay carries only WireGuard's UDP between node
//! addresses (a capture on the switch: no pod address in clear) (mesh.rs); API mode with
//! published keys (api.rs); a peer configured by hand with `wg` over wireguard-go, no Lichen on
//! it (interop.rs); `ListenPort`, `MTU`, `PSK` and a dual-stack cluster (conf.rs); a node's key
//! rotated (rotation.rs); a node behind a NAT reaching the others with keepalive, its roamed
//! endpoint kept across resyncs (nat.rs); `lichen agent --cleanup`, `lichen status`, an agent
//! restart (lifecycle.rs); keys copied from `lichen status` into the Node files, pending and
//! unreachable peers (operator.rs); the harness's private mounts themselves (harness.rs).
//! Every test skips, saying so, without wireguard-go and wg.
//!
//! Run inside a throwaway namespace:
//! `unshare -n -- scripts/in-netns.sh cargo test -q --test wireguard -- --test-threads=2`.

mod common;

use std::time::Duration;

use common::cluster::*;
use common::*;

#[path = "wireguard/api.rs"]
mod api;
#[path = "wireguard/capture.rs"]
mod capture;
#[path = "wireguard/conf.rs"]
mod conf;
#[path = "wireguard/harness.rs"]
mod harness;
#[path = "wireguard/interop.rs"]
mod interop;
#[path = "wireguard/lifecycle.rs"]
mod lifecycle;
#[path = "wireguard/mesh.rs"]
mod mesh;
#[path = "wireguard/nat.rs"]
mod nat;
#[path = "wireguard/operator.rs"]
mod operator;
#[path = "wireguard/rotation.rs"]
mod rotation;

/// Generous: wireguard-go starts, handshakes, two cores shared with the rest of the suite.
const WAIT: Duration = Duration::from_secs(40);
/// The listen port every node shares (net-conf's default).
const PORT: u16 = 51820;
const WIREGUARD: &str = r#"{"Type":"wireguard"}"#;

/// A cluster-dir cluster of `n` nodes with the WireGuard `backend`, each node in its own mount
/// namespace with a fresh key (file and annotation); no agent yet. `None` (the test skips)
/// without wireguard-go and wg.
fn wg_cluster(tag: &str, n: usize, backend: &str) -> Option<Cluster> {
    if !wireguard_tools() {
        return None;
    }
    let mut c = Cluster::new(tag, n, backend);
    c.isolate_mounts();
    c.give_wg_keys();
    Some(c)
}

/// Waits until node `k`'s `lichen-wg` lists a peer with the public key of each node in
/// `peers`, with their pod subnets as allowed IPs, and routes node `k`'s traffic for their
/// subnets through it.
fn wait_programmed(c: &Cluster, k: usize, peers: &[usize]) {
    for &p in peers {
        let key = annotation(c, p, WG_KEY_ANNOTATION);
        let subnet = c.nodes[p].subnet.clone();
        wait_for(
            &format!(
                "{}'s peer {} on lichen-wg",
                c.nodes[k].name, c.nodes[p].name
            ),
            WAIT,
            || {
                c.wg_dump(k).is_some_and(|d| {
                    d.peer(&key)
                        .is_some_and(|peer| peer.allowed_ips.contains(&subnet))
                })
            },
        );
        wait_for(
            &format!("{}'s route to {subnet} over lichen-wg", c.nodes[k].name),
            WAIT,
            || c.route(k, &subnet).contains("dev lichen-wg"),
        );
    }
}

/// [`wait_programmed`] on every node for every other node.
fn wait_all_programmed(c: &Cluster) {
    let all: Vec<usize> = (0..c.nodes.len()).collect();
    for k in 0..c.nodes.len() {
        let others: Vec<usize> = all.iter().copied().filter(|&p| p != k).collect();
        wait_programmed(c, k, &others);
    }
}

/// Waits until `from` answers a ping to `ip` (a first handshake may take a retry).
fn wait_ping(from: &NamedNs, ip: &str, what: &str) {
    wait_for(what, WAIT, || from.ping(ip, 1).unwrap());
}

/// Waits until every pod pings every other pod once (every pair has shaken hands).
fn wait_pods_reach(pods: &[(NamedNs, String)]) {
    for (a, (pa, _)) in pods.iter().enumerate() {
        for (b, (_, ipb)) in pods.iter().enumerate() {
            if a != b {
                wait_ping(pa, ipb, &format!("pod {a} -> pod {b} ({ipb})"));
            }
        }
    }
}

/// The value of annotation `key` the harness gave node `k`.
fn annotation(c: &Cluster, k: usize, key: &str) -> String {
    c.nodes[k]
        .annotations
        .iter()
        .find(|(a, _)| a == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{} has no annotation {key}", c.nodes[k].name))
}

/// The counter `name` on node `k`'s `/metrics` (0 while nothing answers).
fn metric(c: &Cluster, k: usize, name: &str) -> u64 {
    let (_, body) = c.http(k, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}
