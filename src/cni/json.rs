//! Small JSON helpers around serde-json-core: a streaming writer for results and errors, and
//! the input side: guards (size, nesting depth, syntax with line/column) applied before any
//! document is parsed, access to an object's members as raw values, and [`Text`], a string
//! that is unescaped correctly (serde-json-core's `from_slice` would hand escapes back raw).
//!
//! How input is read: [`check`] the whole document first, then walk it with [`Object`] and
//! give each member's raw value to serde-json-core ([`from_value`]) as its expected type, so a
//! wrong type is reported with the member's name and value.
//!
//! The input side is a front-end over the crate's one JSON syntax layer, [`crate::json`] (its
//! scanner, member and element accessors, and [`unescape`]): this module adds the CNI caps
//! ([`MAX_INPUT`], [`MAX_DEPTH`]), CNI errors (code 6 with line and column) and typed access.

mod input;

pub use crate::json::unescape;
pub use input::{array, check, describe, from_value, Member, Object, Text};

/// Largest JSON document accepted on stdin or from a file (CNI configs are a few KiB).
pub const MAX_INPUT: usize = 1 << 20;
/// Deepest nesting accepted (serde-json-core has no recursion limit of its own).
pub const MAX_DEPTH: usize = 32;

/// A compact JSON writer: commas are placed automatically.
#[derive(Default)]
pub struct Writer {
    out: String,
    /// One entry per open container: has it an element already?
    stack: Vec<bool>,
    after_key: bool,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    fn sep(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(has) = self.stack.last_mut() {
            if *has {
                self.out.push(',');
            }
            *has = true;
        }
    }

    pub fn begin_object(&mut self) {
        self.sep();
        self.out.push('{');
        self.stack.push(false);
    }

    pub fn end_object(&mut self) {
        self.stack.pop();
        self.out.push('}');
    }

    pub fn begin_array(&mut self) {
        self.sep();
        self.out.push('[');
        self.stack.push(false);
    }

    pub fn end_array(&mut self) {
        self.stack.pop();
        self.out.push(']');
    }

    pub fn key(&mut self, k: &str) {
        self.sep();
        escape_into(&mut self.out, k);
        self.out.push(':');
        self.after_key = true;
    }

    pub fn string(&mut self, s: &str) {
        self.sep();
        escape_into(&mut self.out, s);
    }

    pub fn number(&mut self, n: u64) {
        self.sep();
        self.out.push_str(&n.to_string());
    }

    pub fn signed(&mut self, n: i64) {
        self.sep();
        self.out.push_str(&n.to_string());
    }

    pub fn bool(&mut self, b: bool) {
        self.sep();
        self.out.push_str(if b { "true" } else { "false" });
    }

    pub fn null(&mut self) {
        self.sep();
        self.out.push_str("null");
    }

    /// Writes an already-encoded JSON value verbatim (e.g. a pass-through field).
    pub fn raw(&mut self, json: &str) {
        self.sep();
        self.out.push_str(json);
    }

    /// `"key": "value"` in one call.
    pub fn field_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.string(v);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Appends `s` as a JSON string literal (quoted, escaped).
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_places_commas_and_escapes() {
        let mut w = Writer::new();
        w.begin_object();
        w.field_str("a", "x\"y\n");
        w.key("b");
        w.begin_array();
        w.number(1);
        w.bool(true);
        w.null();
        w.end_array();
        w.key("c");
        w.begin_object();
        w.end_object();
        w.end_object();
        assert_eq!(w.finish(), r#"{"a":"x\"y\n","b":[1,true,null],"c":{}}"#);
    }
}
