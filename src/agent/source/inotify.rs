//! A directory watch with inotify (through libc), read asynchronously on smol.
//!
//! The directory source only needs to know *that* something changed (it rescans the whole
//! directory), and whether the watch itself is gone (the directory was deleted, moved or
//! unmounted), so events are reduced to a [`Events`].

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use smol::Async;

/// Entries appear, are written, renamed in or out, or removed; plus the directory's own fate.
const MASK: u32 = libc::IN_CREATE
    | libc::IN_CLOSE_WRITE
    | libc::IN_MODIFY
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// Events after which the watch no longer follows the directory's path.
const LOST: u32 = libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_UNMOUNT;

/// The size of `struct inotify_event` without its name.
const EVENT_HEADER: usize = 16;

pub struct Watch {
    fd: Async<OwnedFd>,
}

/// What one read of the inotify queue said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Any event at all (entries or the directory itself).
    pub events: usize,
    /// The queue overflowed: events were dropped (a rescan covers them).
    pub overflow: bool,
    /// The watch is gone or follows another path now: watch the path again.
    pub lost: bool,
}

impl Watch {
    /// Watches the directory at `path` (not recursively).
    pub fn dir(path: &Path) -> io::Result<Watch> {
        let cpath = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: plain syscall; the result is checked before use.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `cpath` is NUL-terminated and outlives the call.
        if unsafe { libc::inotify_add_watch(raw, cpath.as_ptr(), MASK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Watch {
            fd: Async::new(fd)?,
        })
    }

    /// Waits for events and reads everything queued. Cancel-safe: events are only consumed by
    /// a read that completes.
    pub async fn wait(&self) -> io::Result<Events> {
        // Room for many events: a header plus a name of up to NAME_MAX + 1 bytes each.
        let mut buf = vec![0u8; 64 * 1024];
        let n = self.fd.read_with(|fd| read(fd, &mut buf)).await?;
        Ok(parse(&buf[..n]))
    }
}

fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for `buf.len()` writable bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Walks the `inotify_event` records in `bytes` (wd, mask, cookie, len, then `len` name bytes).
fn parse(mut bytes: &[u8]) -> Events {
    let mut batch = Events::default();
    while bytes.len() >= EVENT_HEADER {
        let field = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let mask = field(4);
        let name_len = field(12) as usize;
        batch.events += 1;
        batch.overflow |= mask & libc::IN_Q_OVERFLOW != 0;
        batch.lost |= mask & LOST != 0;
        bytes = bytes.get(EVENT_HEADER + name_len..).unwrap_or_default();
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(mask: u32, name: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&1i32.to_ne_bytes());
        r.extend_from_slice(&mask.to_ne_bytes());
        r.extend_from_slice(&0u32.to_ne_bytes());
        r.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        r.extend_from_slice(name);
        r
    }

    #[test]
    fn parses_records() {
        let mut bytes = record(libc::IN_CREATE, b"a.json\0\0");
        bytes.extend(record(libc::IN_Q_OVERFLOW, b""));
        bytes.extend(record(libc::IN_DELETE_SELF, b""));
        let b = parse(&bytes);
        assert_eq!(
            b,
            Events {
                events: 3,
                overflow: true,
                lost: true
            }
        );
        assert!(!parse(&record(libc::IN_MODIFY, b"x\0\0\0")).lost);
    }

    /// Seeded: random buffers (records with lengths past the end, headers cut short) never
    /// panic, and well-formed queues count every record.
    #[test]
    fn random_buffers_never_panic_and_records_are_counted() {
        let mut rng = testkit::rng::Rng::from_env("LICHEN_PARSE_SEED");
        for _ in 0..2000 {
            let n = rng.below(6);
            let mut bytes = Vec::new();
            for _ in 0..n {
                let name = vec![b'x'; rng.below(3) * 4];
                bytes.extend(record(
                    rng.next_u64() as u32 & !(LOST | libc::IN_Q_OVERFLOW),
                    &name,
                ));
            }
            assert_eq!(parse(&bytes).events, n);
            assert!(!parse(&bytes).lost && !parse(&bytes).overflow);
            let junk: Vec<u8> = (0..rng.below(80)).map(|_| rng.next_u64() as u8).collect();
            let cut = rng.below(bytes.len() + 1);
            for b in [&junk[..], &bytes[..cut]] {
                assert!(parse(b).events <= b.len() / EVENT_HEADER);
            }
        }
    }

    #[test]
    fn watching_a_missing_directory_keeps_errno() {
        let e = Watch::dir(Path::new("/nonexistent/lichen-watch"))
            .err()
            .unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
