//! The network configuration Lichen reads on stdin (`"type": "lichen"`, or an IPAM section when
//! run as `lichen-ipam`), parsed with serde-json-core into typed fields.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::cni::{CniError, CniResult, Code, Version};

mod ipam;
mod read;

pub use ipam::special_range;
#[cfg(test)]
mod tests;

/// One range of a range set (host-local's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeConf {
    pub subnet: IpNet,
    pub range_start: Option<IpAddr>,
    pub range_end: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConf {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

/// The `ipam` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpamConf {
    /// `None` or `Some("lichen-ipam")` means the built-in IPAM; anything else is delegated
    /// through CNI_PATH.
    pub kind: Option<String>,
    /// Range sets: the outer list is one allocation per set (e.g. one IPv4 and one IPv6 set).
    /// host-local's legacy top-level `subnet`/`rangeStart`/`rangeEnd`/`gateway` become one set.
    /// Empty when neither is given (the plugin then reads the subnet file).
    pub ranges: Vec<Vec<RangeConf>>,
    pub routes: Vec<RouteConf>,
    /// Default `/var/lib/cni/networks`.
    pub data_dir: Option<PathBuf>,
}

impl IpamConf {
    pub fn is_builtin(&self) -> bool {
        matches!(self.kind.as_deref(), None | Some("lichen-ipam"))
    }
}

/// An attachment named in GC's `cni.dev/valid-attachments` (or the older `cni.dev/attachments`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attachment {
    pub container_id: String,
    pub ifname: String,
}

/// A MAC as the config gave it, with where it came from (for messages; [`crate::cni::mac`]
/// parses and checks it when ADD uses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedMac {
    /// `runtimeConfig.mac` or `args.cni.mac`.
    pub field: &'static str,
    pub value: String,
}

/// How pods are attached (`mode`). A config without one ([`NetConf::mode`] `None`) leaves it
/// to the node: routed, unless the node's bridge still has ports (pods attached in bridge
/// mode, e.g. by an older Lichen): then bridge, so a node keeps one mode until its bridge
/// pods are gone (see `dataplane::node_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every pod's veth is a port of the node's bridge, which holds the gateway addresses (L2
    /// between the node's pods: hairpin, multicast, same-subnet ARP).
    Bridge,
    /// No bridge: each pod's address is routed to its veth by a host route on the node, and
    /// the pod's gateway is a link-local next hop the host end answers for (as Calico does).
    Routed,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bridge => "bridge",
            Mode::Routed => "routed",
        }
    }
}

/// `routed` or `bridge` (`lichen install --mode`).
impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "routed" => Ok(Mode::Routed),
            "bridge" => Ok(Mode::Bridge),
            _ => Err(format!("{s:?} is not a mode: use routed or bridge")),
        }
    }
}

/// The whole network config (one plugin's entry in a conflist, with `name` and `cniVersion`
/// injected by the runtime, as the spec requires).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConf {
    pub cni_version: Version,
    /// Network name: the spec's `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 255 bytes (so it cannot
    /// escape dataDir either).
    pub name: String,
    /// `type` as given (e.g. "lichen").
    pub kind: String,
    /// `mode`: "bridge" or "routed"; `None` (absent): the node decides at ADD (routed unless
    /// its bridge has ports).
    pub mode: Option<Mode>,
    /// Default "lichen0"; validated as an interface name. Bridge mode's bridge; with `mode`
    /// absent also the bridge whose ports keep a node in bridge mode.
    pub bridge: String,
    pub mtu: Option<u32>,
    pub hairpin_mode: bool,
    /// Default true.
    pub is_default_gateway: bool,
    /// Default `/run/lichen/subnet.env`.
    pub subnet_file: PathBuf,
    /// `logLevel`: "error" | "warn" | "info" | "debug" | "trace"; None = use env/default.
    pub log_level: Option<String>,
    /// `logFile`: append logs here instead of stderr.
    pub log_file: Option<PathBuf>,
    pub ipam: IpamConf,
    /// Addresses requested via `runtimeConfig.ips` (the `ips` capability) and `args.cni.ips`.
    pub requested_ips: Vec<IpAddr>,
    /// The MAC requested via `runtimeConfig.mac` (the `mac` capability), else `args.cni.mac`;
    /// validated by ADD (see [`crate::cni::mac`]).
    pub requested_mac: Option<RequestedMac>,
    /// GC: `cni.dev/valid-attachments` ∪ `cni.dev/attachments`. None when the key is absent.
    pub valid_attachments: Option<Vec<Attachment>>,
    /// `prevResult`, parsed (CHECK, DEL; or when chained after another plugin).
    pub prev_result: Option<CniResult>,
}

impl NetConf {
    /// Parses stdin. Order of checks: size/depth guard and broken JSON → code 6; missing or
    /// unknown `cniVersion` → code 1 (message lists the supported versions); missing/invalid
    /// fields → code 7 (message names the field and the bad value). Only reads: changes nothing.
    pub fn parse(json: &[u8]) -> Result<NetConf, CniError> {
        read::parse(json)
    }

    /// Reads just `cniVersion` from a config as leniently as possible, for tagging an error when
    /// the full parse failed. Falls back to [`Version::LATEST`]'s string.
    pub fn peek_version(json: &[u8]) -> String {
        peek(json).unwrap_or(Version::LATEST).as_str().to_string()
    }
}

/// The config's `cniVersion` when it is readable and supported: through the parser when the
/// document is valid JSON, else from the text after the first `"cniVersion"` key.
fn peek(json: &[u8]) -> Option<Version> {
    if crate::cni::json::check(json, "").is_ok() {
        let top = crate::cni::json::Object::parse("", json, Code::Decode).ok()?;
        return Version::parse(&top.text("cniVersion").ok()??);
    }
    let text = String::from_utf8_lossy(&json[..json.len().min(crate::cni::json::MAX_INPUT)]);
    let after = &text[text.find("\"cniVersion\"")? + "\"cniVersion\"".len()..];
    let value = after
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Version::parse(&value[..value.find('"')?])
}

/// Code 7: `<field> "<value>" <why>`.
fn bad(field: &str, value: &str, why: &str) -> CniError {
    CniError::new(Code::InvalidConfig, format!("{field} {value:?} {why}"))
}

/// Code 7: `<field> is missing: <why>`.
fn missing(field: &str, why: &str) -> CniError {
    CniError::new(Code::InvalidConfig, format!("{field} is missing: {why}"))
}

/// A path member that must be absolute (it is used from whatever directory the runtime runs
/// us in).
fn absolute_path(field: &str, p: String) -> Result<PathBuf, CniError> {
    if p.starts_with('/') && !p.contains('\0') {
        Ok(PathBuf::from(p))
    } else {
        Err(bad(
            field,
            &p,
            "is not an absolute path: give the full path (starting with '/')",
        ))
    }
}
