//! The compiler: (cluster state, this node) → [`Ruleset`]. See [`super`] for the layout.

use std::collections::BTreeMap;
use std::net::IpAddr;

use lichen_kube::k8s::{NetworkPolicy, Peer, Pod, PolicyRule, PortRef};
use lichen_kube::model::ClusterState;

use super::names;
use super::ranges;
use super::ruleset::{
    AddrPort, AddrRange, Chain, Direction, Hook, LocalPod, MapKey, Match, Origin, PolicyId,
    PortRange, Rule, Ruleset, Set, Verdict, VerdictMap,
};
use super::select::View;

/// Compiles the policy ruleset enforced on node `node`: ingress for its pods as destinations,
/// egress for its pods as sources.
pub fn compile(state: &ClusterState, node: &str) -> Ruleset {
    let view = View::new(state);
    let mut out = Ruleset {
        node: node.to_owned(),
        established_passes: true,
        ..Ruleset::default()
    };
    let local: Vec<&Pod> = view
        .pods()
        .filter(|p| p.node_name.as_deref() == Some(node))
        .collect();
    // Policies isolating each local pod, per direction, in policy order.
    let mut isolating: BTreeMap<(Direction, usize), Vec<PolicyId>> = BTreeMap::new();
    for policy in state.policies.values() {
        let id = PolicyId {
            namespace: policy.namespace.clone(),
            name: policy.name.clone(),
        };
        let selected: Vec<&Pod> = local
            .iter()
            .copied()
            .filter(|p| view.selects(policy, p))
            .collect();
        for (dir, on, rules) in [
            (Direction::Ingress, policy.types.ingress, &policy.ingress),
            (Direction::Egress, policy.types.egress, &policy.egress),
        ] {
            if !on {
                continue;
            }
            for (i, pod) in local.iter().enumerate() {
                if selected.iter().any(|s| std::ptr::eq(*s, *pod)) {
                    isolating.entry((dir, i)).or_default().push(id.clone());
                }
            }
            let chain = PolicyChain {
                view: &view,
                policy,
                id: &id,
                dir,
                selected: &selected,
            };
            chain.compile(rules, &mut out);
        }
    }
    groups(&local, &isolating, &mut out);
    base_chains(node_addrs(state, node), &mut out);
    out
}

/// A rule's numeric ports as ranges (a port without a number is every port); named ports are
/// left out.
fn numeric_ports(rule: &PolicyRule) -> Vec<PortRange> {
    rule.ports
        .iter()
        .filter_map(|p| {
            match p.port {
                None => Some((0, 65535)),
                Some(PortRef::Number(n)) => Some((n, p.end_port.unwrap_or(n))),
                Some(PortRef::Name(_)) => None,
            }
            .map(|(first, last)| PortRange {
                protocol: p.protocol,
                first,
                last,
            })
        })
        .collect()
}

/// One policy's chain for one direction, with the sets of its rules.
struct PolicyChain<'a> {
    view: &'a View<'a>,
    policy: &'a NetworkPolicy,
    id: &'a PolicyId,
    dir: Direction,
    /// The local pods the policy selects.
    selected: &'a [&'a Pod],
}

impl PolicyChain<'_> {
    fn compile(&self, rules: &[PolicyRule], out: &mut Ruleset) {
        let mut chain = Chain::default();
        for (i, rule) in rules.iter().enumerate() {
            self.rule(i, rule, &mut chain, out);
        }
        out.chains
            .insert(names::policy_chain(self.dir, self.id), chain);
    }

    /// Rule `i`'s accepts into `chain` (one for a rule without ports, else one for its numeric
    /// ports and one for its named ports), its sets into `out`.
    fn rule(&self, i: usize, rule: &PolicyRule, chain: &mut Chain, out: &mut Ruleset) {
        let origin = Origin::PolicyRule {
            direction: self.dir,
            policy: self.id.clone(),
            rule: i,
        };
        let mut base = Vec::new();
        if !rule.peers.is_empty() {
            let name = names::rule_set(self.dir, self.id, i, "peers");
            out.sets
                .insert(name.clone(), Set::Addrs(self.peer_addrs(rule)));
            base.push(match self.dir {
                Direction::Ingress => Match::SaddrIn(name),
                Direction::Egress => Match::DaddrIn(name),
            });
        }
        let accept = |matches: Vec<Match>| Rule {
            matches,
            verdict: Verdict::Accept,
            origin: origin.clone(),
        };
        if rule.ports.is_empty() {
            chain.rules.push(accept(base));
            return;
        }
        let numeric = numeric_ports(rule);
        if !numeric.is_empty() {
            let name = names::rule_set(self.dir, self.id, i, "ports");
            out.sets
                .insert(name.clone(), Set::Ports(ranges::normalize_ports(numeric)));
            let mut m = base.clone();
            m.push(Match::ProtoPortIn(name));
            chain.rules.push(accept(m));
        }
        if rule
            .ports
            .iter()
            .any(|p| matches!(p.port, Some(PortRef::Name(_))))
        {
            let name = names::rule_set(self.dir, self.id, i, "named");
            out.sets
                .insert(name.clone(), Set::AddrPorts(self.named(rule)));
            let mut m = base;
            m.push(Match::DaddrProtoPortIn(name));
            chain.rules.push(accept(m));
        }
    }

    /// The addresses of a rule's peers (pods and ipBlocks).
    fn peer_addrs(&self, rule: &PolicyRule) -> Vec<AddrRange> {
        let mut addrs = Vec::new();
        for peer in &rule.peers {
            match peer {
                Peer::IpBlock(b) => addrs.extend(ranges::cidr_except(&b.cidr, &b.except)),
                Peer::Pods { .. } => addrs.extend(
                    self.view
                        .pods()
                        .filter(|p| self.view.peer_names(self.policy, peer, p))
                        .flat_map(|p| p.ips.iter().copied().map(ranges::single)),
                ),
            }
        }
        ranges::normalize_addrs(addrs)
    }

    /// (destination address, protocol, port) for the rule's named ports, resolved on each
    /// destination pod: the selected local pods for ingress, the peer pods for egress (every
    /// pod when the rule has no peers; ipBlock peers name no pods).
    fn named(&self, rule: &PolicyRule) -> Vec<AddrPort> {
        let dests: Vec<&Pod> = match self.dir {
            Direction::Ingress => self.selected.to_vec(),
            Direction::Egress => self
                .view
                .pods()
                .filter(|p| {
                    rule.peers.is_empty()
                        || rule
                            .peers
                            .iter()
                            .any(|peer| self.view.peer_names(self.policy, peer, p))
                })
                .collect(),
        };
        let mut out = Vec::new();
        for port in &rule.ports {
            let Some(PortRef::Name(name)) = &port.port else {
                continue;
            };
            for pod in &dests {
                if let Some(number) = pod.named_port(name, port.protocol) {
                    out.extend(pod.ips.iter().map(|&addr| AddrPort {
                        addr,
                        protocol: port.protocol,
                        port: number,
                    }));
                }
            }
        }
        ranges::normalize_addr_ports(out)
    }
}

/// The group chains (one per distinct set of isolating policies), the dispatch maps and the
/// local pods' status.
fn groups(
    local: &[&Pod],
    isolating: &BTreeMap<(Direction, usize), Vec<PolicyId>>,
    out: &mut Ruleset,
) {
    for dir in [Direction::Ingress, Direction::Egress] {
        let mut map = VerdictMap::default();
        for (i, pod) in local.iter().enumerate() {
            let Some(policies) = isolating.get(&(dir, i)) else {
                continue;
            };
            let group = names::group_chain(dir, policies);
            out.chains.entry(group.clone()).or_insert_with(|| {
                let mut rules: Vec<Rule> = policies
                    .iter()
                    .map(|p| Rule {
                        matches: Vec::new(),
                        verdict: Verdict::Jump(names::policy_chain(dir, p)),
                        origin: Origin::TryPolicy(dir, p.clone()),
                    })
                    .collect();
                rules.push(Rule {
                    matches: Vec::new(),
                    verdict: Verdict::Drop,
                    origin: Origin::DefaultDeny {
                        direction: dir,
                        policies: policies.clone(),
                    },
                });
                Chain { hook: None, rules }
            });
            for ip in &pod.ips {
                map.elements.insert(*ip, group.clone());
            }
        }
        out.maps.insert(names::dispatch_map(dir), map);
    }
    for (i, pod) in local.iter().enumerate() {
        out.pods.insert(
            (pod.namespace.clone(), pod.name.clone()),
            LocalPod {
                ips: pod.ips.clone(),
                ingress: isolating.get(&(Direction::Ingress, i)).cloned(),
                egress: isolating.get(&(Direction::Egress, i)).cloned(),
            },
        );
    }
}

/// Whether [`compile`] for `node` may give something else for `b` than for `a`: what it
/// reads differs (Pods, Namespaces, NetworkPolicies, and this node's own addresses). The
/// agent's policy reconciler is woken by these changes alone: other Nodes, and this Node's
/// other fields, do not recompile policy.
pub fn inputs_differ(a: &ClusterState, b: &ClusterState, node: &str) -> bool {
    a.pods != b.pods
        || a.namespaces != b.namespaces
        || a.policies != b.policies
        || node_addrs(a, node) != node_addrs(b, node)
}

/// This node's own addresses: its Node's addresses and the gateway (first) address of each of
/// its pod CIDRs, the source the kernel picks for node → local pod traffic on the bridge.
fn node_addrs(state: &ClusterState, node: &str) -> Vec<AddrRange> {
    let Some(n) = state.nodes.get(node) else {
        return Vec::new();
    };
    let mut addrs: Vec<IpAddr> = n.internal_ips.clone();
    addrs.extend(&n.external_ips);
    addrs.extend(n.public_ip);
    for net in &n.pod_cidrs {
        addrs.extend(next_addr(net.network()));
    }
    ranges::normalize_addrs(addrs.into_iter().map(ranges::single).collect())
}

fn next_addr(a: IpAddr) -> Option<IpAddr> {
    match a {
        IpAddr::V4(v) => u32::from(v).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(v) => u128::from(v).checked_add(1).map(|n| IpAddr::V6(n.into())),
    }
}

/// The two base chains: established, node traffic, then the dispatch map of the direction.
fn base_chains(node_addrs: Vec<AddrRange>, out: &mut Ruleset) {
    out.sets
        .insert(names::NODE_ADDRS.to_owned(), Set::Addrs(node_addrs));
    for (name, hook, dir) in [
        (names::EGRESS_BASE, Hook::ForwardEgress, Direction::Egress),
        (
            names::INGRESS_BASE,
            Hook::ForwardIngress,
            Direction::Ingress,
        ),
    ] {
        let mut rules = Vec::new();
        if out.established_passes {
            rules.push(Rule {
                matches: vec![Match::CtEstablishedOrRelated],
                verdict: Verdict::Accept,
                origin: Origin::Established,
            });
        }
        let (node_match, key) = match dir {
            Direction::Egress => (Match::DaddrIn(names::NODE_ADDRS.into()), MapKey::Saddr),
            Direction::Ingress => (Match::SaddrIn(names::NODE_ADDRS.into()), MapKey::Daddr),
        };
        rules.push(Rule {
            matches: vec![node_match],
            verdict: Verdict::Accept,
            origin: Origin::NodeTraffic,
        });
        rules.push(Rule {
            matches: Vec::new(),
            verdict: Verdict::Map {
                key,
                map: names::dispatch_map(dir),
            },
            origin: Origin::Dispatch(dir),
        });
        out.chains.insert(
            name.to_owned(),
            Chain {
                hook: Some(hook),
                rules,
            },
        );
    }
}
