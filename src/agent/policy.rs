//! The policy reconciler: on every pass, compile this node's NetworkPolicy ruleset from the
//! cluster state and hand it to the kernel (one transaction; only element changes when only
//! elements changed); off, make sure the policy table is gone.
//!
//! Design notes:
//! - It is a reconciler of its own ([`PolicySync`] behind [`PolicyKernel`], on the
//!   `lichen-policy` thread, see [`super::run`]): woken only by changes of what the compile
//!   reads (Pods, Namespaces, NetworkPolicies, this Node's addresses; [`super::feed`]) and by
//!   its resync timer, so neither kernel events nor route passes delay or recompile it. It
//!   writes its own report section ([`PolicyReport`], with its own errors and counters).
//! - The ruleset the kernel got is kept (shared with the HTTP endpoint), so `status` and
//!   `policy explain` answer from exactly what is enforced, not from a fresh compile.
//!   `status` also shows its fingerprint (`ruleset: <hex>`, [`Ruleset::fingerprint`]): equal
//!   to a fresh compile's exactly when the agent enforces that state.
//! - In the plugin's routed mode (its default) there is no bridge: every pod packet is
//!   routed, so the forward hook sees it and br_netfilter plays no part. Pods attached in
//!   bridge mode talk over the node's bridge; the forward hook only sees that traffic with
//!   br_netfilter's `bridge-nf-call-iptables`/`-ip6tables` on (per network namespace since
//!   Linux 5.3). The agent turns them on when it can, and warns that it cannot only while
//!   bridged pods exist on the node ([`PolicyKernel::bridged_pods`], asked only then). The
//!   agent is not told the mode: the ruleset matches pods by address in the forward hook
//!   either way.
//! - Its errors are typed ([`PolicyError`], [`BridgeError`]: what failed, the kernel's error
//!   as the source) and reported whole ([`super::error::chain`]).

use std::fmt::{self, Write};
use std::io;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::error::chain;
use super::kernel::PolicyKernel;
use crate::policy::table::{size, Applied};
use crate::policy::{compile, Ruleset};

/// What the policy reconciler did: its own section of the report, written by its own thread.
#[derive(Debug, Clone, Default)]
pub struct PolicyReport {
    pub enabled: bool,
    /// The ruleset in the kernel (after the last successful apply).
    pub ruleset: Option<Arc<Ruleset>>,
    /// How same-node traffic reaches the filter; `Err` says why bridged pods' does not.
    pub bridge: Option<Result<SameNode, BridgeError>>,
    /// How the last change was applied, e.g. "elements (3 messages) in 1.2 ms".
    pub last_apply: Option<String>,
    /// When the last change was applied and how (`replaced`, `elements`, `incremental`,
    /// `unchanged`), for /metrics.
    pub last_applied: Option<(SystemTime, &'static str)>,
    /// Errors of the last policy pass (empty when it succeeded), each printed whole (a
    /// [`PolicyError`]'s chain).
    pub errors: Vec<String>,
    /// Policy passes, and those that ended in errors.
    pub runs: u64,
    pub failed_runs: u64,
}

impl PolicyReport {
    /// Nothing stands in the way of this node's pods: a pass ran, ended without errors, and
    /// policy is off or its ruleset is in the kernel.
    pub fn settled(&self) -> bool {
        self.runs > 0 && self.errors.is_empty() && (!self.enabled || self.ruleset.is_some())
    }
}

/// The policy reconciler: this node's name, whether policy is on, what the kernel holds.
#[derive(Debug, Default)]
pub struct PolicySync {
    node: String,
    enabled: bool,
    applied: Option<Arc<Ruleset>>,
    /// Off: the table was removed once already.
    removed: bool,
    report: PolicyReport,
}

impl PolicySync {
    pub fn new(node: String, enabled: bool) -> PolicySync {
        PolicySync {
            node,
            enabled,
            ..PolicySync::default()
        }
    }

    /// One pass; returns the report section. `full`: replace the table even when nothing
    /// changed (repairs tampering).
    pub fn sync<K: PolicyKernel + ?Sized>(
        &mut self,
        kernel: &mut K,
        state: &crate::model::ClusterState,
        full: bool,
    ) -> PolicyReport {
        self.report.errors.clear();
        self.report.runs += 1;
        self.pass(kernel, state, full);
        if !self.report.errors.is_empty() {
            self.report.failed_runs += 1;
            for e in &self.report.errors {
                log::error!("policy: {e}");
            }
        }
        self.report.clone()
    }

    fn pass<K: PolicyKernel + ?Sized>(
        &mut self,
        kernel: &mut K,
        state: &crate::model::ClusterState,
        full: bool,
    ) {
        let report = &mut self.report;
        report.enabled = self.enabled;
        if !self.enabled {
            report.ruleset = None;
            report.bridge = None;
            if !self.removed || full {
                match kernel.remove_policy() {
                    Ok(()) => self.removed = true,
                    Err(e) => report
                        .errors
                        .push(chain(&PolicyError::RemoveTable(e)).to_string()),
                }
            }
            self.applied = None;
            return;
        }
        self.removed = false;
        report.bridge = Some(same_node(kernel));
        let rules = compile(state, &self.node);
        let previous = if full { None } else { self.applied.as_deref() };
        if previous == Some(&rules) {
            return;
        }
        let t = Instant::now();
        match kernel.apply_policy(&rules, previous) {
            Ok(how) => {
                let ms = t.elapsed().as_secs_f64() * 1e3;
                report.last_applied = Some((SystemTime::now(), mode(how)));
                let what = match how {
                    Applied::Replaced(n) => format!("table replaced ({n} messages)"),
                    Applied::Elements(n) => format!("elements changed ({n} messages)"),
                    Applied::Incremental(n) => format!("table edited ({n} messages)"),
                    Applied::Unchanged => "unchanged".to_owned(),
                };
                log::info!("policy: {what} in {ms:.1} ms");
                report.last_apply = Some(format!("{what} in {ms:.1} ms"));
                let rules = Arc::new(rules);
                report.ruleset = Some(rules.clone());
                self.applied = Some(rules);
            }
            Err(e) => {
                self.applied = None;
                report
                    .errors
                    .push(chain(&PolicyError::Apply(e)).to_string());
            }
        }
    }
}

/// A policy pass's error: which step, with the kernel's error as the source.
pub enum PolicyError {
    /// The ruleset could not be applied (the table is left as it was: one transaction).
    Apply(io::Error),
    /// Policy is off and its table could not be removed.
    RemoveTable(io::Error),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyError::Apply(_) => "policy: applying the ruleset",
            PolicyError::RemoveTable(_) => "removing the policy table",
        })
    }
}

crate::agent::error::debug_as_chain!(PolicyError);

impl std::error::Error for PolicyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PolicyError::Apply(e) | PolicyError::RemoveTable(e) => Some(e),
        }
    }
}

/// How same-node pod traffic reaches the policy filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameNode {
    /// br_netfilter passes bridged traffic through the IP hooks (routed pods' is routed).
    BrNetfilter,
    /// No pod is on a bridge: same-node traffic is routed through the forward hook.
    Routed,
}

/// br_netfilter switched on, or else whether that matters: a warning only while bridged
/// pods exist (or when the kernel cannot say).
fn same_node<K: PolicyKernel + ?Sized>(kernel: &mut K) -> Result<SameNode, BridgeError> {
    let why = match kernel.bridge_filtering() {
        Ok(true) => return Ok(SameNode::BrNetfilter),
        Ok(false) => BridgeError::NotLoaded,
        Err(e) => BridgeError::Enable(Arc::new(e)),
    };
    match kernel.bridged_pods() {
        Ok(false) => Ok(SameNode::Routed),
        Ok(true) => Err(why),
        Err(e) => {
            log::debug!("policy: cannot tell whether pods are bridged: {e}");
            Err(why)
        }
    }
}

/// Why bridged (same-node) traffic does not reach the filter.
#[derive(Clone)]
pub enum BridgeError {
    /// br_netfilter is not loaded.
    NotLoaded,
    /// `bridge-nf-call-iptables` could not be turned on (shared: the report is cloned).
    Enable(Arc<io::Error>),
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BridgeError::NotLoaded => {
                "br_netfilter is not loaded (modprobe br_netfilter): traffic \
                 between pods on this node's bridge is NOT filtered (routed-mode pods are)"
            }
            BridgeError::Enable(_) => "cannot enable bridge-nf-call-iptables",
        })
    }
}

crate::agent::error::debug_as_chain!(BridgeError);

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BridgeError::NotLoaded => None,
            BridgeError::Enable(e) => Some(&**e),
        }
    }
}

/// How a change was applied, as one word.
fn mode(how: Applied) -> &'static str {
    match how {
        Applied::Replaced(_) => "replaced",
        Applied::Elements(_) => "elements",
        Applied::Incremental(_) => "incremental",
        Applied::Unchanged => "unchanged",
    }
}

impl PolicyReport {
    /// The policy part of the status page.
    pub fn render(&self, s: &mut String) {
        if !self.enabled {
            let _ = writeln!(s, "policy:   off");
            return;
        }
        let Some(rs) = &self.ruleset else {
            let _ = writeln!(s, "policy:   on, not applied yet");
            return;
        };
        let (chains, rules, sets, elements) = size(rs);
        let _ = writeln!(
            s,
            "policy:   on (table inet lichen-policy: {chains} chains, {rules} rules, {sets} sets, {elements} elements)"
        );
        if let Some(a) = &self.last_apply {
            let _ = writeln!(s, "  last change: {a}");
        }
        let _ = writeln!(s, "  ruleset: {:016x}", rs.fingerprint());
        match &self.bridge {
            Some(Ok(SameNode::BrNetfilter)) => {
                let _ = writeln!(s, "  same-node traffic: filtered (br_netfilter)");
            }
            Some(Ok(SameNode::Routed)) => {
                let _ = writeln!(
                    s,
                    "  same-node traffic: filtered (routed: no pod on a bridge)"
                );
            }
            Some(Err(e)) => {
                let _ = writeln!(s, "  same-node traffic: WARNING: {}", chain(e));
            }
            None => {}
        }
        let _ = writeln!(s, "  local pods: {}", rs.pods.len());
        let list = |p: &Option<Vec<crate::policy::PolicyId>>| match p {
            None => "not isolated".to_owned(),
            Some(ps) => format!(
                "isolated by {}",
                ps.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        for ((ns, name), pod) in &rs.pods {
            let _ = writeln!(
                s,
                "  {ns}/{name}: ingress {}; egress {}",
                list(&pod.ingress),
                list(&pod.egress)
            );
        }
    }
}
