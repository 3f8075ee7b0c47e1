//! Lease texts written ahead of the lock: linked under it, shared by one call's leases, and
//! harmless when a crash or host-local leaves them behind or takes them away.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::common::{ip, lease_names, names, read, set, TempDir};
use crate::{DiskStore, Ipam, RangeSet, Store};

fn sets() -> Vec<RangeSet> {
    vec![
        set("10.6.0.0/24", None, None),
        set("fd00:6::/120", None, None),
    ]
}

fn open(tmp: &TempDir) -> (Ipam, PathBuf) {
    (
        Ipam::open(tmp.path(), "net").unwrap(),
        tmp.path().join("net"),
    )
}

fn prep(dir: &Path) -> Vec<String> {
    names(&dir.join(".lichen/prep"))
}

/// Ages every prepared file past the point where GC takes it for a crash's leftover.
fn age_prepared(dir: &Path) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    for name in prep(dir) {
        let f = fs::File::options()
            .write(true)
            .open(dir.join(".lichen/prep").join(name))
            .unwrap();
        f.set_modified(old).unwrap();
    }
}

#[test]
fn one_prepared_inode_backs_the_calls_leases_and_is_unlinked_after() {
    let tmp = TempDir::new("prep-share");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    assert!(prep(&dir).is_empty());
    let (v4, v6) = (dir.join("10.6.0.2"), dir.join("fd00:6::2"));
    let (m4, m6) = (fs::metadata(&v4).unwrap(), fs::metadata(&v6).unwrap());
    assert_eq!((m4.ino(), m4.nlink()), (m6.ino(), 2));
    // Releasing one name leaves the other whole.
    ipam.store().release_ip(ip("10.6.0.2")).unwrap();
    assert_eq!(read(&v6), "a\r\neth0");
    assert_eq!(fs::metadata(&v6).unwrap().nlink(), 1);
    // The next attachment gets its own inode.
    ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    let b4 = fs::metadata(dir.join("10.6.0.3")).unwrap();
    assert_ne!(b4.ino(), m4.ino());
    assert_eq!(read(dir.join("10.6.0.3")), "b\r\neth0");
}

#[test]
fn a_crash_after_preparing_leaves_no_lease_and_gc_removes_the_file_once_stale() {
    let tmp = TempDir::new("prep-crash");
    let (ipam, dir) = open(&tmp);
    let doomed = DiskStore::open(tmp.path(), "net").unwrap();
    doomed.prepare("a", "eth0");
    std::mem::forget(doomed); // the process dies: nothing cleans up
    assert_eq!(prep(&dir).len(), 1);
    assert!(ipam.leases().unwrap().is_empty());
    let b = ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    assert_eq!(b[0].address.addr(), ip("10.6.0.2"));

    let valid = [("b".to_string(), "eth0".to_string())];
    let (released, errors) = ipam.gc(&valid);
    assert!(released.is_empty() && errors.is_empty(), "{errors:?}");
    assert_eq!(prep(&dir).len(), 1, "young: may belong to a live ADD");
    age_prepared(&dir);
    let (released, errors) = ipam.gc(&valid);
    assert!(released.is_empty() && errors.is_empty(), "{errors:?}");
    assert!(prep(&dir).is_empty());
}

#[test]
fn a_crash_after_linking_before_finishing_keeps_whole_leases() {
    let tmp = TempDir::new("prep-linked");
    let (ipam, dir) = open(&tmp);
    let doomed = DiskStore::open(tmp.path(), "net").unwrap();
    doomed.prepare("a", "eth0");
    {
        let _lock = doomed.lock().unwrap();
        assert!(doomed.reserve(ip("10.6.0.2"), "a", "eth0", 0).unwrap());
    }
    std::mem::forget(doomed);
    assert_eq!(prep(&dir).len(), 1);

    // The retried ADD gets the same address; the leftover name never counts as a lease.
    let a = ipam.allocate(&sets()[..1], "a", "eth0", &[]).unwrap();
    assert_eq!(a[0].address.addr(), ip("10.6.0.2"));
    assert_eq!(lease_names(&dir), ["10.6.0.2"]);
    age_prepared(&dir);
    let (released, errors) = ipam.gc(&[("a".into(), "eth0".into())]);
    assert!(released.is_empty() && errors.is_empty(), "{errors:?}");
    assert!(prep(&dir).is_empty());
    assert_eq!(read(dir.join("10.6.0.2")), "a\r\neth0");
    assert_eq!(ipam.release("a", "eth0").unwrap(), [ip("10.6.0.2")]);
}

#[test]
fn a_prepared_file_taken_away_is_written_again_under_the_lock() {
    let tmp = TempDir::new("prep-gone");
    let (ipam, dir) = open(&tmp);
    let store = ipam.store();
    store.prepare("a", "eth0");
    // host-local's DEL walk deletes any file holding the text it releases.
    for name in prep(&dir) {
        fs::remove_file(dir.join(".lichen/prep").join(name)).unwrap();
    }
    let a = ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(read(dir.join("10.6.0.2")), "a\r\neth0");
    assert_eq!(read(dir.join("fd00:6::2")), "a\r\neth0");
    assert!(prep(&dir).is_empty());
    assert!(names(&dir.join(".lichen/tmp")).is_empty());
}
