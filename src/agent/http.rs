//! The agent's small HTTP endpoint (bound to localhost by default): `/status` (text for
//! `lichen status`), `/healthz` (liveness: the loop turns), `/readyz` (readiness: this node is
//! programmed; see [`super::report`]), `/metrics` (Prometheus) and `/policy/explain` (for
//! `lichen policy explain`). One request per connection. With `--metrics-listen`, a second
//! listener serves `/metrics` alone ([`Endpoints::MetricsOnly`]; see [`super::metrics`]).
//! The commands' side (a blocking GET) is [`super::client`]; both read and write heads with
//! the crate's HTTP/1.1 codec, [`crate::http`].

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::report::{Report, STALLED};
use crate::http;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9470";
/// The longest request head answered (longer ones get 431).
const MAX_HEAD: usize = 8 << 10;

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
    let head = smol::future::or(read_head(&mut conn), async {
        smol::Timer::after(Duration::from_secs(5)).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "request timeout"))
    })
    .await?;
    let Some(head) = head else {
        let body = format!("request head over {MAX_HEAD} bytes\n");
        return respond(&mut conn, 431, "text/plain; charset=utf-8", &body).await;
    };
    // Anything but a request line is answered like an unknown path.
    let line = http::start_line(&head).and_then(http::parse_request_line);
    let (path, query) = line.map_or(("/", ""), |l| (l.path, l.query));
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
    respond(&mut conn, code, content_type, &body).await
}

async fn respond(
    conn: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &str,
) -> io::Result<()> {
    let length = body.len().to_string();
    let head = http::response_head(
        code,
        &[
            ("Content-Type", content_type),
            ("Content-Length", &length),
            ("Connection", "close"),
        ],
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body.as_bytes()).await?;
    conn.flush().await
}

/// Reads the request head: until its blank line or the peer's end of the request (what
/// arrived is answered); a request may arrive in several segments. `None` if it is over
/// [`MAX_HEAD`].
async fn read_head(conn: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut reader = http::HeadReader::new(MAX_HEAD);
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf).await? {
            0 => break,
            n => match reader.push(&buf[..n]) {
                Ok((_, true)) => break,
                Ok((_, false)) => {}
                Err(_) => return Ok(None),
            },
        }
    }
    Ok(Some(reader.head().to_vec()))
}
