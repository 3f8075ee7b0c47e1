//! List + watch of one resource kind, by the API's rules, written once for every kind (Nodes;
//! Pods, Namespaces and NetworkPolicies for the policy mode).
//!
//! - LIST (paged with `limit`/`continue`) gives every object and a resourceVersion; the
//!   watcher reports the whole set as [`WatchEvent::Listed`], with the objects it knew before
//!   that are gone now as synthesised deletes.
//! - WATCH from that resourceVersion with `allowWatchBookmarks=true&timeoutSeconds=…`: one JSON
//!   event per line of a chunked body. ADDED/MODIFIED → `Applied`, DELETED → `Deleted`,
//!   BOOKMARK only moves the resourceVersion; every event's object carries the version to resume
//!   from.
//! - The server ending the watch (its timeout) → watch again from the last version. HTTP 410 or
//!   an ERROR event with code 410 (the version was compacted away) → relist. Any other failure
//!   (connection refused or dropped, TLS, 5xx) → [`WatchEvent::Failed`], back off (exponential,
//!   with jitter) and resume from the last version, relisting only if there is none.
//! - Events whose object does not parse are logged and skipped (the version still advances).
//! - A watch silent for longer than its `timeoutSeconds` plus [`IDLE_SLACK`] is a dead
//!   connection (a server that vanished without a FIN or RST): it fails and is resumed.
//!
//! The LIST half is in `watch/list.rs`, [`Backoff`] in `watch/backoff.rs`.

mod backoff;
mod list;

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use serde::Deserialize;
use smol::channel::Sender;

use super::client::{self, ApiError, Client, Status};
use super::http::HttpError;
use super::json::{self, MAX_DEPTH, MAX_OBJECT_BYTES};
use super::meta::ObjectMeta;
use super::{parse_object, Object, ObjectRef, ParseError};
pub use backoff::Backoff;
use list::escape_query;

/// One kind of object to watch.
#[derive(Clone, Copy)]
pub struct Resource {
    pub kind: &'static str,
    /// The API group (`""` for the core group), for RBAC.
    pub group: &'static str,
    /// The resource's plural name, for RBAC, e.g. `nodes`.
    pub resource: &'static str,
    /// The collection's API path, e.g. `/api/v1/nodes`.
    pub path: &'static str,
    /// Parses one object of this kind (as found in a list's items or an event).
    pub parse: fn(&[u8]) -> Result<Object, ParseError>,
}

/// Nodes, cluster-wide.
pub const NODES: Resource = Resource {
    kind: "Node",
    group: "",
    resource: "nodes",
    path: "/api/v1/nodes",
    parse: |b| parse_object(b, Some("Node")),
};

/// Namespaces (their labels, for namespaceSelectors).
pub const NAMESPACES: Resource = Resource {
    kind: "Namespace",
    group: "",
    resource: "namespaces",
    path: "/api/v1/namespaces",
    parse: |b| parse_object(b, Some("Namespace")),
};

/// Pods of every namespace (labels, addresses, node).
pub const PODS: Resource = Resource {
    kind: "Pod",
    group: "",
    resource: "pods",
    path: "/api/v1/pods",
    parse: |b| parse_object(b, Some("Pod")),
};

/// NetworkPolicies of every namespace.
pub const NETWORK_POLICIES: Resource = Resource {
    kind: "NetworkPolicy",
    group: "networking.k8s.io",
    resource: "networkpolicies",
    path: "/apis/networking.k8s.io/v1/networkpolicies",
    parse: |b| parse_object(b, Some("NetworkPolicy")),
};

/// What the agent watches for routing alone.
pub const ROUTING: &[Resource] = &[NODES];
/// What the agent watches with NetworkPolicy enforcement on.
pub const WITH_POLICY: &[Resource] = &[NODES, NAMESPACES, PODS, NETWORK_POLICIES];

/// How much longer than the `timeoutSeconds` it asked for a watch may stay silent before it is
/// taken for dead.
pub const IDLE_SLACK: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchConfig {
    /// `timeoutSeconds` asked of the server for each watch.
    pub timeout_secs: u32,
    /// LIST page size (`limit`); 0 lists in one response.
    pub page_size: u32,
    /// The longest event line accepted.
    pub max_line: usize,
    /// The first retry delay after a failure; doubled up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            timeout_secs: 290,
            page_size: 500,
            max_line: 16 << 20,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub enum WatchEvent {
    /// After a (re)list: every object of the kind, and those known before that are gone.
    Listed {
        kind: &'static str,
        objects: Vec<Object>,
        deleted: Vec<ObjectRef>,
    },
    Applied(Object),
    Deleted(Object),
    /// A request failed; the watcher retries after `retry_in`, keeping what it knows.
    Failed {
        kind: &'static str,
        error: ApiError,
        retry_in: Duration,
    },
}

/// How one watch request ended, when it ended without a failure.
enum End {
    /// The server closed the stream (its timeout): watch again.
    Closed,
    /// The version is too old: relist.
    Gone,
}

/// Runs list + watch for `resource` until `events` is closed.
pub async fn run(
    client: &Client,
    resource: Resource,
    config: WatchConfig,
    events: Sender<WatchEvent>,
) {
    let mut w = Watcher {
        client,
        resource,
        config,
        events,
        version: None,
        known: BTreeSet::new(),
    };
    let mut backoff = Backoff::new(config.backoff_min, config.backoff_max);
    loop {
        if w.events.is_closed() {
            return;
        }
        let result = match w.version {
            None => w.list().await.map(|()| End::Closed),
            Some(_) => w.watch(&mut backoff).await,
        };
        match result {
            Ok(End::Closed) => backoff.reset(),
            Ok(End::Gone) => {
                log::info!("API: {} watch expired (410); relisting", resource.kind);
                w.version = None;
            }
            Err(error) => {
                let retry_in = backoff.next_delay();
                log::warn!(
                    "API: {} {}: {error}; retrying in {retry_in:?}",
                    resource.kind,
                    if w.version.is_some() { "watch" } else { "list" }
                );
                let failed = WatchEvent::Failed {
                    kind: resource.kind,
                    error,
                    retry_in,
                };
                if w.events.send(failed).await.is_err() {
                    return;
                }
                smol::Timer::after(retry_in).await;
            }
        }
    }
}

struct Watcher<'a> {
    client: &'a Client,
    resource: Resource,
    config: WatchConfig,
    events: Sender<WatchEvent>,
    /// Where to resume the watch; `None`: list first.
    version: Option<String>,
    known: BTreeSet<ObjectRef>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    metadata: ObjectMeta,
}

impl Watcher<'_> {
    async fn watch(&mut self, backoff: &mut Backoff) -> Result<End, ApiError> {
        let version = self.version.clone().unwrap_or_default();
        let path = format!(
            "{}?watch=1&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
            self.resource.path,
            self.config.timeout_secs,
            escape_query(&version)
        );
        let mut resp = self.client.request("GET", &path, None, &[]).await?;
        match resp.status {
            200 => {}
            410 => return Ok(End::Gone),
            _ => {
                return Err(client::ok_body(resp, 0)
                    .await
                    .err()
                    .unwrap_or(ApiError::Status {
                        code: 0,
                        message: "unexpected answer".into(),
                    }))
            }
        }
        let idle = Duration::from_secs(u64::from(self.config.timeout_secs)) + IDLE_SLACK;
        loop {
            let next = resp.body.read_line(self.config.max_line);
            let silent = async {
                smol::Timer::after(idle).await;
                Err(HttpError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("watch silent for {idle:?}"),
                )))
            };
            let Some(line) = smol::future::or(next, silent).await? else {
                break;
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // Progress: a failure after this retries quickly again.
            backoff.reset();
            if let Some(end) = self.event(&line).await? {
                return Ok(end);
            }
            if self.events.is_closed() {
                return Ok(End::Closed);
            }
        }
        Ok(End::Closed)
    }

    /// Handles one event line.
    async fn event(&mut self, line: &[u8]) -> Result<Option<End>, ApiError> {
        let m = json::members(
            line,
            &["type", "object"],
            self.config.max_line,
            MAX_DEPTH + 1,
        )?;
        let (Some(kind), Some(object)) = (&m[0], &m[1]) else {
            return Err(ParseError::MissingField("type/object of a watch event").into());
        };
        let object = &line[object.clone()];
        let kind: String = json::from_json(&line[kind.clone()])?;
        if kind == "ERROR" {
            return error_event(object);
        }
        if object.len() > MAX_OBJECT_BYTES {
            return Err(ParseError::TooLarge {
                len: object.len(),
                max: MAX_OBJECT_BYTES,
            }
            .into());
        }
        let head: Head = json::from_json(object)?;
        if !head.metadata.resource_version.is_empty() {
            self.version = Some(head.metadata.resource_version);
        }
        let ev = match kind.as_str() {
            "BOOKMARK" => return Ok(None),
            "ADDED" | "MODIFIED" | "DELETED" => {
                match self.object_event(&kind, object, &head.metadata.name) {
                    Some(ev) => ev,
                    None => return Ok(None),
                }
            }
            other => {
                log::debug!("API: ignoring watch event type {other:?}");
                return Ok(None);
            }
        };
        self.events.send(ev).await.ok();
        Ok(None)
    }

    /// An ADDED, MODIFIED or DELETED event's object (`name` from its metadata), tracked in
    /// `known`; `None` (logged) when it does not parse.
    fn object_event(&mut self, kind: &str, object: &[u8], name: &str) -> Option<WatchEvent> {
        match (self.resource.parse)(object) {
            Ok(obj) if kind == "DELETED" => {
                self.known.remove(&obj.object_ref());
                Some(WatchEvent::Deleted(obj))
            }
            Ok(obj) => {
                self.known.insert(obj.object_ref());
                Some(WatchEvent::Applied(obj))
            }
            Err(e) => {
                log::warn!("API: skipping {kind} {} {name:?}: {e}", self.resource.kind);
                None
            }
        }
    }
}

/// An ERROR event's status: 410 (the version was compacted away) ends the watch for a relist,
/// any other code fails it.
fn error_event(object: &[u8]) -> Result<Option<End>, ApiError> {
    let status: Status = json::from_json(object)?;
    if status.code == 410 {
        return Ok(Some(End::Gone));
    }
    Err(ApiError::Status {
        code: status.code,
        message: status.message,
    })
}
