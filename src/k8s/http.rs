//! The HTTP/1.1 client side the API source needs, over any async stream (TLS in practice):
//! one request per connection (`Connection: close`), a response head, and a body framed by
//! `Content-Length`, `Transfer-Encoding: chunked` or the end of the connection.
//!
//! The body is read either whole ([`Body::read_to_end`], for LIST) or line by line
//! ([`Body::read_line`], for WATCH streams): lines are cut at `\n` in the *decoded* body, so a
//! chunk boundary anywhere (inside an event, or several events in one chunk) is invisible. Both
//! are bounded, and a connection that ends before the body's framing says it is complete is an
//! error (`UnexpectedEof`), never a short body.

use std::fmt;
use std::io;

use smol::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 << 10;
/// The longest chunk-size line or trailer accepted.
const MAX_CHUNK_LINE: usize = 4 << 10;

pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query, already escaped.
    pub target: &'a str,
    pub host: &'a str,
    pub bearer: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Debug)]
pub enum HttpError {
    Io(io::Error),
    /// The response does not follow HTTP/1.1 (what was wrong).
    Malformed(&'static str),
    /// A body or line is longer than the caller's bound.
    TooLong {
        max: usize,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Io(e) => write!(f, "{e}"),
            HttpError::Malformed(what) => write!(f, "malformed HTTP response: {what}"),
            HttpError::TooLong { max } => write!(f, "response line or body over {max} bytes"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

pub struct Response<S> {
    pub status: u16,
    pub body: Body<S>,
}

enum Framing {
    Length(u64),
    /// Bytes left in the current chunk; `None` before a chunk-size line.
    Chunked(Option<u64>),
    UntilClose,
    Done,
}

pub struct Body<S> {
    conn: BufReader<S>,
    framing: Framing,
    /// Decoded bytes not yet returned as lines.
    pending: Vec<u8>,
    /// How far `pending` was searched for `\n` already.
    scanned: usize,
}

/// Sends `req` on `stream` and reads the response head.
pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    req: &Request<'_>,
) -> Result<Response<S>, HttpError> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: lichen/{}\r\nAccept: application/json\r\nConnection: close\r\n",
        req.method,
        req.target,
        req.host,
        env!("CARGO_PKG_VERSION")
    );
    if let Some(token) = req.bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(ct) = req.content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if !req.body.is_empty() || req.method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(req.body).await?;
    stream.flush().await?;
    read_head(BufReader::new(stream)).await
}

async fn read_head<S: AsyncRead + Unpin>(mut conn: BufReader<S>) -> Result<Response<S>, HttpError> {
    let mut line = Vec::new();
    let mut total = 0;
    let mut status = None;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        let n = (&mut conn)
            .take((MAX_HEAD - total) as u64)
            .read_until(b'\n', &mut line)
            .await?;
        total += n;
        if n == 0 || !line.ends_with(b"\n") {
            return Err(if total >= MAX_HEAD {
                HttpError::TooLong { max: MAX_HEAD }
            } else {
                HttpError::Io(io::ErrorKind::UnexpectedEof.into())
            });
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| HttpError::Malformed("non-UTF-8 header"))?
            .trim_end();
        if status.is_none() {
            let mut parts = text.split(' ');
            let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
                return Err(HttpError::Malformed("status line"));
            };
            if !version.starts_with("HTTP/1.") {
                return Err(HttpError::Malformed("not HTTP/1.x"));
            }
            status = Some(
                code.parse()
                    .map_err(|_| HttpError::Malformed("status code"))?,
            );
            continue;
        }
        if text.is_empty() {
            break;
        }
        let (name, value) = text
            .split_once(':')
            .ok_or(HttpError::Malformed("header line"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| HttpError::Malformed("content-length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked(None),
        (false, Some(0)) => Framing::Done,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    };
    Ok(Response {
        status: status.unwrap_or(0),
        body: Body {
            conn,
            framing,
            pending: Vec::new(),
            scanned: 0,
        },
    })
}

impl<S: AsyncRead + Unpin> Body<S> {
    /// The next line of the body without its `\n` (and `\r`), `None` at the end of the body.
    /// A last line without `\n` is returned too. Lines longer than `max` are an error.
    pub async fn read_line(&mut self, max: usize) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            if let Some(i) = self.pending[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
            {
                let end = self.scanned + i;
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                self.scanned = 0;
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            self.scanned = self.pending.len();
            if self.pending.len() > max {
                return Err(HttpError::TooLong { max });
            }
            if !self.fill().await? {
                self.scanned = 0;
                return Ok((!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending)));
            }
        }
    }

    /// The rest of the body, at most `max` bytes (more is an error).
    pub async fn read_to_end(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        while self.fill().await? {
            if self.pending.len() > max {
                return Err(HttpError::TooLong { max });
            }
        }
        self.scanned = 0;
        Ok(std::mem::take(&mut self.pending))
    }

    /// Appends the next decoded bytes to `pending`; `false` at the end of the body.
    async fn fill(&mut self) -> Result<bool, HttpError> {
        loop {
            match self.framing {
                Framing::Done => return Ok(false),
                Framing::Chunked(None) => {
                    let size = self.chunk_size().await?;
                    if size == 0 {
                        self.trailers().await?;
                        self.framing = Framing::Done;
                        return Ok(false);
                    }
                    self.framing = Framing::Chunked(Some(size));
                }
                Framing::Chunked(Some(0)) => {
                    let line = self.small_line().await?;
                    if !line.is_empty() {
                        return Err(HttpError::Malformed("chunk not followed by CRLF"));
                    }
                    self.framing = Framing::Chunked(None);
                }
                Framing::Chunked(Some(left)) | Framing::Length(left) => {
                    let n = self.copy(left, true).await?;
                    let rest = left - n as u64;
                    self.framing = match self.framing {
                        Framing::Length(_) if rest == 0 => Framing::Done,
                        Framing::Length(_) => Framing::Length(rest),
                        _ => Framing::Chunked(Some(rest)),
                    };
                    return Ok(true);
                }
                Framing::UntilClose => {
                    let n = self.copy(u64::MAX, false).await?;
                    if n == 0 {
                        self.framing = Framing::Done;
                        return Ok(false);
                    }
                    return Ok(true);
                }
            }
        }
    }

    /// Moves up to `limit` buffered bytes into `pending`. An end of stream is an error if
    /// `must` (the framing promised more).
    async fn copy(&mut self, limit: u64, must: bool) -> Result<usize, HttpError> {
        let buf = self.conn.fill_buf().await?;
        if buf.is_empty() && must {
            return Err(HttpError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let n = buf.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
        self.pending.extend_from_slice(&buf[..n]);
        self.conn.consume(n);
        Ok(n)
    }

    async fn small_line(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut line = Vec::new();
        (&mut self.conn)
            .take(MAX_CHUNK_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if !line.ends_with(b"\n") {
            return Err(if line.len() >= MAX_CHUNK_LINE {
                HttpError::TooLong {
                    max: MAX_CHUNK_LINE,
                }
            } else {
                HttpError::Io(io::ErrorKind::UnexpectedEof.into())
            });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }

    async fn chunk_size(&mut self) -> Result<u64, HttpError> {
        let line = self.small_line().await?;
        let hex = line.split(|&b| b == b';').next().unwrap_or_default();
        std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .ok_or(HttpError::Malformed("chunk size"))
    }

    async fn trailers(&mut self) -> Result<(), HttpError> {
        while !self.small_line().await?.is_empty() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests;
