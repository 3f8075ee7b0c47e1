//! Named network namespaces for the demo and the integration tests: a guard that removes the
//! namespace when dropped, and commands run inside one. Nothing here touches the namespace the
//! caller is in: every link and address is made inside namespaces created here.
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

/// Are we running under an emulator (the tests of a foreign-architecture build under qemu-user,
/// which sets `LICHEN_RUNNER`)? qemu-user translates rtnetlink but not NETLINK_NETFILTER nor
/// every rtnetlink attribute (VXLAN, FDB): tests of those skip themselves there, saying so.
pub fn emulated() -> bool {
    std::env::var_os("LICHEN_RUNNER").is_some_and(|v| !v.is_empty())
}

/// Prints why a test is skipped under emulation and returns true (use: `if skip_emulated(..) { return; }`).
pub fn skip_emulated(what: &str) -> bool {
    let skip = emulated();
    if skip {
        eprintln!("SKIPPED under qemu-user: {what}");
    }
    skip
}

/// A minimal Node object as a cluster-dir file holds it: name, podCIDR(s), InternalIP.
pub fn node_json(name: &str, cidr: &str, ip: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}"}},"spec":{{"podCIDR":"{cidr}","podCIDRs":["{cidr}"]}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}"#
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

/// What the plugin answered.
#[derive(Debug)]
pub struct Answer {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A command running `bin` inside `ns`, through `$LICHEN_RUNNER` when set (e.g.
/// `qemu-aarch64 -cpu cortex-a53` when the tests of a foreign-architecture build run under
/// qemu-user and the binary they spawn is of that architecture too).
/// Only binaries of another architecture than the machine's (`/bin/sh`'s) go through the runner.
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

/// Runs the plugin binary `bin` inside `node` (the node's namespace is the plugin's host side).
pub fn invoke(bin: &Path, node: &NamedNs, inv: &Invocation) -> io::Result<Answer> {
    use std::io::Write;
    let mut c = binary_command(node, bin)?;
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
