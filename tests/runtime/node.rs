//! One Kubernetes node of the runtime test: a node namespace of the test cluster, a mount
//! namespace laid out like a k3s or microk8s node (per-node directories bound over the
//! distribution's paths), Debian's containerd with its CRI plugin in both, and the DaemonSet's
//! containers run as a kubelet would (tests/runtime/daemonset.py). The CRI is driven with
//! tests/runtime/cri.py. Everything is undone on drop, also when the test fails (node/teardown.rs).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::cluster::{wait_for, ClusterNode, API_IP, API_TOKEN};
use crate::common::{kube_api::PKI, BIN, REF_PLUGINS};
use crate::layout::{
    get, key_values, run_ok, DaemonSet, Fill, Layout, MountPoints, COMMON, IMAGE, PYTHON,
    RUNTIME_DIR,
};

#[path = "node/teardown.rs"]
mod teardown;

/// containerd's socket as the node sees it (the node's own /run/containerd).
const SOCKET: &str = "/run/containerd/containerd.sock";

/// A sandbox the test started: its id, address and (host) pid, whose netns is the pod's.
pub struct Pod {
    pub id: String,
    /// The sandbox's IP as the CRI reports it (the IPv4 one in dual-stack).
    pub ip: String,
    /// Its `additional_ips` (the IPv6 one in dual-stack).
    pub more_ips: Vec<String>,
    pub netns: PathBuf,
}

pub struct RuntimeNode {
    pub name: String,
    pub ip: String,
    /// Every pod subnet of the node (both families in dual-stack).
    pub subnets: Vec<String>,
    ns_name: String,
    pub dir: PathBuf,
    /// Node path → the per-node directory bound over it.
    binds: Vec<(String, PathBuf)>,
    holder: Child,
    containerd: Option<Child>,
    containers: Vec<Child>,
    cgroup: String,
    layout_conf_dir: &'static str,
}

impl RuntimeNode {
    /// The node's mount namespace (its directories bound per node, `extra` paths too unless a
    /// bound one covers them), containerd started in it with `image` imported.
    pub fn start(
        layout: &Layout,
        node: &ClusterNode,
        site: &Path,
        mounts: &mut MountPoints,
        extra: &[String],
        image: &Path,
    ) -> RuntimeNode {
        let dir = site.join(&node.name);
        let (binds, script) = bind_script(layout, &dir, mounts, extra);
        // Forwarding on, as k3s sets it on every node (k3s pkg/agent/syssetup/setup.go:
        // net/ipv4/conf/{all,default}/forwarding = 1) and Kubernetes requires of a node.
        let fwd = [
            "-qw",
            "net.ipv4.conf.all.forwarding=1",
            "net.ipv4.conf.default.forwarding=1",
        ];
        assert!(node.ns.exec("sysctl", &fwd).unwrap().status.success());
        let holder = node
            .ns
            .command("unshare")
            .unwrap()
            .args(["-m", "--propagation", "private", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let mut n = RuntimeNode {
            name: node.name.clone(),
            ip: node.ip.clone(),
            subnets: node.subnets.clone(),
            ns_name: node.ns.name.clone(),
            cgroup: format!("/{}", testkit::unique_name("lichen-rt", &node.name)),
            dir,
            binds,
            holder,
            containerd: None,
            containers: Vec::new(),
            layout_conf_dir: layout.conf_dir(),
        };
        n.wait_for_mounts();
        n.start_containerd(layout);
        n.import_image(image);
        n
    }

    /// Until the holder of the mount namespace has bound everything and sleeps.
    fn wait_for_mounts(&mut self) {
        let pid = self.holder.id();
        wait_for(
            "the node's mount namespace",
            Duration::from_secs(10),
            || {
                if let Ok(Some(st)) = self.holder.try_wait() {
                    panic!("mount namespace of {}: {st}", self.name);
                }
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            },
        );
    }

    fn import_image(&self, image: &Path) {
        run_ok(self.nsenter("ctr").args([
            "-a",
            SOCKET,
            "-n",
            "k8s.io",
            "images",
            "import",
            "--snapshotter",
            "native",
            image.to_str().unwrap(),
        ]));
    }

    fn start_containerd(&mut self, layout: &Layout) {
        let cni = layout.cri_cni.map_or(String::new(), |(bin, conf)| {
            format!("  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"{bin}\"\n    conf_dir = \"{conf}\"\n")
        });
        // Its own root, state and socket (all bound per node); only the native snapshotter;
        // the sandbox image never pulled; no oom_score_adj below the test's own (not allowed here).
        let config = format!(
            r#"version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{SOCKET}"
[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  stream_server_address = "127.0.0.1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
{cni}"#
        );
        let path = self.dir.join("containerd.toml");
        fs::write(&path, config).unwrap();
        let log = fs::File::create(self.dir.join("containerd.log")).unwrap();
        let child = self
            .nsenter("containerd")
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("containerd");
        self.containerd = Some(child);
        wait_for("containerd's CRI", Duration::from_secs(30), || {
            self.cri(&["status"])
                .is_ok_and(|s| get(&s, "RuntimeReady") == "true")
        });
    }

    /// `program` run in the node's network and mount namespaces.
    pub fn nsenter(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args([
            "-t",
            &self.holder.id().to_string(),
            "-m",
            "-n",
            "--",
            program,
        ]);
        c
    }

    /// A CRI call through cri.py, run on the node as the kubelet would.
    pub fn cri(&self, args: &[&str]) -> Result<Vec<(String, String)>, String> {
        let mut c = self.nsenter(PYTHON);
        c.arg(format!("{RUNTIME_DIR}/cri.py"))
            .arg(SOCKET)
            .args(args);
        key_values(&mut c)
    }

    /// CRI `Status`: (NetworkReady, its message).
    pub fn network_ready(&self) -> (bool, String) {
        let s = self.cri(&["status"]).expect("CRI Status");
        (
            get(&s, "NetworkReady") == "true",
            get(&s, "NetworkReady.message").to_owned(),
        )
    }

    /// The files in the directory containerd reads conflists from.
    pub fn conf_files(&self) -> Vec<String> {
        let dir = self.own(self.layout_conf_dir);
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// The per-node directory bound over `path`.
    pub fn own(&self, path: &str) -> &Path {
        &self.binds.iter().find(|(p, _)| p == path).unwrap().1
    }

    /// Runs one of the DaemonSet's containers: to completion (init) or in the background.
    pub fn run_container(&mut self, ds: &DaemonSet, name: &str, background: bool) {
        let root = self.dir.join(format!("{name}-root"));
        let log = self.dir.join(format!("{name}.log"));
        let mut c = Command::new(PYTHON);
        c.arg(format!("{RUNTIME_DIR}/daemonset.py"))
            .args([&ds.manifest, "run", name, &self.name, &self.ip])
            .arg(self.holder.id().to_string())
            .arg(BIN)
            .arg(&root)
            .args([API_TOKEN, &format!("{PKI}/ca.crt"), API_IP, "6443"])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::options().append(true).open(&log).unwrap());
        if let Some(m) = &ds.net_conf_merge {
            c.env("NETCONF_MERGE", m);
        }
        let mut child = c.spawn().expect("daemonset.py");
        if background {
            self.containers.push(child);
            return;
        }
        let st = child.wait().unwrap();
        assert!(
            st.success(),
            "{}: container {name} failed ({st}):\n{}",
            self.name,
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// RunPodSandbox, then its address and namespace from PodSandboxStatus.
    pub fn run_pod(&self, name: &str, ports: &[&str]) -> Pod {
        let uid = format!("uid-{}-{name}", self.name);
        let logs = self.dir.join("pod-logs").join(name);
        let mut args = vec![
            "run",
            name,
            &uid,
            "default",
            logs.to_str().unwrap(),
            &self.cgroup,
        ];
        args.extend(ports);
        let id = self
            .cri(&args)
            .unwrap_or_else(|e| panic!("{}: RunPodSandbox {name}: {e}", self.name));
        let id = get(&id, "id").to_owned();
        let st = self.cri(&["inspect", &id]).expect("PodSandboxStatus");
        assert_eq!(get(&st, "state"), "READY", "{name} on {}", self.name);
        Pod {
            ip: get(&st, "ip").to_owned(),
            more_ips: st
                .iter()
                .filter(|(k, _)| k == "additional_ip")
                .map(|(_, v)| v.clone())
                .collect(),
            netns: PathBuf::from(format!("/proc/{}/ns/net", get(&st, "pid"))),
            id,
        }
    }

    /// StopPodSandbox then RemovePodSandbox.
    pub fn remove_pod(&self, pod: &Pod) {
        for verb in ["stop", "remove"] {
            self.cri(&[verb, &pod.id])
                .unwrap_or_else(|e| panic!("{}: {verb} {}: {e}", self.name, pod.id));
        }
    }

    /// The lease files (names that parse as addresses) under the node's /var/lib/cni/networks.
    pub fn leases(&self) -> Vec<String> {
        let mut v = Vec::new();
        for net in fs::read_dir(self.own("/var/lib/cni").join("networks"))
            .into_iter()
            .flatten()
        {
            for f in fs::read_dir(net.unwrap().path()).into_iter().flatten() {
                let name = f.unwrap().file_name().to_string_lossy().into_owned();
                if name.parse::<std::net::IpAddr>().is_ok() {
                    v.push(name);
                }
            }
        }
        v.sort();
        v
    }

    /// The node's veth devices other than its underlay link.
    pub fn pod_veths(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-n", &self.ns_name, "-o", "link", "show", "type", "veth"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .filter(|n| n != "eth0")
            .collect()
    }

    /// The containers' logs and containerd's errors and warnings (last lines of each).
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for e in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".log") {
                continue;
            }
            let text = fs::read_to_string(e.path()).unwrap_or_default();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| {
                    name != "containerd.log"
                        || l.contains("level=error")
                        || l.contains("level=warn")
                })
                .collect();
            s += &format!("--- {} {name}:\n", self.name);
            for l in &lines[lines.len().saturating_sub(40)..] {
                s += l;
                s.push('\n');
            }
        }
        s
    }
}

/// The node's paths (the common ones, the layout's, and `extra` unless a bound one covers
/// it), each with its own directory under `dir`: (node path, own dir) pairs and the script
/// that binds them and then holds the mount namespace.
fn bind_script(
    layout: &Layout,
    dir: &Path,
    mounts: &mut MountPoints,
    extra: &[String],
) -> (Vec<(String, PathBuf)>, String) {
    let mut paths: Vec<(&str, Fill)> = COMMON.iter().map(|p| (*p, Fill::Empty)).collect();
    paths.extend(layout.dirs.iter().copied());
    for p in extra {
        let covered = paths
            .iter()
            .any(|(b, _)| Path::new(p).starts_with(b) || Path::new(b).starts_with(p.as_str()));
        if !covered {
            paths.push((p, Fill::Empty));
        }
    }
    let mut binds = Vec::new();
    let mut script = String::from("set -e\n");
    for (path, fill) in paths {
        let own = dir.join("fs").join(path.trim_start_matches('/'));
        fs::create_dir_all(&own).unwrap();
        if fill == Fill::Plugins {
            for e in fs::read_dir(REF_PLUGINS).unwrap() {
                let e = e.unwrap();
                std::os::unix::fs::symlink(e.path(), own.join(e.file_name())).unwrap();
            }
        }
        mounts.ensure(Path::new(path));
        script += &format!("mount --bind '{}' '{path}'\n", own.display());
        binds.push((path.to_owned(), own));
    }
    script += "exec sleep infinity\n";
    (binds, script)
}
