//! The Kubernetes API source (`--kube`, `--kubeconfig`): one task per resource kind lists and
//! watches it (see [`crate::k8s::watch`]; Nodes, and with NetworkPolicy enforcement also
//! Namespaces, Pods and NetworkPolicies) and sends events over a shared channel;
//! [`KubeSource::next`] folds them into the state and hands out snapshots like the directory
//! source.
//!
//! - No snapshot is returned before the first LIST of every kind has succeeded: an empty state
//!   would tell the reconciler that every peer (or every pod) is gone.
//! - A failed request (API unreachable, TLS, 5xx) is returned by `next` as an error, once per
//!   failure, while the state stays as it was: the data plane keeps its last programming and the
//!   watcher resumes on its own when the API is back.
//! - Events that arrive together are folded into one snapshot; there is no debounce, so a
//!   change is handed on as soon as its event is read (the agent awaits `next` in a task of its
//!   own, [`crate::agent::feed`], which kernel events and reconcile passes never hold up;
//!   tests/policy_churn.rs `churn_from_the_api_host_gw` checks it under kernel-event noise).

use std::collections::BTreeSet;
use std::sync::Arc;

use smol::channel::{self, Receiver};
use smol::Task;

use super::SourceError;
use crate::k8s::watch::{self, Resource, WatchConfig, WatchEvent};
use crate::k8s::{Client, KubeConfig};
use crate::model::ClusterState;

/// Events buffered between the watcher task and `next`.
const QUEUE: usize = 256;

pub struct KubeSource {
    client: Arc<Client>,
    events: Receiver<WatchEvent>,
    state: Arc<ClusterState>,
    returned: Option<Arc<ClusterState>>,
    /// The first LIST of every kind has arrived.
    synced: bool,
    /// The kinds watched, and those listed at least once.
    kinds: BTreeSet<&'static str>,
    listed: BTreeSet<&'static str>,
    _watchers: Vec<Task<()>>,
}

impl KubeSource {
    /// Checks the configuration (CA, client certificate and key) and starts watching Nodes on
    /// smol's global executor. Connection errors come later, from `next`.
    pub fn start(config: &KubeConfig, watch: WatchConfig) -> Result<KubeSource, SourceError> {
        KubeSource::start_kinds(config, watch, watch::ROUTING)
    }

    /// Like [`KubeSource::start`], watching each of `resources` (e.g. [`watch::WITH_POLICY`]).
    pub fn start_kinds(
        config: &KubeConfig,
        watch: WatchConfig,
        resources: &[Resource],
    ) -> Result<KubeSource, SourceError> {
        let client = Arc::new(Client::new(config).map_err(SourceError::Api)?);
        let (tx, rx) = channel::bounded(QUEUE);
        let watchers = resources
            .iter()
            .map(|&r| {
                let (c, tx) = (client.clone(), tx.clone());
                smol::spawn(async move { watch::run(&c, r, watch, tx).await })
            })
            .collect();
        Ok(KubeSource {
            client,
            events: rx,
            state: Arc::new(ClusterState::default()),
            returned: None,
            synced: false,
            kinds: resources.iter().map(|r| r.kind).collect(),
            listed: BTreeSet::new(),
            _watchers: watchers,
        })
    }

    /// The API client, for what the agent publishes ([`crate::k8s::publish`]).
    pub fn client(&self) -> Arc<Client> {
        self.client.clone()
    }

    pub fn current(&self) -> Arc<ClusterState> {
        self.state.clone()
    }

    /// Whether the first LIST has arrived.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// Waits until the state differs from the last snapshot returned; the first call waits for
    /// the first LIST. Cancel-safe (events are applied as soon as they are received).
    pub async fn next(&mut self) -> Result<Arc<ClusterState>, SourceError> {
        loop {
            if self.synced && self.returned.as_ref() != Some(&self.state) {
                self.returned = Some(self.state.clone());
                return Ok(self.state.clone());
            }
            let ev = self.events.recv().await.map_err(|_| SourceError::Stopped)?;
            let mut state = (*self.state).clone();
            let mut result = self.apply(&mut state, ev);
            while result.is_ok() {
                match self.events.try_recv() {
                    Ok(ev) => result = self.apply(&mut state, ev),
                    Err(_) => break,
                }
            }
            if state != *self.state {
                self.state = Arc::new(state);
            }
            result?;
        }
    }

    fn apply(&mut self, state: &mut ClusterState, ev: WatchEvent) -> Result<(), SourceError> {
        match ev {
            WatchEvent::Listed {
                kind,
                objects,
                deleted,
            } => {
                for d in deleted {
                    log::info!("API: {kind} {} vanished while not watched", d.name);
                    state.remove_ref(&d);
                }
                for o in objects {
                    state.upsert(o);
                }
                self.listed.insert(kind);
                self.synced = self.listed.is_superset(&self.kinds);
            }
            WatchEvent::Applied(o) => {
                state.upsert(o);
            }
            WatchEvent::Deleted(o) => {
                state.remove_ref(&o.object_ref());
            }
            WatchEvent::Failed { error, .. } => return Err(SourceError::Api(error)),
        }
        Ok(())
    }
}
