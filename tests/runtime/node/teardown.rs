//! Undoing a runtime node on drop: its sandboxes and containers, containerd, whatever else
//! runs in its mount namespace, then the namespace's holder, its cgroups and its directory.

use std::fs;
use std::process::Child;
use std::time::{Duration, Instant};

use super::RuntimeNode;

/// Processes whose mount namespace is `mnt` (an `mnt:[…]` link), and their children.
fn processes_in(mnt: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|l| l.to_string_lossy() == mnt) {
            found.push(pid);
            // A sandbox's process has its own mount namespace: the shim is its parent.
            let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
            for c in children.unwrap_or_default().split_whitespace() {
                found.push(c.parse().unwrap());
            }
        }
    }
    found
}

fn stop(child: &mut Child, signal: i32, grace: Duration) {
    unsafe { libc::kill(child.id() as i32, signal) };
    let t = Instant::now();
    while t.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for RuntimeNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        if self.containerd.is_some() {
            for (_, id) in self.cri(&["list"]).unwrap_or_default() {
                let _ = self.cri(&["stop", &id]);
                let _ = self.cri(&["remove", &id]);
            }
        }
        for c in &mut self.containers {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(mut c) = self.containerd.take() {
            stop(&mut c, libc::SIGTERM, Duration::from_secs(5));
        }
        // Whatever is left in the node (a shim, a sandbox) goes before its namespace.
        let mnt = fs::read_link(format!("/proc/{}/ns/mnt", self.holder.id()));
        if let Ok(mnt) = mnt {
            for pid in processes_in(&mnt.to_string_lossy()) {
                if pid != self.holder.id() as i32 {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        for ctl in fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = fs::remove_dir(ctl.path().join(self.cgroup.trim_start_matches('/')));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
