//! Allocation over range sets: round-robin from the last reserved address, requested addresses,
//! idempotent for an attachment that already holds an address, all-or-nothing across sets.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::{DiskStore, IpamError, Lease, Range, RangeSet, Store};

/// One allocated address: the address with the subnet's prefix, and the range's gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index of the range set it came from.
    pub range_set: usize,
}

impl Allocation {
    fn new(ip: IpAddr, range: &Range, range_set: usize) -> Allocation {
        Allocation {
            // The prefix comes from a valid IpNet of the same family: this cannot fail.
            address: IpNet::new(ip, range.subnet.prefix_len()).unwrap_or(range.subnet),
            gateway: range.gateway,
            range_set,
        }
    }
}

/// The IPAM of one network; on disk by default (`<data_dir>/<network>/`), or over any
/// [`Store`] (see [`Ipam::with_store`]).
pub struct Ipam<S: Store = DiskStore> {
    store: S,
}

impl Ipam<DiskStore> {
    /// Opens (creating directories as needed) the store for `network` under `data_dir`. The
    /// network name is validated (no '/', NUL, not '.'/'..', non-empty, ≤ 255 bytes).
    pub fn open(data_dir: &Path, network: &str) -> Result<Ipam, IpamError> {
        Ok(Ipam::with_store(DiskStore::open(data_dir, network)?))
    }
}

impl<S: Store> Ipam<S> {
    pub fn with_store(store: S) -> Ipam<S> {
        Ipam { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Allocates one address from each range set for the attachment, under the lock.
    /// - An attachment that already holds an address in a set gets the same one back.
    /// - `requested` addresses are matched to the set that contains them; a requested address
    ///   outside every set is `NotInRange`; one leased to another attachment is `AlreadyLeased`
    ///   (so is a gateway). At most one requested address per set. A requested address the
    ///   attachment does not hold yet is reserved even if it holds another one in that set
    ///   (host-local does the same); both are released together.
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
        self.store.prepare(container_id, ifname);
        let result = self.allocate_locked(sets, container_id, ifname, requested);
        self.store.finish(container_id, ifname);
        result
    }

    fn allocate_locked(
        &self,
        sets: &[RangeSet],
        container_id: &str,
        ifname: &str,
        requested: &[IpAddr],
    ) -> Result<Vec<Allocation>, IpamError> {
        let _guard = self.store.lock()?;
        let wanted = match_requests(sets, requested)?;
        let held = self.store.get_by_attachment(container_id, ifname)?;
        let mut fresh = Vec::new();
        let mut out = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            let taken = match wanted[i] {
                Some(ip) => self.take_requested(ip, set, i, &held, container_id, ifname),
                None => self.take_any(set, i, &held, container_id, ifname),
            };
            match taken {
                Ok((alloc, is_new)) => {
                    if is_new {
                        fresh.push(alloc.address.addr());
                    }
                    out.push(alloc);
                }
                Err(e) => {
                    self.roll_back(&fresh);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    fn take_requested(
        &self,
        ip: IpAddr,
        set: &RangeSet,
        i: usize,
        held: &[IpAddr],
        cid: &str,
        ifname: &str,
    ) -> Result<(Allocation, bool), IpamError> {
        let range = set.range_for(ip).ok_or_else(|| not_in(ip, set))?;
        if held.contains(&ip) {
            return Ok((Allocation::new(ip, range, i), false));
        }
        if self.store.reserve(ip, cid, ifname, i)? {
            return Ok((Allocation::new(ip, range, i), true));
        }
        let holder = match self.store.lease(ip)? {
            Some(l) => describe_holder(&l),
            None => "an unknown holder".into(),
        };
        Err(IpamError::AlreadyLeased { ip, holder })
    }

    fn take_any(
        &self,
        set: &RangeSet,
        i: usize,
        held: &[IpAddr],
        cid: &str,
        ifname: &str,
    ) -> Result<(Allocation, bool), IpamError> {
        if let Some((ip, range)) = held.iter().find_map(|ip| Some((*ip, set.range_for(*ip)?))) {
            return Ok((Allocation::new(ip, range, i), false));
        }
        let cursor = self.store.last_reserved(i)?;
        for (ip, range) in set.round_robin(cursor) {
            if range.gateway == Some(ip) {
                continue;
            }
            if self.store.reserve(ip, cid, ifname, i)? {
                return Ok((Allocation::new(ip, range, i), true));
            }
        }
        Err(IpamError::Exhausted {
            range: set.describe(),
        })
    }

    /// Undoes this call's reservations. A failure here leaves a lease that GC will release;
    /// the original error is what the caller needs to see.
    fn roll_back(&self, fresh: &[IpAddr]) {
        for ip in fresh.iter().rev() {
            if let Err(e) = self.store.release_ip(*ip) {
                log::warn!("ipam: could not roll back the lease of {ip}: {e}");
            }
        }
    }

    /// Releases every address of the attachment (idempotent). Returns what was released.
    pub fn release(&self, container_id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let _guard = self.store.lock()?;
        self.store.release_attachment(container_id, ifname)
    }

    /// The addresses the attachment holds (for CHECK).
    pub fn get(&self, container_id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let _guard = self.store.lock()?;
        self.store.get_by_attachment(container_id, ifname)
    }

    /// Releases every lease whose (container ID, ifname) is not in `valid`. A host-local lease
    /// without an ifname is kept if its container ID appears in `valid` at all. Goes on past
    /// errors; returns the released addresses and the errors met.
    pub fn gc(&self, valid: &[(String, String)]) -> (Vec<IpAddr>, Vec<IpamError>) {
        let _guard = match self.store.lock() {
            Ok(g) => g,
            Err(e) => return (Vec::new(), vec![e]),
        };
        let mut released = Vec::new();
        let mut errors = Vec::new();
        match self.store.list() {
            Ok(leases) => {
                for lease in unkept(leases, valid) {
                    match self.store.release_ip(lease.ip) {
                        Ok(()) => released.push(lease.ip),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        errors.extend(self.store.sweep());
        (released, errors)
    }

    /// The leases [`Ipam::gc`] would release for `valid`, changing nothing (`--dry-run`).
    pub fn gc_plan(&self, valid: &[(String, String)]) -> Result<Vec<Lease>, IpamError> {
        let _guard = self.store.lock()?;
        Ok(unkept(self.store.list()?, valid))
    }

    /// Every lease (for `lichen ipam list` and STATUS).
    pub fn leases(&self) -> Result<Vec<Lease>, IpamError> {
        let _guard = self.store.lock()?;
        self.store.list()
    }

    /// How many addresses are still free in each range set (for STATUS): the set's addresses
    /// minus its gateways and its leases.
    pub fn free_counts(&self, sets: &[RangeSet]) -> Result<Vec<u128>, IpamError> {
        let leases = self.leases()?;
        let counts = sets.iter().map(|set| {
            let mut busy: Vec<IpAddr> = leases
                .iter()
                .map(|l| l.ip)
                .filter(|ip| set.contains(*ip))
                .collect();
            busy.extend(
                set.0
                    .iter()
                    .filter_map(|r| r.gateway)
                    .filter(|g| set.contains(*g)),
            );
            busy.sort_unstable();
            busy.dedup();
            let total = set
                .0
                .iter()
                .map(Range::size)
                .fold(0u128, u128::saturating_add);
            total.saturating_sub(busy.len() as u128)
        });
        Ok(counts.collect())
    }
}

/// Assigns each requested address to the set holding it: at most one per set, every one placed.
fn match_requests(
    sets: &[RangeSet],
    requested: &[IpAddr],
) -> Result<Vec<Option<IpAddr>>, IpamError> {
    let mut wanted = vec![None; sets.len()];
    for &ip in requested {
        let Some(i) = sets.iter().position(|s| s.contains(ip)) else {
            let all: Vec<String> = sets.iter().map(RangeSet::describe).collect();
            return Err(IpamError::NotInRange {
                ip,
                range: all.join("; "),
            });
        };
        match wanted[i] {
            Some(first) if first != ip => {
                return Err(IpamError::NotInRange {
                    ip,
                    range: format!(
                        "{} (which already gives {first}: one address per range set)",
                        sets[i].describe()
                    ),
                })
            }
            _ => wanted[i] = Some(ip),
        }
        if let Some(range) = sets[i].range_for(ip).filter(|r| r.gateway == Some(ip)) {
            return Err(IpamError::AlreadyLeased {
                ip,
                holder: format!("the gateway of {}", range.subnet),
            });
        }
    }
    Ok(wanted)
}

fn not_in(ip: IpAddr, set: &RangeSet) -> IpamError {
    IpamError::NotInRange {
        ip,
        range: set.describe(),
    }
}

fn describe_holder(l: &Lease) -> String {
    if l.ifname.is_empty() {
        format!("container {}", l.container_id)
    } else {
        format!("container {} interface {}", l.container_id, l.ifname)
    }
}

/// The leases no attachment in `valid` holds. A host-local lease without an ifname is held when
/// its container ID appears in `valid` at all.
fn unkept(leases: Vec<Lease>, valid: &[(String, String)]) -> Vec<Lease> {
    leases
        .into_iter()
        .filter(|l| {
            !valid
                .iter()
                .any(|(c, i)| l.held_by(c, i) || l.held_by_container(c))
        })
        .collect()
}
