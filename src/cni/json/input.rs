//! Reading JSON: the guard every document passes first, then typed access to object members.
//! The syntax (scanner, members, elements, unescaping) is [`crate::json`]'s; this file adds the
//! CNI caps, messages and types.

use serde::{Deserialize, Deserializer};
use serde_json_core::str::EscapedStr;

use super::{MAX_DEPTH, MAX_INPUT};
use crate::cni::{CniError, Code};
use crate::json::{self as syntax, unescape};

/// Guards a whole document before it is parsed: at most [`MAX_INPUT`] bytes, UTF-8, exactly one
/// JSON value (whitespace around it is fine), nesting at most [`MAX_DEPTH`] deep. `what` names
/// the document in the message ("network config", "prevResult", …). Every failure is code 6
/// and says where (line, column) and what to fix.
pub fn check(input: &[u8], what: &str) -> Result<(), CniError> {
    let decode = |msg: String| Err(CniError::new(Code::Decode, msg));
    if input.len() > MAX_INPUT {
        return decode(format!(
            "{what} is {} bytes, more than the {MAX_INPUT} bytes accepted: pass the network config, not another file",
            input.len()
        ));
    }
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return decode(format!("{what} is empty: expected a JSON object"));
    }
    if let Err(e) = std::str::from_utf8(input) {
        let (line, col) = line_col(input, e.valid_up_to());
        return decode(format!(
            "{what} is not UTF-8 (invalid byte at line {line}, column {col}): save it as UTF-8"
        ));
    }
    match syntax::document(input, MAX_DEPTH) {
        Ok(()) => Ok(()),
        Err(e) => {
            let (line, col) = line_col(input, e.at);
            if e.too_deep() {
                decode(format!(
                    "{what} nests objects/arrays more than {MAX_DEPTH} levels deep (at line {line}, column {col}): \
                     a CNI config needs only a few levels; check for a runaway or generated structure"
                ))
            } else {
                decode(format!(
                    "{what} is not valid JSON: {} at line {line}, column {col}",
                    e.what()
                ))
            }
        }
    }
}

/// 1-based line and column (in bytes) of a byte offset.
fn line_col(input: &[u8], at: usize) -> (usize, usize) {
    let before = &input[..at.min(input.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

/// A short, printable excerpt of a raw JSON value for error messages.
pub fn describe(value: &[u8]) -> String {
    const MAX: usize = 48;
    let text = String::from_utf8_lossy(value);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Parses one raw JSON value (a member's value from [`Object`]) as `T` with serde-json-core.
/// Strings inside `T` should be [`Text`] (or `EscapedStr`) so escapes are handled.
pub fn from_value<'a, T: Deserialize<'a>>(
    value: &'a [u8],
) -> Result<T, serde_json_core::de::Error> {
    serde_json_core::from_slice(value).map(|(v, _)| v)
}

/// The elements of a raw JSON array value (one that passed [`check`]), each as raw bytes.
/// `None` when the value is not an array.
pub fn array(value: &[u8]) -> Option<Vec<&[u8]>> {
    let ranges = syntax::array_elements(value, MAX_DEPTH)?;
    Some(ranges.into_iter().map(|r| &value[r]).collect())
}

/// A JSON string, unescaped. Use it instead of `&str`/`String` in types given to
/// serde-json-core.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = EscapedStr::deserialize(d)?;
        unescape(raw.0)
            .map(Text)
            .ok_or_else(|| serde::de::Error::custom("invalid escape in a string"))
    }
}

/// One member of a JSON object: the unescaped key and the raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    pub key: String,
    pub value: &'a [u8],
}

/// An object whose members are parsed one at a time, so that an error can name the member
/// (`ipam.ranges`, `mtu`, …) and show its value. Errors carry the code given at creation.
pub struct Object<'a> {
    path: String,
    code: Code,
    members: Vec<Member<'a>>,
}

impl<'a> Object<'a> {
    /// `value` is a raw JSON value that passed [`check`] (alone or as part of its document).
    /// `path` names it in messages ("" for the top level). Not an object → error.
    pub fn parse(path: &str, value: &'a [u8], code: Code) -> Result<Object<'a>, CniError> {
        let Some(pairs) = syntax::object_members(value, MAX_DEPTH) else {
            let what = if path.is_empty() {
                "the document"
            } else {
                path
            };
            return Err(CniError::new(
                code,
                format!(
                    "{what} must be a JSON object {{...}}; got {}",
                    describe(value)
                ),
            ));
        };
        let members = pairs
            .into_iter()
            .map(|m| Member {
                key: std::str::from_utf8(&value[m.key])
                    .ok()
                    .and_then(unescape)
                    .unwrap_or_default(),
                value: &value[m.value],
            })
            .collect();
        Ok(Object {
            path: path.to_string(),
            code,
            members,
        })
    }

    /// The full name of a member, for messages: `ipam.ranges`, or `mtu` at the top level.
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    /// The raw value of `key` (the last one when a key is repeated), `null` included.
    pub fn raw(&self, key: &str) -> Option<&'a [u8]> {
        self.members
            .iter()
            .rev()
            .find(|m| m.key == key)
            .map(|m| m.value)
    }

    /// `key` parsed as `T`; absent or `null` → `None`. A value of the wrong type is an error
    /// saying `<path> must be <expect>; got <value>`.
    pub fn get<T: Deserialize<'a>>(&self, key: &str, expect: &str) -> Result<Option<T>, CniError> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        from_value::<Option<T>>(raw).map_err(|_| {
            CniError::new(
                self.code,
                format!(
                    "{} must be {expect}; got {}",
                    self.path_of(key),
                    describe(raw)
                ),
            )
        })
    }

    /// A string member.
    pub fn text(&self, key: &str) -> Result<Option<String>, CniError> {
        Ok(self.get::<Text>(key, "a string")?.map(|t| t.0))
    }

    /// A nested object; absent or `null` → `None`.
    pub fn object(&self, key: &str) -> Result<Option<Object<'a>>, CniError> {
        match self.raw(key) {
            None => Ok(None),
            Some(raw) if raw.trim_ascii() == b"null" => Ok(None),
            Some(raw) => Object::parse(&self.path_of(key), raw, self.code).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_accepts_one_document_with_trailing_whitespace() {
        check(b"{\"a\":[1,-2.5e3,true,false,null,\"x\"]}\n", "doc").unwrap();
        check(b"  {}\r\n\t ", "doc").unwrap();
    }

    #[test]
    fn check_reports_line_and_column() {
        let e = check(b"{\n  \"a\": 1,\n  \"b\" 2\n}", "network config").unwrap_err();
        assert_eq!(e.code, 6);
        assert_eq!(
            e.msg,
            "network config is not valid JSON: expected ':' after a member name at line 3, column 7"
        );
        for bad in [
            &b"{\"a\":1}{}"[..],
            b"{\"a\":1,}",
            b"[1,]",
            b"{\"a\":01}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":tru}",
            b"{\"a\":\"line\nbreak\"}",
            b"{\"a\":1",
            b"{'a':1}",
        ] {
            let e = check(bad, "doc").unwrap_err();
            assert_eq!(e.code, 6, "{}", String::from_utf8_lossy(bad));
            assert!(e.msg.starts_with("doc is not valid JSON: "), "{}", e.msg);
        }
        let e = check(b"   \n", "stdin").unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (6, "stdin is empty: expected a JSON object")
        );
        let e = check(b"{\"a\":\"\xff\"}", "stdin").unwrap_err();
        assert!(
            e.msg
                .contains("not UTF-8 (invalid byte at line 1, column 7)"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn check_bounds_depth_and_size() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        check(ok.as_bytes(), "doc").unwrap();
        // Far deeper than any stack would survive if it reached the recursive parser.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = check(deep.as_bytes(), "network config").unwrap_err();
        assert_eq!(e.code, 6);
        assert!(
            e.msg.starts_with("network config nests objects/arrays more than 32 levels deep (at line 1, column 37)"),
            "{}",
            e.msg
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_INPUT));
        let e = check(big.as_bytes(), "network config").unwrap_err();
        assert_eq!(e.code, 6);
        assert!(
            e.msg.contains("more than the 1048576 bytes accepted"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn object_names_members_and_types() {
        let doc = br#"{"s":"a\u0026b","n":1500,"z":null,"o":{"k":[1]},"s":"last"}"#;
        check(doc, "doc").unwrap();
        let o = Object::parse("", doc, Code::InvalidConfig).unwrap();
        assert_eq!(o.text("s").unwrap().as_deref(), Some("last"));
        assert_eq!(o.get::<u32>("n", "an integer").unwrap(), Some(1500));
        assert_eq!(o.text("z").unwrap(), None);
        assert_eq!(o.text("missing").unwrap(), None);
        let inner = o.object("o").unwrap().unwrap();
        let e = inner.text("k").unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (7, "o.k must be a string; got [1]")
        );
        let e = o.object("n").err().unwrap();
        assert_eq!(e.msg, "n must be a JSON object {...}; got 1500");
    }
}
