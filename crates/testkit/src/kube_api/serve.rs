//! The server side: TLS (the test CA, client certificates optional), one request per
//! connection, authentication, LIST pages and the PATCH of a Node; a WATCH goes on in
//! [`super::watch`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use super::objects::{patch_annotations, set_version};
use super::watch::watch;
use super::{pki, Auth, Recorded, Shared, State};

pub(super) fn server_config() -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pki("ca.crt")) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pki("server.crt"))
        .map(Result::unwrap)
        .chain(CertificateDer::pem_slice_iter(&pki("ca.crt")).map(Result::unwrap))
        .collect();
    let key = PrivateKeyDer::from_pem_slice(&pki("server.key")).unwrap();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

pub(super) type Tls = StreamOwned<ServerConnection, TcpStream>;

/// Answers one connection: one request, recorded (a watch streams until it ends).
pub(super) fn serve(tcp: TcpStream, config: Arc<ServerConfig>, shared: &Shared) {
    let Some(mut tls) = handshake(tcp, config) else {
        return;
    };
    let cert = tls.conn.peer_certificates().is_some_and(|c| !c.is_empty());
    let Some((method, target, headers, body)) = read_request(&mut tls) else {
        return;
    };
    let mut rec = record(method, target, &headers, &body, cert);
    let allowed = match &rec.auth {
        Auth::ClientCert => true,
        Auth::Bearer(t) => shared.state.lock().unwrap().token.as_deref() == Some(t.as_str()),
        Auth::None => false,
    };
    let path = rec.target.split('?').next().unwrap_or_default().to_owned();
    // A watch stream reacts to drops/expiries/bookmarks requested after its request was
    // recorded: take the generations before recording it.
    let gens = {
        let s = shared.state.lock().unwrap();
        (s.drop_gen, s.expire_gen, s.bookmark_gen)
    };
    let answer = if allowed {
        answer(shared, &rec, &path)
    } else {
        Some((401, status_json(401, "Unauthorized", "Unauthorized")))
    };
    rec.status = answer.as_ref().map_or(200, |(c, _)| *c);
    shared.state.lock().unwrap().requests.push(rec.clone());
    shared.changed.notify_all();
    match answer {
        Some((code, body)) => respond(tls, code, &body),
        None => watch(tls, shared, &rec, &path, gens),
    }
}

/// A new connection's TLS session once the handshake completed; `None` when it failed (a
/// client rejecting our certificate ends here).
fn handshake(tcp: TcpStream, config: Arc<ServerConfig>) -> Option<Tls> {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let conn = ServerConnection::new(config).ok()?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return None;
        }
    }
    Some(tls)
}

/// The request as recorded (status 0 until answered), with how it authenticated: a client
/// certificate, else its bearer token.
fn record(
    method: String,
    target: String,
    headers: &[(String, String)],
    body: &[u8],
    cert: bool,
) -> Recorded {
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let auth = match (cert, header("authorization")) {
        (true, _) => Auth::ClientCert,
        (false, Some(a)) => Auth::Bearer(a.strip_prefix("Bearer ").unwrap_or(&a).to_owned()),
        (false, None) => Auth::None,
    };
    Recorded {
        method,
        target,
        auth,
        content_type: header("content-type"),
        body: String::from_utf8_lossy(body).into_owned(),
        status: 0,
    }
}

/// An authenticated request's answer (status, body); `None` for a watch to stream.
fn answer(shared: &Shared, rec: &Recorded, path: &str) -> Option<(u16, String)> {
    let method = rec.method.as_str();
    if method == "GET" && served(path) && rec.is_watch() {
        let from: u64 = rec
            .query("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut s = shared.state.lock().unwrap();
        if std::mem::take(&mut s.gone_next_watch) || from < s.compacted {
            let msg = format!("too old resource version: {from} ({})", s.rv);
            Some((410, status_json(410, "Expired", &msg)))
        } else {
            None
        }
    } else if method == "GET" && served(path) {
        Some((200, list(shared, rec, path)))
    } else if method == "PATCH" && path.starts_with("/api/v1/nodes/") {
        Some(patch_node(shared, rec, path))
    } else {
        Some((404, status_json(404, "NotFound", "not found")))
    }
}

/// A PATCH of a Node (or its status): a merge patch of the Node's annotations is applied and
/// logged as MODIFIED; any other patch answers the Node unchanged.
fn patch_node(shared: &Shared, rec: &Recorded, path: &str) -> (u16, String) {
    let name = path["/api/v1/nodes/".len()..].trim_end_matches("/status");
    let merge = rec.content_type.as_deref() == Some("application/merge-patch+json");
    let mut s = shared.state.lock().unwrap();
    match s.nodes.get(name).cloned() {
        None => (404, status_json(404, "NotFound", "node not found")),
        Some((_, json)) if merge && !path.ends_with("/status") => {
            match patch_annotations(&json, &rec.body) {
                Some(patched) => {
                    s.rv += 1;
                    let rv = s.rv;
                    let patched = set_version(&patched, rv);
                    s.nodes.insert(name.to_owned(), (rv, patched.clone()));
                    s.log.push((rv, "MODIFIED", patched.clone()));
                    (200, patched)
                }
                None => (400, status_json(400, "BadRequest", "bad merge patch")),
            }
        }
        Some((_, json)) => (200, json),
    }
}

/// Writes a whole answer (with its length) and closes the TLS session.
fn respond(mut tls: Tls, code: u16, body: &str) {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        410 => "Gone",
        _ => "Not Found",
    };
    let _ = write!(
        tls,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
}

/// Method, target, headers, body.
type Parsed = (String, String, Vec<(String, String)>, Vec<u8>);

fn read_request(tls: &mut Tls) -> Option<Parsed> {
    let mut r = BufReader::new(tls);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((method, target, headers, body))
}

pub(super) fn status_json(code: u16, reason: &str, message: &str) -> String {
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{message}","reason":"{reason}","code":{code}}}"#
    )
}

/// The collections served: Nodes and the kinds the agent watches with policy on.
fn served(path: &str) -> bool {
    [
        "/api/v1/nodes",
        "/api/v1/namespaces",
        "/api/v1/pods",
        "/apis/networking.k8s.io/v1/networkpolicies",
    ]
    .contains(&path)
}

/// The objects of the collection at `path`, in key order.
fn items<'s>(s: &'s State, path: &str) -> Vec<&'s str> {
    if path == "/api/v1/nodes" {
        return s.nodes.values().map(|(_, j)| j.as_str()).collect();
    }
    s.objects
        .get(path)
        .map(|o| o.values().map(|(_, j)| j.as_str()).collect())
        .unwrap_or_default()
}

/// A list page of the collection at `path`: `limit` items from the `continue` offset (token
/// "<rv>/<offset>").
fn list(shared: &Shared, rec: &Recorded, path: &str) -> String {
    let s = shared.state.lock().unwrap();
    let limit: usize = rec.query("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let offset: usize = rec
        .query("continue")
        .map(|c| c.replace("%2F", "/"))
        .and_then(|c| c.split_once('/').and_then(|(_, o)| o.parse().ok()))
        .unwrap_or(0);
    let items = items(&s, path);
    let end = if limit == 0 {
        items.len()
    } else {
        (offset + limit).min(items.len())
    };
    let cont = if end < items.len() {
        format!("{}/{end}", s.rv)
    } else {
        String::new()
    };
    format!(
        r#"{{"kind":"List","apiVersion":"v1","metadata":{{"resourceVersion":"{}","continue":"{cont}"}},"items":[{}]}}"#,
        s.rv,
        items[offset.min(items.len())..end].join(",")
    )
}
