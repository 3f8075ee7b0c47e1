//! An in-memory [`Store`]: the allocator's test double, and usable by other crates' tests.
//! It keeps the same contract as the disk store (never overwrites a lease, host-local's
//! matching rules for older leases without an ifname), minus persistence.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use crate::{IpamError, Lease, Store};

#[derive(Default)]
pub struct MemStore {
    op: Mutex<()>,
    state: Mutex<State>,
}

#[derive(Default, Clone)]
struct State {
    leases: BTreeMap<IpAddr, (String, String)>,
    cursors: BTreeMap<usize, IpAddr>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Inserts a lease as another tool would have (e.g. host-local's older format: `ifname` "").
    pub fn insert(&self, ip: IpAddr, container_id: &str, ifname: &str) {
        self.state()
            .leases
            .insert(ip, (container_id.into(), ifname.into()));
    }

    /// Sets a range set's cursor.
    pub fn set_cursor(&self, range_set: usize, ip: IpAddr) {
        self.state().cursors.insert(range_set, ip);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn leases(&self) -> Vec<Lease> {
        let state = self.state();
        let to_lease = |(ip, (c, i)): (&IpAddr, &(String, String))| Lease {
            ip: *ip,
            container_id: c.clone(),
            ifname: i.clone(),
        };
        state.leases.iter().map(to_lease).collect()
    }
}

impl Store for MemStore {
    type Guard<'a> = MutexGuard<'a, ()>;

    fn lock(&self) -> Result<Self::Guard<'_>, IpamError> {
        Ok(self.op.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn reserve(&self, ip: IpAddr, cid: &str, ifname: &str, set: usize) -> Result<bool, IpamError> {
        let mut state = self.state();
        if state.leases.contains_key(&ip) {
            return Ok(false);
        }
        state.leases.insert(ip, (cid.trim().into(), ifname.into()));
        state.cursors.insert(set, ip);
        Ok(true)
    }

    fn last_reserved(&self, range_set: usize) -> Result<Option<IpAddr>, IpamError> {
        Ok(self.state().cursors.get(&range_set).copied())
    }

    fn is_leased(&self, ip: IpAddr) -> Result<bool, IpamError> {
        Ok(self.state().leases.contains_key(&ip))
    }

    fn get_by_attachment(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let mine = |l: &Lease| l.held_by(cid, ifname) || l.held_by_container(cid);
        Ok(self
            .leases()
            .iter()
            .filter(|l| mine(l))
            .map(|l| l.ip)
            .collect())
    }

    fn release_attachment(&self, cid: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let leases = self.leases();
        let mut gone: Vec<IpAddr> = leases
            .iter()
            .filter(|l| l.held_by(cid, ifname))
            .map(|l| l.ip)
            .collect();
        if gone.is_empty() {
            gone = leases
                .iter()
                .filter(|l| l.held_by_container(cid))
                .map(|l| l.ip)
                .collect();
        }
        let mut state = self.state();
        for ip in &gone {
            state.leases.remove(ip);
        }
        Ok(gone)
    }

    fn release_ip(&self, ip: IpAddr) -> Result<(), IpamError> {
        self.state().leases.remove(&ip);
        Ok(())
    }

    fn list(&self) -> Result<Vec<Lease>, IpamError> {
        Ok(self.leases())
    }
}
