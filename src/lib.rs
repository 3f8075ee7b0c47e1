//! Lichen: a CNI plugin, file-backed IPAM and node agent in one static binary.
//!
//! The binary (`src/main.rs`) is a thin dispatcher over this library:
//! - [`cni`]: the CNI protocol: environment, typed network config, results per spec version, errors.
//! - [`plugin`]: one file per CNI verb (ADD, DEL, CHECK, VERSION, GC, STATUS) plus the standalone
//!   `lichen-ipam` entry point and IPAM delegation.
//! - [`nl`], [`netns`], [`dataplane`]: the only code that talks to the kernel for the plugin.
//! - [`subnet_file`]: the node agent → plugin hand-off (`/run/lichen/subnet.env`).
//! - [`nft`]: nf_tables over netlink (masquerade, forward accept; later the policy mode).
//! - [`demo`]: `lichen demo`, the embedded default cluster in network namespaces (built with
//!   crates/netbed, the namespace and node builders the tests use too).
//!
//! Nothing test-only is here: the test harness is crates/testkit (a dev-dependency).

pub mod agent;
pub mod build_info;
pub mod cli;
pub mod cni;
pub mod dataplane;
pub mod demo;
pub mod install;
pub mod k8s;
pub mod logging;
pub mod model;
pub mod netns;
pub mod nft;
pub mod nl;
pub mod plugin;
pub mod policy;
pub mod rfc3339;
pub mod subnet_file;
