//! What the agent knows about itself, for `lichen status`, `/healthz`, `/readyz` and
//! `/metrics` (rendered by [`super::metrics`], which reads the report; not the other way round).
//!
//! Three reconcilers write it: the route loop everything but [`Report::policy`] and
//! [`Report::node_rules`], the policy thread the first section alone, the node-rules reconciler
//! the second (see [`super::run`]).
//!
//! Liveness and readiness are different questions (a DaemonSet's liveness probe restarts the
//! agent, its readiness probe only marks it): [`Report::alive`] says the agent's loop still
//! turns — it beats on every turn and the resync timer guarantees a turn every
//! [`super::timing::RESYNC`] — whatever the kernel or the cluster answered; [`Report::ready`] says
//! this node is programmed: its subnet is known, its rules are in force and the last passes
//! ended without errors. A missing kernel module or a peer the kernel refuses makes the agent
//! unready, not dead.

use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

use lichen_backends::{PeerState, PeerStatus, Via};

/// Updated after every reconcile; read by the HTTP handlers.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub node: String,
    pub backend: String,
    /// This node's pod subnet(s), or empty while the Node has no podCIDR.
    pub subnets: Vec<String>,
    /// Why the agent is waiting, when it is (e.g. "Node node1 has no podCIDR yet").
    pub waiting: Option<String>,
    pub peers: Vec<PeerStatus>,
    /// The differences the last reconcile found between the kernel and the desired state
    /// (and repaired); empty when the kernel already matched.
    pub last_drift: Vec<String>,
    /// Errors of the last route pass (empty when it succeeded; the policy reconciler's are in
    /// [`Report::policy`], the node-rules reconciler's in [`Report::node_rules`]).
    pub last_errors: Vec<String>,
    /// What the last pass worked around without failing (e.g. this Node's entry is malformed
    /// and its last good one is used), and what the last survey of the node found that breaks or
    /// may break pod traffic, each with what to do (see [`super::survey`]).
    pub warnings: Vec<String>,
    /// Cluster source entries skipped, with why (see [`crate::model::ClusterState::skipped`]).
    pub skipped: Vec<String>,
    pub reconcile_runs: u64,
    pub reconcile_errors: u64,
    pub source_restarts: u64,
    /// Unix time of the last successful reconcile.
    pub last_sync: Option<SystemTime>,
    /// The NetworkPolicy mode: the policy reconciler's section, written by it alone.
    pub policy: super::policy::PolicyReport,
    /// The node's firewall rules: the node-rules reconciler's section, written by it alone.
    pub node_rules: super::firewall::RulesReport,
    /// When the agent's loop last turned (its heartbeat; `None` before the loop started).
    pub heartbeat: Option<Instant>,
    /// How long reconcile passes take.
    pub reconcile_seconds: super::histogram::Histogram,
    /// Peers whose InternalIP is gone and whose last routes are kept (see [`super::stale`]).
    pub stale: Vec<super::stale::StalePeer>,
    /// The WireGuard device (WireGuard backend only): this node's public key, the control
    /// path, each peer's endpoint, latest handshake and bytes.
    pub wireguard: Option<super::wireguard::WgReport>,
}

/// The loop is taken for dead when it has not turned for this long (six resync periods).
pub const STALLED: Duration = Duration::from_secs(60);

impl Report {
    pub fn peer_line(p: &PeerStatus) -> String {
        let subnet = p
            .subnet
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let state = match &p.state {
            PeerState::Programmed(Via::Direct) => "programmed (direct route)".to_owned(),
            PeerState::Programmed(Via::Overlay) => "programmed (vxlan)".to_owned(),
            PeerState::Programmed(Via::Wireguard) => "programmed (wireguard)".to_owned(),
            PeerState::Unreachable(r) => format!("unreachable: {r}"),
            PeerState::Pending(r) => format!("pending: {r}"),
            PeerState::Failed(r) => format!("failed: {r}"),
        };
        format!("  {:<20} {:<20} {state}", p.name, subnet)
    }

    /// The human-readable status page.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "node:     {}", self.node);
        let _ = writeln!(s, "backend:  {}", self.backend);
        let subnets = if self.subnets.is_empty() {
            "(none yet)".to_owned()
        } else {
            self.subnets.join(", ")
        };
        let _ = writeln!(s, "subnet:   {subnets}");
        if let Some(w) = &self.waiting {
            labelled(&mut s, "waiting:", w);
        }
        let ready = if self.ready() { "yes" } else { "no" };
        let _ = writeln!(s, "ready:    {ready}");
        let sync = self
            .last_sync
            .and_then(|t| t.elapsed().ok())
            .map(|d| format!("{:.1}s ago", d.as_secs_f64()))
            .unwrap_or_else(|| "never".into());
        let _ = writeln!(
            s,
            "synced:   {sync} ({} runs, {} errors)",
            self.reconcile_runs, self.reconcile_errors
        );
        self.render_peers(&mut s);
        if let Some(wg) = &self.wireguard {
            wg.render(&mut s);
        }
        self.render_drift(&mut s);
        self.node_rules.render(&mut s);
        self.policy.render(&mut s);
        for k in &self.skipped {
            let _ = writeln!(s, "skipped:  {k}");
        }
        for w in &self.warnings {
            labelled(&mut s, "warning:", w);
        }
        for e in self.errors() {
            let _ = writeln!(s, "error:    {e}");
        }
        s
    }

    /// The peers, with a line each, then the stale ones.
    fn render_peers(&self, s: &mut String) {
        let _ = writeln!(s, "peers:    {}", self.peers.len());
        for p in &self.peers {
            let _ = writeln!(s, "{}", Self::peer_line(p));
        }
        for p in &self.stale {
            let _ = writeln!(s, "  {:<20} {}", p.name, p.describe());
        }
    }

    /// Whether the kernel matched at the last sync, and what differed.
    fn render_drift(&self, s: &mut String) {
        if self.last_drift.is_empty() {
            let _ = writeln!(s, "kernel:   matches the desired state");
        } else {
            let _ = writeln!(
                s,
                "kernel:   differed from the desired state at the last sync (repaired):"
            );
            for d in &self.last_drift {
                let _ = writeln!(s, "  {d}");
            }
        }
    }

    /// The loop turns: records a heartbeat.
    pub fn beat(&mut self) {
        self.heartbeat = Some(Instant::now());
    }

    /// Alive (`/healthz`): the loop turned within `max_age`.
    pub fn alive(&self, max_age: Duration) -> bool {
        self.heartbeat.is_some_and(|t| t.elapsed() <= max_age)
    }

    /// Ready (`/readyz`): this node's subnet is known, the last route pass ended without
    /// errors, the node's rules are in force, and the policy reconciler has settled (off, or
    /// its ruleset applied and its last pass without errors).
    pub fn ready(&self) -> bool {
        self.waiting.is_none()
            && !self.subnets.is_empty()
            && self.last_errors.is_empty()
            && self.node_rules.settled()
            && self.policy.settled()
            && self.last_sync.is_some()
    }

    /// Every error of the last passes: routes, node rules, then policy.
    pub fn errors(&self) -> impl Iterator<Item = &String> {
        self.last_errors
            .iter()
            .chain(&self.node_rules.error)
            .chain(&self.policy.errors)
    }

    /// Why the node is not ready (for `/readyz`'s body), or `None` when it is.
    pub fn not_ready(&self) -> Option<String> {
        if self.ready() {
            return None;
        }
        Some(if let Some(w) = &self.waiting {
            format!("waiting: {w}")
        } else if self.errors().next().is_some() {
            let errors: Vec<&str> = self.errors().map(String::as_str).collect();
            format!("the last pass failed: {}", errors.join("; "))
        } else if !self.node_rules.settled() {
            "the node's firewall rules are not applied yet".to_owned()
        } else if !self.policy.settled() {
            "the NetworkPolicy ruleset is not applied yet".to_owned()
        } else {
            "no pass has programmed this node yet".to_owned()
        })
    }
}

/// `text` under `head` (like `warning:`): the head on its first line, the others aligned.
fn labelled(s: &mut String, head: &str, text: &str) {
    for (i, line) in text.lines().enumerate() {
        let head = if i == 0 { head } else { "" };
        let _ = writeln!(s, "{head:<10}{line}");
    }
}
