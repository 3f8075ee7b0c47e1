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
//! API (list + watch, [`KubeSource`]). Both feed the same [`ClusterState::upsert`] and
//! [`ClusterState::remove`] (the cluster model, [`crate::model`]), so the backends never know
//! where the state came from. Nodes, and for the policy mode
//! Namespaces, Pods and NetworkPolicies, are kept (namespaced kinds keyed by namespace and
//! name); other kinds are dropped by `upsert`.

mod dir;
mod inotify;
mod kube;
mod scan;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::k8s::watch::WatchConfig;
pub use dir::{DirConfig, DirSource};
pub use kube::KubeSource;

use crate::k8s::{ApiError, KubeConfig};
use crate::model::ClusterState;

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
