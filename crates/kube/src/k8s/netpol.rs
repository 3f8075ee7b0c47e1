//! A `networking.k8s.io/v1` NetworkPolicy, checked and with its defaults applied.
//!
//! Defaults applied here, so that the policy module sees one meaning per field:
//! - `policyTypes` absent or empty: `Ingress`, plus `Egress` when `egress` has rules (what the
//!   API server's defaulting does).
//! - A port without `protocol` is TCP. `from`/`to` absent or empty: every peer. `ports` absent
//!   or empty: every port. `ingress`/`egress` absent: no rules (deny, for a listed type).
//!
//! Checked here (what API validation would reject): a peer has either `ipBlock` or at least one
//! selector, not both; `endPort` needs a numeric `port` and is not below it; a named port is not
//! empty; `except` lies inside `cidr`. Such a policy is rejected whole rather than half applied.
//!
//! `port` is `IntOrString` in the API; see [`super::intstr`] for how it is read.

use ipnet::IpNet;
use serde::Deserialize;

use super::intstr::{quote_numbers, IntOrString};
use super::json::{from_json, outline, MAX_DEPTH, MAX_OBJECT_BYTES};
use super::labels::{LabelSelector, RawSelector};
use super::meta::ObjectMeta;
use super::protocol::Protocol;
use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    /// `spec.podSelector`: the pods of `namespace` the policy applies to (`{}` = all).
    pub pod_selector: LabelSelector,
    /// The effective `policyTypes`.
    pub types: PolicyTypes,
    pub ingress: Vec<PolicyRule>,
    pub egress: Vec<PolicyRule>,
}

/// Which directions a policy isolates the pods it selects in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyTypes {
    pub ingress: bool,
    pub egress: bool,
}

/// One `ingress[]` or `egress[]` entry: traffic from/to any of `peers` on any of `ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyRule {
    /// Empty: every peer.
    pub peers: Vec<Peer>,
    /// Empty: every port and protocol.
    pub ports: Vec<PolicyPort>,
}

/// One `from[]`/`to[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    /// Pods chosen by selectors. `namespaces: None` = the policy's own namespace; `pods: None`
    /// = every pod of the chosen namespaces. Both present: pods matching both (AND).
    Pods {
        namespaces: Option<LabelSelector>,
        pods: Option<LabelSelector>,
    },
    IpBlock(IpBlock),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyPort {
    pub protocol: Protocol,
    /// `None`: every port of `protocol`.
    pub port: Option<PortRef>,
    /// With a numeric `port`: the range `port..=end_port`.
    pub end_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortRef {
    Number(u16),
    /// A container port name, resolved per destination pod.
    Name(String),
}

impl NetworkPolicy {
    /// Parses one NetworkPolicy (kind `NetworkPolicy`, or absent as in a list's items).
    pub fn from_json(bytes: &[u8]) -> Result<NetworkPolicy, ParseError> {
        outline(bytes, MAX_OBJECT_BYTES, MAX_DEPTH)?;
        let quoted = quote_numbers(bytes, &["port"]);
        let raw: RawPolicy = from_json(&quoted)?;
        if !raw.kind.is_empty() && raw.kind != "NetworkPolicy" {
            return Err(ParseError::WrongKind {
                expected: "NetworkPolicy",
                found: raw.kind,
            });
        }
        let meta = raw.metadata;
        if meta.name.is_empty() {
            return Err(ParseError::MissingField("metadata.name"));
        }
        let spec = raw.spec;
        let ingress = rules(spec.ingress, |r| (r.from, r.ports))?;
        let egress = rules(spec.egress, |r| (r.to, r.ports))?;
        let types = match spec.policy_types.unwrap_or_default() {
            t if t.is_empty() => PolicyTypes {
                ingress: true,
                egress: !egress.is_empty(),
            },
            t => {
                let mut types = PolicyTypes::default();
                for name in t {
                    match name.as_str() {
                        "Ingress" => types.ingress = true,
                        "Egress" => types.egress = true,
                        _ => {
                            return Err(ParseError::InvalidField {
                                field: "spec.policyTypes",
                                value: name,
                            })
                        }
                    }
                }
                types
            }
        };
        Ok(NetworkPolicy {
            namespace: meta
                .namespace
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".to_owned()),
            name: meta.name,
            resource_version: meta.resource_version,
            pod_selector: LabelSelector::from_raw(
                spec.pod_selector.unwrap_or_default(),
                "spec.podSelector",
            )?,
            types,
            ingress,
            egress,
        })
    }
}

fn rules(
    raw: Option<Vec<RawRule>>,
    split: impl Fn(RawRule) -> (Option<Vec<RawPeer>>, Option<Vec<RawPort>>),
) -> Result<Vec<PolicyRule>, ParseError> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|r| {
            let (peers, ports) = split(r);
            Ok(PolicyRule {
                peers: peers
                    .unwrap_or_default()
                    .into_iter()
                    .map(peer)
                    .collect::<Result<_, _>>()?,
                ports: ports
                    .unwrap_or_default()
                    .into_iter()
                    .map(port)
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

fn peer(raw: RawPeer) -> Result<Peer, ParseError> {
    let invalid = |value: String| ParseError::InvalidField {
        field: "spec.*.peers",
        value,
    };
    match (raw.ip_block, raw.namespace_selector, raw.pod_selector) {
        (Some(block), None, None) => {
            let cidr: IpNet = block
                .cidr
                .parse()
                .map_err(|_| invalid(format!("ipBlock.cidr {}", block.cidr)))?;
            let mut except = Vec::new();
            for e in block.except.unwrap_or_default() {
                let net: IpNet = e
                    .parse()
                    .map_err(|_| invalid(format!("ipBlock.except {e}")))?;
                if !cidr.contains(&net) {
                    return Err(invalid(format!("ipBlock.except {e} outside {cidr}")));
                }
                except.push(net);
            }
            Ok(Peer::IpBlock(IpBlock { cidr, except }))
        }
        (None, None, None) => Err(invalid("an empty peer".into())),
        (None, ns, pods) => Ok(Peer::Pods {
            namespaces: ns
                .map(|s| LabelSelector::from_raw(s, "namespaceSelector"))
                .transpose()?,
            pods: pods
                .map(|s| LabelSelector::from_raw(s, "podSelector"))
                .transpose()?,
        }),
        _ => Err(invalid("ipBlock together with a selector".into())),
    }
}

fn port(raw: RawPort) -> Result<PolicyPort, ParseError> {
    let invalid = |value: String| ParseError::InvalidField {
        field: "spec.*.ports",
        value,
    };
    let protocol = Protocol::parse(raw.protocol.as_deref(), "spec.*.ports[].protocol")?;
    let port = match raw.port {
        None => None,
        Some(IntOrString::Int(n)) => Some(PortRef::Number(
            u16::try_from(n)
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| invalid(format!("port {n}")))?,
        )),
        Some(IntOrString::String(s)) if s.is_empty() => return Err(invalid("port \"\"".into())),
        Some(IntOrString::String(s)) => Some(PortRef::Name(s)),
    };
    let end_port = match (raw.end_port, &port) {
        (None, _) => None,
        (Some(end), Some(PortRef::Number(start))) if end >= i64::from(*start) && end <= 65535 => {
            Some(end as u16)
        }
        (Some(end), _) => return Err(invalid(format!("endPort {end} with port {port:?}"))),
    };
    Ok(PolicyPort {
        protocol,
        port,
        end_port,
    })
}

#[derive(Deserialize)]
struct RawPolicy {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RawSpec,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawSpec {
    #[serde(rename = "podSelector")]
    pod_selector: Option<RawSelector>,
    #[serde(rename = "policyTypes")]
    policy_types: Option<Vec<String>>,
    ingress: Option<Vec<RawRule>>,
    egress: Option<Vec<RawRule>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawRule {
    from: Option<Vec<RawPeer>>,
    to: Option<Vec<RawPeer>>,
    ports: Option<Vec<RawPort>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawPeer {
    #[serde(rename = "podSelector")]
    pod_selector: Option<RawSelector>,
    #[serde(rename = "namespaceSelector")]
    namespace_selector: Option<RawSelector>,
    #[serde(rename = "ipBlock")]
    ip_block: Option<RawIpBlock>,
}

#[derive(Deserialize)]
struct RawIpBlock {
    cidr: String,
    #[serde(default)]
    except: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawPort {
    protocol: Option<String>,
    port: Option<IntOrString>,
    #[serde(rename = "endPort")]
    end_port: Option<i64>,
}

#[cfg(test)]
mod tests;
