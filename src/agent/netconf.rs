//! The agent's network configuration: Flannel's `net-conf.json`, so an existing k3s/Flannel
//! configuration works unchanged, plus Lichen's own keys.
//!
//! ```json
//! { "Network": "10.42.0.0/16", "SubnetLen": 24,
//!   "EnableIPv6": true, "IPv6Network": "fd00:42::/56",
//!   "Backend": { "Type": "vxlan", "VNI": 1, "Port": 8472, "DirectRouting": false, "MTU": 1450,
//!                "TxChecksumOffload": true },
//!   "IPMasq": true, "NetworkPolicy": false }
//! ```
//!
//! Flannel's keys: `EnableIPv4` (default true), `Network` (required when IPv4 is on),
//! `EnableIPv6` (default false), `IPv6Network` (required when IPv6 is on), `SubnetLen` (default
//! 24, or the network's prefix + 2 when the network is smaller than a /22), `IPv6SubnetLen`
//! (default 64), `SubnetMin`/`SubnetMax` (accepted, unused: the node subnet is the Node's
//! `spec.podCIDRs`). A missing `Backend` means VXLAN, as on k3s. Lichen's keys: `IPMasq`
//! (default true) and `NetworkPolicy` (default false), and in `Backend` `TxChecksumOffload`
//! (default true; false turns checksum offload off on the VXLAN device). Unknown keys are
//! ignored, as Flannel does.
//!
//! `Backend.Type` `wireguard` takes Flannel's keys (flannel-io/flannel
//! pkg/backend/wireguard/wireguard.go): `ListenPort` (default 51820), `PSK` (a pre-shared key,
//! base64 of 32 bytes as `wg genpsk` prints it; default none) and
//! `PersistentKeepaliveInterval` (seconds, default 0 = off), plus Lichen's `MTU` (default: the
//! underlay's minus 60 over IPv4, 80 over IPv6). Flannel's `Mode` and `ListenPortV6` are
//! ignored: Lichen has one WireGuard device for both families (as Flannel's `auto` mode).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::k8s::base64;
use crate::k8s::json::from_json;
use crate::k8s::ParseError;
use lichen_backends::{BackendConf, ConfError, VxlanConf, WireguardConf};

/// The backend types accepted in `Backend.Type`.
pub const BACKEND_TYPES: &[&str] = &["host-gw", "vxlan", "wireguard"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNetwork {
    /// The cluster networks: the IPv4 one first, then the IPv6 one.
    pub network: Vec<IpNet>,
    /// Prefix length of a node subnet, per entry of `network`.
    pub subnet_len: Vec<u8>,
    /// `Backend`: host-gw, or VXLAN or WireGuard with its options (checked when read).
    pub backend: BackendConf,
    /// `Backend.MTU`: the pod MTU if set (every backend; with VXLAN and WireGuard also the
    /// device's, in `backend`); otherwise the agent derives it from the underlay.
    pub mtu: Option<u32>,
    pub ipmasq: bool,
    pub network_policy: bool,
}

#[derive(Debug)]
pub enum ClusterNetworkError {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Json(ParseError),
    UnknownBackend(String),
    /// `field` is required by the enabled address family.
    MissingNetwork(&'static str),
    InvalidNetwork {
        field: &'static str,
        value: String,
    },
    InvalidSubnetLen {
        field: &'static str,
        len: u8,
        network: IpNet,
    },
    /// A backend option that cannot work (VNI, port, MTU).
    Backend(ConfError),
    /// `Backend.PSK` is not the base64 of 32 bytes; holds the text's length (the key itself is
    /// a secret: never printed).
    InvalidPsk(usize),
    /// `Backend.PersistentKeepaliveInterval` above WireGuard's 65535 seconds.
    InvalidKeepalive(u64),
    NoFamily,
}

impl fmt::Display for ClusterNetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterNetworkError::Read { path, source } => {
                write!(f, "reading {}: {source}", path.display())
            }
            ClusterNetworkError::Json(e) => write!(f, "net-conf: {e}"),
            ClusterNetworkError::UnknownBackend(t) => write!(
                f,
                "net-conf: unknown Backend.Type {t:?}; accepted: {}",
                BACKEND_TYPES.join(", ")
            ),
            ClusterNetworkError::MissingNetwork(field) => {
                write!(f, "net-conf: {field} is required")
            }
            ClusterNetworkError::InvalidNetwork { field, value } => {
                write!(f, "net-conf: {field} {value:?} is not an address/prefix")
            }
            ClusterNetworkError::InvalidSubnetLen {
                field,
                len,
                network,
            } => write!(
                f,
                "net-conf: {field} {len} does not fit in network {network}"
            ),
            ClusterNetworkError::Backend(e) => write!(f, "net-conf: Backend: {e}"),
            ClusterNetworkError::InvalidPsk(len) => write!(
                f,
                "net-conf: Backend.PSK ({len} characters) is not the base64 of 32 bytes; \
                 make one with `wg genpsk`"
            ),
            ClusterNetworkError::InvalidKeepalive(s) => write!(
                f,
                "net-conf: Backend.PersistentKeepaliveInterval {s} is above 65535 seconds"
            ),
            ClusterNetworkError::NoFamily => {
                write!(f, "net-conf: EnableIPv4 and EnableIPv6 are both false")
            }
        }
    }
}

impl std::error::Error for ClusterNetworkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClusterNetworkError::Read { source, .. } => Some(source),
            ClusterNetworkError::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl ClusterNetwork {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<ClusterNetwork, ClusterNetworkError> {
        let bytes = std::fs::read(path).map_err(|source| ClusterNetworkError::Read {
            path: path.to_owned(),
            source,
        })?;
        ClusterNetwork::parse(&bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<ClusterNetwork, ClusterNetworkError> {
        let raw: RawNetConf = from_json(bytes).map_err(ClusterNetworkError::Json)?;
        let mut network = Vec::new();
        let mut subnet_len = Vec::new();
        if raw.enable_ipv4.unwrap_or(true) {
            let net = parse_net("Network", raw.network)?;
            let default = if net.prefix_len() <= 22 {
                24
            } else {
                net.prefix_len() + 2
            };
            subnet_len.push(check_len("SubnetLen", raw.subnet_len, default, net)?);
            network.push(net);
        }
        if raw.enable_ipv6 {
            let net = parse_net("IPv6Network", raw.ipv6_network)?;
            subnet_len.push(check_len("IPv6SubnetLen", raw.ipv6_subnet_len, 64, net)?);
            network.push(net);
        }
        if network.is_empty() {
            return Err(ClusterNetworkError::NoFamily);
        }
        let backend = raw.backend.unwrap_or_default();
        Ok(ClusterNetwork {
            network,
            subnet_len,
            backend: backend.kind()?,
            mtu: backend.mtu,
            ipmasq: raw.ipmasq.unwrap_or(true),
            network_policy: raw.network_policy,
        })
    }
}

fn parse_net(field: &'static str, value: Option<String>) -> Result<IpNet, ClusterNetworkError> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(ClusterNetworkError::MissingNetwork(field))?;
    let net: IpNet = value
        .parse()
        .map_err(|_| ClusterNetworkError::InvalidNetwork { field, value })?;
    let family_ok = match field {
        "Network" => matches!(net, IpNet::V4(_)),
        _ => matches!(net, IpNet::V6(_)),
    };
    if !family_ok {
        return Err(ClusterNetworkError::InvalidNetwork {
            field,
            value: net.to_string(),
        });
    }
    Ok(net.trunc())
}

fn check_len(
    field: &'static str,
    len: Option<u8>,
    default: u8,
    network: IpNet,
) -> Result<u8, ClusterNetworkError> {
    let len = len.filter(|l| *l != 0).unwrap_or(default);
    if len < network.prefix_len() || len > network.max_prefix_len() {
        return Err(ClusterNetworkError::InvalidSubnetLen {
            field,
            len,
            network,
        });
    }
    Ok(len)
}

#[derive(Deserialize)]
struct RawNetConf {
    #[serde(rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(rename = "Network")]
    network: Option<String>,
    #[serde(rename = "SubnetLen")]
    subnet_len: Option<u8>,
    #[serde(rename = "EnableIPv6", default)]
    enable_ipv6: bool,
    #[serde(rename = "IPv6Network")]
    ipv6_network: Option<String>,
    #[serde(rename = "IPv6SubnetLen")]
    ipv6_subnet_len: Option<u8>,
    // SubnetMin/SubnetMax/IPv6SubnetMin/IPv6SubnetMax: accepted and unused (unknown keys are
    // skipped by the parser).
    #[serde(rename = "Backend")]
    backend: Option<RawBackend>,
    #[serde(rename = "IPMasq")]
    ipmasq: Option<bool>,
    #[serde(rename = "NetworkPolicy", default)]
    network_policy: bool,
}

#[derive(Default, Deserialize)]
struct RawBackend {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "VNI")]
    vni: Option<u32>,
    #[serde(rename = "Port")]
    port: Option<u16>,
    #[serde(rename = "DirectRouting", default)]
    direct_routing: bool,
    #[serde(rename = "MTU")]
    mtu: Option<u32>,
    #[serde(rename = "TxChecksumOffload")]
    tx_checksum_offload: Option<bool>,
    #[serde(rename = "ListenPort")]
    listen_port: Option<u16>,
    #[serde(rename = "PersistentKeepaliveInterval")]
    keepalive: Option<u64>,
    #[serde(rename = "PSK")]
    psk: Option<String>,
}

impl RawBackend {
    fn kind(&self) -> Result<BackendConf, ClusterNetworkError> {
        let conf = match self.kind.as_deref().unwrap_or("vxlan") {
            "host-gw" => BackendConf::HostGw,
            "vxlan" => BackendConf::Vxlan(self.vxlan()),
            "wireguard" => BackendConf::Wireguard(self.wireguard()?),
            other => return Err(ClusterNetworkError::UnknownBackend(other.to_owned())),
        };
        conf.validate().map_err(ClusterNetworkError::Backend)?;
        Ok(conf)
    }

    fn vxlan(&self) -> VxlanConf {
        let d = VxlanConf::default();
        // Flannel treats 0 as "unset" for VNI and port.
        VxlanConf {
            vni: self.vni.filter(|v| *v != 0).unwrap_or(d.vni),
            port: self.port.filter(|p| *p != 0).unwrap_or(d.port),
            direct_routing: self.direct_routing,
            mtu: self.mtu,
            tx_checksum_offload: self.tx_checksum_offload.unwrap_or(d.tx_checksum_offload),
        }
    }

    /// Unlike VXLAN's `Port`, a `ListenPort` of 0 is refused rather than read as unset
    /// (Flannel hands it to WireGuard, which then picks a random port no peer knows).
    fn wireguard(&self) -> Result<WireguardConf, ClusterNetworkError> {
        let d = WireguardConf::default();
        let secs = self.keepalive.unwrap_or(0);
        let keepalive =
            u16::try_from(secs).map_err(|_| ClusterNetworkError::InvalidKeepalive(secs))?;
        Ok(WireguardConf {
            listen_port: self.listen_port.unwrap_or(d.listen_port),
            keepalive,
            mtu: self.mtu,
            // Flannel reads "" as no PSK.
            psk: self
                .psk
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(parse_psk)
                .transpose()?,
        })
    }
}

/// A key as `wg genpsk` prints it: the base64 of 32 bytes.
fn parse_psk(text: &str) -> Result<[u8; 32], ClusterNetworkError> {
    base64::decode(text)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(ClusterNetworkError::InvalidPsk(text.len()))
}

#[cfg(test)]
mod tests;
