//! The layers of `src/` and of the crates split out of it (crates/netlink, crates/parse,
//! crates/kube, crates/policy, crates/wireguard), checked on every `cargo test`: which module may import which.
//! Pure file reading (no root, no network, nothing of the `lichen` library is run). Between
//! crates, cargo enforces the layers (`tests/crate_graph.rs` declares them).
//!
//! The rules, for each crate:
//! 1. The top-level modules of `src/` sit in [`LAYERS`] (of crates/policy/src in
//!    [`POLICY_LAYERS`], and so on), lowest first. A module imports only modules of lower
//!    layers: never one of its own layer, never a higher one. A new top-level module fails the
//!    check until it is placed there.
//! 2. Inside every top-level module that is a directory, its first-level submodules (e.g.
//!    `agent::report`, `cni::env`) import each other without cycles.
//!
//! What counts as an import: every path that starts with `crate::`, `super::` or `self::` (in
//! `src/main.rs`, the binary, `lichen::`), in `use` declarations and in code, brace groups
//! included; test modules count (a test is part of the module it tests). Comments and string
//! literals are skipped. A path to a name that the parent's `mod.rs` (or the crate root)
//! re-exports with `pub use child::{Name, ..}` counts as a path to that child. Not seen: paths
//! through a `use` alias (after `use crate::agent;`, `agent::source::X` counts as `agent`
//! alone) and glob re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

#[path = "layers/graph.rs"]
mod graph;
#[path = "layers/lex.rs"]
mod lex;
use graph::{describe_cycles, Edges};
use lex::*;

/// The top-level modules of `crates/netlink/src` by layer, lowest first.
const NETLINK_LAYERS: &[&[&str]] = &[&["raw"], &["netns", "nft"], &["nl"]];

/// The top-level modules of `crates/parse/src`: leaves, none imports another (and the seeded
/// property tests of YAML and base64, `#[cfg(test)]`).
const PARSE_LAYERS: &[&[&str]] = &[
    &["base64", "http", "json", "rfc3339", "yaml"],
    &["fuzz_tests"],
];

/// The top-level modules of `crates/kube/src` by layer, lowest first: the Kubernetes objects
/// and client, then the cluster model over them (and the seeded property tests of k8s's
/// parsers, `#[cfg(test)]`).
const KUBE_LAYERS: &[&[&str]] = &[&["k8s"], &["model", "fuzz_tests"]];

/// The top-level modules of `crates/wireguard/src` by layer, lowest first: the curve and the
/// keys, the key file and the device's settings, the two control paths, the userspace daemon
/// (which waits for its configuration socket).
const WIREGUARD_LAYERS: &[&[&str]] = &[
    &["x25519"],
    &["key"],
    &["keyfile", "config"],
    &["uapi", "genl"],
    &["userspace"],
];

/// The top-level modules of `crates/policy/src` by layer, lowest first.
const POLICY_LAYERS: &[&[&str]] = &[
    // The ruleset: what compile produces, explain and table read.
    &["ruleset"],
    // Its stable object names; address and port ranges.
    &["names", "ranges"],
    // Which pods a policy's selectors and peers name.
    &["select"],
    // The compiler.
    &["compile"],
    // Explain over a compiled ruleset; the churn generator (tests and the bench).
    &["explain", "churn"],
    // The test builders (feature `testing`; the table's kernel tests use them).
    &["testing"],
    // The nf_tables table.
    &["table"],
    // The compiler's and explain's tests.
    &["tests"],
];

/// The top-level modules of `src/` by layer, lowest first; each imports only lower layers.
/// (Below them all, in crates of their own, re-exported: `netns`, `nft` and `nl` of
/// `lichen-netlink`; `json`, `http` and `rfc3339` of `lichen-parse`; `k8s` and `model` of
/// `lichen-kube`; `policy`, the `lichen-policy` crate.)
const LAYERS: &[&[&str]] = &[
    // Leaf libraries: import nothing else of the crate. The CNI protocol, the subnet.env
    // hand-off.
    &["cni", "subnet_file"],
    // Logging, what this build is (build_info).
    &["logging", "build_info"],
    // Seeded property tests of the text parsers below (`#[cfg(test)]`; nothing imports it).
    &["fuzz_tests"],
    // The plugin's data plane.
    &["dataplane"],
    // The CNI verbs.
    &["plugin"],
    // Installing the plugin and its config on a node.
    &["install"],
    // The node agent.
    &["agent"],
    // The operator's commands and the demo cluster.
    &["demo"],
    &["cli"],
    // The binary (its own crate over the library).
    &["main"],
];

/// The crate's sources: module path → file, and the parents' re-exports.
struct Sources {
    root: PathBuf,
    files: BTreeMap<ModPath, PathBuf>,
    /// (top-level module, re-exported name) → the child module it comes from; the crate
    /// root's (`lib.rs`) are under the module `""`.
    reexports: BTreeMap<(String, String), String>,
}

impl Sources {
    fn read(root: &Path) -> Sources {
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path.strip_prefix(root).unwrap().to_path_buf();
                    files.insert(module_path(&rel), rel);
                }
            }
        }
        let mut reexports = BTreeMap::new();
        for (path, rel) in &files {
            if path.len() > 1 || path.first().is_some_and(|m| m == "main") {
                continue;
            }
            let parent = path.first().cloned().unwrap_or_default();
            let tokens = lex(&strip(&fs::read_to_string(root.join(rel)).unwrap()));
            for i in 0..tokens.len().saturating_sub(3) {
                if let [Tok::Ident(p), Tok::Ident(u), Tok::Ident(child), Tok::PathSep] =
                    &tokens[i..i + 4]
                {
                    let mut child_path = path.clone();
                    child_path.push(child.clone());
                    if p == "pub" && u == "use" && files.contains_key(&child_path) {
                        for name in names_until_semicolon(&tokens[i + 4..]) {
                            reexports.insert((parent.clone(), name), child.clone());
                        }
                    }
                }
            }
        }
        Sources {
            root: root.to_path_buf(),
            files,
            reexports,
        }
    }

    fn is_dir_module(&self, top: &str) -> bool {
        self.files.keys().any(|p| p.len() >= 2 && p[0] == top)
    }

    /// The top-level module a path is in, if it names one (or an item the crate root
    /// re-exports from one).
    fn top(&self, path: &[String]) -> Option<String> {
        let first = path.first()?;
        if self.files.contains_key(&vec![first.clone()]) {
            return Some(first.clone());
        }
        self.reexports.get(&(String::new(), first.clone())).cloned()
    }

    /// The first-level submodule a path is in (`agent::report`), or the top-level module
    /// itself when it names an item of the parent.
    fn sub(&self, path: &[String]) -> Option<String> {
        let top = self.top(path)?;
        let Some(second) = path.get(1).filter(|_| path[0] == top) else {
            return Some(top);
        };
        if self.files.contains_key(&vec![top.clone(), second.clone()]) {
            return Some(format!("{top}::{second}"));
        }
        Some(match self.reexports.get(&(top.clone(), second.clone())) {
            Some(child) => format!("{top}::{child}"),
            None => top,
        })
    }

    /// The top-level and the submodule imports of the whole crate.
    fn edges(&self) -> (Edges, Edges) {
        let (mut tops, mut subs) = (Edges::new(), Edges::new());
        for (here, rel) in &self.files {
            if here.is_empty() {
                continue; // lib.rs: the root that declares the modules
            }
            let name = rel.display().to_string();
            let text = strip(&fs::read_to_string(self.root.join(rel)).unwrap());
            let is_main = here.as_slice() == ["main"];
            for target in imports(&text, here, is_main) {
                let (from_top, from_sub) = if is_main {
                    ("main".to_owned(), "main".to_owned())
                } else {
                    (self.top(here).unwrap(), self.sub(here).unwrap())
                };
                if let Some(to) = self.top(&target) {
                    if to != from_top {
                        tops.entry((from_top.clone(), to))
                            .or_default()
                            .insert(name.clone());
                    }
                }
                if let Some(to) = self.sub(&target) {
                    let same_parent = to.split("::").next() == from_sub.split("::").next();
                    if to != from_sub && same_parent && self.is_dir_module(&from_top) {
                        subs.entry((from_sub.clone(), to))
                            .or_default()
                            .insert(name.clone());
                    }
                }
            }
        }
        (tops, subs)
    }
}

/// `agent/report.rs` → `[agent, report]`; `lib.rs` → `[]`; `main.rs` → `[main]`.
fn module_path(rel: &Path) -> ModPath {
    let mut parts: ModPath = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts == ["lib"] {
        return vec![];
    }
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|l| l.contains(&module))
}

/// What is wrong with the crate's imports against `layers`, one message per problem.
fn violations(src: &Sources, layers: &[&[&str]]) -> Vec<String> {
    let layer_of = |m: &str| layer_of(layers, m);
    let (tops, subs) = src.edges();
    let mut problems = Vec::new();
    let modules: BTreeSet<String> = src
        .files
        .keys()
        .filter_map(|p| p.first().cloned())
        .collect();
    for m in &modules {
        if layer_of(m).is_none() {
            problems.push(format!(
                "top-level module {m} is in no layer: place it in LAYERS (tests/layers.rs)"
            ));
        }
    }
    for ((a, b), files) in &tops {
        if let (Some(la), Some(lb)) = (layer_of(a), layer_of(b)) {
            if la <= lb {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                problems.push(format!(
                    "{a} (layer {la}) imports {b} (layer {lb}), which is not below it ({})",
                    files.join(", ")
                ));
            }
        }
    }
    problems.extend(describe_cycles(&tops));
    problems.extend(describe_cycles(&subs));
    problems
}

#[test]
fn modules_import_only_lower_layers_and_no_submodule_cycles() {
    check_crate("src", LAYERS, 80);
}

/// Checks the crate whose sources are `dir` (from the workspace root) against `layers`.
fn check_crate(dir: &str, layers: &[&[&str]], at_least: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let src = Sources::read(&root);
    assert!(
        src.files.len() >= at_least,
        "{} not found or nearly empty",
        root.display()
    );
    let problems = violations(&src, layers);
    assert!(
        problems.is_empty(),
        "layer violations in {dir}:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_netlink_crate_imports_only_lower_layers() {
    check_crate("crates/netlink/src", NETLINK_LAYERS, 20);
}

#[test]
fn the_parse_crate_imports_only_lower_layers() {
    check_crate("crates/parse/src", PARSE_LAYERS, 6);
}

#[test]
fn the_kube_crate_imports_only_lower_layers() {
    check_crate("crates/kube/src", KUBE_LAYERS, 25);
}

#[test]
fn the_policy_crate_imports_only_lower_layers() {
    check_crate("crates/policy/src", POLICY_LAYERS, 15);
}

#[test]
fn the_wireguard_crate_imports_only_lower_layers() {
    check_crate("crates/wireguard/src", WIREGUARD_LAYERS, 8);
}

#[test]
fn paths_are_resolved_and_comments_and_strings_skipped() {
    let text = strip(
        r##"
        use crate::{cni::{self, Version}, nft as n};
        use super::super::model::ClusterState;
        use self::inner::X;
        // use crate::commented::Out;
        /* crate::block /* nested */ crate::still_comment */
        fn f<'a>(x: &'a str) -> char { let _ = "crate::in_string"; let _ = r#"crate::raw"#; crate::nl::link::up(); '{' }
        mod tests {
            use super::*;
            use super::super::sibling;
        }
        "##,
    );
    let here: ModPath = vec!["agent".into(), "report".into()];
    let got: BTreeSet<String> = imports(&text, &here, false)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    let want: BTreeSet<String> = [
        "cni",
        "cni::Version",
        "nft",
        "model::ClusterState",
        "agent::report::inner::X",
        "nl::link::up",
        "agent::report",
        "agent::sibling",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(got, want);
}

#[test]
fn a_cycle_is_reported_with_its_imports() {
    let mut edges = Edges::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        edges
            .entry((a.into(), b.into()))
            .or_default()
            .insert(format!("{a}.rs"));
    }
    let found = describe_cycles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("cycle between a, b, c:"),
        "{}",
        found[0]
    );
    assert!(found[0].contains("c -> a (c.rs)"), "{}", found[0]);
    assert!(!found[0].contains("-> d"), "{}", found[0]);
}
