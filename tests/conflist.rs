//! The shipped conflist, `conf/10-lichen.conflist`, run as libcni runs a conflist: each plugin's
//! config is its element of `plugins` with the list's `name` and `cniVersion` added, and a
//! `runtimeConfig` holding only the capabilities it declares; ADD in order, each given the
//! previous result; DEL in reverse with the final one. The chained plugins are Debian's reference
//! ones, as the node's runtime would find them. Only the file's two host paths (the subnet file
//! and the IPAM data dir) are pointed at this test's node; everything else is the file as shipped.

mod common;

use std::path::{Path, PathBuf};

use common::probe::{self, Proto};
use common::*;
use lichen::cni::json::{self, Object};

const SHIPPED: &str = include_str!("../conf/10-lichen.conflist");

/// One plugin of the list: its binary and its config as libcni builds it (prevResult aside).
struct Plugin {
    bin: PathBuf,
    conf: String,
}

/// The plugins of `conflist` as libcni would run them, with `runtime` (JSON members per
/// capability name, e.g. `"portMappings":[…]`) given to the plugins that declare them.
fn libcni_plugins(conflist: &str, runtime: &[(&str, &str)]) -> Vec<Plugin> {
    let top = Object::parse("", conflist.as_bytes(), lichen::cni::Code::InvalidConfig).unwrap();
    let name = top.text("name").unwrap().unwrap();
    let version = top.text("cniVersion").unwrap().unwrap();
    json::array(top.raw("plugins").unwrap())
        .unwrap()
        .into_iter()
        .map(|raw| {
            let plugin = Object::parse("p", raw, lichen::cni::Code::InvalidConfig).unwrap();
            let ty = plugin.text("type").unwrap().unwrap();
            let caps: Vec<&str> = runtime
                .iter()
                .filter(|(cap, _)| {
                    plugin
                        .object("capabilities")
                        .unwrap()
                        .is_some_and(|c| c.raw(cap).is_some_and(|v| v == b"true"))
                })
                .map(|(_, members)| *members)
                .collect();
            let mut conf = extend(
                std::str::from_utf8(raw).unwrap(),
                &format!(r#""name":"{name}","cniVersion":"{version}""#),
            );
            if !caps.is_empty() {
                conf = extend(&conf, &format!(r#""runtimeConfig":{{{}}}"#, caps.join(",")));
            }
            let bin = if ty == "lichen" {
                PathBuf::from(BIN)
            } else {
                Path::new(REF_PLUGINS).join(&ty)
            };
            Plugin { bin, conf }
        })
        .collect()
}

fn with_prev(conf: &str, prev: Option<&str>) -> String {
    match prev {
        Some(p) => extend(conf, &format!("\"prevResult\":{}", p.trim())),
        None => conf.to_owned(),
    }
}

fn run_chain(
    node: &Node,
    plugins: &[Plugin],
    verb: &str,
    id: &str,
    netns: &Path,
    prev: Option<&str>,
) -> String {
    let mut prev = prev.map(str::to_owned);
    let order: Vec<&Plugin> = if verb == "DEL" {
        plugins.iter().rev().collect()
    } else {
        plugins.iter().collect()
    };
    for p in order {
        let a = node.run(
            &p.bin,
            verb,
            id,
            Some(netns),
            "eth0",
            &with_prev(&p.conf, prev.as_deref()),
            vec![],
        );
        assert!(
            a.ok,
            "{verb} {}: {} {}",
            p.bin.display(),
            a.stdout,
            a.stderr
        );
        if verb == "ADD" {
            prev = Some(a.stdout);
        }
    }
    prev.unwrap_or_default()
}

/// The conflist as shipped says the result version containerd 1.6/1.7 can read.
fn assert_shipped_version() {
    let version = Object::parse("", SHIPPED.as_bytes(), lichen::cni::Code::InvalidConfig)
        .unwrap()
        .text("cniVersion")
        .unwrap()
        .unwrap();
    assert_eq!(
        version, "1.0.0",
        "containerd 1.6/1.7 (libcni 1.1) fail every ADD of a newer result version"
    );
}

/// The shipped conflist with the node's host paths (its subnet file, written here, and its
/// IPAM data dir).
fn node_conflist(node: &Node) -> String {
    let subnet_file = node.dir.join("subnet.env");
    std::fs::write(
        &subnet_file,
        "LICHEN_NETWORK=10.85.0.0/16\nLICHEN_SUBNET=10.85.3.1/24\nLICHEN_MTU=1450\nLICHEN_IPMASQ=true\n",
    )
    .unwrap();
    let conflist = SHIPPED
        .replace("/run/lichen/subnet.env", subnet_file.to_str().unwrap())
        .replace("/var/lib/cni/networks", node.data_dir().to_str().unwrap());
    assert_eq!(
        conflist.matches(node.dir.to_str().unwrap()).count(),
        2,
        "both paths pointed"
    );
    conflist
}

/// The lease files of the list's network.
fn leases(node: &Node) -> Vec<String> {
    std::fs::read_dir(node.data_dir().join("lichen"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Bridge mode: hairpin on the pod's bridge port (the shipped file turns it on); routed mode
/// (the shipped file's on a fresh node): no bridge, the node routes the pod's packets back to
/// it. portmap: an outside host reaches the pod through the node's host port, and the pod
/// reaches itself through its own host port; bandwidth shaped the host veth.
fn assert_chained_plugins_took_effect(
    node: &Node,
    client: &NamedNs,
    pod: &NamedNs,
    (veth, bridged): (&str, bool),
) {
    let port = node
        .ns
        .exec("ip", &["-d", "link", "show", "dev", veth])
        .unwrap();
    let port = String::from_utf8_lossy(&port.stdout);
    if bridged {
        assert!(
            port.contains("master lichen0") && port.contains("hairpin on"),
            "{port}"
        );
    } else {
        assert!(!port.contains(" master "), "routed: no bridge: {port}");
    }
    probe::serve(pod, &[80], &[]);
    assert!(
        probe::reach(&client.path, "198.51.100.1", 8080, Proto::Tcp),
        "client -> host port"
    );
    assert!(
        probe::reach(&pod.path, "198.51.100.1", 8080, Proto::Tcp),
        "the pod through its own host port (hairpin)"
    );
    let tc = node.ns.exec("tc", &["qdisc", "show", "dev", veth]).unwrap();
    assert!(String::from_utf8_lossy(&tc.stdout).contains("tbf"));
}

/// The shipped file leaves `mode` out: a fresh node routes its pods.
#[test]
fn the_shipped_conflist_with_portmap_bandwidth_and_hairpin() {
    testkit::require_root!();
    assert_shipped_version();
    assert!(!SHIPPED.contains("\"mode\""), "the node picks the mode");
    shipped_chain("shipped", None);
}

/// The shipped file in bridge mode (`lichen install --mode bridge` writes it so): hairpin on
/// the bridge port.
#[test]
fn the_shipped_conflist_in_bridge_mode() {
    testkit::require_root!();
    shipped_chain("shipbr", Some("bridge"));
}

fn shipped_chain(tag: &str, mode: Option<&str>) {
    let node = Node::new(tag);
    let client = node.client();
    let mut conflist = node_conflist(&node);
    if let Some(m) = mode {
        conflist = conflist.replacen(
            r#""type": "lichen","#,
            &format!(r#""type": "lichen", "mode": "{m}","#),
            1,
        );
        assert!(conflist.contains(r#""mode": "bridge""#), "{conflist}");
    }
    let plugins = libcni_plugins(
        &conflist,
        &[
            (
                "portMappings",
                r#""portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]"#,
            ),
            (
                "bandwidth",
                r#""bandwidth":{"ingressRate":100000000,"ingressBurst":1000000}"#,
            ),
            ("mac", r#""mac":"0e:00:5e:00:00:42""#),
        ],
    );
    let pod = node.pod("p");
    let result = run_chain(&node, &plugins, "ADD", "c1", &pod.path, None);
    let pod_ip = first_ip(&result);
    assert!(pod_ip.starts_with("10.85.3."), "{result}");
    assert_eq!(leases(&node), std::slice::from_ref(&pod_ip));
    // the mac capability (podman keeps a container's MAC across `network reload`)
    let eth0 = pod.ip(&["link", "show", "eth0"]).unwrap();
    assert!(eth0.contains("link/ether 0e:00:5e:00:00:42"), "{eth0}");
    let r = lichen::cni::CniResult::parse(result.as_bytes()).unwrap();
    // the host end comes just before the pod's interface (after the bridge, if any)
    let veth = r.interfaces[r.interfaces.len() - 2].name.clone();
    let bridged = mode == Some("bridge");
    assert_eq!(r.interfaces.len(), if bridged { 3 } else { 2 }, "{result}");
    assert_chained_plugins_took_effect(&node, &client, &pod, (&veth, bridged));

    run_chain(&node, &plugins, "DEL", "c1", &pod.path, Some(&result));
    let nat = node.ns.exec("iptables", &["-t", "nat", "-S"]).unwrap();
    let nat = String::from_utf8_lossy(&nat.stdout);
    assert!(!nat.contains("CNI-DN-"), "portmap rules left: {nat}");
    assert!(!node.links().contains(&veth), "{:?}", node.links());
    assert!(leases(&node).is_empty());
    // DEL again, as containerd does on stop and on remove: still fine
    run_chain(&node, &plugins, "DEL", "c1", &pod.path, Some(&result));
}
