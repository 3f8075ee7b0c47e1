//! Lichen's test harness (a dev-dependency, never shipped): what the integration tests, the
//! benches and the kernel unit tests share.
//!
//! - the builders `lichen demo` uses too, re-exported from [`netbed`] (crates/netbed): named
//!   namespaces ([`NamedNs`], the one namespace guard), veth links, the [`Underlay`] switch,
//!   [`node_json`], the agent's command line ([`AgentArgs`]), a plugin [`Invocation`];
//! - the test-only parts on top: [`require_root!`] (skips a test, saying so, when not root),
//!   [`skip_emulated`], [`invoke`] through `$LICHEN_RUNNER` (qemu-user) like
//!   [`binary_command`], [`enter_node`] (the test thread into a throwaway namespace), [`spawn_agent`]
//!   and [`Agent`], polling helpers;
//! - [`kube_api`]: the test Kubernetes API server and its Node object builders;
//! - [`probe`]: servers in pod namespaces and reachability probes;
//! - [`nft`]: the nf_tables kernel tests' fresh namespace and `nft` runner;
//! - [`mounts`]: a node's private mount namespace (wireguard-go's fixed socket directory) and
//!   the teardown of processes left in a namespace.
//!
//! Lichen-specific fixtures that need the `lichen` library's types (the plugin test node and the
//! cluster of agents, tests/common) stay with the tests and are built from these.

pub mod fuzz;
pub mod kube_api;
pub mod mounts;
pub mod nft;
pub mod noise;
pub mod probe;
pub mod rng;

pub use netbed;
pub use netbed::*;

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Is this process root (needed for network namespaces)?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// At the top of a test that needs root (network namespaces): when not root, prints why and
/// returns, so the test passes as skipped instead of panicking.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!(
                "SKIPPED (not root): this test makes network namespaces; run the tests as README.md says"
            );
            return;
        }
    };
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

/// Runs the plugin binary `bin` inside `node` (the node's namespace is the plugin's host side),
/// through `$LICHEN_RUNNER` when `bin` is foreign (see [`binary_command`]).
pub fn invoke(bin: &Path, node: &NamedNs, inv: &Invocation) -> io::Result<Answer> {
    netbed::invoke_with(&mut binary_command(node, bin)?, inv)
}

/// A running agent, killed when dropped.
pub struct Agent(pub Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lichen agent` (binary `bin`, through the runner when foreign) in `ns` with `args`, stdin and
/// stdout closed, stderr into `log`; add arguments and environment, then spawn it.
pub fn agent_command(ns: &NamedNs, bin: &Path, args: &AgentArgs, log: &Path) -> Command {
    let mut c = binary_command(ns, bin).expect("agent command");
    args.apply(&mut c)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(log).expect("agent log"));
    c
}

/// Starts `lichen agent` as [`agent_command`] makes it, with `LICHEN_LOG=<level>`.
pub fn spawn_agent(ns: &NamedNs, bin: &Path, args: &AgentArgs, log: &Path, level: &str) -> Agent {
    let mut c = agent_command(ns, bin, args, log);
    Agent(c.env("LICHEN_LOG", level).spawn().expect("start agent"))
}

/// Polls `f` every 0.5 ms until it holds (true) or `limit` passes (false).
pub fn wait(limit: Duration, f: impl FnMut() -> bool) -> bool {
    poll(limit, Duration::from_micros(500), f)
}

/// Polls `f` every 50 ms until it holds; panics naming `what` when `limit` passes first.
pub fn wait_for(what: &str, limit: Duration, f: impl FnMut() -> bool) {
    if !poll(limit, Duration::from_millis(50), f) {
        panic!("timed out after {limit:?} waiting for {what}");
    }
}

/// Link names in `ns`, sorted (`name@peer` shortened to `name`).
pub fn links(ns: &NamedNs) -> Vec<String> {
    let out = ns.ip(&["-o", "link", "show"]).unwrap_or_default();
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect();
    v.sort();
    v
}

/// `"code":N` of an error answer, also when pretty-printed (as the Go plugins print it).
pub fn error_code(a: &Answer) -> u32 {
    assert!(!a.ok, "expected a failure, got success: {}", a.stdout);
    let compact: String = a.stdout.split_whitespace().collect();
    number_after(&compact, "\"code\":")
        .unwrap_or_else(|| panic!("no code in {compact:?} (stderr {})", a.stderr)) as u32
}

/// The decimal number right after the first `key` in `text` (e.g. `"bytes":` in `ip -j` output).
pub fn number_after(text: &str, key: &str) -> Option<u64> {
    let i = text.find(key)? + key.len();
    text[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()
}

/// A node namespace and a "far" one on a /16 underlay (node 100.64.0.1, far 100.64.255.254),
/// both `eth0`: room for 1,000 L2-adjacent peers (host-gw needs that). Names `<prefix>-…`.
pub fn node_and_far(prefix: &str) -> (NamedNs, NamedNs) {
    let ns = NamedNs::create(&unique_name(prefix, "node")).expect("node netns");
    let far = NamedNs::create(&unique_name(prefix, "far")).expect("far netns");
    veth(
        &ns,
        "eth0",
        "100.64.0.1/16",
        &far,
        "eth0",
        "100.64.255.254/16",
    )
    .expect("underlay");
    (ns, far)
}

/// Adds members (`"k":v,...`) to a JSON object's text.
pub fn extend(conf: &str, members: &str) -> String {
    let body = conf.trim_end();
    let body = body.strip_suffix('}').expect("a JSON object");
    format!("{body},{members}}}")
}

/// A process's resident set in KiB (0 when unreadable).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// Kernel-test sandboxes (the unit tests of the plugin's and the agent's netlink code).

/// Moves the calling thread into a fresh network namespace (the "node") and checks it really
/// left the root one, then brings its loopback up. Threads spawned afterwards from this thread
/// start in the same namespace.
pub fn enter_node() {
    // SAFETY: unshare only affects the calling thread's namespaces.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare: {}", io::Error::last_os_error());
    assert_outside_root();
    // A fresh namespace has `lo` down; bring it up so local pings work.
    run_ok("ip", &["link", "set", "lo", "up"]);
}

/// Panics unless the calling thread is outside the root network namespace: it must differ
/// from the namespace of the main thread (which never unshares) and, when we may look at it,
/// from init's.
pub fn assert_outside_root() {
    let here = std::fs::metadata("/proc/thread-self/ns/net")
        .expect("stat /proc/thread-self/ns/net")
        .ino();
    let main = std::fs::metadata("/proc/self/ns/net").expect("stat /proc/self/ns/net");
    assert_ne!(
        main.ino(),
        here,
        "test thread is in the process's original namespace"
    );
    if let Ok(init) = std::fs::metadata("/proc/1/ns/net") {
        assert_ne!(
            init.ino(),
            here,
            "test thread is in the root network namespace"
        );
    }
}

/// A pod namespace for a kernel test (`lichen-<tag>-<pid>-<n>`, deleted on drop).
pub fn pod(tag: &str) -> NamedNs {
    NamedNs::create(&unique_name("lichen", tag)).expect("pod netns")
}

/// Runs a command (in the calling thread's namespace) and returns stdout; panics on failure.
pub fn run_ok(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
