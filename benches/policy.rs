//! NetworkPolicy benchmark, in namespaces made here (run as root under `unshare -n`, see
//! scripts/bench.sh). Prints figures; asserts nothing about time.
//! - enforcement: 100 policies over 1,000 pods (20 local, the rest synthetic pods of other
//!   nodes); from a cluster-dir change (a file renamed into place) to the change being in
//!   the kernel (polled with `nft list set`), for a pod label change (element batch) and a
//!   policy edit (chain flushed and refilled, new sets, in place); the ruleset's size;
//! - pod-to-pod TCP throughput (iperf3) and new-connection rate across two nodes (host-gw),
//!   with no policy and with 100 policies selecting the server pod ([`dataplane`]);
//! - change -> enforced under a seeded policy churn, median, p90 and worst, host-gw and
//!   vxlan, quiet and under kernel-event noise ([`churn`]; `BENCH_ONLY=churn` runs it
//!   alone, `BENCH_ONLY=enforcement` the first part alone).

#[path = "policy/churn.rs"]
mod churn;
mod common;
#[path = "policy/dataplane.rs"]
mod dataplane;
use common::*;

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use netbed::NamedNs;

fn main() {
    common::require_root();
    println!("NetworkPolicy benchmark (binary: {})", bin().display());
    // BENCH_ONLY=churn or enforcement: that part alone
    match std::env::var("BENCH_ONLY").as_deref() {
        Ok("churn") => return churn::run(),
        Ok("enforcement") => return enforcement(),
        _ => {}
    }
    if std::env::var_os("BENCH_SKIP_ENFORCEMENT").is_none() {
        enforcement();
        churn::run();
    }
    dataplane::run();
}

fn pod_json(ns: &str, name: &str, node: &str, ip: &str, app: &str) -> String {
    format!(
        r#"{{"kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"app":"{app}"}}}},"spec":{{"nodeName":"{node}","containers":[{{"name":"c","ports":[{{"name":"http","containerPort":8080}}]}}]}},"status":{{"phase":"Running","podIP":"{ip}"}}}}"#
    )
}

/// Policy `i` of namespace `ns`: pods `app=app<i>` accept `app=app<i+1>` (any namespace
/// labelled team=t) on the named port and on 9000-9100; the last one also `app=client`.
fn policy_json(ns: &str, i: usize, server_app: &str, client_app: &str) -> String {
    format!(
        r#"{{"kind":"NetworkPolicy","metadata":{{"name":"p{i}","namespace":"{ns}"}},"spec":{{"podSelector":{{"matchLabels":{{"app":"{server_app}"}}}},"ingress":[{{"from":[{{"namespaceSelector":{{"matchLabels":{{"team":"t"}}}},"podSelector":{{"matchLabels":{{"app":"{client_app}"}}}}}}],"ports":[{{"port":"http"}},{{"port":9000,"endPort":9100}}]}}]}}}}"#
    )
}

fn list(items: &[String]) -> String {
    format!(r#"{{"kind":"List","items":[{}]}}"#, items.join(","))
}

/// Two node namespaces, n1 and n2 (198.51.100.11 and .12), on a switch namespace, and a cluster
/// dir whose `objects/` holds their Nodes (pod subnets 10.128.<i>.0/24). Returns (switch, dir,
/// nodes); the switch must live as long as the nodes talk.
fn two_nodes(tag: &str) -> (NamedNs, std::path::PathBuf, Vec<NamedNs>) {
    let sw = NamedNs::create(&netbed::unique_name(tag, "sw")).unwrap();
    sw.ip(&["link", "add", "sw0", "type", "bridge"]).unwrap();
    sw.ip(&["link", "set", "sw0", "up"]).unwrap();
    let dir = std::env::temp_dir().join(format!("{}-dir", sw.name));
    let objs = dir.join("objects");
    fs::create_dir_all(&objs).unwrap();
    let mut nodes = Vec::new();
    for i in 1..=2 {
        let ns = NamedNs::create(&netbed::unique_name(tag, &format!("n{i}"))).unwrap();
        let ip = format!("198.51.100.{}", 10 + i);
        netbed::veth(&ns, "eth0", &format!("{ip}/24"), &sw, &format!("p{i}"), "").unwrap();
        sw.ip(&["link", "set", &format!("p{i}"), "master", "sw0"])
            .unwrap();
        put(
            &objs,
            &format!("n{i}.json"),
            &node_json(&format!("n{i}"), &format!("10.128.{i}.0/24"), &ip),
        );
        nodes.push(ns);
    }
    (sw, dir, nodes)
}

fn put(dir: &Path, file: &str, json: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    fs::write(&tmp, json).unwrap();
    fs::rename(&tmp, dir.join(file)).unwrap();
}

fn start_agent(ns: &NamedNs, dir: &Path, node: &str, policy: bool) -> Agent {
    start_agent_with(ns, dir, node, policy, r#"{"Type":"host-gw"}"#)
}

/// An agent with backend `backend` (JSON, e.g. `{"Type":"vxlan"}`).
fn start_agent_with(ns: &NamedNs, dir: &Path, node: &str, policy: bool, backend: &str) -> Agent {
    fs::write(
        dir.join("net-conf.json"),
        format!(r#"{{"Network":"10.128.0.0/9","Backend":{backend}}}"#),
    )
    .unwrap();
    let mut c = testkit::binary_command(ns, bin()).unwrap();
    c.args(["agent", "--node-name", node, "--net-conf"])
        .arg(dir.join("net-conf.json"))
        .arg("--cluster-dir")
        .arg(dir.join("objects"))
        .arg("--subnet-file")
        .arg(dir.join(format!("{node}.env")))
        .env("LICHEN_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join(format!("{node}.log"))).unwrap());
    if policy {
        c.arg("--network-policy");
    }
    Agent(c.spawn().unwrap())
}

fn nft(ns: &NamedNs, args: &[&str]) -> String {
    String::from_utf8_lossy(&ns.exec("nft", args).unwrap().stdout).into_owned()
}

/// 10 namespaces × 100 pods; pod j of namespace k is app<j % 10 + 10k>; 20 of them on node
/// "self", the rest on "other". 10 policies per namespace.
fn objects(extra_label: Option<(usize, &str)>) -> (String, String) {
    let mut pods = Vec::new();
    for k in 0..10 {
        for j in 0..100 {
            let n = k * 100 + j;
            let node = if n % 50 == 0 { "self" } else { "other" };
            let ip = if node == "self" {
                format!("10.128.0.{}", 2 + n / 50)
            } else {
                format!("10.129.{}.{}", n / 250, n % 250 + 2)
            };
            let app = match extra_label {
                Some((m, label)) if m == n => label.to_owned(),
                _ => format!("app{}", j % 10 + 10 * k),
            };
            pods.push(pod_json(
                &format!("ns{k}"),
                &format!("pod{n}"),
                node,
                &ip,
                &app,
            ));
        }
    }
    let mut policies = Vec::new();
    for k in 0..10 {
        for i in 0..10 {
            let a = 10 * k + i;
            policies.push(policy_json(
                &format!("ns{k}"),
                a,
                &format!("app{a}"),
                &format!("app{}", a + 1),
            ));
        }
    }
    (list(&pods), list(&policies))
}

fn enforcement() {
    let ns = NamedNs::create(&netbed::unique_name("lbp", "node")).unwrap();
    let far = NamedNs::create(&netbed::unique_name("lbp", "far")).unwrap();
    netbed::veth(&ns, "eth0", "100.64.0.1/16", &far, "eth0", "100.64.0.2/16").unwrap();
    let dir = std::env::temp_dir().join(format!("{}-dir", ns.name));
    let objs = dir.join("objects");
    fs::create_dir_all(&objs).unwrap();
    put_nodes_and_namespaces(&objs);
    let _agent = start_agent(&ns, &dir, "self", true);
    assert!(wait(Duration::from_secs(10), || dir
        .join("self.env")
        .exists()));

    let (pods, policies) = objects(None);
    let t = Instant::now();
    put(&objs, "pods.json", &pods);
    put(&objs, "policies.json", &policies);
    // pod0 (local, app0) is selected by ns0/p0, whose peers are app1 pods
    let peers = "ingress/ns0/p0/0/peers.v4";
    let has = |ip: &str| {
        nft(&ns, &["list", "set", "inet", "lichen-policy", peers])
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .any(|w| w == ip)
    };
    assert!(wait(Duration::from_secs(30), || has("10.129.0.3")));
    println!(
        "100 policies over 1,000 pods: first ruleset in the kernel after {:.1} ms (files written to set visible)",
        t.elapsed().as_secs_f64() * 1e3
    );
    print_ruleset_size(&ns);

    let (label, edit) = label_change_and_policy_edit(&objs, &policies, &has);
    println!(
        "  pod label change enforced after {:.1} ms; policy edit after {:.1} ms (change to visible in the kernel, incl. ~5 ms per nft poll)",
        label.as_secs_f64() * 1e3,
        edit.as_secs_f64() * 1e3
    );
    let log = fs::read_to_string(dir.join("self.log")).unwrap_or_default();
    for l in log.lines().filter(|l| l.contains("policy:")) {
        println!("  agent: {}", l.split("] ").nth(1).unwrap_or(l));
    }
    let _ = fs::remove_dir_all(&dir);
}

/// The cluster dir's Nodes (this node "self" and "other", which holds the synthetic pods) and
/// 10 namespaces labelled team=t.
fn put_nodes_and_namespaces(objs: &Path) {
    put(
        objs,
        "self.json",
        &node_json("self", "10.128.0.0/24", "100.64.0.1"),
    );
    put(
        objs,
        "other.json",
        &node_json("other", "10.129.0.0/16", "100.64.0.2"),
    );
    let mut namespaces = Vec::new();
    for k in 0..10 {
        namespaces.push(format!(
            r#"{{"kind":"Namespace","metadata":{{"name":"ns{k}","labels":{{"team":"t"}}}}}}"#
        ));
    }
    put(objs, "namespaces.json", &list(&namespaces));
}

/// The ruleset's size, as `lichen status` in `ns` gives it.
fn print_ruleset_size(ns: &NamedNs) {
    let status = String::from_utf8_lossy(
        &testkit::binary_command(ns, bin())
            .unwrap()
            .arg("status")
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    for l in status.lines().filter(|l| l.starts_with("policy:")) {
        println!("  size: {}", l.trim_start_matches("policy:").trim());
    }
}

/// From a change in the cluster dir to `has` seeing it in the peers set of ns0/p0: (a pod
/// label change, a policy edit).
fn label_change_and_policy_edit(
    objs: &Path,
    policies: &str,
    has: &dyn Fn(&str) -> bool,
) -> (Duration, Duration) {
    // A pod label change: pod 902 (other node) becomes app1, a peer of ns0/p0.
    let (pods2, _) = objects(Some((902, "app1")));
    let t = Instant::now();
    put(objs, "pods.json", &pods2);
    assert!(wait(Duration::from_secs(10), || has("10.129.3.154")));
    let label = t.elapsed();
    // A policy edit: ns0/p0 gets a first rule admitting app5 pods (pod5 is 10.129.0.7): new
    // chain rules and sets, edited in place (one batch).
    let edited = policies.replacen(
        r#""ingress":[{"#,
        r#""ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"app5"}}}]},{"#,
        1,
    );
    let t = Instant::now();
    put(objs, "policies.json", &edited);
    assert!(wait(Duration::from_secs(10), || has("10.129.0.7")));
    (label, t.elapsed())
}

fn enter(ns: &NamedNs) {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(&ns.path).unwrap();
    assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
}
