//! Seeded property tests of the `k8s::json` front-end (issue 12): generated documents are
//! accepted, mutated ones never panic, hostile depth and size are refused. (Its agreement with
//! `cni::json`, the other front-end on the one syntax layer `lichen_parse::json`, is checked in
//! `lichen`, which has both; the kubeconfig's YAML and base64 have theirs in `lichen-parse`.)
//!
//! `LICHEN_PARSE_SEED` replays a run (the seed is printed on failure).

use testkit::fuzz::{json_value, mutate, rng, CASES, JSON_BITS};

use crate::k8s::error::ParseError;
use crate::k8s::json as k8s_json;

#[test]
fn json_front_end_accepts_generated_documents_and_never_panics_on_mutations() {
    let mut rng = rng();
    for _ in 0..CASES {
        let mut doc = String::from("{\"cniVersion\": \"1.0.0\", \"v\": ");
        json_value(&mut rng, 5, &mut doc);
        doc.push('}');
        assert!(
            k8s_json::outline(doc.as_bytes(), 1 << 20, k8s_json::MAX_DEPTH).is_ok(),
            "{doc}"
        );

        let edits = 1 + rng.below(5);
        let junk = mutate(&mut rng, &doc, JSON_BITS, edits);
        let _ = k8s_json::outline(junk.as_bytes(), 1 << 20, k8s_json::MAX_DEPTH);
    }
}

#[test]
fn json_front_end_refuses_hostile_depth_and_size() {
    for open in ["[", "{\"a\":"] {
        let deep = open.repeat(100_000);
        assert!(matches!(
            k8s_json::outline(deep.as_bytes(), 1 << 20, k8s_json::MAX_DEPTH),
            Err(ParseError::TooDeep { .. })
        ));
    }
    let big = format!("\"{}\"", "x".repeat(1 << 20));
    assert!(matches!(
        k8s_json::outline(big.as_bytes(), 1 << 20, k8s_json::MAX_DEPTH),
        Err(ParseError::TooLarge { .. })
    ));
}
