//! The storage interface the allocator works against.

use std::net::IpAddr;

use crate::IpamError;

/// One lease as stored: the address and who holds it. `ifname` is empty for host-local's older
/// lease files that hold only the container ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ip: IpAddr,
    pub container_id: String,
    pub ifname: String,
}

impl Lease {
    /// Is this lease the attachment's? Exactly: same container ID (trimmed, as host-local
    /// writes it) and ifname.
    pub fn held_by(&self, container_id: &str, ifname: &str) -> bool {
        self.container_id == container_id.trim() && self.ifname == ifname
    }

    /// host-local's older files name only the container: they belong to any of its interfaces.
    pub fn held_by_container(&self, container_id: &str) -> bool {
        self.ifname.is_empty() && self.container_id == container_id.trim()
    }
}

/// A lease store for one network. Callers hold [`Store::lock`]'s guard for a whole operation.
pub trait Store {
    type Guard<'a>
    where
        Self: 'a;

    /// Exclusive lock for the whole network (host-local's `lock` file, flock).
    fn lock(&self) -> Result<Self::Guard<'_>, IpamError>;
    /// Records `ip` for the attachment. `Ok(false)` when the address is already leased (to
    /// anyone). Never overwrites an existing lease. `range_set` updates that set's cursor.
    fn reserve(
        &self,
        ip: IpAddr,
        container_id: &str,
        ifname: &str,
        range_set: usize,
    ) -> Result<bool, IpamError>;
    /// The round-robin cursor of a range set, if any.
    fn last_reserved(&self, range_set: usize) -> Result<Option<IpAddr>, IpamError>;
    /// Is this address leased (to anyone)?
    fn is_leased(&self, ip: IpAddr) -> Result<bool, IpamError>;
    /// The addresses held by an attachment.
    fn get_by_attachment(&self, container_id: &str, ifname: &str)
        -> Result<Vec<IpAddr>, IpamError>;
    /// Releases every address of an attachment; returns them. Releasing nothing is Ok(empty).
    fn release_attachment(
        &self,
        container_id: &str,
        ifname: &str,
    ) -> Result<Vec<IpAddr>, IpamError>;
    /// Releases one address, whoever holds it (the caller holds the lock and has checked).
    fn release_ip(&self, ip: IpAddr) -> Result<(), IpamError>;
    /// Every lease in the network.
    fn list(&self) -> Result<Vec<Lease>, IpamError>;

    /// The lease of one address, if any.
    fn lease(&self, ip: IpAddr) -> Result<Option<Lease>, IpamError> {
        Ok(self.list()?.into_iter().find(|l| l.ip == ip))
    }

    /// Work for the attachment's coming reservations that needs no lock, done before taking
    /// it so that less happens under it (the disk store writes and fsyncs the lease text).
    /// Best effort: [`Store::reserve`] works without it.
    fn prepare(&self, _container_id: &str, _ifname: &str) {}

    /// Called once the operation's lock is released: drops what [`Store::prepare`] made for
    /// the attachment, used or not.
    fn finish(&self, _container_id: &str, _ifname: &str) {}

    /// Housekeeping for GC: removes what a crash can leave behind (stale temp files, index
    /// entries pointing nowhere). Returns the errors met; goes on past them.
    fn sweep(&self) -> Vec<IpamError> {
        Vec::new()
    }
}
