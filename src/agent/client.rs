//! The commands' side of the agent's HTTP endpoint ([`super::http`]): `lichen status` and
//! `lichen policy explain` ask a running agent with one blocking GET, written and read with the
//! crate's HTTP/1.1 codec ([`crate::http`]). A module of its own so the endpoint and the
//! handlers it routes to ([`super::explain`]) need not import each other.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::http;

/// GETs `path` from the agent at `addr` (e.g. `/status` for `lichen status`): (status code, body).
/// The body is all the agent sends until it closes; a malformed status line is code 0.
pub fn fetch(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    // One write: the request in one segment.
    let req = http::request_head(
        "GET",
        path,
        &[("Host", "localhost"), ("Connection", "close")],
    );
    s.write_all(req.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let end = http::head_end(out.as_bytes()).unwrap_or(out.len());
    let code = http::start_line(&out.as_bytes()[..end])
        .and_then(http::parse_status_line)
        .unwrap_or(0);
    Ok((code, out[end..].to_owned()))
}
