//! The Kubernetes layer of Lichen, a crate of its own so that the compiler keeps it below
//! policy and the binary (it imports only `lichen-parse` and `lichen-backends` of Lichen; the
//! binary re-exports its modules as `lichen::{k8s, model}`):
//! - [`k8s`]: the Kubernetes objects Lichen reads (as JSON) and the API client (kubeconfig,
//!   TLS, list and watch, the Node patches), over `lichen-parse`'s JSON syntax layer, HTTP
//!   codec, YAML and base64;
//! - [`model`], over [`k8s`]: the cluster model ([`model::ClusterState`]) the agent's sources
//!   fill and policy reads.

pub mod k8s;
pub mod model;

#[cfg(test)]
mod fuzz_tests;
