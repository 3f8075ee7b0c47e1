//! The agent: four parts behind narrow ports, each with its own trigger (issues 12, 13).
//! - The cluster feed ([`super::feed`]): the source as a task of its own (run on the policy
//!   thread), handing snapshots to the route and policy reconcilers and waking each only for
//!   the kinds it reads.
//! - The route loop (this thread, `RouteLoop` over [`super::reconcile`]; its clocks in
//!   [`super::timing`]): routes, devices, the survey, the subnet file and the CNI config.
//!   Woken by Node changes, kernel events (debounced, a Node change ends the wait), the resync
//!   timer and a due podCIDR hint. Every turn beats the heartbeat `/healthz` reads.
//! - The node-rules reconciler ([`super::firewall`], on this thread): the node's firewall rules
//!   from the net-conf, applied at start, before any route, and re-applied on every resync
//!   tick (a full pass, which also retries a failed one), before that tick's route pass; Node
//!   changes, kernel events and the podCIDR hint never run it. It writes [`Report::node_rules`]
//!   alone; the CNI config waits for the rules too.
//! - The policy reconciler ([`super::policy`]) on the `lichen-policy` thread
//!   ([`super::policy_thread`]: a 512 KiB stack, shared with the source's task): woken by Pod,
//!   Namespace, NetworkPolicy and own-address changes and its own resync timer; kernel events
//!   and route passes never delay nor recompile it, so a policy change is enforced within one
//!   compile and one nftables transaction of the source seeing it (benches/policy.rs
//!   measures it, with and without kernel-event noise).
//!
//! SIGTERM or SIGINT end the agent at once and it exits 0, flushing nothing
//! ([`super::signal`]).
//!
//! `LICHEN_PODCIDR_WAIT` (seconds, default 60) sets [`Options::podcidr_wait`]: how long this
//! Node may have no podCIDR before the agent says how to make the controller-manager allocate
//! one (see [`super::reconcile`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smol::channel::Receiver;
use smol::future::FutureExt;

use super::error::{AgentError, Context};
use super::feed::{self, Feed};
use super::firewall::{self, NftFirewall, RulesSync};
use super::http::{self, Endpoints};
use super::netconf::{ClusterNetwork, ClusterNetworkError};
use super::netlink::{self, NetlinkKernel};
use super::policy_thread::start_policy;
use super::publish::Publisher;
use super::reconcile::{ReconcileError, Reconciler};
use super::report::Report;
use super::signal::Shutdown;
use super::source::{DirConfig, Source};
use super::timing::{backoff, DEBOUNCE, RESYNC};
use super::wireguard::{controller::WgController, load_key};
use lichen_backends::BackendConf;

pub struct Options {
    pub node_name: String,
    pub net_conf: PathBuf,
    pub cluster_dir: PathBuf,
    /// Read the cluster from this API server instead of `cluster_dir` (`--kube`/`--kubeconfig`).
    pub kube: Option<crate::k8s::KubeConfig>,
    pub subnet_file: PathBuf,
    pub iface: Option<String>,
    pub listen: SocketAddr,
    /// `--metrics-listen`: a second listener that serves `/metrics` alone.
    pub metrics_listen: Option<SocketAddr>,
    /// The IPAM data dir, for the leases metric.
    pub ipam_dir: PathBuf,
    /// `--network-policy`: enforce NetworkPolicies (or the net-conf's `NetworkPolicy`).
    pub network_policy: bool,
    /// `--public-ip`: the underlay address peers should use, published as an annotation
    /// (API source only).
    pub public_ip: Option<std::net::IpAddr>,
    /// `--cni-conf-dir` with `--cni-conflist`: (the conflist `lichen install --stage` wrote, the
    /// runtime's conf dir). Written there once this node is programmed, so the runtime (and so
    /// the kubelet) reports the network ready only when pods can get addresses.
    pub cni_conf: Option<(PathBuf, PathBuf)>,
    /// How long this Node may lack a podCIDR before the agent logs and shows how to fix it
    /// ([`podcidr_wait_from_env`]).
    pub podcidr_wait: Duration,
    /// `--wireguard-key-file`: the node's WireGuard private key (WireGuard backend only),
    /// created when missing.
    pub wireguard_key_file: PathBuf,
}

/// [`Options::podcidr_wait`] from `LICHEN_PODCIDR_WAIT` (whole seconds), else the default
/// [`super::reconcile::PODCIDR_WAIT`] (60 s).
pub fn podcidr_wait_from_env() -> Duration {
    std::env::var("LICHEN_PODCIDR_WAIT")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(super::reconcile::PODCIDR_WAIT)
}

enum Wake {
    /// Nodes changed, or the policy reconciler settled.
    Cluster,
    Kernel,
    Timer,
    /// The podCIDR hint is due.
    Hint,
}

pub fn run(opts: Options) -> Result<(), AgentError> {
    // First: a SIGTERM during start-up is kept in the pipe and ends the loop at once.
    let shutdown = Shutdown::install().context("signal handlers")?;
    let rec = reconciler(&opts)?;
    let mut route_loop = RouteLoop::start(&opts, rec)?;
    // The node rules first: they go in before any route.
    route_loop.sync_rules(false);
    let stop = async {
        shutdown.wait().await;
        log::info!("SIGTERM or SIGINT: exiting; routes, devices, rules and the subnet file stay");
        Ok(())
    };
    let routes = async {
        start_http(&opts, &route_loop.report).await?;
        log::info!(
            "agent for node {} started: net-conf {}, cluster dir {}, status on http://{}/status",
            opts.node_name,
            opts.net_conf.display(),
            opts.cluster_dir.display(),
            opts.listen
        );
        let mut timer = smol::Timer::interval(RESYNC);
        loop {
            if route_loop.wait(&mut timer).await {
                route_loop.sync_rules(true);
            }
            route_loop.pass();
        }
    };
    smol::block_on(stop.or(routes))
}

/// The route loop's reconciler: the net-conf (`--network-policy` turns policy on too), netlink,
/// this node.
fn reconciler(opts: &Options) -> Result<Reconciler<NetlinkKernel>, AgentError> {
    let mut netconf = ClusterNetwork::load(&opts.net_conf).map_err(|e| match e {
        ClusterNetworkError::Read { .. } => AgentError::from(e),
        // Which file: the parse errors name the key, not where it was read from.
        e => AgentError::ClusterNetworkIn(opts.net_conf.clone(), e),
    })?;
    netconf.network_policy |= opts.network_policy;
    let mut kernel = NetlinkKernel::open().context("netlink")?;
    let mut wg_public_key = None;
    if let BackendConf::Wireguard(_) = netconf.backend {
        let key = load_key(&opts.wireguard_key_file).map_err(AgentError::WireguardKey)?;
        let wg = WgController::new(key);
        wg_public_key = Some(wg.public_key().0);
        kernel.set_wireguard(wg);
    }
    let mut rec = Reconciler::new(
        kernel,
        opts.node_name.clone(),
        netconf,
        opts.iface.clone(),
        opts.subnet_file.clone(),
    );
    rec.podcidr_wait = opts.podcidr_wait;
    rec.wg_public_key = wg_public_key;
    Ok(rec)
}

/// Binds `--listen` (every endpoint) and `--metrics-listen` (`/metrics` alone) and serves them
/// on the executor.
async fn start_http(opts: &Options, report: &Arc<Mutex<Report>>) -> Result<(), AgentError> {
    let listener = smol::net::TcpListener::bind(opts.listen)
        .await
        .context(format!("listening on {}", opts.listen))?;
    let ipam_dir = opts.ipam_dir.clone();
    let leases = move || count_leases(&ipam_dir);
    if let Some(addr) = opts.metrics_listen {
        let metrics = smol::net::TcpListener::bind(addr)
            .await
            .context(format!("listening on {addr} (--metrics-listen)"))?;
        let serve = http::serve(
            metrics,
            report.clone(),
            leases.clone(),
            Endpoints::MetricsOnly,
        );
        smol::spawn(serve).detach();
        log::info!("metrics on http://{addr}/metrics");
    }
    let serve = http::serve(listener, report.clone(), leases, Endpoints::All);
    smol::spawn(serve).detach();
    Ok(())
}

/// The route loop's state between turns: the reconciler of routes, devices and the subnet
/// file, what wakes it, and what it hands on once the node is programmed.
struct RouteLoop {
    rec: Reconciler<NetlinkKernel>,
    feed: Arc<Feed>,
    /// Node changes, and the policy reconciler settling or unsettling.
    routes: Receiver<()>,
    /// The node-rules reconciler over nftables (its input: `rec`'s net-conf).
    rules: RulesSync<NftFirewall>,
    /// Kernel change notifications (coalesced).
    events: Receiver<()>,
    report: Arc<Mutex<Report>>,
    publisher: Option<Publisher>,
    cni_conf: Option<(PathBuf, PathBuf)>,
    /// Passes in a row that ended in errors: a plan the kernel keeps refusing must not spin on
    /// the notifications of its own attempts.
    failing: u32,
}

impl RouteLoop {
    /// Starts the cluster feed and its source, the publisher (API source only), the kernel
    /// monitor and the policy reconciler around `rec`.
    fn start(opts: &Options, rec: Reconciler<NetlinkKernel>) -> Result<RouteLoop, AgentError> {
        let source = match &opts.kube {
            Some(k) => Source::kube_kinds(k, Default::default(), watched(&rec.netconf)),
            None => Source::dir(&opts.cluster_dir, DirConfig::default()),
        }?;
        // Only what the API source reads is published to (never with --cluster-dir).
        let publisher = source.client().map(|client| {
            let w = crate::k8s::watch::WatchConfig::default();
            Publisher::start(
                client,
                opts.node_name.clone(),
                rec.netconf.backend,
                (opts.public_ip, rec.wg_public_key),
                (w.backoff_min, w.backoff_max),
            )
        });
        let events = netlink::monitor().context("netlink monitor")?;
        let report = Arc::new(Mutex::new(Report::default()));
        report.lock().expect("report").beat();
        let (routes_tx, routes) = feed::trigger();
        let (policy_tx, policy_rx) = feed::trigger();
        let (feed, source_task) = feed::start(
            source,
            opts.node_name.clone(),
            report.clone(),
            routes_tx.clone(),
            policy_tx,
        );
        start_policy(
            opts.node_name.clone(),
            rec.netconf.network_policy,
            (feed.clone(), source_task),
            policy_rx,
            routes_tx,
            report.clone(),
        )
        .context("starting the policy reconciler")?;
        Ok(RouteLoop {
            rec,
            feed,
            rules: RulesSync::new(NftFirewall),
            routes,
            events,
            report,
            publisher,
            cni_conf: opts.cni_conf.clone(),
            failing: 0,
        })
    }

    /// A node-rules pass (`full`: the resync's), its section into the report.
    fn sync_rules(&mut self, full: bool) {
        let rules = firewall::node_rules(&self.rec.netconf);
        let section = self.rules.sync(&rules, full);
        self.report.lock().expect("report").node_rules = section;
    }

    /// Waits for the next reason to reconcile; true on the resync tick.
    async fn wait(&mut self, timer: &mut smol::Timer) -> bool {
        let hint_due = self.rec.hint_due();
        let (routes, events) = (&self.routes, &self.events);
        let wake = async {
            // the feed's task never ends while the agent runs
            let _ = routes.recv().await;
            Wake::Cluster
        }
        .or(async {
            match events.recv().await {
                Ok(()) => Wake::Kernel,
                Err(_) => {
                    // the monitor died: fall back to the timer alone
                    smol::future::pending::<()>().await;
                    unreachable!()
                }
            }
        })
        .or(async {
            use smol::stream::StreamExt;
            timer.next().await;
            Wake::Timer
        })
        .or(async {
            match hint_due {
                Some(t) => smol::Timer::at(t).await,
                None => smol::future::pending().await,
            };
            Wake::Hint
        })
        .await;
        self.report.lock().expect("report").beat();
        match wake {
            Wake::Timer => true,
            Wake::Cluster | Wake::Hint => false,
            Wake::Kernel => {
                // A cluster change ends the wait: it is not ours to coalesce.
                let wait = async {
                    smol::Timer::after(DEBOUNCE.max(backoff(self.failing))).await;
                };
                wait.or(async {
                    let _ = routes.recv().await;
                })
                .await;
                while events.try_recv().is_ok() {}
                false
            }
        }
    }

    /// One pass: reconcile, publish the CNI config and the Node's annotations once the node is
    /// programmed (its rules in force, policy in force or off), and share the report.
    fn pass(&mut self) {
        // Before the source's first snapshot: an empty state, with which the pass touches
        // nothing and says what it waits for.
        let state = self.feed.current().unwrap_or_default();
        let mut r = self.report.lock().expect("report").clone();
        self.rec.reconcile(&state, &mut r);
        self.failing = if r.last_errors.is_empty() {
            0
        } else {
            self.failing.saturating_add(1)
        };
        // The CNI config goes out once routes are programmed, the node's rules are in force and
        // policy is too (or off): the policy reconciler wakes this loop when it settles.
        let settled = {
            let shared = self.report.lock().expect("report");
            shared.node_rules.settled() && shared.policy.settled()
        };
        let mut programmed = r.waiting.is_none() && r.last_errors.is_empty() && settled;
        if let (true, Some((staged, dir))) = (programmed, &self.cni_conf) {
            match crate::install::publish(staged, dir) {
                Ok(Some(done)) => log::info!("CNI config: {done}"),
                Ok(None) => {}
                Err(e) => {
                    let line = ReconcileError::CniConfig(e).line();
                    log::error!("{line}");
                    r.last_errors.push(line);
                    programmed = false;
                }
            }
        }
        {
            // the policy and node-rules sections are theirs: keep what they wrote meanwhile
            let mut shared = self.report.lock().expect("report");
            r.policy = std::mem::take(&mut shared.policy);
            r.node_rules = std::mem::take(&mut shared.node_rules);
            r.source_restarts = shared.source_restarts;
            *shared = r;
        }
        if let (true, Some(p)) = (programmed, self.publisher.as_mut()) {
            p.programmed(&state);
        }
    }
}

/// The kinds the API source watches: Nodes, and the policy kinds when NetworkPolicies are
/// enforced.
fn watched(netconf: &ClusterNetwork) -> &'static [crate::k8s::watch::Resource] {
    if netconf.network_policy {
        crate::k8s::watch::WITH_POLICY
    } else {
        crate::k8s::watch::ROUTING
    }
}

/// Lease files under the IPAM data dir (every network), for /metrics.
fn count_leases(dir: &std::path::Path) -> Option<usize> {
    let mut n = 0;
    for net in std::fs::read_dir(dir).ok()?.flatten() {
        if let Ok(rd) = std::fs::read_dir(net.path()) {
            n += rd
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok())
                })
                .count();
        }
    }
    Some(n)
}
