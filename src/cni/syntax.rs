//! The lexical checks that the environment ([`super::env`]) and the network configuration
//! ([`super::config`]) share: interface names (CNI_IFNAME and the bridge) and addresses with
//! or without a prefix length (CNI_ARGS `IP=` and the `ips` capability). A module of its own
//! so env and config need not import each other.

use std::net::IpAddr;

use ipnet::IpNet;

/// Validates an interface name as the kernel and the spec require (used for CNI_IFNAME and the
/// bridge name): 1–15 bytes, no `/`, `:`, whitespace or NUL, not `.`/`..`.
pub fn valid_ifname(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
}

/// An address given either bare (`10.42.1.7`) or with a prefix length (`10.42.1.7/24`, as the
/// `ips` capability allows): the address.
pub fn address_of(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<IpNet>().ok().map(|n| n.addr()))
}
