//! The command line's words: one argh struct per command, its options and their defaults.

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
    /// the WireGuard backend's private key file: used as is when it exists (e.g. written by
    /// `wg genkey`, mode 0600), else created with a fresh key (default
    /// /var/lib/lichen/wireguard.key)
    #[argh(
        option,
        default = "PathBuf::from(crate::agent::wireguard::DEFAULT_KEY_FILE)"
    )]
    pub wireguard_key_file: PathBuf,
    /// remove everything the agent created (routes, VXLAN or WireGuard device and the
    /// wireguard-go it started, nftables table, subnet file) and exit
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
    /// write this "mode" into the built-in conflist: routed or bridge (default: none, so each
    /// node routes its pods unless its bridge still has pods)
    #[argh(option)]
    pub mode: Option<crate::cni::Mode>,
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
    /// the built-in conflist's "mode": routed or bridge (default: none, see `lichen install`)
    #[argh(option)]
    pub mode: Option<crate::cni::Mode>,
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
