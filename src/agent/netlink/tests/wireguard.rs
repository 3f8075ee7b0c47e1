//! The WireGuard device through the agent's kernel, with a real wireguard-go (this machine's
//! kernel has no WireGuard module, so this is the userspace path): created by
//! `Op::CreateWireguard`, read back as `Actual.wireguard`, checked with `wg show … dump`;
//! found again by a new kernel (an agent restart) with the same wireguard-go; a roamed
//! endpoint kept by the resync; a peer's key change applied; removed by `--cleanup`'s
//! kernel (no controller), which ends the wireguard-go it finds in the pid file.
//!
//! wireguard-go's socket directory is fixed (`/var/run/wireguard`), so the test thread also
//! enters a mount namespace of its own with a tmpfs on `/run` (children inherit both): no
//! other test and nothing on the machine sees its socket, pid file or log.

use std::ffi::CString;
use std::net::SocketAddr;

use lichen_backends::{Desired, Op, WgDevice, WgPeer, WG_DEVICE};
use lichen_wireguard::{Key, PrivateKey};

use super::NetlinkKernel;
use crate::agent::kernel::Kernel;
use crate::agent::wireguard::controller::WgController;
use crate::agent::wireguard::daemon::{is_wireguard_go, pid_file, stop_recorded};
use crate::agent::wireguard::WgPath;
use testkit::{enter_node, run_ok};

/// This thread into a mount namespace of its own, with an empty tmpfs on /run.
fn private_run() {
    // SAFETY: unshare and mount with valid C strings; CLONE_NEWNS affects this thread only.
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
        let root = CString::new("/").unwrap();
        let none = CString::new("none").unwrap();
        let flags = libc::MS_REC | libc::MS_PRIVATE;
        let rc = libc::mount(
            none.as_ptr(),
            root.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        );
        assert_eq!(rc, 0, "making / private");
        let run = CString::new("/run").unwrap();
        let tmpfs = CString::new("tmpfs").unwrap();
        let rc = libc::mount(
            tmpfs.as_ptr(),
            run.as_ptr(),
            tmpfs.as_ptr(),
            0,
            std::ptr::null(),
        );
        assert_eq!(rc, 0, "tmpfs on /run");
    }
}

/// Ends the recorded wireguard-go however the test ends (it runs in this thread's
/// namespaces, which a panic would otherwise leave to it).
struct Reaper;

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = stop_recorded("/var/run/wireguard".as_ref(), WG_DEVICE, None);
    }
}

fn device(peer_key: [u8; 32]) -> WgDevice {
    WgDevice {
        name: WG_DEVICE.into(),
        mtu: 1420,
        listen_port: 51820,
        addresses: vec!["10.42.1.0/32".parse().unwrap()],
        peers: vec![WgPeer {
            node: "node2".into(),
            public_key: peer_key,
            endpoint: "198.51.100.2:51820".parse().unwrap(),
            allowed_ips: vec!["10.42.2.0/24".parse().unwrap()],
            keepalive: 25,
            psk: None,
        }],
    }
}

fn wanting(dev: &WgDevice) -> Desired {
    Desired {
        wireguard: Some(dev.clone()),
        ..Desired::default()
    }
}

/// `wg show lichen-wg dump`'s peer lines: (public key, endpoint, allowed IPs, keepalive).
fn dump_peers() -> Vec<(String, String, String, String)> {
    let out = run_ok("wg", &["show", WG_DEVICE, "dump"]);
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].into(), f[2].into(), f[3].into(), f[7].into())
        })
        .collect()
}

fn recorded_pid() -> u32 {
    let text = std::fs::read_to_string(pid_file("/var/run/wireguard".as_ref(), WG_DEVICE)).unwrap();
    text.trim().parse().unwrap()
}

fn want_peer(k: Key, endpoint: &str) -> (String, String, String, String) {
    let allowed = "10.42.2.0/24".to_owned();
    (k.to_base64(), endpoint.to_owned(), allowed, "25".to_owned())
}

const KEY: PrivateKey = PrivateKey(Key([0x11; 32]));
const B: Key = Key([0x22; 32]);

#[test]
fn wireguard_go_device_created_synced_kept_across_restart_and_cleaned_up() {
    testkit::require_root!();
    if testkit::skip_emulated("wireguard-go is a host binary") {
        return;
    }
    if lichen_wireguard::userspace::find_on_path("wireguard-go").is_none() {
        eprintln!("SKIPPED: no wireguard-go on PATH");
        return;
    }
    enter_node();
    private_run();
    let _reaper = Reaper;
    let pid = created();
    // The agent restarted (the first kernel and controller are gone).
    assert!(
        is_wireguard_go(pid, WG_DEVICE),
        "wireguard-go outlives the agent"
    );
    restarted_roamed_and_rekeyed(pid);
    cleaned_up(pid);
}

/// `Op::CreateWireguard` on a kernel with the controller: wireguard-go started, the device
/// read back, key, port and peer as `wg` shows them. Returns wireguard-go's pid.
fn created() -> u32 {
    let dev = device(B.0);
    let mut k = NetlinkKernel::open().unwrap();
    k.set_wireguard(WgController::new(KEY));
    k.apply(&wanting(&dev), &Op::CreateWireguard(dev.clone()))
        .unwrap();
    let link = k.actual().unwrap().wireguard.expect("lichen-wg read back");
    assert_eq!(
        (link.name.as_str(), link.mtu, link.up),
        (WG_DEVICE, 1420, false)
    );
    let dump = run_ok("wg", &["show", WG_DEVICE, "dump"]);
    let device_line: Vec<&str> = dump.lines().next().unwrap().split('\t').collect();
    // wireguard-go keeps the private key clamped (0x11… → 0x10…0x51).
    let mut clamped = [0x11; 32];
    (clamped[0], clamped[31]) = (0x10, 0x51);
    let keys = [
        Key(clamped).to_base64(),
        KEY.public().to_base64(),
        "51820".into(),
    ];
    assert_eq!(device_line[..3], keys);
    assert_eq!(dump_peers(), [want_peer(B, "198.51.100.2:51820")]);
    let pid = recorded_pid();
    assert!(is_wireguard_go(pid, WG_DEVICE));
    pid
}

/// A new kernel and controller find the same wireguard-go; the resync leaves a roamed
/// endpoint alone; node2's key change swaps its peer in one pass.
fn restarted_roamed_and_rekeyed(pid: u32) {
    let dev = device(B.0);
    let mut k = NetlinkKernel::open().unwrap();
    k.set_wireguard(WgController::new(KEY));
    assert!(k.actual().unwrap().wireguard.is_some(), "nothing to create");
    let b64 = B.to_base64();
    let roamed = "203.0.113.7:40001";
    run_ok("wg", &["set", WG_DEVICE, "peer", &b64, "endpoint", roamed]);
    let report = k.sync_wireguard(&dev).unwrap();
    assert_eq!(report.path, Some(WgPath::Userspace));
    assert_eq!(report.public_key, KEY.public());
    assert_eq!(report.peers[0].endpoint, roamed.parse::<SocketAddr>().ok());
    assert_eq!(dump_peers(), [want_peer(B, roamed)]);
    assert_eq!(recorded_pid(), pid, "the same wireguard-go");
    let c = Key([0x33; 32]);
    k.sync_wireguard(&device(c.0)).unwrap();
    assert_eq!(dump_peers(), [want_peer(c, "198.51.100.2:51820")]);
}

/// `lichen agent --cleanup`: a kernel without a controller removes the device and ends the
/// recorded wireguard-go; again, nothing left to remove is success.
fn cleaned_up(pid: u32) {
    let mut cleanup = NetlinkKernel::open().unwrap();
    let gone = Op::DeleteWireguard {
        dev: WG_DEVICE.into(),
    };
    let want = wanting(&device(B.0));
    cleanup.apply(&want, &gone).unwrap();
    assert!(!is_wireguard_go(pid, WG_DEVICE), "wireguard-go ended");
    assert!(cleanup.actual().unwrap().wireguard.is_none());
    assert!(!pid_file("/var/run/wireguard".as_ref(), WG_DEVICE).exists());
    cleanup.apply(&want, &gone).unwrap();
}
