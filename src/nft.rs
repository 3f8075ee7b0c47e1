//! nf_tables over netlink (NETLINK_NETFILTER), without the `nft` binary.
//!
//! Lichen owns one table, `inet lichen`; everything it programs lives there and is replaced in
//! one batch (add table, delete table, add table + chains + rules, in one transaction), so no
//! packet ever sees a half-applied ruleset and nothing outside the table is touched.

use std::io;

use ipnet::IpNet;

/// The agent's node rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRules {
    /// The cluster networks (one per family), e.g. 10.42.0.0/16.
    pub cluster: Vec<IpNet>,
    /// Masquerade pod traffic that leaves the cluster network (fully random), except multicast.
    pub masquerade: bool,
}

/// Replaces table `inet lichen` with:
/// - chain `postrouting` (type nat, hook postrouting, priority srcnat): for each cluster net C:
///   `saddr C daddr C return`, `saddr C daddr <multicast> return`, and if masquerading
///   `saddr C masquerade fully-random`;
/// - chain `forward` (type filter, hook forward, priority filter, policy accept):
///   `saddr C accept`, `daddr C accept` (so a FORWARD drop policy elsewhere does not cut pods off).
///
/// One netlink batch; the whole change is applied or nothing is.
pub fn apply_node_rules(rules: &NodeRules) -> io::Result<()> {
    let _ = rules;
    todo!("nft::apply_node_rules")
}

/// Deletes table `inet lichen` if it exists (one batch). Absent is success.
pub fn remove_lichen_table() -> io::Result<()> {
    todo!("nft::remove_lichen_table")
}
