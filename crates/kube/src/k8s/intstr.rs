//! `IntOrString` fields (a NetworkPolicy port is `80` or `"http"`) with serde-json-core.
//!
//! serde-json-core has no `deserialize_any`, so a field that may hold a number or a string
//! cannot be read by peeking at it. Instead the document is rewritten before parsing: every
//! number that is the value of a key in `keys` is put in quotes (`"port": 80` → `"port":
//! "80"`), and the field is then always a string ([`IntOrString`]). Strings, nested keys with
//! other names and escapes are left alone; the walk is linear and keeps no state but the last
//! string seen.

use std::fmt;

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

/// Returns `bytes` with every number that is the value of one of `keys` quoted.
pub fn quote_numbers(bytes: &[u8], keys: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut last_str: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(bytes.len());
                out.extend_from_slice(&bytes[start - 1..(end + 1).min(bytes.len())]);
                last_str = Some((start, end));
                i = end + 1;
                continue;
            }
            b':' => {
                out.push(c);
                i += 1;
                let is_key = last_str
                    .take()
                    .is_some_and(|(s, e)| keys.iter().any(|k| k.as_bytes() == &bytes[s..e]));
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    out.push(bytes[i]);
                    i += 1;
                }
                if is_key && i < bytes.len() && (bytes[i] == b'-' || bytes[i].is_ascii_digit()) {
                    let start = i;
                    while i < bytes.len()
                        && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    {
                        i += 1;
                    }
                    out.push(b'"');
                    out.extend_from_slice(&bytes[start..i]);
                    out.push(b'"');
                }
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => last_str = None,
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A field that was a number or a string in the document (after [`quote_numbers`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(IntOrStringVisitor)
    }
}

struct IntOrStringVisitor;

impl Visitor<'_> for IntOrStringVisitor {
    type Value = IntOrString;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrString, E> {
        let numeric = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        Ok(match v.parse() {
            Ok(n) if numeric => IntOrString::Int(n),
            _ => IntOrString::String(v.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        String::from_utf8(quote_numbers(s.as_bytes(), &["port"])).unwrap()
    }

    #[test]
    fn quotes_only_numbers_of_the_named_keys() {
        assert_eq!(
            q(r#"{"port": 80,"endPort":90,"x":{"port":"http"},"ports":[{"port":-1}]}"#),
            r#"{"port": "80","endPort":90,"x":{"port":"http"},"ports":[{"port":"-1"}]}"#
        );
        // A string value "port" is not a key; escaped quotes do not end strings.
        assert_eq!(
            q(r#"["port", 5, {"a\"port":1, "port" :7}]"#),
            r#"["port", 5, {"a\"port":1, "port" :"7"}]"#
        );
    }

    #[test]
    fn parses_both_forms() {
        let v: Vec<IntOrString> =
            crate::k8s::json::from_json(&quote_numbers(br#"["80","dns"]"#, &[])).unwrap();
        assert_eq!(v, [IntOrString::Int(80), IntOrString::String("dns".into())]);
    }
}
