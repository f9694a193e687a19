//! Authentication the way the products do it: `POST /access/ticket` (JSON or form body) returns a
//! ticket for the `<Product>AuthCookie` cookie plus a CSRF token; API tokens come in the
//! `Authorization` header (`PVEAPIToken=USER@REALM!ID=SECRET`, `PBSAPIToken=USER@REALM!ID:SECRET`).
//! PMG has no API tokens, as the real product. Tickets carry their issue time and an HMAC-style
//! signature over a per-instance key and a generation counter, so they expire with the simulated
//! clock and can be invalidated all at once by the fault injector.

use super::api::{ApiError, Principal};
use super::noise::hash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    Pve,
    Pbs,
    Pmg,
}

impl Product {
    pub fn prefix(self) -> &'static str {
        match self {
            Product::Pve => "PVE",
            Product::Pbs => "PBS",
            Product::Pmg => "PMG",
        }
    }
    pub fn cookie(self) -> String {
        format!("{}AuthCookie", self.prefix())
    }
    /// Ticket lifetime of the real products (2 h for all three).
    pub fn ticket_lifetime(self) -> i64 {
        7200
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub product: Product,
    pub user: String,
    pub password: String,
    /// Full token id, e.g. `root@pam!pulse`; None for PMG.
    pub token_id: Option<String>,
    pub token_secret: Option<String>,
    /// A token with audit rights only, to test degraded permissions.
    pub limited_token_id: Option<String>,
    pub limited_token_secret: Option<String>,
    key: [u8; 32],
}

fn uuid_like(h1: u64, h2: u64) -> String {
    let b = format!("{h1:016x}{h2:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &b[0..8],
        &b[8..12],
        &b[12..16],
        &b[16..20],
        &b[20..32]
    )
}

impl Credentials {
    pub fn generate(product: Product, seed: u64, instance: &str) -> Self {
        let k = super::noise::key(instance);
        let h = |salt: u64| hash(&[seed, k, salt]);
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&h(100 + i as u64).to_le_bytes());
        }
        let (user, tokens) = match product {
            Product::Pve => ("root@pam", true),
            Product::Pbs => ("root@pam", true),
            Product::Pmg => ("root@pam", false),
        };
        Self {
            product,
            user: user.into(),
            password: format!("sim-{:012x}", h(1) & 0xFFFF_FFFF_FFFF),
            token_id: tokens.then(|| format!("{user}!pulse")),
            token_secret: tokens.then(|| uuid_like(h(2), h(3))),
            limited_token_id: tokens.then(|| match product {
                Product::Pbs => "audit@pbs!limited".to_string(),
                _ => "audit@pve!limited".to_string(),
            }),
            limited_token_secret: tokens.then(|| uuid_like(h(4), h(5))),
            key,
        }
    }

    fn sign(&self, user: &str, time: i64, generation: u64) -> String {
        let mut d = Sha256::new();
        d.update(self.key);
        d.update(generation.to_le_bytes());
        d.update(user.as_bytes());
        d.update(time.to_le_bytes());
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(d.finalize())
    }

    pub fn issue_ticket(&self, user: &str, now: i64, generation: u64) -> String {
        format!(
            "{}:{user}:{now:08X}::{}",
            self.product.prefix(),
            self.sign(user, now, generation)
        )
    }

    pub fn csrf_token(&self, now: i64) -> String {
        let sig = self.sign("csrf", now, 0);
        format!("{now:08X}:{}", &sig[..43.min(sig.len())])
    }

    /// Body of a successful `POST /access/ticket`.
    pub fn ticket_response(&self, user: &str, now: i64, generation: u64) -> Value {
        let mut v = json!({"username": user, "ticket": self.issue_ticket(user, now, generation),
            "CSRFPreventionToken": self.csrf_token(now)});
        if let Some(m) = v.as_object_mut() {
            match self.product {
                Product::Pve => {
                    m.insert("cap".into(), json!({
                        "vms": {"VM.Audit": 1, "VM.Monitor": 1, "VM.PowerMgmt": 1, "VM.Console": 1, "VM.Backup": 1, "VM.Snapshot": 1, "VM.Allocate": 1, "Permissions.Modify": 1},
                        "storage": {"Datastore.Audit": 1, "Datastore.Allocate": 1, "Datastore.AllocateSpace": 1, "Permissions.Modify": 1},
                        "nodes": {"Sys.Audit": 1, "Sys.Console": 1, "Sys.Modify": 1, "Sys.PowerMgmt": 1, "Sys.Syslog": 1, "Permissions.Modify": 1},
                        "dc": {"Sys.Audit": 1}, "access": {"User.Modify": 1, "Group.Allocate": 1, "Permissions.Modify": 1}}));
                }
                Product::Pmg => {
                    m.insert("role".into(), json!("root"));
                }
                Product::Pbs => {}
            }
        }
        v
    }

    /// Checks username/password of a login; realm default as the products apply it.
    pub fn login(&self, username: &str, password: &str) -> bool {
        let full = if username.contains('@') {
            username.to_string()
        } else {
            format!("{username}@pam")
        };
        full == self.user && constant_eq(password.as_bytes(), self.password.as_bytes())
    }

    /// Authenticates a request from its `Authorization` and `Cookie` headers.
    /// `not_before`: tickets issued before this instant are treated as expired (fault injection).
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        cookie: Option<&str>,
        now: i64,
        generation: u64,
        not_before: i64,
    ) -> Result<Principal, ApiError> {
        if let Some(auth) = authorization {
            return self.check_token(auth);
        }
        let name = self.product.cookie();
        let ticket = cookie.and_then(|c| {
            c.split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned()
                })
        });
        let Some(ticket) = ticket else {
            return Err(ApiError::new(401, "No ticket"));
        };
        self.check_ticket(&ticket, now, generation, not_before)
    }

    fn check_ticket(
        &self,
        t: &str,
        now: i64,
        generation: u64,
        not_before: i64,
    ) -> Result<Principal, ApiError> {
        let bad = || ApiError::new(401, "authentication failure");
        let mut parts = t.splitn(5, ':');
        let (Some(prefix), Some(user), Some(time), Some(""), Some(sig)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        if prefix != self.product.prefix() {
            return Err(bad());
        }
        let issued = i64::from_str_radix(time, 16).map_err(|_| bad())?;
        if !constant_eq(
            sig.as_bytes(),
            self.sign(user, issued, generation).as_bytes(),
        ) {
            return Err(bad());
        }
        if issued > now + 300
            || now - issued > self.product.ticket_lifetime()
            || issued < not_before
        {
            return Err(ApiError::new(
                401,
                "authentication failure - ticket expired",
            ));
        }
        Ok(Principal::Ticket {
            user: user.to_string(),
        })
    }

    fn check_token(&self, header: &str) -> Result<Principal, ApiError> {
        let bad = || ApiError::new(401, "authentication failure");
        let (scheme, rest) = header.split_once('=').ok_or_else(bad)?;
        let expected = match self.product {
            Product::Pve => "PVEAPIToken",
            Product::Pbs => "PBSAPIToken",
            // PMG has no API tokens: the header is not an authentication method there
            Product::Pmg => return Err(ApiError::new(401, "No ticket")),
        };
        if scheme.trim() != expected {
            return Err(bad());
        }
        let sep = if self.product == Product::Pve {
            '='
        } else {
            ':'
        };
        // PBS: the id itself contains ':' nowhere, so split at the last separator
        let (id, secret) = rest.rsplit_once(sep).ok_or_else(bad)?;
        let matches = |tid: &Option<String>, ts: &Option<String>| {
            tid.as_deref() == Some(id)
                && ts
                    .as_deref()
                    .is_some_and(|s| constant_eq(s.as_bytes(), secret.as_bytes()))
        };
        if matches(&self.token_id, &self.token_secret) {
            return Ok(Principal::Token {
                id: id.into(),
                limited: false,
            });
        }
        if matches(&self.limited_token_id, &self.limited_token_secret) {
            return Ok(Principal::Token {
                id: id.into(),
                limited: true,
            });
        }
        Err(bad())
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credential a request claims, for accounting (before it is checked).
pub fn claimed_credential(
    product: Product,
    authorization: Option<&str>,
    cookie: Option<&str>,
) -> String {
    if let Some(a) = authorization {
        let sep = if product == Product::Pve { '=' } else { ':' };
        return a
            .split_once('=')
            .and_then(|(_, rest)| rest.rsplit_once(sep))
            .map(|(id, _)| format!("token:{id}"))
            .unwrap_or_else(|| "token:<malformed>".into());
    }
    let name = product.cookie();
    cookie
        .and_then(|c| {
            c.split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| {
                    let v = percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned();
                    format!("ticket:{}", v.split(':').nth(1).unwrap_or("?"))
                })
        })
        .unwrap_or_else(|| "anonymous".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_roundtrip_expiry_and_generation() {
        let c = Credentials::generate(Product::Pve, 1, "cluster1");
        let t = c.issue_ticket("root@pam", 1000, 0);
        let cookie = format!("PVEAuthCookie={t}");
        assert!(c.authenticate(None, Some(&cookie), 1100, 0, 0).is_ok());
        assert_eq!(
            c.authenticate(None, Some(&cookie), 1000 + 7201, 0, 0)
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            c.authenticate(None, Some(&cookie), 1100, 1, 0)
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            c.authenticate(None, Some(&cookie), 1100, 0, 1001)
                .unwrap_err()
                .status,
            401
        );
        let pbs_cookie = format!("PBSAuthCookie={t}");
        assert!(c.authenticate(None, Some(&pbs_cookie), 1100, 0, 0).is_err());
    }

    #[test]
    fn tokens_per_product() {
        let c = Credentials::generate(Product::Pve, 1, "cluster1");
        let ok = format!(
            "PVEAPIToken=root@pam!pulse={}",
            c.token_secret.clone().unwrap()
        );
        assert_eq!(
            c.authenticate(Some(&ok), None, 0, 0, 0).unwrap(),
            Principal::Token {
                id: "root@pam!pulse".into(),
                limited: false
            }
        );
        let lim = format!(
            "PVEAPIToken=audit@pve!limited={}",
            c.limited_token_secret.clone().unwrap()
        );
        assert!(c.authenticate(Some(&lim), None, 0, 0, 0).unwrap().limited());
        assert!(
            c.authenticate(Some("PVEAPIToken=root@pam!pulse=wrong"), None, 0, 0, 0)
                .is_err()
        );
        assert!(c.authenticate(Some("garbage"), None, 0, 0, 0).is_err());
        let b = Credentials::generate(Product::Pbs, 1, "pbs1");
        let ok = format!(
            "PBSAPIToken=root@pam!pulse:{}",
            b.token_secret.clone().unwrap()
        );
        assert!(b.authenticate(Some(&ok), None, 0, 0, 0).is_ok());
        // PVE syntax against PBS fails
        let wrong = format!(
            "PVEAPIToken=root@pam!pulse={}",
            b.token_secret.clone().unwrap()
        );
        assert!(b.authenticate(Some(&wrong), None, 0, 0, 0).is_err());
        let m = Credentials::generate(Product::Pmg, 1, "pmg1");
        assert!(m.token_id.is_none());
        assert!(
            m.authenticate(Some("PMGAPIToken=root@pam!x:y"), None, 0, 0, 0)
                .is_err()
        );
    }

    #[test]
    fn login_checks_password_and_realm() {
        let c = Credentials::generate(Product::Pve, 9, "x");
        assert!(c.login("root@pam", &c.password.clone()));
        assert!(c.login("root", &c.password.clone()));
        assert!(!c.login("root@pam", "nope"));
        assert!(!c.login("admin@pve", &c.password.clone()));
    }
}
