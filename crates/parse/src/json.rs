//! Lichen's one JSON syntax layer, under both JSON front-ends: `cni::json` (CNI configs and
//! results) and `k8s::json` (Kubernetes objects). Both parse with serde-json-core, which
//! recurses without a limit, cannot say where a document is broken and cannot hand back raw
//! values; this layer fills those gaps:
//! - [`document`] checks a whole document before anything parses it: exactly one value
//!   (whitespace around it is fine), strict RFC 8259 syntax, nested at most as deep as the
//!   caller allows. A failure is a [`SyntaxError`]: a [`Fault`] at a byte offset.
//! - [`object_members`] and [`array_elements`] hand back the parts of a checked value as byte
//!   ranges; [`unescape`] decodes a string.
//!
//! It has no caps and no messages of its own: each front-end passes its limits (size is the
//! front-end's check, depth a parameter here) and turns a [`SyntaxError`] into its own error.
//! Leaf: imports nothing else of the crate.

mod fault;
mod scan;
mod unescape;

use std::ops::Range;

pub use fault::{Fault, SyntaxError};
pub use scan::RawMember;
pub use unescape::unescape;

use scan::Scanner;

/// Checks that `input` is exactly one JSON value, optionally surrounded by whitespace, with
/// objects and arrays nested at most `max_depth` levels (the outermost is level 1).
pub fn document(input: &[u8], max_depth: usize) -> Result<(), SyntaxError> {
    Scanner::new(input, max_depth).document()
}

/// The members of the object `value` (leading whitespace skipped, anything after the object
/// ignored), in document order; ranges are into `value`. `None` when `value` is not an object,
/// or a broken one (it is meant to be part of a document that passed [`document`]).
pub fn object_members(value: &[u8], max_depth: usize) -> Option<Vec<RawMember>> {
    Scanner::new(value, max_depth)
        .object_members()
        .ok()
        .flatten()
}

/// The elements of the array `value`, in order, as ranges into `value`; like
/// [`object_members`], `None` when `value` is not an array or a broken one.
pub fn array_elements(value: &[u8], max_depth: usize) -> Option<Vec<Range<usize>>> {
    Scanner::new(value, max_depth)
        .array_elements()
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_strict_and_bounded_by_the_depth_given() {
        document(b" {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\"]}\n", 2).unwrap();
        let e = document(b"[[[]]]", 2).unwrap_err();
        assert!(e.too_deep());
        assert_eq!((e.at, e.fault), (2, Fault::TooDeep));
        document(b"[[[]]]", 3).unwrap();
        for (bad, fault) in [
            (&b"{\"a\":1}{}"[..], Fault::TrailingData),
            (b"{\"a\":1,}", Fault::MemberName),
            (b"[1,]", Fault::NotAValue),
            (b"{\"a\":01}", Fault::Number),
            (b"{\"a\":\"\\x\"}", Fault::Escape),
            (b"{\"a\":\"\\ud800\"}", Fault::Surrogate),
            (b"{\"a\":tru}", Fault::Literal),
            (b"\"a\nb\"", Fault::ControlCharacter),
            (b"{\"a\":1", Fault::ObjectSeparator),
            (b"[\"a", Fault::UnterminatedString),
            (b"  ", Fault::EndOfInput),
        ] {
            let e = document(bad, 8).unwrap_err();
            assert_eq!(e.fault, fault, "{}", String::from_utf8_lossy(bad));
            assert!(!e.too_deep());
        }
    }

    #[test]
    fn members_and_elements_are_ranges_of_raw_values() {
        let doc = br#" {"k\"":"v" , "n":[1, {"x":"]"}],"e":{}} "#;
        let members = object_members(doc, 4).unwrap();
        let text = |r: &Range<usize>| std::str::from_utf8(&doc[r.clone()]).unwrap();
        let pairs: Vec<_> = members
            .iter()
            .map(|m| (text(&m.key), text(&m.value)))
            .collect();
        assert_eq!(
            pairs,
            [("k\\\"", "\"v\""), ("n", r#"[1, {"x":"]"}]"#), ("e", "{}")]
        );
        let n = &doc[members[1].value.clone()];
        let elements = array_elements(n, 4).unwrap();
        let elements: Vec<_> = elements.into_iter().map(|r| &n[r]).collect();
        assert_eq!(elements, [&b"1"[..], br#"{"x":"]"}"#]);
        assert_eq!(object_members(b"[1]", 4), None);
        assert_eq!(array_elements(b"{}", 4), None);
        assert_eq!(array_elements(b"[1,", 4), None);
    }
}
