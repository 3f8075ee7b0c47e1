//! The directory source: `--cluster-dir DIR` holds Kubernetes objects as JSON files (one object
//! or one list per file; which files count and how conflicts resolve: see [`super::scan`]).
//!
//! The directory is watched with inotify; any event marks the state dirty, and once events have
//! been quiet for `debounce` (at most `max_settle` after the first) the whole directory is
//! rescanned. Both deadlines are instants kept in the source, not timers of one call: a caller
//! racing [`DirSource::next`] against other wake-ups may drop a call while a burst settles,
//! and that must not restart the wait, or a steady stream of wake-ups (each cancelling the call
//! before `debounce` is over) would keep the agent on the old state indefinitely (issue 13:
//! NetworkPolicy changes enforced seconds late when the agent's loop raced it against kernel
//! events; the agent now awaits it alone, in [`crate::agent::feed`]'s task). Rescanning
//! everything (files whose content is unchanged are not re-parsed) means no event needs to be
//! interpreted, and a lost or overflowing watch costs nothing but a rescan.
//! A periodic full rescan every `resync` is the safety net (and re-creates a lost watch, e.g.
//! after the directory was deleted and created again).
//!
//! If the directory itself becomes unreadable, the last state is kept (and a warning logged)
//! rather than reported as "every node deleted": removing a directory is more likely a mistake or
//! a remount than a cluster with no nodes. Deleting the files deletes the objects.
//!
//! File reads are blocking but small (a Node is tens of KiB) and happen only on changes.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::future;
use smol::Timer;

use super::inotify::Watch;
use super::scan::Files;
use super::SourceError;
use crate::model::ClusterState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirConfig {
    /// Quiet time after the last event before rescanning.
    pub debounce: Duration,
    /// Longest wait after the first event of a burst before rescanning anyway.
    pub max_settle: Duration,
    /// Full rescan period, whatever inotify says.
    pub resync: Duration,
}

impl Default for DirConfig {
    fn default() -> Self {
        DirConfig {
            debounce: Duration::from_millis(20),
            max_settle: Duration::from_secs(1),
            resync: Duration::from_secs(30),
        }
    }
}

pub struct DirSource {
    dir: PathBuf,
    config: DirConfig,
    watch: Option<Watch>,
    files: Files,
    state: Arc<ClusterState>,
    /// The snapshot `next` returned last (`None` before the first call).
    returned: Option<Arc<ClusterState>>,
    /// Events were seen since the last rescan: (when the first came, when the last came).
    pending: Option<(Instant, Instant)>,
    next_resync: Instant,
}

enum Wake {
    Fs(io::Result<super::inotify::Events>),
    Resync,
}

impl DirSource {
    /// Watches and scans `dir`. Fails if it is not a readable directory.
    pub fn open(dir: &Path, config: DirConfig) -> Result<DirSource, SourceError> {
        let watch = Watch::dir(dir).map_err(|source| SourceError::Watch {
            path: dir.to_owned(),
            source,
        })?;
        let mut files = Files::default();
        let state = files.rescan(dir).map_err(|source| SourceError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        Ok(DirSource {
            dir: dir.to_owned(),
            config,
            watch: Some(watch),
            files,
            state: Arc::new(state),
            returned: None,
            pending: None,
            next_resync: Instant::now() + config.resync,
        })
    }

    pub fn current(&self) -> Arc<ClusterState> {
        self.state.clone()
    }

    /// Waits until the state differs from the last snapshot returned (the first call returns at
    /// once). Cancel-safe: every await point leaves `self` consistent, with `pending` recording
    /// events already consumed from inotify and when they came; a later call resumes the same
    /// wait, and rescans at once if its deadline passed meanwhile.
    pub async fn next(&mut self) -> Arc<ClusterState> {
        loop {
            if self.returned.as_ref() != Some(&self.state) {
                self.returned = Some(self.state.clone());
                return self.state.clone();
            }
            if let Some((first, last)) = self.pending {
                let due = (last + self.config.debounce).min(first + self.config.max_settle);
                if Instant::now() >= due {
                    self.pending = None;
                    self.rescan();
                } else if let Some(wake) = self.settle(due).await {
                    self.note(wake);
                }
                continue;
            }
            match self.wake().await {
                Wake::Fs(wake) => self.note(wake),
                Wake::Resync => {
                    self.next_resync = Instant::now() + self.config.resync;
                    if self.watch.is_none() {
                        self.rewatch();
                    }
                    self.rescan();
                }
            }
        }
    }

    /// Records what inotify said: events to settle, or a lost watch to set up again.
    fn note(&mut self, wake: io::Result<super::inotify::Events>) {
        match wake {
            Ok(batch) => {
                if batch.overflow {
                    log::debug!("cluster dir: inotify queue overflowed");
                }
                if batch.lost {
                    self.rewatch();
                }
            }
            Err(e) => {
                log::warn!("cluster dir: inotify read failed: {e}; watching again");
                self.rewatch();
            }
        }
        self.mark();
    }

    /// Something changed now: starts a burst, or extends the current one.
    fn mark(&mut self) {
        let now = Instant::now();
        let first = self.pending.map_or(now, |(first, _)| first);
        self.pending = Some((first, now));
    }

    /// The first of: inotify events, or the resync deadline.
    async fn wake(&self) -> Wake {
        let fs = async {
            match &self.watch {
                Some(w) => Wake::Fs(w.wait().await),
                None => future::pending::<Wake>().await,
            }
        };
        let resync = async {
            Timer::at(self.next_resync).await;
            Wake::Resync
        };
        future::or(fs, resync).await
    }

    /// Waits for the next inotify batch (`Some`) or until `due` (`None`).
    async fn settle(&self, due: Instant) -> Option<io::Result<super::inotify::Events>> {
        let timeout = async {
            Timer::at(due).await;
            None
        };
        match &self.watch {
            Some(watch) => future::or(async { Some(watch.wait().await) }, timeout).await,
            None => timeout.await,
        }
    }

    fn rescan(&mut self) {
        match self.files.rescan(&self.dir) {
            Ok(state) => {
                if state != *self.state {
                    self.state = Arc::new(state);
                }
            }
            Err(e) => log::warn!(
                "cluster dir: cannot list {}: {e}; keeping the last state",
                self.dir.display()
            ),
        }
    }

    /// Replaces the watch by a fresh one on the path (the old one may follow a moved or deleted
    /// directory). Without a directory, there is no watch until the next resync.
    fn rewatch(&mut self) {
        self.watch = None;
        match Watch::dir(&self.dir) {
            Ok(w) => self.watch = Some(w),
            Err(e) => log::warn!(
                "cluster dir: cannot watch {}: {e}; retrying every {:?}",
                self.dir.display(),
                self.config.resync
            ),
        }
        // Whatever happened while no watch was set is covered by a rescan.
        self.mark();
    }
}

#[cfg(test)]
mod tests;
