//! Kubernetes objects (as JSON) that Lichen reads, and the API client that reads them.
//!
//! - [`json`]: input guards (size, nesting depth) and a structural scan that finds a document's
//!   `kind` and the byte ranges of a list's `items` without parsing them.
//! - [`meta`]: the object metadata every kind shares (name, namespace, resourceVersion, labels,
//!   the annotations Lichen keeps).
//! - [`node`]: the typed `Node` the agent routes to.
//! - [`namespace`], [`pod`], [`netpol`]: what the policy mode reads; [`labels`] (label maps and
//!   selectors), [`protocol`] and [`intstr`] (`IntOrString` ports) serve them.
//! - [`object`]: one parsed object of any kind; kinds not handled are kept as references.
//!
//! The API client (the `--kube`/`--kubeconfig` source):
//! - [`kubeconfig`] (with [`yaml`] and [`base64`], `lichen-parse`'s, re-exported here):
//!   server, CA and credentials.
//! - [`tls`]: rustls (ring) verified against the cluster CA; [`http`]: HTTP/1.1 bodies, chunked
//!   watch lines; [`client`]: one API server, tokens, errors.
//! - [`watch`]: list + watch of any kind; [`publish`]: the Node PATCHes the agent sends.

pub mod client;
pub mod error;
pub mod http;
pub mod intstr;
pub mod json;
pub mod kubeconfig;
pub mod labels;
pub mod meta;
pub mod namespace;
pub mod netpol;
pub mod node;
pub mod object;
pub mod pod;
pub mod protocol;
pub mod publish;
pub mod rbac;
pub mod tls;
pub mod watch;

// The kubeconfig's YAML subset and base64 are parsers of the layer below, at their old paths.
pub use lichen_parse::{base64, yaml};

pub use client::{ApiError, Client};
pub use error::ParseError;
pub use kubeconfig::KubeConfig;
pub use labels::{LabelSelector, Labels, Operator, Requirement};
pub use namespace::Namespace;
pub use netpol::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyRule, PolicyTypes, PortRef};
pub use node::Node;
pub use object::{parse_document, parse_object, Object, ObjectRef};
pub use pod::{ContainerPort, Pod, PodPhase};
pub use protocol::Protocol;
