use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

/// IPAM errors, structured so callers can map them to CNI codes and tests can match them.
#[derive(Debug)]
pub enum IpamError {
    /// A range set has no free address. `range` is a human description, e.g.
    /// "10.42.1.2-10.42.1.254 (10.42.1.0/24)".
    Exhausted { range: String },
    /// A requested address is not inside any range of the set it was asked from.
    NotInRange { ip: IpAddr, range: String },
    /// A requested address is leased to another attachment.
    AlreadyLeased { ip: IpAddr, holder: String },
    /// The range configuration is invalid (start/end outside subnet, overlapping ranges, ...).
    InvalidRange(String),
    /// The network name cannot be used as a directory name under dataDir.
    InvalidNetworkName(String),
    /// An I/O operation failed on `path`.
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
}

impl fmt::Display for IpamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpamError::Exhausted { range } => {
                write!(f, "no free IP address left in range set {range}")
            }
            IpamError::NotInRange { ip, range } => {
                write!(f, "requested IP {ip} is not in range set {range}")
            }
            IpamError::AlreadyLeased { ip, holder } => {
                write!(f, "requested IP {ip} is already leased to {holder}")
            }
            IpamError::InvalidRange(m) => write!(f, "invalid IPAM range: {m}"),
            IpamError::InvalidNetworkName(n) => {
                write!(f, "network name {n:?} cannot be used as a directory name")
            }
            IpamError::Io { path, op, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for IpamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IpamError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
