//! A test Kubernetes API server speaking the real wire protocol, for the API source's tests
//! (and the end-to-end tests with agents): HTTPS with the test CA in tests/fixtures/pki
//! (see make.sh there), bearer-token and client-certificate authentication, paged LIST with a
//! resourceVersion, chunked WATCH streams cut at arbitrary byte boundaries, BOOKMARK events,
//! 410 Gone (as a status and as an ERROR event), dropped connections, token rotation, and a
//! record of every request (PATCH bodies included).
//!
//! Blocking: one thread per connection (rustls' `StreamOwned`), state behind a mutex with a
//! condvar that wakes the watch streams. It serves Nodes, made from the k3s fixture, and any
//! other collection (`put_object`: Namespaces, Pods, NetworkPolicies) with list and watch. A
//! merge PATCH of a Node's annotations is applied (a MODIFIED event follows), as the API does.
//! `set_down` makes it refuse service: open watches are cut and new connections closed at once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

/// The test PKI (tests/fixtures/pki of the workspace).
pub const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pki");
const NODE_TEMPLATE: &str = include_str!("../../../tests/fixtures/k3s-node.json");

pub fn pki(name: &str) -> Vec<u8> {
    std::fs::read(format!("{PKI}/{name}")).unwrap()
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(String),
    /// A client certificate (verified against the CA) was presented.
    ClientCert,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    pub auth: Auth,
    pub content_type: Option<String>,
    pub body: String,
    pub status: u16,
}

impl Recorded {
    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.status == 200 && !self.target.contains("watch=")
    }
    pub fn is_watch(&self) -> bool {
        self.method == "GET" && self.target.contains("watch=")
    }
    /// The value of query parameter `key`.
    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    }
}

#[derive(Default)]
struct State {
    rv: u64,
    /// name → (resourceVersion, JSON on one line)
    nodes: BTreeMap<String, (u64, String)>,
    /// (resourceVersion, type, object) of every change.
    log: Vec<(u64, &'static str, String)>,
    /// The other kinds (Namespaces, Pods, NetworkPolicies): collection path → key → (version,
    /// JSON on one line).
    objects: BTreeMap<String, BTreeMap<String, (u64, String)>>,
    /// (resourceVersion, collection path, type, object) of every change of the other kinds.
    object_log: Vec<(u64, String, &'static str, String)>,
    /// Watches from a version below this get 410.
    compacted: u64,
    token: Option<String>,
    requests: Vec<Recorded>,
    /// Bumped to cut every open watch connection (no final chunk).
    drop_gen: u64,
    /// Bumped to end every open watch with an ERROR 410 event.
    expire_gen: u64,
    /// Bumped to send a BOOKMARK at the current version on every open watch.
    bookmark_gen: u64,
    /// The next watch request gets an HTTP 410.
    gone_next_watch: bool,
    /// BOOKMARK events written so far.
    bookmarks_sent: u64,
    /// New connections are closed at once.
    down: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

pub struct KubeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl KubeApi {
    /// Listens on 127.0.0.1 (an ephemeral port). `token`: the accepted bearer token (client
    /// certificates from the test CA are always accepted).
    pub fn start(token: Option<&str>) -> KubeApi {
        KubeApi::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), token)
    }

    /// Serves on `listener` (e.g. one bound inside a network namespace).
    pub fn start_on(listener: TcpListener, token: Option<&str>) -> KubeApi {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rv: 100,
                token: token.map(str::to_owned),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let config = server_config();
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if s.state.lock().unwrap().down {
                    // refused: closed before the TLS handshake
                    drop(conn);
                    continue;
                }
                let (s, config) = (s.clone(), config.clone());
                std::thread::spawn(move || serve(conn, config, &s));
            }
        });
        KubeApi { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn change<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.shared.state.lock().unwrap());
        self.shared.changed.notify_all();
        r
    }

    /// Adds or replaces Node `name` (a full k3s Node) and logs the event.
    pub fn put_node(&self, name: &str, pod_cidr: &str, ip: &str) {
        self.put_node_with(name, |rv| node_json(name, pod_cidr, ip, rv));
    }

    /// Adds or replaces Node `name` with the JSON `make` builds for a resourceVersion.
    pub fn put_node_with(&self, name: &str, make: impl FnOnce(u64) -> String) {
        self.change(|s| {
            s.rv += 1;
            let json = make(s.rv);
            let kind = if s.nodes.contains_key(name) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            s.nodes.insert(name.to_owned(), (s.rv, json.clone()));
            s.log.push((s.rv, kind, json));
        });
    }

    /// Adds or replaces object `key` (`ns/name` or `name`) of the collection at `path` (e.g.
    /// `/api/v1/pods`), given as one-line JSON with a `"metadata":{` (its resourceVersion is
    /// set), and logs the event.
    pub fn put_object(&self, path: &str, key: &str, json: &str) {
        self.change(|s| {
            s.rv += 1;
            let rv = s.rv;
            let json = json.replacen(
                r#""metadata":{"#,
                &format!(r#""metadata":{{"resourceVersion":"{rv}","#),
                1,
            );
            let objects = s.objects.entry(path.to_owned()).or_default();
            let kind = match objects.insert(key.to_owned(), (rv, json.clone())) {
                Some(_) => "MODIFIED",
                None => "ADDED",
            };
            s.object_log.push((rv, path.to_owned(), kind, json));
        });
    }

    /// Deletes object `key` of the collection at `path` with a DELETED event.
    pub fn delete_object(&self, path: &str, key: &str) {
        self.change(|s| {
            let objects = s.objects.entry(path.to_owned()).or_default();
            let (_, json) = objects.remove(key).expect("no such object");
            s.rv += 1;
            let rv = s.rv;
            s.object_log.push((rv, path.to_owned(), "DELETED", json));
        });
    }

    /// The stored JSON of Node `name`.
    pub fn node(&self, name: &str) -> Option<String> {
        let s = self.shared.state.lock().unwrap();
        s.nodes.get(name).map(|(_, j)| j.clone())
    }

    /// Down: cuts every open watch and closes new connections at once; up: serves again.
    pub fn set_down(&self, down: bool) {
        self.change(|s| {
            s.down = down;
            if down {
                s.drop_gen += 1;
            }
        });
    }

    /// Deletes Node `name` with a DELETED event.
    pub fn delete_node(&self, name: &str) {
        self.change(|s| {
            let (_, json) = s.nodes.remove(name).expect("no such node");
            s.rv += 1;
            s.log.push((s.rv, "DELETED", json));
        });
    }

    /// Deletes Node `name` and compacts the history, so no watcher can learn of it but by
    /// relisting (what happens when a client misses events for longer than etcd keeps them).
    pub fn delete_node_unseen(&self, name: &str) {
        self.change(|s| {
            s.nodes.remove(name).expect("no such node");
            s.rv += 1;
            s.compacted = s.rv;
            s.log.clear();
        });
    }

    /// Advances the version without changing a Node (other kinds changed), then sends a
    /// BOOKMARK at it to the open watches, then forgets history before it: a client that took the
    /// bookmark resumes without 410.
    pub fn bookmark_and_compact(&self) {
        let sent = self.change(|s| {
            s.rv += 5;
            s.bookmark_gen += 1;
            s.bookmarks_sent
        });
        // The open stream sends the bookmark before history goes.
        let s = self.shared.state.lock().unwrap();
        let (s, _) = self
            .shared
            .changed
            .wait_timeout_while(s, Duration::from_secs(20), |s| s.bookmarks_sent == sent)
            .unwrap();
        assert!(s.bookmarks_sent > sent, "no open watch took the bookmark");
        drop(s);
        self.change(|s| {
            s.compacted = s.rv;
            s.log.clear();
        });
    }

    /// Cuts every open watch connection mid-stream.
    pub fn drop_connections(&self) {
        self.change(|s| s.drop_gen += 1);
    }

    /// Ends every open watch with an ERROR event of code 410.
    pub fn expire_watches(&self) {
        self.change(|s| s.expire_gen += 1);
    }

    /// Answers the next watch request with HTTP 410.
    pub fn gone_next_watch(&self) {
        self.change(|s| s.gone_next_watch = true);
    }

    /// Accepts only `token` from now on.
    pub fn rotate_token(&self, token: &str) {
        self.change(|s| s.token = Some(token.to_owned()));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    pub fn lists(&self) -> usize {
        self.requests().iter().filter(|r| r.is_list()).count()
    }

    /// Waits (at most 20 s) until `n` watch requests have been answered with a stream.
    pub fn wait_for_watches(&self, n: usize) {
        let s = self.shared.state.lock().unwrap();
        let count = |s: &State| {
            s.requests
                .iter()
                .filter(|r| r.is_watch() && r.status == 200)
                .count()
        };
        let (s, _) = self
            .shared
            .changed
            .wait_timeout_while(s, Duration::from_secs(20), |s| count(s) < n)
            .unwrap();
        assert!(count(&s) >= n, "no watch request came");
    }

    pub fn version(&self) -> u64 {
        self.shared.state.lock().unwrap().rv
    }
}

fn server_config() -> Arc<ServerConfig> {
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

/// The k3s fixture as node `name`, on one line.
pub fn node_json(name: &str, pod_cidr: &str, ip: &str, rv: u64) -> String {
    minify(
        &NODE_TEMPLATE
            .replace("edge-pi-01", name)
            .replace("10.42.3.0/24", pod_cidr)
            .replace("198.51.100.21", ip)
            .replace("\"1849302\"", &format!("\"{rv}\"")),
    )
}

/// Applies a JSON merge patch `{"metadata":{"annotations":{"k":"v"|null,…}}}` (string values
/// only, what the agent sends) to a one-line Node; `None` if the patch has another shape.
pub fn patch_annotations(node: &str, patch: &str) -> Option<String> {
    let inner = patch
        .strip_prefix(r#"{"metadata":{"annotations":{"#)?
        .strip_suffix("}}}")?;
    let mut out = node.to_owned();
    let mut rest = inner;
    while !rest.is_empty() {
        let (key, r) = json_str(rest)?;
        let r = r.strip_prefix(':')?;
        let (value, r) = match r.strip_prefix("null") {
            Some(r) => (None, r),
            None => {
                let (v, r) = json_str(r)?;
                (Some(v), r)
            }
        };
        rest = r.strip_prefix(',').unwrap_or(r);
        // remove the key if present, then add the new value first
        let member = format!("{key}:");
        if let Some(i) = out.find(&member) {
            let (old, after) = json_str(&out[i + member.len()..])?;
            let end = i + member.len() + old.len();
            let (start, end) = match (after.starts_with(','), out[..i].ends_with(',')) {
                (true, _) => (i, end + 1),
                (false, true) => (i - 1, end),
                (false, false) => (i, end),
            };
            out.replace_range(start..end, "");
        }
        if let Some(v) = value {
            let at = out.find(r#""annotations":{"#)? + r#""annotations":{"#.len();
            let sep = if out[at..].starts_with('}') { "" } else { "," };
            out.insert_str(at, &format!("{key}:{v}{sep}"));
        }
    }
    Some(out)
}

/// The JSON string literal at the start of `s` (quotes and escapes kept) and what follows it.
fn json_str(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&s[..=i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// Sets a one-line Node's `metadata.resourceVersion`.
fn set_version(node: &str, rv: u64) -> String {
    let key = r#""resourceVersion":""#;
    match node.find(key) {
        Some(i) => {
            let start = i + key.len();
            let end = start + node[start..].find('"').unwrap_or(0);
            format!("{}{rv}{}", &node[..start], &node[end..])
        }
        None => node.to_owned(),
    }
}

/// Drops the whitespace outside strings.
fn minify(json: &str) -> String {
    let (mut out, mut in_str, mut esc) = (String::new(), false, false);
    for c in json.chars() {
        if in_str {
            out.push(c);
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

fn serve(tcp: TcpStream, config: Arc<ServerConfig>, shared: &Shared) {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, tcp);
    // Completes the handshake (a client rejecting our certificate ends here).
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return;
        }
    }
    let cert = tls.conn.peer_certificates().is_some_and(|c| !c.is_empty());
    let Some((method, target, headers, body)) = read_request(&mut tls) else {
        return;
    };
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
    let mut rec = Recorded {
        method: method.clone(),
        target: target.clone(),
        auth: auth.clone(),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: 0,
    };
    let allowed = match &auth {
        Auth::ClientCert => true,
        Auth::Bearer(t) => shared.state.lock().unwrap().token.as_deref() == Some(t.as_str()),
        Auth::None => false,
    };
    let path = target.split('?').next().unwrap_or_default().to_owned();
    // A watch stream reacts to drops/expiries/bookmarks requested after its request was
    // recorded: take the generations before recording it.
    let gens = {
        let s = shared.state.lock().unwrap();
        (s.drop_gen, s.expire_gen, s.bookmark_gen)
    };
    let answer = if !allowed {
        Some((401, status_json(401, "Unauthorized", "Unauthorized")))
    } else if method == "GET" && served(&path) && rec.is_watch() {
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
    } else if method == "GET" && served(&path) {
        Some((200, list(shared, &rec, &path)))
    } else if method == "PATCH" && path.starts_with("/api/v1/nodes/") {
        let name = path["/api/v1/nodes/".len()..].trim_end_matches("/status");
        let merge = rec.content_type.as_deref() == Some("application/merge-patch+json");
        let mut s = shared.state.lock().unwrap();
        match s.nodes.get(name).cloned() {
            None => Some((404, status_json(404, "NotFound", "node not found"))),
            Some((_, json)) if merge && !path.ends_with("/status") => {
                match patch_annotations(&json, &rec.body) {
                    Some(patched) => {
                        s.rv += 1;
                        let rv = s.rv;
                        let patched = set_version(&patched, rv);
                        s.nodes.insert(name.to_owned(), (rv, patched.clone()));
                        s.log.push((rv, "MODIFIED", patched.clone()));
                        Some((200, patched))
                    }
                    None => Some((400, status_json(400, "BadRequest", "bad merge patch"))),
                }
            }
            Some((_, json)) => Some((200, json)),
        }
    } else {
        Some((404, status_json(404, "NotFound", "not found")))
    };
    rec.status = answer.as_ref().map_or(200, |(c, _)| *c);
    shared.state.lock().unwrap().requests.push(rec.clone());
    shared.changed.notify_all();
    match answer {
        Some((code, body)) => {
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
        None => watch(tls, shared, &rec, &path, gens),
    }
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

fn status_json(code: u16, reason: &str, message: &str) -> String {
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

/// The collection at `path`'s events after version `from`: (version, type, object).
fn events_after<'s>(s: &'s State, path: &str, from: u64) -> Vec<(u64, &'s str, &'s str)> {
    if path == "/api/v1/nodes" {
        return s
            .log
            .iter()
            .filter(|(rv, _, _)| *rv > from)
            .map(|(rv, kind, json)| (*rv, *kind, json.as_str()))
            .collect();
    }
    s.object_log
        .iter()
        .filter(|(rv, p, _, _)| *rv > from && p == path)
        .map(|(rv, _, kind, json)| (*rv, *kind, json.as_str()))
        .collect()
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

/// Streams watch events as chunks of varying sizes (events cut anywhere, several in one).
fn watch(mut tls: Tls, shared: &Shared, rec: &Recorded, path: &str, gens: (u64, u64, u64)) {
    let mut from: u64 = rec
        .query("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout: u64 = rec
        .query("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if tls
        .write_all(head.as_bytes())
        .and_then(|()| tls.flush())
        .is_err()
    {
        return;
    }
    let (drop_gen, expire_gen, mut bookmark_gen) = gens;
    let mut sent_gen = bookmark_gen;
    let mut seed = from as u32 ^ 0x9e37_79b9;
    let mut pending = Vec::new();
    loop {
        let mut end = false;
        {
            let s = shared.state.lock().unwrap();
            let s = shared
                .changed
                .wait_timeout_while(s, Duration::from_millis(50), |s| {
                    s.drop_gen == drop_gen
                        && s.expire_gen == expire_gen
                        && s.bookmark_gen == bookmark_gen
                        && events_after(s, path, from).is_empty()
                })
                .unwrap()
                .0;
            if s.drop_gen != drop_gen {
                // Cut the connection: no final chunk, no close_notify.
                let _ = tls.sock.shutdown(Shutdown::Both);
                return;
            }
            let since = from;
            for (rv, kind, json) in events_after(&s, path, since) {
                pending.extend_from_slice(
                    format!(r#"{{"type":"{kind}","object":{json}}}"#).as_bytes(),
                );
                pending.push(b'\n');
                from = rv;
            }
            if s.bookmark_gen != bookmark_gen {
                bookmark_gen = s.bookmark_gen;
                from = s.rv;
                let b = format!(
                    r#"{{"type":"BOOKMARK","object":{{"kind":"Node","apiVersion":"v1","metadata":{{"resourceVersion":"{}","annotations":{{"k8s.io/initial-events-end":"true"}}}}}}}}"#,
                    s.rv
                );
                pending.extend_from_slice(b.as_bytes());
                pending.push(b'\n');
            }
            if s.expire_gen != expire_gen {
                let msg = format!("too old resource version: {from} ({})", s.rv);
                let e = format!(
                    r#"{{"type":"ERROR","object":{}}}"#,
                    status_json(410, "Expired", &msg)
                );
                pending.extend_from_slice(e.as_bytes());
                pending.push(b'\n');
                end = true;
            }
        }
        let bookmarked = bookmark_gen;
        while !pending.is_empty() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let size = [1, 2, 7, 13, 97, 1000, 4096][(seed >> 16) as usize % 7].min(pending.len());
            let chunk: Vec<u8> = pending.drain(..size).collect();
            let mut out = format!("{size:x}\r\n").into_bytes();
            out.extend_from_slice(&chunk);
            out.extend_from_slice(b"\r\n");
            if tls.write_all(&out).and_then(|()| tls.flush()).is_err() {
                return;
            }
        }
        if bookmarked != sent_gen {
            sent_gen = bookmarked;
            shared.state.lock().unwrap().bookmarks_sent += 1;
            shared.changed.notify_all();
        }
        if end || Instant::now() >= deadline {
            let _ = tls.write_all(b"0\r\n\r\n").and_then(|()| tls.flush());
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
            return;
        }
    }
}
