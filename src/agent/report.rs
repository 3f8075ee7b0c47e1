//! What the agent knows about itself, for `lichen status`, `/healthz` and `/metrics`.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Errors of the last reconcile (empty when it succeeded).
    pub last_errors: Vec<String>,
    pub reconcile_runs: u64,
    pub reconcile_errors: u64,
    pub source_restarts: u64,
    /// Unix time of the last successful reconcile.
    pub last_sync: Option<SystemTime>,
    /// The NetworkPolicy mode.
    pub policy: super::policy::PolicyReport,
}

impl Report {
    pub fn peer_line(p: &PeerStatus) -> String {
        let subnet = p
            .subnet
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let state = match &p.state {
            PeerState::Programmed(Via::Direct) => "programmed (direct route)".to_owned(),
            PeerState::Programmed(Via::Overlay) => "programmed (vxlan)".to_owned(),
            PeerState::Unreachable(r) => format!("unreachable: {r}"),
            PeerState::Pending(r) => format!("pending: {r}"),
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
            let _ = writeln!(s, "waiting:  {w}");
        }
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
        let _ = writeln!(s, "peers:    {}", self.peers.len());
        for p in &self.peers {
            let _ = writeln!(s, "{}", Self::peer_line(p));
        }
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
        self.policy.render(&mut s);
        for e in &self.last_errors {
            let _ = writeln!(s, "error:    {e}");
        }
        s
    }

    /// Healthy: the last reconcile succeeded within `max_age`.
    pub fn healthy(&self, max_age: Duration) -> bool {
        self.last_errors.is_empty()
            && self
                .last_sync
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|d| d <= max_age)
    }

    /// Prometheus text format.
    pub fn metrics(&self, leases_in_use: Option<usize>) -> String {
        let mut s = String::new();
        let (mut programmed, mut unreachable, mut pending) = (0, 0, 0);
        for p in &self.peers {
            match p.state {
                PeerState::Programmed(_) => programmed += 1,
                PeerState::Unreachable(_) => unreachable += 1,
                PeerState::Pending(_) => pending += 1,
            }
        }
        s.push_str("# HELP lichen_peers Peer subnets by state.\n# TYPE lichen_peers gauge\n");
        for (state, n) in [
            ("programmed", programmed),
            ("unreachable", unreachable),
            ("pending", pending),
        ] {
            let _ = writeln!(s, "lichen_peers{{state=\"{state}\"}} {n}");
        }
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut s,
            "lichen_reconcile_runs_total",
            "Reconcile runs.",
            self.reconcile_runs,
        );
        counter(
            &mut s,
            "lichen_reconcile_errors_total",
            "Reconcile runs that failed.",
            self.reconcile_errors,
        );
        counter(
            &mut s,
            "lichen_source_restarts_total",
            "Cluster source (watch) restarts.",
            self.source_restarts,
        );
        if let Some(t) = self.last_sync {
            let secs = t
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            let _ = writeln!(
                s,
                "# HELP lichen_last_sync_timestamp_seconds Last successful reconcile.\n# TYPE lichen_last_sync_timestamp_seconds gauge\nlichen_last_sync_timestamp_seconds {secs:.3}"
            );
        }
        if let Some(n) = leases_in_use {
            let _ = writeln!(
                s,
                "# HELP lichen_ipam_leases IPAM leases in use on this node.\n# TYPE lichen_ipam_leases gauge\nlichen_ipam_leases {n}"
            );
        }
        s
    }
}
