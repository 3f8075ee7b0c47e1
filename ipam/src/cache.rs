//! The lease cache `.lichen/leases`: who holds each lease file, as last read, so that finding an
//! attachment's leases costs one `readdir` of the network directory instead of opening every
//! lease file. How it is used and why it is safe: see [`crate::disk`] ("The lease cache").
//!
//! ```text
//! # lichen-ipam lease cache v1 boot <boot_id>
//! <lease file name> <inode> <holder>
//! ...
//! # end <number of entries>
//! ```
//!
//! `<holder>` is the container ID and the ifname, each escaped as index file names are (so
//! neither holds a space), joined by one space. A text without its header, from another boot,
//! with a malformed line, or without the matching end line (torn) is not a cache at all.
//!
//! host-local reads this file too (its walk reads every file under the network directory): its
//! trimmed content holds spaces and '#', so it never equals a container ID, and its name never
//! parses as an address.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::index::{escape, unescape};

const HEADER: &str = "# lichen-ipam lease cache v1 boot ";
const END: &str = "# end ";
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The kernel's boot ID, read once per process; `None` if unreadable (then no cache is ever
/// trusted: every survey reads every lease file).
pub(crate) fn boot_id() -> Option<&'static str> {
    static ID: OnceLock<Option<String>> = OnceLock::new();
    ID.get_or_init(|| {
        let id = std::fs::read_to_string(BOOT_ID).ok()?;
        let id = id.trim();
        let plain = !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic());
        plain.then(|| id.to_string())
    })
    .as_deref()
}

/// The holder field of a lease: `"<escaped id> <escaped ifname>"`.
pub(crate) fn holder(container_id: &str, ifname: &str) -> String {
    format!("{} {}", escape(container_id), escape(ifname))
}

/// A holder field back to (container ID, ifname).
pub(crate) fn parse_holder(field: &str) -> Option<(String, String)> {
    let (cid, ifname) = field.split_once(' ')?;
    Some((unescape(cid)?, unescape(ifname)?))
}

/// One cached lease file: its inode when it was read, and its holder field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cached<'a> {
    pub ino: u64,
    pub holder: &'a str,
}

/// The entries of a cache written during boot `boot`, by file name; `None` for anything else.
pub(crate) fn parse<'a>(text: &'a str, boot: &str) -> Option<HashMap<&'a str, Cached<'a>>> {
    let last = text.strip_suffix('\n')?;
    let body = &text[..last.rfind('\n')? + 1];
    let (count, sum) = last[body.len()..].strip_prefix(END)?.split_once(' ')?;
    if sum != format!("{:016x}", checksum(body.as_bytes())) {
        return None;
    }
    let lines = body
        .strip_prefix(HEADER)?
        .strip_prefix(boot)?
        .strip_prefix('\n')?;
    let mut entries = HashMap::new();
    for line in lines.lines() {
        let mut fields = line.splitn(3, ' ');
        let (name, ino, holder) = (fields.next()?, fields.next()?, fields.next()?);
        if holder.matches(' ').count() != 1 {
            return None;
        }
        let cached = Cached {
            ino: ino.parse().ok()?,
            holder,
        };
        if entries.insert(name, cached).is_some() {
            return None;
        }
    }
    (count.parse() == Ok(entries.len())).then_some(entries)
}

/// A fast non-cryptographic checksum, to tell a torn file from a whole one: each step is a
/// bijection of the state for a given word, and injective in the word for a given state, so
/// two texts of one length that differ in a single word always differ here.
fn checksum(bytes: &[u8]) -> u64 {
    let step = |h: u64, w: u64| (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    let mut h = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h = step(h, u64::from_le_bytes(word));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    step(h, u64::from_le_bytes(tail))
}

/// Builds a cache text, entry by entry.
pub(crate) struct Writer {
    text: String,
    count: usize,
}

impl Writer {
    pub(crate) fn new(boot: &str) -> Writer {
        Writer {
            text: format!("{HEADER}{boot}\n"),
            count: 0,
        }
    }

    pub(crate) fn push(&mut self, name: &str, ino: u64, holder: &str) {
        self.text.push_str(name);
        self.text.push(' ');
        self.text.push_str(&ino.to_string());
        self.text.push(' ');
        self.text.push_str(holder);
        self.text.push('\n');
        self.count += 1;
    }

    pub(crate) fn finish(mut self) -> String {
        let sum = checksum(self.text.as_bytes());
        let end = format!("{END}{} {sum:016x}\n", self.count);
        self.text.push_str(&end);
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let mut w = Writer::new("b00t");
        w.push("10.0.0.2", 12, &holder("cid1", "eth0"));
        w.push("fd00::2", 13, &holder("odd id\r\n", ""));
        w.finish()
    }

    #[test]
    fn round_trips() {
        let text = sample();
        let entries = parse(&text, "b00t").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries["10.0.0.2"].ino, 12);
        assert_eq!(
            parse_holder(entries["10.0.0.2"].holder),
            Some(("cid1".into(), "eth0".into()))
        );
        assert_eq!(
            parse_holder(entries["fd00::2"].holder),
            Some(("odd id\r\n".into(), String::new()))
        );
        assert!(text.trim().contains(' ') && text.contains('#'));
        assert_eq!(parse(&Writer::new("b").finish(), "b").unwrap().len(), 0);
    }

    /// A cache text with the given body lines and a correct end line.
    fn sealed(lines: &[&str]) -> String {
        let mut w = Writer::new("b00t");
        w.text.extend(lines.iter().map(|l| format!("{l}\n")));
        w.count = lines.len();
        w.finish()
    }

    #[test]
    fn anything_but_a_whole_cache_of_this_boot_is_refused() {
        let text = sample();
        assert!(parse(&text, "other-boot").is_none());
        // Every proper prefix is torn (including the empty file).
        for cut in 0..text.len() {
            assert!(
                parse(&text[..cut], "b00t").is_none(),
                "prefix of {cut} bytes"
            );
        }
        // What an in-place overwrite cut short leaves: the new start, then the old rest.
        let mut older = Writer::new("b00t");
        for k in 0..40 {
            older.push(&format!("10.0.1.{k}"), k, &holder("c", "eth0"));
        }
        let older = older.finish();
        for cut in 1..text.len() {
            let mixed = format!("{}{}", &text[..cut], &older[cut..]);
            // Up to the first differing byte that is the old cache, whole (merely stale).
            assert!(
                mixed == older || parse(&mixed, "b00t").is_none(),
                "mixed at {cut}"
            );
        }
        // One changed byte, a wrong count, a line after the end.
        for bad in [
            text.replace(" 12 ", " 13 "),
            text.replace("# end 2", "# end 3"),
            format!("{text}extra\n"),
        ] {
            assert!(parse(&bad, "b00t").is_none(), "{bad:?}");
        }
        // Malformed lines, even under a matching checksum.
        assert!(parse(&sealed(&["10.0.0.2 12 a eth0"]), "b00t").is_some());
        for bad in [
            "10.0.0.2 x a eth0",
            "10.0.0.2 12 aeth0",
            "10.0.0.2 12 a b c",
            "10.0.0.2 12",
        ] {
            assert!(parse(&sealed(&[bad]), "b00t").is_none(), "{bad:?}");
        }
        let twice = ["10.0.0.2 12 a eth0", "10.0.0.2 13 b eth0"];
        assert!(parse(&sealed(&twice), "b00t").is_none());
    }

    #[test]
    fn the_boot_id_is_read() {
        let id = boot_id().expect("/proc/sys/kernel/random/boot_id");
        assert!(!id.contains(char::is_whitespace));
    }
}
