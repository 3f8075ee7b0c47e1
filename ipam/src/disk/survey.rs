//! The survey of a network directory: every lease file's holder, from the lease cache where the
//! file is unchanged since it was cached (same name, same inode), by reading it otherwise. See
//! "The lease cache" in [`crate::disk`] for why this is safe.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{parse_lease, DiskStore};
use crate::{cache, fsio, index, IpamError, Lease, Store};

/// Marks a cache written where the boot ID could not be read: never trusted.
const NO_BOOT_ID: &str = "unknown";

impl DiskStore {
    /// The addresses the attachment holds by host-local's rules, found by a survey and each
    /// verified against its lease file: exact holders, then (unless `older_only_if_none` and
    /// there are exact ones) the container's older ifname-less leases.
    pub(super) fn surveyed_holdings(
        &self,
        cid: &str,
        ifname: &str,
        older_only_if_none: bool,
    ) -> Result<Vec<IpAddr>, IpamError> {
        let exact_holder = cache::holder(cid.trim(), ifname);
        let older_holder = cache::holder(cid.trim(), "");
        let (mut exact, mut older) = (Vec::new(), Vec::new());
        self.survey(false, |ip, holder| {
            if holder == exact_holder {
                exact.push(ip);
            } else if holder == older_holder {
                older.push(ip);
            }
        })?;
        // The cache cannot see a file rewritten under the same name and inode: check each.
        let mut mine = self.verified(exact, |l| l.held_by(cid, ifname))?;
        if older_only_if_none && !mine.is_empty() {
            return Ok(mine);
        }
        mine.extend(self.verified(older, |l| l.held_by_container(cid))?);
        Ok(mine)
    }

    /// Every lease, each file read (GC and listings need the truth); rebuilds the cache.
    pub(super) fn list_all(&self) -> Result<Vec<Lease>, IpamError> {
        let mut leases = Vec::new();
        self.survey(true, |ip, holder| {
            let (container_id, ifname) = cache::parse_holder(holder).unwrap_or_default();
            leases.push(Lease {
                ip,
                container_id,
                ifname,
            });
        })?;
        leases.sort_by_key(|l| l.ip);
        Ok(leases)
    }

    /// The addresses among `ips` whose lease file satisfies `held`, sorted.
    fn verified(
        &self,
        mut ips: Vec<IpAddr>,
        held: impl Fn(&Lease) -> bool,
    ) -> Result<Vec<IpAddr>, IpamError> {
        ips.sort_unstable();
        let mut out = Vec::with_capacity(ips.len());
        for ip in ips {
            if self.lease(ip)?.is_some_and(|l| held(&l)) {
                out.push(ip);
            }
        }
        Ok(out)
    }

    /// Calls `each(ip, holder)` for every lease file (`holder` as [`cache::holder`] writes it):
    /// from the cache when the cache is of this boot and the file's inode matches and
    /// `reread_all` is false, read otherwise. Rewrites the cache when anything differed. A cache
    /// that could not be used means a first survey after a reboot (or a first survey at all):
    /// then indexes are repaired (see "Crash safety" in [`crate::disk`]) before the new cache
    /// is written, so that a crash in between repeats the repair.
    fn survey(
        &self,
        reread_all: bool,
        mut each: impl FnMut(IpAddr, &str),
    ) -> Result<(), IpamError> {
        let boot = cache::boot_id();
        let text = self.read_cache();
        let old = match (boot, text.as_deref()) {
            (Some(boot), Some(text)) => cache::parse(text, boot),
            _ => None,
        };
        let recovering = old.is_none();
        let mut old = old.unwrap_or_default();
        let mut changed = recovering || reread_all;
        let mut writer = cache::Writer::new(boot.unwrap_or(NO_BOOT_ID));
        let mut read = Vec::new();
        for entry in fsio::dir_entries(&self.dir)? {
            let Ok(ip) = entry.name.parse::<IpAddr>() else {
                continue;
            };
            if entry.is_dir {
                continue;
            }
            let cached = old.remove(entry.name.as_str());
            let holder = match cached.filter(|c| c.ino == entry.ino && !reread_all) {
                Some(c) => Cow::Borrowed(c.holder),
                None => {
                    changed = true;
                    let path = self.dir.join(&entry.name);
                    let Some(bytes) = fsio::read_optional(&path)? else {
                        continue;
                    };
                    let lease = parse_lease(ip, &bytes);
                    let holder = cache::holder(&lease.container_id, &lease.ifname);
                    if recovering {
                        read.push(lease);
                    }
                    Cow::Owned(holder)
                }
            };
            writer.push(&entry.name, entry.ino, &holder);
            each(ip, &holder);
        }
        changed |= !old.is_empty();
        if recovering {
            self.repair_indexes(&read);
        }
        if changed {
            let text = writer.finish();
            if let Err(e) = fsio::overwrite(&self.cache_path(), text.as_bytes()) {
                log::warn!("ipam: lease cache not updated: {e}");
            }
        }
        Ok(())
    }

    /// The cache's text; `None` when absent or unreadable (it is only a cache).
    fn read_cache(&self) -> Option<String> {
        match fsio::read_own(&self.cache_path()) {
            Ok(bytes) => String::from_utf8(bytes?).ok(),
            Err(e) => {
                log::warn!("ipam: lease cache ignored: {e}");
                None
            }
        }
    }

    /// Adds every lease to its holder's index when that index exists and misses it. Failures
    /// are logged: the lookups' fallback to the survey still finds an unindexed lease when the
    /// index yields nothing, and GC releases what is missed otherwise.
    fn repair_indexes(&self, leases: &[Lease]) {
        let mut by_holder: BTreeMap<(&str, &str), Vec<IpAddr>> = BTreeMap::new();
        for l in leases.iter().filter(|l| !l.ifname.is_empty()) {
            let key = (l.container_id.as_str(), l.ifname.as_str());
            by_holder.entry(key).or_default().push(l.ip);
        }
        for ((cid, ifname), ips) in by_holder {
            if let Err(e) = self.repair_index(cid, ifname, &ips) {
                log::warn!("ipam: index of {cid} not repaired: {e}");
            }
        }
    }

    fn repair_index(&self, cid: &str, ifname: &str, ips: &[IpAddr]) -> Result<(), IpamError> {
        let Some(path) = self.index_path(cid, ifname) else {
            return Ok(());
        };
        let Some(bytes) = fsio::read_own(&path)? else {
            return Ok(());
        };
        let mut listed = index::decode(&bytes);
        let missing: Vec<IpAddr> = ips
            .iter()
            .filter(|ip| !listed.contains(ip))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        log::info!("ipam: re-indexing {missing:?} for {cid}/{ifname} after a reboot");
        listed.extend(missing);
        self.write_index(cid, ifname, &listed)
    }
}
