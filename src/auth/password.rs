//! Passwords: bcrypt cost 12, always hashed and verified on the blocking pool, with a cap on
//! how many run at once so a login storm cannot starve the web server of CPU.

use tokio::sync::Semaphore;

pub const COST: u32 = 12;
pub const MIN_LEN: usize = 12;
/// bcrypt only reads 72 bytes; longer passwords would be silently truncated.
pub const MAX_BYTES: usize = 72;

/// `$2a$`/`$2b$`/`$2y$` and exactly 60 characters.
pub fn is_bcrypt_hash(v: &str) -> bool {
    v.len() == 60 && (v.starts_with("$2a$") || v.starts_with("$2b$") || v.starts_with("$2y$"))
}

/// Checks a new password; the message is what the user sees.
pub fn validate_new(pw: &str) -> Result<(), String> {
    if pw.chars().count() < MIN_LEN {
        return Err(format!("Password must be at least {MIN_LEN} characters"));
    }
    if pw.len() > MAX_BYTES {
        return Err(format!("Password must be at most {MAX_BYTES} bytes"));
    }
    if pw.chars().any(char::is_control) {
        return Err("Password must not contain control characters".into());
    }
    Ok(())
}

pub struct Hasher {
    /// At most this many bcrypt runs at once; the rest wait their turn (async, no thread).
    gate: Semaphore,
    cost: u32,
}

impl Hasher {
    pub fn new(cost: u32) -> Hasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hasher {
            gate: Semaphore::new((cores / 2).max(1)),
            cost,
        }
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        // The semaphore is never closed, so acquire cannot fail; if it ever did, running
        // unthrottled is still correct.
        let _permit = self.gate.acquire().await.ok();
        match tokio::task::spawn_blocking(f).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    pub async fn hash(&self, pw: String) -> Result<String, String> {
        let cost = self.cost;
        self.blocking(move || bcrypt::hash(pw, cost).map_err(|e| e.to_string()))
            .await
    }

    /// Verifies `pw` against a bcrypt `hash`; a malformed hash never verifies.
    pub async fn verify(&self, pw: String, hash: String) -> bool {
        self.blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_shape_and_rules() {
        assert!(is_bcrypt_hash(
            "$2b$12$KIXQJ9n5Xh1m7d8wz8Q3UeC1p7sJ0F8k3Y5m9G1q2w3e4r5t6y7u."
        ));
        assert!(!is_bcrypt_hash("$2b$12$short"));
        assert!(!is_bcrypt_hash("plain-password"));
        assert!(validate_new("short").is_err());
        assert!(validate_new(&"x".repeat(73)).is_err());
        assert!(validate_new("twelve chars").is_ok());
        assert!(validate_new("twelve\nchars!").is_err());
    }

    #[tokio::test]
    async fn verify_right_and_wrong() {
        let h = Hasher::new(4);
        let hash = h.hash("correct horse".into()).await.unwrap();
        assert!(h.verify("correct horse".into(), hash.clone()).await);
        assert!(!h.verify("wrong horse".into(), hash).await);
        assert!(!h.verify("x".into(), "not a hash".into()).await);
    }
}
