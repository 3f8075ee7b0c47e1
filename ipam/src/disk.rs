//! The host-local compatible on-disk store. See the crate docs for the layout.
//!
//! Besides host-local's files, lichen keeps `<dir>/.lichen/`:
//!
//! ```text
//! .lichen/attachments/<cid>@<ifname>   addresses lichen leased to the attachment (see `index`)
//! .lichen/tmp/.tmp-<pid>-<n>           temp files, only ever present while the lock is held
//! ```
//!
//! host-local walks the whole network directory recursively when it releases or looks up an
//! attachment, reading every regular file: it skips names that are not addresses when listing
//! and only deletes files whose trimmed content equals the attachment's. Index files never match
//! (see `index`); a temp file left by a crash holds a complete lease text under a name that is
//! not an address, so at worst host-local deletes that stale temp. Nothing here is ever taken
//! for a lease, by either implementation: leases are the regular files of the network directory
//! itself whose name parses as an address.
//!
//! # Crash safety
//!
//! Every mutation happens under the flock on `lock`. Reserving `ip` for attachment A:
//!
//! 1. if `<dir>/<ip>` exists, stop (leased);
//! 2. add `ip` to A's index: temp file, fsync, rename, fsync `.lichen/attachments`;
//! 3. write the lease text to a temp file and fsync it;
//! 4. `link()` it to `<dir>/<ip>` (EEXIST: leased by someone else, never overwritten);
//! 5. unlink the temp, fsync `<dir>`; 6. write the cursor (temp + rename, a hint only).
//!
//! - The lease file appears by `link()` of a file whose data is already on disk, so after any
//!   crash `<dir>/<ip>` is either absent or complete: never empty or torn (host-local's O_EXCL
//!   create-then-write can leave an empty lease; such a file still counts as leased here, and
//!   GC releases it since no valid attachment has an empty ID).
//! - Step 2 is durable before step 4 starts, so "a lichen lease exists ⇒ its attachment's index
//!   lists it" holds after any crash. Release removes lease files first and the index last, so
//!   the invariant survives release too. The converse need not hold: an index entry may point
//!   at nothing (crash between 2 and 4, or between unlink and index update) or at an address
//!   since leased to someone else; readers therefore verify the lease file's content before
//!   trusting an entry, and GC drops entries that point nowhere.
//! - A crash after 3 leaves a temp file: its name is not an address, so nobody reads it as a
//!   lease; the next locked operation deletes every file in `.lichen/tmp` (none can belong to a
//!   live writer, since writers hold the lock). A crash after 4 but before the temp's unlink
//!   leaves both: the lease is whole, the temp is swept later.
//! - Release: unlink the attachment's verified lease files, fsync `<dir>`, then delete the
//!   index. A crash in between leaves an index pointing nowhere (harmless, see above).
//! - When an attachment's index yields no verified lease (no index: host-local wrote its
//!   leases, or an index left dangling), release and lookup fall back to reading every lease,
//!   with host-local's matching rules. Known limit: if host-local itself adds a lease for an
//!   attachment that also has lichen-indexed leases, release misses it; GC releases it.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::fsio::{self, FileLock};
use crate::{index, IpamError, Lease, Store};

const LOCK_FILE: &str = "lock";
const CURSOR_PREFIX: &str = "last_reserved_ip.";
const META_DIR: &str = ".lichen";
const INDEX_DIR: &str = "attachments";
const TMP_DIR: &str = "tmp";

/// The store of one network directory.
pub struct DiskStore {
    pub dir: PathBuf,
}

/// The network's flock, held until dropped.
#[derive(Debug)]
pub struct DiskLock {
    _lock: FileLock,
}

/// A network name becomes a directory under dataDir: it must be a single, real path component.
pub fn validate_network_name(name: &str) -> Result<(), IpamError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > 255
        || name.contains('/')
        || name.contains('\0');
    if bad {
        return Err(IpamError::InvalidNetworkName(name.to_string()));
    }
    Ok(())
}

/// A lease file's text as host-local writes it.
pub fn lease_text(container_id: &str, ifname: &str) -> String {
    format!("{}\r\n{}", container_id.trim(), ifname)
}

/// Reads a lease file's text: `"<id>\r\n<ifname>"`, or host-local's older `"<id>"`.
pub fn parse_lease(ip: IpAddr, bytes: &[u8]) -> Lease {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let (container_id, ifname) = text.split_once("\r\n").unwrap_or((text, ""));
    Lease {
        ip,
        container_id: container_id.to_string(),
        ifname: ifname.to_string(),
    }
}

impl DiskStore {
    /// Opens `<data_dir>/<network>/`, creating it and lichen's subdirectories.
    pub fn open(data_dir: &Path, network: &str) -> Result<DiskStore, IpamError> {
        validate_network_name(network)?;
        let store = DiskStore {
            dir: data_dir.join(network),
        };
        fsio::mkdir_all(&store.index_dir())?;
        fsio::mkdir_all(&store.tmp_dir())?;
        Ok(store)
    }

    /// Where the lease of `ip` lives: the address as host-local (Go's `net.IP.String`) prints
    /// it; for IPv6 that is the RFC 5952 form, which Rust's `Display` prints too.
    pub fn lease_path(&self, ip: IpAddr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    pub fn cursor_path(&self, range_set: usize) -> PathBuf {
        self.dir.join(format!("{CURSOR_PREFIX}{range_set}"))
    }

    pub fn index_dir(&self) -> PathBuf {
        self.dir.join(META_DIR).join(INDEX_DIR)
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join(META_DIR).join(TMP_DIR)
    }

    fn index_path(&self, container_id: &str, ifname: &str) -> Option<PathBuf> {
        index::key(container_id, ifname).map(|k| self.index_dir().join(k))
    }

    /// The addresses an attachment's index lists (unverified); empty when it has none.
    fn read_index(&self, container_id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let Some(path) = self.index_path(container_id, ifname) else {
            return Ok(Vec::new());
        };
        Ok(fsio::read_optional(&path)?
            .map(|b| index::decode(&b))
            .unwrap_or_default())
    }

    /// Rewrites an attachment's index; an empty list deletes it.
    fn write_index(
        &self,
        cid: &str,
        ifname: &str,
        ips: &[IpAddr],
        durable: bool,
    ) -> Result<(), IpamError> {
        let Some(path) = self.index_path(cid, ifname) else {
            return Ok(());
        };
        if ips.is_empty() {
            return fsio::remove_optional(&path).map(drop);
        }
        fsio::replace(
            &self.tmp_dir(),
            &path,
            index::encode(ips).as_bytes(),
            durable,
        )
    }

    /// Step 2 of a reservation: durably adds `ip` to the attachment's index. `Ok(true)` if it
    /// was not listed before.
    pub(crate) fn index_add(&self, cid: &str, ifname: &str, ip: IpAddr) -> Result<bool, IpamError> {
        let mut ips = self.read_index(cid, ifname)?;
        if ips.contains(&ip) {
            return Ok(false);
        }
        ips.push(ip);
        self.write_index(cid, ifname, &ips, true)?;
        Ok(true)
    }

    fn index_remove(&self, cid: &str, ifname: &str, ip: IpAddr) -> Result<(), IpamError> {
        let mut ips = self.read_index(cid, ifname)?;
        if ips.contains(&ip) {
            ips.retain(|i| *i != ip);
            self.write_index(cid, ifname, &ips, false)?;
        }
        Ok(())
    }

    /// Step 3: the lease text in a fsynced temp file.
    pub(crate) fn write_lease_temp(&self, cid: &str, ifname: &str) -> Result<PathBuf, IpamError> {
        fsio::write_temp(&self.tmp_dir(), lease_text(cid, ifname).as_bytes(), true)
    }

    /// Steps 4 and 5: link the temp to the lease name (never replacing one), drop the temp,
    /// make the new name durable. `Ok(false)` if the address was leased meanwhile.
    pub(crate) fn publish_lease(&self, tmp: &Path, ip: IpAddr) -> Result<bool, IpamError> {
        let linked = fsio::link_new(tmp, &self.lease_path(ip));
        if let Err(e) = fsio::remove_optional(tmp) {
            log::warn!("ipam: {e} (the next locked operation removes it)");
        }
        if !linked? {
            return Ok(false);
        }
        if let Err(e) = fsio::fsync_dir(&self.dir) {
            // Not known to be durable: undo, so the caller's error leaves nothing behind.
            let _ = fsio::remove_optional(&self.lease_path(ip));
            return Err(e);
        }
        Ok(true)
    }

    /// Step 6: the round-robin cursor. Only a hint: a lost or torn cursor restarts round-robin
    /// at the range start, so it is renamed into place but not fsynced.
    fn write_cursor(&self, range_set: usize, ip: IpAddr) -> Result<(), IpamError> {
        let text = ip.to_string();
        fsio::replace(
            &self.tmp_dir(),
            &self.cursor_path(range_set),
            text.as_bytes(),
            false,
        )
    }

    /// The attachment's leases its index lists, checked against the lease files.
    fn indexed_leases(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let mut mine = Vec::new();
        for ip in self.read_index(cid, ifname)? {
            if self.lease(ip)?.is_some_and(|l| l.held_by(cid, ifname)) {
                mine.push(ip);
            }
        }
        Ok(mine)
    }

    /// Deletes every temp file: only called with the lock held, when no writer is active.
    fn clear_temps(&self) -> Vec<IpamError> {
        let tmp = self.tmp_dir();
        match fsio::dir_names(&tmp) {
            Ok(names) => names
                .iter()
                .filter_map(|n| fsio::remove_optional(&tmp.join(n)).err())
                .collect(),
            Err(e) => vec![e],
        }
    }

    /// Drops index entries that point nowhere (or at someone else's lease) and index files
    /// that are not ours.
    fn tidy_index(&self) -> Vec<IpamError> {
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
            self.write_index(cid, ifname, &live, false)?;
        }
        Ok(())
    }

    /// Every lease file's holder matching the attachment by host-local's rules: exact
    /// matches, or (when there are none, for release) the container's older ifname-less files.
    fn scan(
        &self,
        cid: &str,
        ifname: &str,
        older_only_if_none: bool,
    ) -> Result<Vec<IpAddr>, IpamError> {
        let leases = self.list()?;
        let exact: Vec<IpAddr> = leases
            .iter()
            .filter(|l| l.held_by(cid, ifname))
            .map(|l| l.ip)
            .collect();
        if older_only_if_none && !exact.is_empty() {
            return Ok(exact);
        }
        let older = leases
            .iter()
            .filter(|l| l.held_by_container(cid))
            .map(|l| l.ip);
        Ok(exact.iter().copied().chain(older).collect())
    }
}

impl Store for DiskStore {
    type Guard<'a> = DiskLock;

    fn lock(&self) -> Result<DiskLock, IpamError> {
        let lock = fsio::lock_exclusive(&self.dir.join(LOCK_FILE))?;
        for e in self.clear_temps() {
            log::warn!("ipam: removing a stale temp file: {e}");
        }
        Ok(DiskLock { _lock: lock })
    }

    fn reserve(
        &self,
        ip: IpAddr,
        cid: &str,
        ifname: &str,
        range_set: usize,
    ) -> Result<bool, IpamError> {
        if self.is_leased(ip)? {
            return Ok(false);
        }
        let newly_indexed = self.index_add(cid, ifname, ip)?;
        let tmp = self.write_lease_temp(cid, ifname)?;
        if !self.publish_lease(&tmp, ip)? {
            if newly_indexed {
                self.index_remove(cid, ifname, ip)?;
            }
            return Ok(false);
        }
        if let Err(e) = self.write_cursor(range_set, ip) {
            log::warn!("ipam: round-robin cursor not updated: {e}");
        }
        Ok(true)
    }

    fn last_reserved(&self, range_set: usize) -> Result<Option<IpAddr>, IpamError> {
        let bytes = fsio::read_optional(&self.cursor_path(range_set))?;
        Ok(bytes.and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok()))
    }

    fn is_leased(&self, ip: IpAddr) -> Result<bool, IpamError> {
        let path = self.lease_path(ip);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(fsio::io_err(&path, "stat")(e)),
        }
    }

    fn get_by_attachment(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let indexed = self.indexed_leases(cid, ifname)?;
        if !indexed.is_empty() {
            return Ok(indexed);
        }
        self.scan(cid, ifname, false)
    }

    fn release_attachment(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let mut targets = self.indexed_leases(cid, ifname)?;
        if targets.is_empty() {
            targets = self.scan(cid, ifname, true)?;
        }
        let mut released = Vec::new();
        for ip in targets {
            if fsio::remove_optional(&self.lease_path(ip))? {
                released.push(ip);
            }
        }
        if !released.is_empty() {
            fsio::fsync_dir(&self.dir)?;
        }
        self.write_index(cid, ifname, &[], false)?;
        Ok(released)
    }

    fn release_ip(&self, ip: IpAddr) -> Result<(), IpamError> {
        let Some(lease) = self.lease(ip)? else {
            return Ok(());
        };
        fsio::remove_optional(&self.lease_path(ip))?;
        fsio::fsync_dir(&self.dir)?;
        if let Err(e) = self.index_remove(&lease.container_id, &lease.ifname, ip) {
            log::warn!("ipam: index of {} not updated: {e}", lease.container_id);
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<Lease>, IpamError> {
        let mut leases = Vec::new();
        for name in fsio::dir_names(&self.dir)? {
            let Ok(ip) = name.parse::<IpAddr>() else {
                continue;
            };
            let path = self.dir.join(&name);
            if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                continue;
            }
            if let Some(bytes) = fsio::read_optional(&path)? {
                leases.push(parse_lease(ip, &bytes));
            }
        }
        leases.sort_by_key(|l| l.ip);
        Ok(leases)
    }

    fn lease(&self, ip: IpAddr) -> Result<Option<Lease>, IpamError> {
        let bytes = fsio::read_optional(&self.lease_path(ip))?;
        Ok(bytes.map(|b| parse_lease(ip, &b)))
    }

    fn sweep(&self) -> Vec<IpamError> {
        let mut errors = self.clear_temps();
        errors.extend(self.tidy_index());
        errors
    }
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore").field("dir", &self.dir).finish()
    }
}
