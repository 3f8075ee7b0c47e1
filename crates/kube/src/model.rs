//! The cluster model: what Lichen knows about the cluster at one moment ([`ClusterState`]).
//!
//! Below both of its users: the agent's sources (`lichen`'s `agent::source`) fill it, and the
//! policy compiler (`lichen-policy`) and the agent's reconcilers read it. It holds only
//! Kubernetes objects ([`crate::k8s`]) and knows nothing of where they came from.

use std::collections::BTreeMap;

use crate::k8s::{Namespace, NetworkPolicy, Node, Object, ObjectRef, Pod};

/// A namespaced object's key: (namespace, name).
pub type NsName = (String, String);

/// Everything the agent knows about the cluster at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    /// Nodes by name, including nodes being deleted (`Node::deleting`).
    pub nodes: BTreeMap<String, Node>,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Pods by (namespace, name), on every node.
    pub pods: BTreeMap<NsName, Pod>,
    /// NetworkPolicies by (namespace, name).
    pub policies: BTreeMap<NsName, NetworkPolicy>,
    /// Entries of the source that contribute nothing, with why (the directory source: files
    /// that are not regular, too large, unreadable or malformed), for `lichen status`.
    pub skipped: BTreeMap<String, String>,
}

impl ClusterState {
    /// Adds or replaces an object; returns the object it replaced (same kind and name), if any.
    /// Kinds not handled yet are ignored.
    pub fn upsert(&mut self, obj: Object) -> Option<Object> {
        match obj {
            Object::Node(n) => self.nodes.insert(n.name.clone(), n).map(Object::Node),
            Object::Namespace(n) => self
                .namespaces
                .insert(n.name.clone(), n)
                .map(Object::Namespace),
            Object::Pod(p) => self
                .pods
                .insert((p.namespace.clone(), p.name.clone()), p)
                .map(Object::Pod),
            Object::NetworkPolicy(p) => self
                .policies
                .insert((p.namespace.clone(), p.name.clone()), p)
                .map(Object::NetworkPolicy),
            Object::Other(_) => None,
        }
    }

    /// Removes the object of `kind` named `name`; for namespaced kinds `name` is
    /// `namespace/name` (see [`ClusterState::remove_ref`]).
    pub fn remove(&mut self, kind: &str, name: &str) -> Option<Object> {
        let (namespace, name) = match name.split_once('/') {
            Some((ns, n)) => (Some(ns.to_owned()), n.to_owned()),
            None => (None, name.to_owned()),
        };
        self.remove_ref(&ObjectRef {
            kind: kind.to_owned(),
            namespace,
            name,
        })
    }

    /// Removes the object `r` names (the namespace is needed for Pods and NetworkPolicies).
    pub fn remove_ref(&mut self, r: &ObjectRef) -> Option<Object> {
        let key = || (r.namespace.clone().unwrap_or_default(), r.name.clone());
        match r.kind.as_str() {
            "Node" => self.nodes.remove(&r.name).map(Object::Node),
            "Namespace" => self.namespaces.remove(&r.name).map(Object::Namespace),
            "Pod" => self.pods.remove(&key()).map(Object::Pod),
            "NetworkPolicy" => self.policies.remove(&key()).map(Object::NetworkPolicy),
            _ => None,
        }
    }

    /// The nodes not being deleted.
    pub fn live_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().filter(|n| !n.deleting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_kinds_are_keyed_by_namespace_and_name() {
        let pod = |ns: &str| {
            let doc = format!(r#"{{"kind":"Pod","metadata":{{"name":"web","namespace":"{ns}"}}}}"#);
            crate::k8s::parse_object(doc.as_bytes(), None).unwrap()
        };
        let mut s = ClusterState::default();
        assert!(s.upsert(pod("a")).is_none());
        assert!(s.upsert(pod("b")).is_none());
        assert!(matches!(s.upsert(pod("a")), Some(Object::Pod(_))));
        assert_eq!(s.pods.len(), 2);
        assert!(s.remove("Pod", "web").is_none());
        assert!(s.remove("Pod", "a/web").is_some());
        let r = ObjectRef {
            kind: "Pod".into(),
            namespace: Some("b".into()),
            name: "web".into(),
        };
        assert!(s.remove_ref(&r).is_some());
        assert!(s.pods.is_empty());
        let ns = crate::k8s::parse_object(br#"{"kind":"Namespace","metadata":{"name":"a"}}"#, None);
        s.upsert(ns.unwrap());
        assert!(s.remove("Namespace", "a").is_some());
    }
}
