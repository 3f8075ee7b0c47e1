//! The WireGuard side of a [`Cluster`]'s nodes: keys made with `wg genkey` / `wg pubkey`
//! (wireguard-tools, not Lichen's own key code) written to a key file per node and announced in
//! the node's Node object ([`Cluster::set_wg_key`]); each node's private mount namespace
//! ([`Cluster::isolate_mounts`]: wireguard-go's socket directory `/run/wireguard` is fixed, so
//! every node needs its own); `wg show <dev> dump` run on a node as its agent sees it, parsed
//! ([`WgDump`]); the processes left in a node's namespace.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;

/// The device the agent makes (backends/src/conf.rs `WG_DEVICE`).
pub const WG_DEVICE: &str = "lichen-wg";
/// The Node annotation with a node's public key (base64, as `wg pubkey` prints it).
pub const WG_KEY_ANNOTATION: &str = "lichen.dev/wireguard-public-key";
/// The Node annotation overriding a node's WireGuard endpoint (`ip:port`).
pub const WG_ENDPOINT_ANNOTATION: &str = "lichen.dev/wireguard-endpoint";
/// wireguard-go's socket directory (`/var/run/wireguard`; `/var/run` is a link to `/run`).
pub const WG_SOCKET_DIR: &str = "/run/wireguard";

/// Are wireguard-go and wg installed (and not under an emulator)? Prints why the test is
/// skipped when not.
pub fn wireguard_tools() -> bool {
    if testkit::skip_emulated("wireguard-go's TUN device through qemu-user") {
        return false;
    }
    let found = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = found("wireguard-go") && found("wg");
    if !ok {
        eprintln!(
            "SKIPPED: wireguard-go and wg are not installed \
             (Debian: apt-get install wireguard-go wireguard-tools; scripts/setup.sh does)"
        );
    }
    ok
}

/// A key pair as wireguard-tools makes it (base64 text, no newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgKey {
    pub private: String,
    pub public: String,
}

impl WgKey {
    /// `wg genkey`, and its `wg pubkey`.
    pub fn generate() -> WgKey {
        let out = Command::new("wg")
            .arg("genkey")
            .output()
            .expect("wg genkey");
        assert!(out.status.success(), "wg genkey failed");
        let private = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let public = wg_pubkey(&private);
        WgKey { private, public }
    }
}

/// `wg pubkey` of a private key (base64).
pub fn wg_pubkey(private: &str) -> String {
    let mut c = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg pubkey");
    writeln!(c.stdin.take().unwrap(), "{private}").unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "wg pubkey failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What `wg show <dev> dump` prints: the interface line, then one line per peer.
#[derive(Debug, Clone)]
pub struct WgDump {
    pub public_key: String,
    pub listen_port: u16,
    pub peers: Vec<WgPeerDump>,
}

/// One peer of a [`WgDump`]; `None` / 0 where wg prints `(none)` / `off`.
#[derive(Debug, Clone)]
pub struct WgPeerDump {
    pub public_key: String,
    pub preshared_key: Option<String>,
    pub endpoint: Option<String>,
    pub allowed_ips: Vec<String>,
    /// Seconds since the epoch; 0: never.
    pub latest_handshake: u64,
    pub rx: u64,
    pub tx: u64,
    pub keepalive: u16,
}

impl WgDump {
    /// Parses the dump's text; `None` when it is not one (e.g. empty).
    pub fn parse(text: &str) -> Option<WgDump> {
        let mut lines = text.lines().map(|l| l.split('\t').collect::<Vec<_>>());
        let dev = lines.next()?;
        let peers = lines
            .map(|f| WgPeerDump::parse(&f))
            .collect::<Option<_>>()?;
        Some(WgDump {
            public_key: dev.get(1)?.to_string(),
            listen_port: dev.get(2)?.parse().ok()?,
            peers,
        })
    }

    /// The peer with public key `key`.
    pub fn peer(&self, key: &str) -> Option<&WgPeerDump> {
        self.peers.iter().find(|p| p.public_key == key)
    }
}

impl WgPeerDump {
    fn parse(f: &[&str]) -> Option<WgPeerDump> {
        let none = |s: &str| (s != "(none)").then(|| s.to_owned());
        let allowed = match *f.get(3)? {
            "(none)" => Vec::new(),
            list => list.split(',').map(str::to_owned).collect(),
        };
        Some(WgPeerDump {
            public_key: f.first()?.to_string(),
            preshared_key: none(f.get(1)?),
            endpoint: none(f.get(2)?),
            allowed_ips: allowed,
            latest_handshake: f.get(4)?.parse().ok()?,
            rx: f.get(5)?.parse().ok()?,
            tx: f.get(6)?.parse().ok()?,
            keepalive: f.get(7)?.parse().unwrap_or(0),
        })
    }
}

impl Cluster {
    /// Gives every node without one a private mount namespace with its own `/run/wireguard`
    /// (before the agents start: they join it, and so does everything run on the node).
    pub fn isolate_mounts(&mut self) {
        for k in 0..self.nodes.len() {
            self.isolate_node_mounts(k);
        }
    }

    /// [`Cluster::isolate_mounts`] for node `k` alone.
    pub fn isolate_node_mounts(&mut self, k: usize) {
        let n = &mut self.nodes[k];
        if n.mounts.is_none() {
            let m = testkit::mounts::PrivateMounts::create(&n.ns, &[Path::new(WG_SOCKET_DIR)]);
            n.mounts = Some(m.expect("a private mount namespace"));
        }
    }

    /// `program` on node `k`: in its namespace and its private mount namespace (if it has one).
    pub fn node_command(&self, k: usize, program: &str) -> Command {
        let n = &self.nodes[k];
        let mut c = match &n.mounts {
            Some(m) => m.command(&n.ns, program),
            None => n.ns.command(program),
        }
        .unwrap();
        c.stdin(Stdio::null());
        c
    }

    /// `wg <args>` on node `k`: (stdout + stderr, success).
    pub fn wg(&self, k: usize, args: &[&str]) -> (String, bool) {
        let out = self.node_command(k, "wg").args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (text, out.status.success())
    }

    /// `wg show lichen-wg dump` on node `k`, parsed; `None` while there is no such device.
    pub fn wg_dump(&self, k: usize) -> Option<WgDump> {
        self.wg_dump_of(k, WG_DEVICE)
    }

    /// `wg show <dev> dump` on node `k`, parsed.
    pub fn wg_dump_of(&self, k: usize, dev: &str) -> Option<WgDump> {
        match self.wg(k, &["show", dev, "dump"]) {
            (text, true) => WgDump::parse(&text),
            _ => None,
        }
    }

    /// Node `k`'s key file (in the cluster dir).
    pub fn wg_key_file(&self, k: usize) -> PathBuf {
        self.dir.join(format!("{}-wg.key", self.nodes[k].name))
    }

    /// Points node `k`'s agent at its key file (`--wireguard-key-file`), whether it exists yet
    /// or not (a missing one the agent creates).
    pub fn use_wg_key_file(&mut self, k: usize) {
        let file = self.wg_key_file(k).display().to_string();
        let args = &mut self.nodes[k].args;
        if !args.iter().any(|a| a == "--wireguard-key-file") {
            args.extend(["--wireguard-key-file".to_owned(), file]);
        }
    }

    /// Writes `key` as node `k`'s key file (mode 0600, replaced by rename), passes it to its
    /// agent and sets the public key annotation of its Node; [`Cluster::publish`] it after.
    pub fn set_wg_key(&mut self, k: usize, key: &WgKey) {
        let file = self.wg_key_file(k);
        let tmp = file.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .unwrap();
        writeln!(f, "{}", key.private).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        self.use_wg_key_file(k);
        self.set_annotation(k, WG_KEY_ANNOTATION, &key.public);
    }

    /// A fresh key for every node ([`Cluster::set_wg_key`]), their Nodes published.
    pub fn give_wg_keys(&mut self) -> Vec<WgKey> {
        (0..self.nodes.len())
            .map(|k| {
                let key = WgKey::generate();
                self.set_wg_key(k, &key);
                self.publish(k);
                key
            })
            .collect()
    }

    /// Sets (or replaces) annotation `key` of node `k`'s Node; [`Cluster::publish`] it after.
    pub fn set_annotation(&mut self, k: usize, key: &str, value: &str) {
        let a = &mut self.nodes[k].annotations;
        a.retain(|(k, _)| k != key);
        a.push((key.to_owned(), value.to_owned()));
    }

    /// The processes in node `k`'s network namespace: (pid, command name).
    pub fn processes(&self, k: usize) -> Vec<(u32, String)> {
        testkit::mounts::netns_pids(&self.nodes[k].ns)
            .into_iter()
            .map(|p| (p, testkit::mounts::comm(p)))
            .collect()
    }

    /// The wireguard-go processes in node `k`'s network namespace.
    pub fn wireguard_go(&self, k: usize) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .processes(k)
            .into_iter()
            .filter(|(_, c)| c == "wireguard-go")
            .map(|(p, _)| p)
            .collect();
        v.sort();
        v
    }
}
