//! A strict, non-allocating JSON syntax checker that runs before serde-json-core sees a
//! document. It bounds the nesting depth (serde-json-core recurses without a limit), reports
//! where a document is broken (serde-json-core does not), and finds the members of an object
//! with the byte range of each value (serde-json-core cannot hand back raw values).

use std::ops::Range;

/// Where and why a document is not valid JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem.
    pub at: usize,
    pub what: &'static str,
    /// The nesting limit was hit (reported separately: the document may be valid JSON).
    pub too_deep: bool,
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

    fn err(&self, what: &'static str) -> SyntaxError {
        SyntaxError {
            at: self.i,
            what,
            too_deep: false,
        }
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
            return Err(self.err("unexpected data after the end of the JSON value"));
        }
        Ok(())
    }

    /// Skips one value (and the whitespace before it); returns its byte range.
    pub fn value(&mut self) -> Result<Range<usize>, SyntaxError> {
        self.ws();
        let start = self.i;
        match self.peek() {
            None => return Err(self.err("unexpected end of input, expected a value")),
            Some(b'{') => self.container(b'}')?,
            Some(b'[') => self.container(b']')?,
            Some(b'"') => self.string()?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(_) => {
                return Err(self
                    .err("expected a value (object, array, string, number, true, false or null)"))
            }
        }
        Ok(start..self.i)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), SyntaxError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal (expected true, false or null)"))
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(SyntaxError {
                at: self.i,
                what: "nesting too deep",
                too_deep: true,
            });
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
                _ if close == b'}' => {
                    return Err(self.err("expected ',' or '}' after an object member"))
                }
                _ => return Err(self.err("expected ',' or ']' after an array element")),
            }
        }
    }

    /// A member's key and the colon after it; returns the key's raw (escaped) range, quotes
    /// excluded.
    fn key(&mut self) -> Result<Range<usize>, SyntaxError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a quoted member name"));
        }
        let start = self.i + 1;
        self.string()?;
        let end = self.i - 1;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.err("expected ':' after a member name"));
        }
        self.i += 1;
        Ok(start..end)
    }

    fn string(&mut self) -> Result<(), SyntaxError> {
        self.i += 1; // opening quote
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                Some(c) if c < 0x20 => {
                    return Err(
                        self.err("control character in a string (write it as \\n, \\t or \\u00XX)")
                    )
                }
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
                        return Err(self.err("unpaired UTF-16 surrogate in a \\u escape"));
                    }
                    self.i += 1;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.err("unpaired UTF-16 surrogate in a \\u escape"));
                    }
                } else if (0xDC00..0xE000).contains(&unit) {
                    return Err(self.err("unpaired UTF-16 surrogate in a \\u escape"));
                }
                Ok(())
            }
            _ => Err(self.err(
                "invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
            )),
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
            .ok_or_else(|| self.err("\\u must be followed by four hex digits"))?;
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
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number: digits expected after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number: digits expected in the exponent"));
            }
        }
        if matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'a'..=b'z' | b'A'..=b'Z')
        ) {
            return Err(self.err("invalid number"));
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
                _ => return Err(self.err("expected ',' or ']' after an array element")),
            }
        }
    }

    /// The members of the object that starts here: (raw key range, value range) pairs, in
    /// document order. `Ok(None)` when the value here is not an object.
    #[allow(clippy::type_complexity)]
    pub fn object_members(
        &mut self,
    ) -> Result<Option<Vec<(Range<usize>, Range<usize>)>>, SyntaxError> {
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
            out.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Some(out));
                }
                _ => return Err(self.err("expected ',' or '}' after an object member")),
            }
        }
    }
}
