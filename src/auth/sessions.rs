//! Browser sessions: a random 32-byte id in an HttpOnly cookie, stored only as its SHA3-256
//! in redb (so sessions survive a restart and a stolen database holds no usable cookie),
//! with a CSRF token bound to each session.

use super::clock::Clock;
use super::json_table;
use crate::crypto::{ct_eq, random_hex, sha3_hex};
use crate::store::{Store, StoreError, tables::SESSIONS};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub const DEFAULT_TTL_MS: u64 = 24 * 3600 * 1000;
pub const REMEMBER_TTL_MS: u64 = 30 * 24 * 3600 * 1000;
/// Sessions per server are capped so a flood of logins cannot grow the table without bound;
/// the oldest go first.
const MAX_SESSIONS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// SHA3-256 of the CSRF token bound to this session.
    pub csrf_hash: String,
    #[serde(default)]
    pub ip: String,
}

/// A new session's raw values, for the cookies.
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub ttl_ms: u64,
}

pub struct SessionStore {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    /// Keyed by SHA3-256 of the session token.
    map: RwLock<HashMap<String, Session>>,
}

/// 32 random bytes, base64url with padding (44 chars), like the reference's CSRF tokens.
pub fn new_csrf() -> String {
    base64::engine::general_purpose::URL_SAFE.encode(rand::random::<[u8; 32]>())
}

impl SessionStore {
    pub fn load(store: Arc<Store>, clock: Arc<dyn Clock>) -> Result<SessionStore, StoreError> {
        let now = clock.now_ms();
        let mut map = HashMap::new();
        let mut expired = Vec::new();
        for (k, s) in json_table::load::<Session>(&store, SESSIONS)? {
            match s {
                Ok(s) if s.expires_ms > now => {
                    map.insert(k, s);
                }
                // Expired or unreadable: a session nobody can use any more.
                _ => expired.push(k),
            }
        }
        let s = SessionStore {
            store,
            clock,
            map: RwLock::new(map),
        };
        s.remove_keys(&expired)?;
        Ok(s)
    }

    fn remove_keys(&self, keys: &[String]) -> Result<(), StoreError> {
        let changes: Vec<(String, Option<Session>)> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        json_table::write(&self.store, SESSIONS, &changes, false)
    }

    fn put(&self, key: &str, s: &Session) -> Result<(), StoreError> {
        json_table::write(&self.store, SESSIONS, &[(key.to_string(), Some(s))], false)
    }

    /// Creates and persists a session for `user`.
    pub fn create(&self, user: &str, ip: &str, remember: bool) -> Result<NewSession, StoreError> {
        let now = self.clock.now_ms();
        let ttl_ms = if remember {
            REMEMBER_TTL_MS
        } else {
            DEFAULT_TTL_MS
        };
        let token = random_hex::<32>();
        let csrf = new_csrf();
        let s = Session {
            user: user.to_string(),
            created_ms: now,
            expires_ms: now + ttl_ms,
            csrf_hash: sha3_hex(csrf.as_bytes()),
            ip: ip.to_string(),
        };
        let key = sha3_hex(token.as_bytes());
        self.put(&key, &s)?;
        let evict = {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            map.insert(key, s);
            let mut evict = Vec::new();
            if map.len() > MAX_SESSIONS {
                let mut by_age: Vec<(u64, String)> =
                    map.iter().map(|(k, s)| (s.created_ms, k.clone())).collect();
                by_age.sort();
                for (_, k) in by_age.into_iter().take(map.len() - MAX_SESSIONS) {
                    map.remove(&k);
                    evict.push(k);
                }
            }
            evict
        };
        self.remove_keys(&evict)?;
        Ok(NewSession {
            token,
            csrf,
            ttl_ms,
        })
    }

    /// The live session for a raw cookie value, if any. Malformed values never match.
    pub fn get(&self, token: &str) -> Option<(String, Session)> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let key = sha3_hex(token.as_bytes());
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let s = map.get(&key)?;
        (s.expires_ms > self.clock.now_ms()).then(|| (key, s.clone()))
    }

    /// The live session stored under `key` (the SHA3 of its cookie).
    pub fn get_by_key(&self, key: &str) -> Option<Session> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|s| s.expires_ms > self.clock.now_ms())
            .cloned()
    }

    pub fn csrf_ok(session: &Session, presented: &str) -> bool {
        !presented.is_empty()
            && presented.len() <= 128
            && ct_eq(
                sha3_hex(presented.as_bytes()).as_bytes(),
                session.csrf_hash.as_bytes(),
            )
    }

    /// Binds a fresh CSRF token to a session (after a failed check, or a lost cookie).
    pub fn rotate_csrf(&self, key: &str) -> Result<Option<String>, StoreError> {
        let csrf = new_csrf();
        let updated = {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            map.get_mut(key).map(|s| {
                s.csrf_hash = sha3_hex(csrf.as_bytes());
                s.clone()
            })
        };
        match updated {
            Some(s) => {
                self.put(key, &s)?;
                Ok(Some(csrf))
            }
            None => Ok(None),
        }
    }

    pub fn revoke(&self, key: &str) -> Result<(), StoreError> {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.remove_keys(&[key.to_string()])
    }

    /// Revokes every session (password change, credentials replaced).
    pub fn revoke_all(&self) -> Result<usize, StoreError> {
        let keys: Vec<String> = {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            map.drain().map(|(k, _)| k).collect()
        };
        self.remove_keys(&keys)?;
        Ok(keys.len())
    }

    /// Drops expired sessions (called periodically).
    pub fn prune(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let keys: Vec<String> = {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            let dead: Vec<String> = map
                .iter()
                .filter(|(_, s)| s.expires_ms <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in &dead {
                map.remove(k);
            }
            dead
        };
        self.remove_keys(&keys)?;
        Ok(keys.len())
    }

    pub fn count(&self) -> usize {
        self.map.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::ManualClock;

    #[test]
    fn lifecycle_expiry_csrf_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let clock = Arc::new(ManualClock::new(1_000_000));
        let ss = SessionStore::load(store.clone(), clock.clone()).unwrap();
        let n = ss.create("admin", "10.0.0.1", false).unwrap();
        assert_eq!(n.token.len(), 64);
        assert_eq!(n.csrf.len(), 44);
        let (key, s) = ss.get(&n.token).unwrap();
        assert!(SessionStore::csrf_ok(&s, &n.csrf));
        assert!(!SessionStore::csrf_ok(&s, "forged"));
        assert!(!SessionStore::csrf_ok(&s, ""));
        assert!(ss.get("zz").is_none());
        assert!(ss.get(&"g".repeat(64)).is_none());
        assert!(ss.get(&"0".repeat(64)).is_none());
        let fresh = ss.rotate_csrf(&key).unwrap().unwrap();
        let (_, s) = ss.get(&n.token).unwrap();
        assert!(!SessionStore::csrf_ok(&s, &n.csrf));
        assert!(SessionStore::csrf_ok(&s, &fresh));
        // Survives a restart.
        drop(ss);
        let ss = SessionStore::load(store.clone(), clock.clone()).unwrap();
        assert!(ss.get(&n.token).is_some());
        // Expires after 24 h.
        clock.advance_secs(24 * 3600 - 1);
        assert!(ss.get(&n.token).is_some());
        clock.advance_secs(1);
        assert!(ss.get(&n.token).is_none());
        assert_eq!(ss.prune().unwrap(), 1);
        let r = ss.create("admin", "", true).unwrap();
        assert_eq!(r.ttl_ms, REMEMBER_TTL_MS);
        let (key, _) = ss.get(&r.token).unwrap();
        ss.revoke(&key).unwrap();
        assert!(ss.get(&r.token).is_none());
        ss.create("a", "", false).unwrap();
        ss.create("b", "", false).unwrap();
        assert_eq!(ss.revoke_all().unwrap(), 2);
        drop(ss);
        assert_eq!(SessionStore::load(store, clock).unwrap().count(), 0);
    }
}
