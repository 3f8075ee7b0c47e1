//! The cluster feed: the source ([`super::source`]) runs as a task of its own, never behind a
//! route pass nor behind the HTTP server's requests: the agent runs it on the policy
//! reconciler's thread (see [`super::run`]), so a policy change goes from the source to the
//! compile without a thread hop, and the only work that can hold the source up is a policy
//! pass. (The API watchers, like the HTTP server, stay on smol's global executor: the source
//! only folds their events.) It hands each snapshot to the two reconcilers through one shared slot, waking each
//! only for what it reads:
//! - the route loop ([`super::run`]) for Nodes (and the source's skipped entries, which it
//!   reports);
//! - the policy reconciler ([`super::policy`]) for what [`crate::policy::compile::inputs_differ`]
//!   names: Pods, Namespaces, NetworkPolicies, this Node's addresses.
//!
//! A wake is a token in a channel of one: wakes coalesce, and the woken side reads the
//! newest snapshot, so none is lost and none is handled twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use smol::channel::{self, Receiver, Sender};

use super::report::Report;
use super::source::Source;
use crate::model::ClusterState;

/// The newest snapshot (`None` before the source's first).
#[derive(Default)]
pub struct Feed {
    state: Mutex<Option<Arc<ClusterState>>>,
}

impl Feed {
    pub fn current(&self) -> Option<Arc<ClusterState>> {
        self.state.lock().expect("feed").clone()
    }
}

/// A coalescing wake: [`wake`] puts a token if none is waiting.
pub fn trigger() -> (Sender<()>, Receiver<()>) {
    channel::bounded(1)
}

/// Puts a wake token (a waiting one covers this one too).
pub fn wake(tx: &Sender<()>) {
    let _ = tx.try_send(());
}

/// The source's task, to be run by its caller: every snapshot goes to the feed; `routes` is woken when Nodes
/// (or the skipped entries) changed, `policy` when what node `node`'s policy compiles from
/// changed. Source errors are logged and counted in the report; the source retries by itself.
pub fn start(
    mut source: Source,
    node: String,
    report: Arc<Mutex<Report>>,
    routes: Sender<()>,
    policy: Sender<()>,
) -> (
    Arc<Feed>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let feed = Arc::new(Feed::default());
    let shared = feed.clone();
    let run = async move {
        loop {
            match source.next().await {
                Ok(state) => {
                    let prev = shared.state.lock().expect("feed").replace(state.clone());
                    let (r, p) = match &prev {
                        None => (true, true),
                        Some(prev) => (
                            prev.nodes != state.nodes || prev.skipped != state.skipped,
                            crate::policy::compile::inputs_differ(prev, &state, &node),
                        ),
                    };
                    if r {
                        wake(&routes);
                    }
                    if p {
                        wake(&policy);
                    }
                }
                Err(e) => {
                    log::error!("cluster source: {e}");
                    report.lock().expect("report").source_restarts += 1;
                    smol::Timer::after(Duration::from_secs(1)).await;
                }
            }
        }
    };
    (feed, run)
}
