//! `lichen agent`: the node agent.
//!
//! - [`netconf`]: Flannel's net-conf.json plus Lichen's keys, as a typed `NetConf`.
//! - [`source`]: where the cluster state comes from (a directory of objects today, the
//!   Kubernetes API next), as snapshots of the whole state.

pub mod netconf;
pub mod source;
pub mod http;
pub mod kernel;
pub mod reconcile;
pub mod report;
