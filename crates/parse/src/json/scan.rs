//! The scanner: a strict JSON syntax checker whose recursion the depth limit bounds (checking
//! a document allocates nothing). It bounds the nesting depth (serde-json-core recurses without a limit), says where a
//! document is broken (serde-json-core does not), and finds the members of an object and the
//! elements of an array with the byte range of each value (serde-json-core cannot hand back raw
//! values).

use std::ops::Range;

use super::fault::{Fault, SyntaxError};

/// One member of an object as found by [`Scanner::object_members`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMember {
    /// The member's name as written (still escaped), quotes excluded.
    pub key: Range<usize>,
    /// The member's value, from its first byte to its last.
    pub value: Range<usize>,
}

pub struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    max_depth: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(s: &'a [u8], max_depth: usize) -> Self {
        Scanner {
            s,
            i: 0,
            depth: 0,
            max_depth,
        }
    }

    fn err(&self, fault: Fault) -> SyntaxError {
        SyntaxError { at: self.i, fault }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    /// Checks that the whole input is exactly one JSON value, optionally surrounded by
    /// whitespace (runtimes end stdin with a newline).
    pub fn document(&mut self) -> Result<(), SyntaxError> {
        self.value()?;
        self.ws();
        if self.i != self.s.len() {
            return Err(self.err(Fault::TrailingData));
        }
        Ok(())
    }

    /// Skips one value (and the whitespace before it); returns its byte range.
    pub fn value(&mut self) -> Result<Range<usize>, SyntaxError> {
        self.ws();
        let start = self.i;
        match self.peek() {
            None => return Err(self.err(Fault::EndOfInput)),
            Some(b'{') => self.container(b'}')?,
            Some(b'[') => self.container(b']')?,
            Some(b'"') => self.string()?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(_) => return Err(self.err(Fault::NotAValue)),
        }
        Ok(start..self.i)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), SyntaxError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err(Fault::Literal))
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.err(Fault::TooDeep));
        }
        self.i += 1;
        Ok(())
    }

    fn container(&mut self, close: u8) -> Result<(), SyntaxError> {
        self.enter()?;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if close == b'}' {
                self.key()?;
            }
            self.value()?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ if close == b'}' => return Err(self.err(Fault::ObjectSeparator)),
                _ => return Err(self.err(Fault::ArraySeparator)),
            }
        }
    }

    /// A member's key and the colon after it; returns the key's raw (escaped) range, quotes
    /// excluded.
    fn key(&mut self) -> Result<Range<usize>, SyntaxError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.err(Fault::MemberName));
        }
        let start = self.i + 1;
        self.string()?;
        let end = self.i - 1;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.err(Fault::Colon));
        }
        self.i += 1;
        Ok(start..end)
    }

    fn string(&mut self) -> Result<(), SyntaxError> {
        self.i += 1; // opening quote
        loop {
            match self.peek() {
                None => return Err(self.err(Fault::UnterminatedString)),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                Some(c) if c < 0x20 => return Err(self.err(Fault::ControlCharacter)),
                Some(_) => self.i += 1,
            }
        }
    }

    fn escape(&mut self) -> Result<(), SyntaxError> {
        self.i += 1; // backslash
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.i += 1;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4()?;
                if (0xD800..0xDC00).contains(&unit) {
                    if !self.s[self.i..].starts_with(b"\\u") {
                        return Err(self.err(Fault::Surrogate));
                    }
                    self.i += 1;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.err(Fault::Surrogate));
                    }
                } else if (0xDC00..0xE000).contains(&unit) {
                    return Err(self.err(Fault::Surrogate));
                }
                Ok(())
            }
            _ => Err(self.err(Fault::Escape)),
        }
    }

    /// At a `u`: reads the four hex digits after it.
    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        self.i += 1;
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err(Fault::Hex))?;
        let unit = u32::from_str_radix(digits, 16).expect("hex digits");
        self.i += 4;
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), SyntaxError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err(Fault::Number)),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err(Fault::Fraction));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err(Fault::Exponent));
            }
        }
        if matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'a'..=b'z' | b'A'..=b'Z')
        ) {
            return Err(self.err(Fault::Number));
        }
        Ok(())
    }

    /// The elements of the array that starts here: the byte range of each, in order.
    /// `Ok(None)` when the value here is not an array.
    pub fn array_elements(&mut self) -> Result<Option<Vec<Range<usize>>>, SyntaxError> {
        self.ws();
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        self.enter()?;
        let mut out = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Some(out));
        }
        loop {
            out.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Some(out));
                }
                _ => return Err(self.err(Fault::ArraySeparator)),
            }
        }
    }

    /// The members of the object that starts here, in document order. `Ok(None)` when the
    /// value here is not an object.
    pub fn object_members(&mut self) -> Result<Option<Vec<RawMember>>, SyntaxError> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Ok(None);
        }
        self.enter()?;
        let mut out = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Some(out));
        }
        loop {
            let key = self.key()?;
            let value = self.value()?;
            out.push(RawMember { key, value });
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Some(out));
                }
                _ => return Err(self.err(Fault::ObjectSeparator)),
            }
        }
    }
}
