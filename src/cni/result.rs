//! CNI results: one in-memory shape, written in the format of the version asked for, and read
//! back from any version (prevResult on CHECK/DEL, or a delegated IPAM plugin's answer).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::cni::{CniError, Version};

mod read;
pub(crate) use read::supported;
#[cfg(test)]
pub(crate) mod tests;
mod write;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    pub name: String,
    /// Lower-case `aa:bb:cc:dd:ee:ff`; empty when unknown.
    pub mac: String,
    /// The netns path for a pod-side interface; empty for host-side ones.
    pub sandbox: String,
    /// 1.1.0 only.
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    /// Address with prefix length, e.g. 10.42.1.5/24.
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`; None in IPAM (abbreviated) results.
    pub interface: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    /// 1.1.0 route extras; written only for 1.1.0 and only when set.
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
    pub priority: Option<u32>,
    pub table: Option<u32>,
    pub scope: Option<u32>,
}

impl Route {
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Self {
        Route {
            dst,
            gw,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dns {
    pub nameservers: Vec<String>,
    pub domain: String,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_empty()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

/// A result in version-independent form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CniResult {
    pub interfaces: Vec<Interface>,
    pub ips: Vec<IpConfig>,
    pub routes: Vec<Route>,
    pub dns: Dns,
}

impl CniResult {
    /// Writes the result as the given version expects it:
    /// - `cniVersion` is `v`;
    /// - `ips[].version` ("4"/"6") for 0.3.0–0.4.0 only; `ips[].interface` when set;
    /// - `interfaces[].mtu` and the route extras only for 1.1.0;
    /// - empty `interfaces`/`routes`/`dns` are omitted.
    pub fn to_json(&self, v: Version) -> String {
        write::write(self, v)
    }

    /// Reads a result of any supported version (0.3.0 – 1.1.0): a `prevResult` object or the
    /// stdout of a delegated IPAM plugin. Unknown fields are ignored. Errors are code 6 (decode).
    /// A 0.1.0/0.2.0 result (`ip4`/`ip6`) or an unknown `cniVersion` is code 1.
    pub fn parse(json: &[u8]) -> Result<CniResult, CniError> {
        read::parse(json, "")
    }

    /// Like [`CniResult::parse`], for a result embedded in another document: messages name
    /// its members from `path` (e.g. `prevResult.ips[0].address`).
    pub fn parse_at(json: &[u8], path: &str) -> Result<CniResult, CniError> {
        read::parse(json, path)
    }
}
