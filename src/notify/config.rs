//! Channel configuration (email, webhooks, Apprise, pipeline options) and how it is kept:
//! each document is sealed whole in the store's `secrets` table, because every one of them
//! can hold credentials (SMTP password, bot tokens in URLs, API keys in headers).

use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SECRET_EMAIL: &str = "notify/email";
pub const SECRET_WEBHOOKS: &str = "notify/webhooks";
pub const SECRET_APPRISE: &str = "notify/apprise";
pub const SETTINGS_KEY: &str = "notifications";
/// What GET returns in place of a stored secret; submitting it back keeps the stored value.
pub const REDACTED: &str = "***REDACTED***";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailConfig {
    pub enabled: bool,
    pub provider: String,
    pub server: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub from: String,
    pub to: Vec<String>,
    pub tls: bool,
    #[serde(rename = "startTLS", alias = "starttls", alias = "startTls")]
    pub start_tls: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reply_to: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            enabled: false,
            provider: String::new(),
            server: String::new(),
            port: 587,
            username: String::new(),
            password: String::new(),
            from: String::new(),
            to: Vec::new(),
            tls: true,
            start_tls: false,
            reply_to: String::new(),
        }
    }
}

impl EmailConfig {
    /// Recipients; none configured means the sender itself (as the reference does).
    pub fn recipients(&self) -> Vec<String> {
        let to: Vec<String> = self
            .to
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if to.is_empty() && !self.from.is_empty() {
            vec![self.from.clone()]
        } else {
            to
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub enabled: bool,
    pub service: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
}

impl Webhook {
    /// The masked form for GET: header and custom-field values are secrets.
    pub fn masked(&self) -> Webhook {
        let mut w = self.clone();
        for v in w.headers.values_mut() {
            *v = REDACTED.into();
        }
        for v in w.custom_fields.values_mut() {
            *v = REDACTED.into();
        }
        w
    }

    /// Fills values submitted as `***REDACTED***` from `old` (a client round-tripping the
    /// masked object must not overwrite real secrets, which the reference did).
    pub fn keep_secrets_from(&mut self, old: &Webhook) {
        for (k, v) in self.headers.iter_mut() {
            if v == REDACTED
                && let Some(o) = old.headers.get(k)
            {
                *v = o.clone();
            }
        }
        for (k, v) in self.custom_fields.iter_mut() {
            if v == REDACTED
                && let Some(o) = old.custom_fields.get(k)
            {
                *v = o.clone();
            }
        }
    }

    pub fn method(&self) -> String {
        let m = self.method.trim().to_ascii_uppercase();
        if m.is_empty() { "POST".into() } else { m }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppriseConfig {
    pub enabled: bool,
    pub mode: String,
    pub targets: Vec<String>,
    pub cli_path: String,
    pub timeout_seconds: i64,
    #[serde(rename = "serverUrl", alias = "serverURL")]
    pub server_url: String,
    pub config_key: String,
    pub api_key: String,
    pub api_key_header: String,
    pub skip_tls_verify: bool,
}

impl Default for AppriseConfig {
    fn default() -> Self {
        AppriseConfig {
            enabled: false,
            mode: "cli".into(),
            targets: vec![],
            cli_path: "apprise".into(),
            timeout_seconds: 15,
            server_url: String::new(),
            config_key: String::new(),
            api_key: String::new(),
            api_key_header: "X-API-KEY".into(),
            skip_tls_verify: false,
        }
    }
}

impl AppriseConfig {
    /// The reference's normalisation (spec §4).
    pub fn normalize(&mut self) {
        self.mode = if self.mode.trim().eq_ignore_ascii_case("http") {
            "http".into()
        } else {
            "cli".into()
        };
        let mut seen = std::collections::HashSet::new();
        self.targets = self
            .targets
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
            .collect();
        if self.cli_path.trim().is_empty() {
            self.cli_path = "apprise".into();
        }
        self.cli_path = self.cli_path.trim().into();
        if self.timeout_seconds <= 0 {
            self.timeout_seconds = 15;
        }
        self.timeout_seconds = self.timeout_seconds.clamp(5, 120);
        self.server_url = self.server_url.trim().trim_end_matches('/').into();
        self.config_key = self.config_key.trim().into();
        self.api_key = self.api_key.trim().into();
        if self.api_key_header.trim().is_empty() {
            self.api_key_header = "X-API-KEY".into();
        }
        if (self.mode == "cli" && self.targets.is_empty())
            || (self.mode == "http" && self.server_url.is_empty())
        {
            self.enabled = false;
        }
    }
}

/// Pipeline options (`GET/POST /api/notifications/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PipelineSettings {
    /// Send a "resolved" notification when an alert ends (the reference never does).
    pub notify_on_resolved: bool,
    /// Delivery attempts before an item goes to the dead letter queue.
    pub max_attempts: u32,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            notify_on_resolved: false,
            max_attempts: 3,
        }
    }
}

fn load_sealed<T: serde::de::DeserializeOwned + Default>(
    store: &Store,
    name: &str,
) -> Result<T, StoreError> {
    match store.get_secret(name)? {
        None => Ok(T::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::BadValue {
            key: name.into(),
            reason: e.to_string(),
        }),
    }
}

fn save_sealed<T: Serialize>(store: &Store, name: &str, v: &T) -> Result<(), StoreError> {
    let json = serde_json::to_string(v).map_err(|e| StoreError::BadValue {
        key: name.into(),
        reason: e.to_string(),
    })?;
    store.put_secret(name, &json)
}

pub fn load_email(store: &Store) -> Result<EmailConfig, StoreError> {
    load_sealed(store, SECRET_EMAIL)
}
pub fn save_email(store: &Store, c: &EmailConfig) -> Result<(), StoreError> {
    save_sealed(store, SECRET_EMAIL, c)
}
pub fn load_webhooks(store: &Store) -> Result<Vec<Webhook>, StoreError> {
    load_sealed(store, SECRET_WEBHOOKS)
}
pub fn save_webhooks(store: &Store, w: &[Webhook]) -> Result<(), StoreError> {
    save_sealed(store, SECRET_WEBHOOKS, &w)
}
pub fn load_apprise(store: &Store) -> Result<AppriseConfig, StoreError> {
    let mut c: AppriseConfig = load_sealed(store, SECRET_APPRISE)?;
    c.normalize();
    Ok(c)
}
pub fn save_apprise(store: &Store, c: &AppriseConfig) -> Result<(), StoreError> {
    save_sealed(store, SECRET_APPRISE, c)
}
pub fn load_pipeline(store: &Store) -> Result<PipelineSettings, StoreError> {
    Ok(store.get_setting(SETTINGS_KEY)?.unwrap_or_default())
}
pub fn save_pipeline(store: &Store, p: &PipelineSettings) -> Result<(), StoreError> {
    store.put_setting(SETTINGS_KEY, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_secrets_are_sealed_and_masked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut w = Webhook {
            id: "w1".into(),
            url: "https://hooks.example/bot-SECRETTOKEN-123/x".into(),
            ..Default::default()
        };
        w.headers
            .insert("Authorization".into(), "Bearer HEADER-SECRET-456".into());
        save_webhooks(&store, std::slice::from_ref(&w)).unwrap();
        let m = w.masked();
        assert_eq!(m.headers["Authorization"], REDACTED);
        let mut back = m.clone();
        back.keep_secrets_from(&w);
        assert_eq!(back.headers["Authorization"], "Bearer HEADER-SECRET-456");
        assert_eq!(load_webhooks(&store).unwrap(), vec![w]);
        drop(store);
        let bytes = std::fs::read(dir.path().join(crate::store::DB_FILE)).unwrap();
        for s in ["SECRETTOKEN", "HEADER-SECRET"] {
            assert!(
                !bytes.windows(s.len()).any(|x| x == s.as_bytes()),
                "{s} in plain text"
            );
        }
    }

    #[test]
    fn apprise_normalisation() {
        let mut c = AppriseConfig {
            enabled: true,
            mode: "weird".into(),
            targets: vec![" a ".into(), "A".into(), "".into()],
            timeout_seconds: 500,
            ..Default::default()
        };
        c.normalize();
        assert_eq!(c.mode, "cli");
        assert_eq!(c.targets, vec!["a"]);
        assert_eq!(c.timeout_seconds, 120);
        assert!(c.enabled);
        let mut h = AppriseConfig {
            enabled: true,
            mode: "http".into(),
            ..Default::default()
        };
        h.normalize();
        assert!(!h.enabled, "http mode without a server is off");
    }
}
