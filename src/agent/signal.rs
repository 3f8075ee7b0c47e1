//! SIGTERM and SIGINT end the agent promptly, leaving the data plane as programmed.
//!
//! The agent runs as PID 1 of a `FROM scratch` image; the kernel delivers no default-action
//! signal to PID 1 of a PID namespace from inside it, so without a handler a rollout waits the
//! whole grace period for SIGKILL. The handler only writes one byte to a pipe (the self-pipe
//! trick: `write` is async-signal-safe); the loop awaits the pipe's read end through
//! `smol::Async` and returns. Nothing is flushed on the way out: routes, the VXLAN device, the
//! nftables tables and the subnet file stay, so pods keep talking while the agent is replaced.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use smol::Async;

/// The write end of the pipe, for the handler (-1 before [`Shutdown::install`]).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; a full pipe (EAGAIN) already holds a byte.
        unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
    }
}

/// The read end of the self-pipe; readable once SIGTERM or SIGINT arrived.
pub struct Shutdown {
    pipe: Async<File>,
}

impl Shutdown {
    /// Installs the handler for SIGTERM and SIGINT (once per process; a second call replaces
    /// the pipe the handler writes to).
    pub fn install() -> io::Result<Shutdown> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills two fds we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fds[0] is a fresh fd owned by nobody else.
        let read = unsafe { File::from_raw_fd(fds[0]) };
        let old = WRITE_FD.swap(fds[1], Ordering::SeqCst);
        if old >= 0 {
            // SAFETY: the previous write end was ours and is no longer published.
            unsafe { libc::close(old) };
        }
        for sig in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: a zeroed sigaction with a plain handler; SA_RESTART keeps other
            // syscalls from failing with EINTR.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(Shutdown {
            pipe: Async::new(read)?,
        })
    }

    /// Waits for SIGTERM or SIGINT. Cancel-safe: a signal seen by a dropped call stays in the
    /// pipe for the next one.
    pub async fn wait(&self) {
        loop {
            if let Err(e) = self.pipe.readable().await {
                log::warn!("signal pipe: {e}; SIGTERM and SIGINT now wait for SIGKILL");
                return smol::future::pending().await;
            }
            let mut buf = [0u8; 16];
            match self.pipe.get_ref().read(&mut buf) {
                // A byte from the handler (or EOF, which cannot happen while WRITE_FD is open).
                Ok(_) => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    log::warn!("signal pipe: {e}; SIGTERM and SIGINT now wait for SIGKILL");
                    return smol::future::pending().await;
                }
            }
        }
    }
}
