//! `lichen policy explain SRC DST PORT/PROTO`: the agent runs the packet through the ruleset
//! it last gave the kernel (`GET /policy/explain?src=…&dst=…&port=…&proto=…`); the command
//! (in [`crate::cli`]) prints the answer. The answer covers this node's checks: egress when SRC is a local pod,
//! ingress when DST is; ask the other node's agent for the other end. A query the agent cannot
//! read is answered 400 with what is wrong ([`QueryError`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::policy::PolicyReport;
use crate::k8s::Protocol;
use crate::policy::Packet;

/// The HTTP handler: (status code, body). The body's first line ends in ALLOWED or DENIED.
pub fn serve(report: &PolicyReport, query: &str) -> (u16, String) {
    let packet = match parse_query(query) {
        Ok(p) => p,
        Err(e) => return (400, format!("{e}\n")),
    };
    if !report.enabled {
        return (404, "network policy is off on this node\n".into());
    }
    match &report.ruleset {
        Some(rs) => (200, format!("{}\n", rs.explain(packet))),
        None => (503, "no policy ruleset applied yet\n".into()),
    }
}

/// What is wrong with an explain query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// A key the query needs is missing (`src`, `dst`, `port`).
    Missing(&'static str),
    /// `src` or `dst` is not an IP address.
    NotAnAddress(&'static str),
    /// `port` is not a number (0–65535).
    NotAPort,
    /// The protocol is none of tcp, udp, sctp (as given, lowercased).
    UnknownProtocol(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Missing(key) => write!(f, "missing {key}="),
            QueryError::NotAnAddress(key) => write!(f, "{key}: not an IP address"),
            QueryError::NotAPort => f.write_str("port: not a number"),
            QueryError::UnknownProtocol(p) => {
                write!(f, "unknown protocol {p:?} (tcp, udp or sctp)")
            }
        }
    }
}

impl std::error::Error for QueryError {}

fn parse_query(query: &str) -> Result<Packet, QueryError> {
    let get = |key: &'static str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or(QueryError::Missing(key))
    };
    let addr = |key: &'static str| -> Result<IpAddr, QueryError> {
        get(key)?.parse().map_err(|_| QueryError::NotAnAddress(key))
    };
    Ok(Packet {
        src: addr("src")?,
        dst: addr("dst")?,
        port: get("port")?.parse().map_err(|_| QueryError::NotAPort)?,
        protocol: protocol(get("proto").unwrap_or("tcp"))?,
    })
}

fn protocol(s: &str) -> Result<Protocol, QueryError> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        other => Err(QueryError::UnknownProtocol(other.to_owned())),
    }
}

/// What `lichen policy explain` asks (the command line converts to it in [`crate::cli`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `PORT/PROTO`, e.g. `8080/tcp` (protocol tcp when omitted).
    pub port: String,
    /// The agent's endpoint.
    pub server: SocketAddr,
}

/// The path to ask the agent at `server` for `e` (`port` is `PORT/PROTO`, tcp when omitted).
pub fn query_path(e: &Request) -> Result<String, QueryError> {
    let (port, proto) = e.port.split_once('/').unwrap_or((&e.port, "tcp"));
    protocol(proto)?;
    Ok(format!(
        "/policy/explain?src={}&dst={}&port={port}&proto={proto}",
        e.src, e.dst
    ))
}

/// Whether the agent's answer (the body of a 200) says ALLOWED.
pub fn allowed(body: &str) -> bool {
    body.lines().next().is_some_and(|l| l.ends_with("ALLOWED"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_errors_say_what_is_wrong() {
        let p = parse_query("src=10.0.0.1&dst=10.0.0.2&port=53&proto=UDP").unwrap();
        assert_eq!((p.port, p.protocol), (53, Protocol::Udp));
        assert_eq!(
            parse_query("src=10.0.0.1&dst=10.0.0.2&port=80")
                .unwrap()
                .protocol,
            Protocol::Tcp
        );
        assert_eq!(
            parse_query("src=x&dst=10.0.0.2&port=80").unwrap_err(),
            QueryError::NotAnAddress("src")
        );
        assert_eq!(
            parse_query("src=10.0.0.1&dst=10.0.0.2&port=80&proto=icmp")
                .unwrap_err()
                .to_string(),
            r#"unknown protocol "icmp" (tcp, udp or sctp)"#
        );
        let off = PolicyReport::default();
        assert_eq!(serve(&off, "src=10.0.0.1&dst=10.0.0.2&port=80").0, 404);
        assert_eq!(serve(&off, "dst=10.0.0.2").0, 400);
    }
}
