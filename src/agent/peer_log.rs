//! Peer statuses across passes: a plan step the kernel refuses marks its peer subnet failed
//! (status comes from what the kernel accepted, not from what was desired), and each peer
//! subnet that is not programmed is logged once, again only when its reason changes or after
//! it was programmed and then refused again.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use lichen_backends::{PeerState, PeerStatus};

/// The refusal last logged per peer subnet.
#[derive(Debug, Default)]
pub struct Refusals {
    logged: BTreeMap<(String, Option<IpNet>), String>,
}

impl Refusals {
    /// Logs the refusals among `peers` not logged with that reason at the previous call.
    pub fn log_new(&mut self, peers: &[PeerStatus]) {
        let mut now = BTreeMap::new();
        for p in peers {
            let Some(why) = p.state.reason() else {
                continue;
            };
            let key = (p.name.clone(), p.subnet);
            if self.logged.get(&key).map(String::as_str) != Some(why) {
                let subnet = p
                    .subnet
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into());
                log::warn!("peer {} {subnet} not programmed: {why}", p.name);
            }
            now.insert(key, why.to_owned());
        }
        self.logged = now;
    }
}

/// Marks the programmed peer subnet holding `addr` as failed with `why`.
pub fn mark_failed(peers: &mut [PeerStatus], addr: IpAddr, why: &str) {
    let holds = |p: &PeerStatus| p.subnet.is_some_and(|s| s.contains(&addr));
    for p in peers.iter_mut().filter(|p| holds(p)) {
        if matches!(p.state, PeerState::Programmed(_)) {
            p.state = PeerState::Failed(why.to_owned());
        }
    }
}
