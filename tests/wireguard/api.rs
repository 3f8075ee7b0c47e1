//! API mode: the Nodes come from the test Kubernetes API server without any WireGuard key; each
//! agent creates its key file (mode 0600), publishes the public key on its own Node as
//! `lichen.dev/wireguard-public-key` (the key `wg pubkey` derives from the file), and the
//! others take the peer from there: pods talk across the nodes.

use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn agents_publish_their_keys_and_pods_talk_across_nodes() {
    testkit::require_root!();
    if !wireguard_tools() {
        return;
    }
    let mut c = Cluster::with_api("wgapi", 3, WIREGUARD);
    c.isolate_mounts();
    for k in 0..c.nodes.len() {
        c.use_wg_key_file(k);
    }
    c.start_agents();
    for k in 0..c.nodes.len() {
        let name = c.nodes[k].name.clone();
        wait_for(&format!("{name}'s key file"), WAIT, || {
            c.wg_key_file(k).exists()
        });
        let mode = std::fs::metadata(c.wg_key_file(k))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name}'s key file mode {mode:o}");
        let private = std::fs::read_to_string(c.wg_key_file(k)).unwrap();
        let public = wg_pubkey(private.trim());
        wait_for(&format!("{name}'s published key"), WAIT, || {
            published_key(&c, &name).as_deref() == Some(public.as_str())
        });
        // What the harness would have written in cluster-dir mode, for wait_programmed.
        c.set_annotation(k, WG_KEY_ANNOTATION, &public);
    }
    wait_all_programmed(&c);
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    full_mesh(&c, &pods);
}

/// The `lichen.dev/wireguard-public-key` annotation of Node `name` in the API server.
fn published_key(c: &Cluster, name: &str) -> Option<String> {
    let node = c.api().node(name)?;
    let key = format!("\"{WG_KEY_ANNOTATION}\":\"");
    let i = node.find(&key)? + key.len();
    Some(node[i..].split('"').next()?.to_owned())
}
