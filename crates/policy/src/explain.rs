//! `explain`: whether a new connection passes this node's ruleset, and why.
//!
//! The answer comes from running the compiled [`Ruleset`] itself, the way nftables would run
//! it (base chains in hook order, jumps, verdict maps, set lookups), so it cannot disagree with
//! what the kernel was given. The packet is the first of a connection (conntrack state new):
//! the established rule never matches it.

use std::fmt;
use std::net::IpAddr;

use lichen_kube::k8s::Protocol;
use lichen_kube::model::ClusterState;

use super::compile::compile;
use super::ranges;
use super::ruleset::{Direction, Hook, MapKey, Match, Origin, Ruleset, Set, Verdict};

/// The first packet of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
}

/// What one direction's check on this node decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The address is not a pod of this node: this node does not check that direction.
    NotLocal,
    /// A local pod that no policy isolates in that direction.
    NotIsolated,
    /// Accepted by the rule with this origin (a policy rule, or node traffic).
    Allowed(Origin),
    /// Dropped by the rule with this origin (a default deny).
    Denied(Origin),
}

impl Step {
    pub fn allows(&self) -> bool {
        !matches!(self, Step::Denied(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub packet: Packet,
    /// Egress, checked on this node when the source is a local pod.
    pub egress: Step,
    /// Ingress, checked on this node when the destination is a local pod.
    pub ingress: Step,
}

impl Explanation {
    /// Whether this node lets the connection through.
    pub fn allowed(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }
}

/// Compiles `state` for `node` and explains the connection against it.
pub fn explain(
    state: &ClusterState,
    node: &str,
    src: IpAddr,
    dst: IpAddr,
    port: u16,
    protocol: Protocol,
) -> Explanation {
    compile(state, node).explain(Packet {
        src,
        dst,
        protocol,
        port,
    })
}

impl Ruleset {
    /// Runs the packet through the base chains in hook order.
    pub fn explain(&self, packet: Packet) -> Explanation {
        let local = |a: IpAddr| self.pods.values().any(|p| p.ips.contains(&a));
        let mut steps = [Step::NotLocal, Step::NotLocal];
        let mut hooks: Vec<(&String, Hook)> = self
            .chains
            .iter()
            .filter_map(|(n, c)| c.hook.map(|h| (n, h)))
            .collect();
        hooks.sort_by_key(|(_, h)| h.priority());
        for (name, hook) in hooks {
            let (slot, addr) = match hook {
                Hook::ForwardEgress => (0, packet.src),
                Hook::ForwardIngress => (1, packet.dst),
            };
            let step = match self.run(name, &packet, 0) {
                Some((Verdict::Drop, origin)) => Step::Denied(origin.clone()),
                Some((_, origin)) if !matches!(origin, Origin::NodeTraffic) || local(addr) => {
                    Step::Allowed(origin.clone())
                }
                _ if local(addr) => Step::NotIsolated,
                _ => Step::NotLocal,
            };
            // Both directions are shown even when egress already drops (the kernel would stop
            // there; `allowed` is the same either way).
            steps[slot] = step;
        }
        let [egress, ingress] = steps;
        Explanation {
            packet,
            egress,
            ingress,
        }
    }

    /// Runs chain `name`; `Some` with the deciding rule for a final verdict (accept or drop),
    /// `None` when the chain ends without one.
    fn run(&self, name: &str, p: &Packet, depth: usize) -> Option<(Verdict, &Origin)> {
        // nftables refuses jump loops and caps depth; a compiled ruleset has depth 3.
        let chain = self.chains.get(name).filter(|_| depth < 16)?;
        for rule in &chain.rules {
            if !rule.matches.iter().all(|m| self.matches(m, p)) {
                continue;
            }
            let target = match &rule.verdict {
                Verdict::Accept | Verdict::Drop => {
                    return Some((rule.verdict.clone(), &rule.origin))
                }
                Verdict::Jump(target) => Some(target),
                Verdict::Map { key, map } => {
                    let addr = match key {
                        MapKey::Saddr => p.src,
                        MapKey::Daddr => p.dst,
                    };
                    self.maps.get(map).and_then(|m| m.elements.get(&addr))
                }
            };
            if let Some(found) = target.and_then(|t| self.run(t, p, depth + 1)) {
                return Some(found);
            }
        }
        None
    }

    fn matches(&self, m: &Match, p: &Packet) -> bool {
        let set = |name: &str| self.sets.get(name);
        match m {
            Match::CtEstablishedOrRelated => false,
            Match::SaddrIn(s) => {
                matches!(set(s), Some(Set::Addrs(r)) if ranges::contains(r, p.src))
            }
            Match::DaddrIn(s) => {
                matches!(set(s), Some(Set::Addrs(r)) if ranges::contains(r, p.dst))
            }
            Match::ProtoPortIn(s) => matches!(set(s), Some(Set::Ports(r))
                if r.iter().any(|r| r.protocol == p.protocol && r.first <= p.port && p.port <= r.last)),
            Match::DaddrProtoPortIn(s) => matches!(set(s), Some(Set::AddrPorts(e))
                if e.iter().any(|e| e.addr == p.dst && e.protocol == p.protocol && e.port == p.port)),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::NotLocal => f.write_str("not checked on this node"),
            Step::NotIsolated => f.write_str("allowed (not isolated)"),
            Step::Allowed(o) => write!(f, "allowed by {o}"),
            Step::Denied(o) => write!(f, "denied by {o}"),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.packet;
        writeln!(
            f,
            "{} -> {} {}/{}: {}",
            p.src,
            p.dst,
            p.port,
            p.protocol,
            if self.allowed() { "ALLOWED" } else { "DENIED" }
        )?;
        writeln!(f, "  {} at the source: {}", Direction::Egress, self.egress)?;
        write!(
            f,
            "  {} at the destination: {}",
            Direction::Ingress,
            self.ingress
        )
    }
}
