//! The operator's command line (when not run as a CNI plugin).

use std::path::PathBuf;

use argh::FromArgs;

/// Lichen: a small CNI and node agent for edge Kubernetes. Run by a container runtime (with
/// CNI_COMMAND set) it is the CNI plugin; as `lichen-ipam` it is the IPAM plugin.
#[derive(FromArgs, Debug)]
pub struct Cli {
    #[argh(subcommand)]
    pub command: Sub,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Sub {
    Demo(DemoCmd),
    Version(VersionCmd),
    Ipam(IpamCmd),
}

/// Build a demo cluster in network namespaces on this machine, show pods talking, remove it.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "demo")]
pub struct DemoCmd {
    /// keep the namespaces after the demo (remove them with `ip netns del`)
    #[argh(switch)]
    pub keep: bool,
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

/// List the leases of a network.
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

/// Release every lease not held by one of the given attachments.
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
}

/// Runs the command line; returns the exit code.
pub fn run() -> i32 {
    let cli: Cli = argh::from_env();
    crate::logging::init(None, None, log::LevelFilter::Info);
    match cli.command {
        Sub::Demo(d) => crate::demo::run(d.keep),
        Sub::Version(_) => {
            println!("{}", version_line());
            0
        }
        Sub::Ipam(i) => ipam(i.action),
    }
}

pub fn version_line() -> String {
    format!(
        "lichen {} ({}-{}-{}) cni {}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(target_env = "musl") {
            "musl"
        } else {
            "gnu"
        },
        crate::cni::Version::ALL.map(|v| v.as_str()).join(",")
    )
}

fn ipam(action: IpamAction) -> i32 {
    let res = match action {
        IpamAction::List(l) => lichen_ipam::Ipam::open(&l.data_dir, &l.network)
            .and_then(|i| i.leases())
            .map(|leases| {
                for l in leases {
                    println!("{}\t{}\t{}", l.ip, l.container_id, l.ifname);
                }
            }),
        IpamAction::Gc(g) => {
            let keep: Vec<(String, String)> = g
                .keep
                .iter()
                .map(|k| match k.split_once('/') {
                    Some((c, i)) => (c.to_owned(), i.to_owned()),
                    None => (k.clone(), String::new()),
                })
                .collect();
            lichen_ipam::Ipam::open(&g.data_dir, &g.network).map(|i| {
                let (released, errors) = i.gc(&keep);
                for ip in released {
                    println!("released {ip}");
                }
                for e in errors {
                    eprintln!("error: {e}");
                }
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
