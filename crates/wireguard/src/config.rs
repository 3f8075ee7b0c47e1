//! What is set on a WireGuard device and what is read back, the same for both control paths
//! (the configuration protocol, [`crate::uapi`]; generic netlink, [`crate::genl`]). A
//! [`DeviceConfig`] is a change: what it leaves `None` (or `false`) is left as it is on the
//! device, as both protocols do.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;

use crate::key::{Key, PrivateKey};

/// A change to a device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceConfig {
    pub private_key: Option<PrivateKey>,
    /// 0 lets the implementation choose.
    pub listen_port: Option<u16>,
    /// Remove every peer not listed in `peers`.
    pub replace_peers: bool,
    pub peers: Vec<PeerConfig>,
}

/// A change to one peer, named by its public key: added or updated, or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub public_key: Key,
    /// Remove the peer (everything else is ignored).
    pub remove: bool,
    /// Change the peer only if it exists; never create it.
    pub update_only: bool,
    /// `Some(all zeros)` removes the pre-shared key.
    pub preshared_key: Option<Key>,
    pub endpoint: Option<SocketAddr>,
    /// Seconds; `Some(0)` turns keepalives off.
    pub persistent_keepalive: Option<u16>,
    /// Drop the peer's current allowed IPs before adding `allowed_ips`.
    pub replace_allowed_ips: bool,
    pub allowed_ips: Vec<IpNet>,
}

impl PeerConfig {
    /// A change that only names the peer (add/update; set the fields wanted).
    pub fn new(public_key: Key) -> PeerConfig {
        PeerConfig {
            public_key,
            remove: false,
            update_only: false,
            preshared_key: None,
            endpoint: None,
            persistent_keepalive: None,
            replace_allowed_ips: false,
            allowed_ips: Vec::new(),
        }
    }

    /// The change that removes the peer.
    pub fn removal(public_key: Key) -> PeerConfig {
        PeerConfig {
            remove: true,
            ..PeerConfig::new(public_key)
        }
    }
}

/// A device as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceState {
    pub private_key: Option<PrivateKey>,
    /// Given by the kernel; the configuration protocol does not return it (derive it with
    /// [`PrivateKey::public`]).
    pub public_key: Option<Key>,
    /// 0 when the device has no port (yet).
    pub listen_port: u16,
    pub peers: Vec<PeerState>,
}

impl DeviceState {
    pub fn peer(&self, key: &Key) -> Option<&PeerState> {
        self.peers.iter().find(|p| p.public_key == *key)
    }
}

/// One peer as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerState {
    pub public_key: Key,
    /// `None` when the peer has none (all zeros on the wire).
    pub preshared_key: Option<Key>,
    pub endpoint: Option<SocketAddr>,
    pub allowed_ips: Vec<IpNet>,
    /// `None` before the first handshake.
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Seconds, 0 when off.
    pub persistent_keepalive: u16,
}

impl PeerState {
    /// A peer as a device reports one just added: no endpoint, no handshake, nothing moved.
    pub fn new(public_key: Key) -> PeerState {
        PeerState {
            public_key,
            preshared_key: None,
            endpoint: None,
            allowed_ips: Vec::new(),
            last_handshake: None,
            rx_bytes: 0,
            tx_bytes: 0,
            persistent_keepalive: 0,
        }
    }
}

/// A handshake time from seconds and nanoseconds since the epoch; `None` for 0/0 (never).
pub(crate) fn handshake_time(secs: u64, nanos: u32) -> Option<SystemTime> {
    (secs != 0 || nanos != 0)
        .then(|| SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999)))
}
