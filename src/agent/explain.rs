//! `lichen policy explain SRC DST PORT/PROTO`: the agent runs the packet through the ruleset
//! it last gave the kernel (`GET /policy/explain?src=…&dst=…&port=…&proto=…`); the command
//! prints the answer. The answer covers this node's checks: egress when SRC is a local pod,
//! ingress when DST is; ask the other node's agent for the other end.

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

fn parse_query(query: &str) -> Result<Packet, String> {
    let get = |key: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("missing {key}="))
    };
    let addr = |key: &str| -> Result<IpAddr, String> {
        get(key)?
            .parse()
            .map_err(|_| format!("{key}: not an IP address"))
    };
    Ok(Packet {
        src: addr("src")?,
        dst: addr("dst")?,
        port: get("port")?.parse().map_err(|_| "port: not a number")?,
        protocol: protocol(get("proto").unwrap_or("tcp"))?,
    })
}

fn protocol(s: &str) -> Result<Protocol, String> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        other => Err(format!("unknown protocol {other:?} (tcp, udp or sctp)")),
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

/// The command: exit 0 allowed, 1 denied, 2 on errors.
pub fn cli(e: &Request) -> i32 {
    let (port, proto) = e.port.split_once('/').unwrap_or((&e.port, "tcp"));
    if let Err(err) = protocol(proto) {
        eprintln!("lichen policy explain: {err}");
        return 2;
    }
    let path = format!(
        "/policy/explain?src={}&dst={}&port={port}&proto={proto}",
        e.src, e.dst
    );
    match super::client::fetch(e.server, &path) {
        Ok((200, body)) => {
            print!("{body}");
            let allowed = body.lines().next().is_some_and(|l| l.ends_with("ALLOWED"));
            if allowed {
                0
            } else {
                1
            }
        }
        Ok((code, body)) => {
            eprintln!("lichen policy explain: agent answered {code}: {body}");
            2
        }
        Err(err) => {
            eprintln!(
                "lichen policy explain: no agent at {} ({err}); is `lichen agent` running?",
                e.server
            );
            2
        }
    }
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
        assert!(parse_query("src=x&dst=10.0.0.2&port=80")
            .unwrap_err()
            .contains("src"));
        let off = PolicyReport::default();
        assert_eq!(serve(&off, "src=10.0.0.1&dst=10.0.0.2&port=80").0, 404);
        assert_eq!(serve(&off, "dst=10.0.0.2").0, 400);
    }
}
