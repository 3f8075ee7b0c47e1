//! A client for one API server: a TLS connection per request (to the cluster CA, with the client
//! certificate if configured), the bearer token (re-read when its file changes and after a 401,
//! then the request is retried once), and the errors callers can tell apart.

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use pki_types::ServerName;
use serde::Deserialize;
use smol::net::TcpStream;

use super::http::{self, HttpError, Request, Response};
use super::kubeconfig::{KubeConfig, Server, TokenSource};
use super::tls::{self, TlsError};
use super::ParseError;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an error response body kept for the message.
const MAX_ERROR_BODY: usize = 64 << 10;

pub type Conn = TlsStream<TcpStream>;

#[derive(Debug)]
pub enum ApiError {
    /// TCP connection to the server failed.
    Connect { server: String, source: io::Error },
    /// The TLS handshake failed (e.g. the server's certificate is not from the cluster CA).
    Tls { server: String, source: io::Error },
    /// Reading or writing the exchange failed, or the response is not HTTP.
    Http(HttpError),
    /// The server answered with an error status; `message` is its Status message if any.
    Status { code: u16, message: String },
    /// The token file cannot be read.
    Token { path: PathBuf, source: io::Error },
    /// A response body is not the JSON expected.
    Parse(ParseError),
    /// The configuration cannot be used (CA, client certificate or key, server name).
    Config(TlsError),
}

impl ApiError {
    /// The HTTP status, for `Status` errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Connect { server, source } => write!(f, "connecting to {server}: {source}"),
            ApiError::Tls { server, source } => write!(f, "TLS with {server}: {source}"),
            ApiError::Http(e) => write!(f, "{e}"),
            ApiError::Status { code, message } => {
                write!(f, "API server answered {code}: {message}")
            }
            ApiError::Token { path, source } => {
                write!(f, "reading token {}: {source}", path.display())
            }
            ApiError::Parse(e) => write!(f, "API response: {e}"),
            ApiError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Connect { source, .. }
            | ApiError::Tls { source, .. }
            | ApiError::Token { source, .. } => Some(source),
            ApiError::Http(e) => Some(e),
            ApiError::Parse(e) => Some(e),
            ApiError::Config(e) => Some(e),
            ApiError::Status { .. } => None,
        }
    }
}

impl From<HttpError> for ApiError {
    fn from(e: HttpError) -> Self {
        ApiError::Http(e)
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::Parse(e)
    }
}

/// The token as last read, and what its file looked like then.
#[derive(Default)]
struct CachedToken {
    value: String,
    /// (inode, mtime ns, length) of the file when read.
    stamp: Option<(u64, i64, u64)>,
}

pub struct Client {
    server: Server,
    /// `host:port` for the Host header and messages.
    authority: String,
    name: ServerName<'static>,
    tls: TlsConnector,
    token: Option<TokenSource>,
    cached: Mutex<CachedToken>,
}

impl Client {
    pub fn new(config: &KubeConfig) -> Result<Client, ApiError> {
        let tls = tls::client_config(&config.ca_pem, config.client_cert.as_ref())
            .map_err(ApiError::Config)?;
        let name = tls::server_name(&config.server).map_err(ApiError::Config)?;
        let host = &config.server.host;
        let authority = if host.contains(':') {
            format!("[{host}]:{}", config.server.port)
        } else {
            format!("{host}:{}", config.server.port)
        };
        Ok(Client {
            server: config.server.clone(),
            authority,
            name,
            tls: TlsConnector::from(tls),
            token: config.token.clone(),
            cached: Mutex::new(CachedToken::default()),
        })
    }

    /// `https://host:port`, for messages.
    pub fn server(&self) -> String {
        format!("https://{}", self.authority)
    }

    /// Sends one request; `path` is the API path with its query (the kubeconfig's path prefix
    /// is added). A 401 with a token file re-reads the token and retries once if it changed.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Response<Conn>, ApiError> {
        let target = format!("{}{path}", self.server.base_path);
        let mut retried = false;
        loop {
            let token = self.token(false)?;
            let conn = self.connect().await?;
            let req = Request {
                method,
                target: &target,
                host: &self.authority,
                bearer: token.as_deref(),
                content_type,
                body,
            };
            let resp = http::send(conn, &req).await?;
            if resp.status == 401 && !retried && matches!(self.token, Some(TokenSource::File(_))) {
                retried = true;
                let fresh = self.token(true)?;
                if fresh != token {
                    log::info!("API: token rejected; retrying with the re-read token");
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// GET `path` and return the body of a 200 answer (at most `max` bytes).
    pub async fn get(&self, path: &str, max: usize) -> Result<Vec<u8>, ApiError> {
        let resp = self.request("GET", path, None, &[]).await?;
        ok_body(resp, max).await
    }

    /// PATCH `path` with `body` of `content_type`; the answer must be 2xx.
    pub async fn patch(&self, path: &str, content_type: &str, body: &[u8]) -> Result<(), ApiError> {
        let resp = self
            .request("PATCH", path, Some(content_type), body)
            .await?;
        ok_body(resp, MAX_ERROR_BODY).await.map(drop)
    }

    async fn connect(&self) -> Result<Conn, ApiError> {
        let server = self.server();
        let host = self.server.host.as_str();
        let tcp = timeout(TcpStream::connect((host, self.server.port)))
            .await
            .map_err(|source| ApiError::Connect {
                server: server.clone(),
                source,
            })?;
        tcp.set_nodelay(true).ok();
        timeout(self.tls.connect(self.name.clone(), tcp))
            .await
            .map_err(|source| ApiError::Tls { server, source })
    }

    /// The bearer token: re-read if `force` or its file changed since it was read.
    fn token(&self, force: bool) -> Result<Option<String>, ApiError> {
        let path = match &self.token {
            None => return Ok(None),
            Some(TokenSource::Static(t)) => return Ok(Some(t.clone())),
            Some(TokenSource::File(p)) => p,
        };
        let err = |source| ApiError::Token {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(err)?;
        let stamp = Some((
            meta.ino(),
            meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
            meta.len(),
        ));
        let mut cached = self.cached.lock().expect("token lock");
        if force || cached.stamp != stamp {
            let text = std::fs::read_to_string(path).map_err(err)?;
            cached.value = text.trim().to_owned();
            cached.stamp = stamp;
        }
        Ok(Some(cached.value.clone()))
    }
}

async fn timeout<T>(f: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    smol::future::or(f, async {
        smol::Timer::after(CONNECT_TIMEOUT).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    })
    .await
}

/// The body of a 2xx response, or the error the response stands for.
pub async fn ok_body(mut resp: Response<Conn>, max: usize) -> Result<Vec<u8>, ApiError> {
    if (200..300).contains(&resp.status) {
        return Ok(resp.body.read_to_end(max).await?);
    }
    let body = resp
        .body
        .read_to_end(MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    Err(status_error(resp.status, &body))
}

/// A `Status` object's fields (the API's error body, also the object of an ERROR watch event).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

/// The error for an HTTP `code` with `body` (a Status object, or anything).
pub fn status_error(code: u16, body: &[u8]) -> ApiError {
    let message = match super::json::from_json::<Status>(body) {
        Ok(s) if !s.message.is_empty() => s.message,
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    };
    ApiError::Status { code, message }
}
