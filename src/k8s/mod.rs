//! Kubernetes objects (as JSON) that Lichen reads, and the API client that reads them.
//!
//! - [`json`]: input guards (size, nesting depth) and a structural scan that finds a document's
//!   `kind` and the byte ranges of a list's `items` without parsing them.
//! - [`meta`]: the object metadata every kind shares (name, namespace, resourceVersion, the
//!   annotations Lichen keeps).
//! - [`node`]: the typed `Node` the agent routes to.
//! - [`object`]: one parsed object of any kind; kinds not handled yet are kept as references
//!   (the extension point for Pods, Namespaces and NetworkPolicies).
//!
//! The API client (the `--kube`/`--kubeconfig` source):
//! - [`kubeconfig`] (with [`yaml`] and [`base64`]): server, CA and credentials.
//! - [`tls`]: rustls (ring) verified against the cluster CA; [`http`]: HTTP/1.1 bodies, chunked
//!   watch lines; [`client`]: one API server, tokens, errors.
//! - [`watch`]: list + watch of any kind; [`publish`]: the Node PATCHes the agent sends.

pub mod base64;
pub mod client;
pub mod error;
pub mod http;
pub mod json;
pub mod kubeconfig;
pub mod meta;
pub mod node;
pub mod object;
pub mod publish;
pub mod tls;
pub mod watch;
pub mod yaml;

pub use client::{ApiError, Client};
pub use error::ParseError;
pub use kubeconfig::KubeConfig;
pub use node::Node;
pub use object::{parse_document, parse_object, Object, ObjectRef};
