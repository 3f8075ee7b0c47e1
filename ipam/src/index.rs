//! The per-attachment index: one small file per attachment listing the addresses lichen leased
//! to it, so release and lookup read a handful of files instead of every lease.
//!
//! File name: the container ID and the ifname, each escaped (bytes outside `[A-Za-z0-9_.-]`
//! become `%XX`), joined by '@'. An escaped name is never "." or ".." and never parses as an
//! address; a name longer than 255 bytes is not indexed (that attachment is always scanned).
//!
//! Content: a header line, then one address per line. host-local walks the network directory
//! recursively and reads every file, comparing its trimmed content with `"<id>\r\n<ifname>"` or
//! `"<id>"`; the header (spaces, '#', and a newline) can never equal a container ID, and the
//! file name never parses as an address, so host-local neither deletes nor reports these files.

use std::net::IpAddr;

const HEADER: &str = "# lichen-ipam attachment index v1\n";

/// The index file name of an attachment, `None` when too long to be a file name.
pub(crate) fn key(container_id: &str, ifname: &str) -> Option<String> {
    let name = format!("{}@{}", escape(container_id.trim()), escape(ifname));
    (name.len() <= 255).then_some(name)
}

/// The attachment an index file name stands for; `None` for a name [`key`] does not produce.
pub(crate) fn parse_key(name: &str) -> Option<(String, String)> {
    let (c, i) = name.split_once('@')?;
    let (c, i) = (unescape(c)?, unescape(i)?);
    (key(&c, &i).as_deref() == Some(name)).then_some((c, i))
}

pub(crate) fn encode(ips: &[IpAddr]) -> String {
    let mut s = String::from(HEADER);
    for ip in ips {
        s.push_str(&ip.to_string());
        s.push('\n');
    }
    s
}

/// What to append to an index whose current bytes are `existing` to list `ip` as well: the
/// whole text when it is empty, a line otherwise (after a newline if the last line is torn).
pub(crate) fn append_text(existing: &[u8], ip: IpAddr) -> String {
    match existing.last() {
        None => encode(&[ip]),
        Some(b'\n') => format!("{ip}\n"),
        Some(_) => format!("\n{ip}\n"),
    }
}

/// The addresses listed; lines that are not addresses (the header) are skipped.
pub(crate) fn decode(bytes: &[u8]) -> Vec<IpAddr> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_never_addresses_or_dots() {
        for (c, i) in [
            ("abc123", "eth0"),
            ("a@b", "c"),
            ("a", "b@c"),
            ("..", ""),
            ("x/y", "net1"),
            ("é", "%"),
        ] {
            let k = key(c, i).unwrap();
            assert!(!k.contains('/') && k != "." && k != "..", "{k}");
            assert!(k.parse::<IpAddr>().is_err());
            assert_eq!(parse_key(&k), Some((c.to_string(), i.to_string())), "{k}");
        }
        assert_ne!(key("a@b", "c"), key("a", "b@c"));
        assert_eq!(key(&"x".repeat(300), "eth0"), None);
        assert_eq!(parse_key("no-separator"), None);
        assert_eq!(parse_key("a%2@b"), None);
    }

    #[test]
    fn content_round_trips_and_never_looks_like_a_lease() {
        let ips: Vec<IpAddr> = vec!["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        let text = encode(&ips);
        assert_eq!(decode(text.as_bytes()), ips);
        assert!(text.trim().contains(' '));
    }

    #[test]
    fn appending_keeps_one_address_per_line() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut text = String::new();
        for (k, add) in ["10.0.0.2", "10.0.0.3"].into_iter().enumerate() {
            text.push_str(&append_text(text.as_bytes(), ip(add)));
            assert_eq!(decode(text.as_bytes()).len(), k + 1);
        }
        assert!(text.starts_with(HEADER));
        // A torn last line (a crash mid-append) is fenced off, not glued to the next one.
        text.push_str("10.0.");
        text.push_str(&append_text(text.as_bytes(), ip("fd00::4")));
        assert_eq!(
            decode(text.as_bytes()),
            [ip("10.0.0.2"), ip("10.0.0.3"), ip("fd00::4")]
        );
    }
}
