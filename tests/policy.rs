//! NetworkPolicy end to end: two nodes (both backends; pods attached in bridge and in routed
//! mode), agents with `--network-policy`, pods attached by the plugin and published as Pod objects, servers on TCP 8080 and 9090 and UDP
//! 5353 in every pod, and a reachability matrix probed after each change (allowed and denied
//! cells both checked; a change must show within a few seconds, with nothing restarted).
//!
//!   node1: a/web (app=web, ports http=8080/TCP, dns=5353/UDP), a/c1 (app=client)
//!   node2: a/c2 (app=client), b/c3 (app=client; namespace b has team=b)

mod common;

use std::time::Duration;

use common::cluster::*;
use common::probe::*;
use common::reach::{expect_reach, Cell};
use common::*;

const SETTLE: Duration = Duration::from_secs(5);

struct Pods {
    web: (NamedNs, String),
    c1: (NamedNs, String),
    c2: (NamedNs, String),
    c3: (NamedNs, String),
}

fn pod_json(ns: &str, name: &str, node: &str, ip: &str, app: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"app":"{app}"}}}},
        "spec":{{"nodeName":"{node}","containers":[{{"name":"c","ports":[{{"name":"http","containerPort":8080}},{{"name":"dns","containerPort":5353,"protocol":"UDP"}}]}}]}},
        "status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}]}}}}"#
    )
}

fn namespace_json(name: &str, team: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}","labels":{{"team":"{team}","kubernetes.io/metadata.name":"{name}"}}}}}}"#
    )
}

fn policy_json(ns: &str, name: &str, spec: &str) -> String {
    format!(
        r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"{name}","namespace":"{ns}"}},"spec":{spec}}}"#
    )
}

/// Probes every cell until all match, or fails after [`SETTLE`] (`common::reach`).
#[track_caller]
fn expect(case: &str, cells: &[Cell]) {
    expect_reach(case, cells, SETTLE);
}

/// The two-node cluster with its agents, namespaces, pods and servers, and the listing of the
/// foreign table taken before the agents started.
struct Bed {
    c: Cluster,
    p: Pods,
    other_before: String,
}

impl Bed {
    /// The bed with pods attached in the plugin's `mode` ("bridge" or "routed").
    fn new(backend: &str, tag: &str, mode: &'static str) -> Bed {
        let mut c = Cluster::new(tag, 2, backend);
        c.pod_mode = mode;
        c.agent_args = vec!["--network-policy".into()];
        // Someone else's table: it must come out unchanged.
        let node1 = &c.nodes[0].ns;
        node1.exec("nft", &["add", "table", "ip", "other"]).unwrap();
        node1
            .exec(
                "nft",
                &["add chain ip other in { type filter hook input priority 0; policy accept; }"],
            )
            .unwrap();
        let other_before = c.nft(0, &["list", "table", "ip", "other"]);
        assert!(other_before.contains("hook input"), "{other_before}");
        c.start_agents();

        c.put_object("ns-a.json", &namespace_json("a", "a"));
        c.put_object("ns-b.json", &namespace_json("b", "b"));
        let p = Pods {
            web: c.pod(0, "web"),
            c1: c.pod(0, "c1"),
            c2: c.pod(1, "c2"),
            c3: c.pod(1, "c3"),
        };
        for (ns, name, node, pod, app) in [
            ("a", "web", "node1", &p.web, "web"),
            ("a", "c1", "node1", &p.c1, "client"),
            ("a", "c2", "node2", &p.c2, "client"),
            ("b", "c3", "node2", &p.c3, "client"),
        ] {
            serve(&pod.0, &[8080, 9090], &[5353]);
            c.put_object(
                &format!("pod-{name}.json"),
                &pod_json(ns, name, node, &pod.1, app),
            );
        }
        Bed { c, p, other_before }
    }

    fn web(&self) -> &str {
        &self.p.web.1
    }

    /// Every client to web on every port (`v`, client by client: 8080, 9090, 5353/UDP), and
    /// web to c2 on 8080 (`egress`).
    fn all(&self, v: [bool; 9], egress: bool) -> Vec<Cell<'_>> {
        use Proto::*;
        let p = &self.p;
        let mut cells = Vec::new();
        for (i, from) in [&p.c1.0.path, &p.c2.0.path, &p.c3.0.path]
            .into_iter()
            .enumerate()
        {
            for (j, (port, proto)) in [(8080, Tcp), (9090, Tcp), (5353, Udp)]
                .into_iter()
                .enumerate()
            {
                cells.push((from.as_path(), self.web(), port, proto, v[i * 3 + j]));
            }
        }
        cells.push((p.web.0.path.as_path(), &p.c2.1[..], 8080, Tcp, egress));
        cells
    }

    fn web_policy(&self, spec: &str) {
        self.c
            .put_object("np-web.json", &policy_json("a", "web", spec))
    }

    #[track_caller]
    fn assert_status(&self, wants: &[&str]) {
        let status = self.c.status(0);
        for want in wants {
            assert!(status.contains(want), "{status}");
        }
    }

    /// `lichen policy explain` for c1 to web on 8080/tcp: its exit code and that its output
    /// has every one of `wants`.
    #[track_caller]
    fn assert_explain(&self, code: i32, wants: &[&str]) {
        let (out, got) = self.c.lichen(
            0,
            &["policy", "explain", &self.p.c1.1, self.web(), "8080/tcp"],
        );
        assert_eq!(got, code, "{out}");
        assert!(wants.iter().all(|w| out.contains(w)), "{out}");
    }
}

fn no_policy(b: &Bed) {
    expect("no policy: everything allowed", &b.all([true; 9], true));
    wait_for("node1's agent to see its pods", SETTLE, || {
        b.c.status(0).contains("local pods: 2")
    });
    b.assert_status(&[
        "policy:   on",
        "a/web: ingress not isolated; egress not isolated",
    ]);
    if b.c.pod_mode == "bridge" {
        b.assert_status(&["same-node traffic: filtered (br_netfilter)"]);
    }
}

fn ingress_deny_and_allow_all(b: &Bed) {
    b.web_policy(r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[]}"#);
    let mut cells = b.all([false; 9], true);
    cells.push((
        b.c.nodes[0].ns.path.as_path(),
        b.web(),
        8080,
        Proto::Tcp,
        true,
    ));
    expect("ingress [] denies all but node traffic and egress", &cells);
    b.assert_status(&["a/web: ingress isolated by a/web; egress not isolated"]);
    b.assert_explain(1, &["DENIED", "default deny (ingress isolated by a/web)"]);

    b.web_policy(r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{}]}"#);
    expect("ingress [{}] allows all", &b.all([true; 9], true));
    b.assert_explain(0, &["ALLOWED", "policy a/web ingress rule 0"]);
}

/// Pod and namespace selectors, and the rules following label changes of either.
fn selectors_follow_labels(b: &Bed) {
    let c = &b.c;
    let c3 = &b.p.c3.1;
    b.web_policy(
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}],"ports":[{"port":"http"}]}]}"#,
    );
    #[rustfmt::skip]
    let named = b.all([true, false, false, true, false, false, false, false, false], true);
    expect("same-namespace clients on the named port", &named);

    b.web_policy(
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"b"}},"podSelector":{"matchLabels":{"app":"client"}}}],"ports":[{"port":8000,"endPort":8100}]}]}"#,
    );
    #[rustfmt::skip]
    let and_peer = b.all([false, false, false, false, false, false, true, false, false], true);
    expect("namespace AND pod selector, endPort range", &and_peer);
    c.put_object("ns-b.json", &namespace_json("b", "x"));
    expect("namespace label change", &b.all([false; 9], true));
    c.put_object("ns-b.json", &namespace_json("b", "b"));
    expect("namespace label back", &and_peer);
    c.put_object("pod-c3.json", &pod_json("b", "c3", "node2", c3, "other"));
    expect("pod label change", &b.all([false; 9], true));
    c.put_object("pod-c3.json", &pod_json("b", "c3", "node2", c3, "client"));
    expect("pod label back", &and_peer);
}

fn ip_block_and_egress(b: &Bed) {
    use Proto::*;
    b.web_policy(
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.100.0.0/16","except":["10.100.2.0/24"]}}],"ports":[{"port":5353,"protocol":"UDP"}]}]}"#,
    );
    #[rustfmt::skip]
    let block = b.all([false, false, true, false, false, false, false, false, false], true);
    expect("ipBlock with except, UDP", &block);

    // Egress, enforced on web's node: to clients of its namespace on 8080 only.
    b.web_policy(
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Egress"],"egress":[{"to":[{"podSelector":{"matchLabels":{"app":"client"}}}],"ports":[{"port":8080}]}]}"#,
    );
    let (web_ns, p) = (b.p.web.0.path.as_path(), &b.p);
    let mut cells = b.all([true; 9], true);
    cells.extend([
        (web_ns, &p.c2.1[..], 9090, Tcp, false),
        (web_ns, &p.c1.1[..], 8080, Tcp, true),
        (web_ns, &p.c1.1[..], 9090, Tcp, false),
        (web_ns, &p.c3.1[..], 8080, Tcp, false),
    ]);
    expect(
        "egress isolation; replies of ingress connections pass",
        &cells,
    );
}

fn deleted_policy_allows_all_and_other_table_is_untouched(b: &Bed) {
    b.c.remove_object("np-web.json");
    expect(
        "policy deleted: everything allowed",
        &b.all([true; 9], true),
    );

    // Only Lichen's own tables, and the other table is untouched (the listing is filtered to
    // the tables of Lichen and of this test: the rest of the namespace is not ours to judge).
    let tables = b.c.nft(0, &["list", "tables"]);
    let mut tables: Vec<&str> = tables
        .lines()
        .filter(|t| t.contains("lichen") || *t == "table ip other")
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            "table inet lichen",
            "table inet lichen-policy",
            "table ip other"
        ]
    );
    assert_eq!(
        b.c.nft(0, &["list", "table", "ip", "other"]),
        b.other_before
    );
}

/// Turning policy off removes the table.
fn policy_off_removes_the_table(b: &mut Bed) {
    b.web_policy(r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[]}"#);
    expect("denied again", &b.all([false; 9], true));
    b.c.kill_agent(0);
    b.c.agent_args.clear();
    b.c.start_agent(0);
    wait_for("the policy table removed", SETTLE, || {
        !b.c.nft(0, &["list", "tables"]).contains("lichen-policy")
    });
    expect("policy off: everything allowed", &b.all([true; 9], true));
    assert!(b.c.status(0).contains("policy:   off"));
}

/// One cluster per backend and mode; the steps run in order, each starting from where the
/// last left off. In routed mode same-node traffic (c1 to web) is routed through the forward
/// hook, with no bridge for br_netfilter to hand over.
fn scenario(backend: &str, tag: &str, mode: &'static str) {
    let mut b = Bed::new(backend, tag, mode);
    if mode == "routed" {
        assert!(!links(&b.c.nodes[0].ns).contains(&"lichen0".to_string()));
    }
    no_policy(&b);
    ingress_deny_and_allow_all(&b);
    selectors_follow_labels(&b);
    ip_block_and_egress(&b);
    deleted_policy_allows_all_and_other_table_is_untouched(&b);
    policy_off_removes_the_table(&mut b);
}

#[test]
fn network_policy_host_gw() {
    testkit::require_root!();
    scenario(r#"{"Type":"host-gw"}"#, "polhg", "bridge");
}

#[test]
fn network_policy_host_gw_routed() {
    testkit::require_root!();
    scenario(r#"{"Type":"host-gw"}"#, "polhgr", "routed");
}

#[test]
fn network_policy_vxlan_routed() {
    testkit::require_root!();
    scenario(r#"{"Type":"vxlan"}"#, "polvxr", "routed");
}

#[test]
fn network_policy_vxlan() {
    testkit::require_root!();
    scenario(r#"{"Type":"vxlan"}"#, "polvx", "bridge");
}
