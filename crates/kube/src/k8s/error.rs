//! Why a Kubernetes object (or any JSON document read by the agent) was rejected.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// The document is larger than the cap for its kind of input.
    TooLarge { len: usize, max: usize },
    /// Containers nest deeper than the cap (serde-json-core would recurse without limit).
    TooDeep { max: usize },
    /// serde-json-core rejected the document (syntax or a type mismatch).
    Json(serde_json_core::de::Error),
    /// The document is an object of another kind than the caller asked for.
    WrongKind {
        expected: &'static str,
        found: String,
    },
    /// A required field is absent or empty.
    MissingField(&'static str),
    /// A field is present but its value cannot be used.
    InvalidField { field: &'static str, value: String },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLarge { len, max } => {
                write!(f, "document is {len} bytes, more than the {max} accepted")
            }
            ParseError::TooDeep { max } => write!(f, "document nests deeper than {max} levels"),
            ParseError::Json(e) => write!(f, "invalid JSON: {e}"),
            ParseError::WrongKind { expected, found } => {
                write!(f, "expected kind {expected:?}, found {found:?}")
            }
            ParseError::MissingField(field) => write!(f, "missing field {field}"),
            ParseError::InvalidField { field, value } => {
                write!(f, "invalid value {value:?} for {field}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

impl From<serde_json_core::de::Error> for ParseError {
    fn from(e: serde_json_core::de::Error) -> Self {
        ParseError::Json(e)
    }
}
