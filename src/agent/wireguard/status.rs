//! The WireGuard section of `lichen status`, as text and as JSON (`/status?format=json`), and
//! its metrics.
//!
//! Text (after the peers):
//! ```text
//! wireguard: public key 3N1x…= (userspace, port 51820)
//!   node2                198.51.100.12:51820    handshake 4s ago, rx 1248 B, tx 1532 B
//!   node3                198.51.100.13:51820    handshake never, rx 0 B, tx 148 B
//! ```
//! The path reads `device not reached yet` until a pass reached the device; the endpoint is
//! where the device sends (roamed, or as set), `-` when it has none.
//!
//! `/status` and `/metrics` refresh the per-peer figures from the device at request time
//! ([`WgReport::refresh`]).
//!
//! JSON: `"wireguard": null` (another backend) or `{"publicKey", "path" ("kernel",
//! "userspace" or null), "listenPort", "peers": [{"node", "publicKey", "endpoint" (or null),
//! "latestHandshake" (RFC 3339, or null), "rxBytes", "txBytes"}]}`.
//!
//! Metrics, per peer node: `lichen_wireguard_peer_receive_bytes_total`,
//! `lichen_wireguard_peer_transmit_bytes_total`,
//! `lichen_wireguard_peer_latest_handshake_timestamp_seconds` (0 before the first).

use std::fmt::Write;
use std::time::SystemTime;

use std::path::Path;

use lichen_backends::WG_DEVICE;
use lichen_wireguard::genl::KernelWg;
use lichen_wireguard::uapi::{Uapi, SOCKET_DIR};
use lichen_wireguard::DeviceState;

use super::{WgPath, WgReport};
use crate::cni::json::Writer;

impl WgReport {
    /// The peers' endpoint, latest handshake and bytes read from the device now (on the
    /// path the last pass used); left as the last pass saw them if it does not answer.
    pub fn refresh(&mut self) {
        let state = match self.path {
            None => return,
            Some(WgPath::Userspace) => Uapi::new(Path::new(SOCKET_DIR), WG_DEVICE).get().ok(),
            Some(WgPath::Kernel) => KernelWg::open().and_then(|k| k.get(WG_DEVICE)).ok(),
        };
        if let Some(state) = state {
            self.update(&state);
        }
    }

    /// What `state` says of each peer.
    fn update(&mut self, state: &DeviceState) {
        for p in &mut self.peers {
            if let Some(have) = state.peer(&p.public_key) {
                p.endpoint = have.endpoint.or(p.endpoint);
                p.last_handshake = have.last_handshake;
                p.rx_bytes = have.rx_bytes;
                p.tx_bytes = have.tx_bytes;
            }
        }
    }

    /// The text section.
    pub fn render(&self, s: &mut String) {
        let path = self.path.map_or("device not reached yet", |p| p.as_str());
        let _ = writeln!(
            s,
            "wireguard: public key {} ({path}, port {})",
            self.public_key, self.listen_port
        );
        for p in &self.peers {
            let endpoint = p.endpoint.map_or_else(|| "-".to_owned(), |e| e.to_string());
            let _ = writeln!(
                s,
                "  {:<20} {endpoint:<22} handshake {}, rx {} B, tx {} B",
                p.node,
                age(p.last_handshake),
                p.rx_bytes,
                p.tx_bytes
            );
        }
    }

    /// The JSON object (the caller wrote its key).
    pub fn render_json(&self, w: &mut Writer) {
        w.begin_object();
        w.field_str("publicKey", &self.public_key.to_base64());
        w.key("path");
        match self.path {
            Some(p) => w.string(p.as_str()),
            None => w.null(),
        }
        w.key("listenPort");
        w.number(u64::from(self.listen_port));
        w.key("peers");
        w.begin_array();
        for p in &self.peers {
            w.begin_object();
            w.field_str("node", &p.node);
            w.field_str("publicKey", &p.public_key.to_base64());
            w.key("endpoint");
            match p.endpoint {
                Some(e) => w.string(&e.to_string()),
                None => w.null(),
            }
            w.key("latestHandshake");
            match p.last_handshake {
                Some(t) => w.string(&crate::rfc3339::format(t, false)),
                None => w.null(),
            }
            w.key("rxBytes");
            w.number(p.rx_bytes);
            w.key("txBytes");
            w.number(p.tx_bytes);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }

    /// The per-peer metrics (`label` escapes a label value).
    pub fn render_metrics(&self, s: &mut String, label: fn(&str) -> String) {
        let families = [
            (
                "receive_bytes_total",
                "counter",
                "Bytes received from the peer.",
            ),
            ("transmit_bytes_total", "counter", "Bytes sent to the peer."),
            (
                "latest_handshake_timestamp_seconds",
                "gauge",
                "Latest handshake with the peer (Unix time; 0: none yet).",
            ),
        ];
        for (i, (name, kind, help)) in families.into_iter().enumerate() {
            let name = format!("lichen_wireguard_peer_{name}");
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for p in &self.peers {
                let v = match i {
                    0 => p.rx_bytes,
                    1 => p.tx_bytes,
                    _ => p.last_handshake.map_or(0, unix_secs),
                };
                let _ = writeln!(s, "{name}{{peer=\"{}\"}} {v}", label(&p.node));
            }
        }
    }
}

/// `4s ago`, or `never`.
fn age(t: Option<SystemTime>) -> String {
    match t {
        None => "never".to_owned(),
        Some(t) => {
            let secs = t.elapsed().map_or(0, |d| d.as_secs());
            format!("{secs}s ago")
        }
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lichen_wireguard::Key;

    use super::super::WgPeerReport;
    use super::*;
    use crate::cni::json::{check, Object};
    use crate::cni::Code;

    fn report() -> WgReport {
        let peer = |n: u8, hs: Option<SystemTime>| WgPeerReport {
            node: format!("node{n}"),
            public_key: Key([n; 32]),
            endpoint: Some(format!("198.51.100.1{n}:51820").parse().unwrap()),
            last_handshake: hs,
            rx_bytes: 1248,
            tx_bytes: 1532,
        };
        WgReport {
            public_key: Key([1; 32]),
            path: Some(WgPath::Userspace),
            listen_port: 51820,
            peers: vec![
                peer(2, Some(SystemTime::now() - Duration::from_secs(4))),
                peer(3, None),
            ],
        }
    }

    #[test]
    fn a_refresh_takes_the_device_figures_of_wanted_peers_only() {
        let mut r = report();
        let mut state = DeviceState::default();
        let mut p2 = r.peers[0].clone();
        p2.rx_bytes = 5 << 20;
        let roamed = "203.0.113.7:40001".parse().ok();
        state.peers.push(lichen_wireguard::PeerState {
            public_key: p2.public_key,
            preshared_key: None,
            endpoint: roamed,
            allowed_ips: vec![],
            last_handshake: None,
            rx_bytes: 5 << 20,
            tx_bytes: 7,
            persistent_keepalive: 0,
        });
        let mut stranger = state.peers[0].clone();
        stranger.public_key = Key([9; 32]);
        state.peers.push(stranger);
        r.update(&state);
        let p = &r.peers[0];
        assert_eq!((p.endpoint, p.rx_bytes, p.tx_bytes), (roamed, 5 << 20, 7));
        assert_eq!(p.last_handshake, None);
        assert_eq!(
            r.peers[1],
            report().peers[1],
            "node3: not on the device, unchanged"
        );
        assert_eq!(r.peers.len(), 2);
    }

    #[test]
    fn text_json_and_metrics_say_the_same() {
        let r = report();
        let mut text = String::new();
        r.render(&mut text);
        let key = Key([1; 32]).to_base64();
        assert!(
            text.starts_with(&format!(
                "wireguard: public key {key} (userspace, port 51820)\n"
            )),
            "{text}"
        );
        let line = text.lines().nth(1).unwrap();
        assert!(line.starts_with("  node2 "), "{line}");
        assert!(line.contains(" 198.51.100.12:51820 "), "{line}");
        assert!(
            line.contains("handshake 4s ago, rx 1248 B, tx 1532 B"),
            "{line}"
        );
        assert!(
            text.lines().nth(2).unwrap().contains("handshake never"),
            "{text}"
        );

        let mut w = Writer::new();
        r.render_json(&mut w);
        let json = w.finish();
        check(json.as_bytes(), "wireguard").unwrap();
        let top = Object::parse("", json.as_bytes(), Code::Decode).unwrap();
        assert_eq!(top.text("publicKey").unwrap(), Some(key));
        assert_eq!(top.text("path").unwrap().as_deref(), Some("userspace"));
        let peers = crate::cni::json::array(top.raw("peers").unwrap()).unwrap();
        let p3 = Object::parse("p", peers[1], Code::Decode).unwrap();
        assert_eq!(p3.text("node").unwrap().as_deref(), Some("node3"));
        assert_eq!(p3.raw("latestHandshake"), Some(&b"null"[..]));
        assert_eq!(p3.get::<u64>("rxBytes", "").unwrap(), Some(1248));

        let mut m = String::new();
        r.render_metrics(&mut m, |v| v.to_owned());
        assert!(m.contains("lichen_wireguard_peer_receive_bytes_total{peer=\"node2\"} 1248\n"));
        assert!(m.contains("lichen_wireguard_peer_transmit_bytes_total{peer=\"node3\"} 1532\n"));
        assert!(m.contains(
            "lichen_wireguard_peer_latest_handshake_timestamp_seconds{peer=\"node3\"} 0\n"
        ));
    }
}
