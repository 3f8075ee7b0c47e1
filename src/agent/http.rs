//! The agent's small HTTP endpoint (bound to localhost by default): `/status` (text for
//! `lichen status`), `/healthz` (liveness: the loop turns), `/readyz` (readiness: this node is
//! programmed; see [`super::report`]), `/metrics` (Prometheus) and `/policy/explain` (for
//! `lichen policy explain`). One request per connection. `/status` and `/metrics` read the
//! WireGuard device's per-peer counters and handshakes at request time (the rest of the report
//! is the last pass's). With `--metrics-listen`, a second
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
    // Anything but a request line is answered like an unknown path.
    let line = http::start_line(&buf[..n]).and_then(http::parse_request_line);
    let (path, query) = line.map_or(("/", ""), |l| (l.path, l.query));
    let mut r = report.lock().expect("report lock").clone();
    if let (true, Some(mut wg)) = (matches!(path, "/status" | "/metrics"), r.wireguard.take()) {
        // The device's counters now, not as of the last pass (a blocking exchange: off the
        // executor).
        r.wireguard = Some(
            smol::unblock(move || {
                wg.refresh();
                wg
            })
            .await,
        );
    }
    let (code, body, content_type) = answer(&r, path, query, leases, endpoints);
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

/// The answer to `path`: status code, body, content type.
fn answer(
    r: &Report,
    path: &str,
    query: &str,
    leases: impl Fn() -> Option<usize>,
    endpoints: Endpoints,
) -> (u16, String, &'static str) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (code, body) = match path {
        "/metrics" => {
            let body = super::metrics::render(r, leases());
            return (200, body, super::metrics::CONTENT_TYPE);
        }
        _ if endpoints == Endpoints::MetricsOnly => (404, "not found\n".to_owned()),
        "/policy/explain" => super::explain::serve(&r.policy, query),
        "/status" if query.split('&').any(|q| q == "format=json") => {
            return (200, r.render_json(), "application/json");
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
    };
    (code, body, TEXT)
}

/// Reads until the end of the request head (its blank line), the peer's end of the request or
/// a full buffer (what arrived is answered): a request may arrive in several segments. Returns
/// the bytes read.
async fn read_head(conn: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() && http::head_end(&buf[..n]).is_none() {
        match conn.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `pieces` (one write each) to a fresh endpoint and returns its whole answer.
    fn ask(pieces: &[&[u8]]) -> io::Result<String> {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let report = Arc::new(Mutex::new(Report::default()));
            let _server = smol::spawn(serve(listener, report, || None, Endpoints::All));
            let mut conn = TcpStream::connect(addr).await.unwrap();
            for piece in pieces {
                conn.write_all(piece).await.unwrap();
                smol::Timer::after(Duration::from_millis(20)).await;
            }
            let mut out = String::new();
            conn.read_to_string(&mut out).await?;
            Ok(out)
        })
    }

    #[test]
    fn heads_in_pieces_garbage_and_oversize() {
        let out = ask(&[
            b"GET /stat",
            b"us?format=json HTTP/1.1\r\nHost: x\r",
            b"\n\r\n",
        ])
        .unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("Content-Type: application/json\r\n"), "{out}");
        let out = ask(&[b"\x16\x03\x01 not http\r\n\r\n"]).unwrap();
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out}");
        // A head longer than the buffer is answered from its first KiB, the rest unread (so the
        // peer may see a reset instead).
        let big = format!("GET /healthz HTTP/1.1\r\nX: {}\r\n\r\n", "x".repeat(4096));
        match ask(&[big.as_bytes()]) {
            Ok(out) => assert!(out.starts_with("HTTP/1.1 "), "{out}"),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        }
    }
}
