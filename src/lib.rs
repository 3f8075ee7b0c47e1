//! Lichen: a CNI plugin, file-backed IPAM and node agent in one static binary.
//!
//! The binary (`src/main.rs`) is a thin dispatcher over this library. Its modules, in layers:
//! each imports only modules of lower layers, and no directory's submodules import each
//! other in a cycle (declared and checked by `tests/layers.rs`, part of `cargo test`).
//! - Below the crate: [`netns`], [`nft`] (nf_tables over netlink, a generic library that
//!   knows nothing of Lichen's tables) and [`nl`] (rtnetlink) are the `lichen-netlink` crate
//!   (crates/netlink), re-exported here; cargo keeps it from importing anything above it.
//! - The lowest leaf, importing nothing else of the crate: [`json`], the one JSON syntax layer
//!   (the scanner, with its depth limit as a parameter; object members, array elements,
//!   unescaping) under both JSON front-ends, `cni::json` and `k8s::json`.
//! - Leaf libraries, importing nothing else of the crate but [`json`]: [`cni`] (the CNI
//!   protocol: environment, typed network config, results per spec version, errors),
//!   [`subnet_file`] (the node agent → plugin hand-off, `/run/lichen/subnet.env`),
//!   [`rfc3339`], [`http`] (the one HTTP/1.1 codec: heads read and written, body framing).
//! - Over them: [`k8s`] (the Kubernetes client and objects), [`logging`], [`build_info`] (the
//!   version line and commit).
//! - [`model`]: the cluster model (`ClusterState`) the agent's sources fill and policy reads;
//!   [`dataplane`]: the plugin's kernel code (bridge, veths, addresses).
//! - [`policy`]: NetworkPolicy compiled into a ruleset, `explain`, and its nf_tables table
//!   (`policy::table`); [`plugin`]: one file per CNI verb (ADD, DEL, CHECK, VERSION, GC,
//!   STATUS) plus the standalone `lichen-ipam` entry point and IPAM delegation.
//! - [`install`]: the plugin and its config on a node.
//! - [`agent`]: the node agent (sources, reconcilers, node rules, HTTP endpoint).
//! - [`demo`]: `lichen demo`, the embedded default cluster in network namespaces (built with
//!   crates/netbed, the namespace and node builders the tests use too); [`cli`]: the
//!   operator's commands.
//!
//! Nothing test-only is here: the test harness is crates/testkit (a dev-dependency).

pub use lichen_netlink::{netns, nft, nl};

pub mod agent;
pub mod build_info;
pub mod cli;
pub mod cni;
pub mod dataplane;
pub mod demo;
pub mod http;
pub mod install;
pub mod json;
pub mod k8s;
pub mod logging;
pub mod model;
pub mod plugin;
pub mod policy;
pub mod rfc3339;
pub mod subnet_file;

#[cfg(test)]
mod fuzz_tests;
