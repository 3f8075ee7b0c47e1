//! The directory source: `--cluster-dir DIR` holds Kubernetes objects as JSON files (one object
//! or one list per file; which files count and how conflicts resolve: see [`super::scan`]).
//!
//! The directory is watched with inotify; any event marks the state dirty, and once events have
//! been quiet for `debounce` (at most `max_settle` after the first) the whole directory is
//! rescanned. Rescanning everything (files whose content is unchanged are not re-parsed) means
//! no event needs to be interpreted, and a lost or overflowing watch costs nothing but a rescan.
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
use super::{ClusterState, SourceError};

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
    /// Events were seen since the last rescan.
    dirty: bool,
    next_resync: Instant,
}

enum Wake {
    Fs(io::Result<super::inotify::Batch>),
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
            dirty: false,
            next_resync: Instant::now() + config.resync,
        })
    }

    pub fn current(&self) -> Arc<ClusterState> {
        self.state.clone()
    }

    /// Waits until the state differs from the last snapshot returned (the first call returns at
    /// once). Cancel-safe: every await point leaves `self` consistent, with `dirty` recording
    /// events already consumed from inotify.
    pub async fn next(&mut self) -> Arc<ClusterState> {
        loop {
            if self.returned.as_ref() != Some(&self.state) {
                self.returned = Some(self.state.clone());
                return self.state.clone();
            }
            if self.dirty {
                self.settle().await;
                self.dirty = false;
                self.rescan();
                continue;
            }
            match self.wake().await {
                Wake::Fs(Ok(batch)) => {
                    if batch.overflow {
                        log::debug!("cluster dir: inotify queue overflowed");
                    }
                    if batch.lost {
                        self.rewatch();
                    }
                    self.dirty = true;
                }
                Wake::Fs(Err(e)) => {
                    log::warn!("cluster dir: inotify read failed: {e}; watching again");
                    self.rewatch();
                    self.dirty = true;
                }
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

    /// Waits until no event has arrived for `debounce`, or `max_settle` has passed.
    async fn settle(&mut self) {
        let deadline = Instant::now() + self.config.max_settle;
        loop {
            let Some(watch) = &self.watch else {
                Timer::after(self.config.debounce).await;
                return;
            };
            let quiet = Instant::now() + self.config.debounce;
            let event = async { Some(watch.wait().await) };
            let timeout = async {
                Timer::at(quiet.min(deadline)).await;
                None
            };
            match future::or(event, timeout).await {
                None => return,
                Some(Ok(batch)) if batch.lost => self.rewatch(),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    log::warn!("cluster dir: inotify read failed: {e}; watching again");
                    self.rewatch();
                }
            }
            if Instant::now() >= deadline {
                return;
            }
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
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests;
