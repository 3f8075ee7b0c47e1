//! The manifests in conf/ are well-formed YAML (parsed by Debian's python3-yaml, a full YAML
//! parser), hold the objects a CNI DaemonSet needs, and grant exactly the API calls the code
//! makes (`lichen::k8s::rbac`): nothing missing, nothing extra.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use lichen::k8s::rbac::{self, Call};

#[path = "manifests/daemonset.rs"]
mod daemonset;
use daemonset::*;

const CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf");

/// Flattens a multi-document manifest into `path=value` facts (one per scalar, list items
/// numbered), so the test can read it without a YAML parser of its own.
const FLATTEN: &str = r#"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
def walk(prefix, v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(prefix + "." + str(k), x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(prefix + "[" + str(i) + "]", x)
    else:
        print(prefix + "=" + ("" if v is None else str(v).replace("\n", "\\n")))
for i, d in enumerate(docs):
    walk("doc" + str(i), d)
"#;

struct Manifest {
    name: String,
    facts: BTreeMap<String, String>,
}

impl Manifest {
    fn load(file: &str) -> Manifest {
        let path = format!("{CONF}/{file}");
        let out = Command::new("/usr/bin/python3")
            .args(["-c", FLATTEN, &path])
            .output()
            .expect("python3 (scripts/setup.sh installs python3-yaml)");
        assert!(
            out.status.success(),
            "{file} is not well-formed YAML: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let facts = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_owned(), v.replace("\\n", "\n"))
            })
            .collect();
        Manifest {
            name: file.to_owned(),
            facts,
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.facts.get(key).map(String::as_str)
    }

    /// The document of `kind` (its `docN` prefix).
    fn doc(&self, kind: &str) -> String {
        let docs: Vec<&str> = self
            .facts
            .iter()
            .filter(|(k, v)| k.ends_with(".kind") && k.matches('.').count() == 1 && *v == kind)
            .map(|(k, _)| k.split('.').next().unwrap())
            .collect();
        assert_eq!(docs.len(), 1, "{}: one {kind}", self.name);
        docs[0].to_owned()
    }

    /// The values of a list under `prefix` (`prefix[0]`, `prefix[1]`, …).
    fn list(&self, prefix: &str) -> Vec<&str> {
        (0..)
            .map_while(|i| self.get(&format!("{prefix}[{i}]")))
            .collect()
    }

    /// The ClusterRole's rules as (apiGroup, resource, verb).
    fn rules(&self) -> BTreeSet<Call> {
        let role = self.doc("ClusterRole");
        let mut out = BTreeSet::new();
        for r in 0.. {
            let rule = format!("{role}.rules[{r}]");
            if self.get(&format!("{rule}.verbs[0]")).is_none() {
                break;
            }
            for g in self.list(&format!("{rule}.apiGroups")) {
                for res in self.list(&format!("{rule}.resources")) {
                    for v in self.list(&format!("{rule}.verbs")) {
                        out.insert(Call {
                            group: leak(g),
                            resource: leak(res),
                            verb: leak(v),
                        });
                    }
                }
            }
        }
        out
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// (manifest, CNI binary dir, CNI config dir, default cluster network).
const MANIFESTS: &[(&str, &str, &str, &str)] = &[
    // k3s with --flannel-backend=none: containerd's defaults (NOTES.md, "k3s and microk8s")
    (
        "lichen-k3s.yaml",
        "/opt/cni/bin",
        "/etc/cni/net.d",
        "10.42.0.0/16",
    ),
    (
        "lichen-microk8s.yaml",
        "/var/snap/microk8s/current/opt/cni/bin",
        "/var/snap/microk8s/current/args/cni-network",
        "10.1.0.0/16",
    ),
];

#[test]
fn every_manifest_in_conf_is_checked() {
    let mut yamls: Vec<String> = std::fs::read_dir(CONF)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    yamls.sort();
    let checked: Vec<&str> = MANIFESTS.iter().map(|m| m.0).collect();
    assert_eq!(yamls, checked);
}

#[test]
fn rbac_grants_exactly_what_the_code_calls() {
    let mut wanted: BTreeSet<Call> = rbac::ROUTING.iter().copied().collect();
    wanted.extend(rbac::POLICY.iter().copied());
    for (file, ..) in MANIFESTS {
        let m = Manifest::load(file);
        let granted = m.rules();
        let missing: Vec<_> = wanted.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&wanted).collect();
        assert!(
            missing.is_empty(),
            "{file}: the ClusterRole lacks {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "{file}: the ClusterRole grants more: {extra:?}"
        );
        // bound to the DaemonSet's service account
        let (sa, binding, ds) = (
            m.doc("ServiceAccount"),
            m.doc("ClusterRoleBinding"),
            m.doc("DaemonSet"),
        );
        let sa_name = m.get(&format!("{sa}.metadata.name")).unwrap();
        let role = m.doc("ClusterRole");
        assert_eq!(
            m.get(&format!("{binding}.roleRef.name")),
            m.get(&format!("{role}.metadata.name"))
        );
        assert_eq!(
            m.get(&format!("{binding}.roleRef.kind")),
            Some("ClusterRole")
        );
        assert_eq!(m.get(&format!("{binding}.subjects[0].name")), Some(sa_name));
        assert_eq!(
            m.get(&format!("{binding}.subjects[0].namespace")),
            m.get(&format!("{sa}.metadata.namespace"))
        );
        assert_eq!(
            m.get(&format!("{ds}.spec.template.spec.serviceAccountName")),
            Some(sa_name)
        );
    }
}

#[test]
fn daemonset_installs_and_runs_the_agent_on_every_node() {
    for (file, bin_dir, conf_dir, network) in MANIFESTS {
        let m = Manifest::load(file);
        let s = PodSpec::new(&m, file);
        assert_placement(&s, &m, bin_dir, conf_dir);
        assert_install(&s);
        assert_agent(&s);
        assert_images(&s);
        assert_net_conf(&s, &m, network);
    }
}

/// The repository says one thing about where runtimes look: no file names k3s's private CNI
/// dirs, which containerd never reads once Flannel is off.
#[test]
fn no_file_names_k3s_flannel_only_cni_dirs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("git")
        .args([
            "-C",
            root,
            "ls-files",
            "README.md",
            "conf",
            "src",
            "images",
            "scripts",
        ])
        .output()
        .expect("git");
    let files = String::from_utf8(out.stdout).unwrap();
    assert!(files.lines().count() > 10, "git ls-files listed {files}");
    for f in files.lines() {
        let Ok(text) = std::fs::read_to_string(format!("{root}/{f}")) else {
            continue;
        };
        for stale in ["agent/etc/cni/net.d", "k3s/data/current/bin"] {
            assert!(!text.contains(stale), "{f} names {stale}");
        }
    }
}
