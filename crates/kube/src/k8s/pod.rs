//! A Kubernetes Pod, reduced to what NetworkPolicy needs.
//!
//! Read: `metadata.namespace/name/labels/resourceVersion/deletionTimestamp`, `spec.nodeName`,
//! `spec.hostNetwork`, the ports of `spec.containers[]` (name, containerPort, protocol — what
//! named policy ports resolve against), `status.podIPs[]` (else `status.podIP`) and
//! `status.phase`. Probes, volumes, env and the rest are skipped unread. A malformed address or
//! an unknown protocol rejects the object: a policy must not be computed from half a pod.

use std::net::IpAddr;

use serde::Deserialize;

use super::json::from_json;
use super::labels::Labels;
use super::meta::ObjectMeta;
use super::protocol::Protocol;
use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    pub labels: Labels,
    /// `spec.nodeName`; `None` while the pod is not scheduled.
    pub node_name: Option<String>,
    /// `spec.hostNetwork`: the pod uses its node's addresses and is outside NetworkPolicy.
    pub host_network: bool,
    pub ports: Vec<ContainerPort>,
    /// `status.podIPs`, else `status.podIP`; duplicates removed, order kept.
    pub ips: Vec<IpAddr>,
    pub phase: PodPhase,
    /// `metadata.deletionTimestamp` is set (the pod is terminating but may still run).
    pub deleting: bool,
}

/// One entry of a container's `ports`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// `status.phase`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PodPhase {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl Pod {
    /// Parses one Pod object (kind `Pod`, or absent as in a `PodList`'s items).
    pub fn from_json(bytes: &[u8]) -> Result<Pod, ParseError> {
        let raw: RawPod = from_json(bytes)?;
        if !raw.kind.is_empty() && raw.kind != "Pod" {
            return Err(ParseError::WrongKind {
                expected: "Pod",
                found: raw.kind,
            });
        }
        Pod::from_raw(raw)
    }

    /// Whether policies can see this pod at all (as a selected pod or as a peer): it has pod
    /// network addresses and has not terminated (a finished pod's address may be reused).
    pub fn has_pod_network(&self) -> bool {
        !self.host_network
            && !self.ips.is_empty()
            && !matches!(self.phase, PodPhase::Succeeded | PodPhase::Failed)
    }

    /// The number of the container port called `name` for `protocol`, if any (the first one
    /// when several containers declare it).
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
            .map(|p| p.port)
    }

    fn from_raw(raw: RawPod) -> Result<Pod, ParseError> {
        let meta = raw.metadata;
        if meta.name.is_empty() {
            return Err(ParseError::MissingField("metadata.name"));
        }
        let ports = container_ports(raw.spec.containers)?;
        let status = raw.status;
        let ips = pod_ips(status.pod_ips, status.pod_ip)?;
        let phase = PodPhase::parse(status.phase.as_deref());
        Ok(Pod {
            namespace: meta
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".to_owned()),
            labels: meta.labels().clone(),
            deleting: meta.deletion_timestamp.is_some(),
            resource_version: meta.resource_version,
            name: meta.name,
            node_name: raw.spec.node_name.filter(|n| !n.is_empty()),
            host_network: raw.spec.host_network.unwrap_or(false),
            ports,
            ips,
            phase,
        })
    }
}

impl PodPhase {
    /// `status.phase`; absent or unknown is `Pending`.
    fn parse(phase: Option<&str>) -> PodPhase {
        match phase.unwrap_or("") {
            "Running" => PodPhase::Running,
            "Succeeded" => PodPhase::Succeeded,
            "Failed" => PodPhase::Failed,
            "Unknown" => PodPhase::Unknown,
            _ => PodPhase::Pending,
        }
    }
}

/// The ports of `spec.containers[]`, in order.
fn container_ports(
    containers: Option<Vec<RawContainer>>,
) -> Result<Vec<ContainerPort>, ParseError> {
    let mut ports = Vec::new();
    for c in containers.unwrap_or_default() {
        for p in c.ports.unwrap_or_default() {
            let port = u16::try_from(p.container_port)
                .ok()
                .filter(|&n| n != 0)
                .ok_or_else(|| ParseError::InvalidField {
                    field: "spec.containers[].ports[].containerPort",
                    value: p.container_port.to_string(),
                })?;
            ports.push(ContainerPort {
                name: p.name.filter(|n| !n.is_empty()),
                port,
                protocol: Protocol::parse(
                    p.protocol.as_deref(),
                    "spec.containers[].ports[].protocol",
                )?,
            });
        }
    }
    Ok(ports)
}

/// `status.podIPs`, else `status.podIP`; duplicates removed, order kept.
fn pod_ips(
    pod_ips: Option<Vec<RawPodIp>>,
    pod_ip: Option<String>,
) -> Result<Vec<IpAddr>, ParseError> {
    let mut texts: Vec<String> = pod_ips
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.ip)
        .collect();
    texts.extend(pod_ip);
    let mut ips: Vec<IpAddr> = Vec::new();
    for t in texts.into_iter().filter(|t| !t.is_empty()) {
        let ip = t.parse().map_err(|_| ParseError::InvalidField {
            field: "status.podIPs",
            value: t,
        })?;
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    Ok(ips)
}

#[derive(Deserialize)]
struct RawPod {
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
    #[serde(rename = "nodeName")]
    node_name: Option<String>,
    #[serde(rename = "hostNetwork")]
    host_network: Option<bool>,
    containers: Option<Vec<RawContainer>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawContainer {
    ports: Option<Vec<RawPort>>,
}

#[derive(Deserialize)]
struct RawPort {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "containerPort")]
    container_port: i64,
    #[serde(default)]
    protocol: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawStatus {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<RawPodIp>>,
}

#[derive(Deserialize)]
struct RawPodIp {
    ip: String,
}

#[cfg(test)]
mod tests;
