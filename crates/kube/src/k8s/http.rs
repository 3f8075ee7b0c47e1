//! The HTTP/1.1 client side the API source needs, over any async stream (TLS in practice):
//! one request per connection (`Connection: close`), a response head, and a body framed by
//! `Content-Length`, `Transfer-Encoding: chunked` or the end of the connection.
//!
//! The body is read either whole ([`Body::read_to_end`], for LIST) or line by line
//! ([`Body::read_line`], for WATCH streams): lines are cut at `\n` in the *decoded* body, so a
//! chunk boundary anywhere (inside an event, or several events in one chunk) is invisible. Both
//! are bounded, and a connection that ends before the body's framing says it is complete is an
//! error (`UnexpectedEof`), never a short body.
//!
//! The heads are written and parsed by Lichen's one HTTP/1.1 codec, [`lichen_parse::http`]; this
//! module adds the async I/O and the body's decoding.

use std::fmt;
use std::io;

use smol::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use lichen_parse::http as codec;

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

impl From<codec::Error> for HttpError {
    fn from(e: codec::Error) -> Self {
        match e {
            codec::Error::Malformed(what) => HttpError::Malformed(what),
            codec::Error::TooLong { max } => HttpError::TooLong { max },
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
    let auth = req.bearer.map(|token| format!("Bearer {token}"));
    let mut length = String::new();
    if !req.body.is_empty() || req.method != "GET" {
        length = req.body.len().to_string();
    }
    let headers = [
        ("Host", req.host),
        ("User-Agent", concat!("lichen/", env!("CARGO_PKG_VERSION"))),
        ("Accept", "application/json"),
        ("Connection", "close"),
        ("Authorization", auth.as_deref().unwrap_or_default()),
        ("Content-Type", req.content_type.unwrap_or_default()),
        ("Content-Length", &length),
    ];
    let head = codec::request_head(req.method, req.target, &headers);
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(req.body).await?;
    stream.flush().await?;
    read_head(BufReader::new(stream)).await
}

async fn read_head<S: AsyncRead + Unpin>(mut conn: BufReader<S>) -> Result<Response<S>, HttpError> {
    let mut reader = codec::HeadReader::new(MAX_HEAD);
    loop {
        let buf = conn.fill_buf().await?;
        if buf.is_empty() {
            return Err(HttpError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let (taken, done) = reader.push(buf)?;
        conn.consume(taken);
        if done {
            break;
        }
    }
    let head = codec::Head::parse(reader.head())?;
    let status = codec::parse_status_line(head.start)?;
    let framing = match head.framing()? {
        codec::Framing::Chunked => Framing::Chunked(None),
        codec::Framing::Length(0) => Framing::Done,
        codec::Framing::Length(n) => Framing::Length(n),
        codec::Framing::UntilClose => Framing::UntilClose,
    };
    Ok(Response {
        status,
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
        Ok(codec::parse_chunk_size(&self.small_line().await?)?)
    }

    async fn trailers(&mut self) -> Result<(), HttpError> {
        while !self.small_line().await?.is_empty() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests;
