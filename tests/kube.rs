//! The Kubernetes API source against the test API server (crates/testkit/src/kube_api.rs), over
//! HTTPS on 127.0.0.1: list + watch, deletes, 410 (status and ERROR event) with relist,
//! bookmarks, dropped connections, token rotation, client certificates, a wrong CA, and the
//! PATCHes the agent sends.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lichen::agent::source::{Source, SourceError, WatchConfig};
use lichen::k8s::kubeconfig::{ClientCert, KubeConfig, TokenSource};
use lichen::k8s::{publish, ApiError, Client};
use lichen::model::ClusterState;
use testkit::kube_api::{pki, Auth, KubeApi, Recorded};

/// A guard against hangs, not a timing assertion.
const LIMIT: Duration = Duration::from_secs(30);

fn config(api: &KubeApi, token: Option<TokenSource>, cert: bool) -> KubeConfig {
    KubeConfig {
        server: lichen::k8s::kubeconfig::parse_server(&api.url()).unwrap(),
        ca_pem: pki("ca.crt"),
        token,
        client_cert: cert.then(|| ClientCert {
            cert_pem: pki("client.crt"),
            key_pem: pki("client.key"),
        }),
    }
}

fn watch_config() -> WatchConfig {
    WatchConfig {
        timeout_secs: 600,
        page_size: 2,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..WatchConfig::default()
    }
}

fn static_token(t: &str) -> Option<TokenSource> {
    Some(TokenSource::Static(t.into()))
}

/// Feeds snapshots until `done` holds; returns it and the errors seen on the way.
fn wait(
    source: &mut Source,
    what: &str,
    done: impl Fn(&ClusterState) -> bool,
) -> (Arc<ClusterState>, Vec<String>) {
    smol::block_on(async {
        let mut errors = Vec::new();
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let next = async { Some(source.next().await) };
            let timeout = async {
                smol::Timer::at(deadline).await;
                None
            };
            match smol::future::or(next, timeout).await {
                None => panic!("timed out waiting for {what}; errors: {errors:?}"),
                Some(Ok(state)) if done(&state) => return (state, errors),
                Some(Ok(_)) => {}
                Some(Err(e)) => errors.push(e.to_string()),
            }
        }
    })
}

fn has<'a>(names: &'a [&'a str]) -> impl Fn(&ClusterState) -> bool + 'a {
    move |s| s.nodes.keys().map(String::as_str).eq(names.iter().copied())
}

fn three_nodes(api: &KubeApi) {
    api.put_node("node-a", "10.42.0.0/24", "198.51.100.1");
    api.put_node("node-b", "10.42.1.0/24", "198.51.100.2");
    api.put_node("node-c", "10.42.2.0/24", "198.51.100.3");
}

#[test]
fn list_then_watch_converges_with_updates_and_deletes() {
    let api = KubeApi::start(Some("t1"));
    three_nodes(&api);
    let mut src = Source::kube(&config(&api, static_token("t1"), false), watch_config()).unwrap();
    let (s, _) = wait(&mut src, "the list", has(&["node-a", "node-b", "node-c"]));
    // the whole k3s Node parsed: escaped annotations, addresses, pod CIDRs
    let a = &s.nodes["node-a"];
    assert_eq!(a.pod_cidrs, ["10.42.0.0/24".parse().unwrap()]);
    assert_eq!(
        a.internal_ips,
        ["198.51.100.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(a.vtep_mac, Some([0x6a, 0x3e, 0x91, 0x0c, 0x5f, 0xd2]));
    // paged: 3 nodes at 2 per page
    let lists: Vec<_> = api.requests().into_iter().filter(|r| r.is_list()).collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(lists[0].query("limit").as_deref(), Some("2"));
    assert!(lists[1].query("continue").is_some());
    assert!(lists.iter().all(|r| r.auth == Auth::Bearer("t1".into())));

    api.put_node("node-d", "10.42.3.0/24", "198.51.100.4");
    wait(
        &mut src,
        "an added node",
        has(&["node-a", "node-b", "node-c", "node-d"]),
    );
    api.put_node("node-a", "10.42.9.0/24", "198.51.100.1");
    wait(&mut src, "a modified node", |s| {
        s.nodes["node-a"].pod_cidrs == ["10.42.9.0/24".parse().unwrap()]
    });
    api.delete_node("node-b");
    let (s, _) = wait(
        &mut src,
        "a deleted node",
        has(&["node-a", "node-c", "node-d"]),
    );
    assert_eq!(
        s.nodes["node-a"].resource_version,
        api.version().saturating_sub(1).to_string()
    );
    assert_eq!(api.lists(), 2, "no relist while the watch works");
    let watch = api.requests().into_iter().find(|r| r.is_watch()).unwrap();
    assert_eq!(watch.query("allowWatchBookmarks").as_deref(), Some("true"));
    assert_eq!(watch.query("resourceVersion").as_deref(), Some("103"));
    assert!(watch.query("timeoutSeconds").is_some());
}

#[test]
fn gone_relists_and_synthesises_deletes() {
    let api = KubeApi::start(Some("t1"));
    three_nodes(&api);
    let mut src = Source::kube(&config(&api, static_token("t1"), false), watch_config()).unwrap();
    wait(&mut src, "the list", has(&["node-a", "node-b", "node-c"]));
    let lists = api.lists();

    // 410 as an HTTP status: the node vanished while the client was cut off
    api.delete_node_unseen("node-b");
    api.drop_connections();
    wait(
        &mut src,
        "node-b gone after relist",
        has(&["node-a", "node-c"]),
    );
    assert_eq!(api.lists(), lists + 1);
    assert!(api
        .requests()
        .iter()
        .any(|r| r.is_watch() && r.status == 410));

    // 410 as an ERROR event on an open watch
    api.delete_node_unseen("node-c");
    api.expire_watches();
    wait(&mut src, "node-c gone after relist", has(&["node-a"]));
    assert_eq!(api.lists(), lists + 2);

    // and the watch goes on after the relists
    api.put_node("node-e", "10.42.4.0/24", "198.51.100.5");
    wait(
        &mut src,
        "a node after the relists",
        has(&["node-a", "node-e"]),
    );
}

#[test]
fn a_dropped_watch_resumes_without_relist_and_bookmarks_move_the_version() {
    let api = KubeApi::start(Some("t1"));
    three_nodes(&api);
    let mut src = Source::kube(&config(&api, static_token("t1"), false), watch_config()).unwrap();
    wait(&mut src, "the list", has(&["node-a", "node-b", "node-c"]));
    api.put_node("node-d", "10.42.3.0/24", "198.51.100.4");
    wait(&mut src, "node-d", |s| s.nodes.contains_key("node-d"));
    let seen = api.version();

    api.drop_connections();
    api.put_node("node-e", "10.42.4.0/24", "198.51.100.5");
    let (_, errors) = wait(&mut src, "node-e after the drop", |s| {
        s.nodes.contains_key("node-e")
    });
    assert_eq!(api.lists(), 2, "resumed, not relisted (errors: {errors:?})");
    let resumed: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.is_watch())
        .collect();
    assert!(resumed.len() >= 2);
    assert_eq!(resumed[1].query("resourceVersion"), Some(seen.to_string()));

    // A bookmark moves the version: history before it can go without forcing a relist.
    api.bookmark_and_compact();
    api.drop_connections();
    api.put_node("node-f", "10.42.5.0/24", "198.51.100.6");
    wait(&mut src, "node-f after the bookmark", |s| {
        s.nodes.contains_key("node-f")
    });
    assert_eq!(api.lists(), 2, "the bookmark's version was used to resume");
    assert!(api.requests().iter().all(|r| r.status != 410));
}

#[test]
fn a_rotated_token_is_reread_after_401() {
    let dir = std::env::temp_dir().join(format!("lichen-kube-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "token-1\n").unwrap();
    let api = KubeApi::start(Some("token-1"));
    three_nodes(&api);
    let token = Some(TokenSource::File(file.clone()));
    let mut src = Source::kube(&config(&api, token, false), watch_config()).unwrap();
    wait(&mut src, "the list", has(&["node-a", "node-b", "node-c"]));

    // Rotate in place, keeping the file's inode, length and mtime: only the 401 can tell. The
    // watch must be open first, or its request could see the file between write and touch.
    api.wait_for_watches(1);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    api.rotate_token("token-2");
    std::fs::write(&file, "token-2\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    api.drop_connections();
    api.put_node("node-d", "10.42.3.0/24", "198.51.100.4");
    wait(&mut src, "node-d with the new token", |s| {
        s.nodes.contains_key("node-d")
    });
    let reqs = api.requests();
    let rejected = reqs
        .iter()
        .position(|r| r.status == 401)
        .unwrap_or_else(|| {
            panic!(
                "no 401: {:#?}",
                reqs.iter()
                    .map(|r| (&r.target, &r.auth, r.status))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(reqs[rejected].auth, Auth::Bearer("token-1".into()));
    assert_eq!(reqs[rejected + 1].auth, Auth::Bearer("token-2".into()));
    assert_eq!(reqs[rejected + 1].status, 200);

    // A rotation that changes the file is picked up before any 401.
    let before = api.requests().len();
    api.rotate_token("token-3");
    std::fs::write(dir.join("new"), "token-3").unwrap();
    std::fs::rename(dir.join("new"), &file).unwrap();
    api.drop_connections();
    api.put_node("node-e", "10.42.4.0/24", "198.51.100.5");
    wait(&mut src, "node-e", |s| s.nodes.contains_key("node-e"));
    let after = &api.requests()[before..];
    assert!(after.iter().all(|r| r.status != 401), "{after:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn client_certificate_authentication() {
    let api = KubeApi::start(None);
    three_nodes(&api);
    let mut src = Source::kube(&config(&api, None, true), watch_config()).unwrap();
    wait(&mut src, "the list", has(&["node-a", "node-b", "node-c"]));
    assert!(api.requests().iter().all(|r| r.auth == Auth::ClientCert));

    // without any credential the server says 401 and the source reports it
    let mut anon = Source::kube(&config(&api, None, false), watch_config()).unwrap();
    let err = smol::block_on(anon.next()).unwrap_err();
    assert!(
        matches!(&err, SourceError::Api(ApiError::Status { code: 401, .. })),
        "{err}"
    );
    assert!(anon.current().nodes.is_empty());
}

#[test]
fn a_server_not_from_the_cluster_ca_is_refused() {
    let api = KubeApi::start(Some("t1"));
    three_nodes(&api);
    let mut cfg = config(&api, static_token("t1"), false);
    cfg.ca_pem = pki("other-ca.crt");
    let mut src = Source::kube(&cfg, watch_config()).unwrap();
    let err = smol::block_on(src.next()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, SourceError::Api(ApiError::Tls { .. })),
        "{text}"
    );
    assert!(text.contains("certificate"), "a clear message: {text}");
    assert!(src.current().nodes.is_empty());
    assert!(
        api.requests().is_empty(),
        "nothing was sent: {:?}",
        api.requests()
    );
    // a CA file that is not PEM is refused up front
    cfg.ca_pem = b"not a certificate".to_vec();
    assert!(Source::kube(&cfg, watch_config()).is_err());
}

/// `r` is a PATCH of `target` with this content type and body.
#[track_caller]
fn assert_patch(r: &Recorded, target: &str, content_type: &str, body: &str) {
    assert_eq!((r.method.as_str(), r.target.as_str()), ("PATCH", target));
    assert_eq!(r.content_type.as_deref(), Some(content_type));
    assert_eq!(r.body, body);
}

#[test]
fn patches_are_what_the_api_expects() {
    let api = KubeApi::start(Some("t1"));
    api.put_node("node-a", "10.42.0.0/24", "198.51.100.1");
    let client = Client::new(&config(&api, static_token("t1"), false)).unwrap();
    smol::block_on(async {
        publish::patch_node_annotations(
            &client,
            "node-a",
            &[
                ("lichen.dev/vtep-mac", Some("5a:94:0a:2a:00:00")),
                ("lichen.dev/public-ip", Some("198.51.100.1")),
            ],
        )
        .await
        .unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_730_625_267);
        publish::set_network_available(&client, "node-a", at)
            .await
            .unwrap();
        // a name that is not a DNS name never reaches the server
        assert!(publish::set_network_available(&client, "../x", at)
            .await
            .is_err());
    });
    // the server applied the merge patch, as the API does
    let node = api.node("node-a").unwrap();
    for member in [
        r#""lichen.dev/vtep-mac":"5a:94:0a:2a:00:00""#,
        r#""lichen.dev/public-ip":"198.51.100.1""#,
    ] {
        assert!(node.contains(member), "{node}");
    }
    let reqs = api.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_patch(
        &reqs[0],
        "/api/v1/nodes/node-a",
        "application/merge-patch+json",
        r#"{"metadata":{"annotations":{"lichen.dev/vtep-mac":"5a:94:0a:2a:00:00","lichen.dev/public-ip":"198.51.100.1"}}}"#,
    );
    assert_patch(
        &reqs[1],
        "/api/v1/nodes/node-a/status",
        "application/strategic-merge-patch+json",
        r#"{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"LichenIsUp","message":"Lichen has programmed this node's network","lastTransitionTime":"2024-11-03T09:14:27Z","lastHeartbeatTime":"2024-11-03T09:14:27Z"}]}}"#,
    );
    assert!(reqs
        .iter()
        .all(|r| r.auth == Auth::Bearer("t1".into()) && r.status == 200));
    // the bodies are JSON the parsers here accept
    for r in &reqs {
        lichen::k8s::json::outline(r.body.as_bytes(), 1 << 20, 8).unwrap();
    }
}
