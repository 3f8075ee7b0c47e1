//! Peers whose InternalIP disappears for a moment keep their routes.
//!
//! Design notes:
//! - The kubelet rewrites `status.addresses` from what the node sees; on a board whose DHCP
//!   lease or interface flaps (Wi-Fi, a USB NIC re-enumerating) the list can be empty for a
//!   while. Without an address the backends cannot route the peer, so the plan would delete
//!   its routes and cut its pods off although they are alive. Instead the reconciler routes
//!   such a peer over the last InternalIPs it had, and `lichen status` marks it
//!   `stale: address gone since …`.
//! - The memory ends only when the Node is deleted (or is being deleted): that is the
//!   cluster's own statement that the node is gone. No grace timer: a node may be
//!   unreachable for hours (a board off the network) and the routes to its old address cost
//!   nothing, while a timer would cut pods off exactly when the address comes back late.
//! - The memory lives in the agent's process: after a restart a peer without an address is
//!   `pending` until it has one again, as before.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::SystemTime;

use lichen_backends::NodeInfo;

/// A peer routed over its last known addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePeer {
    pub name: String,
    /// When the agent first saw the Node without an InternalIP.
    pub since: SystemTime,
    /// The addresses its routes still use.
    pub ips: Vec<IpAddr>,
}

impl StalePeer {
    /// The status line's state.
    pub fn describe(&self) -> String {
        let ips: Vec<String> = self.ips.iter().map(|ip| ip.to_string()).collect();
        let secs = self.since.elapsed().map(|d| d.as_secs()).unwrap_or(0);
        format!(
            "stale: address gone since {} ({secs}s ago); its routes via {} are kept until the Node is deleted",
            crate::k8s::publish::rfc3339(self.since),
            ips.join(", ")
        )
    }
}

/// The last InternalIPs of every peer, and since when each one has had none.
#[derive(Debug, Default)]
pub struct LastAddresses {
    known: HashMap<String, Vec<IpAddr>>,
    gone: HashMap<String, SystemTime>,
}

impl LastAddresses {
    /// Gives the peers without an InternalIP their last known ones; returns those peers.
    /// `peers` must be every live peer (a name missing from it is forgotten).
    pub fn fill(&mut self, peers: &mut [NodeInfo]) -> Vec<StalePeer> {
        self.known
            .retain(|name, _| peers.iter().any(|p| p.name == *name));
        self.gone.retain(|name, _| self.known.contains_key(name));
        let mut stale = Vec::new();
        for p in peers.iter_mut() {
            if !p.internal_ips.is_empty() {
                self.gone.remove(&p.name);
                self.known.insert(p.name.clone(), p.internal_ips.clone());
                continue;
            }
            let Some(ips) = self.known.get(&p.name) else {
                continue;
            };
            let since = *self.gone.entry(p.name.clone()).or_insert_with(|| {
                log::warn!(
                    "node {}: its InternalIP is gone from the Node; keeping its routes via {ips:?} until it is back or the Node is deleted",
                    p.name
                );
                SystemTime::now()
            });
            p.internal_ips = ips.clone();
            stale.push(StalePeer {
                name: p.name.clone(),
                since,
                ips: ips.clone(),
            });
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, ips: &[&str]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            internal_ips: ips.iter().map(|i| i.parse().unwrap()).collect(),
            ..NodeInfo::default()
        }
    }

    #[test]
    fn a_vanished_address_is_remembered_until_the_node_goes() {
        let mut m = LastAddresses::default();
        assert!(m.fill(&mut [peer("n2", &["198.51.100.2"])]).is_empty());
        let mut now = [peer("n2", &[])];
        let stale = m.fill(&mut now);
        assert_eq!(stale.len(), 1);
        assert_eq!(now[0].internal_ips, stale[0].ips);
        assert_eq!(
            stale[0].ips,
            vec!["198.51.100.2".parse::<IpAddr>().unwrap()]
        );
        let since = stale[0].since;
        assert_eq!(
            m.fill(&mut [peer("n2", &[])])[0].since,
            since,
            "same episode"
        );
        // back: no longer stale, and a new address is what is remembered
        assert!(m.fill(&mut [peer("n2", &["198.51.100.9"])]).is_empty());
        assert_eq!(
            m.fill(&mut [peer("n2", &[])])[0].ips[0].to_string(),
            "198.51.100.9"
        );
        // deleted, then back without an address: nothing is remembered
        m.fill(&mut []);
        assert!(m.fill(&mut [peer("n2", &[])]).is_empty());
    }

    #[test]
    fn a_peer_never_seen_with_an_address_stays_without() {
        let mut m = LastAddresses::default();
        let mut now = [peer("n3", &[])];
        assert!(m.fill(&mut now).is_empty());
        assert!(now[0].internal_ips.is_empty());
    }
}
