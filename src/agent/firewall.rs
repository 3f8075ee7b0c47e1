//! The node-rules reconciler: keeps the node's own firewall rules (masquerade and forward
//! accepts for the cluster networks, [`super::node_rules`]) in the kernel, behind a port of its
//! own, [`Firewall`], whose driver is nftables ([`NftFirewall`]; tests use a fake).
//!
//! Design notes (the shape of flannel's `pkg/trafficmngr/trafficmngr.go`, a traffic manager
//! that re-ensures its forward and masquerade rules on a resync period of its own, and of
//! netavark's `src/firewall/mod.rs`, where the firewall is a driver behind a trait):
//! - Its input is the net-conf alone ([`node_rules()`]: the cluster networks and `IPMasq`). It
//!   runs at start, before any route, and on every resync tick ([`super::timing::RESYNC`]), a
//!   full pass that also retries a failed one; Node, Pod and kernel events never run it, and
//!   the route pass never touches the rules. [`super::run`] drives it on the route loop's
//!   thread and tick (a task with a timer of its own measured 3 KiB more in the static binary,
//!   for the same period). The agent reads the net-conf once, at start (as flannel does): a
//!   changed net-conf reaches it by a restart.
//! - Skipped when unchanged: a pass that is not full (the first, or one with changed rules)
//!   does nothing when its rules equal what the last pass applied without error. The resync's
//!   pass is full and re-applies them whatever the kernel holds (one transaction, see
//!   [`super::node_rules::apply_node_rules`]): that is what repairs a table changed or deleted
//!   by others, and our accepts in other tables' forward chains after their owner (Docker,
//!   firewalld) rebuilt them.
//! - It writes its own section of the report ([`RulesReport`]); its errors are
//!   [`RulesError`], one variant per step, printed whole ([`super::error::chain`]).

#[cfg(test)]
pub mod fake;
#[cfg(test)]
mod tests;

use std::fmt::{self, Write};
use std::io;

use super::error::chain;
use super::netconf::ClusterNetwork;
use super::node_rules::{self, NodeRules};

/// The node-rules reconciler's port: a firewall driver that owns the node's rules.
pub trait Firewall {
    /// Makes the node hold exactly `rules`, in one transaction (all of it or nothing).
    fn apply(&mut self, rules: &NodeRules) -> io::Result<()>;
    /// Removes the node's rules; absent is success.
    fn remove(&mut self) -> io::Result<()>;
}

/// The nftables driver: table `inet lichen` and our accepts in other tables' forward chains,
/// a socket per transaction, in the calling thread's network namespace.
pub struct NftFirewall;

impl Firewall for NftFirewall {
    fn apply(&mut self, rules: &NodeRules) -> io::Result<()> {
        node_rules::apply_node_rules(rules)
    }

    fn remove(&mut self) -> io::Result<()> {
        node_rules::remove_lichen_table()
    }
}

/// The node's rules as the net-conf asks: every cluster network, masquerading when `IPMasq`.
pub fn node_rules(netconf: &ClusterNetwork) -> NodeRules {
    NodeRules {
        cluster: netconf.network.clone(),
        masquerade: netconf.ipmasq,
    }
}

/// What the node-rules reconciler did: its own section of the report.
#[derive(Debug, Clone, Default)]
pub struct RulesReport {
    /// The rules the last successful apply put in the kernel (`None`: none yet, or removed;
    /// every resync applies them again: `lichen_node_rules_runs_total` counts the passes).
    pub rules: Option<NodeRules>,
    /// The last pass's error, printed whole (a [`RulesError`]'s chain).
    pub error: Option<String>,
    /// Passes, and those that failed.
    pub runs: u64,
    pub failed_runs: u64,
}

impl RulesReport {
    /// The rules are in force: a pass ran and the last one ended without error.
    pub fn settled(&self) -> bool {
        self.runs > 0 && self.error.is_none() && self.rules.is_some()
    }

    /// The `rules:` line of the status page (the error is with the others).
    pub fn render(&self, s: &mut String) {
        let Some(r) = &self.rules else {
            let _ = writeln!(s, "rules:    not applied yet");
            return;
        };
        s.push_str("rules:    table inet lichen: forward");
        for (i, net) in r.cluster.iter().enumerate() {
            let _ = write!(s, "{} {net}", if i == 0 { "" } else { "," });
        }
        let masq = if r.masquerade { "on" } else { "off" };
        let _ = writeln!(s, ", masquerade {masq}");
    }
}

/// The node-rules reconciler over a driver, with its report section: the rules the kernel got
/// last, and whether the last pass failed.
pub struct RulesSync<F: Firewall> {
    pub firewall: F,
    report: RulesReport,
}

impl<F: Firewall> RulesSync<F> {
    pub fn new(firewall: F) -> Self {
        RulesSync {
            firewall,
            report: RulesReport::default(),
        }
    }

    /// One pass; returns the report section. Applies `rules` unless the last pass applied
    /// exactly these without error; `full` (the resync) applies them anyway.
    pub fn sync(&mut self, rules: &NodeRules, full: bool) -> RulesReport {
        let report = &mut self.report;
        report.runs += 1;
        let unchanged = report.error.is_none() && report.rules.as_ref() == Some(rules);
        if full || !unchanged {
            match self.firewall.apply(rules) {
                Ok(()) => {
                    report.rules = Some(rules.clone());
                    report.error = None;
                }
                Err(e) => {
                    // The kernel keeps what it had (one transaction): `rules` stays.
                    let line = chain(&RulesError::Apply(e)).to_string();
                    log::error!("{line}");
                    report.error = Some(line);
                    report.failed_runs += 1;
                }
            }
        }
        report.clone()
    }

    /// `lichen agent --cleanup`: removes the node's rules.
    pub fn cleanup(&mut self) -> Result<(), RulesError> {
        self.report.rules = None;
        self.firewall.remove().map_err(RulesError::Remove)
    }
}

/// A node-rules step that failed, with the driver's error as the source.
pub enum RulesError {
    /// The rules could not be applied (the kernel keeps what it had: one transaction).
    Apply(io::Error),
    /// `--cleanup`: the rules could not be removed.
    Remove(io::Error),
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RulesError::Apply(_) => "applying the node rules (nftables table inet lichen)",
            RulesError::Remove(_) => "removing the node rules (nftables table inet lichen)",
        })
    }
}

crate::agent::error::debug_as_chain!(RulesError);

impl std::error::Error for RulesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RulesError::Apply(e) | RulesError::Remove(e) => Some(e),
        }
    }
}
