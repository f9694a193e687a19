//! TLS modes for talking to Proxmox servers, and the rustls client configs behind them.
//!
//! Proxmox installs ship a self-signed certificate, so users either turn verification off, pin
//! the certificate's SHA-256 fingerprint (what the Proxmox GUI shows), or install a real
//! certificate and verify normally. Pinning *replaces* chain and hostname checks: a cluster node
//! reached by IP with a self-signed certificate must still be accepted when the hash matches.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::sync::{Arc, Mutex};

/// How the server certificate is checked.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Chain and hostname verified against the webpki (Mozilla) roots plus `extra_roots`
    /// (DER certificates, e.g. a private CA).
    Verify { extra_roots: Vec<Vec<u8>> },
    /// Any certificate accepted (Proxmox's default self-signed setup). Traffic is still encrypted.
    NoVerify,
    /// Only a leaf certificate whose SHA-256 digest equals this value (64 lower-case hex chars).
    Pinned { sha256_hex: String },
}

impl fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsMode::Verify { extra_roots } => {
                write!(f, "Verify({} extra roots)", extra_roots.len())
            }
            TlsMode::NoVerify => f.write_str("NoVerify"),
            TlsMode::Pinned { sha256_hex } => write!(f, "Pinned({sha256_hex})"),
        }
    }
}

impl TlsMode {
    /// The mode for the node settings `verifySSL` + `fingerprint`: a non-empty fingerprint wins
    /// (pinning), else `verifySSL` decides. A malformed fingerprint is a configuration error.
    pub fn from_settings(
        verify_ssl: bool,
        fingerprint: Option<&str>,
    ) -> Result<Self, super::ProxmoxError> {
        match fingerprint.map(str::trim).filter(|f| !f.is_empty()) {
            Some(fp) => Ok(TlsMode::Pinned {
                sha256_hex: normalize_fingerprint(fp).map_err(super::ProxmoxError::Config)?,
            }),
            None if verify_ssl => Ok(TlsMode::Verify {
                extra_roots: Vec::new(),
            }),
            None => Ok(TlsMode::NoVerify),
        }
    }
}

/// Normalises a user-entered SHA-256 fingerprint: `:` and whitespace removed, lower-cased, must
/// be 64 hex digits (the form shown by the Proxmox GUI is `AB:CD:...`).
pub fn normalize_fingerprint(input: &str) -> Result<String, String> {
    let hex: String = input
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "fingerprint must be the certificate's SHA-256 digest: 64 hex digits, optionally separated by ':' (got {} characters)",
            hex.len()
        ));
    }
    Ok(hex)
}

/// SHA-256 of a DER certificate as lower-case hex.
pub fn sha256_hex(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    hex::encode(digest.as_ref())
}

/// Formats a lower-case hex digest the way Proxmox shows it (`AB:CD:...`).
pub fn colon_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// Raised by the pinning verifier; carried through rustls as `CertificateError::Other` and
/// recovered by the error classifier, so the user sees both digests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate fingerprint mismatch: expected {expected}, got {got}")]
pub struct FingerprintMismatch {
    pub expected: String,
    pub got: String,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client config for a mode. `seen_leaf`, when given, records the leaf
/// certificate of the last handshake (used by [`crate::proxmox::http::fetch_fingerprint`]).
pub fn client_config(
    mode: &TlsMode,
    seen_leaf: Option<Arc<Mutex<Option<Vec<u8>>>>>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let algs = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        TlsMode::Verify { extra_roots } => {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            for der in extra_roots {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| format!("extra root certificate: {e}"))?;
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::new(rustls::crypto::ring::default_provider()),
            )
            .build()
            .map_err(|e| format!("TLS setup: {e}"))?
        }
        TlsMode::NoVerify => Arc::new(PinOrAny {
            pin: None,
            algs,
            seen_leaf,
        }),
        TlsMode::Pinned { sha256_hex } => Arc::new(PinOrAny {
            pin: Some(sha256_hex.clone()),
            algs,
            seen_leaf,
        }),
    };
    let mut cfg = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Verifier for "no verification" (`pin == None`) and "fingerprint pin". Handshake signatures
/// are still checked properly in both modes, so the peer must own the presented certificate's
/// key: a pinned fingerprint cannot be replayed by someone who only copied the certificate.
#[derive(Debug)]
struct PinOrAny {
    pin: Option<String>,
    algs: WebPkiSupportedAlgorithms,
    seen_leaf: Option<Arc<Mutex<Option<Vec<u8>>>>>,
}

impl ServerCertVerifier for PinOrAny {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(slot) = &self.seen_leaf
            && let Ok(mut g) = slot.lock()
        {
            *g = Some(end_entity.as_ref().to_vec());
        }
        let Some(expected) = &self.pin else {
            return Ok(ServerCertVerified::assertion());
        };
        let got = sha256_hex(end_entity.as_ref());
        if &got == expected {
            Ok(ServerCertVerified::assertion())
        } else {
            let err = FingerprintMismatch {
                expected: colon_hex(expected),
                got: colon_hex(&got),
            };
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(err))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_normalisation() {
        let fp = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&fp).unwrap(), "ab".repeat(32));
        assert_eq!(
            normalize_fingerprint(&" ab".repeat(32)).unwrap(),
            "ab".repeat(32)
        );
        assert!(normalize_fingerprint("abc").is_err());
        assert!(normalize_fingerprint(&"zz".repeat(32)).is_err());
        assert_eq!(colon_hex("abcd"), "AB:CD");
    }

    #[test]
    fn mode_from_settings() {
        assert_eq!(
            TlsMode::from_settings(false, None).unwrap(),
            TlsMode::NoVerify
        );
        assert_eq!(
            TlsMode::from_settings(false, Some("  ")).unwrap(),
            TlsMode::NoVerify
        );
        assert!(matches!(
            TlsMode::from_settings(true, None).unwrap(),
            TlsMode::Verify { .. }
        ));
        let fp = "0".repeat(64);
        assert_eq!(
            TlsMode::from_settings(true, Some(&fp)).unwrap(),
            TlsMode::Pinned { sha256_hex: fp }
        );
        assert!(TlsMode::from_settings(false, Some("12:34")).is_err());
    }
}
