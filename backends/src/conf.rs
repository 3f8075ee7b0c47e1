//! The backend configuration (Flannel's `Backend` block in net-conf.json) and the MTUs that
//! follow from it.
//!
//! WireGuard's overheads: outer IPv4 20 (IPv6 40) + UDP 8 + WireGuard's data header 16
//! (type, receiver index, counter) + its authentication tag 16 = 60 (80): a 1500-byte underlay
//! gives 1440 over IPv4, 1420 over IPv6 (wg-quick always takes 80 off, whatever the family).

use std::fmt;

use crate::model::LocalUnderlay;

/// The Linux kernel's VXLAN port (also Flannel's and k3s's): 8472, not IANA's 4789.
pub const DEFAULT_VXLAN_PORT: u16 = 8472;
/// Flannel's default VNI.
pub const DEFAULT_VNI: u32 = 1;
/// The largest VNI (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;
/// VXLAN overhead over an IPv4 underlay: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14.
pub const VXLAN_OVERHEAD_V4: u32 = 50;
/// Over an IPv6 underlay the outer header is 40 bytes: 70.
pub const VXLAN_OVERHEAD_V6: u32 = 70;
/// The smallest MTU we accept for the VXLAN or WireGuard device (IPv6 needs 1280 on every link).
pub const MIN_MTU: u32 = 576;
/// The WireGuard device Lichen owns (one per node, whatever the listen port).
pub const WG_DEVICE: &str = "lichen-wg";
/// WireGuard's customary port (wg-quick's examples, Flannel's wireguard backend).
pub const DEFAULT_WG_PORT: u16 = 51820;
/// WireGuard overhead over an IPv4 underlay: outer IPv4 20 + UDP 8 + header 16 + tag 16.
pub const WG_OVERHEAD_V4: u32 = 60;
/// Over an IPv6 underlay the outer header is 40 bytes: 80.
pub const WG_OVERHEAD_V6: u32 = 80;

/// Which backend, with its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendConf {
    /// One route per peer subnet via the peer's address on the underlay; needs L2 adjacency.
    HostGw,
    /// An overlay: one VXLAN device, static neighbours and FDB entries, onlink routes.
    Vxlan(VxlanConf),
    /// An encrypted overlay: one WireGuard device [`WG_DEVICE`], one peer per node, onlink
    /// routes through it.
    Wireguard(WireguardConf),
}

/// `Backend{Type: "vxlan", VNI, Port, DirectRouting, MTU, TxChecksumOffload}`: the one VXLAN
/// configuration type (the agent's net-conf parser builds it and checks it with
/// [`VxlanConf::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanConf {
    pub vni: u32,
    pub port: u16,
    /// L2-adjacent peers get host-gw routes instead of the overlay (Flannel's DirectRouting).
    pub direct_routing: bool,
    /// The VXLAN device's MTU; default: the underlay's minus the encapsulation overhead.
    pub mtu: Option<u32>,
    /// `TxChecksumOffload` (default true: left as the kernel has it). False turns transmit
    /// checksum offload off on the VXLAN device, as `ethtool -K lichen.1 tx off` would: the
    /// workaround for kernels and NICs that corrupt the checksums of VXLAN-encapsulated
    /// packets (flannel-io/flannel#1279, #1282, #2152; k3s-io/k3s#2013).
    pub tx_checksum_offload: bool,
}

impl Default for VxlanConf {
    fn default() -> Self {
        VxlanConf {
            vni: DEFAULT_VNI,
            port: DEFAULT_VXLAN_PORT,
            direct_routing: false,
            mtu: None,
            tx_checksum_offload: true,
        }
    }
}

/// `Backend{Type: "wireguard", ListenPort, PersistentKeepaliveInterval, MTU, PSK}` (every
/// node of a cluster shares it: a peer's endpoint port is our `listen_port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireguardConf {
    /// The UDP port the device listens on.
    pub listen_port: u16,
    /// Seconds between keepalives sent to each peer (for NAT); 0 = off.
    pub keepalive: u16,
    /// The device's MTU; default: the underlay's minus the WireGuard overhead.
    pub mtu: Option<u32>,
    /// A pre-shared key added to every peer (`wg genpsk`), if any.
    pub psk: Option<[u8; 32]>,
}

impl Default for WireguardConf {
    fn default() -> Self {
        WireguardConf {
            listen_port: DEFAULT_WG_PORT,
            keepalive: 0,
            mtu: None,
            psk: None,
        }
    }
}

impl WireguardConf {
    pub fn validate(&self) -> Result<(), ConfError> {
        if self.listen_port == 0 {
            return Err(ConfError::WgPortZero);
        }
        match self.mtu {
            Some(m) if m < MIN_MTU => Err(ConfError::WgMtuTooSmall(m)),
            _ => Ok(()),
        }
    }

    /// The device MTU: the configured one, else the underlay's minus the WireGuard overhead
    /// (60 over IPv4, 80 over IPv6).
    pub fn device_mtu(&self, underlay: &LocalUnderlay) -> u32 {
        self.mtu.unwrap_or_else(|| {
            let overhead = if underlay.addr.is_ipv4() {
                WG_OVERHEAD_V4
            } else {
                WG_OVERHEAD_V6
            };
            underlay.mtu.saturating_sub(overhead)
        })
    }
}

/// A backend option that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfError {
    /// VNI 0 or above 2^24-1.
    VniOutOfRange(u32),
    /// Port 0.
    PortZero,
    /// An explicit MTU below [`MIN_MTU`].
    MtuTooSmall(u32),
    /// WireGuard `ListenPort` 0.
    WgPortZero,
    /// An explicit WireGuard MTU below [`MIN_MTU`].
    WgMtuTooSmall(u32),
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfError::VniOutOfRange(v) => {
                write!(f, "VXLAN VNI {v} is out of range (1..={MAX_VNI})")
            }
            ConfError::PortZero => write!(f, "VXLAN port must not be 0"),
            ConfError::MtuTooSmall(m) => {
                write!(f, "VXLAN MTU {m} is below the minimum of {MIN_MTU}")
            }
            ConfError::WgPortZero => write!(f, "WireGuard ListenPort must not be 0"),
            ConfError::WgMtuTooSmall(m) => {
                write!(f, "WireGuard MTU {m} is below the minimum of {MIN_MTU}")
            }
        }
    }
}

impl std::error::Error for ConfError {}

impl BackendConf {
    /// Checks the options; the agent calls this once when it reads its config.
    pub fn validate(&self) -> Result<(), ConfError> {
        match self {
            BackendConf::HostGw => Ok(()),
            BackendConf::Vxlan(v) => v.validate(),
            BackendConf::Wireguard(w) => w.validate(),
        }
    }
}

impl VxlanConf {
    pub fn validate(&self) -> Result<(), ConfError> {
        if self.vni == 0 || self.vni > MAX_VNI {
            return Err(ConfError::VniOutOfRange(self.vni));
        }
        if self.port == 0 {
            return Err(ConfError::PortZero);
        }
        match self.mtu {
            Some(m) if m < MIN_MTU => Err(ConfError::MtuTooSmall(m)),
            _ => Ok(()),
        }
    }

    /// `lichen.<VNI>` (at most 15 bytes for a 24-bit VNI: fits IFNAMSIZ).
    pub fn device_name(&self) -> String {
        device_name(self.vni)
    }

    /// The device MTU: the configured one, else the underlay's minus the encapsulation overhead
    /// (50 over IPv4, 70 over IPv6).
    pub fn device_mtu(&self, underlay: &LocalUnderlay) -> u32 {
        self.mtu.unwrap_or_else(|| {
            let overhead = if underlay.addr.is_ipv4() {
                VXLAN_OVERHEAD_V4
            } else {
                VXLAN_OVERHEAD_V6
            };
            underlay.mtu.saturating_sub(overhead)
        })
    }
}

/// The VXLAN device Lichen owns for a VNI.
pub fn device_name(vni: u32) -> String {
    format!("{DEVICE_PREFIX}{vni}")
}

/// Every device Lichen creates is named `lichen.<VNI>`; the agent reports the devices with this
/// prefix as [`crate::Actual::devices`] (stale ones from an older VNI are deleted).
pub const DEVICE_PREFIX: &str = "lichen.";

/// The MTU the CNI plugin should give pods (written to the subnet file): the underlay's for
/// host-gw, the VXLAN device's for VXLAN (DirectRouting too: a pod cannot know which peers are
/// adjacent, so it must fit the overlay), the WireGuard device's for WireGuard.
pub fn pod_mtu(conf: &BackendConf, underlay: &LocalUnderlay) -> u32 {
    match conf {
        BackendConf::HostGw => underlay.mtu,
        BackendConf::Vxlan(v) => v.device_mtu(underlay),
        BackendConf::Wireguard(w) => w.device_mtu(underlay),
    }
}
