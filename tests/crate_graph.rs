//! The workspace's crate graph, checked on every `cargo test` (pure file reading): each
//! crate's `[dependencies]` name only crates of lower layers ([`CRATES`]), and the test
//! harness is never more than a dev-dependency. Inside a crate, `tests/layers.rs` checks the
//! modules' imports.

use std::fs;
use std::path::Path;

/// The workspace's crates by layer, lowest first: a crate's `[dependencies]` name only
/// crates of lower layers. The test harness (`lichen-testkit`) is a dev-dependency only.
const CRATES: &[&[&str]] = &[
    // The kernel (namespaces, rtnetlink, nf_tables), the IPAM, the backends' plans (pure),
    // the namespace builders the demo and the tests share, the parsing layer (JSON syntax,
    // HTTP/1.1 codec, RFC 3339): none imports another.
    &[
        "lichen-netlink",
        "lichen-ipam",
        "lichen-backends",
        "lichen-netbed",
        "lichen-parse",
    ],
    // The Kubernetes objects and client, and the cluster model (over lichen-parse, and
    // lichen-backends for a VTEP MAC); WireGuard device control (over lichen-parse for base64).
    &["lichen-kube", "lichen-wireguard"],
    // NetworkPolicy: compiled rulesets, explain, its nf_tables table (over lichen-kube and
    // lichen-netlink).
    &["lichen-policy"],
    // The binary and its library.
    &["lichen"],
];

/// The path dependencies of the `[dependencies]` (`dev`: `[dev-dependencies]`) section of
/// the manifest at `toml`, by package name.
fn path_dependencies(toml: &str, dev: bool) -> Vec<String> {
    let want = if dev {
        "[dev-dependencies]"
    } else {
        "[dependencies]"
    };
    let mut section = String::new();
    let mut out = Vec::new();
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
        } else if section == want && line.contains("path =") {
            out.push(line.split([' ', '=']).next().unwrap().to_owned());
        }
    }
    out
}

#[test]
fn crates_depend_only_on_lower_layers_and_the_harness_is_dev_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: Vec<&str> = workspace
        .lines()
        .find_map(|l| l.trim().strip_prefix("members = ["))
        .expect("workspace members")
        .trim_end_matches(']')
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .collect();
    let mut problems = Vec::new();
    for member in members {
        let toml = fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
        let name = toml
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"'))
            .unwrap();
        if name == "lichen-testkit" {
            continue;
        }
        let Some(mine) = layer_of(name) else {
            problems.push(format!("crate {name} is in no layer: place it in CRATES"));
            continue;
        };
        for dep in path_dependencies(&toml, false) {
            match layer_of(&dep) {
                Some(theirs) if theirs < mine => {}
                _ if dep == "lichen-testkit" => problems.push(format!(
                    "{name} ships the test harness: make it a dev-dependency"
                )),
                _ => problems.push(format!("{name} depends on {dep}, which is not below it")),
            }
        }
        for dep in path_dependencies(&toml, true) {
            if dep != "lichen-testkit" && layer_of(&dep).is_none_or(|theirs| theirs > mine) {
                problems.push(format!("{name}'s tests depend on {dep}, above it"));
            }
        }
    }
    assert!(problems.is_empty(), "crate graph:\n{}", problems.join("\n"));
}

fn layer_of(name: &str) -> Option<usize> {
    CRATES.iter().position(|l| l.contains(&name))
}
