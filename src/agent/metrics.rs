//! `/metrics`: the agent's figures in the Prometheus text exposition format (version 0.0.4).
//!
//! Design notes:
//! - Served on `--listen` (localhost, with `/status`) and, opt-in, on a listen address of its
//!   own (`--metrics-listen`, as Cilium's `--prometheus-serve-addr` and Calico's
//!   `prometheusMetricsPort`), where nothing but `/metrics` answers: a scraper from another
//!   host must not reach `/status` or `/policy/explain`.
//! - `lichen_build_info{version,commit,target}`: `commit` comes from `LICHEN_COMMIT` in the
//!   environment of the build (`option_env!`, which Cargo tracks: a new value rebuilds), set by
//!   the build scripts; `unknown` when unset. `target` is the triple `lichen version` prints.
//! - The reconcile-duration histogram has fixed buckets from 1 ms to 10 s: a pass on a small
//!   board takes milliseconds, a pass waiting on a slow kernel or a big policy seconds.
//! - Resident memory is read from `/proc/self/statm` at scrape time (pages × page size).
//! - With the WireGuard backend, per peer node: bytes received and sent and the latest
//!   handshake, as the device reported them at the last pass (rendered by
//!   `super::wireguard::status`).

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use lichen_backends::PeerState;

use super::report::Report;

/// The Content-Type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The target triple, as `lichen version` names it (its third word).
fn target() -> String {
    crate::build_info::version_line()
        .split_whitespace()
        .nth(2)
        .unwrap_or("unknown")
        .to_owned()
}

/// The resident set size of this process in bytes (`/proc/self/statm`'s second field).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A label value, escaped as the text format wants (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(s: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn single(s: &mut String, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
    family(s, name, kind, help);
    let _ = writeln!(s, "{name} {v}");
}

/// The whole page. `leases_in_use`: IPAM leases on this node, when countable.
pub fn render(r: &Report, leases_in_use: Option<usize>) -> String {
    let mut s = String::new();
    build_info(&mut s);
    peers(&mut s, r);
    counters(&mut s, r);
    r.reconcile_seconds.render(
        &mut s,
        "lichen_reconcile_duration_seconds",
        "Duration of reconcile passes.",
    );
    if let Some(t) = r.last_sync {
        let help = "Last successful reconcile (Unix time).";
        let v = format!("{:.3}", unix_secs(t));
        single(
            &mut s,
            "lichen_last_sync_timestamp_seconds",
            "gauge",
            help,
            v,
        );
    }
    if let Some(b) = resident_bytes() {
        let help = "Resident memory of the agent (/proc/self/statm).";
        single(&mut s, "lichen_resident_memory_bytes", "gauge", help, b);
    }
    if let Some(n) = leases_in_use {
        let help = "IPAM leases in use on this node.";
        single(&mut s, "lichen_ipam_leases", "gauge", help, n);
    }
    policy(&mut s, r);
    if let Some(wg) = &r.wireguard {
        wg.render_metrics(&mut s, label);
    }
    s
}

/// `lichen_build_info`: version, commit and target as labels.
fn build_info(s: &mut String) {
    family(
        s,
        "lichen_build_info",
        "gauge",
        "Build of the running agent (always 1).",
    );
    let _ = writeln!(
        s,
        "lichen_build_info{{version=\"{}\",commit=\"{}\",target=\"{}\"}} 1",
        label(env!("CARGO_PKG_VERSION")),
        label(crate::build_info::commit()),
        label(&target())
    );
}

/// The counters of reconcile, node-rules and policy passes, their failures and the source's
/// restarts.
fn counters(s: &mut String, r: &Report) {
    let counters = [
        (
            "lichen_reconcile_runs_total",
            "Reconcile runs.",
            r.reconcile_runs,
        ),
        (
            "lichen_reconcile_errors_total",
            "Reconcile runs that failed.",
            r.reconcile_errors,
        ),
        (
            "lichen_node_rules_runs_total",
            "Node-rules reconciler passes.",
            r.node_rules.runs,
        ),
        (
            "lichen_node_rules_errors_total",
            "Node-rules reconciler passes that failed.",
            r.node_rules.failed_runs,
        ),
        (
            "lichen_policy_runs_total",
            "Policy reconciler passes.",
            r.policy.runs,
        ),
        (
            "lichen_policy_errors_total",
            "Policy reconciler passes that failed.",
            r.policy.failed_runs,
        ),
        (
            "lichen_source_restarts_total",
            "Cluster source (watch) restarts.",
            r.source_restarts,
        ),
    ];
    for (name, help, v) in counters {
        single(s, name, "counter", help, v);
    }
}

fn peers(s: &mut String, r: &Report) {
    let (mut programmed, mut unreachable, mut pending, mut failed) = (0, 0, 0, 0);
    for p in &r.peers {
        match p.state {
            PeerState::Programmed(_) => programmed += 1,
            PeerState::Unreachable(_) => unreachable += 1,
            PeerState::Pending(_) => pending += 1,
            PeerState::Failed(_) => failed += 1,
        }
    }
    family(s, "lichen_peers", "gauge", "Peer subnets by state.");
    for (state, n) in [
        ("programmed", programmed),
        ("unreachable", unreachable),
        ("pending", pending),
        ("failed", failed),
    ] {
        let _ = writeln!(s, "lichen_peers{{state=\"{state}\"}} {n}");
    }
    let help = "Peers whose InternalIP is gone, kept on their last routes.";
    single(s, "lichen_peers_stale", "gauge", help, r.stale.len());
}

fn policy(s: &mut String, r: &Report) {
    let p = &r.policy;
    let help = "NetworkPolicy enforcement on (1) or off (0).";
    single(
        s,
        "lichen_policy_enabled",
        "gauge",
        help,
        u8::from(p.enabled),
    );
    if let Some(rs) = &p.ruleset {
        let (chains, rules, sets, elements) = crate::policy::table::size(rs);
        let help = "Objects in the policy table, by kind.";
        family(s, "lichen_policy_objects", "gauge", help);
        for (kind, n) in [
            ("chains", chains),
            ("rules", rules),
            ("sets", sets),
            ("elements", elements),
        ] {
            let _ = writeln!(s, "lichen_policy_objects{{kind=\"{kind}\"}} {n}");
        }
    }
    if let Some((at, mode)) = p.last_applied {
        let help = "Last policy change applied (Unix time), by how it was applied.";
        family(
            s,
            "lichen_policy_last_apply_timestamp_seconds",
            "gauge",
            help,
        );
        let _ = writeln!(
            s,
            "lichen_policy_last_apply_timestamp_seconds{{mode=\"{mode}\"}} {:.3}",
            unix_secs(at)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read() {
        let b = resident_bytes().expect("/proc/self/statm");
        // A test process holds at least a megabyte and less than a terabyte.
        assert!((1 << 20..1 << 40).contains(&b), "{b}");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
