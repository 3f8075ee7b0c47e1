//! The operator's command line (when not run as a CNI plugin).

use std::path::PathBuf;

use argh::FromArgs;

/// Lichen: a small CNI and node agent for edge Kubernetes. Run by a container runtime (with
/// CNI_COMMAND set) it is the CNI plugin; as `lichen-ipam` the IPAM plugin; as `loopback` the
/// loopback plugin. `-h`, `--help` or `help` on any command explains it; `--version` says which
/// build this is.
#[derive(FromArgs, Debug)]
#[argh(
    error_code(0, "success"),
    error_code(1, "failure (and `lichen status`: the node is not healthy)"),
    error_code(2, "usage error: unknown command or option, missing argument")
)]
pub struct Cli {
    #[argh(subcommand)]
    pub command: Sub,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Sub {
    Agent(AgentCmd),
    Status(StatusCmd),
    Demo(DemoCmd),
    Install(InstallCmd),
    Uninstall(UninstallCmd),
    Daemonset(DaemonsetCmd),
    Version(VersionCmd),
    Ipam(IpamCmd),
    Policy(PolicyCmd),
}

/// Run the node agent: the node's pod subnet, routes to every peer (host-gw or VXLAN), egress
/// masquerade, kept in sync with the cluster.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "agent")]
pub struct AgentCmd {
    /// this node's name (its Node object); default $NODE_NAME
    #[argh(option)]
    pub node_name: Option<String>,
    /// the Flannel-style net-conf.json (Network, Backend{Type,VNI,Port,DirectRouting,MTU}, IPMasq)
    #[argh(option)]
    pub net_conf: Option<PathBuf>,
    /// directory of Kubernetes objects as JSON files (Nodes), watched for changes
    #[argh(option)]
    pub cluster_dir: Option<PathBuf>,
    /// read the cluster from the Kubernetes API in-cluster (service account token and CA,
    /// KUBERNETES_SERVICE_HOST/PORT)
    #[argh(switch)]
    pub kube: bool,
    /// read the cluster from the Kubernetes API named by this kubeconfig (e.g.
    /// /etc/rancher/k3s/k3s.yaml)
    #[argh(option)]
    pub kubeconfig: Option<PathBuf>,
    /// where to write the node's subnet for the plugin (default /run/lichen/subnet.env)
    #[argh(option, default = "PathBuf::from(crate::subnet_file::DEFAULT_PATH)")]
    pub subnet_file: PathBuf,
    /// the underlay interface (default: the one holding the node's InternalIP)
    #[argh(option)]
    pub iface: Option<String>,
    /// address of the status/health/metrics endpoint (default 127.0.0.1:9470)
    #[argh(
        option,
        default = "crate::agent::http::DEFAULT_LISTEN.parse().unwrap()"
    )]
    pub listen: std::net::SocketAddr,
    /// serve /metrics (and nothing else) on this address too, e.g. 0.0.0.0:9471 for a
    /// Prometheus scraping from other hosts (off by default)
    #[argh(option)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// the IPAM data directory, for the leases metric (default /var/lib/cni/networks)
    #[argh(option, default = "PathBuf::from(crate::plugin::DEFAULT_DATA_DIR)")]
    pub ipam_dir: PathBuf,
    /// the underlay address peers should reach this node at, when not its InternalIP; published
    /// as the lichen.dev/public-ip annotation (with --kube/--kubeconfig)
    #[argh(option)]
    pub public_ip: Option<std::net::IpAddr>,
    /// remove everything the agent created (routes, VXLAN device, nftables table, subnet file)
    /// and exit
    #[argh(switch)]
    pub cleanup: bool,
    /// enforce Kubernetes NetworkPolicies on this node (also `"NetworkPolicy": true` in the
    /// net-conf); off, the policy table is removed
    #[argh(switch)]
    pub network_policy: bool,
    /// the runtime's CNI config directory: write the conflist staged by `lichen install --stage`
    /// there once this node is programmed (so the node turns Ready only when pods can get
    /// addresses)
    #[argh(option)]
    pub cni_conf_dir: Option<PathBuf>,
    /// the staged conflist for --cni-conf-dir (default /run/lichen/10-lichen.conflist)
    #[argh(option, default = "PathBuf::from(STAGED_CONFLIST)")]
    pub cni_conflist: PathBuf,
}

/// Where the DaemonSet's installer stages the conflist for the agent.
pub const STAGED_CONFLIST: &str = "/run/lichen/10-lichen.conflist";

/// Show this node's backend, subnet, peers and any drift, from the running agent. Exit 0 when the
/// node is ready (programmed, no errors), 1 when it is not or no agent answers.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "status")]
pub struct StatusCmd {
    /// the agent's status endpoint (default 127.0.0.1:9470)
    #[argh(
        option,
        default = "crate::agent::http::DEFAULT_LISTEN.parse().unwrap()"
    )]
    pub server: std::net::SocketAddr,
    /// wait up to this many seconds for the node to be ready, then show the status
    #[argh(option)]
    pub wait: Option<u64>,
    /// output format: text (default) or json
    #[argh(option, short = 'o', default = "String::from(\"text\")")]
    pub output: String,
}

/// Build a demo cluster in network namespaces on this machine, show pods talking, remove it.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "demo")]
pub struct DemoCmd {
    /// keep the namespaces after the demo (remove them with `ip netns del`)
    #[argh(switch)]
    pub keep: bool,
}

/// Install the plugin (with its lichen-ipam and loopback links), the plugins its conflist chains,
/// and the conflist, where the container runtime looks. Plain containerd, CRI-O and k3s started
/// with --flannel-backend=none use the defaults; microk8s: --bin-dir
/// /var/snap/microk8s/current/opt/cni/bin --conf-dir /var/snap/microk8s/current/args/cni-network.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "install")]
pub struct InstallCmd {
    /// the CNI binary directory (default /opt/cni/bin)
    #[argh(option, default = "PathBuf::from(\"/opt/cni/bin\")")]
    pub bin_dir: PathBuf,
    /// the CNI config directory (default /etc/cni/net.d)
    #[argh(option, default = "PathBuf::from(\"/etc/cni/net.d\")")]
    pub conf_dir: PathBuf,
    /// the conflist to install instead of the built-in one
    #[argh(option)]
    pub conflist: Option<PathBuf>,
    /// like --conflist, but only when this file exists (the DaemonSet points it at an optional
    /// ConfigMap key); otherwise the built-in conflist
    #[argh(option)]
    pub custom_conflist: Option<PathBuf>,
    /// where to link chained plugins (portmap, bandwidth) from when the bin dir lacks them
    /// (repeatable; k3s keeps its own in /var/lib/rancher/k3s/data/cni); a plugin found nowhere
    /// is left out of the built-in conflist
    #[argh(option)]
    pub plugins_from: Vec<PathBuf>,
    /// write the conflist to this file instead of the conf dir; `lichen agent --cni-conf-dir`
    /// puts it in place once the node is programmed
    #[argh(option)]
    pub stage: Option<PathBuf>,
    /// replace a 10-lichen.conflist that is not Lichen's
    #[argh(switch)]
    pub force: bool,
}

/// The image's default command: `lichen install` into the host's CNI directories (mounted at
/// /host/opt/cni/bin and /host/etc/cni/net.d) with the conflist staged in /run/lichen, then
/// `lichen agent --kube` with the net-conf from /etc/lichen/net-conf.json (a ConfigMap) and
/// NODE_NAME from the downward API, which writes the conflist once the node is programmed.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "daemonset")]
pub struct DaemonsetCmd {
    /// where the host's CNI binary directory is mounted (default /host/opt/cni/bin)
    #[argh(option, default = "PathBuf::from(\"/host/opt/cni/bin\")")]
    pub bin_dir: PathBuf,
    /// where the host's CNI config directory is mounted (default /host/etc/cni/net.d)
    #[argh(option, default = "PathBuf::from(\"/host/etc/cni/net.d\")")]
    pub conf_dir: PathBuf,
    /// where to link missing chained plugins from (repeatable; k3s:
    /// /var/lib/rancher/k3s/data/cni, mounted at the same path)
    #[argh(option)]
    pub plugins_from: Vec<PathBuf>,
    /// the net-conf.json (default /etc/lichen/net-conf.json)
    #[argh(option, default = "PathBuf::from(\"/etc/lichen/net-conf.json\")")]
    pub net_conf: PathBuf,
    /// enforce Kubernetes NetworkPolicy (also "NetworkPolicy": true in net-conf.json)
    #[argh(switch)]
    pub network_policy: bool,
}

/// Remove what `lichen install` put in place (a conflist only if it is Lichen's); with --all
/// also everything the agent made on this node. Run it before k3s-uninstall.sh or removing the
/// microk8s snap.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "uninstall")]
pub struct UninstallCmd {
    /// the CNI binary directory (default /opt/cni/bin)
    #[argh(option, default = "PathBuf::from(\"/opt/cni/bin\")")]
    pub bin_dir: PathBuf,
    /// the CNI config directory (default /etc/cni/net.d)
    #[argh(option, default = "PathBuf::from(\"/etc/cni/net.d\")")]
    pub conf_dir: PathBuf,
    /// also remove what the agent made: its routes (proto 108), the VXLAN device, both
    /// nftables tables, the bridge, and the files in /run/lichen (stop the DaemonSet first)
    #[argh(switch)]
    pub all: bool,
    /// the agent's subnet file; its directory also holds the staged conflist (default
    /// /run/lichen/subnet.env)
    #[argh(option, default = "PathBuf::from(crate::subnet_file::DEFAULT_PATH)")]
    pub subnet_file: PathBuf,
}

/// NetworkPolicy tools.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "policy")]
pub struct PolicyCmd {
    #[argh(subcommand)]
    pub action: PolicyAction,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum PolicyAction {
    Explain(PolicyExplain),
}

/// Whether this node lets a new connection SRC -> DST PORT/PROTO through, and by which rule,
/// asked of the running agent (the ruleset the kernel got). Exit 0: allowed, 1: denied.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "explain")]
pub struct PolicyExplain {
    /// source address
    #[argh(positional)]
    pub src: std::net::IpAddr,
    /// destination address
    #[argh(positional)]
    pub dst: std::net::IpAddr,
    /// PORT/PROTO, e.g. 8080/tcp or 53/udp (protocol tcp when omitted)
    #[argh(positional)]
    pub port: String,
    /// the agent's endpoint (default 127.0.0.1:9470)
    #[argh(
        option,
        default = "crate::agent::http::DEFAULT_LISTEN.parse().unwrap()"
    )]
    pub server: std::net::SocketAddr,
}

/// Print the version, the target and the enabled features.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "version")]
pub struct VersionCmd {}

/// Inspect and repair the IPAM store.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "ipam")]
pub struct IpamCmd {
    #[argh(subcommand)]
    pub action: IpamAction,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum IpamAction {
    List(IpamList),
    Gc(IpamGc),
}

/// List the leases of a network (reads the store; changes nothing on disk).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
pub struct IpamList {
    /// the network name (the conflist's "name")
    #[argh(option)]
    pub network: String,
    /// the IPAM data directory (default /var/lib/cni/networks)
    #[argh(option, default = "PathBuf::from(crate::plugin::DEFAULT_DATA_DIR)")]
    pub data_dir: PathBuf,
}

/// Release every lease not held by one of the given attachments. Give the attachments to keep
/// (--keep, repeatable), or --all to release every lease: never everything by omission.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "gc")]
pub struct IpamGc {
    /// the network name
    #[argh(option)]
    pub network: String,
    /// the IPAM data directory (default /var/lib/cni/networks)
    #[argh(option, default = "PathBuf::from(crate::plugin::DEFAULT_DATA_DIR)")]
    pub data_dir: PathBuf,
    /// an attachment to keep, as CONTAINERID/IFNAME (repeatable)
    #[argh(option)]
    pub keep: Vec<String>,
    /// release every lease of the network (instead of --keep)
    #[argh(switch)]
    pub all: bool,
    /// say what would be released, release nothing
    #[argh(switch)]
    pub dry_run: bool,
}

/// Runs the command line; returns the exit code.
pub fn run() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let cli = match parse(&args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    crate::logging::init(None, None, log::LevelFilter::Info);
    match cli.command {
        Sub::Agent(a) => agent(a),
        Sub::Status(s) => status(&s),
        Sub::Demo(d) => crate::demo::run(d.keep),
        Sub::Install(i) => install(i),
        Sub::Daemonset(d) => {
            let code = install(InstallCmd {
                bin_dir: d.bin_dir,
                conf_dir: d.conf_dir.clone(),
                conflist: None,
                custom_conflist: None,
                plugins_from: d.plugins_from,
                stage: Some(PathBuf::from(STAGED_CONFLIST)),
                force: false,
            });
            if code != 0 {
                return code;
            }
            agent(AgentCmd {
                node_name: None,
                net_conf: Some(d.net_conf),
                cluster_dir: None,
                kube: true,
                kubeconfig: None,
                subnet_file: PathBuf::from(crate::subnet_file::DEFAULT_PATH),
                iface: None,
                listen: crate::agent::http::DEFAULT_LISTEN
                    .parse()
                    .expect("a socket address"),
                metrics_listen: None,
                ipam_dir: PathBuf::from(crate::plugin::DEFAULT_DATA_DIR),
                cleanup: false,
                network_policy: d.network_policy,
                public_ip: None,
                cni_conf_dir: Some(d.conf_dir),
                cni_conflist: PathBuf::from(STAGED_CONFLIST),
            })
        }
        Sub::Uninstall(u) => uninstall(u),
        Sub::Version(_) => {
            println!("{}", version_line());
            0
        }
        Sub::Ipam(i) => ipam(i.action),
        Sub::Policy(p) => match p.action {
            PolicyAction::Explain(e) => crate::agent::explain::cli(&e),
        },
    }
}

/// The command line as the operator's tools in the same toolbox take it: `-h` as well as
/// `--help` and `help`, `--version` as well as `lichen version`; help and the version on stdout
/// with exit 0, usage errors on stderr with exit 2. `Err` is the exit code to end with.
fn parse(args: &[String]) -> Result<Cli, i32> {
    let name = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("lichen");
    let rest: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| if a == "-h" { "--help" } else { a.as_str() })
        .collect();
    if matches!(rest.as_slice(), ["--version"] | ["-V"]) {
        println!("{}", version_line());
        return Err(0);
    }
    Cli::from_args(&[name], &rest).map_err(|exit| match exit.status {
        Ok(()) => {
            println!("{}", exit.output);
            0
        }
        Err(()) => {
            eprintln!("{}", exit.output);
            2
        }
    })
}

/// `lichen status [--wait SECONDS] [-o json]`: the agent's status; exit 0 only when `/readyz`
/// says the node is programmed.
fn status(s: &StatusCmd) -> i32 {
    use crate::agent::http::fetch;
    let path = match s.output.as_str() {
        "text" => "/status",
        "json" => "/status?format=json",
        other => {
            eprintln!("lichen status: -o takes text or json, not {other:?}");
            return 2;
        }
    };
    let ready = || matches!(fetch(s.server, "/readyz"), Ok((200, _)));
    if let Some(secs) = s.wait {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !ready() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
    match fetch(s.server, path) {
        Ok((200, body)) => {
            print!("{body}");
            if ready() {
                0
            } else {
                eprintln!("lichen status: this node is not ready (see above)");
                1
            }
        }
        Ok((code, body)) => {
            eprintln!("lichen status: agent answered {code}: {body}");
            1
        }
        Err(e) => {
            eprintln!(
                "lichen status: no agent at {} ({e}); is `lichen agent` running?",
                s.server
            );
            1
        }
    }
}

fn install(i: InstallCmd) -> i32 {
    let custom = i.custom_conflist.filter(|p| {
        let there = p.exists();
        if !there {
            println!(
                "{} not found: installing the built-in conflist",
                p.display()
            );
        }
        there
    });
    let (conflist, builtin) = match i.conflist.or(custom) {
        Some(p) => match std::fs::read_to_string(&p) {
            Ok(t) => (t, false),
            Err(e) => {
                eprintln!("lichen install: {}: {e}", p.display());
                return 1;
            }
        },
        None => (crate::install::DEFAULT_CONFLIST.to_owned(), true),
    };
    let inst = crate::install::Install {
        bin_dir: i.bin_dir,
        conf_dir: i.conf_dir,
        conflist,
        builtin,
        plugins_from: i.plugins_from,
        stage: i.stage,
        force: i.force,
    };
    let res = std::env::current_exe().and_then(|exe| inst.run(&exe));
    report_lines("install", res)
}

/// `lichen uninstall [--all]`: the files first (so the runtime stops calling the plugin), then,
/// with --all, what the agent made, with the agent's own cleanup and the plugin's bridge.
fn uninstall(u: UninstallCmd) -> i32 {
    let bridge = crate::install::installed_bridge(&u.conf_dir);
    let code = report_lines(
        "uninstall",
        crate::install::uninstall(&u.bin_dir, &u.conf_dir),
    );
    if !u.all {
        return code;
    }
    let mut errors = agent_cleanup(&u.subnet_file);
    match crate::nl::Nl::open()
        .and_then(|mut nl| crate::nl::missing_ok(nl.delete_link(crate::nl::LinkId::Name(&bridge))))
    {
        Ok(()) => println!("removed bridge {bridge} (if it was there)"),
        Err(e) => errors.push(format!("bridge {bridge}: {e}")),
    }
    let dir = u.subnet_file.parent().unwrap_or(std::path::Path::new("/"));
    let staged = dir.join(crate::install::CONFLIST_NAME);
    match std::fs::remove_file(&staged) {
        Ok(()) => println!("removed {}", staged.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => errors.push(format!("{}: {e}", staged.display())),
    }
    // the directory only when nothing else is left in it
    if std::fs::remove_dir(dir).is_ok() {
        println!("removed {}", dir.display());
    }
    for e in &errors {
        eprintln!("lichen uninstall: {e}");
    }
    if errors.is_empty() {
        code
    } else {
        1
    }
}

fn report_lines(what: &str, res: std::io::Result<Vec<String>>) -> i32 {
    match res {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            0
        }
        Err(e) => {
            eprintln!("lichen {what}: {e}");
            1
        }
    }
}

/// Removes every route, device, nftables table and the subnet file the agent made; returns the
/// errors.
fn agent_cleanup(subnet_file: &std::path::Path) -> Vec<String> {
    use crate::agent::{netlink::NetlinkKernel, reconcile::Reconciler};
    let kernel = match NetlinkKernel::open() {
        Ok(k) => k,
        Err(e) => return vec![format!("netlink: {e}")],
    };
    let netconf = crate::agent::netconf::NetConf {
        network: Vec::new(),
        subnet_len: Vec::new(),
        backend: crate::agent::netconf::Backend::HostGw,
        mtu: None,
        ipmasq: false,
        network_policy: false,
    };
    Reconciler::new(kernel, String::new(), netconf, None, subnet_file.to_owned()).cleanup()
}

fn agent(a: AgentCmd) -> i32 {
    use crate::agent::run;
    if a.cleanup {
        let errors = agent_cleanup(&a.subnet_file);
        for e in &errors {
            eprintln!("lichen agent --cleanup: {e}");
        }
        return if errors.is_empty() { 0 } else { 1 };
    }
    let node_name = a.node_name.or_else(|| std::env::var("NODE_NAME").ok());
    let (Some(node_name), Some(net_conf)) = (node_name, a.net_conf) else {
        eprintln!("lichen agent: needs --node-name (or NODE_NAME) and --net-conf");
        return 2;
    };
    let (cluster_dir, kube) = match cluster_source(a.cluster_dir, a.kube, a.kubeconfig) {
        Ok(Ok(source)) => source,
        Ok(Err(e)) => {
            eprintln!("lichen agent: {e}");
            return 1;
        }
        Err(usage) => {
            eprintln!("lichen agent: {usage}");
            return 2;
        }
    };
    let opts = run::Options {
        node_name,
        net_conf,
        cluster_dir,
        kube,
        subnet_file: a.subnet_file,
        iface: a.iface,
        listen: a.listen,
        metrics_listen: a.metrics_listen,
        ipam_dir: a.ipam_dir,
        network_policy: a.network_policy,
        public_ip: a.public_ip,
        cni_conf: a.cni_conf_dir.map(|d| (a.cni_conflist, d)),
        podcidr_wait: run::podcidr_wait_from_env(),
    };
    match run::run(opts) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lichen agent: {e}");
            1
        }
    }
}

/// Exactly one of `--cluster-dir`, `--kube`, `--kubeconfig`: the cluster dir (empty with the
/// API) and the API configuration. `Err`: a usage error; `Ok(Err)`: the kubeconfig or service
/// account cannot be read.
#[allow(clippy::type_complexity)]
fn cluster_source(
    dir: Option<PathBuf>,
    kube: bool,
    kubeconfig: Option<PathBuf>,
) -> Result<Result<(PathBuf, Option<crate::k8s::KubeConfig>), String>, &'static str> {
    use crate::k8s::KubeConfig;
    match (dir, kube, kubeconfig) {
        (Some(d), false, None) => Ok(Ok((d, None))),
        (None, true, None) => Ok(KubeConfig::in_cluster()
            .map(|k| (PathBuf::new(), Some(k)))
            .map_err(|e| format!("--kube: {e}"))),
        (None, false, Some(f)) => Ok(KubeConfig::from_file(&f)
            .map(|k| (PathBuf::new(), Some(k)))
            .map_err(|e| format!("--kubeconfig: {e}"))),
        (None, false, None) => Err("needs one of --cluster-dir, --kube or --kubeconfig"),
        _ => Err("--cluster-dir, --kube and --kubeconfig are mutually exclusive"),
    }
}

/// `lichen version`: one line with the version, the target triple, how it was linked, the enabled
/// Cargo features and the CPU features it was compiled for, the CNI versions it speaks and the
/// commit it was built from (`LICHEN_COMMIT` at build time, as cross/build.sh sets it), e.g.
/// `lichen 0.1.0 arm-unknown-linux-musleabihf static features=[] cpu=[v6,vfp2] cni=0.3.0,… commit=1c4a87c`.
///
/// The triple is composed from `cfg!` (Cargo gives a crate no `TARGET` outside build scripts).
/// Stable rustc does not expose the ARM architecture versions to `cfg!` (nightly does), so a build
/// may name its target in `LICHEN_TARGET` at compile time (cross/build.sh and Cross.toml do).
pub fn version_line() -> String {
    fn arch() -> &'static str {
        match std::env::consts::ARCH {
            "arm" if cfg!(target_feature = "v7") => "armv7",
            a => a,
        }
    }
    fn env_abi() -> String {
        let env = if cfg!(target_env = "musl") {
            "musl"
        } else if cfg!(target_env = "gnu") {
            "gnu"
        } else {
            ""
        };
        let abi = if cfg!(target_abi = "eabihf") {
            "eabihf"
        } else if cfg!(target_abi = "eabi") {
            "eabi"
        } else {
            ""
        };
        format!("{env}{abi}")
    }
    // Cargo features of the crate, as (name, enabled): add one line per feature in Cargo.toml.
    const FEATURES: &[(&str, bool)] = &[];
    // The CPU features that matter for the boards (and the x86_64/aarch64 baselines).
    const CPU: &[(&str, bool)] = &[
        ("v6", cfg!(target_feature = "v6")),
        ("v7", cfg!(target_feature = "v7")),
        ("thumb2", cfg!(target_feature = "thumb2")),
        ("vfp2", cfg!(target_feature = "vfp2")),
        ("vfp3", cfg!(target_feature = "vfp3")),
        ("neon", cfg!(target_feature = "neon")),
        ("sse2", cfg!(target_feature = "sse2")),
        ("avx2", cfg!(target_feature = "avx2")),
    ];
    let on = |list: &[(&str, bool)]| {
        list.iter()
            .filter(|(_, enabled)| *enabled)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(",")
    };
    let triple = match option_env!("LICHEN_TARGET") {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => format!("{}-unknown-{}-{}", arch(), std::env::consts::OS, env_abi()),
    };
    format!(
        "lichen {} {triple} {} features=[{}] cpu=[{}] cni={} commit={}",
        env!("CARGO_PKG_VERSION"),
        if cfg!(target_feature = "crt-static") {
            "static"
        } else {
            "dynamic"
        },
        on(FEATURES),
        on(CPU),
        crate::cni::Version::ALL.map(|v| v.as_str()).join(","),
        crate::agent::metrics::commit()
    )
}

fn ipam(action: IpamAction) -> i32 {
    use lichen_ipam::{DiskStore, Ipam, Store};
    let res = match action {
        IpamAction::List(l) => {
            let dir = l.data_dir.join(&l.network);
            if lichen_ipam::disk::validate_network_name(&l.network).is_ok() && !dir.is_dir() {
                eprintln!(
                    "lichen ipam list: {} does not exist: check --network (the conflist's \"name\") and --data-dir",
                    dir.display()
                );
                return 1;
            }
            lichen_ipam::disk::validate_network_name(&l.network)
                .and_then(|()| DiskStore::at(dir).list())
                .map(|leases| {
                    for l in leases {
                        println!("{}\t{}\t{}", l.ip, l.container_id, l.ifname);
                    }
                })
        }
        IpamAction::Gc(g) => {
            if g.keep.is_empty() != g.all {
                eprintln!(
                    "lichen ipam gc: give the attachments to keep (--keep CONTAINERID/IFNAME, repeatable) or --all to release every lease, not both"
                );
                return 2;
            }
            let keep: Vec<(String, String)> = g
                .keep
                .iter()
                .map(|k| match k.split_once('/') {
                    Some((c, i)) => (c.to_owned(), i.to_owned()),
                    None => (k.clone(), String::new()),
                })
                .collect();
            Ipam::open(&g.data_dir, &g.network).and_then(|i| {
                if g.dry_run {
                    for l in i.gc_plan(&keep)? {
                        println!("would release {}\t{}\t{}", l.ip, l.container_id, l.ifname);
                    }
                    return Ok(());
                }
                let (released, errors) = i.gc(&keep);
                for ip in released {
                    println!("released {ip}");
                }
                for e in errors {
                    eprintln!("error: {e}");
                }
                Ok(())
            })
        }
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lichen ipam: {e}");
            1
        }
    }
}
