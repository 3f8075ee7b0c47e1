//! What the agent tells the API about its own Node, and nothing else (the API source only; with
//! `--cluster-dir` nothing is published):
//!
//! - the annotations peers need and cannot derive: `lichen.dev/vtep-mac` (VXLAN only: peers
//!   derive the MAC from the podCIDR too, but a published one keeps them working if the
//!   derivation ever changes) and `lichen.dev/public-ip` (when `--public-ip` overrides the
//!   underlay address), and `lichen.dev/wireguard-public-key` (WireGuard only: this node's
//!   public key, base64 as `wg pubkey` prints it) — each only when the Node does not already
//!   carry that value;
//! - the `NetworkUnavailable=False` condition, once per agent start.
//!
//! Both go out after the first pass that programmed the data plane. The PATCHes run in their
//! own task with backoff, so a slow or absent API never delays a reconcile; the loop hands the
//! task the latest wish ([`Publisher::programmed`]) and the task keeps only the newest.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lichen_backends::{derived_vtep_mac, mac_to_string, BackendConf};
use lichen_wireguard::Key;
use smol::channel::{self, Receiver, Sender};
use smol::Task;

use super::reconcile::node_info;
use crate::k8s::watch::Backoff;
use crate::k8s::{publish, ApiError, Client, Node};
use crate::model::ClusterState;

/// How long one PATCH may take before it counts as failed.
const PATCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Annotations to set on the own Node: (key, value).
pub type Annotations = Vec<(&'static str, String)>;

/// The annotations `local` (this node's Node as last seen) lacks or carries with another value.
pub fn missing_annotations(
    local: &Node,
    backend: &BackendConf,
    (public_ip, wg_public_key): (Option<IpAddr>, Option<[u8; 32]>),
) -> Annotations {
    let mut out = Annotations::new();
    if let (BackendConf::Vxlan(_), None) = (backend, local.vtep_mac) {
        // Without an annotation the device carries the derived MAC (lichen_backends::vtep_mac).
        let mac = derived_vtep_mac(&node_info(local));
        out.push((publish::VTEP_MAC, mac_to_string(&mac)));
    }
    if let Some(ip) = public_ip.filter(|ip| local.public_ip != Some(*ip)) {
        out.push((publish::PUBLIC_IP, ip.to_string()));
    }
    if let (BackendConf::Wireguard(_), Some(key)) = (backend, wg_public_key) {
        if local.wg_public_key != Some(key) {
            out.push((publish::WIREGUARD_PUBLIC_KEY, Key(key).to_base64()));
        }
    }
    out
}

/// The loop's side: decides what to ask for; a task does the asking.
pub struct Publisher {
    node: String,
    backend: BackendConf,
    /// `--public-ip`, and this node's WireGuard public key.
    own: (Option<IpAddr>, Option<[u8; 32]>),
    wishes: Sender<Annotations>,
    /// The last wish sent, and the Node version it was computed from.
    sent: Option<(Annotations, String)>,
    _task: Task<()>,
}

impl Publisher {
    /// Starts the PATCH task for Node `node` on smol's global executor.
    pub fn start(
        client: Arc<Client>,
        node: String,
        backend: BackendConf,
        own: (Option<IpAddr>, Option<[u8; 32]>),
        backoff: (Duration, Duration),
    ) -> Publisher {
        let (tx, rx) = channel::unbounded();
        let name = node.clone();
        let task = smol::spawn(async move { run(&client, &name, rx, backoff).await });
        Publisher {
            node,
            backend,
            own,
            wishes: tx,
            sent: None,
            _task: task,
        }
    }

    /// Called after every pass that programmed the data plane: asks the task for the missing
    /// annotations (and, the first time, the condition). Never waits.
    pub fn programmed(&mut self, state: &ClusterState) {
        let Some(local) = state.nodes.get(&self.node) else {
            return;
        };
        let wish = missing_annotations(local, &self.backend, self.own);
        let key = (wish, local.resource_version.clone());
        if self.sent.as_ref() == Some(&key) {
            return;
        }
        // Unbounded: the task drains to the newest, so this only fails if the task ended.
        if self.wishes.try_send(key.0.clone()).is_ok() {
            self.sent = Some(key);
        }
    }
}

/// The task: the newest wish, retried with backoff until done.
async fn run(
    client: &Client,
    node: &str,
    wishes: Receiver<Annotations>,
    (min, max): (Duration, Duration),
) {
    let mut backoff = Backoff::new(min, max);
    let mut condition_set = false;
    let mut pending: Option<Annotations> = None;
    loop {
        if pending.is_none() {
            match wishes.recv().await {
                Ok(w) => pending = Some(w),
                Err(_) => return,
            }
        }
        while let Ok(w) = wishes.try_recv() {
            pending = Some(w);
        }
        let Some(annotations) = pending.as_mut() else {
            continue;
        };
        match attempt(client, node, annotations, &mut condition_set).await {
            Ok(()) => {
                backoff.reset();
                pending = None;
            }
            Err(e) => {
                let delay = backoff.next_delay();
                log::warn!("API: publishing Node {node}: {e}; retrying in {delay:?}");
                // A newer wish cuts the wait short (it is drained at the top).
                let newer = async {
                    if let Ok(w) = wishes.recv().await {
                        pending = Some(w);
                    }
                };
                let wait = async {
                    smol::Timer::after(delay).await;
                };
                smol::future::or(newer, wait).await;
            }
        }
    }
}

/// The annotations first (peers need them), then the condition; what succeeded is not sent
/// again.
async fn attempt(
    client: &Client,
    node: &str,
    annotations: &mut Annotations,
    condition_set: &mut bool,
) -> Result<(), ApiError> {
    if !annotations.is_empty() {
        let patch: Vec<(&str, Option<&str>)> = annotations
            .iter()
            .map(|(k, v)| (*k, Some(v.as_str())))
            .collect();
        timeout(publish::patch_node_annotations(client, node, &patch)).await?;
        log::info!("API: annotated Node {node}: {annotations:?}");
        annotations.clear();
    }
    if !*condition_set {
        timeout(publish::set_network_available(
            client,
            node,
            SystemTime::now(),
        ))
        .await?;
        log::info!("API: Node {node} condition NetworkUnavailable=False");
        *condition_set = true;
    }
    Ok(())
}

async fn timeout(
    f: impl std::future::Future<Output = Result<(), ApiError>>,
) -> Result<(), ApiError> {
    smol::future::or(f, async {
        smol::Timer::after(PATCH_TIMEOUT).await;
        Err(ApiError::Http(crate::k8s::http::HttpError::Io(
            std::io::Error::new(std::io::ErrorKind::TimedOut, "PATCH timed out"),
        )))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lichen_backends::VxlanConf;

    fn node(vtep_mac: Option<[u8; 6]>, public_ip: Option<&str>) -> Node {
        Node {
            name: "node1".into(),
            resource_version: "7".into(),
            pod_cidrs: vec!["10.100.1.0/24".parse().unwrap()],
            internal_ips: vec!["198.51.100.11".parse().unwrap()],
            external_ips: vec![],
            vtep_mac,
            public_ip: public_ip.map(|p| p.parse().unwrap()),
            wg_public_key: None,
            wg_endpoint: None,
            deleting: false,
        }
    }

    fn vxlan() -> BackendConf {
        BackendConf::Vxlan(VxlanConf {
            vni: 1,
            port: 8472,
            direct_routing: false,
            mtu: None,
            tx_checksum_offload: true,
        })
    }

    #[test]
    fn only_what_the_node_lacks_is_published() {
        let derived = "0e:6c:0a:64:01:00".to_owned();
        assert_eq!(
            missing_annotations(&node(None, None), &vxlan(), (None, None)),
            [(publish::VTEP_MAC, derived)]
        );
        let mac = [0x0e, 0x6c, 10, 100, 1, 0];
        assert!(missing_annotations(&node(Some(mac), None), &vxlan(), (None, None)).is_empty());
        assert!(
            missing_annotations(&node(None, None), &BackendConf::HostGw, (None, None)).is_empty()
        );
        let ip = "203.0.113.9".parse().ok();
        assert_eq!(
            missing_annotations(
                &node(None, Some("198.51.100.11")),
                &BackendConf::HostGw,
                (ip, None)
            ),
            [(publish::PUBLIC_IP, "203.0.113.9".to_owned())]
        );
        let has = node(None, Some("203.0.113.9"));
        assert!(missing_annotations(&has, &BackendConf::HostGw, (ip, None)).is_empty());
    }

    #[test]
    fn the_wireguard_public_key_is_published_when_missing_or_different() {
        let wg = BackendConf::Wireguard(Default::default());
        let ours = [7u8; 32];
        let b64 = Key(ours).to_base64();
        let none = node(None, None);
        assert_eq!(
            missing_annotations(&none, &wg, (None, Some(ours))),
            [(publish::WIREGUARD_PUBLIC_KEY, b64.clone())]
        );
        let mut stale = node(None, None);
        stale.wg_public_key = Some([8; 32]);
        assert_eq!(
            missing_annotations(&stale, &wg, (None, Some(ours))),
            [(publish::WIREGUARD_PUBLIC_KEY, b64)]
        );
        stale.wg_public_key = Some(ours);
        assert!(missing_annotations(&stale, &wg, (None, Some(ours))).is_empty());
        // Another backend publishes no key, even if the agent has one.
        assert!(missing_annotations(&none, &BackendConf::HostGw, (None, Some(ours))).is_empty());
    }
}
