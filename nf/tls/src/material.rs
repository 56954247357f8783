//! PEM bytes to rustls configurations. Every function here takes the bytes of the files
//! (so that the reloader checks and builds from one read) and says which file is at fault.
//!
//! The crypto provider is rustls' `ring` provider, named explicitly: no process-wide
//! default is installed or relied upon. Trust is pinned: the roots are the CA file's
//! certificates and nothing else (no system store, no webpki roots). Both sides offer
//! ALPN `h2` only (gRPC is HTTP/2).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the content of one file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot be read: {0}")]
    Read(#[source] std::io::Error),
    /// No `BEGIN CERTIFICATE` block.
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// A PEM block is broken (bad base64, no end line).
    #[error("is not valid PEM: {0}")]
    Pem(String),
    /// No private key block.
    #[error("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey,
    /// The key block does not decode to a key rustls can sign with.
    #[error("private key refused: {0}")]
    Key(String),
    /// The certificate cannot be used (e.g. X.509 v1, unparseable extensions).
    #[error("certificate refused: {0}")]
    Certificate(String),
    /// The key is not the certificate's.
    #[error("does not match the certificate of `{cert_key}`")]
    KeyMismatch {
        /// The config key of the certificate file.
        cert_key: String,
    },
    /// A CA certificate cannot be a trust anchor.
    #[error("certificate {index} cannot be a trust anchor: {cause}")]
    Anchor { index: usize, cause: String },
}

/// What a build step failed on: the index of the file (in the caller's list) and why.
pub(crate) type Fault = (usize, FileError);

/// The provider every configuration is built with.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(e: rustls_pki_types::pem::Error) -> FileError {
    FileError::Pem(e.to_string())
}

/// Every certificate of a PEM file; at least one.
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, FileError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(FileError::NoCertificate);
    }
    Ok(certs)
}

/// The first private key of a PEM file.
pub(crate) fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, FileError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => FileError::NoKey,
        e => pem_error(e),
    })
}

/// The trust anchors of a CA file.
pub(crate) fn roots(pem: &[u8]) -> Result<RootCertStore, FileError> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in certificates(pem)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| FileError::Anchor {
            index: i + 1,
            cause: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// A certificate chain and its key, checked to belong together. `cert` and `key` are the
/// indexes of the two files; `cert_key` the config key of the certificate file.
pub(crate) fn identity(
    cert: (usize, &[u8]),
    key: (usize, &[u8]),
    cert_key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Fault> {
    let chain = certificates(cert.1).map_err(|e| (cert.0, e))?;
    let der = private_key(key.1).map_err(|e| (key.0, e))?;
    match CertifiedKey::from_der(chain.clone(), der.clone_key(), &provider()) {
        Ok(_) => Ok((chain, der)),
        Err(rustls::Error::InconsistentKeys(_)) => Err((
            key.0,
            FileError::KeyMismatch {
                cert_key: cert_key.to_owned(),
            },
        )),
        Err(rustls::Error::InvalidCertificate(e)) => {
            let detail = format!("{e:?}");
            let why = if detail.contains("UnsupportedCertVersion") {
                "an X.509 v1 certificate: make a v3 one (with subjectAltName)".to_owned()
            } else {
                detail
            };
            Err((cert.0, FileError::Certificate(why)))
        }
        Err(e) => Err((key.0, FileError::Key(e.to_string()))),
    }
}

/// One file's index (in the caller's list) and bytes.
pub(crate) type Pem<'a> = (usize, &'a [u8]);

/// Bytes of the files a client configuration is built from, by index.
pub(crate) struct ClientPem<'a> {
    pub ca: Pem<'a>,
    /// Certificate and key for mTLS, and the config key of the certificate.
    pub identity: Option<(Pem<'a>, Pem<'a>, &'a str)>,
}

/// A client configuration: trusts the CA file only; presents the certificate when given.
pub(crate) fn client_config(pem: ClientPem<'_>) -> Result<ClientConfig, Fault> {
    let roots = roots(pem.ca.1).map_err(|e| (pem.ca.0, e))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| (pem.ca.0, FileError::Key(e.to_string())))?
        .with_root_certificates(roots);
    let mut cfg = match pem.identity {
        None => builder.with_no_client_auth(),
        Some((cert, key, cert_key)) => {
            let (chain, der) = identity(cert, key, cert_key)?;
            builder
                .with_client_auth_cert(chain, der)
                .map_err(|e| (key.0, FileError::Key(e.to_string())))?
        }
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Bytes of the files a server configuration is built from, by index.
pub(crate) struct ServerPem<'a> {
    pub cert: (usize, &'a [u8]),
    pub key: (usize, &'a [u8]),
    /// The config key of the certificate file (named by a key mismatch).
    pub cert_key: &'a str,
    /// CA of the client certificates: set, a client must present one it signed (mTLS).
    pub client_ca: Option<(usize, &'a [u8])>,
}

/// A server configuration: presents the certificate; with a client CA, requires and
/// verifies client certificates.
pub(crate) fn server_config(pem: ServerPem<'_>) -> Result<ServerConfig, Fault> {
    let (chain, der) = identity(pem.cert, pem.key, pem.cert_key)?;
    let verifier = match pem.client_ca {
        None => WebPkiClientVerifier::no_client_auth(),
        Some((i, bytes)) => {
            let roots = roots(bytes).map_err(|e| (i, e))?;
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| {
                    (
                        i,
                        FileError::Anchor {
                            index: 1,
                            cause: e.to_string(),
                        },
                    )
                })?
        }
    };
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| (pem.key.0, FileError::Key(e.to_string())))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, der)
        .map_err(|e| (pem.key.0, FileError::Key(e.to_string())))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}
