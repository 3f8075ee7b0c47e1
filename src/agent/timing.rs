//! The agent's clocks, shared by the route loop ([`super::run`]), the node-rules reconciler
//! ([`super::firewall`]) and the policy thread ([`super::policy_thread`]): the resync period,
//! the kernel-event debounce and the backoff after failed passes.

use std::time::Duration;

/// How often each reconciler re-checks the whole state even without a change: the route loop
/// re-plans, the node rules and the policy table are re-applied (Flannel's host-gw re-checks
/// every 10 s).
pub const RESYNC: Duration = Duration::from_secs(10);
/// Kernel events arrive in bursts (our own changes too): wait this long and coalesce.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// The wait before a kernel-triggered pass after `failing` failed passes: 0, then 100 ms
/// doubling up to 5 s.
pub fn backoff(failing: u32) -> Duration {
    if failing == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(100u64.saturating_mul(1 << failing.min(6))).min(Duration::from_secs(5))
}
