//! The parsing layer of Lichen, a crate of its own so that the compiler keeps it below the
//! Kubernetes client, policy and the binary (it imports nothing of Lichen; the binary
//! re-exports its modules as `lichen::{json, http, rfc3339}`, and `lichen-kube` its kubeconfig
//! parsers as `k8s::{yaml, base64}`). Pure functions on bytes or text, no I/O; hostile input
//! is an error, never a panic:
//! - [`json`]: the one JSON syntax layer (the scanner, with its depth limit as a parameter;
//!   object members, array elements, unescaping) under both JSON front-ends, `lichen`'s
//!   `cni::json` and `lichen-kube`'s `k8s::json`;
//! - [`http`]: the one HTTP/1.1 codec (heads read and written, body framing);
//! - [`rfc3339`]: UTC timestamps as Kubernetes writes them;
//! - [`yaml`]: the YAML subset kubeconfigs are written in, flattened to `(path, value)` pairs;
//!   [`base64`]: the standard alphabet, for a kubeconfig's `*-data` fields and WireGuard keys.
//!
//! The modules import nothing of each other. Their seeded property tests (`fuzz_tests`,
//! `LICHEN_PARSE_SEED`) are here for YAML and base64; the JSON syntax layer is exercised
//! through its two front-ends' (in `lichen-kube` and `lichen`), the HTTP codec by its own
//! random heads test.

pub mod base64;
pub mod http;
pub mod json;
pub mod rfc3339;
pub mod yaml;

#[cfg(test)]
mod fuzz_tests;
