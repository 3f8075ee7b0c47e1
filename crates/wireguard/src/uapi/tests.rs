//! The protocol's text both ways, and the exchange against a scripted server on a socket in a
//! scratch directory (wireguard-go itself: tests/userspace.rs).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::thread;
use std::time::{Duration, SystemTime};

use super::*;

fn key(b: u8) -> Key {
    Key([b; 32])
}

#[test]
fn set_lists_device_keys_first_then_each_peer_section() {
    let mut peer = PeerConfig::new(key(0xab));
    peer.preshared_key = Some(key(1));
    peer.endpoint = Some("[2001:db8::1]:51820".parse().unwrap());
    peer.persistent_keepalive = Some(25);
    peer.replace_allowed_ips = true;
    peer.allowed_ips = vec![
        "10.99.1.0/24".parse().unwrap(),
        "fd00:99::/64".parse().unwrap(),
    ];
    let mut update = PeerConfig::new(key(0xcd));
    update.update_only = true;
    update.endpoint = Some("198.51.100.2:51821".parse().unwrap());
    let config = DeviceConfig {
        private_key: Some(PrivateKey(key(0x0f))),
        listen_port: Some(51820),
        replace_peers: false,
        peers: vec![peer, update, PeerConfig::removal(key(0xef))],
    };
    let want = format!(
        "set=1\nprivate_key={}\nlisten_port=51820\n\
         public_key={}\npreshared_key={}\nendpoint=[2001:db8::1]:51820\n\
         persistent_keepalive_interval=25\nreplace_allowed_ips=true\n\
         allowed_ip=10.99.1.0/24\nallowed_ip=fd00:99::/64\n\
         public_key={}\nupdate_only=true\nendpoint=198.51.100.2:51821\n\
         public_key={}\nremove=true\n\n",
        "0f".repeat(32),
        "ab".repeat(32),
        "01".repeat(32),
        "cd".repeat(32),
        "ef".repeat(32),
    );
    assert_eq!(encode_set(&config), want);
    assert_eq!(encode_set(&DeviceConfig::default()), "set=1\n\n");
}

#[test]
fn get_answers_are_parsed_per_peer() {
    let body = format!(
        "private_key={}\nlisten_port=51820\nfwmark=7\n\
         public_key={}\npreshared_key={}\nprotocol_version=1\nendpoint=198.51.100.2:51821\n\
         last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\ntx_bytes=92\n\
         rx_bytes=180\npersistent_keepalive_interval=25\nallowed_ip=10.99.1.0/24\n\
         allowed_ip=fd00:99::/64\n\
         public_key={}\npreshared_key={}\nprotocol_version=1\nlast_handshake_time_sec=0\n\
         last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0",
        "0f".repeat(32),
        "ab".repeat(32),
        "01".repeat(32),
        "cd".repeat(32),
        "00".repeat(32),
    );
    let dev = parse_get(&body).unwrap();
    assert_eq!(dev.private_key, Some(PrivateKey(key(0x0f))));
    assert_eq!((dev.listen_port, dev.public_key), (51820, None));
    assert_eq!(dev.peers.len(), 2);
    let a = dev.peer(&key(0xab)).unwrap();
    assert_eq!(a.preshared_key, Some(key(1)));
    assert_eq!(a.endpoint, Some("198.51.100.2:51821".parse().unwrap()));
    let at = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5);
    assert_eq!(a.last_handshake, Some(at));
    assert_eq!(
        (a.rx_bytes, a.tx_bytes, a.persistent_keepalive),
        (180, 92, 25)
    );
    assert_eq!(a.allowed_ips.len(), 2);
    let b = dev.peer(&key(0xcd)).unwrap();
    assert_eq!(
        (b.preshared_key, b.endpoint, b.last_handshake),
        (None, None, None)
    );
    assert!(b.allowed_ips.is_empty());
    assert_eq!(parse_get(""), Ok(DeviceState::default()));
    assert_eq!(parse_get("listen_port=x"), Err("listen_port=x".to_owned()));
    assert_eq!(parse_get("public_key=zz"), Err("public_key=zz".to_owned()));
}

/// Serves one connection on a fresh socket: records the request, answers `answer`.
fn serve_once(tag: &str, answer: &'static str) -> (Uapi, thread::JoinHandle<String>) {
    let dir = std::env::temp_dir().join(format!("lichen-uapi-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let uapi = Uapi::new(&dir, "wgtest0");
    let listener = UnixListener::bind(&uapi.path).unwrap();
    let t = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(&conn);
        let mut request = String::new();
        while !request.ends_with("\n\n") {
            if reader.read_line(&mut request).unwrap() == 0 {
                break;
            }
        }
        (&conn).write_all(answer.as_bytes()).unwrap();
        let _ = std::fs::remove_dir_all(dir);
        request
    });
    (uapi, t)
}

#[test]
fn the_exchange_returns_the_state_or_the_errno_it_was_refused_with() {
    let (uapi, t) = serve_once("get", "listen_port=51999\nerrno=0\n\n");
    assert_eq!(uapi.get().unwrap().listen_port, 51999);
    assert_eq!(t.join().unwrap(), "get=1\n\n");

    let (uapi, t) = serve_once("set", "errno=-98\n\n");
    let config = DeviceConfig {
        listen_port: Some(51999),
        ..DeviceConfig::default()
    };
    let e = uapi.set(&config).unwrap_err();
    assert!(
        matches!(e, UapiError::Refused(_, libc::EADDRINUSE)),
        "{e:?}"
    );
    assert!(e.to_string().contains("refused"), "{e}");
    assert_eq!(t.join().unwrap(), "set=1\nlisten_port=51999\n\n");

    let (uapi, t) = serve_once("bad", "hello\n\n");
    let e = uapi.get().unwrap_err();
    assert!(
        matches!(&e, UapiError::Malformed(_, l) if l == "hello"),
        "{e:?}"
    );
    t.join().unwrap();

    let gone = Uapi::new(Path::new("/nonexistent-lichen"), "wgtest0");
    let e = gone.get().unwrap_err();
    assert!(matches!(&e, UapiError::Io(_, io) if io.kind() == io::ErrorKind::NotFound));
}

extern "C" fn ignore(_: libc::c_int) {}

/// A signal that lands while the exchange waits for its answer (a handler without
/// `SA_RESTART`; likewise a stop and continue, or the cgroup freezer, for a read with a timeout:
/// signal(7)) makes the read fail with EINTR: the exchange reads again instead of failing.
#[test]
fn a_signal_during_the_exchange_does_not_fail_it() {
    // SAFETY: installs a no-op handler for SIGUSR1, which no other test of this crate uses.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let dir = std::env::temp_dir().join(format!("lichen-uapi-{}-eintr", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let uapi = Uapi::new(&dir, "wgtest0");
    let listener = UnixListener::bind(&uapi.path).unwrap();
    let client = thread::spawn(move || uapi.get().map(|s| s.listen_port));
    let (conn, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(&conn);
    let mut request = String::new();
    while !request.ends_with("\n\n") {
        assert_ne!(reader.read_line(&mut request).unwrap(), 0);
    }
    // The client now waits in its read for the answer.
    thread::sleep(Duration::from_millis(100));
    // SAFETY: signals a thread of this process that is still running (it has not answered).
    let tid = std::os::unix::thread::JoinHandleExt::as_pthread_t(&client);
    assert_eq!(unsafe { libc::pthread_kill(tid as _, libc::SIGUSR1) }, 0);
    thread::sleep(Duration::from_millis(100));
    // Ignored: a client that gave up has closed its end; its own error is the one to see.
    let _ = (&conn).write_all(b"listen_port=51998\nerrno=0\n\n");
    assert_eq!(client.join().unwrap().unwrap(), 51998);
    let _ = std::fs::remove_dir_all(dir);
}
