//! The real device: the control path chosen once, the device created on it
//! (`Op::CreateWireguard`), found again after an agent restart, synced every pass, and removed
//! (`Op::DeleteWireguard`, `lichen agent --cleanup`).
//!
//! The path: a wireguard-go already answering on `<socket dir>/lichen-wg.sock` is reused
//! (an agent restart must not cut traffic, and it holds the device); else kernel WireGuard
//! when the generic netlink family "wireguard" resolves ([`KernelWg::open`]; resolving it
//! also loads the module where the kernel can); else wireguard-go is started
//! ([`super::daemon`]). Once chosen it is kept for the agent's life.

use std::path::{Path, PathBuf};
use std::process::Child;

use lichen_backends::WgDevice;
use lichen_wireguard::genl::{GenlError, KernelWg};
use lichen_wireguard::uapi::{Uapi, SOCKET_DIR};
use lichen_wireguard::{DeviceConfig, DeviceState, Key, PrivateKey};

use super::{daemon, Control, PeerSync, WgError, WgPath, WgReport};
use crate::nl::{exists_ok, missing_ok, LinkChange, LinkId, LinkKind, NewLink, Nl};

/// The device's configuration channel on the chosen path.
enum Ctl {
    Kernel { wg: KernelWg, name: String },
    Userspace(Uapi),
}

impl Ctl {
    fn path(&self) -> WgPath {
        match self {
            Ctl::Kernel { .. } => WgPath::Kernel,
            Ctl::Userspace(_) => WgPath::Userspace,
        }
    }
}

impl Control for Ctl {
    fn get(&mut self) -> Result<DeviceState, WgError> {
        match self {
            Ctl::Kernel { wg, name } => wg.get(name).map_err(WgError::Genl),
            Ctl::Userspace(u) => u.get().map_err(WgError::Uapi),
        }
    }

    fn set(&mut self, config: &DeviceConfig) -> Result<(), WgError> {
        match self {
            Ctl::Kernel { wg, name } => wg.set(name, config).map_err(WgError::Genl),
            Ctl::Userspace(u) => u.set(config).map_err(WgError::Uapi),
        }
    }
}

/// The node's WireGuard device, for the agent's kernel.
pub struct WgController {
    key: PrivateKey,
    public: Key,
    socket_dir: PathBuf,
    path: Option<WgPath>,
    ctl: Option<Ctl>,
    /// The wireguard-go this agent started (to reap it).
    child: Option<Child>,
    sync: PeerSync,
}

impl WgController {
    /// The controller for this node's private key (wireguard-go's sockets in
    /// `/var/run/wireguard`).
    pub fn new(key: PrivateKey) -> WgController {
        WgController {
            public: key.public(),
            key,
            socket_dir: PathBuf::from(SOCKET_DIR),
            path: None,
            ctl: None,
            child: None,
            sync: PeerSync::default(),
        }
    }

    pub fn public_key(&self) -> Key {
        self.public
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// `Op::CreateWireguard`: the device on the chosen path, its MTU, then its key, port and
    /// peers (before any route through it).
    pub fn create(&mut self, nl: &mut Nl, dev: &WgDevice) -> Result<(), WgError> {
        self.reap();
        self.ctl = None;
        let uapi = Uapi::new(&self.socket_dir, &dev.name);
        let ctl = if uapi.get().is_ok() {
            Ctl::Userspace(uapi)
        } else if let Some(wg) = self.kernel()? {
            let link = NewLink {
                name: &dev.name,
                mtu: Some(dev.mtu),
                ..NewLink::default()
            };
            exists_ok(nl.create_link(&link, &LinkKind::Wireguard)).map_err(|source| {
                WgError::Link {
                    what: "creating it (kind wireguard)",
                    source,
                }
            })?;
            Ctl::Kernel {
                wg,
                name: dev.name.clone(),
            }
        } else {
            self.child = Some(daemon::start(&self.socket_dir, &dev.name)?);
            Ctl::Userspace(uapi)
        };
        self.path = Some(ctl.path());
        let mtu = LinkChange {
            mtu: Some(dev.mtu),
            ..LinkChange::default()
        };
        nl.set_link(LinkId::Name(&dev.name), &mtu)
            .map_err(|source| WgError::Link {
                what: "setting its MTU",
                source,
            })?;
        self.ctl = Some(ctl);
        self.sync(dev).map(drop)
    }

    /// Kernel WireGuard, unless the path is userspace: `None` when the kernel has none.
    fn kernel(&mut self) -> Result<Option<KernelWg>, WgError> {
        if self.path == Some(WgPath::Userspace) {
            return Ok(None);
        }
        match KernelWg::open() {
            Ok(wg) => Ok(Some(wg)),
            Err(e) if self.path == Some(WgPath::Kernel) => Err(WgError::Genl(e)),
            Err(e) => {
                if !matches!(e, GenlError::NoKernelWireGuard) {
                    log::warn!(
                        "wireguard: kernel WireGuard unusable ({e}): using {}",
                        "wireguard-go"
                    );
                } else {
                    log::info!("wireguard: {e}: using wireguard-go");
                }
                Ok(None)
            }
        }
    }

    /// The device's key, port and peers made the wanted ones; what the device reported.
    pub fn sync(&mut self, dev: &WgDevice) -> Result<WgReport, WgError> {
        self.reap();
        let mut ctl = match self.ctl.take() {
            Some(c) => c,
            None => self.attach(&dev.name)?,
        };
        // On failure the channel is dropped: found again at the next pass.
        let state = self.sync.pass(&mut ctl, &self.key, dev)?;
        let path = ctl.path();
        self.ctl = Some(ctl);
        // The kernel computes the public key itself: it must be ours (once it has our key).
        if let (Some(kernel), true) = (
            state.public_key,
            state.private_key.as_ref() == Some(&self.key),
        ) {
            if kernel != self.public {
                return Err(WgError::PublicKeyMismatch {
                    kernel,
                    ours: self.public,
                });
            }
        }
        Ok(WgReport::of(self.public, path, dev, &state))
    }

    /// The device as it is (made by an earlier agent): wireguard-go's socket, else a kernel
    /// device of that name.
    fn attach(&mut self, name: &str) -> Result<Ctl, WgError> {
        let uapi = Uapi::new(&self.socket_dir, name);
        let ctl = if uapi.get().is_ok() {
            Ctl::Userspace(uapi)
        } else {
            match KernelWg::open() {
                Ok(wg) if wg.get(name).is_ok() => Ctl::Kernel {
                    wg,
                    name: name.to_owned(),
                },
                _ => return Err(WgError::NoDevice(name.to_owned())),
            }
        };
        self.path.get_or_insert(ctl.path());
        Ok(ctl)
    }

    /// `Op::DeleteWireguard`: see [`remove`].
    pub fn remove(&mut self, nl: &mut Nl, name: &str) -> Result<(), WgError> {
        self.ctl = None;
        remove(nl, &self.socket_dir, name, self.child.take())
    }

    /// Notices a wireguard-go of ours that ended (its device went with it).
    fn reap(&mut self) {
        if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
            log::warn!("wireguard: wireguard-go ended ({status}): the device will be made again");
            self.child = None;
            self.ctl = None;
        }
    }
}

/// Removes device `name`: ends the wireguard-go recorded for it (`child`: its handle when
/// this process started it), then deletes the link (a kernel device; gone already is done).
pub fn remove(
    nl: &mut Nl,
    socket_dir: &Path,
    name: &str,
    child: Option<Child>,
) -> Result<(), WgError> {
    daemon::stop_recorded(socket_dir, name, child)?;
    missing_ok(nl.delete_link(LinkId::Name(name))).map_err(|source| WgError::Link {
        what: "deleting it",
        source,
    })
}
