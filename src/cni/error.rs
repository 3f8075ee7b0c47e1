//! CNI errors: the spec's error object, with its code (written as JSON by
//! [`CniError::to_json`], in `cni::result`'s writer: `cni::json` builds on this module).

use std::fmt;

/// Error codes. 1–11 and 50/51 are the spec's; 100+ are Lichen's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    IncompatibleVersion = 1,
    UnsupportedField = 2,
    UnknownContainer = 3,
    InvalidEnv = 4,
    Io = 5,
    Decode = 6,
    InvalidConfig = 7,
    TryAgainLater = 11,
    NotAvailable = 50,
    NotAvailableDegraded = 51,
    /// Lichen: the address range (set) has no free address; the message names the range.
    RangeExhausted = 100,
    /// Lichen: a requested address is outside the ranges or already leased.
    AddressUnavailable = 101,
    /// Lichen: the interface named by CNI_IFNAME already exists in the pod, or the host end's
    /// name is taken on the node by a link that is not a veth.
    InterfaceExists = 102,
    /// Lichen: a netlink operation failed.
    Netlink = 103,
    /// Lichen: a delegated plugin (IPAM through CNI_PATH) failed or could not be run.
    Delegate = 104,
    /// Lichen: CHECK found the attachment differs from prevResult.
    CheckFailed = 105,
    Internal = 999,
}

/// A CNI error: printed as `{"cniVersion","code","msg","details"}` on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniError {
    /// The numeric code; kept as u32 so errors relayed from delegates keep their own codes.
    pub code: u32,
    /// One line that says what is wrong and what to fix.
    pub msg: String,
    /// Longer context (may be empty).
    pub details: String,
}

impl CniError {
    pub fn new(code: Code, msg: impl Into<String>) -> Self {
        CniError {
            code: code as u32,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CNI error {}: {}", self.code, self.msg)?;
        if !self.details.is_empty() {
            write!(f, " ({})", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for CniError {}
