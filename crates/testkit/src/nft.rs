//! Kernel tests of nf_tables code (the generic `nft` layer of the `lichen` library, and the
//! node rules and policy table built on it): the calling thread into a fresh network namespace,
//! and the `nft` binary run in that namespace to look at the result or prepare a ruleset.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

fn netns_inode(path: &str) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// Moves the calling thread into a new, empty network namespace and proves it. (/proc/1 is
/// not readable in this sandbox; the process's main thread never leaves the host's netns.)
pub fn fresh_netns() {
    let before = netns_inode("/proc/thread-self/ns/net");
    // SAFETY: affects only the calling thread's namespaces.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        io::Error::last_os_error()
    );
    let mine = netns_inode("/proc/thread-self/ns/net");
    assert_ne!(mine, before, "still in the previous network namespace");
    assert_ne!(
        mine,
        netns_inode("/proc/self/ns/net"),
        "still in the process's network namespace"
    );
}

/// Runs `program args…` (with `stdin` fed in) in the calling thread's network namespace.
pub fn run_here(program: &str, args: &[&str], stdin: &str) -> Output {
    let ns = File::open("/proc/thread-self/ns/net").unwrap();
    let fd = ns.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::piped());
    // SAFETY: setns is async-signal-safe; `ns` outlives the spawn.
    unsafe {
        cmd.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        });
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `nft <args>` in the calling thread's network namespace and returns its stdout.
pub fn nft(args: &str) -> String {
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = run_here("nft", &args, "");
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Loads an `nft -f` script in the calling thread's network namespace.
pub fn nft_script(script: &str) {
    let out = run_here("nft", &["-f", "-"], script);
    assert!(
        out.status.success(),
        "nft -f: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}
