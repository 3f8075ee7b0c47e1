//! `lichen agent`: the node agent (filled in by the node-agent issue).
//!
//! - [`netconf`]: Flannel's net-conf.json plus Lichen's keys, as a typed `NetConf`.
//! - [`source`]: where the cluster state comes from (a directory of objects today, the
//!   Kubernetes API next), as snapshots of the whole state.

pub mod netconf;
pub mod source;
