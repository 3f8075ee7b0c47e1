//! The WireGuard backend in the data-path bench (issue 14's figures): Lichen's `wireguard`
//! backend between the same two nodes, in the same run as Lichen's VXLAN, so the cost of the
//! encryption reads as a ratio to the overlay it replaces.
//!
//! Here the device is wireguard-go: this machine's kernel has no WireGuard module, so the agent
//! takes the userspace path. The figures are what a node without the module pays (every packet
//! crosses a TUN device into a Go process and back), not what kernel WireGuard costs.
//!
//! Each node's agent runs in a private mount namespace (`testkit::mounts`: wireguard-go's
//! socket directory is fixed, and both nodes would use `lichen-wg.sock`), with a key made here
//! and published in its Node file, as an operator does in cluster-dir mode. The wireguard-go
//! the agents start outlive them by design: the bed's drop ends them (`kill_netns_processes`).

use std::fs;
use std::path::Path;

use lichen_wireguard::keyfile;
use testkit::kube_api::{node_json, patch_annotations};
use testkit::mounts::PrivateMounts;
use testkit::{AgentArgs, NamedNs, Source};

use super::common::{attach_pod, bin, Agent};
use super::flannel;

/// The agents, their mount namespaces and the pods (one per node) of a WireGuard bed.
pub type WgNodes = (Vec<Agent>, Vec<PrivateMounts>, Vec<(NamedNs, String)>);

/// Programs `nodes` (n1, n2) with the wireguard backend and attaches a pod on each.
pub fn lichen_wg_nodes(
    nodes: &[(NamedNs, String)],
    dir: &Path,
    pod_name: impl Fn(usize) -> String,
) -> WgNodes {
    let conf = format!(
        r#"{{"Network":"{}","IPMasq":true,"Backend":{{"Type":"wireguard"}}}}"#,
        flannel::NETWORK
    );
    fs::write(dir.join("net-conf.json"), conf).unwrap();
    let keys: Vec<_> = (1..=nodes.len())
        .map(|i| dir.join(format!("n{i}-wg/wireguard.key")))
        .collect();
    for (k, (_, ip)) in nodes.iter().enumerate() {
        let name = format!("n{}", k + 1);
        let public = keyfile::create(&keys[k]).unwrap().public().to_base64();
        let patch = format!(
            r#"{{"metadata":{{"annotations":{{"lichen.dev/wireguard-public-key":"{public}"}}}}}}"#
        );
        let json = node_json(&name, &flannel::subnet(k + 1), ip, 1);
        let json = patch_annotations(&json, &patch).expect("annotations patch");
        fs::write(dir.join(format!("objects/{name}.json")), json).unwrap();
    }
    let (mut agents, mut all_mounts, mut pods) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (ns, _)) in nodes.iter().enumerate() {
        let name = format!("n{}", k + 1);
        let mounts = PrivateMounts::create(ns, &[Path::new("/run/wireguard")]).unwrap();
        let args = AgentArgs {
            node_name: &name,
            net_conf: &dir.join("net-conf.json"),
            source: Source::ClusterDir(&dir.join("objects")),
            subnet_file: &dir.join(format!("{name}.env")),
            ipam_dir: None,
        };
        let log = dir.join(format!("{name}-agent.log"));
        let mut c = testkit::agent_command(ns, bin(), &args, &log);
        mounts.enter(&mut c).unwrap();
        c.arg("--wireguard-key-file").arg(&keys[k]);
        agents.push(Agent(
            c.env("LICHEN_LOG", "warn").spawn().expect("start agent"),
        ));
        all_mounts.push(mounts);
        let env = dir.join(format!("{name}.env"));
        pods.push(attach_pod(
            ns,
            &env,
            &dir.join(format!("{name}-ipam")),
            &pod_name(k),
        ));
    }
    (agents, all_mounts, pods)
}
