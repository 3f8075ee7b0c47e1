//! Many processes and threads on one network at once: distinct addresses, nothing left after
//! parallel releases.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::thread;

use super::common::{lease_names, names, set, TempDir};
use crate::{Ipam, RangeSet};

const WORKERS: usize = 6;
const PER_WORKER: usize = 15;
const ENV_DIR: &str = "LICHEN_IPAM_TEST_RACE_DIR";
const ENV_WORKER: &str = "LICHEN_IPAM_TEST_RACE_WORKER";
const ENV_MODE: &str = "LICHEN_IPAM_TEST_RACE_MODE";

fn sets() -> Vec<RangeSet> {
    vec![
        set("10.4.0.0/24", None, None),
        set("fd00:4::/120", None, None),
    ]
}

/// Run by `processes_allocate_distinct_addresses_and_release_everything`.
#[test]
#[ignore = "helper process of processes_allocate_distinct_addresses_and_release_everything"]
fn child_worker() {
    let dir = std::env::var(ENV_DIR).expect(ENV_DIR);
    let worker = std::env::var(ENV_WORKER).expect(ENV_WORKER);
    let release = std::env::var(ENV_MODE).as_deref() == Ok("release");
    for k in 0..PER_WORKER {
        // A fresh open each time, as each CNI invocation is a fresh process.
        let ipam = Ipam::open(Path::new(&dir), "net").unwrap();
        let cid = format!("w{worker}-{k}");
        if release {
            assert_eq!(ipam.release(&cid, "eth0").unwrap().len(), 2);
        } else {
            assert_eq!(ipam.allocate(&sets(), &cid, "eth0", &[]).unwrap().len(), 2);
        }
    }
}

fn run_workers(dir: &Path, mode: &str) {
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            super::common::this_test_binary()
                .args([
                    "tests::concurrency::child_worker",
                    "--exact",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(ENV_DIR, dir)
                .env(ENV_WORKER, w.to_string())
                .env(ENV_MODE, mode)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a {mode} worker failed");
    }
}

#[test]
fn processes_allocate_distinct_addresses_and_release_everything() {
    let tmp = TempDir::new("race-proc");
    let dir = tmp.path().join("net");
    run_workers(tmp.path(), "allocate");

    let ipam = Ipam::open(tmp.path(), "net").unwrap();
    let leases = ipam.leases().unwrap();
    assert_eq!(leases.len(), 2 * WORKERS * PER_WORKER);
    assert_eq!(lease_names(&dir).len(), 2 * WORKERS * PER_WORKER);
    let holders: BTreeSet<(String, bool)> = leases
        .iter()
        .map(|l| (l.container_id.clone(), l.ip.is_ipv4()))
        .collect();
    assert_eq!(
        holders.len(),
        leases.len(),
        "one address per attachment and family"
    );
    assert_eq!(
        names(&dir.join(".lichen/attachments")).len(),
        WORKERS * PER_WORKER
    );

    run_workers(tmp.path(), "release");
    assert!(lease_names(&dir).is_empty());
    assert!(names(&dir.join(".lichen/attachments")).is_empty());
    assert!(names(&dir.join(".lichen/tmp")).is_empty());
}

#[test]
fn threads_with_their_own_opens_exclude_each_other() {
    let tmp = TempDir::new("race-thread");
    let root = tmp.path().to_path_buf();
    let spawn = |release: bool| -> Vec<thread::JoinHandle<Vec<std::net::IpAddr>>> {
        (0..8)
            .map(|t| {
                let root = root.clone();
                thread::spawn(move || {
                    let ipam = Ipam::open(&root, "net").unwrap();
                    let mut got = Vec::new();
                    for k in 0..10 {
                        let cid = format!("t{t}-{k}");
                        if release {
                            got.extend(ipam.release(&cid, "eth0").unwrap());
                        } else {
                            got.extend(
                                ipam.allocate(&sets(), &cid, "eth0", &[])
                                    .unwrap()
                                    .iter()
                                    .map(|a| a.address.addr()),
                            );
                        }
                    }
                    got
                })
            })
            .collect()
    };
    let all: Vec<_> = spawn(false)
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let distinct: BTreeSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (160, 160));
    assert_eq!(lease_names(&root.join("net")).len(), 160);
    let freed: Vec<_> = spawn(true)
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(freed.len(), 160);
    assert!(lease_names(&root.join("net")).is_empty());
}
