//! The `cni::json` front-end: generated documents are accepted, mutated ones never panic,
//! hostile depth and size are refused (`lichen-kube` checks the same of `k8s::json`); and,
//! since both front-ends sit on the one syntax layer (`lichen_parse::json`), they agree on
//! what is JSON for documents within both caps.

use testkit::fuzz::{json_value, JSON_BITS};

use super::{mutate, rng, CASES};
use crate::cni::json as cni_json;
use crate::k8s::error::ParseError;
use crate::k8s::json as k8s_json;

#[test]
fn cni_json_accepts_generated_documents_and_never_panics_on_mutations() {
    let mut rng = rng();
    for _ in 0..CASES {
        let mut doc = String::from("{\"cniVersion\": \"1.0.0\", \"v\": ");
        json_value(&mut rng, 5, &mut doc);
        doc.push('}');
        assert!(
            cni_json::check(doc.as_bytes(), "the config").is_ok(),
            "{doc}"
        );

        let edits = 1 + rng.below(5);
        let junk = mutate(&mut rng, &doc, JSON_BITS, edits);
        if let Err(e) = cni_json::check(junk.as_bytes(), "the config") {
            assert!(e.msg.starts_with("the config"), "{junk}: {e:?}");
        }
    }
}

#[test]
fn cni_json_refuses_hostile_depth_and_size() {
    for open in ["[", "{\"a\":"] {
        let deep = open.repeat(100_000);
        let e = cni_json::check(deep.as_bytes(), "the config").unwrap_err();
        assert!(e.msg.contains("levels deep"), "{e:?}");
    }
    let big = format!("\"{}\"", "x".repeat(cni_json::MAX_INPUT));
    assert!(cni_json::check(big.as_bytes(), "the config")
        .unwrap_err()
        .msg
        .contains("bytes"));
}

/// Within both caps (at most `cni_json::MAX_DEPTH` levels and `cni_json::MAX_INPUT` bytes), a
/// document is JSON for both front-ends or for neither; a refusal is a syntax error in both.
#[test]
fn json_front_ends_agree_on_documents_within_both_caps() {
    let mut rng = rng();
    let deep = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
    let mut docs = vec![String::new(), " ".into(), deep(cni_json::MAX_DEPTH)];
    for _ in 0..CASES {
        let mut doc = String::new();
        let depth = 1 + rng.below(6);
        json_value(&mut rng, depth, &mut doc);
        let edits = rng.below(4);
        docs.push(mutate(&mut rng, &doc, JSON_BITS, edits));
        let n = 1 + rng.below(8);
        let bits = (0..n).map(|_| rng.pick(JSON_BITS).to_string());
        docs.push(bits.collect());
    }
    for doc in docs {
        let bytes = doc.as_bytes();
        let cni = cni_json::check(bytes, "the config");
        let outline = k8s_json::outline(bytes, k8s_json::MAX_OBJECT_BYTES, k8s_json::MAX_DEPTH);
        let members = k8s_json::members(bytes, &["v"], k8s_json::MAX_LIST_BYTES, 40);
        assert_eq!(cni.is_ok(), outline.is_ok(), "{doc:?}: {cni:?} {outline:?}");
        assert_eq!(outline.is_ok(), members.is_ok(), "{doc:?}: {members:?}");
        if let Err(e) = outline {
            assert!(matches!(e, ParseError::Json(_)), "{doc:?}: {e:?}");
            let msg = cni.unwrap_err().msg;
            let syntax = ["is not valid JSON: ", "is empty"];
            assert!(syntax.iter().any(|s| msg.contains(s)), "{doc:?}: {msg}");
        }
    }
}
