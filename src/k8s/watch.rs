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

use std::collections::BTreeSet;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use smol::channel::Sender;

use super::client::{self, ApiError, Client, Status};
use super::http::HttpError;
use super::json::{self, MAX_DEPTH, MAX_LIST_BYTES, MAX_OBJECT_BYTES};
use super::meta::ObjectMeta;
use super::{parse_object, Object, ObjectRef, ParseError};

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

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: String,
    #[serde(rename = "continue")]
    cont: String,
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    metadata: ObjectMeta,
}

impl Watcher<'_> {
    async fn list(&mut self) -> Result<(), ApiError> {
        let mut objects = Vec::new();
        let mut cont = String::new();
        let version = loop {
            let mut path = format!("{}?limit={}", self.resource.path, self.config.page_size);
            if !cont.is_empty() {
                path.push_str("&continue=");
                path.push_str(&escape_query(&cont));
            }
            let body = self.client.get(&path, MAX_LIST_BYTES).await?;
            let meta = list_page(&body, self.resource, &mut objects)?;
            if meta.cont.is_empty() {
                break meta.resource_version;
            }
            cont = meta.cont;
        };
        let now: BTreeSet<ObjectRef> = objects.iter().map(Object::object_ref).collect();
        let deleted = self.known.difference(&now).cloned().collect();
        self.known = now;
        log::info!(
            "API: listed {} {}s at version {version}",
            objects.len(),
            self.resource.kind
        );
        self.version = Some(version);
        let listed = WatchEvent::Listed {
            kind: self.resource.kind,
            objects,
            deleted,
        };
        // A closed channel ends the watcher at the top of its loop.
        self.events.send(listed).await.ok();
        Ok(())
    }

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
            let status: Status = json::from_json(object)?;
            if status.code == 410 {
                return Ok(Some(End::Gone));
            }
            return Err(ApiError::Status {
                code: status.code,
                message: status.message,
            });
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
            "ADDED" | "MODIFIED" | "DELETED" => match (self.resource.parse)(object) {
                Ok(obj) if kind == "DELETED" => {
                    self.known.remove(&obj.object_ref());
                    WatchEvent::Deleted(obj)
                }
                Ok(obj) => {
                    self.known.insert(obj.object_ref());
                    WatchEvent::Applied(obj)
                }
                Err(e) => {
                    log::warn!(
                        "API: skipping {kind} {} {:?}: {e}",
                        self.resource.kind,
                        head.metadata.name
                    );
                    return Ok(None);
                }
            },
            other => {
                log::debug!("API: ignoring watch event type {other:?}");
                return Ok(None);
            }
        };
        self.events.send(ev).await.ok();
        Ok(None)
    }
}

/// Parses one LIST page: its items are appended (items that do not parse are logged and
/// skipped), its metadata returned.
fn list_page(
    body: &[u8],
    resource: Resource,
    objects: &mut Vec<Object>,
) -> Result<ListMeta, ApiError> {
    let outline = json::outline(body, MAX_LIST_BYTES, MAX_DEPTH + 2)?;
    let m = json::members(body, &["metadata"], MAX_LIST_BYTES, MAX_DEPTH + 2)?;
    let meta: ListMeta = match &m[0] {
        Some(r) => json::from_json(&body[r.clone()])?,
        None => ListMeta::default(),
    };
    if meta.resource_version.is_empty() {
        return Err(ParseError::MissingField("metadata.resourceVersion of a list").into());
    }
    for r in outline.items.unwrap_or_default() {
        match (resource.parse)(&body[r]) {
            Ok(o) => objects.push(o),
            Err(e) => log::warn!("API: skipping a listed {}: {e}", resource.kind),
        }
    }
    Ok(meta)
}

/// Percent-escapes a query value (continue tokens are base64 with `=`, `+`, `/`).
fn escape_query(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling from `min`
/// to `max`. The jitter comes from the clock's nanoseconds (no random crate needed: it only has
/// to keep many agents from retrying in step).
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(self.max);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|t| t.subsec_nanos())
            .unwrap_or(0);
        // A fraction in [0, 1) from the clock's low bits, mixed so that close calls differ.
        let frac = f64::from(nanos.wrapping_mul(2_654_435_761) >> 8) / f64::from(1u32 << 24);
        d / 2 + d.mul_f64(frac / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        for expect in [100u64, 200, 400, 800, 800] {
            let d = b.next_delay();
            let e = Duration::from_millis(expect);
            assert!(d >= e / 2 && d <= e, "{d:?} for {e:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn list_pages_and_query_escaping() {
        let body = br#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"77","continue":"eyJ2Ijo=+/"},"items":[{"metadata":{"name":"a","resourceVersion":"5"}},{"metadata":{"name":"b"},"spec":{"podCIDR":"nope"}}]}"#;
        let mut objects = Vec::new();
        let meta = list_page(body, NODES, &mut objects).unwrap();
        assert_eq!(meta.resource_version, "77");
        assert_eq!(escape_query(&meta.cont), "eyJ2Ijo%3D%2B%2F");
        assert_eq!(objects.len(), 1, "the node with a bad podCIDR is skipped");
        assert_eq!(objects[0].name(), "a");
    }
}
