//! Lichen: a CNI plugin, file-backed IPAM and node agent in one static binary.
//!
//! The binary (`src/main.rs`) is a thin dispatcher over this library. Its modules, in layers:
//! each imports only modules of lower layers, and no directory's submodules import each
//! other in a cycle (declared and checked by `tests/layers.rs`, part of `cargo test`).
//! - Below the crate, crates of their own that cargo keeps from importing anything above them
//!   (their layers: `tests/crate_graph.rs`), re-exported here under their old paths:
//!   - [`netns`], [`nft`] (nf_tables over netlink, a generic library that knows nothing of
//!     Lichen's tables) and [`nl`] (rtnetlink): `lichen-netlink` (crates/netlink);
//!   - [`json`] (the one JSON syntax layer under both JSON front-ends, `cni::json` and
//!     `k8s::json`), [`http`] (the one HTTP/1.1 codec) and [`rfc3339`]: `lichen-parse`
//!     (crates/parse), the lowest, with the kubeconfig's YAML subset and base64 (re-exported
//!     as `k8s::yaml` and `k8s::base64`);
//!   - [`k8s`] (the Kubernetes client and objects) and [`model`] (the cluster model,
//!     `ClusterState`, that the agent's sources fill and policy reads): `lichen-kube`
//!     (crates/kube), over `lichen-parse`;
//!   - [`policy`]: NetworkPolicy compiled into a ruleset, `explain`, and its nf_tables table
//!     (`policy::table`): `lichen-policy` (crates/policy), over `lichen-kube` and
//!     `lichen-netlink`.
//! - Leaf libraries, importing nothing of the crate but the crates below: [`cni`] (the CNI
//!   protocol: environment, typed network config, results per spec version, errors),
//!   [`subnet_file`] (the node agent → plugin hand-off, `/run/lichen/subnet.env`).
//! - Over them: [`logging`], [`build_info`] (the version line and commit).
//! - [`dataplane`]: the plugin's kernel code (bridge, veths, addresses; routed mode's node
//!   routes, link-local gateway and proxy ARP).
//! - [`plugin`]: one file per CNI verb (ADD, DEL, CHECK, VERSION, GC, STATUS) plus the
//!   standalone `lichen-ipam` entry point and IPAM delegation.
//! - [`install`]: the plugin and its config on a node.
//! - [`agent`]: the node agent (the cluster source; three reconcilers, each behind its own
//!   port with its own trigger, report section and error: routes and devices, the node's
//!   firewall rules, NetworkPolicy; the HTTP endpoint).
//! - [`demo`]: `lichen demo`, the embedded default cluster in network namespaces (built with
//!   crates/netbed, the namespace and node builders the tests use too); [`cli`]: the
//!   operator's commands.
//!
//! Nothing test-only is here: the test harness is crates/testkit (a dev-dependency), and the
//! policy test builders (`policy::testing`) are compiled only for tests (feature `testing` of
//! `lichen-policy`, enabled from `[dev-dependencies]`).

pub use lichen_kube::{k8s, model};
pub use lichen_netlink::{netns, nft, nl};
pub use lichen_parse::{http, json, rfc3339};
pub use lichen_policy as policy;

pub mod agent;
pub mod build_info;
pub mod cli;
pub mod cni;
pub mod dataplane;
pub mod demo;
pub mod install;
pub mod logging;
pub mod plugin;
pub mod subnet_file;

#[cfg(test)]
mod fuzz_tests;
