//! Where the agent's view of the cluster comes from.
//!
//! Design: a source owns the cluster state and hands out immutable snapshots of the *whole*
//! state ([`ClusterState`] behind an `Arc`), not a stream of events. The agent's loop reconciles
//! the entire desired state on every change anyway, so snapshots make it the simplest possible
//! loop and immune to missed, duplicated or reordered events:
//!
//! ```ignore
//! let mut source = Source::dir(&cluster_dir, DirConfig::default())?;
//! loop {
//!     let state = source.next().await?; // the first call returns the initial state
//!     reconcile(&state);
//! }
//! ```
//!
//! [`Source::next`] waits until the state differs from the last snapshot it returned. It is
//! cancel-safe (a change seen by a dropped call is reported by the next one), so a caller may
//! race it against timers with `smol::future::or`. The agent awaits it in a task of its own
//! ([`super::feed`]), so no reconcile pass and no kernel event stands between a change and
//! the snapshot that carries it.
//!
//! Sources are a closed set: the directory of JSON objects ([`DirSource`]) and the Kubernetes
//! API (list + watch, [`KubeSource`]). Both feed the same [`ClusterState::upsert`]/[`ClusterState::remove`],
//! so the backends never know where the state came from. Nodes, and for the policy mode
//! Namespaces, Pods and NetworkPolicies, are kept (namespaced kinds keyed by namespace and
//! name); other kinds are dropped by `upsert`.

mod dir;
mod inotify;
mod kube;
mod scan;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::k8s::watch::WatchConfig;
pub use dir::{DirConfig, DirSource};
pub use kube::KubeSource;

use crate::k8s::{ApiError, KubeConfig, Namespace, NetworkPolicy, Node, Object, ObjectRef, Pod};

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

/// The cluster source the agent was started with.
pub enum Source {
    Dir(DirSource),
    Kube(KubeSource),
}

impl Source {
    /// A directory of Kubernetes objects as JSON files (see [`DirSource`]).
    pub fn dir(path: &Path, config: DirConfig) -> Result<Source, SourceError> {
        DirSource::open(path, config).map(Source::Dir)
    }

    /// The Kubernetes API (list + watch Nodes; see [`KubeSource`]). Must be called inside smol
    /// (the watcher runs on smol's global executor).
    pub fn kube(config: &KubeConfig, watch: WatchConfig) -> Result<Source, SourceError> {
        KubeSource::start(config, watch).map(Source::Kube)
    }

    /// The Kubernetes API watching each of `resources` (Nodes; with NetworkPolicy enforcement
    /// also [`crate::k8s::watch::WITH_POLICY`]). Must be called inside smol.
    pub fn kube_kinds(
        config: &KubeConfig,
        watch: WatchConfig,
        resources: &[crate::k8s::watch::Resource],
    ) -> Result<Source, SourceError> {
        KubeSource::start_kinds(config, watch, resources).map(Source::Kube)
    }

    /// The API client, when the state comes from the API (what the agent publishes goes
    /// through it); `None` for the directory source, which publishes nothing.
    pub fn client(&self) -> Option<Arc<crate::k8s::Client>> {
        match self {
            Source::Dir(_) => None,
            Source::Kube(k) => Some(k.client()),
        }
    }

    /// Waits until the state differs from the last snapshot returned and returns it; the first
    /// call returns the initial state at once. Cancel-safe.
    pub async fn next(&mut self) -> Result<Arc<ClusterState>, SourceError> {
        match self {
            Source::Dir(d) => Ok(d.next().await),
            Source::Kube(k) => k.next().await,
        }
    }

    /// The current state, without waiting.
    pub fn current(&self) -> Arc<ClusterState> {
        match self {
            Source::Dir(d) => d.current(),
            Source::Kube(k) => k.current(),
        }
    }
}

#[derive(Debug)]
pub enum SourceError {
    /// The cluster directory cannot be used (missing, not a directory, unreadable).
    Dir { path: PathBuf, source: io::Error },
    /// The inotify watch on the cluster directory cannot be set up.
    Watch { path: PathBuf, source: io::Error },
    /// The Kubernetes API cannot be used (configuration) or a request to it failed (the source
    /// keeps its state and retries by itself).
    Api(ApiError),
    /// The API watcher task ended (it only does when the source is dropped).
    Stopped,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Dir { path, source } => {
                write!(f, "cluster directory {}: {source}", path.display())
            }
            SourceError::Watch { path, source } => {
                write!(f, "watching cluster directory {}: {source}", path.display())
            }
            SourceError::Api(e) => write!(f, "Kubernetes API: {e}"),
            SourceError::Stopped => write!(f, "the Kubernetes API watcher stopped"),
        }
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SourceError::Dir { source, .. } | SourceError::Watch { source, .. } => Some(source),
            SourceError::Api(e) => Some(e),
            SourceError::Stopped => None,
        }
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
