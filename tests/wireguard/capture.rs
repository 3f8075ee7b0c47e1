//! A capture of the underlay: tcpdump on every port of the switch namespace (`-i any`: each
//! node's switch port sees all that node sends and receives; a bridge's own device would miss
//! the frames it forwards between ports), written to a file and read back as text, and the
//! check of what it holds ([`Capture::check_only_wireguard`]).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use super::*;

/// A running tcpdump; [`Capture::stop`] ends it and reads what it caught.
pub struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Starts tcpdump on every interface of `ns` and returns once it listens.
    pub fn start(ns: &NamedNs, file: PathBuf) -> Capture {
        let mut child = ns
            .command("tcpdump")
            .unwrap()
            .args(["-i", "any", "-nn", "-U", "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump (Debian: apt-get install tcpdump; scripts/setup.sh does)");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("listening on") {
            line.clear();
            let n = err.read_line(&mut line).unwrap();
            assert!(n > 0, "tcpdump ended before listening: {line}");
        }
        // tcpdump's last words (the packet counts) go to the pipe, read by nobody: it stays
        // far below a pipe's capacity.
        std::mem::forget(err);
        Capture { child, file }
    }

    /// Ends tcpdump (SIGINT: it flushes its file) and returns the packets, one text line each
    /// (`tcpdump -nn -r`).
    pub fn stop(mut self) -> Vec<String> {
        // SAFETY: kill has no memory effects; the pid is our child's.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        self.child.wait().unwrap();
        let out = std::process::Command::new("tcpdump")
            .args(["-nn", "-r"])
            .arg(&self.file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tcpdump -r: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_file(&self.file);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What [`classify`] made of a captured line.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// UDP between two node addresses, one end on the WireGuard port.
    WireGuard,
    /// ARP, IGMP to link-local multicast, or IPv6 link-local control traffic (neighbour
    /// discovery, MLD): no pod packet.
    Control,
    /// Anything else: a pod packet in clear, or traffic that should not be there.
    Other,
}

/// Sorts one `tcpdump -nn` line: `nodes` are the node addresses, `port` WireGuard's.
pub fn classify(line: &str, nodes: &[String], port: u16) -> Seen {
    if line.contains(" ARP") {
        return Seen::Control;
    }
    if let Some(rest) = line.split_once(" IP6 ").map(|(_, r)| r) {
        let link_local = rest.starts_with("fe80:") || rest.starts_with(":: >");
        return match link_local && rest.contains("ICMP6") {
            true => Seen::Control,
            false => Seen::Other,
        };
    }
    let Some((_, rest)) = line.split_once(" IP ") else {
        return Seen::Other;
    };
    // The switch's own multicast membership reports (its bridge, from 0.0.0.0).
    if rest.contains(" > 224.0.0.") && rest.contains(": igmp ") {
        return Seen::Control;
    }
    // `198.51.100.11.51820 > 198.51.100.12.51820: UDP, length 148`
    let Some((ends, what)) = rest.split_once(": ") else {
        return Seen::Other;
    };
    let Some((src, dst)) = ends.split_once(" > ") else {
        return Seen::Other;
    };
    let split = |e: &str| {
        e.rsplit_once('.')
            .map(|(a, p)| (a.to_owned(), p.to_owned()))
    };
    let (Some((sa, sp)), Some((da, dp))) = (split(src), split(dst)) else {
        return Seen::Other;
    };
    let port = port.to_string();
    let between_nodes = nodes.contains(&sa) && nodes.contains(&da);
    if what.starts_with("UDP") && between_nodes && (sp == port || dp == port) {
        Seen::WireGuard
    } else {
        Seen::Other
    }
}

/// Asserts that `lines` hold nothing but WireGuard between `nodes` (and link control traffic),
/// no address of the pod network (10.100.0.0/16) in clear, and at least `min` WireGuard
/// packets; returns how many.
pub fn check_only_wireguard(lines: &[String], nodes: &[String], min: usize) -> usize {
    let mut wireguard = 0;
    let mut other = Vec::new();
    for l in lines {
        let pod_in_clear = l.contains(" 10.100.");
        match classify(l, nodes, PORT) {
            Seen::WireGuard if !pod_in_clear => wireguard += 1,
            Seen::Control if !pod_in_clear => {}
            _ => other.push(l.as_str()),
        }
    }
    assert!(
        other.is_empty(),
        "{} packets on the underlay that are not WireGuard between nodes, e.g.:\n{}",
        other.len(),
        other[..other.len().min(20)].join("\n")
    );
    assert!(
        wireguard >= min,
        "only {wireguard} WireGuard packets captured (of {}), expected at least {min}",
        lines.len()
    );
    wireguard
}

#[test]
fn classify_sorts_captured_lines() {
    let nodes = vec!["198.51.100.11".to_owned(), "198.51.100.12".to_owned()];
    let c = |l: &str| classify(l, &nodes, PORT);
    let wg =
        "12:00:00.000001 p1    In  IP 198.51.100.11.51820 > 198.51.100.12.51820: UDP, length 148";
    assert_eq!(c(wg), Seen::WireGuard);
    let clear = "12:00:00.000001 p1    In  IP 10.100.1.2 > 10.100.2.2: ICMP echo request, id 1, seq 1, length 64";
    assert_eq!(c(clear), Seen::Other);
    let vxlan = "12:00:00.000001 p1    In  IP 198.51.100.11.40000 > 198.51.100.12.8472: OTV, flags [I] (0x08), overlay 0, instance 1";
    assert_eq!(c(vxlan), Seen::Other);
    let stranger =
        "12:00:00.000001 p1    In  IP 198.51.100.99.51820 > 198.51.100.12.51820: UDP, length 148";
    assert_eq!(c(stranger), Seen::Other);
    let arp = "12:00:00.000001 p1    In  ARP, Request who-has 198.51.100.12 tell 198.51.100.11, length 28";
    assert_eq!(c(arp), Seen::Control);
    let nd =
        "12:00:00.000001 p1    In  IP6 fe80::1 > ff02::2: ICMP6, router solicitation, length 16";
    assert_eq!(c(nd), Seen::Control);
    let igmp =
        "18:52:43.934634 ?     Out IP 0.0.0.0 > 224.0.0.22: igmp v3 report, 1 group record(s)";
    assert_eq!(c(igmp), Seen::Control);
    let v6 = "12:00:00.000001 p1    In  IP6 2001:db8::1.5001 > 2001:db8::2.5001: UDP, length 8";
    assert_eq!(c(v6), Seen::Other);
}
