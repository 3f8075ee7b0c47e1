//! `lichen status`, `lichen agent` (and `--cleanup`), `lichen ipam`.

use std::path::PathBuf;

use super::args::*;

/// `lichen status [--wait SECONDS] [-o json]`: the agent's status; exit 0 only when `/readyz`
/// says the node is programmed.
pub(super) fn status(s: &StatusCmd) -> i32 {
    use crate::agent::client::fetch;
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

/// Removes every route, device, nftables table and the subnet file the agent made; returns the
/// errors.
pub(super) fn agent_cleanup(subnet_file: &std::path::Path) -> Vec<String> {
    use crate::agent::{netlink::NetlinkKernel, reconcile::Reconciler};
    let kernel = match NetlinkKernel::open() {
        Ok(k) => k,
        Err(e) => return vec![format!("netlink: {e}")],
    };
    let netconf = crate::agent::netconf::ClusterNetwork {
        network: Vec::new(),
        subnet_len: Vec::new(),
        backend: lichen_backends::BackendConf::HostGw,
        mtu: None,
        ipmasq: false,
        network_policy: false,
    };
    Reconciler::new(kernel, String::new(), netconf, None, subnet_file.to_owned()).cleanup()
}

pub(super) fn agent(a: AgentCmd) -> i32 {
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

pub(super) fn ipam(action: IpamAction) -> i32 {
    match action {
        IpamAction::List(l) => ipam_list(l),
        IpamAction::Gc(g) => ipam_gc(g),
    }
}

/// `lichen ipam list`: one line per lease of the network.
fn ipam_list(l: IpamList) -> i32 {
    use lichen_ipam::{DiskStore, Store};
    if let Err(e) = lichen_ipam::disk::validate_network_name(&l.network) {
        eprintln!("lichen ipam: {e}");
        return 1;
    }
    let dir = l.data_dir.join(&l.network);
    if !dir.is_dir() {
        eprintln!(
            "lichen ipam list: {} does not exist: check --network (the conflist's \"name\") and --data-dir",
            dir.display()
        );
        return 1;
    }
    let res = DiskStore::at(dir).list().map(|leases| {
        for l in leases {
            println!("{}\t{}\t{}", l.ip, l.container_id, l.ifname);
        }
    });
    ipam_exit(res)
}

/// `lichen ipam gc`: releases the leases of attachments not kept (or, `--dry-run`, says which).
fn ipam_gc(g: IpamGc) -> i32 {
    use lichen_ipam::Ipam;
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
    let res = Ipam::open(&g.data_dir, &g.network).and_then(|i| {
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
    });
    ipam_exit(res)
}

/// The exit code of an `ipam` command: 1 (with the error) if it failed.
fn ipam_exit(res: Result<(), lichen_ipam::IpamError>) -> i32 {
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lichen ipam: {e}");
            1
        }
    }
}
