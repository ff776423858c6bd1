//! TLS for `serve --tls-cert FILE --tls-key FILE`: the certificate chain and private key (PEM)
//! read and checked at start, and the acceptor every connection's handshake goes through.
//!
//! rustls with the `ring` provider, the one already linked for the AMQP client: no OpenSSL, no
//! second crypto library. HTTP/1.1 only, as the plain listener.

use crate::error::UsageError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto::ring, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A loaded certificate and key. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    cert: PathBuf,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("cert", &self.cert).finish()
    }
}

impl Tls {
    /// Reads the certificate chain and the key; an unreadable file, a file without a
    /// certificate or key, or a key that does not belong to the certificate is a usage error
    /// that names the file.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, UsageError> {
        let chain = read_certs(cert)?;
        let key_der = read_key(key)?;
        let provider = Arc::new(ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| UsageError(format!("cannot set up TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(|e| {
                UsageError(format!(
                    "--tls-cert {} with --tls-key {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert: cert.to_path_buf(),
        })
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, UsageError> {
    std::fs::read(path)
        .map_err(|e| UsageError(format!("{flag} {}: cannot read: {e}", path.display())))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, UsageError> {
    let bytes = read("--tls-cert", path)?;
    let bad = |what: String| UsageError(format!("--tls-cert {}: {what}", path.display()));
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
    if chain.is_empty() {
        return Err(bad(
            "no PEM certificate in it (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, UsageError> {
    let bytes = read("--tls-key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        UsageError(format!(
            "--tls-key {}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1): {e}",
            path.display()
        ))
    })
}
