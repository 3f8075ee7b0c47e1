//! ADD into a full or read-only dataDir (issue 11): a clear error (code 5, naming the
//! directory and the errno) and nothing left behind; once space or write access is back, ADD
//! works and no partial file remains.
//!
//! The dataDir is a small tmpfs mounted in the private mount namespace of a helper process
//! (`unshare --mount`), never in the test's own; the plugin runs in that mount namespace and
//! the node's network namespace, and the test reads the tmpfs through `/proc/<helper>/root`.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::raw::{self, Outcome};
use common::{error_code, NamedNs, Node};

/// A process holding a private mount namespace; killed (and its mounts with it) on drop.
struct MountNs {
    child: Child,
}

impl MountNs {
    fn new() -> MountNs {
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sleep", "3600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare --mount");
        let mut ns = MountNs { child };
        // unshare(1) switches namespaces before it execs sleep: wait for the exec.
        let exe = format!("/proc/{}/exe", ns.child.id());
        while std::fs::read_link(&exe).map_or(true, |p| !p.ends_with("sleep")) {
            if let Some(st) = ns.child.try_wait().unwrap() {
                panic!("unshare --mount exited: {st}");
            }
            std::thread::yield_now();
        }
        let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
        assert_ne!(
            ours,
            std::fs::read_link(ns.path()).unwrap(),
            "not a new mount namespace"
        );
        ns
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/mnt", self.child.id()))
    }

    /// `path` as the helper sees it.
    fn view(&self, path: &Path) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.child.id())).join(path.strip_prefix("/").unwrap())
    }

    /// Runs a command (like mount) inside the helper's mount namespace.
    fn run(&self, args: &[&str]) {
        let pid = self.child.id().to_string();
        let st = Command::new("nsenter")
            .args(["--target", &pid, "--mount", "--"])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "{args:?}");
    }

    /// The plugin, in this mount namespace and `node`'s network namespace.
    fn plugin(&self, node: &NamedNs, env: &[(String, String)], conf: &str) -> Outcome {
        let mut c = raw::command(node);
        let f = File::open(self.path()).unwrap();
        // SAFETY: only setns, async-signal-safe, between fork and exec.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(f.as_raw_fd(), libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        raw::wait(raw::start(c, env, conf.as_bytes().to_vec()))
    }
}

impl Drop for MountNs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Bed {
    node: Node,
    pod: NamedNs,
    mnt: MountNs,
    data: PathBuf,
    conf: String,
}

impl Bed {
    /// `limits`: the tmpfs's size options (like `size=256k`).
    fn new(tag: &str, limits: &str) -> Bed {
        let node = Node::new(tag);
        let pod = node.pod(tag);
        let mnt = MountNs::new();
        let data = node.data_dir();
        std::fs::create_dir_all(&data).unwrap();
        let d = data.display().to_string();
        let opts = format!("{limits},mode=0755");
        mnt.run(&["mount", "-t", "tmpfs", "-o", &opts, "lichen-test", &d]);
        let conf = node.conf("1.1.0", "10.55.0.0/24");
        Bed {
            node,
            pod,
            mnt,
            data,
            conf,
        }
    }

    fn run(&self, verb: &str, id: &str) -> Outcome {
        let env: Vec<(String, String)> = [
            ("CNI_COMMAND", verb.to_string()),
            ("CNI_CONTAINERID", id.to_string()),
            ("CNI_NETNS", self.pod.path.display().to_string()),
            ("CNI_IFNAME", "eth0".into()),
            ("CNI_PATH", common::REF_PLUGINS.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.mnt.plugin(&self.node.ns, &env, &self.conf)
    }

    /// What an ADD can leave: store files (through the helper's view) and links.
    fn state(&self) -> (BTreeSet<String>, Vec<String>, Vec<String>) {
        (
            raw::store_files(&self.mnt.view(&self.data)),
            self.node.plugin_links(),
            common::links(&self.pod),
        )
    }

    /// A first ADD and DEL: the network's directories exist, as on a node in service.
    fn warm_up(&self) {
        assert_eq!(self.run("ADD", "warm").code, Some(0));
        assert_eq!(self.run("DEL", "warm").code, Some(0));
    }

    /// The refused ADD: code 5, naming the data dir and the errno; nothing changed.
    fn refused(&self, errno: i32) {
        let before = self.state();
        let o = self.run("ADD", "pod1");
        let a = common::Answer {
            ok: o.code == Some(0),
            stdout: o.stdout.clone(),
            stderr: o.stderr.clone(),
        };
        assert_eq!(error_code(&a), 5, "{o:?}");
        let want = format!("os error {errno}");
        assert!(
            o.stdout.contains(&self.data.display().to_string()) && o.stdout.contains(&want),
            "the message names the dir and {want}: {}",
            o.stdout
        );
        assert_eq!(self.state(), before, "the failed ADD left something");
    }

    /// ADD works again, leaves a whole lease and index and no temp file, and DEL clears it.
    fn recovers(&self) {
        let before = self.state();
        let o = self.run("ADD", "pod1");
        assert_eq!(o.code, Some(0), "{o:?}");
        let ip = common::first_ip(&o.stdout);
        let net = self.mnt.view(&self.data).join(&self.node.network);
        let lease = std::fs::read_to_string(net.join(&ip)).unwrap();
        assert_eq!(lease, "pod1\r\neth0");
        let index = std::fs::read_to_string(net.join(".lichen/attachments/pod1@eth0")).unwrap();
        assert!(index.lines().any(|l| l == ip), "{index:?}");
        for tmp in [".lichen/tmp", ".lichen/prep"] {
            let left: Vec<_> = std::fs::read_dir(net.join(tmp))
                .into_iter()
                .flatten()
                .collect();
            assert!(left.is_empty(), "{tmp}: {left:?}");
        }
        assert_eq!(self.run("DEL", "pod1").code, Some(0));
        assert_eq!(self.state(), before);
    }
}

/// Fills the tmpfs to the last byte (inodes are left: empty files can still be made).
fn fill(bed: &Bed) -> PathBuf {
    let filler = bed.mnt.view(&bed.data).join("filler");
    let mut f = File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    filler
}

#[test]
fn full_data_dir_fails_cleanly_and_recovers() {
    testkit::require_root!();
    let bed = Bed::new("full", "size=256k");
    bed.warm_up();
    let filler = fill(&bed);
    bed.refused(libc::ENOSPC);
    std::fs::remove_file(&filler).unwrap();
    bed.recovers();
}

#[test]
fn inode_full_data_dir_fails_cleanly_and_recovers() {
    testkit::require_root!();
    let bed = Bed::new("inodes", "size=1m,nr_inodes=64");
    bed.warm_up();
    let dir = bed.mnt.view(&bed.data).join("fillers");
    std::fs::create_dir(&dir).unwrap();
    let mut n = 0;
    // Every inode taken (the directory's blocks are not the limit: 1 MiB holds them).
    while File::create(dir.join(n.to_string())).is_ok() {
        n += 1;
    }
    assert!(n < 64, "the inode limit did not apply: {n} files");
    bed.refused(libc::ENOSPC);
    std::fs::remove_dir_all(&dir).unwrap();
    bed.recovers();
}

#[test]
fn read_only_data_dir_fails_cleanly_and_recovers() {
    testkit::require_root!();
    let bed = Bed::new("rodir", "size=256k");
    bed.warm_up();
    let d = bed.data.display().to_string();
    bed.mnt.run(&["mount", "-o", "remount,ro", &d]);
    bed.refused(libc::EROFS);
    bed.mnt.run(&["mount", "-o", "remount,rw", &d]);
    bed.recovers();
}
