//! LIST, paged with `limit`/`continue`: every object of the kind and the resourceVersion to
//! watch from, reported as [`WatchEvent::Listed`] with the objects gone since the last list.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Resource, WatchEvent, Watcher};
use crate::k8s::client::ApiError;
use crate::k8s::json::{self, MAX_DEPTH, MAX_LIST_BYTES};
use crate::k8s::{Object, ObjectRef, ParseError};

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: String,
    #[serde(rename = "continue")]
    cont: String,
}

impl Watcher<'_> {
    pub(super) async fn list(&mut self) -> Result<(), ApiError> {
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
pub(super) fn escape_query(v: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::watch::NODES;

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
