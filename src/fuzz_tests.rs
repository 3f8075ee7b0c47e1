//! Seeded property tests of the text parsers the agent and plugin read from outside (issue 12,
//! after flannel's `pkg/subnet/kube/fuzz_test.go`): kubeconfig YAML, base64, `CNI_ARGS`,
//! `subnet.env` and the two JSON front-ends (in `fuzz_tests/json.rs`). For each: random and
//! mutated inputs never panic and fail with an error that says where; what the writer side
//! renders (or a generator builds) parses back to what it came from; hostile sizes and depths
//! are refused quickly.
//! (The inotify record walker has its own in `agent/source/inotify.rs`.)
//!
//! `LICHEN_PARSE_SEED` replays a run (the seed is printed on failure).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use testkit::rng::Rng;

use crate::k8s::{base64, yaml};
use crate::subnet_file::SubnetFile;

mod json;

const CASES: usize = 2000;

fn rng() -> Rng {
    Rng::from_env("LICHEN_PARSE_SEED")
}

/// `text` with `n` random byte-level edits (insert, delete, replace with one of `alphabet`).
fn mutate(rng: &mut Rng, text: &str, alphabet: &[&str], n: usize) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..n {
        let at = rng.below(s.len() + 1);
        let piece: Vec<char> = rng.pick(alphabet).chars().collect();
        match rng.below(3) {
            0 => {
                s.splice(at..at, piece);
            }
            1 if at < s.len() => {
                s.remove(at);
            }
            _ if at < s.len() => {
                s.splice(at..at + 1, piece);
            }
            _ => {}
        }
    }
    s.into_iter().collect()
}

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

// ---- CNI_ARGS ----

#[test]
fn cni_args_generated_pairs_parse_and_junk_fails_with_a_cni_error() {
    let mut rng = rng();
    for _ in 0..CASES {
        let name = format!("web-{}", rng.below(100));
        let ip = Ipv4Addr::from(rng.next_u64() as u32);
        let mut pairs = vec![
            format!("K8S_POD_NAME={name}"),
            format!("IP={ip}"),
            "K8S_POD_NAMESPACE=default".to_owned(),
        ];
        let unknown = rng.below(2) == 0;
        if unknown {
            pairs.push("FOO=bar".into());
            pairs.push("IgnoreUnknown=1".into());
        }
        // order does not matter, IgnoreUnknown included
        for i in (1..pairs.len()).rev() {
            let j = rng.below(i + 1);
            pairs.swap(i, j);
        }
        let raw = pairs.join(";") + if rng.below(2) == 0 { ";" } else { "" };
        let args = crate::cni::env::parse_args(&raw).unwrap_or_else(|e| panic!("{raw}: {e:?}"));
        assert_eq!(args.k8s_pod_name.as_deref(), Some(name.as_str()));
        assert_eq!(args.ips, vec![IpAddr::V4(ip)]);
        assert_eq!(args.ignore_unknown, unknown);

        let edits = 1 + rng.below(4);
        let bits = ["=", ";", "IP=", "x", ",", "IgnoreUnknown=maybe"];
        let junk = mutate(&mut rng, &raw, &bits, edits);
        if let Err(e) = crate::cni::env::parse_args(&junk) {
            assert!(e.msg.contains("CNI_ARGS"), "{junk}: {e:?}");
        }
    }
}

// ---- subnet.env ----

fn net(rng: &mut Rng, v6: bool) -> IpNet {
    if v6 {
        let a = Ipv6Addr::from((rng.next_u64() as u128) << 64 | rng.next_u64() as u128);
        IpNet::new(a.into(), 48 + rng.below(81) as u8).unwrap()
    } else {
        IpNet::new(
            Ipv4Addr::from(rng.next_u64() as u32).into(),
            8 + rng.below(25) as u8,
        )
        .unwrap()
    }
}

#[test]
fn subnet_file_parses_what_it_renders_and_junk_names_its_line() {
    let mut rng = rng();
    for _ in 0..CASES {
        let families: &[bool] = rng.pick::<&[bool]>(&[&[false][..], &[true], &[false, true]]);
        let f = SubnetFile {
            networks: families.iter().map(|&v6| net(&mut rng, v6)).collect(),
            subnets: families.iter().map(|&v6| net(&mut rng, v6)).collect(),
            mtu: (rng.below(2) == 0).then(|| 576 + rng.below(9000) as u32),
            ipmasq: rng.below(2) == 0,
        };
        let text = f.render();
        assert_eq!(SubnetFile::parse(&text).as_ref(), Ok(&f), "{text}");

        let edits = 1 + rng.below(4);
        let junk = mutate(
            &mut rng,
            &text,
            &["=", "\n", "/", ":", "x", "9", "#"],
            edits,
        );
        if let Err(e) = SubnetFile::parse(&junk) {
            assert!(
                e.starts_with("line ") || e == "no LICHEN_SUBNET line",
                "{junk}: {e}"
            );
        }
    }
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
