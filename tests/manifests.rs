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
    (
        "lichen-k3s.yaml",
        "/var/lib/rancher/k3s/data/current/bin",
        "/var/lib/rancher/k3s/agent/etc/cni/net.d",
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
        // the install step writes into those host directories
        let install = m.list(&format!("{pod}.initContainers[0].command"));
        assert_eq!(install.get(1), Some(&"install"), "{file}: {install:?}");
        let mounts = |c: &str| -> BTreeMap<&str, &str> {
            (0..)
                .map_while(|i| {
                    let n = get(&format!("{c}.volumeMounts[{i}].name"))?;
                    Some((n, get(&format!("{c}.volumeMounts[{i}].mountPath"))?))
                })
                .collect()
        };
        let init = mounts("initContainers[0]");
        let arg = |args: &[&str], flag: &str| {
            let i = args.iter().position(|a| a == &flag).expect(flag);
            args[i + 1].to_owned()
        };
        assert_eq!(
            Some(&arg(&install, "--bin-dir").as_str()),
            init.get("cni-bin")
        );
        assert_eq!(
            Some(&arg(&install, "--conf-dir").as_str()),
            init.get("cni-conf")
        );
        // the agent: from the API in-cluster, its node name from the downward API, liveness
        // from its /healthz, the capabilities it needs
        let agent = m.list(&format!("{pod}.containers[0].command"));
        assert_eq!(agent.get(1), Some(&"agent"), "{file}");
        assert!(agent.contains(&"--kube"), "{file}: {agent:?}");
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
        let agent_mounts = mounts("containers[0]");
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
        let nc = lichen::agent::netconf::NetConf::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("{file}: net-conf.json: {e}"));
        assert_eq!(nc.network, [network.parse().unwrap()], "{file}");
    }
}
