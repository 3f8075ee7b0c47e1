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
//!
//! Here the state and the test's handle ([`KubeApi`]); the requests are answered in `serve.rs`,
//! watches streamed in `watch.rs`, the Node objects built and patched in `objects.rs`.

mod objects;
mod serve;
mod watch;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub use objects::{node_json, node_json_stack, patch_annotations};
use serve::{serve, server_config};

/// The test PKI (tests/fixtures/pki of the workspace).
pub const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pki");

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
