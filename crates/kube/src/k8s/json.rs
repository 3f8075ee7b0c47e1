//! JSON input handling for Kubernetes documents, around serde-json-core's gaps.
//!
//! serde-json-core has no recursion limit and no generic value type, so before any document is
//! deserialized it is checked once by Lichen's one JSON syntax layer, [`lichen_parse::json`]
//! (strict syntax, the depth cap given as its limit), after the size cap here; the document's
//! outline is then read from it (the top-level `kind` and, for lists, the byte range of every
//! object in `items`). A list is parsed one item at a time, and the caller picks the typed
//! parser for each item from its kind. A syntax error is reported as the nearest
//! serde-json-core error ([`ParseError::Json`]).
//!
//! Strings are unescaped with a buffer as long as the document: serde-json-core unescapes every
//! string that contains a backslash (ignored ones and keys included) into that one buffer, and an
//! unescaped string is never longer than its escaped form, so the buffer always fits.

use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json_core::de::Error as JsonError;

use lichen_parse::json::{self as syntax, Fault, RawMember, SyntaxError};

use super::ParseError;

/// The largest single object accepted (k3s Nodes are 10–30 KiB; managedFields grow them).
pub const MAX_OBJECT_BYTES: usize = 4 << 20;
/// The largest list document accepted (each item is still capped at `MAX_OBJECT_BYTES`).
pub const MAX_LIST_BYTES: usize = 64 << 20;
/// The deepest nesting accepted in one object (managedFields' fieldsV1 nest ~10 levels).
pub const MAX_DEPTH: usize = 64;

/// What a document holds at its top level, as [`outline`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outline {
    /// The top-level `kind` (unescaped), if present and a string.
    pub kind: Option<String>,
    /// The byte ranges of the objects in a top-level `items` array, if present.
    pub items: Option<Vec<Range<usize>>>,
}

/// Checks `bytes` against the caps and the JSON syntax, and returns its outline.
pub fn outline(bytes: &[u8], max_len: usize, max_depth: usize) -> Result<Outline, ParseError> {
    check(bytes, max_len, max_depth)?;
    let mut out = Outline::default();
    for m in top_members(bytes, max_depth) {
        let value = &bytes[m.value.clone()];
        if key_is(bytes, &m, b"kind") && value.first() == Some(&b'"') {
            out.kind = Some(unescape_str(value)?);
        }
        if key_is(bytes, &m, b"items") {
            if let Some(elements) = syntax::array_elements(value, max_depth) {
                let objects = elements.into_iter().filter(|r| value[r.start] == b'{');
                let start = m.value.start;
                out.items = Some(objects.map(|r| start + r.start..start + r.end).collect());
            }
        }
    }
    Ok(out)
}

/// Checks the size cap, then the syntax and the depth cap.
fn check(bytes: &[u8], max_len: usize, max_depth: usize) -> Result<(), ParseError> {
    if bytes.len() > max_len {
        return Err(ParseError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    syntax::document(bytes, max_depth).map_err(|e| syntax_error(e, max_depth))
}

/// The top-level members of a checked document (none when it is not an object).
fn top_members(bytes: &[u8], max_depth: usize) -> Vec<RawMember> {
    syntax::object_members(bytes, max_depth).unwrap_or_default()
}

/// A syntax error as [`ParseError`]: the depth cap, or the serde-json-core error nearest to it.
fn syntax_error(e: SyntaxError, max_depth: usize) -> ParseError {
    ParseError::Json(match e.fault {
        Fault::TooDeep => return ParseError::TooDeep { max: max_depth },
        Fault::TrailingData => JsonError::TrailingCharacters,
        Fault::EndOfInput => JsonError::EofWhileParsingValue,
        Fault::NotAValue => JsonError::ExpectedSomeValue,
        Fault::Literal => JsonError::ExpectedSomeIdent,
        Fault::ObjectSeparator => JsonError::ExpectedObjectCommaOrEnd,
        Fault::ArraySeparator => JsonError::ExpectedListCommaOrEnd,
        Fault::MemberName => JsonError::KeyMustBeAString,
        Fault::Colon => JsonError::ExpectedColon,
        Fault::UnterminatedString => JsonError::EofWhileParsingString,
        Fault::ControlCharacter | Fault::Escape | Fault::Hex => JsonError::InvalidEscapeSequence,
        Fault::Surrogate => JsonError::InvalidUnicodeCodePoint,
        Fault::Number | Fault::Fraction | Fault::Exponent => JsonError::InvalidNumber,
    })
}

/// Whether a member's name, as written, is `name`.
fn key_is(bytes: &[u8], member: &RawMember, name: &[u8]) -> bool {
    &bytes[member.key.clone()] == name
}

/// Unescapes one JSON string literal (quotes included) of a checked document.
fn unescape_str(literal: &[u8]) -> Result<String, ParseError> {
    let inner = &literal[1..literal.len() - 1];
    let text = std::str::from_utf8(inner).map_err(|_| JsonError::InvalidUnicodeCodePoint)?;
    syntax::unescape(text).ok_or(ParseError::Json(JsonError::InvalidEscapeSequence))
}

/// Deserializes one object after checking the object caps; strings are unescaped.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ParseError> {
    check(bytes, MAX_OBJECT_BYTES, MAX_DEPTH)?;
    from_json_unchecked(bytes)
}

/// Deserializes a document whose caps the caller has already checked.
pub(crate) fn from_json_unchecked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ParseError> {
    let mut buf = vec![0u8; bytes.len()];
    let (value, _) = serde_json_core::from_slice_escaped(bytes, &mut buf)?;
    Ok(value)
}

/// The byte ranges of the values of top-level members `keys` (a string value's range includes
/// its quotes; the last one when a key is repeated), after checking the caps and the syntax.
/// Only containers and strings are found, not scalars such as numbers.
pub fn members(
    bytes: &[u8],
    keys: &[&str],
    max_len: usize,
    max_depth: usize,
) -> Result<Vec<Option<Range<usize>>>, ParseError> {
    check(bytes, max_len, max_depth)?;
    let mut found = vec![None; keys.len()];
    for m in top_members(bytes, max_depth) {
        if !matches!(bytes[m.value.start], b'{' | b'[' | b'"') {
            continue;
        }
        if let Some(i) = keys.iter().position(|k| key_is(bytes, &m, k.as_bytes())) {
            found[i] = Some(m.value);
        }
    }
    Ok(found)
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
    fn invalid_json_is_refused_as_the_nearest_serde_json_core_error() {
        for (doc, e) in [
            (&br#"{"kind":"Node",}"#[..], JsonError::KeyMustBeAString),
            (br#"{"kind":"Node"} x"#, JsonError::TrailingCharacters),
            (br#"{"kind" "Node"}"#, JsonError::ExpectedColon),
            (br#"{"a":[1 2]}"#, JsonError::ExpectedListCommaOrEnd),
            (br#"{"a":01}"#, JsonError::InvalidNumber),
            (br#"{"a":"\q"}"#, JsonError::InvalidEscapeSequence),
            (br#"{"a":"x"#, JsonError::EofWhileParsingString),
            (b"", JsonError::EofWhileParsingValue),
        ] {
            let doc_text = String::from_utf8_lossy(doc);
            assert_eq!(outline(doc, 100, 4), Err(ParseError::Json(e)), "{doc_text}");
            assert_eq!(members(doc, &["a"], 100, 4), Err(ParseError::Json(e)));
        }
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
