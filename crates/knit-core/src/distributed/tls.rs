// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! TLS between coordinators and workers, so that plans, rows and the worker token do
//! not cross a network in clear.
//!
//! A worker started with a certificate and its key ([`WorkerTls`], `knit worker
//! --tls-cert FILE --tls-key FILE`) accepts only TLS connections. Coordinators (and
//! workers, which read each other's stages) reach it at `https://host:port` in the
//! worker list, and trust the certificate authorities of the PEM file `KNIT_WORKER_CA`
//! names: a certificate must name the host as the list writes it (a DNS name, or an
//! IP address as a subject alternative name). TLS is rustls on ring, the TLS stack
//! object_store's HTTP client already builds.

use std::fmt;
use std::path::Path;

use datafusion::error::{DataFusionError, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use url::Url;

use crate::error::CoreError;

/// The environment variable naming the PEM file of the certificate authorities a
/// coordinator (or worker) trusts for `https://` workers.
pub const WORKER_CA_ENV: &str = "KNIT_WORKER_CA";

/// Makes ring the process's TLS crypto provider. rustls is built with two providers
/// here (object_store's and tonic's), and then picks none by itself; installing one
/// that is already installed changes nothing.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A worker's certificate chain and private key, both PEM.
pub struct WorkerTls {
    identity: Identity,
}

impl fmt::Debug for WorkerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a secret: never in logs.
        f.debug_struct("WorkerTls").finish_non_exhaustive()
    }
}

impl WorkerTls {
    /// Reads the certificate chain of `cert` and the private key of `key`, checking
    /// that each holds what it should.
    pub fn from_files(cert: &Path, key: &Path) -> crate::Result<Self> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path).map_err(|e| {
                CoreError::invalid(format!("cannot read the {what} '{}': {e}", path.display()))
            })
        };
        let cert_pem = read(cert, "worker certificate")?;
        let key_pem = read(key, "worker key")?;
        let certificates = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .ok()
            .filter(|chain| !chain.is_empty());
        if certificates.is_none() {
            return Err(CoreError::invalid(format!(
                "'{}' holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the \
                 worker's certificate, then those of any intermediate authorities",
                cert.display()
            )));
        }
        if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
            return Err(CoreError::invalid(format!(
                "'{}' holds no PEM private key (-----BEGIN PRIVATE KEY-----, or an RSA or EC \
                 key): give the key of the worker's certificate",
                key.display()
            )));
        }
        Ok(Self {
            identity: Identity::from_pem(cert_pem, key_pem),
        })
    }

    pub(crate) fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(self.identity.clone())
    }
}

/// The TLS settings for reaching the `https://` worker `url`: the authorities of
/// `KNIT_WORKER_CA`.
pub(crate) fn client_config(url: &Url) -> Result<ClientTlsConfig> {
    let address = url.as_str().trim_end_matches('/');
    let path = std::env::var_os(WORKER_CA_ENV)
        .filter(|path| !path.is_empty())
        .ok_or_else(|| {
            DataFusionError::Configuration(format!(
                "worker {address} is reached over TLS, but {WORKER_CA_ENV} is not set: set it \
                 to the PEM file of the certificate authority that signed the workers' \
                 certificates"
            ))
        })?;
    let path = Path::new(&path);
    let pem = std::fs::read(path).map_err(|e| {
        DataFusionError::Configuration(format!(
            "{WORKER_CA_ENV}: cannot read '{}': {e}",
            path.display()
        ))
    })?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .unwrap_or_default();
    if certificates.is_empty() {
        return Err(DataFusionError::Configuration(format!(
            "{WORKER_CA_ENV}: '{}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("knit-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_default();
        dir
    }

    #[test]
    fn files_that_are_not_a_certificate_and_a_key_are_refused_naming_them() {
        let dir = scratch("refused");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, "not a certificate").unwrap_or_default();
        std::fs::write(&key, "not a key").unwrap_or_default();
        let error = WorkerTls::from_files(&cert, &key)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            matches!(&error, Err(e) if e.contains("holds no PEM certificate")
                && e.contains("cert.pem")),
            "{error:?}"
        );
        let missing = WorkerTls::from_files(&dir.join("nope.pem"), &key)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            matches!(&missing, Err(e) if e.contains("cannot read the worker certificate")),
            "{missing:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
