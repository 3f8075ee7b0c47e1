//! Policy edits (a rule changed, a policy added, one deleted, pods moving to new group
//! chains) applied in place: the table ends up as a full replacement would have made it.

use lichen_kube::model::ClusterState;
use testkit::nft::{fresh_netns, nft};

use crate::compile;
use crate::table::*;
use crate::testing::*;

fn state_a() -> ClusterState {
    let mut s = cluster();
    ns(&mut s, "a", &[("team", "a")]);
    ns(&mut s, "b", &[("team", "b")]);
    pod_with_ports(
        &mut s,
        "a/web",
        "n1",
        "10.42.1.2,fd42:1::2",
        &[("app", "web")],
        &[("http", 8080, TCP)],
    );
    pod(&mut s, "a/db", "n1", "10.42.1.3", &[("app", "db")]);
    pod(&mut s, "b/api", "n1", "10.42.1.4", &[("app", "api")]);
    pod(&mut s, "a/client", "n2", "10.42.2.2", &[("app", "client")]);
    pod(&mut s, "b/batch", "n2", "10.42.2.3", &[("app", "batch")]);
    policy(
        &mut s,
        "a/web-in",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}],
        "ports":[{"port":"http"},{"port":9000,"endPort":9100}]},{"from":[{"ipBlock":{"cidr":"10.43.0.0/16"}}]}]}"#,
    );
    policy(
        &mut s,
        "a/db-eg",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Egress"],
        "egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.42.2.0/24"]}}]}]}"#,
    );
    policy(
        &mut s,
        "b/api-in",
        r#"{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"a"}}}]}]}"#,
    );
    s
}

/// A edited: a/web-in's first rule takes other ports and peers, a/db-eg is deleted, a/deny
/// (every pod of a, no ingress) is added, so a/web and a/db move to new group chains.
fn state_b() -> ClusterState {
    let mut s = state_a();
    policy(
        &mut s,
        "a/web-in",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"b"}}}],
        "ports":[{"port":"http"},{"port":53,"protocol":"UDP"}]},{"from":[{"ipBlock":{"cidr":"10.43.0.0/16"}}]}]}"#,
    );
    s.policies.remove(&("a".to_owned(), "db-eg".to_owned()));
    policy(&mut s, "a/deny", r#"{"podSelector":{},"ingress":[]}"#);
    s
}

/// The listing as a sorted list of its chains, sets and maps (each flattened, element lists
/// sorted): creation order and hash-set element order are not part of the meaning; rule order
/// inside a chain is.
fn normalized(listing: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in listing.lines() {
        let trimmed = line.trim();
        match &mut current {
            None if line.starts_with("\tset ")
                || line.starts_with("\tmap ")
                || line.starts_with("\tchain ") =>
            {
                current = Some(vec![trimmed])
            }
            None => {}
            Some(block) if line == "\t}" => {
                block.push("}");
                blocks.push(flatten(&block.join(" ")));
                current = None;
            }
            Some(block) => block.push(trimmed),
        }
    }
    blocks.sort();
    blocks
}

fn flatten(block: &str) -> String {
    let text = block.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.split_once("elements = { ") {
        Some((head, rest)) => {
            let (list, tail) = rest.split_once(" }").unwrap();
            let mut elements: Vec<&str> = list.split(", ").collect();
            elements.sort();
            format!("{head}elements = {{ {} }}{tail}", elements.join(", "))
        }
        None => text,
    }
}

#[test]
fn policy_edits_are_applied_in_place_and_match_a_full_replace() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    let a = compile(&state_a(), "n1");
    let b = compile(&state_b(), "n1");
    assert!(b.chains.keys().any(|c| c == "ingress/a/deny"));
    assert!(!b.chains.keys().any(|c| c.starts_with("egress/")));
    assert!(matches!(
        apply_policy(&a, None).unwrap(),
        Applied::Replaced(_)
    ));

    let how = apply_policy(&b, Some(&a)).unwrap();
    let Applied::Incremental(sent) = how else {
        panic!("not applied in place: {how:?}")
    };
    let Applied::Replaced(full) = apply_policy(&b, None).unwrap() else {
        unreachable!()
    };
    assert!(
        sent < full / 2,
        "{sent} messages in place, {full} to replace"
    );
    let replaced = nft("list table inet lichen-policy");

    // The same edit again on top of A, now compared with the replacement's listing.
    assert!(matches!(
        apply_policy(&a, None).unwrap(),
        Applied::Replaced(_)
    ));
    assert!(matches!(
        apply_policy(&b, Some(&a)).unwrap(),
        Applied::Incremental(_)
    ));
    let edited = nft("list table inet lichen-policy");
    if std::env::var_os("LICHEN_SHOW").is_some() {
        eprintln!("{edited}");
    }
    let (edited, replaced) = (normalized(&edited), normalized(&replaced));
    assert!(edited.len() > 10, "{edited:#?}");
    assert_eq!(edited, replaced);

    // And back: the reverse edit in place gives A's table.
    assert!(matches!(
        apply_policy(&a, Some(&b)).unwrap(),
        Applied::Incremental(_)
    ));
    let back = normalized(&nft("list table inet lichen-policy"));
    apply_policy(&a, None).unwrap();
    assert_eq!(back, normalized(&nft("list table inet lichen-policy")));
    assert_eq!(apply_policy(&a, Some(&a)).unwrap(), Applied::Unchanged);
    remove_policy_table().unwrap();
}
