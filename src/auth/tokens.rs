//! API tokens: 32 random bytes shown once as 64 hex chars, stored only as SHA3-256, with
//! scopes. Tokens from `API_TOKEN(S)` live in memory only, so removing the variable
//! revokes them.

use super::clock::{Clock, rfc3339};
use super::json_table;
use crate::crypto::{ct_eq, random_hex, sha3_hex};
use crate::store::{Store, StoreError, tables::API_TOKENS};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// The canonical scopes (spec/security.md §4.3).
pub const SCOPES: &[&str] = &[
    "monitoring:read",
    "monitoring:write",
    "docker:report",
    "docker:manage",
    "host-agent:report",
    "host-agent:manage",
    "settings:read",
    "settings:write",
];
pub const WILDCARD: &str = "*";
/// How stale a persisted `lastUsedAt` may get: at most one write per token per minute.
const LAST_USED_PERSIST_MS: u64 = 60_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    /// SHA3-256 of the raw token, hex. Never leaves the server.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub hash: String,
    pub prefix: String,
    pub suffix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub scopes: Vec<String>,
    /// `stored` (redb) or `env` (`API_TOKEN(S)`, read-only).
    #[serde(default = "stored")]
    pub source: String,
    #[serde(default, skip_serializing)]
    pub created_ms: u64,
}

fn stored() -> String {
    "stored".into()
}

impl TokenRecord {
    /// The record as the API shows it: no hash.
    pub fn public(&self) -> TokenRecord {
        TokenRecord {
            hash: String::new(),
            ..self.clone()
        }
    }
    pub fn has_scope(&self, scope: &str) -> bool {
        scopes_grant(&self.scopes, scope)
    }
    pub fn hint(&self) -> String {
        format!("{}...{}", self.prefix, self.suffix)
    }
}

/// Whether `held` grants `needed`. `*` grants everything; a `:write` scope also grants
/// the matching `:read` (a token that may change settings may read them too).
pub fn scopes_grant(held: &[String], needed: &str) -> bool {
    held.iter().any(|s| {
        s == WILDCARD
            || s == needed
            || (needed.ends_with(":read")
                && s.strip_suffix(":write") == needed.strip_suffix(":read"))
    })
}

/// Validates requested scopes exactly as documented: absent ⇒ `["*"]`; empty list, blank or
/// unknown entries, `*` mixed with others ⇒ an error message; duplicates removed; sorted.
pub fn normalize_scopes(req: Option<Vec<String>>) -> Result<Vec<String>, String> {
    let Some(list) = req else {
        return Ok(vec![WILDCARD.into()]);
    };
    if list.is_empty() {
        return Err("select at least one scope or omit the field for full access".into());
    }
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err("scope entries must not be blank".into());
        }
        if s != WILDCARD && !SCOPES.contains(&s.as_str()) {
            let shown: String = s.chars().take(64).collect();
            return Err(format!("unknown scope \"{shown}\""));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() > 1 && out.iter().any(|s| s == WILDCARD) {
        return Err("wildcard scope \"*\" cannot be combined with other scopes".into());
    }
    out.sort();
    Ok(out)
}

struct Entry {
    rec: TokenRecord,
    /// Extra accepted hash: an env value that is itself 64 hex chars may be a stored hash
    /// (the reference wrote hashes into .env) or a raw token; both are accepted.
    alt_hash: Option<String>,
    persisted_used_ms: u64,
    used_ms: u64,
}

pub struct TokenStore {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    entries: RwLock<Vec<Entry>>,
}

/// A freshly minted token: the raw value (shown once) and its record.
pub struct Minted {
    pub raw: String,
    pub record: TokenRecord,
}

/// Writes one stored token record (also used for the throttled `lastUsedAt`).
pub fn persist_record(store: &Store, rec: &TokenRecord) -> Result<(), StoreError> {
    json_table::write(store, API_TOKENS, &[(rec.id.clone(), Some(rec))], false)
}

fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

fn is_hex64(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

impl TokenStore {
    pub fn load(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        env_tokens: &[crate::settings::Secret],
    ) -> Result<TokenStore, StoreError> {
        let mut entries = Vec::new();
        for (id, rec) in json_table::load::<TokenRecord>(&store, API_TOKENS)? {
            match rec {
                Ok(rec) => entries.push(Entry {
                    rec,
                    alt_hash: None,
                    persisted_used_ms: 0,
                    used_ms: 0,
                }),
                // One bad row must not lock everyone out; it is skipped and named.
                Err(e) => tracing::error!(id, error = %e, "unreadable API token record skipped"),
            }
        }
        let now = clock.now_ms();
        for (i, t) in env_tokens.iter().enumerate() {
            let v = t.0.as_str();
            let (hash, alt) = if is_hex64(v) {
                (v.to_ascii_lowercase(), Some(sha3_hex(v.as_bytes())))
            } else {
                (sha3_hex(v.as_bytes()), None)
            };
            let (prefix, suffix) = (head(v, 6), tail(v, 4));
            entries.push(Entry {
                rec: TokenRecord {
                    id: format!("env-{}", &sha3_hex(hash.as_bytes())[..12]),
                    name: format!("From environment ({prefix})"),
                    hash,
                    prefix,
                    suffix,
                    created_at: rfc3339(now),
                    last_used_at: None,
                    scopes: vec![WILDCARD.into()],
                    source: "env".into(),
                    // Env tokens sort after stored ones, in the order given.
                    created_ms: i as u64,
                },
                alt_hash: alt,
                persisted_used_ms: 0,
                used_ms: 0,
            });
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.rec.created_ms));
        Ok(TokenStore {
            store,
            clock,
            entries: RwLock::new(entries),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Newest first; the first is the "primary" token whose hint the status page shows.
    pub fn list(&self) -> Vec<TokenRecord> {
        self.read().iter().map(|e| e.rec.public()).collect()
    }

    /// Validates a presented raw token (constant-time on hashes) and notes its use.
    /// Returns the record and whether its `lastUsedAt` is due to be persisted.
    pub fn validate(&self, raw: &str) -> Option<(TokenRecord, bool)> {
        if raw.is_empty() || raw.len() > 512 {
            return None;
        }
        let h = sha3_hex(raw.as_bytes());
        let now = self.clock.now_ms();
        let mut entries = self.write();
        // Compare against every entry (no early exit) so timing does not reveal position.
        let mut found = None;
        for (i, e) in entries.iter().enumerate() {
            let m = ct_eq(e.rec.hash.as_bytes(), h.as_bytes())
                | e.alt_hash
                    .as_ref()
                    .is_some_and(|a| ct_eq(a.as_bytes(), h.as_bytes()));
            if m && found.is_none() {
                found = Some(i);
            }
        }
        let e = &mut entries[found?];
        e.used_ms = now;
        e.rec.last_used_at = Some(rfc3339(now));
        let due = e.rec.source == "stored"
            && now.saturating_sub(e.persisted_used_ms) >= LAST_USED_PERSIST_MS;
        if due {
            e.persisted_used_ms = now;
        }
        Some((e.rec.clone(), due))
    }

    fn persist(&self, rec: &TokenRecord) -> Result<(), StoreError> {
        persist_record(&self.store, rec)
    }

    fn mint_record(&self, name: &str, scopes: Vec<String>, raw: &str) -> TokenRecord {
        let now = self.clock.now_ms();
        TokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            hash: sha3_hex(raw.as_bytes()),
            prefix: head(raw, 6),
            suffix: tail(raw, 4),
            created_at: rfc3339(now),
            last_used_at: None,
            scopes,
            source: stored(),
            created_ms: now,
        }
    }

    /// Creates and persists a token; the raw value is in the result only.
    pub fn create(&self, name: &str, scopes: Vec<String>) -> Result<Minted, StoreError> {
        let raw = random_hex::<32>();
        let record = self.mint_record(name, scopes, &raw);
        self.persist(&record)?;
        self.insert_sorted(record.clone());
        Ok(Minted {
            raw,
            record: record.public(),
        })
    }

    fn insert_sorted(&self, rec: TokenRecord) {
        let mut entries = self.write();
        entries.push(Entry {
            rec,
            alt_hash: None,
            persisted_used_ms: 0,
            used_ms: 0,
        });
        entries.sort_by_key(|e| std::cmp::Reverse(e.rec.created_ms));
    }

    /// Replaces every stored token with one (quick setup with a client-supplied value, or
    /// the legacy regenerate). Env tokens stay: only the environment can remove them.
    pub fn replace_all(&self, name: &str, raw: &str) -> Result<TokenRecord, StoreError> {
        let record = self.mint_record(name, vec![WILDCARD.into()], raw);
        json_table::write(
            &self.store,
            API_TOKENS,
            &[(record.id.clone(), Some(&record))],
            true,
        )?;
        self.write().retain(|e| e.rec.source == "env");
        self.insert_sorted(record.clone());
        Ok(record.public())
    }

    /// Deletes a stored token. `Ok(None)`: no such token; `Err` on an env token is handled
    /// by the caller through `is_env`.
    pub fn delete(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(rec) = self
            .read()
            .iter()
            .find(|e| e.rec.id == id && e.rec.source == "stored")
            .map(|e| e.rec.public())
        else {
            return Ok(None);
        };
        json_table::write::<TokenRecord>(
            &self.store,
            API_TOKENS,
            &[(id.to_string(), None)],
            false,
        )?;
        self.write().retain(|e| e.rec.id != id);
        Ok(Some(rec))
    }

    pub fn is_env(&self, id: &str) -> bool {
        self.read()
            .iter()
            .any(|e| e.rec.id == id && e.rec.source == "env")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::ManualClock;

    #[test]
    fn scope_rules_match_the_spec() {
        assert_eq!(normalize_scopes(None).unwrap(), ["*"]);
        assert_eq!(
            normalize_scopes(Some(vec![])).unwrap_err(),
            "select at least one scope or omit the field for full access"
        );
        assert_eq!(
            normalize_scopes(Some(vec!["x".into()])).unwrap_err(),
            "unknown scope \"x\""
        );
        assert!(normalize_scopes(Some(vec![" ".into()])).is_err());
        assert!(normalize_scopes(Some(vec!["*".into(), "settings:read".into()])).is_err());
        assert_eq!(
            normalize_scopes(Some(vec![
                "settings:read".into(),
                "docker:report".into(),
                "settings:read".into()
            ]))
            .unwrap(),
            ["docker:report", "settings:read"]
        );
        let held = vec!["settings:write".to_string()];
        assert!(scopes_grant(&held, "settings:read"));
        assert!(!scopes_grant(&held, "monitoring:read"));
        assert!(!scopes_grant(&["settings:read".into()], "settings:write"));
        assert!(scopes_grant(&["*".into()], "docker:manage"));
        assert!(!scopes_grant(&["docker:manage".into()], "docker:report"));
    }

    #[test]
    fn create_validate_delete_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let env = vec![
            crate::settings::Secret("legacy-token".into()),
            crate::settings::Secret("a".repeat(64)),
        ];
        let ts = TokenStore::load(store.clone(), clock.clone(), &env).unwrap();
        let m = ts.create("ci", vec!["monitoring:read".into()]).unwrap();
        assert_eq!(m.raw.len(), 64);
        assert_eq!(m.record.prefix, &m.raw[..6]);
        assert!(m.record.hash.is_empty(), "hash never leaves the store");
        let (rec, due) = ts.validate(&m.raw).unwrap();
        assert!(due);
        assert!(rec.has_scope("monitoring:read"));
        assert!(
            !ts.validate(&m.raw).unwrap().1,
            "second use within a minute is not persisted"
        );
        assert!(ts.validate("legacy-token").is_some());
        // A 64-hex env value works both as the raw token and as a stored hash.
        assert!(ts.validate(&"a".repeat(64)).is_some());
        assert!(ts.validate("nope").is_none());
        assert!(ts.validate("").is_none());
        assert_eq!(ts.list()[0].id, m.record.id, "newest first");
        let env_id = ts
            .list()
            .iter()
            .find(|r| r.source == "env")
            .unwrap()
            .id
            .clone();
        assert!(ts.is_env(&env_id));
        assert!(ts.delete(&env_id).unwrap().is_none());
        drop(ts);
        let ts = TokenStore::load(store.clone(), clock.clone(), &[]).unwrap();
        assert!(ts.validate(&m.raw).is_some(), "survives a restart");
        assert!(
            ts.validate("legacy-token").is_none(),
            "env tokens vanish with the env"
        );
        assert!(ts.delete(&m.record.id).unwrap().is_some());
        assert!(ts.validate(&m.raw).is_none());
        let raw = "client-supplied-token-value";
        ts.create("other", vec!["*".into()]).unwrap();
        ts.replace_all("Primary token", raw).unwrap();
        assert_eq!(ts.list().len(), 1);
        assert!(ts.validate(raw).is_some());
        // The database holds no raw token.
        drop(ts);
        drop(store);
        let bytes = std::fs::read(dir.path().join("pulse.redb")).unwrap();
        assert!(!bytes.windows(raw.len()).any(|w| w == raw.as_bytes()));
    }
}
