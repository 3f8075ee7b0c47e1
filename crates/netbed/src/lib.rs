//! The builders `lichen demo` and the tests share (the test harness, crates/testkit, adds the
//! test-only parts on top): named network namespaces with a guard that removes them when
//! dropped, commands run inside one, veth links, an underlay switch (a namespace with a bridge)
//! nodes attach to, a minimal Node object, the `lichen agent` command line, and a plugin
//! invocation made as a runtime makes it. Nothing here touches the namespace the caller is in:
//! every link and address is made inside namespaces created here.
//!
//! Uses `ip` (iproute2) for namespace plumbing; that is for the demo and tests only — the plugin
//! and the agent speak netlink themselves.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique namespace name: `<prefix>-<pid>-<n>-<role>` (kept ≤ 40 bytes).
pub fn unique_name(prefix: &str, role: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}-{role}", std::process::id())
}

/// A named network namespace (`/run/netns/<name>`), deleted on drop.
#[derive(Debug)]
pub struct NamedNs {
    pub name: String,
    pub path: PathBuf,
    keep: bool,
}

impl NamedNs {
    /// Creates the namespace and brings its loopback up.
    pub fn create(name: &str) -> io::Result<NamedNs> {
        run_ok(Command::new("ip").args(["netns", "add", name]))?;
        let ns = NamedNs {
            name: name.to_owned(),
            path: Path::new("/run/netns").join(name),
            keep: false,
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Leave the namespace in place when dropped (`lichen demo --keep`).
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// `ip -n <ns> <args>`, failing with the command's stderr.
    pub fn ip(&self, args: &[&str]) -> io::Result<String> {
        let mut c = Command::new("ip");
        c.arg("-n").arg(&self.name).args(args);
        run_ok(&mut c)
    }

    /// `ip addr add ADDR dev DEV` (ADDR with its prefix); an IPv6 address without duplicate
    /// address detection (the test networks are ours: nothing to wait out).
    pub fn add_addr(&self, dev: &str, addr: &str) -> io::Result<()> {
        let mut args = vec!["addr", "add", addr, "dev", dev];
        if addr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// A command that runs inside this namespace (entered with setns before exec; unlike
    /// `ip netns exec` it does not remount /sys, so it is cheap).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> io::Result<Command> {
        let f = File::open(&self.path)?;
        let mut c = Command::new(program);
        // SAFETY: only async-signal-safe calls (setns) between fork and exec.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(c)
    }

    /// Runs `program args…` inside the namespace and returns its output.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        self.command(program)?
            .args(args)
            .stdin(Stdio::null())
            .output()
    }

    /// Do `count` echo replies from `ip` arrive within `count + 2` seconds (ping sends every
    /// 0.2 s until then, so a first packet lost while a just-made path settles is retried)?
    pub fn ping(&self, ip: &str, count: u32) -> io::Result<bool> {
        let (n, deadline) = (count.to_string(), (count + 2).to_string());
        let out = self.exec("ping", &["-c", &n, "-i", "0.2", "-w", &deadline, ip])?;
        Ok(out.status.success())
    }
}

impl Drop for NamedNs {
    fn drop(&mut self) {
        if !self.keep {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Connects two namespaces with a veth pair (`a_if` in `a`, `b_if` in `b`), both up, with the
/// given addresses (e.g. "198.51.100.1/24"; empty for none).
pub fn veth(
    a: &NamedNs,
    a_if: &str,
    a_addr: &str,
    b: &NamedNs,
    b_if: &str,
    b_addr: &str,
) -> io::Result<()> {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ])?;
    for (ns, ifc, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        if !addr.is_empty() {
            ns.ip(&["addr", "add", addr, "dev", ifc])?;
        }
        ns.ip(&["link", "set", ifc, "up"])?;
    }
    Ok(())
}

/// The underlay: a "switch" namespace with a bridge `sw0` that nodes attach to.
#[derive(Debug)]
pub struct Underlay {
    pub ns: NamedNs,
}

impl Underlay {
    /// Creates the switch namespace `name` with its bridge up.
    #[inline]
    pub fn create(name: &str) -> io::Result<Underlay> {
        let ns = NamedNs::create(name)?;
        ns.ip(&["link", "add", "sw0", "type", "bridge"])?;
        ns.ip(&["link", "set", "sw0", "up"])?;
        Ok(Underlay { ns })
    }

    /// Turns multicast snooping off on the switch, so it floods IPv6 neighbour solicitations to
    /// every port at once instead of waiting for the nodes' MLD reports (for IPv6 underlays).
    pub fn flood_multicast(&self) -> io::Result<()> {
        let args = [
            "link",
            "set",
            "sw0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ];
        self.ns.ip(&args).map(drop)
    }

    /// Wires `node`'s `node_if` (address `addr`, e.g. "198.51.100.11/24"; empty for none) to a
    /// switch port `port` enslaved to the bridge.
    #[inline]
    pub fn attach(&self, node: &NamedNs, node_if: &str, addr: &str, port: &str) -> io::Result<()> {
        veth(node, node_if, addr, &self.ns, port, "")?;
        self.ns.ip(&["link", "set", port, "master", "sw0"])?;
        Ok(())
    }
}

/// Where an agent reads its Nodes from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// `--cluster-dir`: a directory of object files.
    ClusterDir(&'a Path),
    /// `--kubeconfig`: the Kubernetes API.
    Kubeconfig(&'a Path),
}

/// The `lichen agent` command line of one node.
#[derive(Debug, Clone, Copy)]
pub struct AgentArgs<'a> {
    pub node_name: &'a str,
    pub net_conf: &'a Path,
    pub source: Source<'a>,
    pub subnet_file: &'a Path,
    /// `--ipam-dir` (default: the agent's own).
    pub ipam_dir: Option<&'a Path>,
}

impl AgentArgs<'_> {
    /// Appends `agent --node-name … --net-conf … --cluster-dir|--kubeconfig … --subnet-file …
    /// [--ipam-dir …]` to `c` (the lichen binary, or a runner before it).
    #[inline]
    pub fn apply<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.args(["agent", "--node-name", self.node_name, "--net-conf"])
            .arg(self.net_conf);
        match self.source {
            Source::ClusterDir(d) => c.arg("--cluster-dir").arg(d),
            Source::Kubeconfig(k) => c.arg("--kubeconfig").arg(k),
        };
        c.arg("--subnet-file").arg(self.subnet_file);
        if let Some(d) = self.ipam_dir {
            c.arg("--ipam-dir").arg(d);
        }
        c
    }
}

/// A minimal Node object as a cluster-dir file holds it: name, podCIDR(s), InternalIP.
pub fn node_json(name: &str, cidr: &str, ip: &str) -> String {
    node_json_stack(name, &[cidr], &[ip])
}

/// A minimal Node object with one podCIDR and one InternalIP per address family, in the order
/// given (the first podCIDR is also `spec.podCIDR`, as Kubernetes sets it).
pub fn node_json_stack(name: &str, cidrs: &[&str], ips: &[&str]) -> String {
    let quoted: Vec<String> = cidrs.iter().map(|c| format!("\"{c}\"")).collect();
    let internal: Vec<String> = ips
        .iter()
        .map(|ip| format!(r#"{{"type":"InternalIP","address":"{ip}"}}"#))
        .collect();
    format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}"}},"spec":{{"podCIDR":"{}","podCIDRs":[{}]}},"status":{{"addresses":[{}]}}}}"#,
        cidrs[0],
        quoted.join(","),
        internal.join(",")
    )
}

/// One plugin invocation as a runtime makes it.
pub struct Invocation<'a> {
    pub command: &'a str,
    pub container_id: &'a str,
    pub netns: Option<&'a Path>,
    pub ifname: &'a str,
    pub config: &'a str,
    pub cni_path: &'a str,
    pub extra_env: Vec<(&'a str, &'a str)>,
}

impl<'a> Invocation<'a> {
    /// `command` (ADD, DEL…) for pod `pod` (its name is the container ID, its namespace the
    /// netns), interface `eth0`, no extra environment.
    pub fn pod(command: &'a str, pod: &'a NamedNs, config: &'a str, cni_path: &'a str) -> Self {
        Invocation {
            command,
            container_id: &pod.name,
            netns: Some(&pod.path),
            ifname: "eth0",
            config,
            cni_path,
            extra_env: Vec::new(),
        }
    }
}

/// What the plugin answered.
#[derive(Debug)]
pub struct Answer {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the plugin binary `bin` inside `node` (the node's namespace is the plugin's host side).
#[inline]
pub fn invoke(bin: &Path, node: &NamedNs, inv: &Invocation) -> io::Result<Answer> {
    invoke_with(&mut node.command(bin)?, inv)
}

/// Runs the plugin command `c` (made with [`NamedNs::command`] or a runner around it) as a
/// runtime would: a clean environment with CNI_*, the config on stdin.
pub fn invoke_with(c: &mut Command, inv: &Invocation) -> io::Result<Answer> {
    use std::io::Write;
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CNI_COMMAND", inv.command)
        .env("CNI_CONTAINERID", inv.container_id)
        .env("CNI_IFNAME", inv.ifname)
        .env("CNI_PATH", inv.cni_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ns) = inv.netns {
        c.env("CNI_NETNS", ns);
    }
    for (k, v) in &inv.extra_env {
        c.env(k, v);
    }
    let mut child = c.spawn()?;
    // A plugin that refuses its environment may exit before reading stdin: not our error.
    let _ = child
        .stdin
        .take()
        .expect("piped")
        .write_all(inv.config.as_bytes());
    let out = child.wait_with_output()?;
    Ok(Answer {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A command running `bin` inside `ns`, through `$LICHEN_RUNNER` when set (e.g.
/// `qemu-aarch64 -cpu cortex-a53` when the tests of a foreign-architecture build run under
/// qemu-user and the binary they spawn is of that architecture too).
/// Only binaries of another architecture than the machine's (`/bin/sh`'s) go through the runner.
/// For the tests and benches, through crates/testkit, which re-exports it.
pub fn binary_command(ns: &NamedNs, bin: &Path) -> io::Result<Command> {
    let foreign = elf_machine(bin) != elf_machine(Path::new("/bin/sh"));
    match std::env::var("LICHEN_RUNNER") {
        Ok(runner) if foreign && !runner.trim().is_empty() => {
            let mut words = runner.split_whitespace();
            let mut c = ns.command(words.next().expect("non-empty"))?;
            c.args(words).arg(bin);
            Ok(c)
        }
        _ => ns.command(bin),
    }
}

/// Polls `f` every `every` until it holds (true) or `limit` passes (false).
pub fn poll(limit: Duration, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(every);
    }
    true
}

/// The ELF `e_machine` of a file (None when unreadable).
fn elf_machine(path: &Path) -> Option<u16> {
    use std::io::Read;
    let mut head = [0u8; 20];
    File::open(path).ok()?.read_exact(&mut head).ok()?;
    (head[..4] == *b"\x7fELF").then(|| u16::from_le_bytes([head[18], head[19]]))
}

fn run_ok(c: &mut Command) -> io::Result<String> {
    let out = c.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{:?} failed: {}",
            c,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
