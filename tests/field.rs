//! Field failures on boards, for real in node namespaces: a leftover flannel.1, leftover
//! Calico routes, an iptables-legacy FORWARD DROP, tx checksum offload on the VXLAN device,
//! a peer whose InternalIP disappears; and /metrics on its own listen address.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::cluster::*;

const WAIT: Duration = Duration::from_secs(10);

/// Waits until node `k`'s `lichen status` contains every one of `needles`; returns it.
fn status_with(c: &Cluster, k: usize, needles: &[&str]) -> String {
    let mut last = String::new();
    wait_for(&format!("status with {needles:?}"), WAIT, || {
        last = c.status(k);
        needles.iter().all(|n| last.contains(n))
    });
    last
}

#[test]
fn a_leftover_flannel_device_is_named_with_its_cleanup() {
    testkit::require_root!();
    let mut c = Cluster::new("flan", 2, r#"{"Type":"vxlan"}"#);
    c.nodes[0]
        .ns
        .ip(&[
            "link",
            "add",
            "flannel.1",
            "type",
            "vxlan",
            "id",
            "1",
            "dstport",
            "8472",
            "dev",
            "eth0",
            "local",
            "198.51.100.11",
            "nolearning",
        ])
        .unwrap();
    c.start_agents();
    let s = status_with(
        &c,
        0,
        &["flannel.1 already exists", "`ip link delete flannel.1`"],
    );
    assert!(s.contains("ready:    no"), "{s}");
    assert!(c.agent_log(0).contains("flannel.1 already exists"));
    // The instruction works: after it, the agent programs the node by itself.
    c.nodes[0].ns.ip(&["link", "delete", "flannel.1"]).unwrap();
    wait_for("lichen.1 and its route", Duration::from_secs(15), || {
        c.route(0, "10.100.2.0/24").contains("lichen.1")
    });
    let s = status_with(&c, 0, &["ready:    yes"]);
    assert!(!s.contains("flannel.1"), "{s}");
}

#[test]
fn leftover_calico_routes_inside_the_cluster_network_are_named() {
    testkit::require_root!();
    let mut c = Cluster::new("calico", 2, r#"{"Type":"host-gw"}"#);
    let n = &c.nodes[0].ns;
    n.ip(&[
        "route",
        "add",
        "blackhole",
        "10.100.7.64/26",
        "proto",
        "bird",
    ])
    .unwrap();
    n.ip(&["route", "add", "10.100.2.0/26", "via", "198.51.100.12"])
        .unwrap();
    // A default route (to an unused address of the test's own underlay) covers the cluster
    // network but does not compete with Lichen's routes: not named.
    n.ip(&["route", "add", "default", "via", "198.51.100.254"])
        .unwrap();
    c.start_agents();
    let s = status_with(
        &c,
        0,
        &[
            "`ip route del blackhole 10.100.7.64/26`",
            "`ip route del 10.100.2.0/26 via 198.51.100.12 dev eth0`",
        ],
    );
    assert!(s.contains("a leftover of Calico"), "{s}");
    // Exactly those two: Lichen's own routes and the default route are not named.
    assert_eq!(s.matches("warning:").count(), 2, "{s}");
}

#[test]
fn an_iptables_legacy_forward_drop_is_reported_with_the_fix() {
    testkit::require_root!();
    let mut c = Cluster::new("legacy", 2, r#"{"Type":"host-gw"}"#);
    let legacy = |c: &Cluster, args: &[&str]| {
        let o = c.nodes[1].ns.exec("iptables-legacy", args).unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    legacy(&c, &["-P", "FORWARD", "DROP"]);
    c.start_agents();
    let s = status_with(&c, 1, &["FORWARD chain has the policy DROP"]);
    assert!(s.contains("`iptables-legacy -P FORWARD ACCEPT`"), "{s}");
    assert!(
        !c.status(0).contains("iptables-legacy"),
        "node1 has no legacy table"
    );
    // It really drops: a pod on node1 cannot reach node2's pod until the fix is applied.
    let (p1, _) = c.pod(0, "lp1");
    let (_p2, ip2) = c.pod(1, "lp2");
    assert!(
        !p1.ping(&ip2, 1).unwrap(),
        "FORWARD DROP lets the ping through?"
    );
    legacy(&c, &["-P", "FORWARD", "ACCEPT"]);
    assert!(p1.ping(&ip2, 3).unwrap(), "after the fix");
}

/// Whether tx checksum offload is on for `dev` in node `k`, by `ethtool -k`.
fn ethtool_tx(c: &Cluster, k: usize, dev: &str) -> Option<bool> {
    let o = c.nodes[k].ns.exec("ethtool", &["-k", dev]).ok()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with("tx-checksumming:"))?;
    Some(line.contains(": on"))
}

#[test]
fn tx_checksum_offload_is_turned_off_and_kept_off_across_re_creation() {
    testkit::require_root!();
    let mut c = Cluster::new("csum", 2, r#"{"Type":"vxlan","TxChecksumOffload":false}"#);
    c.start_agents();
    wait_for("lichen.1 with tx csum off", WAIT, || {
        ethtool_tx(&c, 0, "lichen.1") == Some(false)
    });
    assert_eq!(
        ethtool_tx(&c, 0, "eth0"),
        Some(true),
        "only the VXLAN device"
    );
    c.nodes[0].ns.ip(&["link", "del", "lichen.1"]).unwrap();
    wait_for("re-created, tx csum off again", WAIT, || {
        c.route(0, "10.100.2.0/24").contains("lichen.1")
            && ethtool_tx(&c, 0, "lichen.1") == Some(false)
    });
    let pods = pods_everywhere(&c);
    full_mesh(&c, &pods);
}

#[test]
fn a_peer_losing_its_address_keeps_its_routes_until_deleted() {
    testkit::require_root!();
    let mut c = Cluster::new("stale", 2, r#"{"Type":"host-gw"}"#);
    c.start_agents();
    let (p1, _) = c.pod(0, "sp1");
    let (_p2, ip2) = c.pod(1, "sp2");
    assert!(p1.ping(&ip2, 3).unwrap());
    let no_address = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node2"},"spec":{"podCIDR":"10.100.2.0/24","podCIDRs":["10.100.2.0/24"]},"status":{"addresses":[]}}"#;
    c.put_object("node2.json", no_address);
    let s = status_with(&c, 0, &["stale: address gone since"]);
    assert!(s.contains("198.51.100.12"), "{s}");
    assert!(c.route(0, "10.100.2.0/24").contains("via 198.51.100.12"));
    assert!(
        p1.ping(&ip2, 3).unwrap(),
        "traffic flows while the address is gone"
    );
    c.publish(1);
    wait_for("no longer stale", WAIT, || !c.status(0).contains("stale:"));
    c.unpublish(1);
    wait_for("route removed with the Node", WAIT, || {
        c.route(0, "10.100.2.0/24").is_empty()
    });
}

/// GET `path` on `addr` from node `k`'s namespace: the whole response (head and body).
fn get(c: &Cluster, k: usize, addr: &str, path: &str) -> String {
    let (ns, addr, path) = (c.nodes[k].ns.path.clone(), addr.to_owned(), path.to_owned());
    std::thread::spawn(move || {
        common::probe::enter(&ns);
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            return String::new();
        };
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .join()
    .unwrap()
}

/// Checks the Prometheus text format: HELP and TYPE before each family's samples, every
/// sample `name{labels} value` with a float value, histogram buckets cumulative and ending in
/// `+Inf` = `_count`. Returns the samples as (name with labels, value).
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut helped: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.push((name.to_owned(), kind.to_owned()));
            continue;
        }
        let (name, series, value) = parse_sample(line);
        let family = typed.last().map(|(n, _)| n.as_str()).unwrap_or("");
        assert!(
            name == family
                || name
                    .strip_prefix(family)
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s)),
            "sample {name} outside its family {family}"
        );
        assert!(
            helped.last().map(String::as_str) == Some(family),
            "no HELP for {family}"
        );
        samples.push((series.to_owned(), value));
    }
    for (name, kind) in typed.iter().filter(|(_, k)| k == "histogram") {
        assert_histogram(name, kind, &samples);
    }
    samples
}

/// A sample line `name{labels} value`: (name, name with labels, value), its name and labels
/// well formed.
fn parse_sample(line: &str) -> (&str, &str, f64) {
    assert!(
        !line.starts_with('#') && !line.is_empty(),
        "stray line {line:?}"
    );
    let (series, value) = line.rsplit_once(' ').unwrap();
    let value: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("value in {line:?}"));
    let name = series.split('{').next().unwrap();
    assert!(
        name.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_'),
        "{line}"
    );
    if let Some(labels) = series.strip_prefix(name) {
        if !labels.is_empty() {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                assert!(!k.is_empty() && !v.contains('\n'), "{line}");
            }
        }
    }
    (name, series, value)
}

/// Histogram `name`'s buckets are there, cumulative, and end in `+Inf` = `_count`.
fn assert_histogram(name: &str, kind: &str, samples: &[(String, f64)]) {
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(s, _)| s.starts_with(&format!("{name}_bucket{{")))
        .map(|(_, v)| *v)
        .collect();
    assert!(!buckets.is_empty(), "{name} has buckets ({kind})");
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "cumulative: {buckets:?}"
    );
    let inf = samples
        .iter()
        .find(|(s, _)| *s == format!("{name}_bucket{{le=\"+Inf\"}}"))
        .expect("+Inf bucket")
        .1;
    let count = samples
        .iter()
        .find(|(s, _)| *s == format!("{name}_count"))
        .expect("_count")
        .1;
    assert_eq!(inf, count);
    assert_eq!(Some(&inf), buckets.last());
}

#[test]
fn metrics_on_their_own_listen_address_in_the_text_format() {
    testkit::require_root!();
    let mut c = Cluster::new("metrics", 2, r#"{"Type":"host-gw"}"#);
    c.agent_args = vec!["--metrics-listen".into(), "198.51.100.11:9471".into()];
    c.start_agent(0);
    let mut response = String::new();
    wait_for("metrics after a pass", WAIT, || {
        response = get(&c, 0, "198.51.100.11:9471", "/metrics");
        response.contains("lichen_reconcile_duration_seconds_count 1")
            || response.contains("lichen_reconcile_duration_seconds_count 2")
    });
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    let samples = parse_exposition(body);
    let value = |name: &str| {
        samples
            .iter()
            .find(|(s, _)| s.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .1
    };
    let info = samples
        .iter()
        .find(|(s, _)| s.starts_with("lichen_build_info{"))
        .unwrap();
    assert!(info
        .0
        .contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))));
    assert!(info.0.contains("commit=\"") && info.0.contains("target=\""));
    assert!(value("lichen_resident_memory_bytes") > 100_000.0);
    assert_eq!(value("lichen_peers{state=\"programmed\"}"), 1.0);
    assert_eq!(value("lichen_policy_enabled"), 0.0);
    // Only /metrics there; /status and /policy/explain stay on localhost.
    for path in ["/status", "/policy/explain", "/readyz"] {
        let r = get(&c, 0, "198.51.100.11:9471", path);
        assert!(r.starts_with("HTTP/1.1 404"), "{path}: {r}");
    }
    let (code, status) = c.http(0, "/status");
    assert_eq!(code, 200, "{status}");
    let local = get(&c, 0, lichen::agent::http::DEFAULT_LISTEN, "/metrics");
    assert!(local.contains("lichen_build_info{"), "still on --listen");
}
