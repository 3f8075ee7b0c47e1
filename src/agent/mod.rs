//! `lichen agent`: the node agent.
//!
//! - [`netconf`]: Flannel's net-conf.json plus Lichen's keys, as a typed `NetConf`.
//! - [`source`]: where the cluster state comes from (a directory of objects today, the
//!   Kubernetes API next), as snapshots of the whole state.
//! - [`survey`], [`stale`]: field failures met with an instruction (no VXLAN module, a
//!   leftover `flannel.1` or Calico, an iptables-legacy FORWARD DROP) and peers kept on their
//!   last address; see docs/troubleshooting.md.
//! - [`metrics`]: `/metrics` in the Prometheus text format.

pub mod client;
pub mod explain;
pub mod feed;
pub mod histogram;
pub mod http;
pub mod kernel;
pub mod metrics;
pub mod netconf;
pub mod netlink;
pub mod node_rules;
pub mod peer_log;
pub mod policy;
pub mod publish;
pub mod reconcile;
pub mod report;
mod report_json;
pub mod run;
pub mod signal;
pub mod source;
pub mod stale;
pub mod survey;

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod reconcile_hostile_tests;
#[cfg(test)]
mod reconcile_tests;
