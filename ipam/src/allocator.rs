//! Allocation over range sets: round-robin from the last reserved address, requested addresses,
//! idempotent for an attachment that already holds an address, all-or-nothing across sets.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::{IpamError, Lease, RangeSet};

/// One allocated address: the address with the subnet's prefix, and the range's gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index of the range set it came from.
    pub range_set: usize,
}

/// The IPAM of one network on disk: `<data_dir>/<network>/`.
#[allow(dead_code)]
pub struct Ipam {
    store: crate::DiskStore,
}

impl Ipam {
    /// Opens (creating directories as needed) the store for `network` under `data_dir`. The
    /// network name is validated (no '/', NUL, not '.'/'..', non-empty, ≤ 255 bytes).
    pub fn open(data_dir: &Path, network: &str) -> Result<Ipam, IpamError> {
        let _ = (data_dir, network);
        todo!("ipam::Ipam::open")
    }

    /// Allocates one address from each range set for the attachment, under the lock.
    /// - An attachment that already holds an address in a set gets the same one back.
    /// - `requested` addresses are matched to the set that contains them; a requested address
    ///   outside every set is `NotInRange`; one leased to another attachment is `AlreadyLeased`.
    /// - Otherwise round-robin from the set's `last_reserved_ip.<i>`, skipping gateways and
    ///   leased addresses; none free → `Exhausted` naming the set.
    /// - All or nothing: if any set fails, what this call reserved is released before returning.
    pub fn allocate(
        &self,
        sets: &[RangeSet],
        container_id: &str,
        ifname: &str,
        requested: &[IpAddr],
    ) -> Result<Vec<Allocation>, IpamError> {
        let _ = (sets, container_id, ifname, requested);
        todo!("ipam::Ipam::allocate")
    }

    /// Releases every address of the attachment (idempotent). Returns what was released.
    pub fn release(&self, container_id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let _ = (container_id, ifname);
        todo!("ipam::Ipam::release")
    }

    /// The addresses the attachment holds (for CHECK).
    pub fn get(&self, container_id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let _ = (container_id, ifname);
        todo!("ipam::Ipam::get")
    }

    /// Releases every lease whose (container ID, ifname) is not in `valid`. A host-local lease
    /// without an ifname is kept if its container ID appears in `valid` at all. Goes on past
    /// errors; returns the released addresses and the errors met.
    pub fn gc(&self, valid: &[(String, String)]) -> (Vec<IpAddr>, Vec<IpamError>) {
        let _ = valid;
        todo!("ipam::Ipam::gc")
    }

    /// Every lease (for `lichen ipam list` and STATUS).
    pub fn leases(&self) -> Result<Vec<Lease>, IpamError> {
        todo!("ipam::Ipam::leases")
    }

    /// How many addresses are still free in each range set (for STATUS).
    pub fn free_counts(&self, sets: &[RangeSet]) -> Result<Vec<u128>, IpamError> {
        let _ = sets;
        todo!("ipam::Ipam::free_counts")
    }
}
