//! The L4 protocols of container ports and NetworkPolicy ports.

use std::fmt;

use super::ParseError;

/// `TCP` (the default when a port names none), `UDP` or `SCTP`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number (what nftables' `meta l4proto` compares).
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// Parses the API spelling; absent or empty means TCP.
    pub fn parse(text: Option<&str>, field: &'static str) -> Result<Protocol, ParseError> {
        match text.unwrap_or("") {
            "" | "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            other => Err(ParseError::InvalidField {
                field,
                value: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

impl std::str::FromStr for Protocol {
    type Err = ParseError;

    /// Case-insensitive, for command lines (`80/tcp`).
    fn from_str(s: &str) -> Result<Protocol, ParseError> {
        Protocol::parse(Some(&s.to_ascii_uppercase()), "protocol")
    }
}
