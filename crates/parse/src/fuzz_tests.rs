//! Seeded property tests of the kubeconfig parsers (issue 12, after flannel's
//! `pkg/subnet/kube/fuzz_test.go`): YAML and base64. For each: random and mutated inputs never
//! panic and fail with an error that says where; what a generator builds parses back to what
//! it came from; hostile sizes and depths are refused quickly. (The JSON front-ends have theirs
//! in `lichen-kube` and `lichen`.)
//!
//! `LICHEN_PARSE_SEED` replays a run (the seed is printed on failure).

use std::collections::BTreeMap;

use testkit::fuzz::{mutate, rng, CASES};
use testkit::rng::Rng;

use crate::{base64, yaml};

// ---- YAML (kubeconfig) ----

const YAML_BITS: &[&str] = &[
    " ", "  ", "\n", "\t", "-", "- ", ":", ": ", "#", "'", "\"", "|", ">", "&a", "{", "}", "[",
    "]", "{}", "[]", "---", "key", "0", "é", "\\", "\r\n",
];

/// `path.key`, or `key` at the top.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Random trees of mappings and sequences, rendered as block YAML into `out`, each with the
/// pairs [`yaml::flatten`] must give.
struct YamlGen<'a> {
    rng: &'a mut Rng,
    out: String,
}

impl YamlGen<'_> {
    /// A sequence (sometimes) or a mapping at `path`, `depth` levels at most.
    fn tree(&mut self, depth: usize, indent: usize, path: &str) -> BTreeMap<String, String> {
        if self.rng.below(3) != 0 || depth == 0 {
            return self.map(depth, indent, path);
        }
        let mut want = BTreeMap::new();
        let pad = " ".repeat(indent);
        for i in 0..1 + self.rng.below(3) {
            let p = child(path, &i.to_string());
            if self.rng.below(2) == 0 {
                let v = format!("v{}", self.rng.below(1000));
                self.out.push_str(&format!("{pad}- {v}\n"));
                want.insert(p, v);
            } else {
                self.out.push_str(&format!("{pad}-\n"));
                want.extend(self.map(depth - 1, indent + 2, &p));
            }
        }
        want
    }

    /// A mapping of one to three keys at `path`.
    fn map(&mut self, depth: usize, indent: usize, path: &str) -> BTreeMap<String, String> {
        let mut want = BTreeMap::new();
        let pad = " ".repeat(indent);
        for i in 0..1 + self.rng.below(3) {
            let key = format!("k{i}");
            let p = child(path, &key);
            match self.rng.below(if depth == 0 { 2 } else { 4 }) {
                0 => {
                    let v = format!("plain-{}", self.rng.below(1000));
                    self.out.push_str(&format!("{pad}{key}: {v}\n"));
                    want.insert(p, v);
                }
                1 => {
                    let v = format!("a: 'b' #{}", self.rng.below(10));
                    self.out.push_str(&format!("{pad}{key}: \"{v}\"\n"));
                    want.insert(p, v);
                }
                _ => {
                    self.out.push_str(&format!("{pad}{key}:\n"));
                    if self.rng.below(2) == 0 {
                        self.out.push_str(&format!("{pad}  # a comment\n"));
                    }
                    want.extend(self.tree(depth - 1, indent + 2, &p));
                }
            }
        }
        want
    }
}

/// A random document and its pairs.
fn yaml_doc(rng: &mut Rng, depth: usize) -> (String, BTreeMap<String, String>) {
    let mut g = YamlGen {
        rng,
        out: String::from("# kubeconfig\n"),
    };
    let want = g.tree(depth, 0, "");
    (g.out, want)
}

#[test]
fn yaml_generated_documents_flatten_to_their_pairs() {
    let mut rng = rng();
    for _ in 0..CASES {
        let (text, want) = yaml_doc(&mut rng, 4);
        let got = yaml::flatten(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
        assert_eq!(got.0, want, "{text}");
    }
}

#[test]
fn yaml_mutated_documents_never_panic_and_errors_name_a_line() {
    let mut rng = rng();
    for _ in 0..CASES {
        let (text, _) = yaml_doc(&mut rng, 3);
        let n = 1 + rng.below(6);
        let text = mutate(&mut rng, &text, YAML_BITS, n);
        if let Err(e) = yaml::flatten(&text) {
            let lines = text.lines().count();
            assert!(
                (1..=lines).contains(&e.line),
                "{e:?} of {lines} lines:\n{text}"
            );
            assert!(!e.what.is_empty());
        }
    }
}

// ---- base64 ----

fn encode(bytes: &[u8], pad: bool) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

#[test]
fn base64_decodes_what_was_encoded_with_or_without_padding_and_line_breaks() {
    let mut rng = rng();
    for _ in 0..CASES {
        let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect();
        let mut text = encode(&bytes, rng.below(2) == 0);
        if rng.below(2) == 0 && !text.is_empty() {
            // as kubeconfigs wrap long lines
            let at = rng.below(text.len());
            text.insert_str(at, "\n  ");
        }
        assert_eq!(base64::decode(&text), Some(bytes), "{text}");
    }
}

#[test]
fn base64_random_text_never_panics_and_wrong_lengths_fail() {
    let mut rng = rng();
    let bits = ["A", "z", "0", "+", "/", "=", " ", "\n", "-", "_", "é", "=="];
    for _ in 0..CASES {
        let n = rng.below(40);
        let text: String = (0..n).map(|_| *rng.pick(&bits)).collect();
        if let Some(out) = base64::decode(&text) {
            let sextets = text
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "+/".contains(*c))
                .count();
            assert_eq!(out.len(), sextets * 6 / 8, "{text:?}");
        }
    }
    // one sextet alone cannot make a byte
    assert_eq!(base64::decode("QUJDR"), None);
}

#[test]
fn yaml_refuses_hostile_depth_and_size_quickly() {
    // 40 levels of `k:` (each 1 space deeper): refused at the 33rd
    let deep: String = (0..40).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let e = yaml::flatten(&deep).unwrap_err();
    assert_eq!((e.line, e.what), (33, "nested more than 32 levels deep"));
    // as deep through sequence items
    let items: String = (0..40)
        .map(|i| format!("{}-\n", " ".repeat(2 * i)))
        .collect();
    assert_eq!(yaml::flatten(&items).unwrap_err().line, 33);
    // a document over 1 MiB: refused at the line holding its first MiB's end
    let big = "a: b\n".repeat(yaml::MAX_BYTES / 5 + 10);
    let e = yaml::flatten(&big).unwrap_err();
    assert_eq!(e.line, yaml::MAX_BYTES / 5 + 1, "{e:?}");
    assert!(e.what.contains("1 MiB"));
    // a whole kubeconfig's worth of depth is fine
    assert!(yaml::flatten("a:\n  b:\n    - c:\n        d: e\n").is_ok());
}
