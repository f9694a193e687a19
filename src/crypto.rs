//! Secret sealing: AES-256-GCM with a random 96-bit nonce per value, and the key file beside
//! the database. The sealed layout is `nonce(12) ‖ ciphertext ‖ tag(16)`, the same as the
//! reference's `*.enc` files, so exported material stays byte-compatible.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const KEY_FILE: &str = ".encryption.key";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value is too short to be valid")]
    Truncated,
    #[error("sealed value does not open with this key (wrong key or tampered data)")]
    Open,
    #[error("key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
}

/// Seals and opens secrets with one AES-256 key. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key hidden>)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        let cipher = Aes256Gcm::new_from_slice(key).expect("a 32-byte key is always valid");
        Sealer { cipher }
    }

    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let ct = self
            .cipher
            .encrypt(&nonce, plain)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), ct)
            .map_err(|_| CryptoError::Open)
    }
}

/// Reads `<dir>/.encryption.key` (base64 of exactly 32 bytes). `Ok(None)` when absent.
pub fn read_key(dir: &Path) -> Result<Option<[u8; 32]>, CryptoError> {
    let path = dir.join(KEY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CryptoError::KeyFile {
                path,
                reason: e.to_string(),
            });
        }
    };
    let bytes = B64.decode(text.trim()).map_err(|_| CryptoError::KeyFile {
        path: path.clone(),
        reason: "not valid base64".into(),
    })?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::KeyFile {
        path: path.clone(),
        reason: "does not hold a 32-byte key".into(),
    })?;
    Ok(Some(key))
}

/// Creates a new random key file with mode 0600; fails if one already exists.
pub fn create_key(dir: &Path) -> Result<[u8; 32], CryptoError> {
    let path = dir.join(KEY_FILE);
    let key: [u8; 32] = rand::random();
    let err = |e: std::io::Error| CryptoError::KeyFile {
        path: path.clone(),
        reason: e.to_string(),
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    f.write_all(B64.encode(key).as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    // The umask cannot widen 0600, but an explicit chmod documents the intent.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(key)
}

/// SHA3-256 of `data`, lower-case hex: how API tokens, sessions and setup codes are stored.
pub fn sha3_hex(data: &[u8]) -> String {
    use sha3::{Digest, Sha3_256};
    hex::encode(Sha3_256::digest(data))
}

/// Constant-time equality, so comparing a guess with a secret leaks no prefix length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `N` random bytes as lower-case hex (2N chars).
pub fn random_hex<const N: usize>() -> String {
    hex::encode(rand::random::<[u8; N]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha3_and_ct_eq() {
        // Known answer: SHA3-256("abc").
        assert_eq!(
            sha3_hex(b"abc"),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        let a = random_hex::<16>();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex::<16>());
    }

    #[test]
    fn seal_open_roundtrip_and_fresh_nonce() {
        let s = Sealer::new(&[7u8; 32]);
        let a = s.seal(b"hunter2");
        let b = s.seal(b"hunter2");
        assert_ne!(a, b, "each seal must use a fresh nonce");
        assert_eq!(a.len(), 12 + 7 + 16);
        assert_eq!(s.open(&a).unwrap(), b"hunter2");
    }

    #[test]
    fn wrong_key_tamper_and_truncation_are_errors() {
        let s = Sealer::new(&[1u8; 32]);
        let other = Sealer::new(&[2u8; 32]);
        let mut sealed = s.seal(b"secret");
        assert!(matches!(other.open(&sealed), Err(CryptoError::Open)));
        sealed[14] ^= 1;
        assert!(matches!(s.open(&sealed), Err(CryptoError::Open)));
        assert!(matches!(s.open(&[0u8; 10]), Err(CryptoError::Truncated)));
    }

    #[test]
    fn key_file_is_0600_and_rereads() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_key(dir.path()).unwrap().is_none());
        let k = create_key(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_key(dir.path()).unwrap(), Some(k));
        assert!(create_key(dir.path()).is_err(), "never overwrite a key");
        fs::write(dir.path().join(KEY_FILE), "c2hvcnQ=").unwrap();
        assert!(read_key(dir.path()).is_err());
    }
}
