//! The policy reconciler's thread (`lichen-policy`): its own executor, nftables sockets and
//! resync timer, also running the cluster source's task; see [`super::run`] for how the
//! agent's parts fit together and [`super::policy`] for what one pass does.

use std::sync::{Arc, Mutex};

use smol::future::FutureExt;

use super::feed::Feed;
use super::netlink::NftPolicy;
use super::policy::PolicySync;
use super::report::Report;
use super::timing::{backoff, DEBOUNCE, RESYNC};

/// The policy thread's stack: compile and encode keep their data on the heap, and the
/// source's parsing is iterative and bounded ([`crate::k8s::json::MAX_DEPTH`]).
const POLICY_STACK: usize = 512 * 1024;

/// Starts the policy reconciler on a thread of its own (its own nftables sockets, its own
/// executor, which also runs the cluster source's task `source`, so a change reaches the
/// compile without a thread hop): woken by the feed for the kinds policy compiles from, by its resync timer (a
/// full replace, repairing tampering) and, after a failed pass, by its retry backoff; never
/// by kernel events nor by route passes. It writes [`Report::policy`] alone and wakes the
/// route loop (`routes`) when it settles or unsettles (the CNI config waits for it).
pub fn start_policy(
    node: String,
    enabled: bool,
    (feed, source): (
        Arc<Feed>,
        impl std::future::Future<Output = ()> + Send + 'static,
    ),
    wake: smol::channel::Receiver<()>,
    routes: smol::channel::Sender<()>,
    report: Arc<Mutex<Report>>,
) -> std::io::Result<()> {
    let run = move || {
        let reconcile = reconcile(PolicySync::new(node, enabled), feed, wake, routes, report);
        smol::block_on(source.or(reconcile))
    };
    std::thread::Builder::new()
        .name("lichen-policy".into())
        .stack_size(POLICY_STACK)
        .spawn(run)
        .map(drop)
}

/// What wakes a pass: a wake from the feed, the resync timer (`true`: a full replace) or,
/// after failed passes, the retry backoff.
async fn woken(
    wake: &smol::channel::Receiver<()>,
    timer: &mut smol::Timer,
    retry: Option<std::time::Duration>,
) -> bool {
    let woken = async {
        if wake.recv().await.is_err() {
            smol::future::pending::<()>().await;
        }
        false
    };
    let resync = async {
        use smol::stream::StreamExt;
        timer.next().await;
        true
    };
    let retried = async {
        match retry {
            Some(d) => smol::Timer::after(d).await,
            None => smol::future::pending().await,
        };
        false
    };
    woken.or(resync).or(retried).await
}

/// The reconciler's loop: one pass per wake, its section into the report.
async fn reconcile(
    mut sync: PolicySync,
    feed: Arc<Feed>,
    wake: smol::channel::Receiver<()>,
    routes: smol::channel::Sender<()>,
    report: Arc<Mutex<Report>>,
) {
    let mut kernel = NftPolicy;
    let mut timer = smol::Timer::interval(RESYNC);
    let mut failing: u32 = 0;
    loop {
        let retry = (failing > 0).then(|| backoff(failing).max(DEBOUNCE));
        let full = woken(&wake, &mut timer, retry).await;
        // Never before the source's first snapshot: an empty state would compile a
        // ruleset isolating nothing, opening what a restarted agent's table closes.
        let Some(state) = feed.current() else {
            continue;
        };
        let section = sync.sync(&mut kernel, &state, full);
        failing = if section.errors.is_empty() {
            0
        } else {
            failing.saturating_add(1)
        };
        let settled = section.settled();
        let was = {
            let mut shared = report.lock().expect("report");
            std::mem::replace(&mut shared.policy, section).settled()
        };
        if settled != was {
            super::feed::wake(&routes);
        }
    }
}
