//! TLS to the API server with rustls (ring): the server's certificate must chain to the cluster
//! CA (no public roots, no way to skip verification), and the client certificate, if any, is
//! presented.
//!
//! Only what Kubernetes API servers need, to keep the static binary small: TLS 1.3 only (the
//! API server, k3s and microk8s speak it: Go's crypto/tls), AES-128-GCM and ChaCha20-Poly1305
//! (the latter for Raspberry Pis without AES instructions; not on x86_64), X25519 and P-256 key exchange, and
//! certificates signed with ECDSA P-256 (k3s) or RSA (microk8s, kubeadm). No TLS 1.2, no
//! P-384, no Ed25519.

use std::fmt;
use std::sync::Arc;

use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::crypto::ring::{self as provider, cipher_suite, kx_group};
use rustls::crypto::{
    CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
};
use rustls::sign::SigningKey;
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use webpki::ring as alg;

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
    let builder = ClientConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
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

/// The signature algorithms accepted from the server (certificate chain and handshake).
static SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        alg::ECDSA_P256_SHA256,
        alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        alg::RSA_PKCS1_2048_8192_SHA256,
        alg::RSA_PKCS1_2048_8192_SHA384,
        alg::RSA_PKCS1_2048_8192_SHA512,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[alg::ECDSA_P256_SHA256],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA256,
            &[alg::RSA_PKCS1_2048_8192_SHA256],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[alg::RSA_PKCS1_2048_8192_SHA384],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA512,
            &[alg::RSA_PKCS1_2048_8192_SHA512],
        ),
    ],
};

/// ring, reduced to what the API servers need (see the module notes). Built from its parts
/// rather than from `default_provider()`, so that what is left out is not linked in.
pub fn crypto_provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            // For ARM boards without AES instructions (the Pis' Cortex-A53/A72/A7/ARM1176); on
            // x86_64 every CPU that runs k3s has AES-NI, and leaving it out saves ~45 KB.
            #[cfg(not(target_arch = "x86_64"))]
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        ],
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1],
        signature_verification_algorithms: SIGNATURES,
        secure_random: &Random,
        key_provider: &Keys,
    }
}

/// The kernel's random bytes (getrandom(2)), as ring's own `SystemRandom` reads them.
#[derive(Debug)]
struct Random;

impl SecureRandom for Random {
    fn fill(&self, mut buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        while !buf.is_empty() {
            let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(GetRandomFailed);
            }
            buf = &mut buf[n as usize..];
        }
        Ok(())
    }
}

/// Client keys of every type ring signs with (k3s writes EC P-256 keys; kubeadm RSA).
#[derive(Debug)]
struct Keys;

impl KeyProvider for Keys {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        provider::sign::any_supported_type(&key_der)
    }
}

/// The name the server's certificate must carry: its IP address or DNS name.
pub fn server_name(server: &Server) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(server.host.clone()).map_err(|_| TlsError::ServerName(server.host.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls13_with_the_suites_api_servers_use() {
        let p = crypto_provider();
        assert!(p.cipher_suites.iter().all(|s| s.tls13().is_some()));
        assert_eq!(
            p.cipher_suites.len(),
            if cfg!(target_arch = "x86_64") { 1 } else { 2 }
        );
        let mut buf = [0u8; 64];
        p.secure_random.fill(&mut buf).unwrap();
        assert_ne!(buf, [0u8; 64]);
        for (scheme, _) in SIGNATURES.mapping {
            assert!(SIGNATURES.supported_schemes().contains(scheme));
        }
    }
}
