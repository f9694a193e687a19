//! Self-signed certificates generated at start, served through a resolver so the certificate
//! can be swapped at run time (the "certificate changed" fault) without restarting listeners.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub struct SwappableCert {
    current: RwLock<(Arc<CertifiedKey>, String)>,
    names: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation: {0}")]
    Gen(String),
}

/// `AB:CD:...` upper-case SHA-256 of the DER certificate, as PVE shows fingerprints.
pub fn fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn generate(names: &[String]) -> Result<(Arc<CertifiedKey>, String), CertError> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| CertError::Gen(e.to_string()))?;
    let der: CertificateDer<'static> = ck.cert.der().clone();
    let fp = fingerprint(&der);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| CertError::Gen(e.to_string()))?;
    Ok((Arc::new(CertifiedKey::new(vec![der], signer)), fp))
}

impl SwappableCert {
    pub fn new(names: Vec<String>) -> Result<Arc<Self>, CertError> {
        let cur = generate(&names)?;
        Ok(Arc::new(Self {
            current: RwLock::new(cur),
            names,
        }))
    }

    pub fn fingerprint(&self) -> String {
        self.current.read().map(|c| c.1.clone()).unwrap_or_default()
    }

    /// Generates and installs a new certificate; returns its fingerprint.
    pub fn rotate(&self) -> Result<String, CertError> {
        let next = generate(&self.names)?;
        let fp = next.1.clone();
        if let Ok(mut c) = self.current.write() {
            *c = next;
        }
        Ok(fp)
    }

    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, CertError> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| CertError::Gen(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(self.clone());
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_changes_fingerprint() {
        let c = SwappableCert::new(vec!["localhost".into()]).unwrap();
        let a = c.fingerprint();
        assert_eq!(a.len(), 32 * 3 - 1);
        let b = c.rotate().unwrap();
        assert_ne!(a, b);
        assert_eq!(c.fingerprint(), b);
        assert!(c.server_config().is_ok());
    }
}
