//! The agent's WireGuard controller (issue 14): what the agent does with the `lichen-wg`
//! device at run time. The backends say what is wanted ([`lichen_backends::WgDevice`]: port,
//! MTU, addresses, peers); the plan creates, adjusts and deletes the device
//! (`Op::CreateWireguard`, `Op::DeleteWireguard`, MTU/address/up ops); this module does the
//! rest, over [`lichen_wireguard`]:
//!
//! - [`controller`]: the real device. The control path is chosen once: a wireguard-go whose
//!   socket `/var/run/wireguard/lichen-wg.sock` answers is reused (it outlived an agent
//!   restart); else kernel WireGuard when the generic netlink family "wireguard" resolves
//!   (the link made by `RTM_NEWLINK` of kind "wireguard"); else wireguard-go is started
//!   by [`daemon`] (detached, so a restart of the agent does not cut traffic; its pid recorded
//!   in [`daemon::pid_file`], `/var/run/wireguard/lichen-wg.pid`, for `lichen agent
//!   --cleanup`, which ends it only if it still is that wireguard-go).
//! - [`peers`]: the peer diff, a pure function, and the endpoint memory (an endpoint is set
//!   when a peer is added or its wanted endpoint changed since the agent set it, never by the
//!   resync: WireGuard roams).
//! - [`status`]: its section of `lichen status` (text, JSON) and its metrics.
//! - [`PeerSync`]: one sync pass over any [`Control`] (the device's `get`/`set`): the private
//!   key and listen port when they differ, then the peer changes, in one set; `fake` (tests):
//!   the same over an in-memory device.
//! - [`load_key`]: `--wireguard-key-file`, loaded or created at start.
//!
//! When, in the route pass: every pass syncs the peers after the plan's ops, so after the
//! routes (see [`super::reconcile`]). A device the plan creates gets its key, port and
//! peers in the same `CreateWireguard` step, before any route through it; later, a new peer's
//! route may precede its peer by the few milliseconds between the two, during which packets to
//! that subnet are dropped by the device (no peer for them), never sent in clear nor elsewhere.
//! A removed peer's route goes first, then the peer.

pub mod controller;
pub mod daemon;
pub mod peers;
pub mod status;

#[cfg(test)]
pub mod fake;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use lichen_backends::WgDevice;
use lichen_wireguard::genl::GenlError;
use lichen_wireguard::keyfile::KeyFileError;
use lichen_wireguard::uapi::UapiError;
use lichen_wireguard::userspace::DaemonError;
use lichen_wireguard::{DeviceConfig, DeviceState, Key, PrivateKey};

use peers::{peer_changes, Endpoints};

/// The default of `lichen agent --wireguard-key-file`.
pub const DEFAULT_KEY_FILE: &str = "/var/lib/lichen/wireguard.key";

/// The node's private key from `path` (`--wireguard-key-file`), created there on first
/// start ([`lichen_wireguard::keyfile`]: mode 0600, an existing file used as is).
pub fn load_key(path: &std::path::Path) -> Result<PrivateKey, KeyFileError> {
    let (key, created) = lichen_wireguard::keyfile::load_or_create(path)?;
    let what = if created { "created" } else { "loaded" };
    log::info!(
        "WireGuard key {what}: {} (public key {})",
        path.display(),
        key.public()
    );
    Ok(key)
}

/// How the device is controlled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgPath {
    /// Kernel WireGuard, over generic netlink.
    Kernel,
    /// wireguard-go, over its configuration socket.
    Userspace,
}

impl WgPath {
    pub fn as_str(self) -> &'static str {
        match self {
            WgPath::Kernel => "kernel",
            WgPath::Userspace => "userspace",
        }
    }
}

/// Why the device could not be made or synced.
#[derive(Debug)]
pub enum WgError {
    /// wireguard-go could not be started.
    Daemon(DaemonError),
    /// The configuration socket failed.
    Uapi(UapiError),
    /// Kernel WireGuard over generic netlink failed.
    Genl(GenlError),
    /// An rtnetlink request about the device (`what`) failed.
    Link {
        what: &'static str,
        source: io::Error,
    },
    /// The pid file of the wireguard-go the agent started could not be written or read.
    PidFile { path: PathBuf, source: io::Error },
    /// No device answers: neither a wireguard-go socket nor a kernel device of that name.
    NoDevice(String),
    /// The kernel computes another public key from the private key than the agent does.
    PublicKeyMismatch { kernel: Key, ours: Key },
    /// This kernel has no WireGuard controller (the backend is not wireguard).
    NotConfigured,
}

impl fmt::Display for WgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WgError::Daemon(_) => f.write_str(
                "starting wireguard-go, the userspace WireGuard (for a kernel without WireGuard)",
            ),
            WgError::Uapi(_) => f.write_str("WireGuard configuration socket"),
            WgError::Genl(_) => f.write_str("kernel WireGuard"),
            WgError::Link { what, .. } => write!(f, "WireGuard device: {what}"),
            WgError::PidFile { path, .. } => {
                write!(f, "wireguard-go pid file {}", path.display())
            }
            WgError::NoDevice(name) => write!(
                f,
                "no WireGuard device {name}: no wireguard-go answers on its socket and the \
                 kernel has no such WireGuard device"
            ),
            WgError::PublicKeyMismatch { kernel, ours } => write!(
                f,
                "the kernel derives public key {kernel} from the key file, the agent {ours}"
            ),
            WgError::NotConfigured => f.write_str("no WireGuard controller (not configured)"),
        }
    }
}

impl std::error::Error for WgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WgError::Daemon(e) => Some(e),
            WgError::Uapi(e) => Some(e),
            WgError::Genl(e) => Some(e),
            WgError::Link { source, .. } | WgError::PidFile { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A device's configuration, read and written (the kernel's generic netlink, wireguard-go's
/// socket, or a fake).
pub trait Control {
    fn get(&mut self) -> Result<DeviceState, WgError>;
    fn set(&mut self, config: &DeviceConfig) -> Result<(), WgError>;
}

/// The sync of key, port and peers, with the endpoint memory it keeps between passes.
#[derive(Debug, Default)]
pub struct PeerSync {
    endpoints: Endpoints,
}

impl PeerSync {
    /// Whether `state` holds `key` already (as the device keeps it, clamped).
    pub fn keyed(&self, state: &DeviceState, key: &PrivateKey) -> bool {
        state.private_key.as_ref().map(|k| k.0) == Some(clamped(key))
    }

    /// Makes the device's private key, listen port and peers `key` and `dev`'s, in one set
    /// (none when it matches); returns the device as read before.
    pub fn pass(
        &mut self,
        ctl: &mut dyn Control,
        key: &PrivateKey,
        dev: &WgDevice,
    ) -> Result<DeviceState, WgError> {
        let state = ctl.get()?;
        let changes = peer_changes(&dev.peers, &state, &self.endpoints);
        let config = DeviceConfig {
            private_key: (!self.keyed(&state, key)).then(|| key.clone()),
            listen_port: (state.listen_port != dev.listen_port).then_some(dev.listen_port),
            replace_peers: false,
            peers: changes.peers,
        };
        if config != DeviceConfig::default() {
            ctl.set(&config)?;
            log_changes(&config, dev);
        }
        self.endpoints = changes.endpoints;
        Ok(state)
    }
}

/// The private key as wireguard-go keeps and reports it: clamped as X25519 wants (seen here:
/// 0x11… set, 0x10…0x51 read back; its `NoisePrivateKey.clamp`, `device/noise-helpers.go`),
/// so a key file holding unclamped bytes is not set again on every pass. The public key is
/// the same either way.
fn clamped(key: &PrivateKey) -> Key {
    let mut k = key.0 .0;
    k[0] &= 248;
    k[31] = (k[31] & 127) | 64;
    Key(k)
}

fn log_changes(config: &DeviceConfig, dev: &WgDevice) {
    if config.private_key.is_some() || config.listen_port.is_some() {
        log::info!("wireguard: {}: private key and listen port set", dev.name);
    }
    for p in &config.peers {
        let node = dev
            .peers
            .iter()
            .find(|w| w.public_key == p.public_key.0)
            .map_or("(not wanted)", |w| w.node.as_str());
        let what = match (p.remove, p.update_only) {
            (true, _) => "removed".to_owned(),
            (false, false) => format!("added at {}", endpoint_text(p.endpoint)),
            (false, true) => format!("updated {p:?}"),
        };
        log::info!("wireguard: peer {} ({node}): {what}", p.public_key);
    }
}

fn endpoint_text(e: Option<SocketAddr>) -> String {
    e.map_or_else(|| "-".to_owned(), |e| e.to_string())
}

/// What `lichen status` shows of WireGuard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgReport {
    /// This node's public key.
    pub public_key: Key,
    /// `None` until the device was reached.
    pub path: Option<WgPath>,
    pub listen_port: u16,
    /// The wanted peers, in the backends' order (by node name).
    pub peers: Vec<WgPeerReport>,
}

/// One wanted peer as the device reported it at the last pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgPeerReport {
    pub node: String,
    pub public_key: Key,
    /// Where the device sends to (roamed or set); the wanted one before it was added.
    pub endpoint: Option<SocketAddr>,
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl WgReport {
    /// The report of a pass: `dev`'s peers with what `state` (read at the pass) says of each.
    pub fn of(public_key: Key, path: WgPath, dev: &WgDevice, state: &DeviceState) -> WgReport {
        let peers = dev
            .peers
            .iter()
            .map(|w| {
                let have = state.peer(&Key(w.public_key));
                WgPeerReport {
                    node: w.node.clone(),
                    public_key: Key(w.public_key),
                    endpoint: have.and_then(|p| p.endpoint).or(Some(w.endpoint)),
                    last_handshake: have.and_then(|p| p.last_handshake),
                    rx_bytes: have.map_or(0, |p| p.rx_bytes),
                    tx_bytes: have.map_or(0, |p| p.tx_bytes),
                }
            })
            .collect();
        WgReport {
            public_key,
            path: Some(path),
            listen_port: dev.listen_port,
            peers,
        }
    }
}

#[cfg(test)]
mod sync_tests;
