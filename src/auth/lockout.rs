//! Failed-login lockout: 5 failures within 15 minutes, per user name and per client IP
//! separately, lock that key for 15 minutes. Unlike the reference, failures age out of the
//! window and a lock that has run out starts from zero. Persisted, so a restart does not
//! hand an attacker fresh attempts.

use super::clock::Clock;
use super::json_table;
use crate::store::{Store, StoreError, tables::LOCKOUT};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const MAX_ATTEMPTS: usize = 5;
pub const WINDOW_MS: u64 = 15 * 60 * 1000;
pub const LOCK_MS: u64 = 15 * 60 * 1000;
/// Bound on tracked keys; the stalest go first (the per-IP rate limit bounds the rate).
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Record {
    failures: Vec<u64>,
    locked_until: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Still allowed: `attempts` so far in the window, `remaining` before the lock.
    Counted { attempts: usize, remaining: usize },
    /// This failure locked the key until the given time (ms).
    NowLocked { until_ms: u64 },
}

pub struct Lockout {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    map: Mutex<HashMap<String, Record>>,
}

pub fn user_key(user: &str) -> String {
    format!("user:{}", user.chars().take(128).collect::<String>())
}
pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

impl Lockout {
    pub fn load(store: Arc<Store>, clock: Arc<dyn Clock>) -> Result<Lockout, StoreError> {
        let map = json_table::load::<Record>(&store, LOCKOUT)?
            .into_iter()
            .filter_map(|(k, r)| r.ok().map(|r| (k, r)))
            .collect();
        Ok(Lockout {
            store,
            clock,
            map: Mutex::new(map),
        })
    }

    fn save(&self, changes: &[(String, Option<Record>)]) -> Result<(), StoreError> {
        json_table::write(&self.store, LOCKOUT, changes, false)
    }

    /// The latest lock end (ms) among `keys`, if any is locked now.
    pub fn locked_until(&self, keys: &[String]) -> Option<u64> {
        let now = self.clock.now_ms();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(k))
            .map(|r| r.locked_until)
            .filter(|&u| u > now)
            .max()
    }

    /// Counts a failure against every key; reports the worst of them.
    pub fn record_failure(&self, keys: &[String]) -> Result<Failure, StoreError> {
        let now = self.clock.now_ms();
        let mut changes = Vec::new();
        let mut worst = Failure::Counted {
            attempts: 0,
            remaining: MAX_ATTEMPTS,
        };
        {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > MAX_KEYS {
                prune_map(&mut map, now);
            }
            for k in keys {
                let r = map.entry(k.clone()).or_default();
                if r.locked_until != 0 && r.locked_until <= now {
                    // A served lock starts the key afresh.
                    *r = Record::default();
                }
                r.failures.retain(|&t| now.saturating_sub(t) < WINDOW_MS);
                r.failures.push(now);
                let outcome = if r.failures.len() >= MAX_ATTEMPTS {
                    if r.locked_until <= now {
                        r.locked_until = now + LOCK_MS;
                    }
                    Failure::NowLocked {
                        until_ms: r.locked_until,
                    }
                } else {
                    Failure::Counted {
                        attempts: r.failures.len(),
                        remaining: MAX_ATTEMPTS - r.failures.len(),
                    }
                };
                worst = match (&worst, &outcome) {
                    (Failure::NowLocked { until_ms: a }, Failure::NowLocked { until_ms: b }) => {
                        Failure::NowLocked {
                            until_ms: (*a).max(*b),
                        }
                    }
                    (Failure::NowLocked { .. }, _) => worst,
                    (_, Failure::NowLocked { .. }) => outcome,
                    (
                        Failure::Counted { attempts: a, .. },
                        Failure::Counted { attempts: b, .. },
                    ) => {
                        if b > a {
                            outcome
                        } else {
                            worst
                        }
                    }
                };
                changes.push((k.clone(), Some(r.clone())));
            }
        }
        self.save(&changes)?;
        Ok(worst)
    }

    /// Forgets `keys` (successful login, admin reset). True if anything was tracked.
    pub fn clear(&self, keys: &[String]) -> Result<bool, StoreError> {
        let removed: Vec<(String, Option<Record>)> = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            keys.iter()
                .filter(|k| map.remove(*k).is_some())
                .map(|k| (k.clone(), None))
                .collect()
        };
        let any = !removed.is_empty();
        if any {
            self.save(&removed)?;
        }
        Ok(any)
    }

    /// Currently locked keys with their end times (for the audit/status views).
    pub fn locked(&self) -> Vec<(String, u64)> {
        let now = self.clock.now_ms();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|(_, r)| r.locked_until > now)
            .map(|(k, r)| (k.clone(), r.locked_until))
            .collect()
    }
}

fn prune_map(map: &mut HashMap<String, Record>, now: u64) {
    map.retain(|_, r| {
        r.locked_until > now
            || r.failures
                .iter()
                .any(|&t| now.saturating_sub(t) < WINDOW_MS)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::ManualClock;

    fn setup() -> (tempfile::TempDir, Arc<Store>, Arc<ManualClock>, Lockout) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let clock = Arc::new(ManualClock::new(10_000_000));
        let l = Lockout::load(store.clone(), clock.clone()).unwrap();
        (dir, store, clock, l)
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let (_d, store, clock, l) = setup();
        let keys = [user_key("admin"), ip_key("10.0.0.9")];
        for i in 1..5 {
            assert_eq!(
                l.record_failure(&keys).unwrap(),
                Failure::Counted {
                    attempts: i,
                    remaining: 5 - i
                }
            );
        }
        let Failure::NowLocked { until_ms } = l.record_failure(&keys).unwrap() else {
            panic!("fifth failure must lock");
        };
        assert_eq!(until_ms, clock.now_ms() + LOCK_MS);
        assert_eq!(l.locked_until(&[user_key("admin")]), Some(until_ms));
        assert_eq!(l.locked_until(&[ip_key("10.0.0.9")]), Some(until_ms));
        assert_eq!(l.locked_until(&[user_key("other")]), None);
        // Persisted: a restart keeps the lock.
        let l2 = Lockout::load(store, clock.clone()).unwrap();
        assert_eq!(l2.locked_until(&keys), Some(until_ms));
        clock.advance_secs(15 * 60);
        assert_eq!(l.locked_until(&keys), None);
        // After the lock runs out, the next failure does not re-lock at once.
        assert_eq!(
            l.record_failure(&keys).unwrap(),
            Failure::Counted {
                attempts: 1,
                remaining: 4
            }
        );
    }

    #[test]
    fn failures_age_out_and_reset_clears() {
        let (_d, _s, clock, l) = setup();
        let keys = [user_key("admin")];
        for _ in 0..4 {
            l.record_failure(&keys).unwrap();
        }
        clock.advance_secs(15 * 60 + 1);
        assert_eq!(
            l.record_failure(&keys).unwrap(),
            Failure::Counted {
                attempts: 1,
                remaining: 4
            },
            "failures older than the window no longer count"
        );
        for _ in 0..4 {
            l.record_failure(&keys).unwrap();
        }
        assert!(l.locked_until(&keys).is_some());
        assert!(l.clear(&keys).unwrap());
        assert!(l.locked_until(&keys).is_none());
        assert!(!l.clear(&keys).unwrap());
    }
}
