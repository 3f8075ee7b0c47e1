//! A cluster's address families ([`Stack`]) and what they make: net-conf.json members, each
//! node's underlay addresses and pod subnets; [`no_dad`] for namespaces with IPv6.

use super::super::NamedNs;
use super::{NETWORK, NETWORK6};

/// The address families of a cluster ([`Cluster::with_stack`]): of its net-conf.json, of every
/// Node's `spec.podCIDRs` and `status.addresses` (InternalIP), in the order the Nodes list them,
/// and of the underlay. Node `i`: 198.51.100.<10+i>/24 and 10.100.<i>.0/24 for IPv4,
/// 2001:db8:100::<10+i>/64 and 2001:db8:42:<i>::/64 for IPv6. With IPv6, every node namespace
/// has duplicate address detection off (no address waits out its tentative state) and the
/// underlay switch does not snoop multicast (neighbour solicitations always reach the nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// IPv4 only ([`Cluster::new`]).
    V4,
    /// Dual-stack, IPv4 listed first (the underlay family, as the agent takes the first
    /// InternalIP's, is IPv4).
    Dual,
    /// Dual-stack, IPv6 listed first (the underlay family is IPv6).
    DualV6First,
    /// IPv6 only.
    V6,
}

impl Stack {
    /// Is the family `v6` (false: IPv4) in the stack, and at which position?
    pub(super) fn families(self) -> &'static [bool] {
        match self {
            Stack::V4 => &[false],
            Stack::Dual => &[false, true],
            Stack::DualV6First => &[true, false],
            Stack::V6 => &[true],
        }
    }

    pub fn has_v4(self) -> bool {
        self.families().contains(&false)
    }

    pub fn has_v6(self) -> bool {
        self.families().contains(&true)
    }

    /// The `"Network"…` members of net-conf.json before `Backend`.
    pub(super) fn net_conf(self) -> String {
        match self {
            Stack::V4 => format!(r#""Network":"{NETWORK}""#),
            Stack::Dual | Stack::DualV6First => {
                format!(r#""Network":"{NETWORK}","EnableIPv6":true,"IPv6Network":"{NETWORK6}""#)
            }
            Stack::V6 => {
                format!(r#""EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"{NETWORK6}""#)
            }
        }
    }

    /// Node `i`'s underlay addresses with their prefix, in the Node's order.
    pub(super) fn underlay(self, i: usize) -> Vec<String> {
        self.families()
            .iter()
            .map(|v6| match v6 {
                false => format!("198.51.100.{}/24", 10 + i),
                true => format!("2001:db8:100::{}/64", 10 + i),
            })
            .collect()
    }

    /// Node `i`'s pod subnets, in the Node's order.
    pub(super) fn subnets(self, i: usize) -> Vec<String> {
        self.families()
            .iter()
            .map(|v6| match v6 {
                false => format!("10.100.{i}.0/24"),
                true => format!("2001:db8:42:{i}::/64"),
            })
            .collect()
    }
}

/// Turns IPv6 duplicate address detection off in `ns` (for links made from now on, and `all`),
/// so no address there is ever tentative.
pub fn no_dad(ns: &NamedNs) {
    let out = ns
        .exec(
            "sysctl",
            &[
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ],
        )
        .unwrap();
    assert!(
        out.status.success(),
        "sysctl accept_dad in {}: {}",
        ns.name,
        String::from_utf8_lossy(&out.stderr)
    );
}
