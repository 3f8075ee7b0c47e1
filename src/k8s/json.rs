//! JSON input handling for Kubernetes documents, around serde-json-core's gaps.
//!
//! serde-json-core has no recursion limit and no generic value type, so before any document is
//! deserialized it is walked once here, without recursion: the walk enforces the size and depth
//! caps and returns the document's outline (the top-level `kind` and, for lists, the byte range
//! of every element of `items`). A list is then parsed one item at a time, and the caller picks
//! the typed parser for each item from its kind.
//!
//! Strings are unescaped with a buffer as long as the document: serde-json-core unescapes every
//! string that contains a backslash (ignored ones and keys included) into that one buffer, and an
//! unescaped string is never longer than its escaped form, so the buffer always fits.

use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use super::ParseError;

/// The largest single object accepted (k3s Nodes are 10–30 KiB; managedFields grow them).
pub const MAX_OBJECT_BYTES: usize = 4 << 20;
/// The largest list document accepted (each item is still capped at `MAX_OBJECT_BYTES`).
pub const MAX_LIST_BYTES: usize = 64 << 20;
/// The deepest nesting accepted in one object (managedFields' fieldsV1 nest ~10 levels).
pub const MAX_DEPTH: usize = 64;

/// What the structural walk found at the top level of a document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outline {
    /// The top-level `kind` (unescaped), if present and a string.
    pub kind: Option<String>,
    /// The byte ranges of the objects in a top-level `items` array, if present.
    pub items: Option<Vec<Range<usize>>>,
}

/// Checks `bytes` against the caps and returns its outline. Does not validate the JSON fully:
/// the typed parse that follows does.
pub fn outline(bytes: &[u8], max_len: usize, max_depth: usize) -> Result<Outline, ParseError> {
    if bytes.len() > max_len {
        return Err(ParseError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let mut walk = OutlineWalk::default();
    for tok in Tokens::new(bytes) {
        match tok {
            Tok::Open(pos, c) => walk.open(bytes, pos, c, max_depth)?,
            Tok::Close(pos) => walk.close(pos),
            Tok::Str(range) => walk.string(bytes, range)?,
            Tok::Colon => {
                if walk.depth == 1 {
                    walk.key = walk.last_str.take();
                }
            }
            Tok::Comma => {
                walk.key = None;
                walk.last_str = None;
            }
        }
    }
    Ok(walk.out)
}

/// [`outline`]'s state between tokens.
#[derive(Default)]
struct OutlineWalk {
    out: Outline,
    depth: usize,
    /// The last string seen at depth 1.
    last_str: Option<Range<usize>>,
    /// That string, once a ':' followed it (it is then a key).
    key: Option<Range<usize>>,
    /// Where the `items` element being walked began.
    item_start: Option<usize>,
    /// Inside the top-level `items` array.
    in_items: bool,
}

impl OutlineWalk {
    /// `{` or `[` (`c`) at `pos`.
    fn open(
        &mut self,
        bytes: &[u8],
        pos: usize,
        c: u8,
        max_depth: usize,
    ) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > max_depth {
            return Err(ParseError::TooDeep { max: max_depth });
        }
        if self.depth == 2 && c == b'[' && key_is(bytes, &self.key, b"items") {
            self.in_items = true;
            self.out.items = Some(Vec::new());
        }
        if self.depth == 3 && self.in_items && c == b'{' {
            self.item_start = Some(pos);
        }
        self.key = None;
        Ok(())
    }

    /// `}` or `]` at `pos`.
    fn close(&mut self, pos: usize) {
        if self.depth == 3 && self.in_items {
            if let (Some(start), Some(items)) = (self.item_start.take(), self.out.items.as_mut()) {
                items.push(start..pos + 1);
            }
        }
        if self.depth == 2 {
            self.in_items = false;
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// A string (`range` without its quotes).
    fn string(&mut self, bytes: &[u8], range: Range<usize>) -> Result<(), ParseError> {
        if self.depth == 1 {
            if key_is(bytes, &self.key, b"kind") {
                self.out.kind = Some(unescape_str(&bytes[range.start - 1..range.end + 1])?);
            }
            self.last_str = Some(range);
        }
        self.key = None;
        Ok(())
    }
}

fn key_is(bytes: &[u8], key: &Option<Range<usize>>, name: &[u8]) -> bool {
    key.as_ref().is_some_and(|k| &bytes[k.clone()] == name)
}

/// Unescapes one JSON string literal (quotes included).
fn unescape_str(literal: &[u8]) -> Result<String, ParseError> {
    let mut buf = vec![0u8; literal.len()];
    let (s, _) = serde_json_core::from_slice_escaped::<String>(literal, &mut buf)?;
    Ok(s)
}

/// Deserializes one object after checking the object caps; strings are unescaped.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ParseError> {
    outline(bytes, MAX_OBJECT_BYTES, MAX_DEPTH)?;
    from_json_unchecked(bytes)
}

/// Deserializes a document whose caps the caller has already checked.
pub(crate) fn from_json_unchecked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ParseError> {
    let mut buf = vec![0u8; bytes.len()];
    let (value, _) = serde_json_core::from_slice_escaped(bytes, &mut buf)?;
    Ok(value)
}

/// The byte ranges of the values of top-level members `keys` (a string value's range includes
/// its quotes), after checking the caps. Only containers and strings are found (scalars such as
/// numbers are not tokens of the walk).
pub fn members(
    bytes: &[u8],
    keys: &[&str],
    max_len: usize,
    max_depth: usize,
) -> Result<Vec<Option<Range<usize>>>, ParseError> {
    outline(bytes, max_len, max_depth)?;
    let mut found = vec![None; keys.len()];
    let mut depth = 0usize;
    let mut last_str: Option<Range<usize>> = None;
    // The key of the top-level member whose value is being read, and where that value began.
    let mut key: Option<Range<usize>> = None;
    let mut start: Option<usize> = None;
    let mut slot = |key: &Option<Range<usize>>, range: Range<usize>| {
        if let Some(i) = keys.iter().position(|k| key_is(bytes, key, k.as_bytes())) {
            found[i] = Some(range);
        }
    };
    for tok in Tokens::new(bytes) {
        match tok {
            Tok::Open(pos, _) => {
                depth += 1;
                if depth == 2 {
                    start = Some(pos);
                }
            }
            Tok::Close(pos) => {
                if depth == 2 {
                    if let Some(s) = start.take() {
                        slot(&key, s..pos + 1);
                    }
                    key = None;
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Str(range) => {
                if depth == 1 {
                    if key.is_some() {
                        slot(&key, range.start - 1..range.end + 1);
                        key = None;
                    } else {
                        last_str = Some(range);
                    }
                }
            }
            Tok::Colon => {
                if depth == 1 {
                    key = last_str.take();
                }
            }
            Tok::Comma => {
                if depth == 1 {
                    key = None;
                    last_str = None;
                }
            }
        }
    }
    Ok(found)
}

/// The structural tokens of a JSON text; scalars and whitespace are skipped.
enum Tok {
    Open(usize, u8),
    Close(usize),
    /// The content of a string literal, between its quotes (still escaped).
    Str(Range<usize>),
    Colon,
    Comma,
}

struct Tokens<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Tokens { bytes, pos: 0 }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        while let Some(&c) = self.bytes.get(self.pos) {
            let at = self.pos;
            self.pos += 1;
            match c {
                b'{' | b'[' => return Some(Tok::Open(at, c)),
                b'}' | b']' => return Some(Tok::Close(at)),
                b':' => return Some(Tok::Colon),
                b',' => return Some(Tok::Comma),
                b'"' => {
                    let start = self.pos;
                    while let Some(&s) = self.bytes.get(self.pos) {
                        match s {
                            b'\\' => self.pos += 2,
                            b'"' => {
                                self.pos += 1;
                                return Some(Tok::Str(start..self.pos - 1));
                            }
                            _ => self.pos += 1,
                        }
                    }
                    // Unterminated: the typed parse reports it.
                    return None;
                }
                _ => {}
            }
        }
        None
    }
}

/// A map key. serde-json-core's key deserializer supports `deserialize_str` but panics
/// (`unreachable!`) on `deserialize_string`, which `String`'s own impl calls.
pub(crate) struct Key(pub(crate) String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_finds_kind_and_items() {
        let doc = br#"{"apiVersion":"v1","items":[{"kind":"Node","a":[1,{"b":"]"}]}, {"x":"}"}],"kind":"List","metadata":{"kind":"nested"}}"#;
        let o = outline(doc, 1 << 20, 8).unwrap();
        assert_eq!(o.kind.as_deref(), Some("List"));
        let items = o.items.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            &doc[items[0].clone()],
            br#"{"kind":"Node","a":[1,{"b":"]"}]}"#
        );
        assert_eq!(&doc[items[1].clone()], br#"{"x":"}"}"#);
    }

    #[test]
    fn outline_ignores_kind_values_and_nested_keys() {
        let o = outline(
            br#"{"name":"kind","spec":{"kind":"X"},"kind":"N\u006fde"}"#,
            100,
            4,
        );
        assert_eq!(o.unwrap().kind.as_deref(), Some("Node"));
        let o = outline(br#"{"items":{"kind":"X"}}"#, 100, 4).unwrap();
        assert_eq!(o.kind, None);
        assert_eq!(o.items, None);
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        let o = outline(br#"{"a":"x\"}\\","kind":"Node"}"#, 100, 4).unwrap();
        assert_eq!(o.kind.as_deref(), Some("Node"));
    }

    #[test]
    fn members_finds_top_level_values() {
        let doc =
            br#"{"type":"ADDED","object":{"kind":"Node","type":"x","a":["}"]},"n":1,"s":"t"}"#;
        let m = members(doc, &["type", "object", "n", "s", "none"], 1 << 20, 8).unwrap();
        let text = |r: &Option<Range<usize>>| r.clone().map(|r| &doc[r]);
        assert_eq!(text(&m[0]), Some(&br#""ADDED""#[..]));
        assert_eq!(
            text(&m[1]),
            Some(&br#"{"kind":"Node","type":"x","a":["}"]}"#[..])
        );
        assert_eq!(text(&m[2]), None);
        assert_eq!(text(&m[3]), Some(&br#""t""#[..]));
        assert_eq!(text(&m[4]), None);
    }

    #[test]
    fn caps_are_enforced() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            outline(deep.as_bytes(), 1 << 20, MAX_DEPTH),
            Err(ParseError::TooDeep { max: MAX_DEPTH })
        );
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(outline(ok.as_bytes(), 1 << 20, MAX_DEPTH).is_ok());
        assert_eq!(
            outline(b"{}   ", 4, MAX_DEPTH),
            Err(ParseError::TooLarge { len: 5, max: 4 })
        );
    }
}
