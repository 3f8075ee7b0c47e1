//! The disk store on real files: host-local's layout byte for byte, host-local's leases, release
//! by index and by scan, GC.

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::symlink;

use super::common::{ip, lease_names, names, read, set, TempDir};
use crate::{Ipam, IpamError, RangeSet, Store};

fn sets() -> Vec<RangeSet> {
    vec![
        set("10.1.0.0/24", None, None),
        set("fd00:1::/120", None, None),
    ]
}

#[test]
fn layout_is_host_locals_byte_for_byte() {
    let tmp = TempDir::new("layout");
    let ipam = Ipam::open(tmp.path(), "net1").unwrap();
    let got = ipam.allocate(&sets(), "cid1", "eth0", &[]).unwrap();
    assert_eq!(got[0].address.to_string(), "10.1.0.2/24");
    assert_eq!(got[1].address.to_string(), "fd00:1::2/120");

    let dir = tmp.path().join("net1");
    assert_eq!(
        names(&dir),
        [
            ".lichen",
            "10.1.0.2",
            "fd00:1::2",
            "last_reserved_ip.0",
            "last_reserved_ip.1",
            "lock"
        ]
    );
    assert_eq!(fs::read(dir.join("10.1.0.2")).unwrap(), b"cid1\r\neth0");
    assert_eq!(fs::read(dir.join("fd00:1::2")).unwrap(), b"cid1\r\neth0");
    assert_eq!(
        fs::read(dir.join("last_reserved_ip.0")).unwrap(),
        b"10.1.0.2"
    );
    assert_eq!(
        fs::read(dir.join("last_reserved_ip.1")).unwrap(),
        b"fd00:1::2"
    );
    // The index, and no temp file left.
    assert_eq!(names(&dir.join(".lichen/attachments")), ["cid1@eth0"]);
    let index = read(dir.join(".lichen/attachments/cid1@eth0"));
    assert_eq!(
        index.lines().skip(1).collect::<Vec<_>>(),
        ["10.1.0.2", "fd00:1::2"]
    );
    assert!(names(&dir.join(".lichen/tmp")).is_empty());

    // A container ID with surrounding spaces is trimmed, as host-local does.
    ipam.allocate(&sets(), " cid2 ", "eth0", &[]).unwrap();
    assert_eq!(fs::read(dir.join("10.1.0.3")).unwrap(), b"cid2\r\neth0");
    assert_eq!(ipam.release("cid2", "eth0").unwrap().len(), 2);
}

#[test]
fn host_local_leases_are_read_and_never_reallocated() {
    let tmp = TempDir::new("hlread");
    let dir = tmp.path().join("net");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("10.1.0.2"), "new-format\r\neth0").unwrap();
    fs::write(dir.join("10.1.0.3"), "old-format").unwrap();
    fs::write(dir.join("10.1.0.4"), "").unwrap(); // host-local crashed between create and write
    fs::write(dir.join("fd00:1::2"), "new-format\r\neth0").unwrap();
    fs::write(dir.join("last_reserved_ip.0"), "10.1.0.1").unwrap();
    fs::write(dir.join("lock"), "").unwrap();

    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    let leases = ipam.leases().unwrap();
    let holders: Vec<(String, &str, &str)> = leases
        .iter()
        .map(|l| (l.ip.to_string(), l.container_id.as_str(), l.ifname.as_str()))
        .collect();
    assert_eq!(
        holders,
        [
            ("10.1.0.2".into(), "new-format", "eth0"),
            ("10.1.0.3".into(), "old-format", ""),
            ("10.1.0.4".into(), "", ""),
            ("fd00:1::2".into(), "new-format", "eth0"),
        ]
    );
    // Fresh attachments skip all of them, the empty one included.
    let got = ipam.allocate(&sets(), "fresh", "eth0", &[]).unwrap();
    assert_eq!(got[0].address.addr(), ip("10.1.0.5"));
    assert_eq!(got[1].address.addr(), ip("fd00:1::3"));
    // Requested host-local addresses are refused.
    let err = ipam
        .allocate(&sets()[..1], "x", "eth0", &[ip("10.1.0.3")])
        .unwrap_err();
    assert!(
        matches!(err, IpamError::AlreadyLeased { ref holder, .. } if holder == "container old-format")
    );
    // host-local's attachments get their addresses back, and release by scan.
    let again = ipam.allocate(&sets(), "new-format", "eth0", &[]).unwrap();
    assert_eq!(
        again.iter().map(|a| a.address.addr()).collect::<Vec<_>>(),
        [ip("10.1.0.2"), ip("fd00:1::2")]
    );
    assert_eq!(ipam.get("old-format", "eth7").unwrap(), [ip("10.1.0.3")]);
    assert_eq!(
        ipam.release("new-format", "eth0").unwrap(),
        [ip("10.1.0.2"), ip("fd00:1::2")]
    );
    assert_eq!(
        ipam.release("old-format", "eth7").unwrap(),
        [ip("10.1.0.3")]
    );
    assert_eq!(lease_names(&dir), ["10.1.0.4", "10.1.0.5", "fd00:1::3"]);
}

#[test]
fn release_uses_the_index_without_reading_other_leases() {
    let tmp = TempDir::new("byindex");
    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    let dir = tmp.path().join("net");
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    // Poison: an entry named like an address that cannot be read. Any scan of the directory
    // now fails, so success below proves release and get did not scan.
    symlink(tmp.path(), dir.join("10.1.0.200")).unwrap();
    let scan = ipam.release("never-allocated", "eth0").unwrap_err();
    assert!(matches!(scan, IpamError::Io { op: "read", .. }), "{scan}");

    assert_eq!(
        ipam.get("a", "eth0").unwrap(),
        [ip("10.1.0.2"), ip("fd00:1::2")]
    );
    assert_eq!(
        ipam.release("a", "eth0").unwrap(),
        [ip("10.1.0.2"), ip("fd00:1::2")]
    );
    assert!(!dir.join("10.1.0.2").exists() && !dir.join("fd00:1::2").exists());
    assert!(dir.join("10.1.0.3").exists() && dir.join("fd00:1::3").exists());
    assert_eq!(names(&dir.join(".lichen/attachments")), ["b@eth0"]);
    fs::remove_file(dir.join("10.1.0.200")).unwrap();
    // Repeated release: nothing left, Ok.
    assert!(ipam.release("a", "eth0").unwrap().is_empty());
}

#[test]
fn release_verifies_index_entries_against_the_lease_files() {
    let tmp = TempDir::new("verify");
    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    let dir = tmp.path().join("net");
    ipam.allocate(&sets()[..1], "a", "eth0", &[]).unwrap();
    // The lease changed hands behind the index's back (e.g. host-local released and reused it).
    fs::remove_file(dir.join("10.1.0.2")).unwrap();
    fs::write(dir.join("10.1.0.2"), "other\r\neth0").unwrap();
    assert!(ipam.get("a", "eth0").unwrap().is_empty());
    assert!(ipam.release("a", "eth0").unwrap().is_empty());
    assert_eq!(read(dir.join("10.1.0.2")), "other\r\neth0");
}

#[test]
fn gc_releases_unknown_leases_and_tidies_up() {
    let tmp = TempDir::new("gc");
    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    let dir = tmp.path().join("net");
    for cid in ["keep", "drop1", "drop2"] {
        ipam.allocate(&sets(), cid, "eth0", &[]).unwrap();
    }
    fs::write(dir.join("10.1.0.100"), "hl-old").unwrap();
    fs::write(dir.join("10.1.0.101"), "hl-keep\r\neth1").unwrap();
    fs::write(dir.join("10.1.0.102"), "").unwrap();
    // Leftovers of crashes: a stale temp file, an index entry pointing nowhere, a foreign file.
    fs::write(dir.join(".lichen/tmp/.tmp-1-1"), "ghost\r\neth0").unwrap();
    fs::write(
        dir.join(".lichen/attachments/ghost@eth0"),
        "# x\n10.1.0.77\n",
    )
    .unwrap();
    fs::write(dir.join(".lichen/attachments/not-a-key"), "").unwrap();

    let valid = [
        ("keep".to_string(), "eth0".to_string()),
        ("hl-keep".to_string(), "eth1".to_string()),
    ];
    let (mut released, errors) = ipam.gc(&valid);
    assert!(errors.is_empty(), "{errors:?}");
    released.sort();
    let expect: Vec<IpAddr> = [
        "10.1.0.3",
        "10.1.0.4",
        "10.1.0.100",
        "10.1.0.102",
        "fd00:1::3",
        "fd00:1::4",
    ]
    .iter()
    .map(|s| ip(s))
    .collect();
    assert_eq!(released, expect);
    assert_eq!(lease_names(&dir), ["10.1.0.101", "10.1.0.2", "fd00:1::2"]);
    assert_eq!(names(&dir.join(".lichen/attachments")), ["keep@eth0"]);
    assert!(names(&dir.join(".lichen/tmp")).is_empty());
}

#[test]
fn attachments_too_long_to_index_are_found_by_scan() {
    let tmp = TempDir::new("longid");
    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    let dir = tmp.path().join("net");
    let cid = "c".repeat(300);
    let got = ipam.allocate(&sets(), &cid, "eth0", &[]).unwrap();
    assert!(names(&dir.join(".lichen/attachments")).is_empty());
    assert_eq!(read(dir.join("10.1.0.2")), format!("{cid}\r\neth0"));
    assert_eq!(ipam.allocate(&sets(), &cid, "eth0", &[]).unwrap(), got);
    assert_eq!(ipam.release(&cid, "eth0").unwrap().len(), 2);
    assert!(lease_names(&dir).is_empty());
}

#[test]
fn network_names_must_be_one_path_component() {
    let tmp = TempDir::new("names");
    for bad in ["", ".", "..", "a/b", "/abs", "nul\0", &"n".repeat(256)] {
        let err = Ipam::open(tmp.path(), bad).err().expect(bad);
        assert!(matches!(err, IpamError::InvalidNetworkName(_)), "{bad:?}");
    }
    assert!(names(tmp.path()).is_empty());
    Ipam::open(tmp.path(), &"n".repeat(255)).unwrap();
    Ipam::open(tmp.path(), ".hidden-but-fine").unwrap();
}

#[test]
fn lock_errors_are_errors() {
    let tmp = TempDir::new("lockerr");
    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    // A directory where the lock file should be: opening it for writing fails.
    fs::create_dir(tmp.path().join("net/lock")).unwrap();
    let err = ipam.allocate(&sets(), "a", "eth0", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            IpamError::Io {
                op: "open lock file",
                ..
            }
        ),
        "{err}"
    );
    assert!(lease_names(&tmp.path().join("net")).is_empty());
    let (released, errors) = ipam.gc(&[]);
    assert!(released.is_empty() && errors.len() == 1);
    assert!(ipam.store().lock().is_err());
}
