//! The CNI protocol (spec 0.3.0 – 1.1.0): environment, network configuration, results, errors.
//!
//! Everything here is pure: no netlink, no files other than what the caller hands in.

pub mod config;
pub mod env;
pub mod error;
pub mod json;
pub mod mac;
pub mod result;
pub mod syntax;
pub mod version;

pub use config::{Attachment, IpamConf, Mode, NetConf, RangeConf, RequestedMac, RouteConf};
pub use env::{CniArgs, Command, Env};
pub use error::{CniError, Code};
pub use mac::Mac;
pub use result::{CniResult, Dns, Interface, IpConfig, Route};
pub use version::Version;
