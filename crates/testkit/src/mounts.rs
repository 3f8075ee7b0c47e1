//! A node's private mount namespace, for daemons whose socket directory is fixed: wireguard-go
//! always serves `/var/run/wireguard/<dev>.sock` (`/var/run` → `/run`), so three nodes' agents
//! in one file system would each start a wireguard-go on the same `lichen-wg.sock`.
//!
//! [`PrivateMounts::create`] starts a holder (`sleep infinity`) in the node's network namespace
//! that, between fork and exec, unshares its mount namespace, makes `/` and `/run` private (so
//! nothing mounted there propagates back to the machine's mount namespace) and mounts a fresh
//! tmpfs on each directory asked for. [`PrivateMounts::enter`] makes a command join that mount
//! namespace (setns before exec), so the node's agent, the wireguard-go it starts, `wg` run to
//! inspect the node and `lichen agent --cleanup` all see the same private directories, across
//! agent restarts. Other mounts (e.g. `/run/netns`, shared) keep their propagation, so
//! namespaces deleted elsewhere are not kept alive by the holder.
//!
//! [`kill_netns_processes`] ends whatever still runs in a network namespace (a wireguard-go an
//! agent left behind), for teardown.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::NamedNs;

/// A mount namespace with private tmpfs directories, held open by a process in a node's
/// network namespace; the holder is killed when dropped.
#[derive(Debug)]
pub struct PrivateMounts {
    holder: Child,
    /// The directories with a private tmpfs.
    pub dirs: Vec<PathBuf>,
}

impl PrivateMounts {
    /// A mount namespace for `ns` with a private tmpfs on each of `dirs` (created in the
    /// machine's file system when missing: a mount needs its mount point).
    pub fn create(ns: &NamedNs, dirs: &[&Path]) -> io::Result<PrivateMounts> {
        let mut points = Vec::new();
        for d in dirs {
            std::fs::create_dir_all(d)?;
            points.push(CString::new(d.as_os_str().as_bytes())?);
        }
        let mut c = ns.command("sleep")?;
        c.arg("infinity").stdin(Stdio::null()).stdout(Stdio::null());
        // SAFETY: unshare and mount are plain system calls, async-signal-safe; the strings
        // were made before the fork.
        unsafe {
            c.pre_exec(move || private_tmpfs(&points));
        }
        // spawn returns once the exec succeeded: the mounts are in place.
        let holder = c.spawn()?;
        Ok(PrivateMounts {
            holder,
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        })
    }

    /// The holder's process id (`nsenter -t <pid> -m -n` enters the node as the agent sees it).
    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// Makes `c` join this mount namespace before exec (after whatever it joins already, e.g.
    /// the node's network namespace from [`NamedNs::command`]).
    pub fn enter<'c>(&self, c: &'c mut Command) -> io::Result<&'c mut Command> {
        let f = File::open(format!("/proc/{}/ns/mnt", self.pid()))?;
        // SAFETY: setns is async-signal-safe; a process right after fork is single-threaded,
        // as joining a mount namespace requires.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(f.as_raw_fd(), libc::CLONE_NEWNS) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(c)
    }

    /// `program` in `ns` and this mount namespace.
    pub fn command(&self, ns: &NamedNs, program: &str) -> io::Result<Command> {
        let mut c = ns.command(program)?;
        self.enter(&mut c)?;
        Ok(c)
    }
}

impl Drop for PrivateMounts {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// In the child: a new mount namespace, `/` and `/run` private, a tmpfs on each point.
fn private_tmpfs(points: &[CString]) -> io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc != 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: plain system calls on NUL-terminated strings that outlive them.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        let (null, none) = (std::ptr::null(), std::ptr::null());
        check(libc::mount(
            null,
            c"/".as_ptr(),
            null,
            libc::MS_PRIVATE,
            none,
        ))?;
        // /run is a mount of its own on most systems (EINVAL when it is not: then `/` holds it).
        let rc = libc::mount(null, c"/run".as_ptr(), null, libc::MS_PRIVATE, none);
        if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::last_os_error());
        }
        for p in points {
            let fs = c"tmpfs".as_ptr();
            check(libc::mount(
                fs,
                p.as_ptr(),
                fs,
                0,
                c"mode=0755".as_ptr().cast(),
            ))?;
        }
    }
    Ok(())
}

/// The process ids in `ns` (`ip netns pids`).
pub fn netns_pids(ns: &NamedNs) -> Vec<u32> {
    let out = Command::new("ip")
        .args(["netns", "pids", &ns.name])
        .stderr(Stdio::null())
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// The command name (`/proc/<pid>/comm`) of a process, empty once it is gone.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Is process `pid` alive (present and not a zombie)?
pub fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `pid (comm) S …`: the state follows the last parenthesis.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

/// Kills (SIGKILL) every process in `ns` and waits, within a bound, until none is left; returns
/// the names of those it killed.
pub fn kill_netns_processes(ns: &NamedNs) -> Vec<String> {
    let mut killed = Vec::new();
    for pid in netns_pids(ns) {
        killed.push(comm(pid));
        // SAFETY: kill has no memory effects; the pid was listed in a namespace of ours.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    crate::poll(Duration::from_secs(5), Duration::from_millis(20), || {
        netns_pids(ns).is_empty()
    });
    killed
}
