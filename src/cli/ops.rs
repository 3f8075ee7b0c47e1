//! `lichen status`, `lichen agent` (and `--cleanup`), `lichen ipam`, `lichen policy explain`: each returns a
//! [`CliError`] the caller prints and turns into the exit code ([`super::error::exit`]).

use std::path::PathBuf;

use super::args::*;
use super::error::CliError;
use crate::agent::error::chain;

/// `lichen status [--wait SECONDS] [-o json]`: the agent's status; exit 0 only when `/readyz`
/// says the node is programmed.
pub(super) fn status(s: &StatusCmd) -> Result<(), CliError> {
    use crate::agent::client::fetch;
    let path = match s.output.as_str() {
        "text" => "/status",
        "json" => "/status?format=json",
        other => {
            return Err(CliError::Usage(format!(
                "-o takes text or json, not {other:?}"
            )))
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
                Ok(())
            } else {
                Err(CliError::NotReady)
            }
        }
        Ok((code, body)) => Err(CliError::Answered { code, body }),
        Err(source) => Err(CliError::NoAgent {
            addr: s.server,
            source,
        }),
    }
}

/// Removes every route, device, nftables table and the subnet file the agent made: the route
/// reconciler's objects, then the node rules through their firewall driver; returns the errors.
pub(super) fn agent_cleanup(subnet_file: &std::path::Path) -> Vec<CliError> {
    use crate::agent::firewall::{NftFirewall, RulesSync};
    use crate::agent::{netlink::NetlinkKernel, reconcile::Reconciler};
    let mut errors = match NetlinkKernel::open() {
        Ok(kernel) => {
            let netconf = crate::agent::netconf::ClusterNetwork {
                network: Vec::new(),
                subnet_len: Vec::new(),
                backend: lichen_backends::BackendConf::HostGw,
                mtu: None,
                ipmasq: false,
                network_policy: false,
            };
            Reconciler::new(kernel, String::new(), netconf, None, subnet_file.to_owned())
                .cleanup()
                .into_iter()
                .map(CliError::Cleanup)
                .collect()
        }
        Err(e) => vec![CliError::Netlink(e)],
    };
    if let Err(e) = RulesSync::new(NftFirewall).cleanup() {
        errors.push(CliError::NodeRules(e));
    }
    errors
}

/// `lichen agent --cleanup`: one line per error on stderr; exit 1 when any.
pub(super) fn cleanup(subnet_file: &std::path::Path) -> i32 {
    let errors = agent_cleanup(subnet_file);
    for e in &errors {
        eprintln!("lichen agent --cleanup: {}", chain(e));
    }
    if errors.is_empty() {
        0
    } else {
        1
    }
}

pub(super) fn agent(a: AgentCmd) -> Result<(), CliError> {
    use crate::agent::run;
    let node_name = a.node_name.or_else(|| std::env::var("NODE_NAME").ok());
    let (Some(node_name), Some(net_conf)) = (node_name, a.net_conf) else {
        return Err(CliError::Usage(
            "needs --node-name (or NODE_NAME) and --net-conf".into(),
        ));
    };
    let (cluster_dir, kube) = cluster_source(a.cluster_dir, a.kube, a.kubeconfig)?;
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
        wireguard_key_file: a.wireguard_key_file,
        cni_conf: a.cni_conf_dir.map(|d| (a.cni_conflist, d)),
        podcidr_wait: run::podcidr_wait_from_env(),
    };
    Ok(run::run(opts)?)
}

/// Exactly one of `--cluster-dir`, `--kube`, `--kubeconfig`: the cluster dir (empty with the
/// API) and the API configuration. A usage error (exit 2) unless exactly one is given; an
/// error when the kubeconfig or service account cannot be read.
fn cluster_source(
    dir: Option<PathBuf>,
    kube: bool,
    kubeconfig: Option<PathBuf>,
) -> Result<(PathBuf, Option<crate::k8s::KubeConfig>), CliError> {
    use crate::k8s::KubeConfig;
    let api = |flag, config: Result<KubeConfig, _>| {
        config
            .map(|k| (PathBuf::new(), Some(k)))
            .map_err(|error| CliError::Kube { flag, error })
    };
    match (dir, kube, kubeconfig) {
        (Some(d), false, None) => Ok((d, None)),
        (None, true, None) => api("--kube", KubeConfig::in_cluster()),
        (None, false, Some(f)) => api("--kubeconfig", KubeConfig::from_file(&f)),
        (None, false, None) => Err(CliError::Usage(
            "needs one of --cluster-dir, --kube or --kubeconfig".into(),
        )),
        _ => Err(CliError::Usage(
            "--cluster-dir, --kube and --kubeconfig are mutually exclusive".into(),
        )),
    }
}

pub(super) fn ipam(action: IpamAction) -> i32 {
    use super::error::exit;
    match action {
        IpamAction::List(l) => exit("lichen ipam list", ipam_list(l)),
        IpamAction::Gc(g) => exit("lichen ipam gc", ipam_gc(g)),
    }
}

/// `lichen ipam list`: one line per lease of the network.
fn ipam_list(l: IpamList) -> Result<(), CliError> {
    use lichen_ipam::{DiskStore, Store};
    lichen_ipam::disk::validate_network_name(&l.network)?;
    let dir = l.data_dir.join(&l.network);
    if !dir.is_dir() {
        return Err(CliError::NoNetwork(dir));
    }
    for l in DiskStore::at(dir).list()? {
        println!("{}\t{}\t{}", l.ip, l.container_id, l.ifname);
    }
    Ok(())
}

/// `lichen ipam gc`: releases the leases of attachments not kept (or, `--dry-run`, says which).
fn ipam_gc(g: IpamGc) -> Result<(), CliError> {
    use lichen_ipam::Ipam;
    if g.keep.is_empty() != g.all {
        return Err(CliError::Usage(
            "give the attachments to keep (--keep CONTAINERID/IFNAME, repeatable) or --all to release every lease, not both".into(),
        ));
    }
    let keep: Vec<(String, String)> = g
        .keep
        .iter()
        .map(|k| match k.split_once('/') {
            Some((c, i)) => (c.to_owned(), i.to_owned()),
            None => (k.clone(), String::new()),
        })
        .collect();
    let i = Ipam::open(&g.data_dir, &g.network)?;
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
        eprintln!("error: {e}"); // IpamError prints its cause itself
    }
    Ok(())
}

/// `lichen policy explain`: the agent's answer on stdout; exit 0 allowed, 1 denied, 2 on errors.
pub(super) fn policy_explain(e: &crate::agent::explain::Request) -> i32 {
    use crate::agent::explain::{allowed, query_path};
    let answer = query_path(e)
        .map_err(CliError::Query)
        .and_then(|path| ask(e.server, &path));
    match answer {
        Ok(body) => {
            print!("{body}");
            if allowed(&body) {
                0
            } else {
                1
            }
        }
        Err(err) => {
            eprintln!("lichen policy explain: {}", chain(&err));
            2
        }
    }
}

/// GET `path` from the agent at `server`: the body of a 200.
fn ask(server: std::net::SocketAddr, path: &str) -> Result<String, CliError> {
    match crate::agent::client::fetch(server, path) {
        Ok((200, body)) => Ok(body),
        Ok((code, body)) => Err(CliError::Answered { code, body }),
        Err(source) => Err(CliError::NoAgent {
            addr: server,
            source,
        }),
    }
}
