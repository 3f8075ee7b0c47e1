//! Which pods a policy selects and which pods its peers name: the selector half of the
//! semantics, over the cluster state.
//!
//! - Only pods with pod-network addresses count ([`Pod::has_pod_network`]): host-network pods,
//!   pods without addresses and finished pods are neither selected nor peers.
//! - A policy selects the pods of its own namespace that match its `podSelector`.
//! - A peer without `namespaceSelector` names pods of the policy's namespace; with one, pods of
//!   every namespace whose labels match it; with both selectors, pods matching both.
//! - A namespace without a Namespace object in the state is matched by its name label alone
//!   (what the API server would have given it).

use std::collections::BTreeMap;

use lichen_kube::k8s::namespace::Namespace;
use lichen_kube::k8s::{Labels, NetworkPolicy, Peer, Pod};
use lichen_kube::model::ClusterState;

/// The cluster as the policy compiler reads it.
pub struct View<'a> {
    state: &'a ClusterState,
    /// Labels of namespaces that have pods but no Namespace object.
    implied_ns: BTreeMap<&'a str, Labels>,
}

impl<'a> View<'a> {
    pub fn new(state: &'a ClusterState) -> View<'a> {
        let mut implied_ns = BTreeMap::new();
        for p in state.pods.values() {
            if !state.namespaces.contains_key(&p.namespace) {
                implied_ns
                    .entry(p.namespace.as_str())
                    .or_insert_with(|| Namespace::new(&p.namespace, Labels::default()).labels);
            }
        }
        View { state, implied_ns }
    }

    pub fn state(&self) -> &'a ClusterState {
        self.state
    }

    /// Pods with pod-network addresses, in (namespace, name) order.
    pub fn pods(&self) -> impl Iterator<Item = &'a Pod> {
        self.state.pods.values().filter(|p| p.has_pod_network())
    }

    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        self.state
            .namespaces
            .get(ns)
            .map(|n| &n.labels)
            .or_else(|| self.implied_ns.get(ns))
    }

    /// Whether `policy` selects `pod` (both of the same namespace).
    pub fn selects(&self, policy: &NetworkPolicy, pod: &Pod) -> bool {
        pod.namespace == policy.namespace && policy.pod_selector.matches(&pod.labels)
    }

    /// Whether the pod `peer` of a rule of `policy` names `pod`.
    pub fn peer_names(&self, policy: &NetworkPolicy, peer: &Peer, pod: &Pod) -> bool {
        let Peer::Pods { namespaces, pods } = peer else {
            return false;
        };
        let ns_ok = match namespaces {
            None => pod.namespace == policy.namespace,
            Some(sel) => self
                .namespace_labels(&pod.namespace)
                .is_some_and(|l| sel.matches(l)),
        };
        ns_ok && pods.as_ref().is_none_or(|sel| sel.matches(&pod.labels))
    }
}
