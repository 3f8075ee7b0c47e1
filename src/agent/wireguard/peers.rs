//! The peer diff, a pure function: the changes that make a device's peers the wanted ones
//! ([`peer_changes`]), given what the device reports and the endpoint the agent last set for
//! each peer ([`Endpoints`], kept by the caller between passes).
//!
//! Per wanted peer (named by its public key):
//! - missing on the device: added with its endpoint, keepalive, allowed IPs and pre-shared key;
//! - present: its allowed IPs replaced when they differ as sets, its pre-shared key set when
//!   it differs (all zeros removes it), its keepalive when it differs; its endpoint (with the
//!   keepalive) only when the wanted endpoint changed since the agent last set it. A device
//!   endpoint that differs from the wanted one is otherwise left alone: WireGuard roams to
//!   where the peer's packets really come from (a NAT's mapping), and re-setting it on every
//!   resync would cut such a peer off until it sends again.
//!   After an agent restart the memory is empty: a peer whose device entry has an endpoint
//!   keeps it (the previous agent set it, or the peer roamed there), one without gets the
//!   wanted one. The cost: an endpoint annotation changed while the agent was down is applied
//!   only if the peer never reaches us from its new address (it then roams in by itself).
//! - Every device peer not wanted is removed, in the same message and before the additions: a
//!   node whose key changed (old key gone, new key wanted) is switched over in one set.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use ipnet::IpNet;
use lichen_backends::WgPeer;
use lichen_wireguard::{DeviceState, Key, PeerConfig, PeerState};

/// The endpoint the agent last set (or adopted) per peer public key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints(pub HashMap<Key, SocketAddr>);

/// What one pass sends for the peers, and the endpoint memory once that is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerChanges {
    /// Removals first, then additions and updates; empty when the device matches.
    pub peers: Vec<PeerConfig>,
    /// Keep this as the memory once `peers` is applied (on failure keep the old one).
    pub endpoints: Endpoints,
}

/// The changes that make `device`'s peers `wanted` (a later duplicate of a public key is
/// ignored: the backends never want one).
pub fn peer_changes(wanted: &[WgPeer], device: &DeviceState, set: &Endpoints) -> PeerChanges {
    let mut seen = HashSet::new();
    let wanted: Vec<&WgPeer> = wanted
        .iter()
        .filter(|w| seen.insert(w.public_key))
        .collect();
    let mut peers: Vec<PeerConfig> = device
        .peers
        .iter()
        .filter(|p| !seen.contains(&p.public_key.0))
        .map(|p| PeerConfig::removal(p.public_key))
        .collect();
    let mut endpoints = Endpoints::default();
    for w in wanted {
        let key = Key(w.public_key);
        let change = match device.peer(&key) {
            None => Some(added(w)),
            Some(have) => updated(w, have, set.0.get(&key)),
        };
        peers.extend(change);
        endpoints.0.insert(key, w.endpoint);
    }
    PeerChanges { peers, endpoints }
}

/// A new peer, with everything.
fn added(w: &WgPeer) -> PeerConfig {
    PeerConfig {
        preshared_key: w.psk.map(Key),
        endpoint: Some(w.endpoint),
        persistent_keepalive: Some(w.keepalive),
        replace_allowed_ips: true,
        allowed_ips: normal(&w.allowed_ips),
        ..PeerConfig::new(Key(w.public_key))
    }
}

/// What differs on an existing peer, if anything; `last_set` is the endpoint the agent last
/// set for it.
fn updated(w: &WgPeer, have: &PeerState, last_set: Option<&SocketAddr>) -> Option<PeerConfig> {
    let mut c = PeerConfig {
        update_only: true,
        ..PeerConfig::new(Key(w.public_key))
    };
    let set_endpoint = match last_set {
        Some(e) => *e != w.endpoint,
        None => have.endpoint.is_none(),
    };
    if set_endpoint {
        c.endpoint = Some(w.endpoint);
        c.persistent_keepalive = Some(w.keepalive);
    } else if have.persistent_keepalive != w.keepalive {
        c.persistent_keepalive = Some(w.keepalive);
    }
    let allowed = normal(&w.allowed_ips);
    if normal(&have.allowed_ips) != allowed {
        c.replace_allowed_ips = true;
        c.allowed_ips = allowed;
    }
    if have.preshared_key.map(|k| k.0) != w.psk {
        c.preshared_key = Some(Key(w.psk.unwrap_or([0; 32])));
    }
    let unchanged = c.endpoint.is_none()
        && c.persistent_keepalive.is_none()
        && !c.replace_allowed_ips
        && c.preshared_key.is_none();
    (!unchanged).then_some(c)
}

/// Prefixes as the device keeps them: host bits cleared, sorted, without duplicates.
fn normal(nets: &[IpNet]) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = nets.iter().map(IpNet::trunc).collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
