//! The operator's command line (when not run as a CNI plugin): [`args`] the commands and their
//! options, [`parse`] the conventions (help, version, exit codes), one module per group of
//! commands; [`error`] their errors, printed whole on stderr with the exit code they map to.

mod args;
mod error;
mod install;
mod ops;

use std::path::PathBuf;

use argh::FromArgs;

use crate::build_info::version_line;
pub use args::*;

use error::exit;
use install::{install, uninstall};
use ops::{agent, cleanup, ipam, policy_explain, status};

/// Runs the command line; returns the exit code.
pub fn run() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let cli = match parse(&args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    crate::logging::init(None, None, log::LevelFilter::Info);
    match cli.command {
        Sub::Agent(a) if a.cleanup => cleanup(&a.subnet_file),
        Sub::Agent(a) => exit("lichen agent", agent(a)),
        Sub::Status(s) => exit("lichen status", status(&s)),
        Sub::Demo(d) => crate::demo::run(d.keep),
        Sub::Install(i) => exit("lichen install", install(i)),
        Sub::Daemonset(d) => daemonset(d),
        Sub::Uninstall(u) => uninstall(u),
        Sub::Version(_) => {
            println!("{}", version_line());
            0
        }
        Sub::Ipam(i) => ipam(i.action),
        Sub::Policy(p) => match p.action {
            PolicyAction::Explain(e) => policy_explain(&crate::agent::explain::Request {
                src: e.src,
                dst: e.dst,
                port: e.port,
                server: e.server,
            }),
        },
    }
}

/// `lichen daemonset`: installs the plugin with the conflist staged, then runs the agent from
/// the API server, which writes the conflist into the conf dir once the node is programmed.
fn daemonset(d: DaemonsetCmd) -> i32 {
    let code = exit(
        "lichen install",
        install(InstallCmd {
            bin_dir: d.bin_dir,
            conf_dir: d.conf_dir.clone(),
            conflist: None,
            custom_conflist: None,
            plugins_from: d.plugins_from,
            stage: Some(PathBuf::from(STAGED_CONFLIST)),
            force: false,
            mode: d.mode,
        }),
    );
    if code != 0 {
        return code;
    }
    let agent_cmd = AgentCmd {
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
        wireguard_key_file: PathBuf::from(crate::agent::wireguard::DEFAULT_KEY_FILE),
        cleanup: false,
        network_policy: d.network_policy,
        public_ip: None,
        cni_conf_dir: Some(d.conf_dir),
        cni_conflist: PathBuf::from(STAGED_CONFLIST),
    };
    exit("lichen agent", agent(agent_cmd))
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
