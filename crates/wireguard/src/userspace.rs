//! Running wireguard-go, the userspace implementation, for one device (its `main.go`:
//! `wireguard-go -f <interface>` stays in the foreground, as `WG_PROCESS_FOREGROUND=1` also
//! asks; it creates the TUN device, then listens on `/var/run/wireguard/<interface>.sock`, and
//! says nothing on readiness). [`Daemon::start`] spawns it, then polls the socket with `get`
//! until it answers; [`Daemon::stop`] sends SIGTERM (wireguard-go then closes the device and
//! removes its socket), waits, and kills it if it lingers. Dropping a [`Daemon`] stops it too,
//! unless it was [`Daemon::detach`]ed: then it runs on, the caller holding its child handle.
//!
//! Its log goes to our stderr (`LOG_LEVEL=error` unless the caller's environment sets one):
//! reading it through a pipe would stall wireguard-go once the pipe filled.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::uapi::{Uapi, UapiError};

/// The program's name on PATH (Debian's package `wireguard-go`).
pub const PROGRAM: &str = "wireguard-go";

/// How long wireguard-go may take to answer on its socket, and to exit when asked.
const READY: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Why wireguard-go could not be started.
#[derive(Debug)]
pub enum DaemonError {
    /// No `wireguard-go` on PATH.
    NotFound,
    /// Another process already answers on the device's socket.
    AlreadyRunning(PathBuf),
    /// Spawning failed.
    Spawn(PathBuf, io::Error),
    /// It exited before its socket answered (its own message is in our stderr).
    Exited(ExitStatus),
    /// Its socket did not answer in time: the last error.
    NotReady(UapiError),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::NotFound => write!(f, "{PROGRAM} not found on PATH"),
            DaemonError::AlreadyRunning(p) => {
                write!(
                    f,
                    "{PROGRAM}: {} is already served by another process",
                    p.display()
                )
            }
            DaemonError::Spawn(p, e) => write!(f, "starting {}: {e}", p.display()),
            DaemonError::Exited(s) => write!(f, "{PROGRAM} exited during start-up ({s})"),
            DaemonError::NotReady(_) => write!(f, "{PROGRAM} did not answer on its socket"),
        }
    }
}

impl std::error::Error for DaemonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DaemonError::Spawn(_, e) => Some(e),
            DaemonError::NotReady(e) => Some(e),
            _ => None,
        }
    }
}

/// The first `name` in a directory of PATH that is a file.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A running wireguard-go serving one device.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    uapi: Uapi,
}

impl Daemon {
    /// Starts wireguard-go from PATH for `device`, in this thread's network namespace.
    pub fn start(device: &str) -> Result<Daemon, DaemonError> {
        let program = find_on_path(PROGRAM).ok_or(DaemonError::NotFound)?;
        Daemon::start_with(
            Command::new(program),
            device,
            Path::new(crate::uapi::SOCKET_DIR),
        )
    }

    /// Starts `cmd` (wireguard-go, possibly prepared to run elsewhere, e.g. in another
    /// namespace) with `-f <device>` and waits until its socket in `socket_dir` answers.
    pub fn start_with(
        mut cmd: Command,
        device: &str,
        socket_dir: &Path,
    ) -> Result<Daemon, DaemonError> {
        let uapi = Uapi::new(socket_dir, device);
        if uapi.get().is_ok() {
            return Err(DaemonError::AlreadyRunning(uapi.path));
        }
        if std::env::var_os("LOG_LEVEL").is_none() {
            cmd.env("LOG_LEVEL", "error");
        }
        cmd.arg("-f")
            .arg(device)
            .env("WG_PROCESS_FOREGROUND", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let program = PathBuf::from(cmd.get_program());
        let child = cmd.spawn().map_err(|e| DaemonError::Spawn(program, e))?;
        let mut d = Daemon {
            child: Some(child),
            uapi,
        };
        d.wait_ready()?;
        Ok(d)
    }

    fn wait_ready(&mut self) -> Result<(), DaemonError> {
        let t = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(DaemonError::Exited(status));
                }
            }
            match self.uapi.get() {
                Ok(_) => return Ok(()),
                Err(e) if t.elapsed() > READY => return Err(DaemonError::NotReady(e)),
                Err(_) => sleep(POLL),
            }
        }
    }

    /// The device's configuration socket.
    pub fn uapi(&self) -> &Uapi {
        &self.uapi
    }

    /// The process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Leaves it running past this value, and past this process: the child handle, for the
    /// caller to reap it (a device that must outlive its controller, so an agent restart does
    /// not cut traffic). `None` if it already ended.
    pub fn detach(mut self) -> Option<Child> {
        self.child.take()
    }

    /// Stops it: SIGTERM, then SIGKILL if it has not exited in time; reaped either way.
    pub fn stop(mut self) -> io::Result<ExitStatus> {
        self.terminate()
    }

    fn terminate(&mut self) -> io::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not running"));
        };
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        // SAFETY: kill(2) on our own child, which is not reaped yet (its pid is still ours).
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < READY {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            sleep(POLL);
        }
        child.kill()?;
        child.wait()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_exits_or_is_missing_is_reported_as_such() {
        let dir = std::env::temp_dir();
        let e = Daemon::start_with(Command::new("false"), "lwnone0", &dir).unwrap_err();
        assert!(matches!(e, DaemonError::Exited(s) if !s.success()), "{e:?}");
        let missing = Command::new("/nonexistent/wireguard-go");
        let e = Daemon::start_with(missing, "lwnone0", &dir).unwrap_err();
        assert!(matches!(&e, DaemonError::Spawn(..)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("starting /nonexistent/wireguard-go"),
            "{e}"
        );
        assert_eq!(find_on_path("lichen-surely-not-a-program"), None);
        assert_eq!(find_on_path("sh").map(|p| p.is_file()), Some(true));
    }
}
