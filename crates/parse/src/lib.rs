//! The parsing layer of Lichen, a crate of its own so that the compiler keeps it below the
//! Kubernetes client, policy and the binary (it imports nothing of Lichen; the binary
//! re-exports its modules as `lichen::{json, http, rfc3339}`). Pure functions on bytes, no
//! I/O; hostile input is an error, never a panic:
//! - [`json`]: the one JSON syntax layer (the scanner, with its depth limit as a parameter;
//!   object members, array elements, unescaping) under both JSON front-ends, `lichen`'s
//!   `cni::json` and `lichen-kube`'s `k8s::json`;
//! - [`http`]: the one HTTP/1.1 codec (heads read and written, body framing);
//! - [`rfc3339`]: UTC timestamps as Kubernetes writes them.
//!
//! The three modules import nothing of each other.

pub mod http;
pub mod json;
pub mod rfc3339;
