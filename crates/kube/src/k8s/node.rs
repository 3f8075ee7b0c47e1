//! A Kubernetes Node, reduced to what the agent routes with.
//!
//! Read from `kubectl get node -o json` output or the API: `metadata.name`,
//! `metadata.resourceVersion`, `metadata.deletionTimestamp` (presence only), the kept
//! annotations, `spec.podCIDR(s)` and the `InternalIP`/`ExternalIP` entries of
//! `status.addresses`. A malformed pod CIDR or address rejects the object (the agent must not
//! route to half a node); a malformed optional annotation (VTEP MAC, public IP, WireGuard
//! public key or endpoint) is logged and ignored.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::Deserialize;

use super::json::from_json;
use super::meta::{self, ObjectMeta};
use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub resource_version: String,
    /// `spec.podCIDRs`, else `spec.podCIDR`; duplicates removed, order kept.
    pub pod_cidrs: Vec<IpNet>,
    pub internal_ips: Vec<IpAddr>,
    pub external_ips: Vec<IpAddr>,
    /// `lichen.dev/vtep-mac`, else the `VtepMAC` in Flannel's backend data.
    pub vtep_mac: Option<[u8; 6]>,
    /// `lichen.dev/public-ip`, else Flannel's public-ip annotation.
    pub public_ip: Option<IpAddr>,
    /// `lichen.dev/wireguard-public-key`: base64 of 32 bytes, as `wg pubkey` prints it.
    pub wg_public_key: Option<[u8; 32]>,
    /// `lichen.dev/wireguard-endpoint`: `ip:port`, `[ipv6]:port`.
    pub wg_endpoint: Option<SocketAddr>,
    /// `metadata.deletionTimestamp` is set: the node is going away.
    pub deleting: bool,
}

impl Node {
    /// Parses one Node object (kind must be `Node`, or absent as in a `NodeList`'s items).
    pub fn from_json(bytes: &[u8]) -> Result<Node, ParseError> {
        let raw: RawNode = from_json(bytes)?;
        if !raw.kind.is_empty() && raw.kind != "Node" {
            return Err(ParseError::WrongKind {
                expected: "Node",
                found: raw.kind,
            });
        }
        Node::from_raw(raw)
    }

    fn from_raw(raw: RawNode) -> Result<Node, ParseError> {
        let meta = raw.metadata;
        if meta.name.is_empty() {
            return Err(ParseError::MissingField("metadata.name"));
        }
        let mut cidrs = raw.spec.pod_cidrs.unwrap_or_default();
        cidrs.extend(raw.spec.pod_cidr);
        let mut pod_cidrs: Vec<IpNet> = Vec::new();
        for c in cidrs {
            let net = c.parse().map_err(|_| ParseError::InvalidField {
                field: "spec.podCIDRs",
                value: c,
            })?;
            if !pod_cidrs.contains(&net) {
                pod_cidrs.push(net);
            }
        }
        let (mut internal_ips, mut external_ips) = (Vec::new(), Vec::new());
        for a in raw.status.addresses.unwrap_or_default() {
            let list = match a.kind.as_str() {
                "InternalIP" => &mut internal_ips,
                "ExternalIP" => &mut external_ips,
                _ => continue,
            };
            let ip = a.address.parse().map_err(|_| ParseError::InvalidField {
                field: "status.addresses",
                value: a.address,
            })?;
            list.push(ip);
        }
        Ok(Node {
            vtep_mac: vtep_mac(&meta),
            public_ip: public_ip(&meta),
            wg_public_key: wg_public_key(&meta),
            wg_endpoint: wg_endpoint(&meta),
            deleting: meta.deletion_timestamp.is_some(),
            pod_cidrs,
            internal_ips,
            external_ips,
            resource_version: meta.resource_version,
            name: meta.name,
        })
    }
}

fn vtep_mac(meta: &ObjectMeta) -> Option<[u8; 6]> {
    let (key, text) = match meta.annotation(meta::LICHEN_VTEP_MAC) {
        Some(v) => (meta::LICHEN_VTEP_MAC, v.to_owned()),
        None => {
            let data = meta.annotation(meta::FLANNEL_BACKEND_DATA)?;
            match from_json::<FlannelBackendData>(data.as_bytes()) {
                Ok(d) => (meta::FLANNEL_BACKEND_DATA, d.vtep_mac?),
                Err(e) => {
                    log::warn!("node {}: ignoring {data:?}: {e}", meta.name);
                    return None;
                }
            }
        }
    };
    let mac = lichen_backends::parse_mac(&text);
    if mac.is_none() {
        log::warn!("node {}: ignoring {key}={text:?}: not a MAC", meta.name);
    }
    mac
}

fn public_ip(meta: &ObjectMeta) -> Option<IpAddr> {
    let (key, text) = [meta::LICHEN_PUBLIC_IP, meta::FLANNEL_PUBLIC_IP]
        .into_iter()
        .find_map(|k| meta.annotation(k).map(|v| (k, v)))?;
    let ip = text.parse().ok();
    if ip.is_none() {
        log::warn!(
            "node {}: ignoring {key}={text:?}: not an address",
            meta.name
        );
    }
    ip
}

/// Annotation `key` read with `parse`; a malformed value is logged (saying it is not `what`)
/// and ignored.
fn annotated<T>(
    meta: &ObjectMeta,
    key: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let text = meta.annotation(key)?;
    let value = parse(text);
    if value.is_none() {
        log::warn!("node {}: ignoring {key}={text:?}: not {what}", meta.name);
    }
    value
}

fn wg_public_key(meta: &ObjectMeta) -> Option<[u8; 32]> {
    annotated(
        meta,
        meta::LICHEN_WG_PUBLIC_KEY,
        "the base64 of a 32-byte key",
        |text| {
            let bytes = super::base64::decode(text)?;
            bytes.try_into().ok()
        },
    )
}

/// `ip:port` or `[ipv6]:port`, with a unicast-looking address and a port other than 0.
fn wg_endpoint(meta: &ObjectMeta) -> Option<SocketAddr> {
    annotated(
        meta,
        meta::LICHEN_WG_ENDPOINT,
        "an ip:port endpoint",
        |text| {
            let addr: SocketAddr = text.parse().ok()?;
            let ip = addr.ip();
            let usable = addr.port() != 0 && !ip.is_unspecified() && !ip.is_multicast();
            usable.then_some(addr)
        },
    )
}

#[derive(Deserialize)]
struct FlannelBackendData {
    #[serde(rename = "VtepMAC")]
    vtep_mac: Option<String>,
}

#[derive(Deserialize)]
struct RawNode {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RawSpec,
    #[serde(default)]
    status: RawStatus,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawSpec {
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
    #[serde(rename = "podCIDRs")]
    pod_cidrs: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawStatus {
    addresses: Option<Vec<RawAddress>>,
}

#[derive(Deserialize)]
struct RawAddress {
    #[serde(rename = "type")]
    kind: String,
    address: String,
}

#[cfg(test)]
mod tests;
