//! The integration tests' Lichen-specific fixtures, built on the test harness (crates/testkit,
//! re-exported here: namespaces, the test API server [`kube_api`], [`probe`]s, helpers): a node
//! namespace with its own IPAM data dir, pod namespaces, and the plugin binary invoked as a
//! runtime would ([`Node`]); a cluster of agents ([`cluster`]); raw invocations and config
//! mutations for the fuzz and crash tests. Every test makes its own namespaces (unique names)
//! and removes them on drop, also when it fails.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

#[allow(unused_imports)] // not every test uses every helper
pub use testkit::{error_code, extend, kube_api, links, probe, Answer, Invocation, NamedNs};

pub const BIN: &str = env!("CARGO_BIN_EXE_lichen");
pub const REF_PLUGINS: &str = "/usr/lib/cni";

/// Fails early (with a clear message) when not root: a fixture that needs namespaces was built
/// in a test that did not start with `testkit::require_root!()` (which skips it instead).
pub fn require_root() {
    assert!(
        testkit::is_root(),
        "the integration tests need root (network namespaces); run them as README.md says"
    );
}

pub struct Node {
    pub ns: NamedNs,
    pub dir: PathBuf,
    pub network: String,
}

impl Node {
    pub fn new(tag: &str) -> Node {
        require_root();
        let ns = NamedNs::create(&testkit::unique_name("lt", tag)).expect("node netns");
        let dir = std::env::temp_dir().join(format!("{}-data", ns.name));
        fs::create_dir_all(&dir).unwrap();
        Node {
            ns,
            dir,
            network: format!("net-{tag}"),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("ipam")
    }

    pub fn lease_dir(&self) -> PathBuf {
        self.data_dir().join(&self.network)
    }

    /// The lease files (file names that parse as IP addresses), sorted.
    pub fn leases(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.lease_dir())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// A config for `lichen` with the given version and IPAM range.
    pub fn conf(&self, version: &str, subnet: &str) -> String {
        format!(
            r#"{{"cniVersion":"{version}","name":"{}","type":"lichen","mode":"bridge","bridge":"lbr0","ipam":{{"ranges":[[{{"subnet":"{subnet}"}}]],"dataDir":"{}"}}}}"#,
            self.network,
            self.data_dir().display()
        )
    }

    /// An outside host: a namespace whose `eth0` (198.51.100.2/24) is wired to the node's
    /// `uplink` (198.51.100.1/24).
    pub fn client(&self) -> NamedNs {
        let client = NamedNs::create(&testkit::unique_name("lt", "client")).unwrap();
        testkit::veth(
            &self.ns,
            "uplink",
            "198.51.100.1/24",
            &client,
            "eth0",
            "198.51.100.2/24",
        )
        .unwrap();
        client
    }

    pub fn pod(&self, tag: &str) -> NamedNs {
        NamedNs::create(&testkit::unique_name("lt", tag)).expect("pod netns")
    }

    pub fn cni(
        &self,
        command: &str,
        id: &str,
        netns: Option<&Path>,
        ifname: &str,
        conf: &str,
    ) -> Answer {
        self.cni_env(command, id, netns, ifname, conf, vec![])
    }

    pub fn cni_env(
        &self,
        command: &str,
        id: &str,
        netns: Option<&Path>,
        ifname: &str,
        conf: &str,
        extra_env: Vec<(&str, &str)>,
    ) -> Answer {
        self.run(Path::new(BIN), command, id, netns, ifname, conf, extra_env)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        bin: &Path,
        command: &str,
        id: &str,
        netns: Option<&Path>,
        ifname: &str,
        conf: &str,
        extra_env: Vec<(&str, &str)>,
    ) -> Answer {
        let cni_path = format!("{}:{REF_PLUGINS}", self.dir.join("bin").display());
        testkit::invoke(
            bin,
            &self.ns,
            &Invocation {
                command,
                container_id: id,
                netns,
                ifname,
                config: conf,
                cni_path: &cni_path,
                extra_env,
            },
        )
        .expect("spawn plugin")
    }

    /// Link names in the node namespace.
    pub fn links(&self) -> Vec<String> {
        links(&self.ns)
    }

    /// The node links the plugin makes with [`Node::conf`]: the bridge `lbr0` and the host
    /// veth ends (`lic…`). Compare these, never the whole list: the kernel adds links of its
    /// own to a namespace (e.g. `sit0`, `tunl0` when a tunnel module loads).
    pub fn plugin_links(&self) -> Vec<String> {
        let mut v = self.links();
        v.retain(|l| l == "lbr0" || l.starts_with("lic"));
        v
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The first IPv4 address in a result, e.g. "10.1.0.2".
pub fn first_ip(result: &str) -> String {
    let r = lichen::cni::CniResult::parse(result.as_bytes()).expect("a readable result");
    r.ips[0].address.addr().to_string()
}

pub mod cluster;
pub mod mutate;
pub mod raw;
pub mod reach;
