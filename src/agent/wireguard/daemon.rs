//! The wireguard-go the agent starts: detached, so it outlives the agent, and recorded, so
//! `lichen agent --cleanup` can end it and nothing else.
//!
//! - Started with `-f lichen-wg` ([`lichen_wireguard::userspace::Daemon`]) in a process group
//!   of its own, so a terminal's ^C to the agent does not reach it; its stderr appended to
//!   `<socket dir>/lichen-wg.log` rather than the agent's: a Go program writing to fd 2 once
//!   that pipe's reader is gone dies of SIGPIPE (Go's os/signal documentation, "SIGPIPE"), and
//!   the agent's stderr goes away with the agent.
//! - What it does not survive: a service manager that ends the agent's whole cgroup (systemd's
//!   default `KillMode=control-group`, a container's restart) ends it too; the next agent then
//!   starts another and traffic resumes after the peers' handshakes (the kernel path has no
//!   such gap).
//! - Its pid is written to [`pid_file`], `<socket dir>/lichen-wg.pid`, next to its socket:
//!   both live in `/var/run/wireguard` (a tmpfs: gone after a reboot, as the process is), and
//!   a test that gives a node a private `/run/wireguard` gives it a private pid file too.
//! - [`stop_recorded`] ends the process in the pid file only if it still is a wireguard-go
//!   for this device (`/proc/<pid>/cmdline`: program `wireguard-go`, last argument the device
//!   name), so a pid reused by another program after a reboot or a crash is never signalled.
//!   SIGTERM makes wireguard-go close the device (its TUN goes with it) and remove its socket
//!   (wireguard-go `main.go`: `signal.Notify(term, syscall.SIGTERM)`, then `uapi.Close()`,
//!   `device.Close()`).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use lichen_wireguard::userspace::{find_on_path, Daemon, DaemonError, PROGRAM};

use super::WgError;

/// How long wireguard-go may take to exit on SIGTERM before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Where the pid of the wireguard-go the agent started for `device` is recorded.
pub fn pid_file(socket_dir: &Path, device: &str) -> PathBuf {
    socket_dir.join(format!("{device}.pid"))
}

/// Starts wireguard-go for `device`, detached, and records its pid; returns its child handle
/// (for the agent to reap it).
pub fn start(socket_dir: &Path, device: &str) -> Result<Child, WgError> {
    let program = find_on_path(PROGRAM).ok_or(WgError::Daemon(DaemonError::NotFound))?;
    let log_path = socket_dir.join(format!("{device}.log"));
    let pid_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WgError::PidFile { path, source }
    };
    std::fs::create_dir_all(socket_dir).map_err(pid_err(socket_dir))?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(pid_err(&log_path))?;
    let mut cmd = Command::new(program);
    cmd.process_group(0).stderr(log);
    let daemon = Daemon::start_with(cmd, device, socket_dir).map_err(WgError::Daemon)?;
    let pid = daemon.pid();
    let child = daemon
        .detach()
        .ok_or(WgError::Daemon(DaemonError::NotFound))?;
    let path = pid_file(socket_dir, device);
    std::fs::write(&path, format!("{}\n", pid.unwrap_or(child.id()))).map_err(pid_err(&path))?;
    log::info!(
        "wireguard: started {PROGRAM} for {device} (pid {}, recorded in {}, log {})",
        child.id(),
        path.display(),
        log_path.display()
    );
    Ok(child)
}

/// Ends the wireguard-go recorded for `device` (if it still runs and still is one) and
/// removes the pid file; `child` is its handle when this process started it (to reap it).
/// Returns the pid ended.
pub fn stop_recorded(
    socket_dir: &Path,
    device: &str,
    child: Option<Child>,
) -> Result<Option<u32>, WgError> {
    let path = pid_file(socket_dir, device);
    let pid = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u32>().ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => return Err(WgError::PidFile { path, source }),
    };
    let ended = pid.filter(|pid| is_wireguard_go(*pid, device));
    if let Some(pid) = ended {
        terminate(pid, device);
        log::info!("wireguard: ended {PROGRAM} for {device} (pid {pid})");
    }
    if let Some(mut c) = child {
        let _ = c.wait();
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(ended),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ended),
        Err(source) => Err(WgError::PidFile { path, source }),
    }
}

/// SIGTERM, then SIGKILL if it still runs after [`EXIT_WAIT`].
fn terminate(pid: u32, device: &str) {
    // SAFETY: kill(2) on a pid just checked to be wireguard-go for our device.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let t = Instant::now();
    while is_wireguard_go(pid, device) {
        if t.elapsed() > EXIT_WAIT {
            // SAFETY: as above, checked again just now.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            break;
        }
        sleep(POLL);
    }
}

/// Whether `pid` runs `wireguard-go … <device>` (a zombie's cmdline is empty: not running).
pub fn is_wireguard_go(pid: u32, device: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    let program = args
        .first()
        .map(|a| a.rsplit(|b| *b == b'/').next().unwrap_or(a));
    program == Some(PROGRAM.as_bytes()) && args.last() == Some(&device.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wireguard_go_for_the_device_counts_as_ours() {
        // This test's own process is not wireguard-go; pid 0 and a huge one do not exist.
        assert!(!is_wireguard_go(std::process::id(), "lichen-wg"));
        assert!(!is_wireguard_go(0, "lichen-wg"));
        assert!(!is_wireguard_go(u32::MAX / 2, "lichen-wg"));
        let dir = std::env::temp_dir().join(format!("lichen-wgpid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = pid_file(&dir, "lichen-wg");
        assert_eq!(path, dir.join("lichen-wg.pid"));
        // A recorded pid that is not wireguard-go (ours) is not signalled, the file goes.
        std::fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(stop_recorded(&dir, "lichen-wg", None).unwrap(), None);
        assert!(!path.exists());
        assert_eq!(stop_recorded(&dir, "lichen-wg", None).unwrap(), None);
        std::fs::remove_dir(&dir).unwrap();
    }
}
