//! The agent's small HTTP endpoint (bound to localhost by default): `/status` (text for
//! `lichen status`), `/healthz` (liveness: the loop turns), `/readyz` (readiness: this node is
//! programmed; see [`super::report`]), `/metrics` (Prometheus) and `/policy/explain` (for
//! `lichen policy explain`). One request per connection. With `--metrics-listen`, a second
//! listener serves `/metrics` alone ([`Endpoints::MetricsOnly`]; see [`super::metrics`]).
//! The commands' side (a blocking GET) is [`super::client`].

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::report::{Report, STALLED};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9470";

/// What a listener answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Every endpoint (`--listen`, localhost by default).
    All,
    /// `/metrics` only (`--metrics-listen`, possibly on every address).
    MetricsOnly,
}

/// Serves until the listener fails. `leases` counts IPAM leases for /metrics.
pub async fn serve(
    listener: TcpListener,
    report: Arc<Mutex<Report>>,
    leases: impl Fn() -> Option<usize> + Clone + Send + 'static,
    endpoints: Endpoints,
) -> io::Result<()> {
    loop {
        let (conn, _) = listener.accept().await?;
        let report = report.clone();
        let leases = leases.clone();
        smol::spawn(async move {
            if let Err(e) = handle(conn, &report, leases, endpoints).await {
                log::debug!("http: {e}");
            }
        })
        .detach();
    }
}

async fn handle(
    mut conn: TcpStream,
    report: &Mutex<Report>,
    leases: impl Fn() -> Option<usize>,
    endpoints: Endpoints,
) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    let n = smol::future::or(read_head(&mut conn, &mut buf), async {
        smol::Timer::after(Duration::from_secs(5)).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "request timeout"))
    })
    .await?;
    let req = String::from_utf8_lossy(&buf[..n]);
    let target = req.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut content_type = "text/plain; charset=utf-8";
    let (code, body) = {
        let r = report.lock().expect("report lock");
        match path {
            "/metrics" => {
                content_type = super::metrics::CONTENT_TYPE;
                (200, super::metrics::render(&r, leases()))
            }
            _ if endpoints == Endpoints::MetricsOnly => (404, "not found\n".to_owned()),
            "/policy/explain" => super::explain::serve(&r.policy, query),
            "/status" if query.split('&').any(|q| q == "format=json") => {
                content_type = "application/json";
                (200, r.render_json())
            }
            "/status" => (200, r.render()),
            "/healthz" if r.alive(STALLED) => (200, "ok\n".to_owned()),
            "/healthz" => (
                503,
                format!(
                    "the agent's loop has not turned for {}s\n",
                    STALLED.as_secs()
                ),
            ),
            "/readyz" => match r.not_ready() {
                None => (200, "ready\n".to_owned()),
                Some(why) => (503, format!("not ready: {why}\n")),
            },
            _ => (404, "not found\n".to_owned()),
        }
    };
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body.as_bytes()).await?;
    conn.flush().await
}

/// Reads until the end of the request head (a blank line), the peer's end of the request or a
/// full buffer: a request may arrive in several segments. Returns the bytes read.
async fn read_head(conn: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
