//! The Kubernetes API source (`--kube`, `--kubeconfig`): a task lists and watches Nodes (see
//! [`crate::k8s::watch`]) and sends events over a channel; [`KubeSource::next`] folds them into
//! the state and hands out snapshots like the directory source.
//!
//! - No snapshot is returned before the first LIST has succeeded: an empty state would tell the
//!   reconciler that every peer is gone.
//! - A failed request (API unreachable, TLS, 5xx) is returned by `next` as an error, once per
//!   failure, while the state stays as it was: the data plane keeps its last programming and the
//!   watcher resumes on its own when the API is back.
//! - Events that arrive together are folded into one snapshot.

use std::sync::Arc;

use smol::channel::{self, Receiver};
use smol::Task;

use super::{ClusterState, SourceError};
use crate::k8s::watch::{self, WatchConfig, WatchEvent};
use crate::k8s::{Client, KubeConfig};

/// Events buffered between the watcher task and `next`.
const QUEUE: usize = 256;

pub struct KubeSource {
    client: Arc<Client>,
    events: Receiver<WatchEvent>,
    state: Arc<ClusterState>,
    returned: Option<Arc<ClusterState>>,
    /// The first LIST has arrived.
    synced: bool,
    _watcher: Task<()>,
}

impl KubeSource {
    /// Checks the configuration (CA, client certificate and key) and starts watching Nodes on
    /// smol's global executor. Connection errors come later, from `next`.
    pub fn start(config: &KubeConfig, watch: WatchConfig) -> Result<KubeSource, SourceError> {
        let client = Arc::new(Client::new(config).map_err(SourceError::Api)?);
        let (tx, rx) = channel::bounded(QUEUE);
        let c = client.clone();
        let task = smol::spawn(async move { watch::run(&c, watch::NODES, watch, tx).await });
        Ok(KubeSource {
            client,
            events: rx,
            state: Arc::new(ClusterState::default()),
            returned: None,
            synced: false,
            _watcher: task,
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
                    state.remove(kind, &d.name);
                }
                for o in objects {
                    state.upsert(o);
                }
                self.synced = true;
            }
            WatchEvent::Applied(o) => {
                state.upsert(o);
            }
            WatchEvent::Deleted(o) => {
                state.remove(o.kind(), o.name());
            }
            WatchEvent::Failed { error, .. } => return Err(SourceError::Api(error)),
        }
        Ok(())
    }
}
