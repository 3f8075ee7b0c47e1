//! Links and special files planted in the store: nothing is ever written through them, and
//! every operation either replaces the planted name with a file of its own or fails saying why.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::common::{ip, lease_names, set, TempDir};
use crate::{Ipam, RangeSet};

const PRECIOUS: &[u8] = b"precious: not the store's\n";

fn sets() -> Vec<RangeSet> {
    vec![set("10.1.0.0/24", None, None)]
}

/// A file outside the store, and a symlink to it at `at`.
fn plant(outside: &Path, at: &Path) {
    fs::write(outside, PRECIOUS).unwrap();
    let _ = fs::remove_file(at);
    symlink(outside, at).unwrap();
}

fn is_plain_file(p: &Path) -> bool {
    fs::symlink_metadata(p).unwrap().file_type().is_file()
}

#[test]
fn symlinks_to_outside_files_are_replaced_never_written_through() {
    let tmp = TempDir::new("planted");
    let outside = TempDir::new("planted-outside");
    let ipam = Ipam::open(tmp.path(), "net1").unwrap();
    let dir = tmp.path().join("net1");
    ipam.allocate(&sets(), "cid0", "eth0", &[]).unwrap();

    let targets = [
        ("leases", dir.join(".lichen/leases")),
        ("cursor", dir.join("last_reserved_ip.0")),
        ("index", dir.join(".lichen/attachments/cid1@eth0")),
        ("index-old", dir.join(".lichen/attachments/cid0@eth0")),
    ];
    for (name, at) in &targets {
        plant(&outside.path().join(name), at);
    }
    // A new lease file appears (the cache is rewritten), the cursor moves, the new attachment's
    // index is created, then the old attachment is released (its index rewritten) and GC runs.
    let got = ipam.allocate(&sets(), "cid1", "eth0", &[]).unwrap();
    assert_eq!(got[0].address.addr(), ip("10.1.0.3"));
    assert_eq!(ipam.get("cid1", "eth0").unwrap(), [ip("10.1.0.3")]);
    ipam.release("cid0", "eth0").unwrap();
    let (_, errors) = ipam.gc(&[("cid1".into(), "eth0".into())]);
    assert!(errors.is_empty(), "{errors:?}");

    for (name, at) in &targets {
        let path = outside.path().join(name);
        assert_eq!(fs::read(&path).unwrap(), PRECIOUS, "{name} written through");
        assert!(!at.exists() || is_plain_file(at), "{name}: {at:?}");
    }
    assert!(is_plain_file(&dir.join("last_reserved_ip.0")));
    assert_eq!(
        fs::read(dir.join("last_reserved_ip.0")).unwrap(),
        b"10.1.0.3"
    );
    assert!(is_plain_file(&dir.join(".lichen/attachments/cid1@eth0")));
    // FIFOs at the cursor and where the next attachment's index goes never block, fail or
    // stay: they are replaced.
    let fifos = [
        dir.join("last_reserved_ip.0"),
        dir.join(".lichen/attachments/cid2@eth0"),
    ];
    for f in &fifos {
        let _ = fs::remove_file(f);
        let c_path = std::ffi::CString::new(f.clone().into_os_string().into_encoded_bytes());
        assert_eq!(unsafe { libc::mkfifo(c_path.unwrap().as_ptr(), 0o644) }, 0);
    }
    // The store still works as one: the next ADD, without a cursor, takes the first free
    // address (cid0's, released above).
    let got = ipam.allocate(&sets(), "cid2", "eth0", &[]).unwrap();
    assert_eq!(got[0].address.addr(), ip("10.1.0.2"));
    assert!(fifos.iter().all(|f| is_plain_file(f)));
    assert_eq!(fs::read(&fifos[0]).unwrap(), b"10.1.0.2");
}

#[test]
fn a_planted_lock_or_metadata_directory_is_refused_with_a_clear_error() {
    let tmp = TempDir::new("planted-lock");
    let outside = TempDir::new("planted-lock-outside");
    let ipam = Ipam::open(tmp.path(), "net1").unwrap();
    let dir = tmp.path().join("net1");
    let target = outside.path().join("lock");
    plant(&target, &dir.join("lock"));
    let err = ipam.allocate(&sets(), "cid1", "eth0", &[]).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_eq!(fs::read(&target).unwrap(), PRECIOUS);
    assert!(lease_names(&dir).is_empty());

    // `.lichen` pointing elsewhere: opening the store refuses it; nothing is made there.
    let elsewhere = outside.path().join("meta");
    fs::create_dir(&elsewhere).unwrap();
    let net3 = tmp.path().join("net3");
    fs::create_dir(&net3).unwrap();
    symlink(&elsewhere, net3.join(".lichen")).unwrap();
    let Err(err) = Ipam::open(tmp.path(), "net3") else {
        panic!("a symlinked .lichen was accepted");
    };
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
}
