//! The DaemonSet's checks: where it runs, its volumes and mounts, the install step, the agent's
//! command line, probes and capabilities, the image, and the net-conf it reads.

use std::collections::BTreeMap;

use super::Manifest;

/// The DaemonSet's pod template in one manifest, with its volumes by name → host path.
pub struct PodSpec<'a> {
    m: &'a Manifest,
    file: &'a str,
    /// The facts' prefix of the pod template's spec.
    pod: String,
    volumes: BTreeMap<&'a str, &'a str>,
}

impl<'a> PodSpec<'a> {
    pub fn new(m: &'a Manifest, file: &'a str) -> PodSpec<'a> {
        let pod = format!("{}.spec.template.spec", m.doc("DaemonSet"));
        let mut spec = PodSpec {
            m,
            file,
            pod,
            volumes: BTreeMap::new(),
        };
        spec.volumes = (0..)
            .map_while(|i| spec.get(&format!("volumes[{i}].name")).map(|n| (i, n)))
            .filter_map(|(i, n)| Some((n, spec.get(&format!("volumes[{i}].hostPath.path"))?)))
            .collect();
        spec
    }

    fn get(&self, k: &str) -> Option<&'a str> {
        self.m.get(&format!("{}.{k}", self.pod))
    }

    fn list(&self, k: &str) -> Vec<&'a str> {
        self.m.list(&format!("{}.{k}", self.pod))
    }

    /// Container `c`'s mounts by volume name → mount path.
    fn mounts(&self, c: &str) -> BTreeMap<&'a str, &'a str> {
        (0..)
            .map_while(|i| {
                let n = self.get(&format!("{c}.volumeMounts[{i}].name"))?;
                Some((n, self.get(&format!("{c}.volumeMounts[{i}].mountPath"))?))
            })
            .collect()
    }

    /// `path` is inside the mount of `volume`.
    #[track_caller]
    fn within(&self, path: &str, mounts: &BTreeMap<&str, &str>, volume: &str) {
        let file = self.file;
        let dir = mounts
            .get(volume)
            .unwrap_or_else(|| panic!("{file}: no {volume} mount"));
        assert!(
            path.starts_with(dir),
            "{file}: {path} is not in the {volume} mount {dir}"
        );
    }
}

/// The value following `flag` in a command line.
fn arg(args: &[&str], flag: &str) -> String {
    let i = args.iter().position(|a| a == &flag).expect(flag);
    args[i + 1].to_owned()
}

/// On every node (host network, every taint tolerated), its pods selected by their label, and
/// the CNI dirs mounted from the host.
pub fn assert_placement(s: &PodSpec, m: &Manifest, bin_dir: &str, conf_dir: &str) {
    let (file, ds) = (s.file, m.doc("DaemonSet"));
    assert_eq!(s.get("hostNetwork"), Some("True"), "{file}");
    assert_eq!(s.get("tolerations[0].operator"), Some("Exists"), "{file}");
    assert_eq!(
        m.get(&format!("{ds}.spec.selector.matchLabels.app")),
        m.get(&format!("{ds}.spec.template.metadata.labels.app"))
    );
    assert_eq!(s.volumes.get("cni-bin"), Some(&bin_dir), "{file}");
    assert_eq!(s.volumes.get("cni-conf"), Some(&conf_dir), "{file}");
}

/// The install step: the binary into the host's CNI bin dir, the conflist staged in the run
/// dir the agent shares, plugins linked from dirs mounted at their host path (so the links
/// resolve on the host), the operator's conflist from the ConfigMap.
pub fn assert_install(s: &PodSpec) {
    let file = s.file;
    let install = s.list("initContainers[0].command");
    assert_eq!(install.get(1), Some(&"install"), "{file}: {install:?}");
    let init = s.mounts("initContainers[0]");
    s.within(&arg(&install, "--bin-dir"), &init, "cni-bin");
    s.within(&arg(&install, "--stage"), &init, "run");
    s.within(&arg(&install, "--custom-conflist"), &init, "config");
    for (i, a) in install.iter().enumerate() {
        if *a == "--plugins-from" {
            let dir = install[i + 1];
            let volume = init.iter().find(|(_, p)| **p == dir).map(|(v, _)| *v);
            let volume = volume.unwrap_or_else(|| panic!("{file}: {dir} is not mounted"));
            assert_eq!(
                s.volumes.get(volume),
                Some(&dir),
                "{file}: mounted at its host path"
            );
        }
    }
    assert!(
        !install.contains(&"--conf-dir"),
        "{file}: the installer must not write the conflist: the agent does, when ready"
    );
}

/// The agent: from the API in-cluster, its node name from the downward API, liveness from its
/// /healthz, readiness from /readyz, the capabilities it needs; it writes the staged conflist
/// into the host's conf dir once the node is programmed.
pub fn assert_agent(s: &PodSpec) {
    let file = s.file;
    let install = s.list("initContainers[0].command");
    let agent = s.list("containers[0].command");
    assert_eq!(agent.get(1), Some(&"agent"), "{file}");
    assert!(agent.contains(&"--kube"), "{file}: {agent:?}");
    let agent_mounts = s.mounts("containers[0]");
    s.within(&arg(&agent, "--cni-conf-dir"), &agent_mounts, "cni-conf");
    assert_eq!(
        arg(&agent, "--cni-conflist"),
        arg(&install, "--stage"),
        "{file}"
    );
    s.within(&arg(&agent, "--subnet-file"), &agent_mounts, "run");
    assert_eq!(
        s.mounts("initContainers[0]").get("run"),
        agent_mounts.get("run"),
        "{file}"
    );
    assert_eq!(
        s.get("containers[0].readinessProbe.httpGet.path"),
        Some("/readyz")
    );
    assert_eq!(s.get("containers[0].env[0].name"), Some("NODE_NAME"));
    assert_eq!(
        s.get("containers[0].env[0].valueFrom.fieldRef.fieldPath"),
        Some("spec.nodeName")
    );
    assert_eq!(
        s.get("containers[0].livenessProbe.httpGet.path"),
        Some("/healthz")
    );
    let listen = arg(&agent, "--listen");
    assert_eq!(
        s.get("containers[0].livenessProbe.httpGet.port"),
        listen.rsplit(':').next()
    );
    let caps = s.list("containers[0].securityContext.capabilities.add");
    assert!(caps.contains(&"NET_ADMIN"), "{file}: {caps:?}");
    assert_key_file_kept(s, &agent);
}

/// The WireGuard key file (the agent's default path, passed explicitly) lies in a host
/// directory, so a restarted agent container keeps its key and its peers need no update.
fn assert_key_file_kept(s: &PodSpec, agent: &[&str]) {
    let key = arg(agent, "--wireguard-key-file");
    assert_eq!(key, "/var/lib/lichen/wireguard.key", "{}", s.file);
    s.within(&key, &s.mounts("containers[0]"), "state");
    assert_eq!(
        s.volumes.get("state"),
        Some(&"/var/lib/lichen"),
        "{}: the key must outlive the container",
        s.file
    );
}

/// The image: what images/build.sh makes and README's steps import on every node.
pub fn assert_images(s: &PodSpec) {
    let image = format!("localhost/lichen:{}", env!("CARGO_PKG_VERSION"));
    for c in ["initContainers[0]", "containers[0]"] {
        let file = s.file;
        assert_eq!(
            s.get(&format!("{c}.image")),
            Some(image.as_str()),
            "{file} {c}"
        );
        assert_eq!(
            s.get(&format!("{c}.imagePullPolicy")),
            Some("IfNotPresent"),
            "{file} {c}: a local image must not be pulled"
        );
    }
}

/// The net-conf the agent reads is the ConfigMap's, and it parses.
pub fn assert_net_conf(s: &PodSpec, m: &Manifest, network: &str) {
    let file = s.file;
    let net_conf = arg(&s.list("containers[0].command"), "--net-conf");
    let agent_mounts = s.mounts("containers[0]");
    let dir = agent_mounts.get("config").expect("the config volume");
    assert!(net_conf.starts_with(dir), "{net_conf} in {dir}");
    let cm = m.doc("ConfigMap");
    assert_eq!(
        s.volumes.get("config").copied(),
        None,
        "the config volume is the ConfigMap, not a host path"
    );
    let cm_name = m.get(&format!("{cm}.metadata.name"));
    let config_volume = (0..)
        .find(|i| s.get(&format!("volumes[{i}].name")) == Some("config"))
        .unwrap();
    assert_eq!(
        s.get(&format!("volumes[{config_volume}].configMap.name")),
        cm_name
    );
    let text = m.get(&format!("{cm}.data.net-conf.json")).unwrap();
    let nc = lichen::agent::netconf::ClusterNetwork::parse(text.as_bytes())
        .unwrap_or_else(|e| panic!("{file}: net-conf.json: {e}"));
    assert_eq!(nc.network, [network.parse().unwrap()], "{file}");
}
