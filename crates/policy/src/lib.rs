//! NetworkPolicy, a crate of its own so that the compiler keeps it below the agent (it imports
//! `lichen-kube`'s objects and cluster model, `lichen-netlink`'s nf_tables library and
//! `lichen-backends`' hash; the binary re-exports it as `lichen::policy`).
//!
//! NetworkPolicy: the semantics, compiled into a kernel-independent ruleset for one node, and
//! `explain` over that same ruleset. Nothing here but [`table`] touches the kernel: the
//! nftables encoding of a [`Ruleset`] is a separate, mechanical step.
//!
//! # Semantics (networking.k8s.io/v1, as the API reference defines it)
//! - A pod is isolated for ingress (egress) once any policy whose effective `policyTypes`
//!   include Ingress (Egress) selects it; it then accepts only the union of the rules of those
//!   policies. `policyTypes` omitted: Ingress, plus Egress when the policy has egress rules
//!   (applied when parsing, [`lichen_kube::k8s::netpol`]).
//! - Rules: no rules (`[]` or absent) deny everything; an empty rule (`{}`) allows everything;
//!   a rule allows traffic from/to any of its peers (none listed: any peer) on any of its ports
//!   (none listed: any port and protocol).
//! - Peers ([`select`]): a bare `podSelector` names pods of the policy's namespace; a bare
//!   `namespaceSelector` all pods of matching namespaces; both in one peer: pods matching both.
//!   `ipBlock`: the CIDR minus its `except` holes. Host-network pods, pods without addresses
//!   and finished pods are never selected nor peers.
//! - Ports: a number, a `port..=endPort` range, or every port of the protocol (no `port`);
//!   TCP when no protocol is given. A named port is resolved on the destination pod from its
//!   container ports (name and protocol): for ingress the selected local pod, for egress the
//!   peer pod. Different pods may give the same name different numbers.
//! - Ingress is enforced on the destination's node, egress on the source's, so a ruleset holds
//!   the checks for this node's pods only. Traffic between a pod and its own node (kubelet
//!   probes) is always allowed, and packets of established or related connections pass.
//!
//! # The ruleset ([`ruleset`]), designed for nftables
//! Per-packet work does not grow with the number of pods and only with the policies that
//! select the packet's own pods; pod churn changes set and map elements, not chains.
//! ```text
//! base chain "egress"  (forward hook, priority filter-1)      base chain "ingress" (filter)
//!   ct state established,related accept                        ct state established,related accept
//!   ip daddr @node-addrs accept                                ip saddr @node-addrs accept
//!   ip saddr vmap @egress-pods                                 ip daddr vmap @ingress-pods
//!
//! map ingress-pods { local pod IP : jump ingress-group-<hash of its policies> }   (same for egress)
//!
//! chain ingress-group-<hash>     one per distinct set of policies isolating some local pod
//!   jump ingress/<ns>/<policy>   for each of those policies, in name order
//!   drop                         the default deny of an isolated pod
//!
//! chain ingress/<ns>/<policy>    one per policy and direction, one rule per rule and port kind
//!   ip saddr @…/<i>/peers meta l4proto . th dport @…/<i>/ports accept
//!   ip saddr @…/<i>/peers ip daddr . meta l4proto . th dport @…/<i>/named accept
//!   (egress: ip daddr @…/<i>/peers; no peers: no address match; no ports: no port match)
//! ```
//! - `…/peers`: an interval set of addresses (pod IPs of the peer pods, ipBlock CIDRs minus
//!   their holes, merged). `…/ports`: `protocol . port` intervals for numeric ports and ranges.
//!   `…/named`: `destination address . protocol . port` elements, one per destination pod
//!   that resolves a named port. A rule's chain rules exist whatever the pods are (an empty set
//!   matches nothing), so a pod starting, stopping or changing labels only changes elements.
//!   A pod's label change can create a new group chain when it makes a combination of
//!   policies that no other local pod had; policy edits rewrite that policy's chain and sets.
//! - An `accept` ends only its own base chain, hence two base chains: an egress accept still
//!   leaves the ingress check to run, and a drop in either is final.
//! - Names are stable ([`names`]): a policy's objects keep their names when other policies
//!   come and go; every collection is sorted, so a diff of two rulesets is the change.
//! - Addresses mix IPv4 and IPv6 here; the encoding splits every address set, map and rule
//!   using them into an `ip` and an `ip6` twin.
//!
//! [`explain`] runs a packet through the same [`Ruleset`] (see [`explain::Explanation`]);
//! [`table`] puts it in the kernel as table `inet lichen-policy` (over
//! [`lichen_netlink::nft`]).

pub mod churn;
pub mod compile;
pub mod explain;
pub mod names;
pub mod ranges;
pub mod ruleset;
pub mod select;
pub mod table;

pub use compile::compile;
pub use explain::{explain, Explanation, Packet, Step};
pub use ruleset::{Direction, LocalPod, Origin, PolicyId, Ruleset};

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;
