//! `lichen agent`: the node agent.
//!
//! - [`netconf`]: Flannel's net-conf.json plus Lichen's keys, as a typed `ClusterNetwork`.
//! - [`source`]: where the cluster state comes from (a directory of objects or the Kubernetes
//!   API), as snapshots of the whole state ([`crate::model::ClusterState`]).
//! - [`survey`], [`stale`]: field failures met with an instruction (no VXLAN module, a
//!   leftover `flannel.1` or Calico, an iptables-legacy FORWARD DROP) and peers kept on their
//!   last address; see docs/troubleshooting.md.
//! - [`firewall`]: the node-rules reconciler (its own trigger, report section and error) behind
//!   its port, [`firewall::Firewall`], whose driver is nftables: [`node_rules`], the node's
//!   nf_tables rules (table `inet lichen`, our accepts in other tables' forward chains), built
//!   on the generic [`crate::nft`].
//! - [`http`]: the endpoint (`/status`, `/healthz`, `/readyz`, `/metrics`, `/policy/explain`);
//!   [`client`]: the commands' side of it; [`explain`]: the agent's side of `lichen policy
//!   explain` (the command is in [`crate::cli`]).
//! - [`error`]: the start-up errors, typed, with what was being done as context, and
//!   [`error::chain`], the printer of every error chain the agent and the CLI report (the route
//!   pass's errors are [`reconcile::ReconcileError`], the node-rules reconciler's
//!   [`firewall::RulesError`], the policy reconciler's [`policy::PolicyError`]).
//! - [`report`]: what the agent knows about itself; [`metrics`] renders it in the Prometheus
//!   text format ([`histogram`]: the reconcile-duration histogram it keeps).

pub mod client;
pub mod error;
pub mod explain;
pub mod feed;
pub mod firewall;
pub mod histogram;
pub mod http;
pub mod kernel;
pub mod metrics;
pub mod netconf;
pub mod netlink;
pub mod node_rules;
pub mod peer_log;
pub mod policy;
pub mod policy_thread;
pub mod publish;
pub mod reconcile;
pub mod report;
mod report_json;
pub mod run;
pub mod signal;
pub mod source;
pub mod stale;
pub mod survey;
pub mod timing;
pub mod wireguard;

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod reconcile_hostile_tests;
#[cfg(test)]
mod reconcile_tests;
