//! Where the API server is and how to authenticate to it: a kubeconfig file (`--kubeconfig`,
//! e.g. k3s's /etc/rancher/k3s/k3s.yaml) or the pod's service account (`--kube`).
//!
//! From a kubeconfig only the current context is read: its cluster's `server` and
//! `certificate-authority(-data)`, its user's `client-certificate(-data)`/`client-key(-data)`
//! and/or `token`/`tokenFile`. Relative file paths are relative to the kubeconfig's directory.
//! TLS is always verified against the cluster CA: a kubeconfig without one, or with
//! `insecure-skip-tls-verify: true`, is refused. Exec and auth-provider plugins are not
//! supported (there is no binary to run on a minimal node).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::base64;
use super::yaml::{self, Flat};

/// The service account's mount in every pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeConfig {
    pub server: Server,
    /// PEM: the CA certificate(s) the server's certificate must chain to.
    pub ca_pem: Vec<u8>,
    pub token: Option<TokenSource>,
    pub client_cert: Option<ClientCert>,
}

/// `https://host:port/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// A DNS name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Prepended to every API path (`""` or `/something`, no trailing slash).
    pub base_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Static(String),
    /// Re-read when the file changes and after a 401 (projected service-account tokens rotate).
    File(PathBuf),
}

/// PEM certificate chain and private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientCert({} bytes, key hidden)", self.cert_pem.len())
    }
}

#[derive(Debug)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Yaml {
        path: PathBuf,
        line: usize,
        what: &'static str,
    },
    /// Something the configuration must name is absent (the path of the missing field).
    Missing(String),
    Invalid {
        field: String,
        value: String,
    },
    /// The configuration asks for TLS without verification; Lichen never does that.
    Insecure,
    /// An environment variable needed in-cluster is unset.
    Env(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => write!(f, "reading {}: {source}", path.display()),
            ConfigError::Yaml { path, line, what } => {
                write!(f, "{} line {line}: {what}", path.display())
            }
            ConfigError::Missing(what) => write!(f, "kubeconfig has no {what}"),
            ConfigError::Invalid { field, value } => {
                write!(f, "invalid {field}: {value:?}")
            }
            ConfigError::Insecure => write!(
                f,
                "insecure-skip-tls-verify is set: lichen always verifies the API server against the cluster CA"
            ),
            ConfigError::Env(var) => write!(f, "{var} is not set (not running in a pod?)"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads `path` (a kubeconfig, a certificate, a token): a file larger than
/// [`yaml::MAX_BYTES`] is refused without reading all of it.
fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    use std::io::{Error, ErrorKind, Read};
    let mut out = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(yaml::MAX_BYTES as u64 + 1).read_to_end(&mut out))
        .and_then(|n| {
            if n > yaml::MAX_BYTES {
                Err(Error::new(ErrorKind::InvalidData, "larger than 1 MiB"))
            } else {
                Ok(())
            }
        })
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(out)
}

impl KubeConfig {
    /// The pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the CA and token
    /// under [`SERVICE_ACCOUNT_DIR`].
    pub fn in_cluster() -> Result<KubeConfig, ConfigError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .map_err(|_| ConfigError::Env("KUBERNETES_SERVICE_HOST"))?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT")
            .map_err(|_| ConfigError::Env("KUBERNETES_SERVICE_PORT"))?;
        KubeConfig::service_account(Path::new(SERVICE_ACCOUNT_DIR), &host, &port)
    }

    /// A service account mounted at `dir` (`ca.crt`, `token`), server `host`:`port`.
    pub fn service_account(dir: &Path, host: &str, port: &str) -> Result<KubeConfig, ConfigError> {
        let port = port.parse().map_err(|_| ConfigError::Invalid {
            field: "KUBERNETES_SERVICE_PORT".into(),
            value: port.into(),
        })?;
        let token = dir.join("token");
        read(&token)?; // fail early if it is not there
        Ok(KubeConfig {
            server: Server {
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port,
                base_path: String::new(),
            },
            ca_pem: read(&dir.join("ca.crt"))?,
            token: Some(TokenSource::File(token)),
            client_cert: None,
        })
    }

    /// Reads a kubeconfig file (its current context).
    pub fn from_file(path: &Path) -> Result<KubeConfig, ConfigError> {
        let text = read(path)?;
        let text = String::from_utf8_lossy(&text);
        let flat = yaml::flatten(&text).map_err(|e| ConfigError::Yaml {
            path: path.to_owned(),
            line: e.line,
            what: e.what,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        from_flat(&flat, dir)
    }
}

/// The `section` entry (e.g. `clusters.3`) whose `name` is `name`.
fn named(flat: &Flat, section: &str, name: &str) -> Result<String, ConfigError> {
    let has = |prefix: &str| {
        flat.0
            .range(prefix.to_owned()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(prefix))
    };
    (0..)
        .map(|i| format!("{section}.{i}"))
        .take_while(|p| has(&format!("{p}.")))
        .find(|p| flat.get(&format!("{p}.name")) == Some(name))
        .ok_or_else(|| ConfigError::Missing(format!("{section} entry named {name:?}")))
}

fn from_flat(flat: &Flat, dir: &Path) -> Result<KubeConfig, ConfigError> {
    let context_name = flat
        .get("current-context")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ConfigError::Missing("current-context".into()))?;
    let ctx = named(flat, "contexts", context_name)?;
    let field = |p: &str| field(flat, p);
    let cluster_name = field(&format!("{ctx}.context.cluster"))
        .ok_or_else(|| ConfigError::Missing(format!("cluster in context {context_name:?}")))?;
    let cluster = format!("{}.cluster", named(flat, "clusters", cluster_name)?);
    if field(&format!("{cluster}.insecure-skip-tls-verify")) == Some("true") {
        return Err(ConfigError::Insecure);
    }
    let server = field(&format!("{cluster}.server"))
        .ok_or_else(|| ConfigError::Missing(format!("server for cluster {cluster_name:?}")))?;
    let server = parse_server(server)?;
    let ca_pem = data_or_file(flat, dir, &cluster, "certificate-authority")?.ok_or_else(|| {
        ConfigError::Missing(format!(
            "certificate-authority for cluster {cluster_name:?}"
        ))
    })?;
    let (token, client_cert) = match field(&format!("{ctx}.context.user")) {
        Some(user_name) => credentials(flat, dir, user_name)?,
        None => (None, None),
    };
    Ok(KubeConfig {
        server,
        ca_pem,
        token,
        client_cert,
    })
}

/// A non-empty value.
fn field<'a>(flat: &'a Flat, path: &str) -> Option<&'a str> {
    flat.get(path).filter(|v| !v.is_empty())
}

/// `{prefix}.{key}-data` (base64), else the file `{prefix}.{key}` names (relative to `dir`).
fn data_or_file(
    flat: &Flat,
    dir: &Path,
    prefix: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    if let Some(data) = field(flat, &format!("{prefix}.{key}-data")) {
        return base64::decode(data)
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid {
                field: format!("{key}-data"),
                value: "(not base64)".into(),
            });
    }
    field(flat, &format!("{prefix}.{key}"))
        .map(|f| read(&dir.join(f)))
        .transpose()
}

/// The user `user_name`'s token and client certificate, each if given.
fn credentials(
    flat: &Flat,
    dir: &Path,
    user_name: &str,
) -> Result<(Option<TokenSource>, Option<ClientCert>), ConfigError> {
    let field = |p: &str| field(flat, p);
    let user = format!("{}.user", named(flat, "users", user_name)?);
    let token = match (
        field(&format!("{user}.token")),
        field(&format!("{user}.tokenFile")),
    ) {
        (Some(t), _) => Some(TokenSource::Static(t.to_owned())),
        (None, Some(f)) => Some(TokenSource::File(dir.join(f))),
        (None, None) => None,
    };
    let cert = data_or_file(flat, dir, &user, "client-certificate")?;
    let key = data_or_file(flat, dir, &user, "client-key")?;
    let client_cert = match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => Some(ClientCert { cert_pem, key_pem }),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Missing(format!(
                "client-certificate and client-key together for user {user_name:?}"
            )))
        }
    };
    Ok((token, client_cert))
}

/// `https://host[:port][/prefix]`; plain http is refused.
pub fn parse_server(url: &str) -> Result<Server, ConfigError> {
    let invalid = || ConfigError::Invalid {
        field: "server".into(),
        value: url.into(),
    };
    let rest = url.strip_prefix("https://").ok_or_else(invalid)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(invalid)?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| invalid())?,
        None => 443,
    };
    if host.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    Ok(Server {
        host: host.to_owned(),
        port,
        base_path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests;
