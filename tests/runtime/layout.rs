//! How the runtime test lays out a k3s or a microk8s node, what it reads from a shipped manifest
//! (through tests/runtime/daemonset.py, with a YAML parser), the sandbox image it builds, and the
//! host mount points it creates (and removes).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const RUNTIME_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime");
pub const CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf");
pub const PYTHON: &str = "/usr/bin/python3";
/// The sandbox image every node's containerd holds (built by [`pause_image`]; never pulled).
pub const IMAGE: &str = "docker.io/lichen-test/pause:1";

/// What a distribution directory holds when the node boots.
#[derive(Clone, Copy, PartialEq)]
pub enum Fill {
    Empty,
    /// Links to Debian's reference plugins, as the distribution ships its own.
    Plugins,
}

/// How a distribution lays out a node for its containerd.
pub struct Layout {
    pub name: &'static str,
    /// The manifest in conf/.
    pub manifest: &'static str,
    pub dirs: &'static [(&'static str, Fill)],
    /// The `[plugins."io.containerd.grpc.v1.cri".cni]` bin_dir and conf_dir the distribution
    /// writes, None for none (containerd's defaults).
    pub cri_cni: Option<(&'static str, &'static str)>,
}

impl Layout {
    /// The directory containerd reads conflists from (containerd's default without a section).
    pub fn conf_dir(&self) -> &'static str {
        self.cri_cni.map_or("/etc/cni/net.d", |c| c.1)
    }
}

/// Every node's own: the runtime's state, its network namespaces, CNI's state, Lichen's run dir.
pub const COMMON: &[&str] = &[
    "/var/lib/containerd",
    "/run/containerd",
    "/run/netns",
    "/var/lib/cni",
    "/run/lichen",
];

/// k3s with `--flannel-backend=none`: its containerd template writes no CNI section (k3s
/// pkg/agent/templates/templates_linux.go, inside `if not .NodeConfig.NoFlannel`), so containerd
/// reads /opt/cni/bin (empty) and /etc/cni/net.d; k3s's plugins stay in its data dir.
pub const K3S: Layout = Layout {
    name: "k3s",
    manifest: "lichen-k3s.yaml",
    dirs: &[
        ("/opt/cni/bin", Fill::Empty),
        ("/etc/cni/net.d", Fill::Empty),
        ("/var/lib/rancher/k3s/data/cni", Fill::Plugins),
    ],
    cri_cni: None,
};

/// microk8s: its containerd template sets bin_dir `${SNAP_DATA}/opt/cni/bin` and conf_dir
/// `${SNAP_DATA}/args/cni-network` (canonical/microk8s
/// microk8s-resources/default-args/containerd-template.toml); the bin dir holds its plugins.
pub const MICROK8S: Layout = Layout {
    name: "microk8s",
    manifest: "lichen-microk8s.yaml",
    dirs: &[
        ("/var/snap/microk8s/current/opt/cni/bin", Fill::Plugins),
        ("/var/snap/microk8s/current/args/cni-network", Fill::Empty),
    ],
    cri_cni: Some((
        "/var/snap/microk8s/current/opt/cni/bin",
        "/var/snap/microk8s/current/args/cni-network",
    )),
};

/// What the test needs to know of a manifest's DaemonSet (read by daemonset.py with a YAML parser).
pub struct DaemonSet {
    pub manifest: String,
    /// net-conf.json's `Network` and `SubnetLen`.
    pub network: String,
    pub subnet_len: u8,
    /// net-conf.json's `IPv6Network` and `IPv6SubnetLen`, if it has them.
    pub network6: Option<(String, u8)>,
    /// Keys merged into the ConfigMap's net-conf.json before anything runs (a JSON object; the
    /// user's edit of the manifest before `kubectl apply`), read by daemonset.py.
    pub net_conf_merge: Option<String>,
    pub init: Vec<String>,
    pub containers: Vec<String>,
    pub host_paths: Vec<String>,
}

impl DaemonSet {
    pub fn load(file: &str) -> DaemonSet {
        DaemonSet::load_merged(file, None)
    }

    /// The manifest with `merge` merged into its net-conf.json (see `net_conf_merge`).
    pub fn load_merged(file: &str, merge: Option<&str>) -> DaemonSet {
        let manifest = format!("{CONF}/{file}");
        let mut c = Command::new(PYTHON);
        c.arg(format!("{RUNTIME_DIR}/daemonset.py"))
            .args([&manifest, "facts"]);
        if let Some(m) = merge {
            c.env("NETCONF_MERGE", m);
        }
        let facts = key_values(&mut c).expect("daemonset.py facts");
        let all = |k: &str| -> Vec<String> {
            facts
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let one = |k: &str| all(k).pop().unwrap_or_else(|| panic!("{file}: no {k}"));
        DaemonSet {
            network: one("network"),
            subnet_len: one("subnet_len").parse().unwrap(),
            network6: all("network6")
                .pop()
                .map(|n| (n, one("subnet_len6").parse().unwrap())),
            net_conf_merge: merge.map(str::to_owned),
            init: all("init"),
            containers: all("container"),
            host_paths: all("hostpath"),
            manifest,
        }
    }
}

/// Runs a helper of tests/runtime/ and reads its `key=value` lines (Err: its stderr).
pub fn python(script: &str, args: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut c = Command::new(PYTHON);
    c.arg(format!("{RUNTIME_DIR}/{script}")).args(args);
    key_values(&mut c)
}

/// Runs `c` and reads the `key=value` lines it prints (Err: its stderr).
pub fn key_values(c: &mut Command) -> Result<Vec<(String, String)>, String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{c:?}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

pub fn get<'a>(kv: &'a [(String, String)], key: &str) -> &'a str {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {kv:?}"))
}

pub fn run_ok(c: &mut Command) {
    let out = c.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the sandbox image in `dir`: a static C `pause()` loop packed as an OCI archive.
pub fn pause_image(dir: &Path) -> PathBuf {
    let (bin, tar) = (dir.join("pause"), dir.join("pause.tar"));
    run_ok(
        Command::new("gcc")
            .args(["-static", "-Os", "-o"])
            .arg(&bin)
            .arg(format!("{RUNTIME_DIR}/pause.c")),
    );
    let (b, t) = (bin.to_str().unwrap(), tar.to_str().unwrap());
    python("image.py", &[b, t, IMAGE]).expect("image.py");
    tar
}

/// Host directories the test created as mount points: removed (if empty) when dropped, deepest
/// first, so the host filesystem is left as it was.
#[derive(Default)]
pub struct MountPoints(Vec<PathBuf>);

impl MountPoints {
    pub fn ensure(&mut self, path: &Path) {
        let mut missing: Vec<&Path> = path.ancestors().take_while(|p| !p.exists()).collect();
        missing.reverse();
        for p in missing {
            fs::create_dir(p).unwrap();
            self.0.push(p.to_owned());
        }
    }
}

impl Drop for MountPoints {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = fs::remove_dir(p);
        }
    }
}
