//! Credentials, API-token headers and ticket (password) sessions for PVE, PBS and PMG.

use super::Product;
use super::error::ProxmoxError;
use serde::Deserialize;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Renew a ticket this long before its assumed expiry, so a poll never goes out with a ticket
/// that expires mid-cycle and small clock skew between Pulse and the server does not matter.
pub const RENEW_MARGIN: Duration = Duration::from_secs(10 * 60);

impl Product {
    /// How long a login ticket is valid on this product.
    pub fn ticket_lifetime(self) -> Duration {
        match self {
            Product::Pve | Product::Pbs => Duration::from_secs(2 * 3600),
            Product::Pmg => Duration::from_secs(90 * 60),
        }
    }

    pub fn cookie_name(self) -> &'static str {
        match self {
            Product::Pve => "PVEAuthCookie",
            Product::Pbs => "PBSAuthCookie",
            Product::Pmg => "PMGAuthCookie",
        }
    }

    /// Realm used when a user name has none.
    pub fn default_realm(self) -> &'static str {
        match self {
            Product::Pve => "pam",
            Product::Pbs => "pbs",
            Product::Pmg => "pmg",
        }
    }
}

/// `user@realm!tokenname`, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenId {
    pub user: String,
    pub realm: String,
    pub name: String,
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}!{}", self.user, self.realm, self.name)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic())
}

impl TokenId {
    /// Parses the token id of the node settings.
    ///
    /// The full form `user@realm!name` is always accepted. PBS and PMG also accept a bare token
    /// name together with the separate user field (realm defaulting to `pbs`/`pmg`). PVE needs
    /// the full id: a bare name would produce a header PVE always rejects.
    pub fn parse(product: Product, token: &str, user: Option<&str>) -> Result<Self, ProxmoxError> {
        let token = token.trim();
        let bad = |why: String| ProxmoxError::Config(format!("API token id {token:?}: {why}"));
        let (user_realm, name) = match token.split_once('!') {
            Some((ur, name)) => (ur.to_owned(), name.to_owned()),
            None => {
                let u = user.map(str::trim).filter(|u| !u.is_empty());
                match (product, u) {
                    (Product::Pve, _) => {
                        return Err(bad(
                            "PVE needs the full token id, user@realm!tokenname (e.g. \
                             pulse@pve!monitoring), as shown under Datacenter > Permissions > \
                             API Tokens"
                                .into(),
                        ));
                    }
                    (_, None) => {
                        return Err(bad(
                            "give the full token id user@realm!tokenname, or fill in the user"
                                .into(),
                        ));
                    }
                    (_, Some(u)) => (u.to_owned(), token.to_owned()),
                }
            }
        };
        let (user, realm) = match user_realm.rsplit_once('@') {
            Some((u, r)) => (u.to_owned(), r.to_owned()),
            None if product == Product::Pve => {
                return Err(bad("the part before '!' must be user@realm".into()));
            }
            None => (user_realm.clone(), product.default_realm().to_owned()),
        };
        if !header_safe(&user) || !header_safe(&realm) || !header_safe(&name) {
            return Err(bad(
                "user, realm and token name must be non-empty and contain no spaces".into(),
            ));
        }
        Ok(TokenId { user, realm, name })
    }
}

/// How a client authenticates. Token auth wins when both are configured.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Ticket login; `user` is `user@realm`.
    Password {
        user: String,
        password: String,
    },
    Token {
        id: TokenId,
        secret: String,
    },
}

impl fmt::Debug for Credentials {
    // Never print secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { user, .. } => write!(f, "Password({user})"),
            Credentials::Token { id, .. } => write!(f, "Token({id})"),
        }
    }
}

impl Credentials {
    /// From the node settings fields. A token needs both id and secret; otherwise user and
    /// password are required. A user without realm gets the product's default realm.
    pub fn from_settings(
        product: Product,
        user: Option<&str>,
        password: Option<&str>,
        token_name: Option<&str>,
        token_value: Option<&str>,
    ) -> Result<Self, ProxmoxError> {
        match (some(token_name), some(token_value)) {
            (Some(name), Some(secret)) => {
                if !header_safe(secret) {
                    return Err(ProxmoxError::Config(
                        "API token secret contains spaces or non-ASCII characters".into(),
                    ));
                }
                return Ok(Credentials::Token {
                    id: TokenId::parse(product, name, user)?,
                    secret: secret.to_owned(),
                });
            }
            (Some(_), None) => {
                return Err(ProxmoxError::Config(
                    "API token id given without its secret".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ProxmoxError::Config(
                    "API token secret given without the token id".into(),
                ));
            }
            (None, None) => {}
        }
        let user = some(user).ok_or_else(|| {
            ProxmoxError::Config("no credentials: give user and password, or an API token".into())
        })?;
        // Passwords may legitimately contain spaces; only emptiness is an error.
        let password = password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ProxmoxError::Config(format!("no password given for user {user}")))?;
        let user = if user.contains('@') {
            user.to_owned()
        } else {
            format!("{user}@{}", product.default_realm())
        };
        Ok(Credentials::Password {
            user,
            password: password.to_owned(),
        })
    }

    pub fn is_token(&self) -> bool {
        matches!(self, Credentials::Token { .. })
    }

    /// `user@realm` (for tokens: the owning user).
    pub fn user(&self) -> String {
        match self {
            Credentials::Password { user, .. } => user.clone(),
            Credentials::Token { id, .. } => format!("{}@{}", id.user, id.realm),
        }
    }
}

fn some(o: Option<&str>) -> Option<&str> {
    o.map(str::trim).filter(|s| !s.is_empty())
}

/// The `Authorization` header value for token auth.
pub fn token_header(product: Product, id: &TokenId, secret: &str) -> String {
    match product {
        Product::Pve => format!("PVEAPIToken={id}={secret}"),
        Product::Pbs => format!("PBSAPIToken={id}:{secret}"),
        Product::Pmg => format!("PMGAPIToken={id}:{secret}"),
    }
}

/// Source of wall-clock time for ticket expiry; injectable so tests need not wait two hours.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|p| *p.into_inner())
    }
}

/// A login ticket and its CSRF token.
#[derive(Clone)]
pub struct Ticket {
    pub ticket: String,
    pub csrf_token: String,
    pub username: String,
    pub obtained_at: SystemTime,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("username", &self.username)
            .field("obtained_at", &self.obtained_at)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// True once `now` is within [`RENEW_MARGIN`] of the product's ticket lifetime (or the
    /// clock went backwards past the login time, which makes the age unknowable).
    pub fn needs_renewal(&self, product: Product, now: SystemTime) -> bool {
        match now.duration_since(self.obtained_at) {
            Ok(age) => age + RENEW_MARGIN >= product.ticket_lifetime(),
            Err(_) => true,
        }
    }
}

/// The `data` of a `POST /access/ticket` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TicketResponse {
    #[serde(deserialize_with = "super::de::string")]
    pub ticket: String,
    #[serde(rename = "CSRFPreventionToken", deserialize_with = "super::de::string")]
    pub csrf_prevention_token: String,
    #[serde(deserialize_with = "super::de::string")]
    pub username: String,
    /// Set when the account has two-factor authentication (PVE 7+: `NeedTFA`).
    #[serde(rename = "NeedTFA", deserialize_with = "super::de::bool")]
    pub need_tfa: bool,
    pub cap: Option<serde_json::Value>,
}

/// Form-encodes `pairs` (`application/x-www-form-urlencoded`).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids() {
        let id = TokenId::parse(Product::Pve, "pulse@pve!mon", None).unwrap();
        assert_eq!(
            token_header(Product::Pve, &id, "s3cr3t"),
            "PVEAPIToken=pulse@pve!mon=s3cr3t"
        );
        let id = TokenId::parse(Product::Pbs, "pulse@pbs!mon", None).unwrap();
        assert_eq!(
            token_header(Product::Pbs, &id, "abc"),
            "PBSAPIToken=pulse@pbs!mon:abc"
        );
        let id = TokenId::parse(Product::Pbs, "mon", Some("pulse")).unwrap();
        assert_eq!(id.to_string(), "pulse@pbs!mon");
        let id = TokenId::parse(Product::Pmg, "mon", Some("root@pam")).unwrap();
        assert_eq!(
            token_header(Product::Pmg, &id, "x"),
            "PMGAPIToken=root@pam!mon:x"
        );
        // user names containing '@' (e-mail style) keep everything before the last '@'
        let id = TokenId::parse(Product::Pve, "a@b.c@pve!t", None).unwrap();
        assert_eq!((id.user.as_str(), id.realm.as_str()), ("a@b.c", "pve"));
    }

    #[test]
    fn bad_token_ids_are_rejected() {
        for (p, t, u) in [
            (Product::Pve, "monitoring", Some("root@pam")),
            (Product::Pve, "root!mon", None),
            (Product::Pve, "@pve!mon", None),
            (Product::Pve, "root@pve!", None),
            (Product::Pve, "root@pve!a b", None),
            (Product::Pbs, "mon", None),
        ] {
            let e = TokenId::parse(p, t, u).unwrap_err();
            assert_eq!(e.kind(), crate::proxmox::ErrorKind::Config, "{t}");
        }
        let msg = TokenId::parse(Product::Pve, "monitoring", None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("user@realm!tokenname"), "{msg}");
    }

    #[test]
    fn credentials_from_settings() {
        let c =
            Credentials::from_settings(Product::Pve, Some("root"), Some("pw"), None, None).unwrap();
        assert_eq!(c.user(), "root@pam");
        let c =
            Credentials::from_settings(Product::Pbs, Some("backup"), Some("pw"), Some(""), None)
                .unwrap();
        assert_eq!(c.user(), "backup@pbs");
        // token wins over password
        let c = Credentials::from_settings(
            Product::Pve,
            Some("root@pam"),
            Some("pw"),
            Some("root@pam!t"),
            Some("sec"),
        )
        .unwrap();
        assert!(c.is_token());
        assert!(!format!("{c:?}").contains("sec"));
        assert!(Credentials::from_settings(Product::Pve, None, None, None, None).is_err());
        assert!(Credentials::from_settings(Product::Pve, Some("u"), None, None, None).is_err());
        assert!(Credentials::from_settings(Product::Pve, None, None, Some("a@b!c"), None).is_err());
        assert!(
            Credentials::from_settings(Product::Pve, None, None, Some("a@b!c"), Some("x y"))
                .is_err()
        );
    }

    #[test]
    fn renewal_window() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t = Ticket {
            ticket: String::new(),
            csrf_token: String::new(),
            username: String::new(),
            obtained_at: t0,
        };
        let at = |s| t0 + Duration::from_secs(s);
        assert!(!t.needs_renewal(Product::Pve, at(0)));
        assert!(!t.needs_renewal(Product::Pve, at(109 * 60)));
        assert!(t.needs_renewal(Product::Pve, at(110 * 60)));
        assert!(!t.needs_renewal(Product::Pmg, at(79 * 60)));
        assert!(t.needs_renewal(Product::Pmg, at(80 * 60)));
        assert!(t.needs_renewal(Product::Pve, t0 - Duration::from_secs(1)));
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(&[("username", "a@pam"), ("password", "p&w =")]),
            "username=a%40pam&password=p%26w%20%3D"
        );
    }
}
