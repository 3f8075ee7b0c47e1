//! Kubernetes objects (as JSON) that Lichen reads: the cluster-dir source and the API source.
//!
//! - [`json`]: input guards (size, nesting depth) and a structural scan that finds a document's
//!   `kind` and the byte ranges of a list's `items` without parsing them.
//! - [`meta`]: the object metadata every kind shares (name, namespace, resourceVersion, labels,
//!   the annotations Lichen keeps).
//! - [`node`]: the typed `Node` the agent routes to.
//! - [`namespace`], [`pod`], [`netpol`]: what the policy mode reads; [`labels`] (label maps and
//!   selectors), [`protocol`] and [`intstr`] (`IntOrString` ports) serve them.
//! - [`object`]: one parsed object of any kind; kinds not handled are kept as references.

pub mod error;
pub mod intstr;
pub mod json;
pub mod labels;
pub mod meta;
pub mod namespace;
pub mod netpol;
pub mod node;
pub mod object;
pub mod pod;
pub mod protocol;

pub use error::ParseError;
pub use labels::{LabelSelector, Labels, Operator, Requirement};
pub use namespace::Namespace;
pub use netpol::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyRule, PolicyTypes, PortRef};
pub use node::Node;
pub use object::{parse_document, parse_object, Object, ObjectRef};
pub use pod::{ContainerPort, Pod, PodPhase};
pub use protocol::Protocol;
