//! The cross-platform configuration protocol (https://www.wireguard.com/xplatform/, as
//! wireguard-go serves it: `device/uapi.go`, `ipc/uapi_unix.go`), over the unix socket
//! `<dir>/<device>.sock` (the directory is `/var/run/wireguard` for wireguard-go, which
//! cannot move it; other directories are for tests).
//!
//! A request is `set=1` or `get=1`, then `key=value` lines, then an empty line. Keys are 64
//! hex digits; `public_key=` starts a peer section, so device keys come first. The answer ends
//! with `errno=N` and an empty line, N being 0 or a negative errno (`-EINVAL` for a bad key or
//! value, `-EADDRINUSE` for a taken port, `-EIO`, `-EPROTO`). A `get` answer lists the device
//! (`private_key`, `listen_port`, `fwmark`), then per peer `public_key`, `preshared_key`,
//! `protocol_version`, `endpoint`, `last_handshake_time_sec`/`_nsec`, `tx_bytes`, `rx_bytes`,
//! `persistent_keepalive_interval` and one `allowed_ip` line per prefix. It never gives the
//! device's own public key (derive it: [`crate::key::PrivateKey::public`]).

use std::fmt::{self, Write as _};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{handshake_time, DeviceConfig, DeviceState, PeerConfig, PeerState};
use crate::key::{Key, PrivateKey};

/// Where wireguard-go puts its sockets.
pub const SOCKET_DIR: &str = "/var/run/wireguard";

/// How long one exchange may take before the device counts as not answering.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a configuration-protocol exchange failed.
#[derive(Debug)]
pub enum UapiError {
    /// Connecting, writing or reading the socket failed.
    Io(PathBuf, io::Error),
    /// The device refused the request with this (positive) errno.
    Refused(PathBuf, i32),
    /// The answer was not the protocol: the offending line.
    Malformed(PathBuf, String),
}

impl fmt::Display for UapiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UapiError::Io(p, e) => write!(f, "WireGuard socket {}: {e}", p.display()),
            UapiError::Refused(p, errno) => write!(
                f,
                "WireGuard socket {}: refused: {}",
                p.display(),
                io::Error::from_raw_os_error(*errno)
            ),
            UapiError::Malformed(p, line) => {
                write!(
                    f,
                    "WireGuard socket {}: bad answer line {line:?}",
                    p.display()
                )
            }
        }
    }
}

impl std::error::Error for UapiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UapiError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

/// A device's configuration socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uapi {
    pub path: PathBuf,
}

impl Uapi {
    /// The socket of `device` in `dir` (usually [`SOCKET_DIR`]).
    pub fn new(dir: &Path, device: &str) -> Uapi {
        Uapi {
            path: dir.join(format!("{device}.sock")),
        }
    }

    /// Applies `config`.
    pub fn set(&self, config: &DeviceConfig) -> Result<(), UapiError> {
        let body = self.exchange(&encode_set(config))?;
        match body.lines().next() {
            None => Ok(()),
            Some(line) => Err(UapiError::Malformed(self.path.clone(), line.to_owned())),
        }
    }

    /// Reads the device back.
    pub fn get(&self) -> Result<DeviceState, UapiError> {
        let body = self.exchange("get=1\n\n")?;
        parse_get(&body).map_err(|line| UapiError::Malformed(self.path.clone(), line))
    }

    /// Sends `request`, reads the answer up to its empty line, checks `errno=`, and returns the
    /// lines before it.
    fn exchange(&self, request: &str) -> Result<String, UapiError> {
        let io_err = |e| UapiError::Io(self.path.clone(), e);
        let mut s = UnixStream::connect(&self.path).map_err(io_err)?;
        s.set_read_timeout(Some(TIMEOUT)).map_err(io_err)?;
        s.set_write_timeout(Some(TIMEOUT)).map_err(io_err)?;
        s.write_all(request.as_bytes()).map_err(io_err)?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.ends_with(b"\n\n") {
            match s.read(&mut buf) {
                Ok(0) => return Err(io_err(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                // A read with a timeout is not restarted by the kernel after a stop signal (or
                // the cgroup freezer) resumes the process, see signal(7): read again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        let text = String::from_utf8_lossy(&answer);
        let body = text.trim_end_matches('\n');
        let (body, last) = body.rsplit_once('\n').unwrap_or(("", body));
        let errno = last
            .strip_prefix("errno=")
            .and_then(|n| n.parse::<i32>().ok())
            .ok_or_else(|| UapiError::Malformed(self.path.clone(), last.to_owned()))?;
        if errno != 0 {
            return Err(UapiError::Refused(self.path.clone(), errno.abs()));
        }
        Ok(body.to_owned())
    }
}

/// The `set=1` request for `config`, its empty line included.
pub fn encode_set(config: &DeviceConfig) -> String {
    let mut s = String::from("set=1\n");
    if let Some(k) = &config.private_key {
        let _ = writeln!(s, "private_key={}", k.0.to_hex());
    }
    if let Some(port) = config.listen_port {
        let _ = writeln!(s, "listen_port={port}");
    }
    if config.replace_peers {
        s.push_str("replace_peers=true\n");
    }
    for p in &config.peers {
        encode_peer(&mut s, p);
    }
    s.push('\n');
    s
}

fn encode_peer(s: &mut String, p: &PeerConfig) {
    let _ = writeln!(s, "public_key={}", p.public_key.to_hex());
    if p.remove {
        s.push_str("remove=true\n");
        return;
    }
    if p.update_only {
        s.push_str("update_only=true\n");
    }
    if let Some(k) = &p.preshared_key {
        let _ = writeln!(s, "preshared_key={}", k.to_hex());
    }
    if let Some(e) = p.endpoint {
        let _ = writeln!(s, "endpoint={e}");
    }
    if let Some(k) = p.persistent_keepalive {
        let _ = writeln!(s, "persistent_keepalive_interval={k}");
    }
    if p.replace_allowed_ips {
        s.push_str("replace_allowed_ips=true\n");
    }
    for ip in &p.allowed_ips {
        let _ = writeln!(s, "allowed_ip={ip}");
    }
}

/// The device in a `get` answer (the lines before `errno=`); the offending line on error.
/// Unknown keys are skipped (implementations add their own, e.g. `fwmark`).
pub fn parse_get(body: &str) -> Result<DeviceState, String> {
    let mut dev = DeviceState::default();
    let mut handshake = (0u64, 0u32);
    for line in body.lines().filter(|l| !l.is_empty()) {
        let bad = || line.to_owned();
        let (key, value) = line.split_once('=').ok_or_else(bad)?;
        if key == "public_key" {
            finish_peer(&mut dev, &mut handshake);
            let k = Key::from_hex(value).map_err(|_| bad())?;
            dev.peers.push(PeerState::new(k));
            continue;
        }
        let ok = match dev.peers.last_mut() {
            None => device_line(&mut dev, key, value),
            Some(peer) => peer_line(peer, &mut handshake, key, value),
        };
        ok.ok_or_else(bad)?;
    }
    finish_peer(&mut dev, &mut handshake);
    Ok(dev)
}

fn device_line(dev: &mut DeviceState, key: &str, value: &str) -> Option<()> {
    match key {
        "private_key" => {
            let k = Key::from_hex(value).ok()?;
            dev.private_key = (!k.is_zero()).then_some(PrivateKey(k));
        }
        "listen_port" => dev.listen_port = value.parse().ok()?,
        _ => {}
    }
    Some(())
}

fn peer_line(p: &mut PeerState, hs: &mut (u64, u32), key: &str, value: &str) -> Option<()> {
    match key {
        "preshared_key" => {
            let k = Key::from_hex(value).ok()?;
            p.preshared_key = (!k.is_zero()).then_some(k);
        }
        "endpoint" => p.endpoint = Some(value.parse().ok()?),
        "allowed_ip" => p.allowed_ips.push(value.parse().ok()?),
        "last_handshake_time_sec" => hs.0 = value.parse().ok()?,
        "last_handshake_time_nsec" => hs.1 = value.parse().ok()?,
        "rx_bytes" => p.rx_bytes = value.parse().ok()?,
        "tx_bytes" => p.tx_bytes = value.parse().ok()?,
        "persistent_keepalive_interval" => p.persistent_keepalive = value.parse().ok()?,
        _ => {}
    }
    Some(())
}

/// Stores the handshake time gathered for the last peer, and resets it for the next.
fn finish_peer(dev: &mut DeviceState, hs: &mut (u64, u32)) {
    if let Some(p) = dev.peers.last_mut() {
        p.last_handshake = handshake_time(hs.0, hs.1);
    }
    *hs = (0, 0);
}

#[cfg(test)]
mod tests;
