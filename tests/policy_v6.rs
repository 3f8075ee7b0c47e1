//! NetworkPolicy over IPv6 end to end (issue 15): a dual-stack cluster of two nodes (both
//! backends, IPv4 listed first), agents with `--network-policy`, pods attached by the real
//! plugin with an address of each family and published as Pods whose `status.podIPs` carry
//! both, servers on TCP 8080 and UDP 5353 of both families in every pod. After each policy
//! change a matrix of real probes (every client to web, web to every client; TCP and UDP;
//! IPv4 and IPv6; same node and cross node) must settle to the expected verdicts, allowed and
//! denied cells alike:
//! 1. no policy: everything passes in both families;
//! 2. a podSelector peer: the selected clients pass over IPv4 and IPv6, the others are dropped
//!    in both (the selector's sets hold the IPv6 pod addresses); then a namespace AND pod
//!    selector on a named port: the clients pass on that port only, in both families;
//! 3. an IPv6 ipBlock with `except`: node2's IPv6 pod subnet but x2's /128 passes over IPv6
//!    only; x2 and every IPv4 connection are dropped (an IPv6 block allows no IPv4);
//! 4. one rule with ipBlocks of both families: each family passes by its own CIDR;
//! 5. egress to an IPv6 ipBlock with `except`, enforced on web's node;
//!
//! and `lichen policy explain` for IPv6 (and IPv4) pairs agrees with the probes, allowed and
//! denied. Finally, the policy deleted, everything passes again.
//!
//!   node1: a/web (app=web), a/c1 (app=client), a/x1 (app=other)
//!   node2: a/c2 (app=client), a/x2 (app=other)

mod common;

use std::time::Duration;

use common::cluster::*;
use common::probe::{serve_dual, Proto};
use common::reach::{expect_reach, Cell};
use common::*;

/// How long a change may take to show in every cell (a deadline, not a measurement).
const SETTLE: Duration = Duration::from_secs(10);
const TCP_PORT: u16 = 8080;
const UDP_PORT: u16 = 5353;

/// A pod of the bed: its name, namespace and one address per family.
struct Member {
    name: &'static str,
    ns: NamedNs,
    v4: String,
    v6: String,
}

impl Member {
    fn ip(&self, v6: bool) -> &str {
        if v6 {
            &self.v6
        } else {
            &self.v4
        }
    }
}

fn pod_json(name: &str, node: &str, app: &str, ips: &[String]) -> String {
    let pod_ips: Vec<String> = ips.iter().map(|ip| format!(r#"{{"ip":"{ip}"}}"#)).collect();
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"a","labels":{{"app":"{app}"}}}},
        "spec":{{"nodeName":"{node}","containers":[{{"name":"c","ports":[{{"name":"http","containerPort":{TCP_PORT}}},{{"name":"dns","containerPort":{UDP_PORT},"protocol":"UDP"}}]}}]}},
        "status":{{"phase":"Running","podIP":"{}","podIPs":[{}]}}}}"#,
        ips[0],
        pod_ips.join(",")
    )
}

const NAMESPACE_A: &str = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"kubernetes.io/metadata.name":"a"}}}"#;

fn policy_json(spec: &str) -> String {
    format!(
        r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"web","namespace":"a"}},"spec":{spec}}}"#
    )
}

/// The IPv6 entry of `list` (addresses or subnets).
fn v6_of(list: &[String]) -> &str {
    list.iter()
        .find(|a| a.contains(':'))
        .expect("an IPv6 entry")
}

/// The IPv4 entry of `list` (addresses or subnets).
fn v4_of(list: &[String]) -> &str {
    list.iter()
        .find(|a| !a.contains(':'))
        .expect("an IPv4 entry")
}

/// The dual-stack cluster with its agents, pods and servers.
struct Bed {
    c: Cluster,
    web: Member,
    clients: Vec<Member>,
}

impl Bed {
    /// The bed with pods attached in the plugin's `mode` ("bridge" or "routed").
    fn new(backend: &str, tag: &str, mode: &'static str) -> Bed {
        let mut c = Cluster::with_stack(tag, 2, backend, Stack::Dual);
        c.pod_mode = mode;
        c.agent_args = vec!["--network-policy".into()];
        c.start_agents();
        c.put_object("ns-a.json", NAMESPACE_A);
        let member = |k: usize, name: &'static str, app: &str| {
            let p = c.pod_attached(k, name);
            assert_eq!(
                p.ips.len(),
                2,
                "{name}: one address per family: {:?}",
                p.ips
            );
            serve_dual(&p.ns, &[TCP_PORT], &[UDP_PORT]);
            let node = &c.nodes[k].name;
            c.put_object(
                &format!("pod-{name}.json"),
                &pod_json(name, node, app, &p.ips),
            );
            Member {
                name,
                v4: v4_of(&p.ips).to_owned(),
                v6: v6_of(&p.ips).to_owned(),
                ns: p.ns,
            }
        };
        let web = member(0, "web", "web");
        let clients = vec![
            member(0, "c1", "client"),
            member(0, "x1", "other"),
            member(1, "c2", "client"),
            member(1, "x2", "other"),
        ];
        Bed { c, web, clients }
    }

    fn client(&self, name: &str) -> &Member {
        self.clients.iter().find(|m| m.name == name).unwrap()
    }

    /// The matrix: every client to web on TCP and UDP in both families, allowed where
    /// `ingress(client, v6, protocol)`; web to every client on TCP in both families, allowed where
    /// `egress(client, v6)`.
    fn cells(
        &self,
        ingress: impl Fn(&str, bool, Proto) -> bool,
        egress: impl Fn(&str, bool) -> bool,
    ) -> Vec<Cell<'_>> {
        let mut cells = Vec::new();
        for m in &self.clients {
            for v6 in [false, true] {
                let to = self.web.ip(v6);
                for (port, proto) in [(TCP_PORT, Proto::Tcp), (UDP_PORT, Proto::Udp)] {
                    let want = ingress(m.name, v6, proto);
                    cells.push((m.ns.path.as_path(), to, port, proto, want));
                }
                let from = self.web.ns.path.as_path();
                cells.push((from, m.ip(v6), TCP_PORT, Proto::Tcp, egress(m.name, v6)));
            }
        }
        cells
    }

    #[track_caller]
    fn expect(&self, case: &str, ingress: impl Fn(&str, bool, Proto) -> bool) {
        expect_reach(case, &self.cells(ingress, |_, _| true), SETTLE);
    }

    fn web_policy(&self, spec: &str) {
        self.c.put_object("np-web.json", &policy_json(spec));
    }

    /// `lichen policy explain SRC DST 8080/tcp` on node1 (web's node), see
    /// [`Bed::assert_explain_on`].
    #[track_caller]
    fn assert_explain(&self, src: &str, dst: &str, allowed: bool, wants: &[&str]) {
        self.assert_explain_on(src, dst, &format!("{TCP_PORT}/tcp"), allowed, wants)
    }

    /// `lichen policy explain SRC DST PORT` (e.g. `5353/udp`) on node1: its exit code (0
    /// allowed, 1 denied), its first line's verdict, and every one of `wants` in its output.
    /// Asked after the probes settled, so the agent has applied the ruleset; polled all the
    /// same, as the agent publishes it just after the kernel has it.
    #[track_caller]
    fn assert_explain_on(&self, src: &str, dst: &str, port: &str, allowed: bool, wants: &[&str]) {
        let verdict = if allowed { "ALLOWED" } else { "DENIED" };
        let first = format!("{src} -> {dst} {}: {verdict}", port.to_uppercase());
        let mut last = String::new();
        let agrees = testkit::poll(SETTLE, Duration::from_millis(100), || {
            let (out, code) = self.c.lichen(0, &["policy", "explain", src, dst, port]);
            last = format!("exit {code}:\n{out}");
            code == if allowed { 0 } else { 1 }
                && out.lines().next() == Some(first.as_str())
                && wants.iter().all(|w| out.contains(w))
        });
        assert!(
            agrees,
            "explain {src} -> {dst}: want {verdict}, {wants:?}; {last}"
        );
    }
}

fn no_policy(b: &Bed) {
    b.expect(
        "no policy: everything passes in both families",
        |_, _, _| true,
    );
    wait_for("node1's agent to see its pods", SETTLE, || {
        b.c.status(0).contains("local pods: 3")
    });
    let status = b.c.status(0);
    assert!(status.contains("policy:   on"), "{status}");
}

/// Case 2: the podSelector's sets hold both addresses of every selected pod.
fn pod_selector_in_both_families(b: &Bed) {
    b.web_policy(
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}]}]}"#,
    );
    b.expect(
        "podSelector: clients in both families, others in neither",
        |n, _, _| n.starts_with('c'),
    );
    let status = b.c.status(0);
    assert!(
        status.contains("a/web: ingress isolated by a/web; egress not isolated"),
        "{status}"
    );
    let (c2, x2, web) = (b.client("c2"), b.client("x2"), &b.web);
    let rule = "ingress at the destination: allowed by policy a/web ingress rule 0";
    let deny = "ingress at the destination: denied by default deny (ingress isolated by a/web)";
    b.assert_explain(&c2.v6, &web.v6, true, &[rule]);
    b.assert_explain(&x2.v6, &web.v6, false, &[deny]);
    b.assert_explain(&b.client("c1").v6, &web.v6, true, &[rule]);
    b.assert_explain(&b.client("x1").v6, &web.v6, false, &[deny]);
}

/// Case 2, continued: a namespace AND pod selector peer on a named port, whose set holds
/// web's address of each family (`daddr . protocol . port`).
fn named_port_in_both_families(b: &Bed) {
    b.web_policy(
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"a"}},"podSelector":{"matchLabels":{"app":"client"}}}],"ports":[{"port":"http"}]}]}"#,
    );
    b.expect(
        "namespace and pod selector, named port: clients on TCP in both families",
        |n, _, proto| n.starts_with('c') && proto == Proto::Tcp,
    );
    let (c2, web) = (b.client("c2"), &b.web);
    let rule = "ingress at the destination: allowed by policy a/web ingress rule 0";
    b.assert_explain(&c2.v6, &web.v6, true, &[rule]);
    let deny = "ingress at the destination: denied by default deny (ingress isolated by a/web)";
    b.assert_explain_on(&c2.v6, &web.v6, "5353/udp", false, &[deny]);
}

/// Case 3: an IPv6 ipBlock with a /128 hole; no IPv4 address is in it.
fn ip_block_v6_with_except(b: &Bed) {
    let subnet = v6_of(&b.c.nodes[1].subnets);
    let (c2, x2, web) = (b.client("c2"), b.client("x2"), &b.web);
    b.web_policy(&format!(
        r#"{{"podSelector":{{"matchLabels":{{"app":"web"}}}},"ingress":[{{"from":[{{"ipBlock":{{"cidr":"{subnet}","except":["{}/128"]}}}}]}}]}}"#,
        x2.v6
    ));
    b.expect("IPv6 ipBlock with except: c2 over IPv6 only", |n, v6, _| {
        v6 && n == "c2"
    });
    let rule = "ingress at the destination: allowed by policy a/web ingress rule 0";
    let deny = "ingress at the destination: denied by default deny (ingress isolated by a/web)";
    b.assert_explain(&c2.v6, &web.v6, true, &[rule]);
    b.assert_explain(&x2.v6, &web.v6, false, &[deny]);
    b.assert_explain(&c2.v4, &web.v4, false, &[deny]);
}

/// Case 4: one rule with a block of each family (node1's IPv4 pod subnet, node2's IPv6 one).
fn ip_blocks_of_both_families(b: &Bed) {
    let v4 = v4_of(&b.c.nodes[0].subnets);
    let v6 = v6_of(&b.c.nodes[1].subnets);
    b.web_policy(&format!(
        r#"{{"podSelector":{{"matchLabels":{{"app":"web"}}}},"ingress":[{{"from":[{{"ipBlock":{{"cidr":"{v4}"}}}},{{"ipBlock":{{"cidr":"{v6}"}}}}]}}]}}"#
    ));
    b.expect(
        "ipBlocks of both families: node1's pods over IPv4, node2's over IPv6",
        |n, v6, _| {
            if v6 {
                n.ends_with('2')
            } else {
                n.ends_with('1')
            }
        },
    );
    let (c1, c2, web) = (b.client("c1"), b.client("c2"), &b.web);
    let deny = "denied by default deny (ingress isolated by a/web)";
    b.assert_explain(
        &c1.v4,
        &web.v4,
        true,
        &["allowed by policy a/web ingress rule 0"],
    );
    b.assert_explain(&c1.v6, &web.v6, false, &[deny]);
    b.assert_explain(
        &c2.v6,
        &web.v6,
        true,
        &["allowed by policy a/web ingress rule 0"],
    );
    b.assert_explain(&c2.v4, &web.v4, false, &[deny]);
}

/// Case 5: egress from web to an IPv6 ipBlock with a hole, checked on web's node; ingress
/// stays open (and the replies to it pass).
fn egress_to_v6_ip_block(b: &Bed) {
    let subnet = v6_of(&b.c.nodes[1].subnets);
    let (c2, x2, web) = (b.client("c2"), b.client("x2"), &b.web);
    b.web_policy(&format!(
        r#"{{"podSelector":{{"matchLabels":{{"app":"web"}}}},"policyTypes":["Egress"],"egress":[{{"to":[{{"ipBlock":{{"cidr":"{subnet}","except":["{}/128"]}}}}]}}]}}"#,
        x2.v6
    ));
    let cells = b.cells(|_, _, _| true, |n, v6| v6 && n == "c2");
    expect_reach("egress to an IPv6 ipBlock with except", &cells, SETTLE);
    let allow = "egress at the source: allowed by policy a/web egress rule 0";
    let deny = "egress at the source: denied by default deny (egress isolated by a/web)";
    b.assert_explain(&web.v6, &c2.v6, true, &[allow]);
    b.assert_explain(&web.v6, &x2.v6, false, &[deny]);
    b.assert_explain(&web.v4, &c2.v4, false, &[deny]);
}

fn deleted_policy_allows_all(b: &Bed) {
    b.c.remove_object("np-web.json");
    b.expect("policy deleted: everything passes again", |_, _, _| true);
    b.assert_explain(
        &b.client("x2").v6,
        &b.web.v6,
        true,
        &["ingress at the destination: allowed (not isolated)"],
    );
}

/// One cluster per backend; the steps run in order, each replacing the last one's policy.
fn scenario(backend: &str, tag: &str, mode: &'static str) {
    let b = Bed::new(backend, tag, mode);
    no_policy(&b);
    pod_selector_in_both_families(&b);
    named_port_in_both_families(&b);
    ip_block_v6_with_except(&b);
    ip_blocks_of_both_families(&b);
    egress_to_v6_ip_block(&b);
    deleted_policy_allows_all(&b);
}

#[test]
fn network_policy_v6_host_gw() {
    testkit::require_root!();
    scenario(r#"{"Type":"host-gw"}"#, "pv6hg", "bridge");
}

/// The same in the plugin's routed mode: both families routed, no bridge.
#[test]
fn network_policy_v6_host_gw_routed() {
    testkit::require_root!();
    scenario(r#"{"Type":"host-gw"}"#, "pv6hgr", "routed");
}

#[test]
fn network_policy_v6_vxlan_routed() {
    testkit::require_root!();
    scenario(r#"{"Type":"vxlan"}"#, "pv6vxr", "routed");
}

#[test]
fn network_policy_v6_vxlan() {
    testkit::require_root!();
    scenario(r#"{"Type":"vxlan"}"#, "pv6vx", "bridge");
}
