//! Why and where a document is not valid JSON: [`SyntaxError`], one [`Fault`] at a byte offset.
//! The front-ends turn it into their own errors (`cni::json` a message with line and column,
//! `k8s::json` a serde-json-core error).

/// Where and why a document is not valid JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem.
    pub at: usize,
    pub fault: Fault,
}

impl SyntaxError {
    /// What is wrong, as a phrase for messages.
    pub fn what(&self) -> &'static str {
        self.fault.what()
    }

    /// The nesting limit was hit (reported separately: the document may be valid JSON).
    pub fn too_deep(&self) -> bool {
        self.fault == Fault::TooDeep
    }
}

/// The ways a document can fail the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Something follows the one value (after its trailing whitespace).
    TrailingData,
    /// The input ended where a value was expected.
    EndOfInput,
    /// A byte that starts no value.
    NotAValue,
    /// A word that is not `true`, `false` or `null`.
    Literal,
    /// Containers nest deeper than the limit given to the scanner.
    TooDeep,
    /// Neither `,` nor `}` after an object member.
    ObjectSeparator,
    /// Neither `,` nor `]` after an array element.
    ArraySeparator,
    /// A member does not start with a quoted name.
    MemberName,
    /// No `:` after a member name.
    Colon,
    /// A string without its closing quote.
    UnterminatedString,
    /// A raw control character (below U+0020) inside a string.
    ControlCharacter,
    /// A backslash followed by a character that escapes nothing.
    Escape,
    /// A `\u` escape of half a UTF-16 surrogate pair without the other half.
    Surrogate,
    /// A `\u` escape without four hex digits.
    Hex,
    /// A malformed number.
    Number,
    /// A number with a `.` and no digits after it.
    Fraction,
    /// A number with an `e` and no digits in its exponent.
    Exponent,
}

impl Fault {
    /// What is wrong, as a phrase for messages.
    pub fn what(self) -> &'static str {
        match self {
            Fault::TrailingData => "unexpected data after the end of the JSON value",
            Fault::EndOfInput => "unexpected end of input, expected a value",
            Fault::NotAValue => {
                "expected a value (object, array, string, number, true, false or null)"
            }
            Fault::Literal => "invalid literal (expected true, false or null)",
            Fault::TooDeep => "nesting too deep",
            Fault::ObjectSeparator => "expected ',' or '}' after an object member",
            Fault::ArraySeparator => "expected ',' or ']' after an array element",
            Fault::MemberName => "expected a quoted member name",
            Fault::Colon => "expected ':' after a member name",
            Fault::UnterminatedString => "unterminated string",
            Fault::ControlCharacter => {
                "control character in a string (write it as \\n, \\t or \\u00XX)"
            }
            Fault::Escape => {
                "invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
            }
            Fault::Surrogate => "unpaired UTF-16 surrogate in a \\u escape",
            Fault::Hex => "\\u must be followed by four hex digits",
            Fault::Number => "invalid number",
            Fault::Fraction => "invalid number: digits expected after '.'",
            Fault::Exponent => "invalid number: digits expected in the exponent",
        }
    }
}
