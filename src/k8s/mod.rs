//! Kubernetes objects (as JSON) that Lichen reads: the cluster-dir source and the API source.
//!
//! - [`json`]: input guards (size, nesting depth) and a structural scan that finds a document's
//!   `kind` and the byte ranges of a list's `items` without parsing them.
//! - [`meta`]: the object metadata every kind shares (name, namespace, resourceVersion, the
//!   annotations Lichen keeps).
//! - [`node`]: the typed `Node` the agent routes to.
//! - [`object`]: one parsed object of any kind; kinds not handled yet are kept as references
//!   (the extension point for Pods, Namespaces and NetworkPolicies).

pub mod error;
pub mod json;
pub mod meta;
pub mod node;
pub mod object;

pub use error::ParseError;
pub use node::Node;
pub use object::{parse_document, parse_object, Object, ObjectRef};
