//! TLS to the API server with rustls (ring provider, TLS 1.2 and 1.3): the server's
//! certificate must chain to the cluster CA (no public roots, no way to skip verification), and
//! the client certificate, if any, is presented.

use std::fmt;
use std::sync::Arc;

use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::kubeconfig::{ClientCert, Server};

#[derive(Debug)]
pub enum TlsError {
    /// The CA bundle holds no usable certificate.
    NoCa,
    /// A PEM section could not be read (`what`: the CA, the client certificate or key).
    Pem {
        what: &'static str,
        source: pki_types::pem::Error,
    },
    /// rustls refused a certificate or key.
    Rustls {
        what: &'static str,
        source: rustls::Error,
    },
    /// The server's host is neither a DNS name nor an IP address.
    ServerName(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NoCa => write!(f, "the certificate authority holds no PEM certificate"),
            TlsError::Pem { what, source } => write!(f, "{what}: {source:?}"),
            TlsError::Rustls { what, source } => write!(f, "{what}: {source}"),
            TlsError::ServerName(h) => write!(f, "{h:?} is not a valid server name"),
        }
    }
}

impl std::error::Error for TlsError {}

/// The rustls configuration for one API server.
pub fn client_config(
    ca_pem: &[u8],
    client: Option<&ClientCert>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|source| TlsError::Pem {
            what: "certificate authority",
            source,
        })?;
        roots.add(cert).map_err(|source| TlsError::Rustls {
            what: "certificate authority",
            source,
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCa);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            what: "protocol versions",
            source,
        })?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let certs = CertificateDer::pem_slice_iter(&c.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| TlsError::Pem {
                    what: "client certificate",
                    source,
                })?;
            let key =
                PrivateKeyDer::from_pem_slice(&c.key_pem).map_err(|source| TlsError::Pem {
                    what: "client key",
                    source,
                })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|source| TlsError::Rustls {
                    what: "client certificate and key",
                    source,
                })?
        }
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: its IP address or DNS name.
pub fn server_name(server: &Server) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(server.host.clone()).map_err(|_| TlsError::ServerName(server.host.clone()))
}
