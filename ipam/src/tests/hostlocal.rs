//! Side by side with the real host-local binary on one data directory: each sees the other's
//! leases and never hands them out.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::common::{ip, lease_names, names, read, set, TempDir};
use crate::{Ipam, IpamError, RangeSet};

const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

/// Runs host-local; returns (success, stdout).
fn host_local(data_dir: &Path, command: &str, cid: &str) -> (bool, String) {
    let conf = format!(
        r#"{{"cniVersion":"1.0.0","name":"shared","type":"bridge","ipam":{{"type":"host-local","dataDir":"{}","ranges":[[{{"subnet":"10.77.0.0/28"}}],[{{"subnet":"fd00:77::/124"}}]]}}}}"#,
        data_dir.display()
    );
    let mut child = Command::new(HOST_LOCAL)
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", cid)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/proc/self/ns/net")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Ours: round robin continues after host-local's cursor, never on its leases.
fn assert_ours_skip_host_locals(ipam: &Ipam, sets: &[RangeSet]) {
    let ours = ipam.allocate(sets, "ours", "eth0", &[]).unwrap();
    assert_eq!(ours[0].address.to_string(), "10.77.0.3/28");
    assert_eq!(ours[1].address.to_string(), "fd00:77::3/124");
    let taken = ipam
        .allocate(&sets[..1], "x", "eth0", &[ip("10.77.0.2")])
        .unwrap_err();
    assert!(matches!(taken, IpamError::AlreadyLeased { .. }));
}

/// host-local sees ours: its next ADD skips them, and it refuses a duplicate for "ours".
fn assert_host_local_skips_ours(data_dir: &Path) {
    let (ok, out) = host_local(data_dir, "ADD", "hl2");
    assert!(ok, "{out}");
    assert!(
        out.contains("10.77.0.4/28") && out.contains("fd00:77::4/124"),
        "{out}"
    );
    let (ok, out) = host_local(data_dir, "ADD", "ours");
    assert!(!ok && out.contains("duplicate allocation"), "{out}");
}

/// Our index files did not confuse host-local's walk: its DEL of our attachment removes
/// exactly our two leases and leaves the index (now pointing nowhere) alone.
fn assert_host_local_releases_ours(data_dir: &Path, dir: &Path, ipam: &Ipam) {
    let (ok, out) = host_local(data_dir, "DEL", "ours");
    assert!(ok, "{out}");
    assert_eq!(
        lease_names(dir),
        ["10.77.0.2", "10.77.0.4", "fd00:77::2", "fd00:77::4"]
    );
    assert_eq!(names(&dir.join(".lichen/attachments")), ["ours@eth0"]);
    assert!(ipam.get("ours", "eth0").unwrap().is_empty());
}

/// We release host-local's attachment (no index: scan); GC drops the dangling index.
fn assert_we_release_host_locals(dir: &Path, ipam: &Ipam) {
    assert_eq!(
        ipam.release("hl2", "eth0").unwrap(),
        [ip("10.77.0.4"), ip("fd00:77::4")]
    );
    let (released, errors) = ipam.gc(&[("hl1".into(), "eth0".into())]);
    assert!(released.is_empty() && errors.is_empty(), "{errors:?}");
    assert!(names(&dir.join(".lichen/attachments")).is_empty());
    assert_eq!(read(dir.join("10.77.0.2")), "hl1\r\neth0");
}

/// Fill what is left with ours, then host-local must report the range full; host-local's DEL
/// of one of ours frees it for us again.
fn assert_full_for_both(data_dir: &Path, ipam: &Ipam, sets: &[RangeSet]) {
    let mut n = 0;
    while ipam
        .allocate(sets, &format!("fill{n}"), "eth0", &[])
        .is_ok()
    {
        n += 1;
    }
    // 10.77.0.1-14 minus the gateway and hl1's lease.
    assert_eq!(n, 12);
    let (ok, out) = host_local(data_dir, "ADD", "hl3");
    assert!(!ok && out.contains("no IP addresses available"), "{out}");
    let (ok, _) = host_local(data_dir, "DEL", "fill0");
    assert!(ok);
    assert_eq!(ipam.allocate(sets, "again", "eth0", &[]).unwrap().len(), 2);
}

#[test]
fn lichen_and_host_local_share_a_data_dir() {
    if !Path::new(HOST_LOCAL).exists() {
        eprintln!("NOTICE: {HOST_LOCAL} is absent: host-local interoperability NOT tested");
        return;
    }
    let tmp = TempDir::new("hostlocal");
    let dir = tmp.path().join("shared");
    let sets = vec![
        set("10.77.0.0/28", None, None),
        set("fd00:77::/124", None, None),
    ];

    // host-local first: we see its leases.
    let (ok, out) = host_local(tmp.path(), "ADD", "hl1");
    assert!(ok, "{out}");
    assert!(
        out.contains("10.77.0.2/28") && out.contains("fd00:77::2/124"),
        "{out}"
    );
    let ipam = Ipam::open(tmp.path(), "shared").unwrap();
    assert_eq!(
        ipam.get("hl1", "eth0").unwrap(),
        [ip("10.77.0.2"), ip("fd00:77::2")]
    );
    assert_ours_skip_host_locals(&ipam, &sets);
    assert_host_local_skips_ours(tmp.path());
    assert_host_local_releases_ours(tmp.path(), &dir, &ipam);
    assert_we_release_host_locals(&dir, &ipam);
    assert_full_for_both(tmp.path(), &ipam, &sets);
}
