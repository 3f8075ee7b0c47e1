//! An in-memory WireGuard device for tests: a [`DeviceConfig`] applied as wireguard-go applies
//! one (its `device/uapi.go`: `remove` drops the peer, `update_only` never creates one, an
//! all-zeros pre-shared key removes it, `replace_allowed_ips` drops the peer's prefixes
//! first, and a prefix belongs to one peer only, so adding it to one takes it from another).
//! [`FakeWg`] is the controller the fake kernel of the reconcile tests holds.

use lichen_backends::WgDevice;
use lichen_wireguard::{DeviceConfig, DeviceState, Key, PeerConfig, PeerState, PrivateKey};

use lichen_wireguard::uapi::UapiError;

use super::{Control, PeerSync, WgError, WgPath, WgReport};

#[derive(Debug, Default)]
pub struct FakeDevice {
    pub state: DeviceState,
    /// Every set, in order.
    pub sets: Vec<DeviceConfig>,
    /// The errno a set is refused with (as wireguard-go answers `errno=-N`), if any.
    pub refuse: Option<i32>,
}

impl Control for FakeDevice {
    fn get(&mut self) -> Result<DeviceState, WgError> {
        Ok(self.state.clone())
    }

    fn set(&mut self, config: &DeviceConfig) -> Result<(), WgError> {
        if let Some(errno) = self.refuse {
            let path = std::path::PathBuf::from("/var/run/wireguard/lichen-wg.sock");
            return Err(WgError::Uapi(UapiError::Refused(path, errno)));
        }
        let s = &mut self.state;
        if let Some(k) = &config.private_key {
            // Kept clamped, as wireguard-go and the kernel keep it.
            let mut b = k.0 .0;
            b[0] &= 248;
            b[31] = (b[31] & 127) | 64;
            s.private_key = Some(PrivateKey(Key(b)));
            s.public_key = Some(k.public());
        }
        if let Some(port) = config.listen_port {
            s.listen_port = port;
        }
        if config.replace_peers {
            s.peers.clear();
        }
        for p in &config.peers {
            apply_peer(s, p);
        }
        self.sets.push(config.clone());
        Ok(())
    }
}

fn apply_peer(s: &mut DeviceState, p: &PeerConfig) {
    if p.remove {
        s.peers.retain(|have| have.public_key != p.public_key);
        return;
    }
    for net in &p.allowed_ips {
        for other in s.peers.iter_mut().filter(|o| o.public_key != p.public_key) {
            other.allowed_ips.retain(|n| n != net);
        }
    }
    let i = match s.peers.iter().position(|h| h.public_key == p.public_key) {
        Some(i) => i,
        None if p.update_only => return,
        None => {
            s.peers.push(PeerState::new(p.public_key));
            s.peers.len() - 1
        }
    };
    let have = &mut s.peers[i];
    if let Some(k) = p.preshared_key {
        have.preshared_key = (!k.is_zero()).then_some(k);
    }
    if let Some(e) = p.endpoint {
        have.endpoint = Some(e);
    }
    if let Some(k) = p.persistent_keepalive {
        have.persistent_keepalive = k;
    }
    if p.replace_allowed_ips {
        have.allowed_ips.clear();
    }
    have.allowed_ips.extend(p.allowed_ips.iter().copied());
}

/// The controller over a [`FakeDevice`] (the path it claims: userspace).
#[derive(Debug)]
pub struct FakeWg {
    pub dev: FakeDevice,
    pub key: PrivateKey,
    sync: PeerSync,
}

impl FakeWg {
    pub fn new(key: PrivateKey) -> FakeWg {
        FakeWg {
            dev: FakeDevice::default(),
            key,
            sync: PeerSync::default(),
        }
    }

    pub fn sync(&mut self, want: &WgDevice) -> Result<WgReport, WgError> {
        let state = self.sync.pass(&mut self.dev, &self.key, want)?;
        Ok(WgReport::of(
            self.key.public(),
            WgPath::Userspace,
            want,
            &state,
        ))
    }
}
