//! This node as the route loop sees it: its entry (or the last good one), whether it can be
//! programmed yet (present, a podCIDR inside the cluster network; else what it waits for, and
//! after [`Reconciler::podcidr_wait`] the hint), and the underlay its InternalIP is on.

use std::time::Instant;

use lichen_backends::{LocalUnderlay, NodeInfo};

use super::{podcidr_hint, ReconcileError, Reconciler};
use crate::agent::kernel::Kernel;
use crate::agent::report::Report;
use crate::k8s::Node;
use crate::model::ClusterState;

impl<K: Kernel> Reconciler<K> {
    /// When the podCIDR hint is due, while it is pending (the loop wakes for it).
    pub fn hint_due(&self) -> Option<Instant> {
        match (self.no_podcidr_since, self.hinted) {
            (Some(since), false) => Some(since + self.podcidr_wait),
            _ => None,
        }
    }

    /// The waiting text while this Node has no podCIDR: the hint once `podcidr_wait` passed
    /// (logged the first time).
    fn no_podcidr(&mut self) -> String {
        let since = *self.no_podcidr_since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.podcidr_wait {
            return format!("Node {:?} has no spec.podCIDR yet", self.node_name);
        }
        let hint = podcidr_hint(&self.node_name, &self.netconf, since.elapsed());
        if !self.hinted {
            self.hinted = true;
            log::warn!("{}", hint.replace('\n', " "));
        }
        hint
    }

    /// This Node: its entry in `state`, else (entry gone or malformed) the last one seen, with
    /// a warning; `None` when never seen.
    pub(super) fn local_node(&mut self, state: &ClusterState, report: &mut Report) -> Option<Node> {
        if let Some(n) = state.nodes.get(&self.node_name) {
            self.last_local = Some(n.clone());
            return Some(n.clone());
        }
        let last = self.last_local.clone()?;
        report.warnings.push(format!(
            "Node {:?} is missing from the cluster state (deleted, or its entry is malformed: see \"skipped\"); using its last good entry",
            self.node_name
        ));
        Some(last)
    }

    /// This node, when it can be programmed: present, not being deleted, with podCIDRs inside
    /// the cluster network. `Ok(None)` (and what it waits for in `report`) while it cannot be
    /// yet; an error when its podCIDR is outside the network.
    pub(super) fn programmable(
        &mut self,
        state: &ClusterState,
        report: &mut Report,
    ) -> Result<Option<Node>, ReconcileError> {
        let local = self.local_node(state, report);
        let Some(local) = local.filter(|n| !n.deleting) else {
            (self.no_podcidr_since, self.hinted) = (None, false);
            report.waiting = Some(format!(
                "Node {:?} is not in the cluster state yet",
                self.node_name
            ));
            report.subnets.clear();
            return Ok(None);
        };
        if local.pod_cidrs.is_empty() {
            report.waiting = Some(self.no_podcidr());
            report.subnets.clear();
            return Ok(None);
        }
        (self.no_podcidr_since, self.hinted) = (None, false);
        if let Some(c) = local
            .pod_cidrs
            .iter()
            .find(|c| !self.netconf.network.iter().any(|n| n.contains(*c)))
        {
            return Err(ReconcileError::PodCidrOutside {
                cidr: *c,
                network: self.netconf.network.clone(),
            });
        }
        Ok(Some(local))
    }

    /// The underlay this node's first InternalIP is on (`--iface` when given).
    pub(super) fn underlay(&mut self, me: &NodeInfo) -> Result<LocalUnderlay, ReconcileError> {
        let addr = *me
            .internal_ips
            .first()
            .ok_or_else(|| ReconcileError::NoInternalIp {
                node: self.node_name.clone(),
            })?;
        self.kernel
            .underlay(self.iface.as_deref(), addr)
            .map_err(|source| ReconcileError::Underlay {
                iface: self.iface.clone(),
                addr,
                source,
            })
    }
}
