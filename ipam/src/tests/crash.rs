//! Crash safety: the states a crash can leave, built with the store's own steps, and real
//! processes killed with SIGKILL in the middle of their work.

use std::fs;
use std::net::IpAddr;
use std::process::{Child, Stdio};

use super::common::{ip, lease_names, names, read, set, TempDir};
use crate::{DiskStore, Ipam, RangeSet, Store};

fn sets() -> Vec<RangeSet> {
    vec![set("10.2.0.0/24", None, None)]
}

fn open(tmp: &TempDir) -> (Ipam, std::path::PathBuf) {
    (
        Ipam::open(tmp.path(), "net").unwrap(),
        tmp.path().join("net"),
    )
}

#[test]
fn crash_after_index_write_before_link_loses_nothing() {
    let tmp = TempDir::new("crash-index");
    let (ipam, dir) = open(&tmp);
    // Steps 2 and 3 of a reservation of 10.2.0.2 for "a", then the crash.
    let store = ipam.store();
    store.index_add("a", "eth0", ip("10.2.0.2")).unwrap();
    store.write_lease_temp("a", "eth0").unwrap();
    assert!(lease_names(&dir).is_empty());
    assert_eq!(names(&dir.join(".lichen/tmp")).len(), 1);

    // The address is free: the next attachment gets it; the temp file is swept.
    assert!(ipam.leases().unwrap().is_empty());
    assert!(names(&dir.join(".lichen/tmp")).is_empty());
    let b = ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    assert_eq!(b[0].address.addr(), ip("10.2.0.2"));
    // "a"'s dangling entry does not make it the holder, nor let it release b's lease.
    assert!(ipam.get("a", "eth0").unwrap().is_empty());
    assert!(ipam.release("a", "eth0").unwrap().is_empty());
    assert_eq!(read(dir.join("10.2.0.2")), "b\r\neth0");
    // "a" retries its ADD and gets a distinct address.
    let a = ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    assert_eq!(a[0].address.addr(), ip("10.2.0.3"));
}

#[test]
fn crash_after_link_before_temp_cleanup_keeps_one_whole_lease() {
    let tmp = TempDir::new("crash-link");
    let (ipam, dir) = open(&tmp);
    let store = ipam.store();
    store.index_add("a", "eth0", ip("10.2.0.2")).unwrap();
    let temp = store.write_lease_temp("a", "eth0").unwrap();
    fs::hard_link(&temp, dir.join("10.2.0.2")).unwrap();
    // Crash: the temp is still there, the cursor was not written.

    // The retried ADD gets the same address back; nobody else can get it.
    let a = ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    assert_eq!(a[0].address.addr(), ip("10.2.0.2"));
    assert!(
        names(&dir.join(".lichen/tmp")).is_empty(),
        "stale temp swept"
    );
    let b = ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    assert_eq!(b[0].address.addr(), ip("10.2.0.3"));
    assert_eq!(read(dir.join("10.2.0.2")), "a\r\neth0");
    assert_eq!(ipam.release("a", "eth0").unwrap(), [ip("10.2.0.2")]);
}

#[test]
fn crash_between_unlink_and_index_update_is_harmless() {
    let tmp = TempDir::new("crash-release");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    // Release's first step only: the lease file is gone, the index is not updated.
    fs::remove_file(dir.join("10.2.0.2")).unwrap();
    let (released, errors) = ipam.gc(&[("a".into(), "eth0".into())]);
    assert!(released.is_empty() && errors.is_empty());
    assert!(
        names(&dir.join(".lichen/attachments")).is_empty(),
        "GC dropped the dangling index"
    );
    assert!(ipam.release("a", "eth0").unwrap().is_empty());
}

#[test]
fn a_cursor_torn_by_a_crash_only_restarts_round_robin() {
    let tmp = TempDir::new("crash-cursor");
    let (ipam, dir) = open(&tmp);
    ipam.allocate(&sets(), "a", "eth0", &[]).unwrap();
    fs::write(dir.join("last_reserved_ip.0"), "").unwrap();
    assert_eq!(ipam.store().last_reserved(0).unwrap(), None);
    let b = ipam.allocate(&sets(), "b", "eth0", &[]).unwrap();
    assert_eq!(b[0].address.addr(), ip("10.2.0.3"));
}

const CHILD_DIR: &str = "LICHEN_IPAM_TEST_CHURN_DIR";

/// Run by `killed_processes_leave_only_whole_indexed_leases`: allocates and releases forever.
#[test]
#[ignore = "helper process of killed_processes_leave_only_whole_indexed_leases"]
fn child_churn() {
    let dir = std::env::var(CHILD_DIR).expect(CHILD_DIR);
    let ipam = Ipam::open(std::path::Path::new(&dir), "net").unwrap();
    let sets = vec![
        set("10.3.0.0/24", None, None),
        set("fd00:3::/120", None, None),
    ];
    for n in 0u64.. {
        ipam.allocate(&sets, &format!("c{n}"), "eth0", &[]).unwrap();
        if n % 3 == 0 {
            ipam.release(&format!("c{}", n / 2), "eth0").unwrap();
        }
        if n % 200 == 199 {
            let valid: Vec<(String, String)> = (n - 50..=n)
                .map(|k| (format!("c{k}"), "eth0".into()))
                .collect();
            ipam.gc(&valid);
        }
    }
}

fn spawn_churn(dir: &std::path::Path) -> Child {
    super::common::this_test_binary()
        .args([
            "tests::crash::child_churn",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every lease file is whole and listed in its attachment's index; each attachment holds at
/// most one address per family.
fn check_invariants(dir: &std::path::Path) -> usize {
    let store = DiskStore::at(dir.to_path_buf());
    let leases = store.list().unwrap();
    for lease in &leases {
        assert!(
            lease.container_id.starts_with('c') && lease.ifname == "eth0",
            "{lease:?}"
        );
        let index = read(
            dir.join(".lichen/attachments")
                .join(format!("{}@eth0", lease.container_id)),
        );
        assert!(
            index.lines().any(|l| l == lease.ip.to_string()),
            "{lease:?} not indexed"
        );
    }
    let mut per_holder: Vec<(String, bool)> = leases
        .iter()
        .map(|l| (l.container_id.clone(), l.ip.is_ipv4()))
        .collect();
    per_holder.sort();
    let before = per_holder.len();
    per_holder.dedup();
    assert_eq!(
        per_holder.len(),
        before,
        "an attachment holds two addresses of one family"
    );
    leases.len()
}

#[test]
fn killed_processes_leave_only_whole_indexed_leases() {
    let tmp = TempDir::new("kill");
    let dir = tmp.path().join("net");
    for (round, wait_for) in [3usize, 15, 40, 80].into_iter().enumerate() {
        let mut child = spawn_churn(tmp.path());
        // Wait until the child has made progress (it never ends by itself).
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("round {round}: churn child exited: {status}");
            }
            if dir.exists() && lease_names(&dir).len() >= wait_for {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let count = check_invariants(&dir);
        // The next operation sweeps temps and hands out an address nobody holds.
        let ipam = Ipam::open(tmp.path(), "net").unwrap();
        let sets = vec![
            set("10.3.0.0/24", None, None),
            set("fd00:3::/120", None, None),
        ];
        let leased: Vec<IpAddr> = ipam.leases().unwrap().iter().map(|l| l.ip).collect();
        assert!(names(&dir.join(".lichen/tmp")).is_empty());
        let got = ipam
            .allocate(&sets, &format!("survivor{round}"), "eth0", &[])
            .unwrap();
        for a in &got {
            assert!(
                !leased.contains(&a.address.addr()),
                "round {round}: {a:?} handed out twice"
            );
        }
        assert_eq!(ipam.leases().unwrap().len(), count + 2);
        ipam.release(&format!("survivor{round}"), "eth0").unwrap();
    }
}
