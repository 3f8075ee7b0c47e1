//! The lease cache and the survey: a cache that is missing, torn, of another boot or stale is
//! never trusted for more than it knows, leases written behind its back are seen, and the first
//! survey after a reboot repairs indexes.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::common::{ip, lease_names, read, set, TempDir};
use crate::cache::{self, boot_id};
use crate::{Ipam, IpamError, RangeSet};

fn sets() -> Vec<RangeSet> {
    vec![set("10.5.0.0/24", None, None)]
}

fn open(tmp: &TempDir) -> (Ipam, PathBuf) {
    (
        Ipam::open(tmp.path(), "net").unwrap(),
        tmp.path().join("net"),
    )
}

fn cache_path(dir: &Path) -> PathBuf {
    dir.join(".lichen/leases")
}

/// The cached (name, holder) pairs, if the cache is whole and of this boot.
fn cached(dir: &Path) -> Option<Vec<(String, String)>> {
    let text = fs::read_to_string(cache_path(dir)).ok()?;
    let entries = cache::parse(&text, boot_id().unwrap())?;
    let mut v: Vec<(String, String)> = entries
        .iter()
        .map(|(n, c)| (n.to_string(), c.holder.to_string()))
        .collect();
    v.sort();
    Some(v)
}

/// Writes a lease file the way host-local does (create, write; a new inode).
fn host_local_writes(dir: &Path, addr: &str, holder: &str) {
    fs::write(dir.join(addr), holder).unwrap();
}

#[test]
fn the_cache_follows_the_directory() {
    let tmp = TempDir::new("cache-follow");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    // The cache is written by the surveys of fresh attachments: "b"'s saw "a"'s lease.
    assert_eq!(
        cached(&dir).unwrap(),
        [("10.5.0.2".into(), cache::holder("a", "eth0"))]
    );
    ipam.release("a", "eth0").unwrap();
    ipam.allocate(&sets(), "c", "eth0", &[]).unwrap();
    assert_eq!(
        cached(&dir).unwrap(),
        [("10.5.0.3".into(), cache::holder("b", "eth0"))]
    );
    // Listing reads every file and rewrites the cache whole.
    ipam.leases().unwrap();
    assert_eq!(cached(&dir).unwrap().len(), 2);
}

#[test]
fn a_missing_torn_or_foreign_cache_is_rebuilt_from_the_files() {
    let tmp = TempDir::new("cache-bad");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    host_local_writes(&dir, "10.5.0.3", "hl\r\neth0");
    ipam.leases().unwrap();
    let whole = fs::read_to_string(cache_path(&dir)).unwrap();
    let mut other_boot = cache::Writer::new("another-boot");
    other_boot.push(
        "10.5.0.3",
        fs::metadata(dir.join("10.5.0.3")).unwrap().ino(),
        &cache::holder("x", "eth0"),
    );
    let damaged: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("torn", Some(whole[..whole.len() / 2].to_string())),
        ("garbage", Some("10.5.0.3 1 x eth0\n".into())),
        ("another boot", Some(other_boot.finish())),
    ];
    for (what, text) in damaged {
        match &text {
            Some(t) => fs::write(cache_path(&dir), t).unwrap(),
            None => fs::remove_file(cache_path(&dir)).unwrap(),
        }
        // host-local's attachment is found (not "x", which the foreign cache claimed).
        assert_eq!(ipam.get("hl", "eth0").unwrap(), [ip("10.5.0.3")], "{what}");
        assert!(ipam.get("x", "eth0").unwrap().is_empty(), "{what}");
        assert_eq!(cached(&dir).unwrap().len(), 2, "{what}: rebuilt");
        // And a fresh attachment gets neither leased address.
        let got = ipam.allocate(&sets(), "fresh", "eth0", &[]).unwrap();
        let got = got[0].address.addr();
        assert!(
            got != ip("10.5.0.2") && got != ip("10.5.0.3"),
            "{what}: {got}"
        );
        ipam.release("fresh", "eth0").unwrap();
    }
}

#[test]
fn a_stale_cache_is_corrected_by_the_directory_listing() {
    let tmp = TempDir::new("cache-stale");
    let (ipam, dir) = open(&tmp);
    for cid in ["a", "b"] {
        ipam.allocate(&sets(), cid, "eth0", &[]).unwrap();
    }
    ipam.leases().unwrap();
    let before = cached(&dir).unwrap();
    assert_eq!(before.len(), 2);

    // Behind the cache's back (host-local, after a switch): a's lease released, b's address
    // released and leased again to "hl" (a new inode under the same name), and "hl2" leased.
    fs::remove_file(dir.join("10.5.0.2")).unwrap();
    fs::write(dir.join(".swap"), "hl\r\neth0").unwrap();
    let old_ino = fs::metadata(dir.join("10.5.0.3")).unwrap().ino();
    fs::rename(dir.join(".swap"), dir.join("10.5.0.3")).unwrap();
    assert_ne!(fs::metadata(dir.join("10.5.0.3")).unwrap().ino(), old_ino);
    host_local_writes(&dir, "10.5.0.9", "hl2\r\neth0");

    assert_eq!(ipam.get("hl", "eth0").unwrap(), [ip("10.5.0.3")]);
    assert_eq!(ipam.get("hl2", "eth0").unwrap(), [ip("10.5.0.9")]);
    assert!(ipam.get("b", "eth0").unwrap().is_empty());
    assert_eq!(
        cached(&dir).unwrap(),
        [
            ("10.5.0.3".into(), cache::holder("hl", "eth0")),
            ("10.5.0.9".into(), cache::holder("hl2", "eth0")),
        ]
    );
    // The freed address can be had again; the others cannot.
    let n = ipam.allocate(&sets(), "n", "eth0", &[ip("10.5.0.2")]);
    assert_eq!(n.unwrap()[0].address.addr(), ip("10.5.0.2"));
    for taken in ["10.5.0.3", "10.5.0.9"] {
        let err = ipam
            .allocate(&sets(), "m", "eth0", &[ip(taken)])
            .unwrap_err();
        assert!(matches!(err, IpamError::AlreadyLeased { .. }), "{err}");
    }
    // host-local's attachments release by the survey.
    assert_eq!(ipam.release("hl2", "eth0").unwrap(), [ip("10.5.0.9")]);
    assert!(!dir.join("10.5.0.9").exists());
}

#[test]
fn a_host_local_lease_appearing_behind_our_back_is_never_handed_out() {
    let tmp = TempDir::new("cache-behind");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    // host-local takes the next address round-robin would give, and its cursor stays put.
    host_local_writes(&dir, "10.5.0.4", "hl\r\neth0");
    let c = ipam.allocate(&sets(), "c", "eth0", &[]).unwrap();
    assert_eq!(c[0].address.addr(), ip("10.5.0.5"));
    let err = ipam
        .allocate(&sets(), "d", "eth0", &[ip("10.5.0.4")])
        .unwrap_err();
    assert!(matches!(err, IpamError::AlreadyLeased { .. }), "{err}");
    // hl's retried ADD gets its address back instead of a second one.
    let again = ipam.allocate(&sets(), "hl", "eth0", &[]).unwrap();
    assert_eq!(again[0].address.addr(), ip("10.5.0.4"));
    assert_eq!(read(dir.join("10.5.0.4")), "hl\r\neth0");
    assert_eq!(lease_names(&dir).len(), 4);
}

#[test]
fn known_files_are_not_read_again() {
    let tmp = TempDir::new("cache-noread");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    ipam.leases().unwrap();
    // Rewritten in place (same name, same inode): nobody does this, and the survey does not
    // notice, which shows that it did not open the file. Its answer is still verified, so
    // it never credits "a" with a lease that now names someone else.
    fs::write(dir.join("10.5.0.2"), "x\r\neth0").unwrap();
    assert!(ipam.get("x", "eth0").unwrap().is_empty());
    assert!(ipam.release("x", "eth0").unwrap().is_empty());
    let fresh = ipam.allocate(&sets(), "fresh", "eth0", &[]).unwrap();
    assert_eq!(fresh[0].address.addr(), ip("10.5.0.3"));
    // A listing (GC, `lichen ipam list`) reads every file and refreshes the cache.
    ipam.leases().unwrap();
    assert_eq!(ipam.get("x", "eth0").unwrap(), [ip("10.5.0.2")]);
}

#[test]
fn the_first_survey_after_a_reboot_repairs_indexes() {
    let tmp = TempDir::new("cache-reboot");
    let (ipam, dir) = open(&tmp);
    let two = vec![
        set("10.5.0.0/24", None, None),
        set("fd00:5::/120", None, None),
    ];
    ipam.allocate(&two, "a", "eth0", &[]).unwrap();
    ipam.allocate(&two, "b", "eth0", &[]).unwrap();
    // What a power loss can leave: a's index lost its second line, b's index is gone, and the
    // cache is from the boot before.
    let index = dir.join(".lichen/attachments");
    let a_index = read(index.join("a@eth0"));
    let first_two_lines: String = a_index.lines().take(2).map(|l| format!("{l}\n")).collect();
    fs::write(index.join("a@eth0"), first_two_lines).unwrap();
    fs::remove_file(index.join("b@eth0")).unwrap();
    let mut stale = cache::Writer::new("the-boot-before");
    stale.push("10.5.0.2", 1, &cache::holder("a", "eth0"));
    fs::write(cache_path(&dir), stale.finish()).unwrap();

    // The first fresh ADD surveys, re-indexes a's v6 lease, and gets distinct addresses.
    let c = ipam.allocate(&two, "c", "eth0", &[]).unwrap();
    assert_eq!(c[0].address.addr(), ip("10.5.0.4"));
    assert_eq!(read(index.join("a@eth0")).lines().count(), 3);
    assert_eq!(
        ipam.get("a", "eth0").unwrap(),
        [ip("10.5.0.2"), ip("fd00:5::2")]
    );
    // b has no index: found by the survey.
    assert_eq!(
        ipam.release("b", "eth0").unwrap(),
        [ip("10.5.0.3"), ip("fd00:5::3")]
    );
    ipam.leases().unwrap();
    assert_eq!(cached(&dir).unwrap().len(), 4);
}

#[test]
fn a_crash_while_creating_or_appending_to_an_index_is_harmless() {
    let tmp = TempDir::new("crash-index-write");
    let (ipam, dir) = open(&tmp);
    let index = dir.join(".lichen/attachments");
    // Created, not written: no lease exists yet, and the retried ADD writes a whole index.
    fs::write(index.join("a@eth0"), "").unwrap();
    let a = ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    assert_eq!(a[0].address.addr(), ip("10.5.0.2"));
    assert_eq!(ipam.get("a", "eth0").unwrap(), [ip("10.5.0.2")]);
    assert!(read(index.join("a@eth0")).starts_with("# lichen-ipam"));
    // A torn last line (a crash mid-append before the lease was linked) is fenced off.
    let torn = format!("{}fd00:5::", read(index.join("a@eth0")));
    fs::write(index.join("a@eth0"), torn).unwrap();
    let two = vec![
        set("10.5.0.0/24", None, None),
        set("fd00:5::/120", None, None),
    ];
    let both = ipam.allocate(&two, "a", "eth0", &[]).unwrap();
    assert_eq!(both[1].address.addr(), ip("fd00:5::2"));
    assert_eq!(
        ipam.release("a", "eth0").unwrap(),
        [ip("10.5.0.2"), ip("fd00:5::2")]
    );
    assert!(lease_names(&dir).is_empty());
}
