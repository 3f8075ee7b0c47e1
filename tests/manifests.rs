//! The manifests in conf/ are well-formed YAML (parsed by Debian's python3-yaml, a full YAML
//! parser), hold the objects a CNI DaemonSet needs, and grant exactly the API calls the code
//! makes (`lichen::k8s::rbac`): nothing missing, nothing extra.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use lichen::k8s::rbac::{self, Call};

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
        let ds = m.doc("DaemonSet");
        let pod = format!("{ds}.spec.template.spec");
        let get = |k: &str| m.get(&format!("{pod}.{k}"));
        assert_eq!(get("hostNetwork"), Some("True"), "{file}");
        assert_eq!(get("tolerations[0].operator"), Some("Exists"), "{file}");
        assert_eq!(
            m.get(&format!("{ds}.spec.selector.matchLabels.app")),
            m.get(&format!("{ds}.spec.template.metadata.labels.app"))
        );
        // volumes by name → host path
        let volumes: BTreeMap<&str, &str> = (0..)
            .map_while(|i| get(&format!("volumes[{i}].name")).map(|n| (i, n)))
            .filter_map(|(i, n)| Some((n, get(&format!("volumes[{i}].hostPath.path"))?)))
            .collect();
        assert_eq!(volumes.get("cni-bin"), Some(bin_dir), "{file}");
        assert_eq!(volumes.get("cni-conf"), Some(conf_dir), "{file}");
        let mounts = |c: &str| -> BTreeMap<&str, &str> {
            (0..)
                .map_while(|i| {
                    let n = get(&format!("{c}.volumeMounts[{i}].name"))?;
                    Some((n, get(&format!("{c}.volumeMounts[{i}].mountPath"))?))
                })
                .collect()
        };
        let arg = |args: &[&str], flag: &str| {
            let i = args.iter().position(|a| a == &flag).expect(flag);
            args[i + 1].to_owned()
        };
        let within = |path: &str, mounts: &BTreeMap<&str, &str>, volume: &str| {
            let dir = mounts
                .get(volume)
                .unwrap_or_else(|| panic!("{file}: no {volume} mount"));
            assert!(
                path.starts_with(dir),
                "{file}: {path} is not in the {volume} mount {dir}"
            );
        };
        // the install step: the binary into the host's CNI bin dir, the conflist staged in the
        // run dir the agent shares, plugins linked from dirs mounted at their host path (so the
        // links resolve on the host), the operator's conflist from the ConfigMap
        let install = m.list(&format!("{pod}.initContainers[0].command"));
        assert_eq!(install.get(1), Some(&"install"), "{file}: {install:?}");
        let init = mounts("initContainers[0]");
        within(&arg(&install, "--bin-dir"), &init, "cni-bin");
        within(&arg(&install, "--stage"), &init, "run");
        within(&arg(&install, "--custom-conflist"), &init, "config");
        for (i, a) in install.iter().enumerate() {
            if *a == "--plugins-from" {
                let dir = install[i + 1];
                let volume = init.iter().find(|(_, p)| **p == dir).map(|(v, _)| *v);
                let volume = volume.unwrap_or_else(|| panic!("{file}: {dir} is not mounted"));
                assert_eq!(
                    volumes.get(volume),
                    Some(&dir),
                    "{file}: mounted at its host path"
                );
            }
        }
        assert!(
            !install.contains(&"--conf-dir"),
            "{file}: the installer must not write the conflist: the agent does, when ready"
        );
        // the agent: from the API in-cluster, its node name from the downward API, liveness
        // from its /healthz, readiness from /readyz, the capabilities it needs; it writes the
        // staged conflist into the host's conf dir once the node is programmed
        let agent = m.list(&format!("{pod}.containers[0].command"));
        assert_eq!(agent.get(1), Some(&"agent"), "{file}");
        assert!(agent.contains(&"--kube"), "{file}: {agent:?}");
        let agent_mounts = mounts("containers[0]");
        within(&arg(&agent, "--cni-conf-dir"), &agent_mounts, "cni-conf");
        assert_eq!(
            arg(&agent, "--cni-conflist"),
            arg(&install, "--stage"),
            "{file}"
        );
        within(&arg(&agent, "--subnet-file"), &agent_mounts, "run");
        assert_eq!(init.get("run"), agent_mounts.get("run"), "{file}");
        assert_eq!(
            get("containers[0].readinessProbe.httpGet.path"),
            Some("/readyz")
        );
        // the image: what images/build.sh makes and README's steps import on every node
        let image = format!("localhost/lichen:{}", env!("CARGO_PKG_VERSION"));
        for c in ["initContainers[0]", "containers[0]"] {
            assert_eq!(
                get(&format!("{c}.image")),
                Some(image.as_str()),
                "{file} {c}"
            );
            assert_eq!(
                get(&format!("{c}.imagePullPolicy")),
                Some("IfNotPresent"),
                "{file} {c}: a local image must not be pulled"
            );
        }
        assert_eq!(get("containers[0].env[0].name"), Some("NODE_NAME"));
        assert_eq!(
            get("containers[0].env[0].valueFrom.fieldRef.fieldPath"),
            Some("spec.nodeName")
        );
        assert_eq!(
            get("containers[0].livenessProbe.httpGet.path"),
            Some("/healthz")
        );
        let listen = arg(&agent, "--listen");
        assert_eq!(
            get("containers[0].livenessProbe.httpGet.port"),
            listen.rsplit(':').next()
        );
        let caps = m.list(&format!(
            "{pod}.containers[0].securityContext.capabilities.add"
        ));
        assert!(caps.contains(&"NET_ADMIN"), "{file}: {caps:?}");
        // the net-conf the agent reads is the ConfigMap's, and it parses
        let net_conf = arg(&agent, "--net-conf");
        let dir = agent_mounts.get("config").expect("the config volume");
        assert!(net_conf.starts_with(dir), "{net_conf} in {dir}");
        let cm = m.doc("ConfigMap");
        assert_eq!(
            volumes.get("config").copied(),
            None,
            "the config volume is the ConfigMap, not a host path"
        );
        let cm_name = m.get(&format!("{cm}.metadata.name"));
        let config_volume = (0..)
            .find(|i| get(&format!("volumes[{i}].name")) == Some("config"))
            .unwrap();
        assert_eq!(
            get(&format!("volumes[{config_volume}].configMap.name")),
            cm_name
        );
        let text = m.get(&format!("{cm}.data.net-conf.json")).unwrap();
        let nc = lichen::agent::netconf::ClusterNetwork::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("{file}: net-conf.json: {e}"));
        assert_eq!(nc.network, [network.parse().unwrap()], "{file}");
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
