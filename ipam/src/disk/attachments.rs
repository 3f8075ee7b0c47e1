//! The attachment index (`.lichen/attachments/<container>.<ifname>`): which addresses an
//! attachment holds, so DEL and GC find them without reading every lease. Only a hint: the lease
//! files are the truth, and [`DiskStore::tidy_index`] repairs what a crash left behind (see
//! "Crash safety" in [`crate::disk`]).

use std::net::IpAddr;
use std::path::PathBuf;

use super::DiskStore;
use crate::{fsio, index, IpamError, Store};

impl DiskStore {
    pub(super) fn index_path(&self, container_id: &str, ifname: &str) -> Option<PathBuf> {
        index::key(container_id, ifname).map(|k| self.index_dir().join(k))
    }

    /// The addresses an attachment's index lists (unverified); empty when it has none.
    pub(super) fn read_index(
        &self,
        container_id: &str,
        ifname: &str,
    ) -> Result<Vec<IpAddr>, IpamError> {
        let Some(path) = self.index_path(container_id, ifname) else {
            return Ok(Vec::new());
        };
        Ok(fsio::read_own(&path)?
            .map(|b| index::decode(&b))
            .unwrap_or_default())
    }

    /// Rewrites an attachment's index; an empty list deletes it.
    pub(super) fn write_index(
        &self,
        cid: &str,
        ifname: &str,
        ips: &[IpAddr],
    ) -> Result<(), IpamError> {
        let Some(path) = self.index_path(cid, ifname) else {
            return Ok(());
        };
        if ips.is_empty() {
            return fsio::remove_optional(&path).map(drop);
        }
        fsio::replace(&self.tmp_dir(), &path, index::encode(ips).as_bytes())
    }

    /// Step 2 of a reservation: adds `ip` to the attachment's index. `Ok(true)` if it was not
    /// listed before.
    /// A new index appears whole (temp file, rename: a full disk leaves no empty index), an
    /// existing one is appended to in place (see "Crash safety" for why a torn index is
    /// harmless; a failed append is cut back off).
    pub(crate) fn index_add(&self, cid: &str, ifname: &str, ip: IpAddr) -> Result<bool, IpamError> {
        let Some(path) = self.index_path(cid, ifname) else {
            return Ok(false);
        };
        match fsio::read_own(&path)? {
            None => fsio::replace(&self.tmp_dir(), &path, index::encode(&[ip]).as_bytes())?,
            Some(bytes) if index::decode(&bytes).contains(&ip) => return Ok(false),
            Some(bytes) => fsio::append(&path, index::append_text(&bytes, ip).as_bytes())?,
        }
        Ok(true)
    }

    pub(super) fn index_remove(
        &self,
        cid: &str,
        ifname: &str,
        ip: IpAddr,
    ) -> Result<(), IpamError> {
        let mut ips = self.read_index(cid, ifname)?;
        if ips.contains(&ip) {
            ips.retain(|i| *i != ip);
            self.write_index(cid, ifname, &ips)?;
        }
        Ok(())
    }

    /// The attachment's leases its index lists, checked against the lease files.
    pub(super) fn indexed_leases(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let mut mine = Vec::new();
        for ip in self.read_index(cid, ifname)? {
            if self.lease(ip)?.is_some_and(|l| l.held_by(cid, ifname)) {
                mine.push(ip);
            }
        }
        Ok(mine)
    }

    /// Drops index entries that point nowhere (or at someone else's lease) and index files
    /// that are not ours.
    pub(super) fn tidy_index(&self) -> Vec<IpamError> {
        let dir = self.index_dir();
        let names = match fsio::dir_names(&dir) {
            Ok(n) => n,
            Err(e) => return vec![e],
        };
        let mut errors = Vec::new();
        for name in names {
            let result = match index::parse_key(&name) {
                None => fsio::remove_optional(&dir.join(&name)).map(drop),
                Some((cid, ifname)) => self.tidy_one_index(&cid, &ifname),
            };
            errors.extend(result.err());
        }
        errors
    }

    fn tidy_one_index(&self, cid: &str, ifname: &str) -> Result<(), IpamError> {
        let listed = self.read_index(cid, ifname)?;
        let live = self.indexed_leases(cid, ifname)?;
        if live != listed {
            self.write_index(cid, ifname, &live)?;
        }
        Ok(())
    }
}
