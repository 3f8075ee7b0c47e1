//! The directory source against real files in a temporary directory. Waits are generous polls
//! (up to 10 s) for an expected end state; nothing asserts on timing.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const K3S_NODE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/k3s-node.json"
));

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("lichen-dirsrc-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `name` atomically: a dot-file temporary renamed over the target.
    fn put(&self, name: &str, content: &str) {
        let tmp = self.path(&format!(".{name}.tmp"));
        fs::write(&tmp, content).unwrap();
        fs::rename(&tmp, self.path(name)).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn node(name: &str, cidr: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}","resourceVersion":"1"}},
        "spec":{{"podCIDR":"{cidr}","podCIDRs":["{cidr}"]}},
        "status":{{"addresses":[{{"type":"InternalIP","address":"198.51.100.9"}}]}}}}"#
    )
}

/// Without a periodic rescan in the test's time frame: changes must come through inotify.
fn config() -> DirConfig {
    DirConfig {
        debounce: Duration::from_millis(50),
        max_settle: Duration::from_millis(500),
        resync: Duration::from_secs(3600),
    }
}

/// With a quick periodic rescan, for the cases inotify cannot see.
fn quick_resync() -> DirConfig {
    DirConfig {
        resync: Duration::from_millis(300),
        ..config()
    }
}

/// Node name → first pod CIDR, for compact assertions.
fn view(state: &ClusterState) -> Vec<(String, String)> {
    state
        .nodes
        .values()
        .map(|n| {
            let cidr = n
                .pod_cidrs
                .first()
                .map(|c| c.to_string())
                .unwrap_or_default();
            (n.name.clone(), cidr)
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Takes snapshots from `next` until one matches `want` (or 10 s pass: then fails with the last).
fn wait_for(src: &mut DirSource, want: &[(&str, &str)]) {
    let want = pairs(want);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = view(&src.current());
    smol::block_on(async {
        while last != want {
            let next = async { Some(src.next().await) };
            let timeout = async {
                Timer::at(deadline).await;
                None
            };
            match future::or(next, timeout).await {
                Some(state) => last = view(&state),
                None => panic!("timed out: state {last:?}, wanted {want:?}"),
            }
        }
    });
}

#[test]
fn initial_scan_counts_only_valid_json_files() {
    let dir = TempDir::new("initial");
    fs::write(dir.path("edge.json"), K3S_NODE).unwrap();
    fs::write(dir.path("b.json"), node("b", "10.42.5.0/24")).unwrap();
    fs::write(dir.path(".hidden.json"), node("hidden", "10.42.6.0/24")).unwrap();
    fs::write(dir.path("notes.txt"), node("txt", "10.42.7.0/24")).unwrap();
    fs::write(dir.path("broken.json"), "{\"kind\":\"Node\",").unwrap();
    fs::write(
        dir.path("pod.json"),
        r#"{"kind":"Pod","metadata":{"name":"web","namespace":"default"}}"#,
    )
    .unwrap();
    fs::create_dir(dir.path("sub.json")).unwrap();
    let mut src = DirSource::open(&dir.0, config()).unwrap();
    let first = smol::block_on(src.next());
    assert_eq!(
        view(&first),
        pairs(&[("b", "10.42.5.0/24"), ("edge-pi-01", "10.42.3.0/24")])
    );
    assert_eq!(
        first.nodes["edge-pi-01"].vtep_mac,
        Some([0x6a, 0x3e, 0x91, 0x0c, 0x5f, 0xd2])
    );
}

#[test]
fn create_replace_rewrite_and_delete_files() {
    let dir = TempDir::new("lifecycle");
    let mut src = DirSource::open(&dir.0, config()).unwrap();
    wait_for(&mut src, &[]);

    dir.put("n1.json", &node("n1", "10.42.1.0/24"));
    wait_for(&mut src, &[("n1", "10.42.1.0/24")]);

    fs::write(dir.path("n2.json"), node("n2", "10.42.2.0/24")).unwrap();
    wait_for(&mut src, &[("n1", "10.42.1.0/24"), ("n2", "10.42.2.0/24")]);

    // Replaced by rename.
    dir.put("n1.json", &node("n1", "10.42.11.0/24"));
    wait_for(&mut src, &[("n1", "10.42.11.0/24"), ("n2", "10.42.2.0/24")]);

    // Rewritten in place (truncate, write).
    fs::write(dir.path("n2.json"), node("n2", "10.42.12.0/24")).unwrap();
    wait_for(
        &mut src,
        &[("n1", "10.42.11.0/24"), ("n2", "10.42.12.0/24")],
    );

    // Broken: its node disappears; fixed: it comes back.
    fs::write(dir.path("n2.json"), "{ not json").unwrap();
    wait_for(&mut src, &[("n1", "10.42.11.0/24")]);
    fs::write(dir.path("n2.json"), node("n2", "10.42.12.0/24")).unwrap();
    wait_for(
        &mut src,
        &[("n1", "10.42.11.0/24"), ("n2", "10.42.12.0/24")],
    );

    // Renamed away to a name that does not count, then deleted.
    fs::rename(dir.path("n1.json"), dir.path("n1.json.bak")).unwrap();
    wait_for(&mut src, &[("n2", "10.42.12.0/24")]);
    fs::remove_file(dir.path("n2.json")).unwrap();
    wait_for(&mut src, &[]);
}

#[test]
fn duplicates_resolve_to_the_last_file_name_and_lists_expand() {
    let dir = TempDir::new("dups");
    fs::write(dir.path("a.json"), node("n", "10.42.1.0/24")).unwrap();
    fs::write(dir.path("z.json"), node("n", "10.42.26.0/24")).unwrap();
    let mut src = DirSource::open(&dir.0, config()).unwrap();
    wait_for(&mut src, &[("n", "10.42.26.0/24")]);

    let list = format!(
        r#"{{"kind":"List","items":[{},{}]}}"#,
        node("l1", "10.42.31.0/24"),
        node("l2", "10.42.32.0/24")
    );
    dir.put("list.json", &list);
    wait_for(
        &mut src,
        &[
            ("l1", "10.42.31.0/24"),
            ("l2", "10.42.32.0/24"),
            ("n", "10.42.26.0/24"),
        ],
    );
    fs::remove_file(dir.path("z.json")).unwrap();
    wait_for(
        &mut src,
        &[
            ("l1", "10.42.31.0/24"),
            ("l2", "10.42.32.0/24"),
            ("n", "10.42.1.0/24"),
        ],
    );
}

#[test]
fn configmap_style_symlink_swap() {
    // How kubelet updates a ConfigMap volume: files are symlinks through `..data`, which is
    // swapped atomically to a new timestamped directory.
    let dir = TempDir::new("configmap");
    fs::create_dir(dir.path("..v1")).unwrap();
    fs::write(dir.path("..v1/n.json"), node("n", "10.42.1.0/24")).unwrap();
    symlink("..v1", dir.path("..data")).unwrap();
    symlink("..data/n.json", dir.path("n.json")).unwrap();
    let mut src = DirSource::open(&dir.0, config()).unwrap();
    wait_for(&mut src, &[("n", "10.42.1.0/24")]);

    fs::create_dir(dir.path("..v2")).unwrap();
    fs::write(dir.path("..v2/n.json"), node("n", "10.42.2.0/24")).unwrap();
    symlink("..v2", dir.path("..data_tmp")).unwrap();
    fs::rename(dir.path("..data_tmp"), dir.path("..data")).unwrap();
    wait_for(&mut src, &[("n", "10.42.2.0/24")]);
}

#[test]
fn directory_removed_keeps_state_and_recreated_is_watched_again() {
    let dir = TempDir::new("recreate");
    fs::write(dir.path("n.json"), node("n", "10.42.1.0/24")).unwrap();
    let mut src = DirSource::open(&dir.0, quick_resync()).unwrap();
    wait_for(&mut src, &[("n", "10.42.1.0/24")]);

    fs::remove_dir_all(&dir.0).unwrap();
    // Let the source see the removal (several resync periods), then check the state is kept.
    smol::block_on(async {
        let _ = future::or(async { Some(src.next().await) }, async {
            Timer::after(Duration::from_secs(1)).await;
            None
        })
        .await;
    });
    assert_eq!(view(&src.current()), pairs(&[("n", "10.42.1.0/24")]));

    fs::create_dir(&dir.0).unwrap();
    fs::write(dir.path("m.json"), node("m", "10.42.2.0/24")).unwrap();
    wait_for(&mut src, &[("m", "10.42.2.0/24")]);
    // And the new directory is watched, not only rescanned.
    assert!(src.watch.is_some());
    dir.put("k.json", &node("k", "10.42.3.0/24"));
    wait_for(&mut src, &[("k", "10.42.3.0/24"), ("m", "10.42.2.0/24")]);
}

#[test]
fn open_errors_name_the_directory() {
    let e = DirSource::open(Path::new("/nonexistent/lichen-cluster"), config())
        .err()
        .unwrap();
    assert!(
        matches!(&e, SourceError::Watch { source, .. } if source.raw_os_error() == Some(libc::ENOENT))
    );
    assert!(e.to_string().contains("/nonexistent/lichen-cluster"));
}

#[test]
fn fifos_devices_oversized_and_malformed_files_are_listed_as_skipped_never_read() {
    let d = TempDir::new("hostile");
    d.put("good.json", &node("good", "10.42.1.0/24"));
    d.put("bad.json", "{not json");
    let fifo = std::ffi::CString::new(d.path("fifo.json").into_os_string().into_encoded_bytes());
    assert_eq!(unsafe { libc::mkfifo(fifo.unwrap().as_ptr(), 0o644) }, 0);
    symlink("/dev/zero", d.path("zero.json")).unwrap();
    // Sparse: 100 MiB that cost nothing on disk, and must cost nothing in memory either.
    let big = fs::File::create(d.path("big.json")).unwrap();
    big.set_len(100 << 20).unwrap();

    let src = DirSource::open(&d.0, config()).unwrap();
    let state = src.current();
    assert_eq!(view(&state), pairs(&[("good", "10.42.1.0/24")]));
    let skipped: Vec<&str> = state.skipped.keys().map(String::as_str).collect();
    assert_eq!(skipped, ["bad.json", "big.json", "fifo.json", "zero.json"]);
    assert!(state.skipped["big.json"].contains("limit"), "{state:?}");
    for f in ["fifo.json", "zero.json"] {
        assert!(state.skipped[f].contains("not a regular file"), "{state:?}");
    }
}

/// The agent races `next` against kernel notifications: a call dropped every 10 ms, well
/// before `debounce` (50 ms) is over, must still deliver the change (the settle deadline is
/// kept across calls). Before issue 13's fix every call started the wait anew and none ever
/// ended.
#[test]
fn a_change_comes_through_calls_dropped_before_the_debounce_ends() {
    let dir = TempDir::new("cancelled");
    dir.put("a.json", &node("a", "10.42.1.0/24"));
    let mut src = DirSource::open(&dir.0, config()).unwrap();
    smol::block_on(src.next());
    dir.put("a.json", &node("a", "10.42.2.0/24"));
    let want = pairs(&[("a", "10.42.2.0/24")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut calls = 0;
    loop {
        calls += 1;
        let next = async { Some(src.next().await) };
        let cancel = async {
            Timer::after(Duration::from_millis(10)).await;
            None
        };
        if let Some(state) = smol::block_on(future::or(next, cancel)) {
            assert_eq!(view(&state), want);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{calls} calls dropped, change not seen"
        );
    }
}
