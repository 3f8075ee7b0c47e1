//! NetworkPolicy under churn (issue 13): a seeded random walk of policy creates, edits and
//! deletes, pod and namespace relabels (several per step, a delete and a create in one step
//! included) written to the cluster dir of two running agents (`--network-policy`), nine
//! pods x/y/z × a/b/c serving TCP 80 and 81. After every step:
//! 1. both agents report (`status`: `ruleset: <fingerprint>`) the ruleset a fresh compile of
//!    the directory gives, within [`CONVERGE`] of the write;
//! 2. each node's table, read back over netlink, equals what a fresh replace of that compile
//!    makes in an empty namespace (chains, rules, sets, elements; not handles);
//! 3. a sample of pod pairs is probed as soon as (1) holds (how soon is reported, not
//!    asserted: timing figures belong to benches/policy.rs): TCP connect with a short timeout (a
//!    drop is silence), compared with the compiled verdict (egress on the source's node and
//!    ingress on the destination's);
//! 4. each agent's `/policy/explain` agrees with the probe for those pairs;
//! 5. a sample of the same cells is also probed at change + 100 ms (`bed::EARLY`), whatever
//!    the agents say: the cells stale then are reported (per step and in total), not
//!    asserted (no timing asserts; the benchmark measures change -> enforced).
//!
//! `churn_from_the_api_host_gw` runs a shorter walk (60 steps) against the test API server
//! (`--kubeconfig`) under kernel-event noise.
//!
//! `LICHEN_CHURN_SEED` replays a walk (the seed is printed), `LICHEN_CHURN_STEPS` sets its
//! length.

#[path = "policy_churn/agents.rs"]
mod agents;
#[path = "policy_churn/api.rs"]
mod api;
#[path = "policy_churn/bed.rs"]
mod bed;
mod common;
#[path = "policy_churn/probes.rs"]
mod probes;

use bed::*;
use common::probe::Proto;
use lichen::policy::churn::PORTS;
use testkit::noise::Noise;

fn seed() -> u64 {
    env_u64("LICHEN_CHURN_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    })
}

fn churn(backend: &str, tag: &str) {
    let seed = seed();
    let steps = env_u64("LICHEN_CHURN_STEPS").unwrap_or(150);
    eprintln!("policy churn ({tag}): LICHEN_CHURN_SEED={seed} LICHEN_CHURN_STEPS={steps}");
    walk(Bed::new(backend, tag, seed), steps);
}

/// The walk of [`churn`] on `bed`.
fn walk(mut bed: Bed, steps: u64) {
    bed.step("initial state".into(), &[], false);
    let n = bed.pods.len();
    for step in 1..=steps {
        let what = bed.walk.step();
        let rng = bed.walk.rng();
        let sample: Vec<(usize, usize, u16, Proto)> = (0..SAMPLE)
            .map(|_| {
                let a = rng.below(n);
                let b = (a + 1 + rng.below(n - 1)) % n;
                (a, b, PORTS[rng.below(PORTS.len())], Proto::Tcp)
            })
            .collect();
        let e = bed.step(format!("step {step}: {}", what.join("; ")), &sample, true);
        bed.check_tables(&e);
    }
    bed.report();
}

/// The issue's sequence, as the upstream e2e suite runs it: no policy → default-deny-ingress
/// → default-deny-all → allow-from-podselector in namespace x, each case deleting the
/// previous case's policy and creating its own in one step; the whole matrix (72 pairs, TCP
/// 80 and UDP 81) probed right after each change, three rounds.
fn e2e_sequence(backend: &str, tag: &str) {
    let mut bed = Bed::new(backend, tag, seed());
    let _noise = Noise::start(bed.c.nodes.iter().map(|n| n.ns.name.as_str()));
    for (i, p) in bed.pods.clone().iter().enumerate() {
        bed.walk.set_app(i, p.name.chars().next().unwrap());
    }
    let n = bed.pods.len();
    let mut cells = Vec::new();
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            cells.push((a, b, 80, Proto::Tcp));
            cells.push((a, b, 81, Proto::Udp));
        }
    }
    let cases: [(&str, Option<&str>); 4] = [
        ("no policy", None),
        (
            "default-deny-ingress",
            Some(r#"{"podSelector":{},"policyTypes":["Ingress"]}"#),
        ),
        (
            "default-deny-all",
            Some(r#"{"podSelector":{},"policyTypes":["Ingress","Egress"]}"#),
        ),
        (
            "allow-from-podselector",
            Some(
                r#"{"podSelector":{"matchLabels":{"app":"a"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"b"}}}]}]}"#,
            ),
        ),
    ];
    for round in 0..3 {
        for (name, spec) in cases {
            bed.walk.clear_policies();
            if let Some(spec) = spec {
                bed.walk.put_policy("x", name, spec);
            }
            let e = bed.step(format!("round {round}: {name}"), &cells, false);
            bed.check_tables(&e);
        }
    }
    bed.report();
}

/// The same walk, shorter, with the agents reading the Kubernetes API (the test API server
/// serves Nodes, Namespaces, Pods and NetworkPolicies with list and watch) under kernel-event
/// noise: the API source feeds the policy reconciler as promptly as the cluster dir, and no
/// kernel event holds a policy change back.
fn churn_from_the_api(backend: &str, tag: &str) {
    let seed = seed();
    let steps = env_u64("LICHEN_CHURN_STEPS").unwrap_or(60);
    eprintln!("policy churn ({tag}, API): LICHEN_CHURN_SEED={seed} LICHEN_CHURN_STEPS={steps}");
    let bed = Bed::with_api(backend, tag, seed);
    let _noise = Noise::start(bed.c.nodes.iter().map(|n| n.ns.name.as_str()));
    walk(bed, steps);
}

#[test]
fn churn_from_the_api_host_gw() {
    churn_from_the_api(r#"{"Type":"host-gw"}"#, "pch-api");
}

#[test]
fn churn_host_gw() {
    churn(r#"{"Type":"host-gw"}"#, "pch-gw");
}

#[test]
fn churn_vxlan() {
    churn(r#"{"Type":"vxlan"}"#, "pch-vx");
}

#[test]
fn e2e_sequence_host_gw() {
    e2e_sequence(r#"{"Type":"host-gw"}"#, "pe2e-gw");
}

#[test]
fn e2e_sequence_vxlan() {
    e2e_sequence(r#"{"Type":"vxlan"}"#, "pe2e-vx");
}
