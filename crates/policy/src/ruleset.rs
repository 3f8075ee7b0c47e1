//! The compiled, kernel-independent ruleset: nftables' objects in an abstract form.
//!
//! Everything is sorted (maps keyed by name, elements normalised and sorted), so two compiles of
//! the same state are equal and a diff between two rulesets is the change to apply. See the
//! module docs of [`super`] for the layout.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use lichen_kube::k8s::Protocol;

/// Where a base chain hooks in. The encoding maps these onto nftables hooks and priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// Egress checks: the forward hook, before [`Hook::ForwardIngress`] (nftables priority
    /// filter − 1). An `accept` here ends only this base chain; ingress is still checked.
    ForwardEgress,
    /// Ingress checks: the forward hook at priority filter.
    ForwardIngress,
}

impl Hook {
    /// The nftables priority relative to `filter` (0).
    pub fn priority(self) -> i32 {
        match self {
            Hook::ForwardEgress => -1,
            Hook::ForwardIngress => 0,
        }
    }
}

/// The direction a policy or a check applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

/// A NetworkPolicy by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// The node the ruleset enforces for.
    pub node: String,
    /// Packets of established or related connections (conntrack) are accepted before any
    /// policy check: replies of allowed connections pass. Always true today; the base chains
    /// start with that rule when it is set.
    pub established_passes: bool,
    /// Chains by name, base chains included (`Chain::hook`).
    pub chains: BTreeMap<String, Chain>,
    /// Named sets by name.
    pub sets: BTreeMap<String, Set>,
    /// Verdict maps by name.
    pub maps: BTreeMap<String, VerdictMap>,
    /// The local pods with pod-network addresses and their isolation, by (namespace, name).
    pub pods: BTreeMap<(String, String), LocalPod>,
}

impl Ruleset {
    /// A stable 64-bit digest of the whole ruleset: equal rulesets (two compiles of the same
    /// state, in any process) give equal fingerprints. `status` shows the applied one, so a
    /// test can tell when the agent enforces the state it wrote.
    pub fn fingerprint(&self) -> u64 {
        lichen_backends::fnv1a(format!("{self:?}").as_bytes())
    }
}

/// A local pod and the policies that isolate it (`None`: not isolated in that direction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPod {
    pub ips: Vec<IpAddr>,
    pub ingress: Option<Vec<PolicyId>>,
    pub egress: Option<Vec<PolicyId>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// Set for base chains; regular chains are only reached by jumps.
    pub hook: Option<Hook>,
    pub rules: Vec<Rule>,
}

/// One rule: all `matches` hold → `verdict`. No match at all matches every packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matches: Vec<Match>,
    pub verdict: Verdict,
    /// Why the rule exists (for `explain`, `status` and rule comments).
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// `ct state established,related`.
    CtEstablishedOrRelated,
    /// `ip saddr @set` (an [`Set::Addrs`] set).
    SaddrIn(String),
    /// `ip daddr @set` (an [`Set::Addrs`] set).
    DaddrIn(String),
    /// `meta l4proto . th dport @set` (a [`Set::Ports`] set).
    ProtoPortIn(String),
    /// `ip daddr . meta l4proto . th dport @set` (a [`Set::AddrPorts`] set).
    DaddrProtoPortIn(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    /// `jump chain`: the chain's verdict, or back here if it ends without one.
    Jump(String),
    /// `ip saddr|daddr vmap @map`: the element's verdict; no element: the next rule.
    Map {
        key: MapKey,
        map: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKey {
    Saddr,
    Daddr,
}

/// The elements of one named set; each kind is one nftables key type (and interval sets
/// where ranges occur). Addresses mix families here; the encoding splits every address set
/// (and every rule using it) into an IPv4 and an IPv6 twin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Set {
    /// `ipv4_addr`/`ipv6_addr`, interval: sorted, merged, disjoint ranges.
    Addrs(Vec<AddrRange>),
    /// `inet_proto . inet_service`, interval: sorted, merged per protocol.
    Ports(Vec<PortRange>),
    /// `ipv4_addr . inet_proto . inet_service`, sorted, no duplicates.
    AddrPorts(Vec<AddrPort>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub protocol: Protocol,
    pub first: u16,
    pub last: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrPort {
    pub addr: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
}

/// An address → `jump chain` verdict map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdictMap {
    pub elements: BTreeMap<IpAddr, String>,
}

/// Why a rule exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Replies and related packets of allowed connections.
    Established,
    /// Traffic between a pod and its own node (kubelet probes) is always allowed.
    NodeTraffic,
    /// The per-pod dispatch of a direction: isolated pods jump to their group chain.
    Dispatch(Direction),
    /// Part of a group chain: try `policy`'s rules.
    TryPolicy(Direction, PolicyId),
    /// Rule `rule` (index in the policy's ingress or egress list) of `policy`.
    PolicyRule {
        direction: Direction,
        policy: PolicyId,
        rule: usize,
    },
    /// The end of a group chain: isolated by `policies`, none of whose rules allowed it.
    DefaultDeny {
        direction: Direction,
        policies: Vec<PolicyId>,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Established => f.write_str("established/related connection"),
            Origin::NodeTraffic => f.write_str("traffic between a pod and its node"),
            Origin::Dispatch(d) => write!(f, "{d} isolation dispatch"),
            Origin::TryPolicy(d, p) => write!(f, "{d} policy {p}"),
            Origin::PolicyRule {
                direction,
                policy,
                rule,
            } => write!(f, "policy {policy} {direction} rule {rule}"),
            Origin::DefaultDeny {
                direction,
                policies,
            } => {
                write!(f, "default deny ({direction} isolated by ")?;
                for (i, p) in policies.iter().enumerate() {
                    write!(f, "{}{p}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str(")")
            }
        }
    }
}
