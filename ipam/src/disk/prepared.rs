//! Lease files written ahead of the lock: a lease's text depends only on its attachment, so
//! [`Store::prepare`](crate::Store::prepare) writes and fsyncs it in `.lichen/prep/` before the
//! lock is taken, and each reservation under the lock only `link()`s it to the address. Every
//! lease of one call shares that inode (the text is the same and never modified in place);
//! [`Store::finish`](crate::Store::finish) unlinks the prepared name after the lock is gone.
//! See "Writing ahead of the lock" in [`crate::disk`].

use std::path::PathBuf;
use std::sync::MutexGuard;
use std::time::{Duration, SystemTime};

use super::{lease_text, DiskStore};
use crate::{fsio, IpamError};

/// A prepared file older than this belongs to no live operation (one that crashed, or one
/// whose name host-local's walk deleted is simply written again): GC removes it.
const STALE_AFTER: Duration = Duration::from_secs(600);

impl DiskStore {
    fn prepared_list(&self) -> MutexGuard<'_, Vec<(String, PathBuf)>> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes and fsyncs the attachment's lease text, unless already prepared. A failure only
    /// means the reservation writes it under the lock.
    pub(super) fn prepare_lease(&self, cid: &str, ifname: &str) {
        let text = lease_text(cid, ifname);
        if self.prepared_for(&text).is_some() {
            return;
        }
        match fsio::write_temp(&self.prep_dir(), text.as_bytes(), true) {
            Ok(path) => self.prepared_list().push((text, path)),
            Err(e) => log::debug!("ipam: lease not prepared ahead of the lock: {e}"),
        }
    }

    /// A prepared file holding `text`.
    pub(super) fn prepared_for(&self, text: &str) -> Option<PathBuf> {
        let list = self.prepared_list();
        list.iter().find(|(t, _)| t == text).map(|(_, p)| p.clone())
    }

    /// Unlinks the prepared files holding `text` (their leases, if any, keep the inode).
    pub(super) fn drop_prepared(&self, text: &str) {
        let gone: Vec<PathBuf> = {
            let mut list = self.prepared_list();
            let (gone, kept) = list.drain(..).partition(|(t, _)| t == text);
            *list = kept;
            gone.into_iter().map(|(_, p)| p).collect::<Vec<_>>()
        };
        remove_all(&gone);
    }

    pub(super) fn drop_all_prepared(&self) {
        let gone: Vec<PathBuf> = self.prepared_list().drain(..).map(|(_, p)| p).collect();
        remove_all(&gone);
    }

    /// GC: removes prepared files left by crashed operations (older than [`STALE_AFTER`]).
    pub(super) fn sweep_prepared(&self) -> Vec<IpamError> {
        let dir = self.prep_dir();
        let names = match fsio::dir_names(&dir) {
            Ok(n) => n,
            Err(e) => return vec![e],
        };
        let now = SystemTime::now();
        let stale = |path: &PathBuf| {
            let modified = path.symlink_metadata().and_then(|m| m.modified());
            modified.is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_AFTER))
        };
        names
            .iter()
            .map(|n| dir.join(n))
            .filter(stale)
            .filter_map(|p| fsio::remove_optional(&p).err())
            .collect()
    }
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        if let Err(e) = fsio::remove_optional(p) {
            log::warn!("ipam: {e} (GC removes it later)");
        }
    }
}
