//! Kernel-test sandboxes: the test thread moves into a throwaway network namespace (the
//! "node"), and pods are named namespaces removed again by a guard. Nothing here ever touches
//! the root namespace.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::netns::NetNs;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Moves the calling thread into a fresh network namespace and checks it really left the
/// root one. Threads spawned afterwards from this thread start in the same namespace.
pub fn enter_node() {
    // SAFETY: unshare only affects the calling thread's namespaces.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
    assert_outside_root();
    // A fresh namespace has `lo` down; bring it up so local pings work.
    run_ok("ip", &["link", "set", "lo", "up"]);
}

/// Panics unless the calling thread is outside the root network namespace: it must differ
/// from the namespace of the main thread (which never unshares) and, when we may look at it,
/// from init's.
pub fn assert_outside_root() {
    let here = NetNs::current().expect("current netns").inode().unwrap();
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

/// A named network namespace (`/run/netns/<name>`), deleted on drop.
pub struct Pod {
    pub name: String,
    deleted: bool,
}

impl Pod {
    pub fn new(tag: &str) -> Pod {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("lichen-{tag}-{}-{n}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        Pod {
            name,
            deleted: false,
        }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// Runs `ip -n <pod> args…` and returns stdout (panics on failure).
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run_ok("ip", &all)
    }

    /// Runs a command inside the pod.
    pub fn exec(&self, cmd: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(cmd);
        Command::new("ip").args(&all).output().expect("spawn ip")
    }

    /// Whether `ping -c1 -W1 ip` from inside the pod gets an answer.
    pub fn ping(&self, ip: &str) -> bool {
        // one reply within 3 s, retried every 0.2 s
        self.exec(&["ping", "-c1", "-i0.2", "-w3", ip])
            .status
            .success()
    }

    /// Deletes the namespace now.
    pub fn delete(&mut self) {
        if !self.deleted {
            self.deleted = true;
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.delete();
    }
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
