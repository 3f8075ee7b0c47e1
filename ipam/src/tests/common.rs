//! Test helpers: temp directories removed on drop, parsing shorthands, file inspection.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Range, RangeSet};

/// A fresh directory under the system temp dir, removed (with its content) when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("lichen-ipam-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A one-range set: `subnet` with optional start and end.
pub fn set(subnet: &str, start: Option<&str>, end: Option<&str>) -> RangeSet {
    let r = Range::new(subnet.parse().unwrap(), start.map(ip), end.map(ip), None).unwrap();
    RangeSet::new(vec![r]).unwrap()
}

/// The names in a directory, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// The names of the lease files (names that parse as addresses) in a network directory.
pub fn lease_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.parse::<IpAddr>().is_ok())
        .collect()
}

pub fn read(path: impl AsRef<Path>) -> String {
    String::from_utf8(fs::read(path).unwrap()).unwrap()
}

/// A command re-running this test binary, through `$LICHEN_RUNNER` (e.g. `qemu-arm -cpu
/// cortex-a7`) when the tests of a foreign-architecture build run under qemu-user.
pub fn this_test_binary() -> std::process::Command {
    let exe = std::env::current_exe().expect("test binary path");
    match std::env::var("LICHEN_RUNNER") {
        Ok(r) if !r.trim().is_empty() => {
            let mut words = r.split_whitespace();
            let mut c = std::process::Command::new(words.next().expect("non-empty"));
            c.args(words).arg(exe);
            c
        }
        _ => std::process::Command::new(exe),
    }
}
