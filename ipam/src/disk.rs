//! The host-local compatible on-disk store. See the crate docs for the layout.
//!
//! Besides host-local's files, lichen keeps `<dir>/.lichen/`:
//!
//! ```text
//! .lichen/attachments/<cid>@<ifname>   addresses lichen leased to the attachment (see `index`)
//! .lichen/leases                       cache: every lease file's holder (see `cache`)
//! .lichen/tmp/.tmp-<pid>-<n>           temp files, only ever present while the lock is held
//! .lichen/prep/.tmp-<pid>-<n>          lease texts written before the lock (see below)
//! ```
//!
//! host-local walks the whole network directory recursively when it releases or looks up an
//! attachment, reading every regular file: it skips names that are not addresses when listing
//! and only deletes files whose trimmed content equals the attachment's. Index files never match
//! (see `index`); a temp file left by a crash holds a complete lease text under a name that is
//! not an address, so at worst host-local deletes that stale temp (or a prepared lease text,
//! see below); the cache never matches either (see `cache`). Nothing here is ever taken for a
//! lease, by either implementation: leases are the regular files of the network directory
//! itself whose name parses as an address.
//!
//! # Crash safety
//!
//! Every mutation happens under the flock on `lock`. Two kinds of crash are told apart:
//!
//! - **A process dies** (SIGKILL, panic, OOM): the page cache survives, so every system call
//!   that returned is seen by the next process, in order. No fsync is needed for this: only
//!   the order of the steps matters.
//! - **The machine dies** (power loss, kernel panic): writes not yet on disk are lost, and a
//!   file system may keep a later step without an earlier one. After a reboot every pod is
//!   created again, so a lease made just before is worth nothing; what must hold is that no
//!   lease file is torn or empty, and that no address is handed out twice.
//!
//! Reserving `ip` for attachment A:
//!
//! 1. if `<dir>/<ip>` exists, stop (leased);
//! 2. add `ip` to A's index (create it whole by temp file and rename, or append a line; no fsync);
//! 3. write the lease text to a temp file and **fsync it** (the one fsync of a reservation;
//!    normally done before the lock, see "Writing ahead of the lock");
//! 4. `link()` it to `<dir>/<ip>` (EEXIST: leased by someone else, never overwritten);
//! 5. unlink the temp; 6. write the cursor (in place, as host-local does: a hint only).
//!
//! Releasing: unlink the attachment's verified lease files, then update its index. No fsync.
//!
//! Why this is enough:
//!
//! - **A lease file that exists is whole**, after either kind of crash: its name appears only
//!   by `link()` of an inode whose data was fsynced before (step 3), so whatever the file system
//!   keeps of the link, it points at complete data. The directory is not fsynced: after a
//!   power loss the link (or an unlink) may be lost. A lost lease frees an address nobody holds
//!   any more (its pod is gone); a resurrected one is a leak that GC releases. Neither hands an
//!   address out twice: one name holds one file, and reservations only ever `link()` to a free
//!   name. (host-local's O_EXCL create-then-write can leave an empty lease: such a file counts as
//!   leased, here as in host-local, and GC releases it since no valid attachment has an empty
//!   ID.)
//! - **A lease exists ⇒ its attachment's index lists it, or the attachment has no index file.**
//!   After a process crash this holds by order: step 2 returned before step 4 began; release
//!   removes the index last. A process crash inside step 2 can leave a torn last line (a
//!   failed append, e.g. ENOSPC, is cut back off); it lists no lease that exists, the next append
//!   starts on a fresh line, and an index with no verified lease sends lookups to the survey.
//!   After a power loss the unsynced index may be old, empty or gone: the first survey after
//!   a reboot (below) sees a cache from another boot, reads every lease file and adds each
//!   missing address to its holder's index if that index exists. Lookups
//!   that find no verified lease through an index fall back to the survey, which covers an
//!   attachment whose index is gone. The converse need not hold: an index entry may point at
//!   nothing (crash between 2 and 4, or between unlink and index update) or at an address since
//!   leased to someone else; readers therefore verify the lease file's content before trusting
//!   an entry, and GC drops entries that point nowhere.
//! - A crash after 3 leaves a temp file: its name is not an address, so nobody reads it as a
//!   lease; the next locked operation deletes every file in `.lichen/tmp` (none can belong to a
//!   live writer, since writers hold the lock). A crash after 4 but before the temp's unlink
//!   leaves both: the lease is whole, the temp is swept later.
//! - The cursor is a hint: torn or lost, round-robin restarts elsewhere in the range.
//!
//! Only files a torn version of which is harmless are written in place (index appends, the
//! cursor, the cache); only lease files need whole content after a power loss. Fewer temp
//! files and renames matter beyond the fsyncs: each created or freed inode costs, and ext4
//! forces the data of a file renamed over another out to disk (`auto_da_alloc`).
//!
//! # Writing ahead of the lock
//!
//! Parallel ADDs queue on the lock, so what happens under it bounds their throughput. A
//! lease's text depends only on its attachment, not on its address, so step 3 needs no lock:
//! `allocate` first calls [`Store::prepare`], which writes and fsyncs the text in
//! `.lichen/prep/`, then takes the lock, where each reservation only `link()`s that file to its
//! address (one inode then backs all of the call's leases: they hold the same text and nobody
//! modifies a lease in place); [`Store::finish`] unlinks the prepared name once the lock is
//! released. The argument above is unchanged: the data is on disk before any name links to it.
//! The prepared files are not in `.lichen/tmp`, whose sweep at every lock would delete them
//! under a waiting writer; a crash leaves one behind (never taken for a lease: its name is not
//! an address), which GC removes once it is older than any live operation. If the prepared file
//! is gone or unusable (host-local's DEL walk deletes files holding the text it releases), the
//! reservation writes and fsyncs its temp under the lock as in step 3.
//!
//! # The lease cache (`.lichen/leases`)
//!
//! A fresh attachment's ADD must know whether some lease file already names it (host-local may
//! have written one before a switch, and its ADD is being retried), and release of an
//! attachment without a usable index must find its leases. Rather than reading every lease file
//! each time, the store keeps a cache of every lease file's holder keyed by file name and inode
//! number (see the `cache` module), and a *survey* is: read the cache, `readdir` the network
//! directory (names and inodes, nothing opened), take the holder from the cache for every name
//! whose inode matches, read the others, drop cached names that are gone, and rewrite the cache
//! (in place, checksummed, no fsync) if anything differed. Each operation therefore opens only
//! the lease files created since the previous survey. The cache needs no ordering with the
//! lease files: whatever it says, the next survey's `readdir` corrects it.
//!
//! The cache is never trusted for safety. Whether an address is free is decided by `stat` and
//! `link()` on the lease name itself; the cache only says which leases an attachment holds, and
//! each address it names is verified by reading its lease file before it is returned or
//! released. A missing, torn (count or checksum not matching), foreign or older-boot cache is
//! not used:
//! the survey reads every file and rebuilds it. A stale cache is corrected by the `readdir`: new
//! names (host-local's leases, ours after a crash before the rewrite) are read, vanished names
//! dropped, a name re-created with another inode re-read. What it cannot see is a lease file
//! rewritten in place (nobody does that), or deleted and re-created under the same name *and*
//! the same inode number between two surveys: lichen always surveys before a fresh ADD, so
//! only host-local can do that (a DEL then an ADD of that address while lichen is not used,
//! with the file system reusing the inode number). Then a survey may miss that the new holder
//! holds it: its ADD by lichen allocates it a second address (never someone else's) and its
//! release leaves that lease to GC, which reads every file. The cache records the boot ID: a cache from another boot marks
//! the first survey after a power loss, which rebuilds it and repairs indexes (above).
//! Listing (GC, `lichen ipam list`, STATUS) always reads every file, and rebuilds the cache.
//!
//! # Known limit
//!
//! If host-local itself adds a lease for an attachment that also has lichen-indexed leases,
//! release and lookup through the index miss it until the next reboot's repair; GC releases it.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::fsio::{self, FileLock};
use crate::{IpamError, Lease, Store};

mod attachments;
mod prepared;
mod reserve;
mod survey;

const LOCK_FILE: &str = "lock";
const CURSOR_PREFIX: &str = "last_reserved_ip.";
const META_DIR: &str = ".lichen";
const INDEX_DIR: &str = "attachments";
const TMP_DIR: &str = "tmp";
const CACHE_FILE: &str = "leases";
const PREP_DIR: &str = "prep";

/// The store of one network directory.
pub struct DiskStore {
    pub dir: PathBuf,
    /// Lease files written ahead of the lock by [`Store::prepare`]: (lease text, path).
    prepared: Mutex<Vec<(String, PathBuf)>>,
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
        let store = DiskStore::at(data_dir.join(network));
        fsio::mkdir_all(&store.dir)?;
        fsio::mkdir_own(&store.dir.join(META_DIR))?;
        fsio::mkdir_own(&store.index_dir())?;
        fsio::mkdir_own(&store.tmp_dir())?;
        fsio::mkdir_own(&store.prep_dir())?;
        Ok(store)
    }

    /// The store of the network directory `dir` as it is: nothing is created or checked.
    pub fn at(dir: PathBuf) -> DiskStore {
        DiskStore {
            dir,
            prepared: Mutex::new(Vec::new()),
        }
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

    /// Lease files written before the lock (see "Writing ahead of the lock" above).
    pub fn prep_dir(&self) -> PathBuf {
        self.dir.join(META_DIR).join(PREP_DIR)
    }

    /// The lease cache (see "The lease cache" above).
    pub fn cache_path(&self) -> PathBuf {
        self.dir.join(META_DIR).join(CACHE_FILE)
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
        if !self.link_lease(cid, ifname, ip)? {
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
        let bytes = fsio::read_own(&self.cursor_path(range_set))?;
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
        self.surveyed_holdings(cid, ifname, false)
    }

    fn release_attachment(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let mut targets = self.indexed_leases(cid, ifname)?;
        if targets.is_empty() {
            targets = self.surveyed_holdings(cid, ifname, true)?;
        }
        let mut released = Vec::new();
        for ip in targets {
            if fsio::remove_optional(&self.lease_path(ip))? {
                released.push(ip);
            }
        }
        self.write_index(cid, ifname, &[])?;
        Ok(released)
    }

    fn release_ip(&self, ip: IpAddr) -> Result<(), IpamError> {
        let Some(lease) = self.lease(ip)? else {
            return Ok(());
        };
        fsio::remove_optional(&self.lease_path(ip))?;
        if let Err(e) = self.index_remove(&lease.container_id, &lease.ifname, ip) {
            log::warn!("ipam: index of {} not updated: {e}", lease.container_id);
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<Lease>, IpamError> {
        self.list_all()
    }

    fn lease(&self, ip: IpAddr) -> Result<Option<Lease>, IpamError> {
        let bytes = fsio::read_optional(&self.lease_path(ip))?;
        Ok(bytes.map(|b| parse_lease(ip, &b)))
    }

    fn prepare(&self, cid: &str, ifname: &str) {
        self.prepare_lease(cid, ifname);
    }

    fn finish(&self, cid: &str, ifname: &str) {
        self.drop_prepared(&lease_text(cid, ifname));
    }

    fn sweep(&self) -> Vec<IpamError> {
        let mut errors = self.clear_temps();
        errors.extend(self.sweep_prepared());
        errors.extend(self.tidy_index());
        errors
    }
}

impl Drop for DiskStore {
    fn drop(&mut self) {
        self.drop_all_prepared();
    }
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore").field("dir", &self.dir).finish()
    }
}
