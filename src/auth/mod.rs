//! Authentication and authorisation: who is calling (password session, API token, Basic,
//! reverse-proxy headers), what they may call (`access::ROUTES`), and the defences around
//! it (CSRF, lockout, rate limits, audit). `gate::check` runs for every request in
//! `server::handler` before any route handler.

pub mod access;
pub mod audit;
pub mod clock;
pub mod gate;
pub mod json_table;
pub mod lockout;
pub mod password;
pub mod ratelimit;
pub mod sessions;
pub mod setup;
pub mod tokens;

use crate::crypto::{ct_eq, random_hex, sha3_hex};
use crate::settings::{SecurityEnv, Settings};
use crate::store::{Store, StoreError};
use clock::Clock;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

pub const BOOTSTRAP_FILE: &str = ".bootstrap_token";
pub const RECOVERY_FILE: &str = ".auth_recovery";
const CREDENTIALS_SECRET: &str = "auth/credentials";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Anonymous,
    /// No authentication is configured at all: everything but `Owner` routes is open.
    Open,
    /// Recovery mode, direct loopback connection.
    Recovery,
    /// Browser session; `key` is the stored SHA3 of the cookie.
    Session {
        key: String,
    },
    Token {
        id: String,
        scopes: Vec<String>,
    },
    Basic,
    Proxy {
        admin: bool,
    },
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::Anonymous => "anonymous",
            Method::Open => "none",
            Method::Recovery => "recovery",
            Method::Session { .. } => "session",
            Method::Token { .. } => "token",
            Method::Basic => "basic",
            Method::Proxy { .. } => "proxy",
        }
    }
}

/// The caller, attached to each request (`warp::ext::get::<Principal>()`).
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user: String,
    pub method: Method,
}

impl Principal {
    pub fn anonymous() -> Principal {
        Principal {
            user: String::new(),
            method: Method::Anonymous,
        }
    }
    pub fn is_authenticated(&self) -> bool {
        self.method != Method::Anonymous
    }
    pub fn is_admin(&self) -> bool {
        match &self.method {
            Method::Anonymous => false,
            Method::Proxy { admin } => *admin,
            _ => true,
        }
    }
    /// Token callers need the scope; everyone else authenticated passes.
    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.method {
            Method::Token { scopes, .. } => tokens::scopes_grant(scopes, scope),
            Method::Anonymous => false,
            _ => true,
        }
    }
}

/// The client address as the gate resolved it (`warp::ext::get::<ClientIp>()`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    pub ip: IpAddr,
    /// Peer is loopback and no forwarding header is present: a local process, not a proxy.
    pub direct_loopback: bool,
    pub tls: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredCredentials {
    user: String,
    hash: String,
    /// Set when the password was changed through the API while `PULSE_AUTH_*` was set:
    /// the fingerprint of those env values. While the env still says the same, the stored
    /// (newer) password wins; once an admin puts a new value in the env, the env wins.
    #[serde(default)]
    env_fingerprint: Option<String>,
    changed_at: String,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub hash: String,
    pub source: &'static str,
    pub changed_at: String,
}

fn env_fingerprint(sec: &SecurityEnv) -> Option<String> {
    match (&sec.auth_user, &sec.auth_pass) {
        (Some(u), Some(p)) => Some(sha3_hex(format!("{u}\0{}", p.0).as_bytes())),
        _ => None,
    }
}

pub struct Auth {
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
    pub data_dir: PathBuf,
    pub env: SecurityEnv,
    creds: RwLock<Option<Credentials>>,
    pub hasher: password::Hasher,
    pub tokens: tokens::TokenStore,
    pub sessions: sessions::SessionStore,
    pub lockout: lockout::Lockout,
    pub limiter: ratelimit::RateLimiter,
    pub setup_codes: setup::SetupCodes,
    pub audit: audit::AuditLog,
    /// SHA3 of the bootstrap token while one is active.
    bootstrap: RwLock<Option<String>>,
    recovery: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthInitError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("PULSE_AUTH_PASS: cannot hash: {0}")]
    Hash(String),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

impl Auth {
    /// Loads everything from the store and the environment. Hashes a plain-text
    /// `PULSE_AUTH_PASS` (bcrypt cost 12) — call before the async runtime serves requests.
    pub fn new(
        store: Arc<Store>,
        settings: &Settings,
        clock: Arc<dyn Clock>,
        bcrypt_cost: u32,
    ) -> Result<Auth, AuthInitError> {
        let sec = settings.security.clone();
        let stored: Option<StoredCredentials> = match store.get_secret(CREDENTIALS_SECRET)? {
            Some(json) => serde_json::from_str(&json).ok(),
            None => None,
        };
        let fp = env_fingerprint(&sec);
        let creds = match (&sec.auth_user, &sec.auth_pass) {
            (Some(u), Some(p)) => {
                match stored.filter(|s| fp.is_some() && s.env_fingerprint == fp) {
                    Some(s) => Some(Credentials {
                        user: s.user,
                        hash: s.hash,
                        source: "stored",
                        changed_at: s.changed_at,
                    }),
                    None => {
                        let hash = if password::is_bcrypt_hash(&p.0) {
                            p.0.clone()
                        } else {
                            bcrypt::hash(&p.0, bcrypt_cost)
                                .map_err(|e| AuthInitError::Hash(e.to_string()))?
                        };
                        Some(Credentials {
                            user: u.clone(),
                            hash,
                            source: "env",
                            changed_at: String::new(),
                        })
                    }
                }
            }
            _ => stored.map(|s| Credentials {
                user: s.user,
                hash: s.hash,
                source: "stored",
                changed_at: s.changed_at,
            }),
        };
        let auth = Auth {
            tokens: tokens::TokenStore::load(store.clone(), clock.clone(), &sec.api_tokens)?,
            sessions: sessions::SessionStore::load(store.clone(), clock.clone())?,
            lockout: lockout::Lockout::load(store.clone(), clock.clone())?,
            limiter: ratelimit::RateLimiter::new(clock.clone()),
            setup_codes: setup::SetupCodes::new(clock.clone()),
            audit: audit::AuditLog::new(store.clone(), clock.clone()),
            hasher: password::Hasher::new(bcrypt_cost),
            data_dir: settings.data_dir.clone(),
            env: sec,
            creds: RwLock::new(creds),
            bootstrap: RwLock::new(None),
            recovery: AtomicBool::new(settings.data_dir.join(RECOVERY_FILE).exists()),
            store,
            clock,
        };
        auth.sync_bootstrap()?;
        Ok(auth)
    }

    pub fn credentials(&self) -> Option<Credentials> {
        self.creds.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn has_password(&self) -> bool {
        self.creds
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Any way to authenticate exists; without one the server is open (first run).
    pub fn auth_configured(&self) -> bool {
        self.has_password() || !self.tokens.is_empty() || self.env.proxy_auth.is_some()
    }

    /// Tokens but no password and no proxy: every protected call needs a token.
    pub fn api_only(&self) -> bool {
        !self.has_password() && self.env.proxy_auth.is_none() && !self.tokens.is_empty()
    }

    /// Stores new credentials (sealed) and applies them at once. Every session ends.
    pub fn set_credentials(&self, user: &str, hash: String) -> Result<(), StoreError> {
        let changed_at = clock::rfc3339(self.clock.now_ms());
        let rec = StoredCredentials {
            user: user.to_string(),
            hash: hash.clone(),
            env_fingerprint: env_fingerprint(&self.env),
            changed_at: changed_at.clone(),
        };
        let json = serde_json::to_string(&rec).map_err(|e| StoreError::BadValue {
            key: CREDENTIALS_SECRET.into(),
            reason: e.to_string(),
        })?;
        self.store.put_secret(CREDENTIALS_SECRET, &json)?;
        *self.creds.write().unwrap_or_else(|p| p.into_inner()) = Some(Credentials {
            user: user.to_string(),
            hash,
            source: "stored",
            changed_at,
        });
        self.sessions.revoke_all()?;
        Ok(())
    }

    /// Verifies a user name and password. An unknown user name is checked against the real
    /// hash too (and then refused), so it takes exactly as long as a wrong password.
    pub async fn verify_password(&self, user: &str, pw: &str) -> bool {
        let Some(creds) = self.credentials() else {
            return false;
        };
        let user_ok = ct_eq(creds.user.as_bytes(), user.as_bytes());
        let pw_ok = self.hasher.verify(pw.to_string(), creds.hash).await;
        user_ok && pw_ok
    }

    // --- bootstrap token (first run) ---

    /// Creates (or reuses) `<data>/.bootstrap_token` while nothing is configured; removes
    /// it once something is.
    pub fn sync_bootstrap(&self) -> Result<(), AuthInitError> {
        let path = self.data_dir.join(BOOTSTRAP_FILE);
        let ferr = |e: std::io::Error| AuthInitError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut slot = self.bootstrap.write().unwrap_or_else(|p| p.into_inner());
        if self.auth_configured() {
            *slot = None;
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!("authentication configured; bootstrap token removed"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ferr(e)),
            }
            return Ok(());
        }
        let existing = std::fs::read_to_string(&path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()));
        let token = match existing {
            Some(t) => t,
            None => {
                let t = random_hex::<24>();
                let _ = std::fs::remove_file(&path);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(ferr)?;
                f.write_all(format!("{t}\n").as_bytes()).map_err(ferr)?;
                f.sync_all().map_err(ferr)?;
                t
            }
        };
        tracing::warn!(
            path = %path.display(),
            "no authentication configured: finish setup with the bootstrap token in this file (pulse bootstrap-token prints it)"
        );
        *slot = Some(sha3_hex(token.as_bytes()));
        Ok(())
    }

    pub fn bootstrap_active(&self) -> bool {
        self.bootstrap
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    pub fn bootstrap_valid(&self, raw: &str) -> bool {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 256 {
            return false;
        }
        self.bootstrap
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|h| ct_eq(h.as_bytes(), sha3_hex(raw.as_bytes()).as_bytes()))
    }

    // --- recovery mode ---

    pub fn recovery_mode(&self) -> bool {
        self.recovery.load(Ordering::SeqCst)
    }

    pub fn set_recovery_mode(&self, on: bool) -> std::io::Result<()> {
        let path = self.data_dir.join(RECOVERY_FILE);
        if on {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)?
                .write_all(b"recovery mode: loopback requests skip authentication\n")?;
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.recovery.store(on, Ordering::SeqCst);
        Ok(())
    }

    /// The client IP: the socket peer, or — only when the peer is a trusted proxy — the
    /// nearest untrusted address in `X-Forwarded-For` (walked right to left, so a client
    /// cannot choose its own IP by prepending entries), then `X-Real-IP`.
    pub fn client_ip(&self, peer: IpAddr, headers: &warp::http::HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        let trusted = |ip: &IpAddr| self.env.trusted_proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let xff: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        if let Some(ip) = xff.iter().rev().find(|ip| !trusted(ip)) {
            return *ip;
        }
        if let Some(ip) = headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return canonical(ip);
        }
        xff.first().copied().unwrap_or(peer)
    }
}

/// The export/import rule (spec/security.md §9), for the config export endpoints: an
/// authenticated admin when auth is configured; with no auth configured, only clients on
/// private networks (or anyone with `ALLOW_UNPROTECTED_EXPORT=true`). `what` is "Export"
/// or "Import". Errors are (status, message).
pub fn export_allowed(
    auth_configured: bool,
    allow_unprotected: bool,
    p: &Principal,
    client: &ClientIp,
    what: &str,
) -> Result<(), (u16, String)> {
    if matches!(p.method, Method::Proxy { admin: false }) {
        return Err((403, "Admin privileges required for export/import".into()));
    }
    if auth_configured {
        let ok = p.is_authenticated() && p.method != Method::Open;
        return if ok {
            Ok(())
        } else {
            Err((
                401,
                "Unauthorized - please log in or provide API token".into(),
            ))
        };
    }
    if is_private(client.ip) || allow_unprotected {
        Ok(())
    } else {
        Err((
            403,
            format!("{what} requires authentication on public networks"),
        ))
    }
}

/// IPv4-mapped IPv6 addresses are the IPv4 address (one client, one rate-limit bucket).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Loopback, private and link-local ranges (spec/security.md §9).
pub fn is_private(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientIp {
        ClientIp {
            ip: ip.parse().unwrap(),
            direct_loopback: false,
            tls: false,
        }
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn export_rule() {
        let open = Principal {
            user: String::new(),
            method: Method::Open,
        };
        let anon = Principal::anonymous();
        let viewer = Principal {
            user: "v".into(),
            method: Method::Proxy { admin: false },
        };
        let tok = Principal {
            user: "t".into(),
            method: Method::Token {
                id: "x".into(),
                scopes: vec!["*".into()],
            },
        };
        assert!(export_allowed(false, false, &open, &client("192.168.1.5"), "Export").is_ok());
        assert_eq!(
            export_allowed(false, false, &open, &client("8.8.8.8"), "Import").unwrap_err(),
            (
                403,
                "Import requires authentication on public networks".to_string()
            )
        );
        assert!(export_allowed(false, true, &open, &client("8.8.8.8"), "Export").is_ok());
        assert_eq!(
            export_allowed(true, false, &anon, &client("10.0.0.1"), "Export")
                .unwrap_err()
                .0,
            401
        );
        assert!(export_allowed(true, false, &tok, &client("8.8.8.8"), "Export").is_ok());
        assert_eq!(
            export_allowed(true, false, &viewer, &client("10.0.0.1"), "Export")
                .unwrap_err()
                .0,
            403
        );
    }

    #[test]
    fn client_ip_trusts_only_configured_proxies() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let env: std::collections::HashMap<&str, &str> =
            [("PULSE_TRUSTED_PROXY_CIDRS", "10.0.0.0/24")]
                .into_iter()
                .collect();
        let settings = crate::settings::resolve(
            &Default::default(),
            &env,
            dir.path().to_path_buf(),
            &Default::default(),
        )
        .unwrap();
        let auth = Auth::new(store, &settings, Arc::new(clock::ManualClock::new(0)), 4).unwrap();
        let mut h = warp::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.0.0.7".parse().unwrap(),
        );
        let untrusted: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            auth.client_ip(untrusted, &h),
            untrusted,
            "untrusted peer: header ignored"
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            auth.client_ip(proxy, &h),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "right-most untrusted hop, not the spoofable left-most"
        );
        let mut h = warp::http::HeaderMap::new();
        h.insert("x-real-ip", "203.0.113.77".parse().unwrap());
        assert_eq!(
            auth.client_ip(proxy, &h),
            "203.0.113.77".parse::<IpAddr>().unwrap()
        );
        assert_eq!(auth.client_ip(proxy, &warp::http::HeaderMap::new()), proxy);
        // First run: a bootstrap token file exists and validates.
        let t = std::fs::read_to_string(dir.path().join(BOOTSTRAP_FILE)).unwrap();
        assert!(auth.bootstrap_valid(t.trim()));
        assert!(!auth.bootstrap_valid("0000"));
        assert!(!auth.bootstrap_valid(""));
    }
}
