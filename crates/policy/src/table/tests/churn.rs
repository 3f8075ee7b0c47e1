//! Randomized policy churn at the kernel level: a seeded walk of cluster states, each applied
//! in place on top of the last, and after every step the table read back over netlink must
//! equal what a full replace of the same compile gives in a fresh namespace.
//! `LICHEN_CHURN_SEED` replays a walk; `LICHEN_CHURN_STEPS` sets its length.

use std::collections::BTreeMap;

use lichen_netlink::nft::readback::TableDump;
use testkit::nft::fresh_netns;

use crate::churn::{state_of, Churn, ChurnPod};
use crate::table::*;
use crate::{compile, Ruleset};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().expect(name))
}

fn node_file(i: u8) -> (String, String) {
    (
        format!("node-n{i}.json"),
        format!(
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"n{i}"}},"spec":{{"podCIDR":"10.42.{i}.0/24"}},"status":{{"addresses":[{{"type":"InternalIP","address":"198.51.100.{i}"}}]}}}}"#
        ),
    )
}

/// Nine pods per namespace-less walk: x/y/z × a/b/c, spread over n1 and n2.
pub fn walk(seed: u64) -> Churn {
    let mut pods = Vec::new();
    for (i, ns) in ["x", "y", "z"].iter().enumerate() {
        for (j, name) in ["a", "b", "c"].iter().enumerate() {
            let node = 1 + (i + j) % 2;
            pods.push(ChurnPod {
                namespace: ns.to_string(),
                name: name.to_string(),
                node: format!("n{node}"),
                ip: format!("10.42.{node}.{}", 10 + 3 * i + j),
            });
        }
    }
    let nodes: BTreeMap<String, String> = [node_file(1), node_file(2)].into_iter().collect();
    Churn::new(seed, pods, nodes)
}

/// The table a fresh apply of `rs` makes, read back (in a namespace of its own).
fn reference(rs: &Ruleset) -> TableDump {
    let rs = rs.clone();
    std::thread::spawn(move || {
        fresh_netns();
        apply_policy(&rs, None).unwrap();
        read_policy_table().unwrap().unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn in_place_edits_under_random_churn_equal_a_fresh_replace() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    let seed = env_u64("LICHEN_CHURN_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let steps = env_u64("LICHEN_CHURN_STEPS").unwrap_or(300);
    eprintln!("policy churn (kernel): LICHEN_CHURN_SEED={seed}, {steps} steps");
    fresh_netns();
    let mut churn = walk(seed);
    let mut applied: Option<Ruleset> = None;
    let mut history = Vec::new();
    let mut in_place = 0;
    for step in 0..steps {
        let what = churn.step();
        history.push(format!("{step}: {}", what.join("; ")));
        let rs = compile(&state_of(&churn.files()), "n1");
        let how = apply_policy(&rs, applied.as_ref()).unwrap();
        if matches!(how, Applied::Incremental(_) | Applied::Elements(_)) {
            in_place += 1;
        }
        assert!(
            !matches!(how, Applied::Replaced(_)) || applied.is_none(),
            "seed {seed} step {step}: an in-place edit was refused\n{}",
            history.join("\n")
        );
        let got = read_policy_table().unwrap().unwrap();
        if let Some(d) = got.difference(&reference(&rs)) {
            panic!(
                "LICHEN_CHURN_SEED={seed} step {step} ({how:?}): {d}\n{}",
                history.join("\n")
            );
        }
        applied = Some(rs);
    }
    assert!(in_place > steps / 2, "{in_place} of {steps} steps in place");
    remove_policy_table().unwrap();
}
