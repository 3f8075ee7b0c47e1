//! The ruleset's shape: determinism, churn touching elements only, names, status.

use super::*;
use crate::names;
use crate::ruleset::{Chain, Hook, Set, Verdict};
use crate::Direction;

fn three_policies() -> ClusterState {
    let mut s = super::cases::base();
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"tier":"be"}}}],"ports":[{"port":5432}]}]}"#,
    );
    policy(
        &mut s,
        "prod/all",
        r#"{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"monitoring"}}}]}]}"#,
    );
    policy(
        &mut s,
        "prod/out",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"egress":[{"to":[{"podSelector":{}}]}]}"#,
    );
    s
}

#[test]
fn output_is_deterministic_and_independent_of_insertion_order() {
    let s = three_policies();
    assert_eq!(compile(&s, "n1"), compile(&s, "n1"));
    let mut objects: Vec<Object> = Vec::new();
    objects.extend(s.nodes.values().cloned().map(Object::Node));
    objects.extend(s.namespaces.values().cloned().map(Object::Namespace));
    objects.extend(s.pods.values().cloned().map(Object::Pod));
    objects.extend(s.policies.values().cloned().map(Object::NetworkPolicy));
    let mut reversed = ClusterState::default();
    for o in objects.into_iter().rev() {
        reversed.upsert(o);
    }
    assert_eq!(compile(&reversed, "n1"), compile(&s, "n1"));
}

fn chains_and_names(rs: &Ruleset) -> (Vec<(&String, &Chain)>, Vec<&String>, Vec<&String>) {
    (
        rs.chains.iter().collect(),
        rs.sets.keys().collect(),
        rs.maps.keys().collect(),
    )
}

#[test]
fn peer_label_changes_and_pod_churn_change_only_elements() {
    let s = three_policies();
    let before = compile(&s, "n1");
    // A remote pod gains the label a peer selects: one set gains its address.
    let mut s2 = s.clone();
    pod(
        &mut s2,
        "prod/api",
        "n2",
        "10.42.2.10",
        &[("app", "api"), ("tier", "be")],
    );
    let after = compile(&s2, "n1");
    assert_eq!(chains_and_names(&before), chains_and_names(&after));
    assert_eq!(before.maps, after.maps);
    let changed: Vec<&String> = before
        .sets
        .keys()
        .filter(|k| before.sets[*k] != after.sets[*k])
        .collect();
    assert_eq!(changed, ["ingress/prod/db/0/peers"]);
    check(&s, "n1", &[("10.42.2.10", "10.42.1.11", 5432, TCP, false)]);
    check(&s2, "n1", &[("10.42.2.10", "10.42.1.11", 5432, TCP, true)]);
    // A second db replica starts on n1: same group chain, one more map element per direction
    // it is isolated in, and a new peer address for the `out` policy's set.
    let mut s3 = s.clone();
    pod(&mut s3, "prod/db-2", "n1", "10.42.1.12", &[("app", "db")]);
    let after = compile(&s3, "n1");
    assert_eq!(chains_and_names(&before).0, chains_and_names(&after).0);
    assert_eq!(chains_and_names(&before).1, chains_and_names(&after).1);
    let in_map = &after.maps[&names::dispatch_map(Direction::Ingress)].elements;
    assert_eq!(in_map[&ip("10.42.1.12")], in_map[&ip("10.42.1.11")]);
    // And it stops: back to the first ruleset.
    s3.pods.remove(&("prod".into(), "db-2".into()));
    assert_eq!(compile(&s3, "n1"), before);
}

#[test]
fn local_label_changes_move_map_elements_between_existing_groups() {
    let mut s = three_policies();
    pod(&mut s, "prod/db-2", "n1", "10.42.1.12", &[("app", "db")]);
    let before = compile(&s, "n1");
    // db-2 turns into a web pod: web's groups exist already.
    pod(&mut s, "prod/db-2", "n1", "10.42.1.12", &[("app", "web")]);
    let after = compile(&s, "n1");
    assert_eq!(chains_and_names(&before), chains_and_names(&after));
    let map = |rs: &Ruleset, d| rs.maps[&names::dispatch_map(d)].elements.clone();
    let ing = map(&after, Direction::Ingress);
    assert_eq!(ing[&ip("10.42.1.12")], ing[&ip("10.42.1.10")]);
    assert_ne!(
        map(&before, Direction::Ingress)[&ip("10.42.1.12")],
        ing[&ip("10.42.1.12")]
    );
    assert!(map(&after, Direction::Egress).contains_key(&ip("10.42.1.12")));
    check(&s, "n1", &[("10.42.1.12", "203.0.113.5", 80, TCP, false)]);
}

#[test]
fn layout_base_chains_groups_and_policy_chains() {
    let s = three_policies();
    let rs = compile(&s, "n1");
    let ingress = &rs.chains[names::INGRESS_BASE];
    assert_eq!(ingress.hook, Some(Hook::ForwardIngress));
    assert_eq!(
        rs.chains[names::EGRESS_BASE].hook,
        Some(Hook::ForwardEgress)
    );
    assert_eq!(ingress.rules.len(), 3);
    // web: isolated for ingress by prod/all and prod/out (egress rules imply Ingress too).
    let web = &rs.pods[&("prod".into(), "web".into())];
    let ids: Vec<String> = web
        .ingress
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(ids, ["prod/all", "prod/out"]);
    let group = &rs.maps["ingress-pods"].elements[&ip("10.42.1.10")];
    let jumps: Vec<&Verdict> = rs.chains[group].rules.iter().map(|r| &r.verdict).collect();
    assert_eq!(
        jumps,
        [
            &Verdict::Jump("ingress/prod/all".into()),
            &Verdict::Jump("ingress/prod/out".into()),
            &Verdict::Drop
        ]
    );
    // prod/out has no ingress rules: an empty chain (ingress deny contributes nothing).
    assert!(rs.chains["ingress/prod/out"].rules.is_empty());
    assert_eq!(rs.chains["egress/prod/out"].rules.len(), 1);
    // Chains without a hook are all reachable by a jump or a map.
    let node = &rs.sets[names::NODE_ADDRS];
    assert!(matches!(node, Set::Addrs(a) if a.len() == 2));
}

#[test]
fn policy_edits_and_deletion_take_effect() {
    let mut s = super::cases::base();
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[]}"#,
    );
    check(&s, "n1", &[("10.42.2.10", "10.42.1.11", 1, TCP, false)]);
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[{}]}"#,
    );
    check(&s, "n1", &[("10.42.2.10", "10.42.1.11", 1, TCP, true)]);
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[]}"#,
    );
    let before = compile(&s, "n1");
    s.remove("NetworkPolicy", "prod/db").unwrap();
    check(&s, "n1", &[("10.42.2.10", "10.42.1.11", 1, TCP, true)]);
    let after = compile(&s, "n1");
    assert!(after.chains.len() < before.chains.len());
    assert!(after.maps.values().all(|m| m.elements.is_empty()));
}

#[test]
fn explanation_text() {
    let mut s = super::cases::base();
    policy(
        &mut s,
        "prod/db",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"api"}}}]}]}"#,
    );
    let ok = crate::explain(&s, "n1", ip("10.42.2.10"), ip("10.42.1.11"), 5432, TCP);
    assert_eq!(
        ok.to_string(),
        "10.42.2.10 -> 10.42.1.11 5432/TCP: ALLOWED\n  egress at the source: not checked on this node\n  ingress at the destination: allowed by policy prod/db ingress rule 0"
    );
    let no = crate::explain(&s, "n1", ip("10.42.1.10"), ip("10.42.1.11"), 5432, TCP);
    assert_eq!(
        no.to_string(),
        "10.42.1.10 -> 10.42.1.11 5432/TCP: DENIED\n  egress at the source: allowed (not isolated)\n  ingress at the destination: denied by default deny (ingress isolated by prod/db)"
    );
}
