//! VTEP MACs.
//!
//! Flannel picks a random MAC and publishes it in a node annotation, so a peer that has not seen
//! the annotation yet cannot be programmed. Lichen honours an annotated MAC, but without one it
//! derives the MAC from the Node alone, so every node computes the same value for every peer
//! (a hand-written cluster directory with no MACs works) and it is stable across restarts:
//!
//! - first IPv4 podCIDR `a.b.c.d/n` → `0e:6c:a:b:c:d` (distinct subnets, distinct MACs);
//! - else first IPv6 podCIDR → `0e:6d:` + 4 bytes of a hash of the prefix;
//! - else (no podCIDR yet) → `0e:6e:` + 4 bytes of a hash of the node name.
//!
//! `0x0e` has bit 1 set (locally administered) and bit 0 clear (unicast). The second byte keeps
//! the three kinds apart, so an IPv4-derived MAC never equals a hashed one.

use ipnet::IpNet;

use crate::model::{Mac, NodeInfo};

/// First byte of every derived MAC: locally administered, unicast.
pub const DERIVED_MAC_PREFIX: u8 = 0x0e;

/// The node's VTEP MAC: its annotation if set, else derived (see the module notes).
pub fn vtep_mac(node: &NodeInfo) -> Mac {
    node.vtep_mac.unwrap_or_else(|| derived_vtep_mac(node))
}

/// The MAC derived from the node's podCIDRs (or name), ignoring any annotation.
pub fn derived_vtep_mac(node: &NodeInfo) -> Mac {
    let v4 = node.pod_cidrs.iter().find_map(|n| match n {
        IpNet::V4(n) => Some(n.network().octets()),
        IpNet::V6(_) => None,
    });
    if let Some(o) = v4 {
        return [DERIVED_MAC_PREFIX, 0x6c, o[0], o[1], o[2], o[3]];
    }
    let v6 = node.pod_cidrs.iter().find_map(|n| match n {
        IpNet::V6(n) => Some(*n),
        IpNet::V4(_) => None,
    });
    let (kind, hash) = match v6 {
        Some(n) => {
            let mut bytes = n.network().octets().to_vec();
            bytes.push(n.prefix_len());
            (0x6d, fnv1a(&bytes))
        }
        None => (0x6e, fnv1a(node.name.as_bytes())),
    };
    let h = fold32(hash).to_be_bytes();
    [DERIVED_MAC_PREFIX, kind, h[0], h[1], h[2], h[3]]
}

/// Whether a MAC is usable as a VTEP address: unicast and not all zeros.
pub fn is_unicast(mac: &Mac) -> bool {
    mac[0] & 1 == 0 && mac.iter().any(|b| *b != 0)
}

/// Whether a MAC is locally administered.
pub fn is_local(mac: &Mac) -> bool {
    mac[0] & 2 != 0
}

/// 64-bit FNV-1a: a fixed, documented hash (std's hashers may change between releases). Also
/// the plugin's (host veth and bridge MAC names, `lichen::dataplane`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn fold32(h: u64) -> u32 {
    (h >> 32) as u32 ^ h as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
