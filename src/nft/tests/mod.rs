//! Kernel tests. Each test moves its own thread into a fresh network namespace first (or
//! builds named ones that a guard deletes), so nothing touches the host's nftables.

mod effect;
mod rules;

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn netns_inode(path: &str) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// Moves the calling thread into a new, empty network namespace and proves it. (/proc/1 is
/// not readable in this sandbox; the process's main thread never leaves the host's netns.)
fn fresh_netns() {
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

/// Runs `nft <args>` in the calling thread's network namespace and returns its stdout.
fn nft(args: &str) -> String {
    let ns = File::open("/proc/thread-self/ns/net").unwrap();
    let fd = ns.as_raw_fd();
    let mut cmd = Command::new("nft");
    cmd.args(args.split_whitespace());
    // SAFETY: setns is async-signal-safe; `ns` outlives the spawn.
    unsafe {
        cmd.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        });
    }
    let out = cmd.output().expect("run nft");
    assert!(
        out.status.success(),
        "nft {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
