//! The commands' side of the agent's HTTP endpoint ([`super::http`]): `lichen status` and
//! `lichen policy explain` ask a running agent with one blocking GET. A module of its own so
//! the endpoint and the handlers it routes to ([`super::explain`]) need not import each other.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// GETs `path` from the agent at `addr` (e.g. `/status` for `lichen status`): (status code, body).
pub fn fetch(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    // One write: the request in one segment.
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_owned()))
}
