//! The one HTTP/1.1 codec: the Kubernetes API client (`lichen-kube`'s `k8s::http`), the
//! agent's endpoint and the commands' GET to it (`lichen`'s `agent::http` and `agent::client`)
//! all read and write heads here.
//!
//! Pure on byte slices, no I/O: the callers own their sockets (async or blocking) and feed
//! what they read to a [`HeadReader`], which stops at the blank line that ends a head and
//! never holds more than its bound. Then [`Head::parse`] splits the start line from the header
//! fields, [`parse_status_line`] / [`parse_request_line`] read the start line, and
//! [`Head::framing`] and [`parse_chunk_size`] say how a response body is delimited. Hostile
//! bytes are an [`Error`], never a panic (`tests.rs` throws random and truncated heads at it).
//!
//! Lines end in CRLF; a bare LF is accepted too (RFC 9112 §2.2), trailing whitespace is
//! dropped.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The bytes do not follow HTTP/1.1 (what was wrong).
    Malformed(&'static str),
    /// A head longer than the reader's bound.
    TooLong { max: usize },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
            Error::TooLong { max } => write!(f, "HTTP head over {max} bytes"),
        }
    }
}

impl std::error::Error for Error {}

/// Collects a head (start line and header fields, up to and including the blank line) from
/// the pieces a connection delivers, holding at most `max` bytes.
pub struct HeadReader {
    head: Vec<u8>,
    max: usize,
}

impl HeadReader {
    pub fn new(max: usize) -> HeadReader {
        HeadReader {
            head: Vec::new(),
            max,
        }
    }

    /// Takes bytes from `input` up to the end of the head: returns how many were taken (the
    /// rest is body, the caller's) and whether the head is complete. A head that would pass
    /// `max` bytes is [`Error::TooLong`]. Not called again once the head is complete.
    pub fn push(&mut self, input: &[u8]) -> Result<(usize, bool), Error> {
        let old = self.head.len();
        let room = self.max - old;
        self.head.extend_from_slice(&input[..input.len().min(room)]);
        // A blank line may straddle the previous piece: look back two bytes.
        let from = old.saturating_sub(2);
        if let Some(end) = head_end(&self.head[from..]).map(|e| from + e) {
            self.head.truncate(end);
            return Ok((end - old, true));
        }
        if input.len() >= room {
            return Err(Error::TooLong { max: self.max });
        }
        Ok((input.len(), false))
    }

    /// The bytes collected so far: the whole head once [`push`](Self::push) said so.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

/// Where the head at the start of `buf` ends (just past its blank line), if it does.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    // The blank line: "\n\n" or "\n\r\n", not counting a '\n' that is the very first byte.
    let mut last = [0u8; 2];
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' && i > 0 && (last[1] == b'\n' || last == *b"\n\r") {
            return Some(i + 1);
        }
        last = [last[1], b];
    }
    None
}

/// The start line of `head` (a request or status line; all of `head` without a line end), for
/// a caller that reads nothing else of the head.
pub fn start_line(head: &[u8]) -> Result<&str, Error> {
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    Ok(utf8(&head[..end])?.trim_end())
}

fn utf8(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error::Malformed("non-UTF-8 header"))
}

/// A head split into its start line and header fields.
pub struct Head<'a> {
    /// The request or status line.
    pub start: &'a str,
    fields: &'a str,
}

impl<'a> Head<'a> {
    /// Splits `head` (as collected by a [`HeadReader`], or the part of one that arrived).
    pub fn parse(head: &'a [u8]) -> Result<Head<'a>, Error> {
        let text = utf8(head)?;
        let (start, fields) = text.split_once('\n').unwrap_or((text, ""));
        let head = Head {
            start: start.trim_end(),
            fields,
        };
        if head.lines().any(|l| !l.contains(':')) {
            return Err(Error::Malformed("header line"));
        }
        Ok(head)
    }

    fn lines(&self) -> impl Iterator<Item = &'a str> {
        self.fields
            .split('\n')
            .map(str::trim_end)
            .take_while(|l| !l.is_empty())
    }

    /// The header fields in order: (name, value without surrounding whitespace).
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n, v.trim()))
    }

    /// The value of header `name` (any case); the last one if it is repeated.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let mut found = None;
        for (n, v) in self.fields() {
            if n.eq_ignore_ascii_case(name) {
                found = Some(v);
            }
        }
        found
    }

    /// How the body of a response with this head is delimited.
    pub fn framing(&self) -> Result<Framing, Error> {
        let chunked = self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = match self.header("content-length") {
            Some(v) => Some(v.parse().map_err(|_| Error::Malformed("content-length"))?),
            None => None,
        };
        Ok(match (chunked, length) {
            (true, _) => Framing::Chunked,
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::UntilClose,
        })
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    /// `Transfer-Encoding: chunked`: see [`parse_chunk_size`].
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// The status code of a status line (`HTTP/1.1 200 OK`).
pub fn parse_status_line(line: &str) -> Result<u16, Error> {
    let mut parts = line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(Error::Malformed("status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Malformed("not HTTP/1.x"));
    }
    code.parse().map_err(|_| Error::Malformed("status code"))
}

/// A request line (`GET /status?format=json HTTP/1.1`), its target split at `?`.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// After the `?`; empty without one.
    pub query: &'a str,
}

pub fn parse_request_line(line: &str) -> Result<RequestLine<'_>, Error> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("request line"));
    };
    if method.is_empty() || target.is_empty() {
        return Err(Error::Malformed("request line"));
    }
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Malformed("not HTTP/1.x"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(RequestLine {
        method,
        path,
        query,
    })
}

/// The size in a chunk-size line (hex, extensions after `;` ignored), without its line end.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, Error> {
    let hex = line.split(|&b| b == b';').next().unwrap_or_default();
    std::str::from_utf8(hex)
        .ok()
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .ok_or(Error::Malformed("chunk size"))
}

/// A request head: `method target HTTP/1.1`, then `headers` (values must not hold CR or LF;
/// a header with an empty value is left out).
pub fn request_head(method: &str, target: &str, headers: &[(&str, &str)]) -> String {
    head(format!("{method} {target} HTTP/1.1\r\n"), headers)
}

/// A response head: `HTTP/1.1 code reason`, then `headers` (as for [`request_head`]).
pub fn response_head(code: u16, headers: &[(&str, &str)]) -> String {
    head(format!("HTTP/1.1 {code} {}\r\n", reason(code)), headers)
}

fn head(mut out: String, headers: &[(&str, &str)]) -> String {
    for (name, value) in headers.iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// The reason phrase of the status codes Lichen answers with.
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
