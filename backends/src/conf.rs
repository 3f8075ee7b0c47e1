//! The backend configuration (Flannel's `Backend` block in net-conf.json) and the MTUs that
//! follow from it.

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
/// The smallest MTU we accept for the VXLAN device (IPv6 needs 1280 on every link).
pub const MIN_MTU: u32 = 576;

/// Which backend, with its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendConf {
    /// One route per peer subnet via the peer's address on the underlay; needs L2 adjacency.
    HostGw,
    /// An overlay: one VXLAN device, static neighbours and FDB entries, onlink routes.
    Vxlan(VxlanConf),
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

/// A backend option that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfError {
    /// VNI 0 or above 2^24-1.
    VniOutOfRange(u32),
    /// Port 0.
    PortZero,
    /// An explicit MTU below [`MIN_MTU`].
    MtuTooSmall(u32),
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
/// adjacent, so it must fit the overlay).
pub fn pod_mtu(conf: &BackendConf, underlay: &LocalUnderlay) -> u32 {
    match conf {
        BackendConf::HostGw => underlay.mtu,
        BackendConf::Vxlan(v) => v.device_mtu(underlay),
    }
}
