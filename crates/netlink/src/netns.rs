//! Network namespaces: open by path, run a closure (or open a socket) inside one, come back.
//!
//! Namespaces are entered per *thread* with setns(2) only long enough to open a netlink socket
//! there; sockets keep their namespace, so the rest of the work happens from the caller's
//! namespace over that socket (netavark's approach).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `NS_GET_NSTYPE` from linux/nsfs.h: `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
/// `NSFS_MAGIC` from linux/magic.h: the filesystem of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// An open network namespace.
#[derive(Debug)]
pub struct NetNs {
    pub path: PathBuf,
    pub file: File,
}

impl NetNs {
    /// Opens a namespace file (e.g. `/var/run/netns/x`, `/proc/<pid>/ns/net`). `NotFound` when
    /// the path does not exist; `InvalidInput` when it is not a network namespace.
    pub fn open(path: &Path) -> io::Result<NetNs> {
        let file = File::open(path)?;
        check_is_netns(&file)?;
        Ok(NetNs {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The calling thread's current namespace.
    pub fn current() -> io::Result<NetNs> {
        // `/proc/self` names the thread-group leader; namespaces are per thread.
        match NetNs::open(Path::new("/proc/thread-self/ns/net")) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Kernels before 3.17 have no thread-self.
                let tid = unsafe { libc::syscall(libc::SYS_gettid) };
                NetNs::open(&PathBuf::from(format!("/proc/self/task/{tid}/ns/net")))
            }
            other => other,
        }
    }

    /// The namespace's identity (inode number of the nsfs file): equal for the same namespace.
    pub fn inode(&self) -> io::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        Ok(self.file.metadata()?.ino())
    }

    /// Runs `f` with the calling thread inside this namespace, then switches back (also when `f`
    /// fails). Keep `f` short: only socket creation or a sysctl write belongs here.
    pub fn run<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let origin = NetNs::current()?;
        setns(&self.file)?;
        // Switch back even if `f` panics: a thread left in a pod's namespace would do the
        // node's work in the wrong place.
        let _back = Restore(origin);
        f()
    }
}

/// Moves the calling thread back into its namespace when dropped.
struct Restore(NetNs);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.0.file) {
            // Continuing would act on the wrong namespace; there is no safe way on.
            panic!(
                "cannot return to network namespace {}: {e}",
                self.0.path.display()
            );
        }
    }
}

fn setns(file: &File) -> io::Result<()> {
    // SAFETY: plain syscall on an fd we own.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Without the ioctl: the kernel names an open namespace file `net:[<inode>]` in /proc.
fn check_by_link_name(fd: i32) -> io::Result<()> {
    match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(target) if other_ns_type(&target.to_string_lossy()) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a network namespace (another namespace type)",
        )),
        // /proc unreadable: setns(2) will still refuse another namespace type
        _ => Ok(()),
    }
}

/// `uts:[4026531838]` and the like: a namespace file of another type than `net`.
fn other_ns_type(link: &str) -> bool {
    match link.split_once(":[") {
        Some((kind, rest)) => {
            kind != "net" && rest.ends_with(']') && kind.bytes().all(|b| b.is_ascii_lowercase())
        }
        None => false,
    }
}

/// `InvalidInput` unless `file` is a network-namespace file (a nsfs inode of type CLONE_NEWNET).
fn check_is_netns(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fstatfs fills the zeroed struct we pass.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let statfs_ok = if unsafe { libc::fstatfs(fd, &mut st) } != 0 {
        let e = io::Error::last_os_error();
        // Emulators (qemu-user) may not implement it: the ioctl, and setns itself, still check.
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e);
        }
        false
    } else {
        true
    };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets.
    if statfs_ok && st.f_type as i64 != NSFS_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a network namespace (not an nsfs file)",
        ));
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the CLONE_NEW* type.
    let kind = unsafe { libc::ioctl(fd, NS_GET_NSTYPE as _) };
    if kind < 0 {
        let e = io::Error::last_os_error();
        // Before Linux 4.11 the ioctl does not exist, and qemu-user does not translate it
        // (ENOSYS): nsfs is all we can check; setns(2) refuses other namespace types anyway.
        return match e.raw_os_error() {
            Some(libc::ENOTTY) | Some(libc::EINVAL) | Some(libc::ENOSYS) => check_by_link_name(fd),
            _ => Err(e),
        };
    }
    if kind != libc::CLONE_NEWNET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a network namespace (another namespace type)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::{enter_node, pod};

    #[test]
    fn open_tells_missing_from_not_a_netns() {
        let e = NetNs::open(Path::new("/run/netns/lichen-no-such-ns")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = NetNs::open(Path::new("/proc/self/status")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // An nsfs file of another namespace type.
        let e = NetNs::open(Path::new("/proc/self/ns/uts")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        NetNs::open(Path::new("/proc/self/ns/net")).unwrap();
    }

    #[test]
    fn run_enters_and_always_comes_back() {
        testkit::require_root!();
        enter_node();
        let node = NetNs::current().unwrap().inode().unwrap();
        let pod = pod("ns");
        let ns = NetNs::open(&pod.path).unwrap();
        let inside = ns.run(|| NetNs::current()?.inode()).unwrap();
        assert_eq!(inside, ns.inode().unwrap());
        assert_ne!(inside, node);
        assert_eq!(NetNs::current().unwrap().inode().unwrap(), node);

        let e = ns
            .run(|| -> io::Result<()> { Err(io::Error::other("boom")) })
            .unwrap_err();
        assert_eq!(e.to_string(), "boom");
        assert_eq!(NetNs::current().unwrap().inode().unwrap(), node);
    }
}
