//! The security audit log: login ok/fail, lockouts, token and password changes, settings
//! changes, export/import. Kept in redb (bounded: the oldest entries go first) and mirrored
//! to the normal log. Entries never hold secrets: callers pass names, ids and IPs only.

use super::clock::{Clock, rfc3339};
use crate::store::{Store, StoreError, tables::AUDIT};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub const MAX_ENTRIES: u64 = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: u64,
    pub timestamp: String,
    pub event: String,
    pub user: String,
    pub ip: String,
    pub path: String,
    pub success: bool,
    pub details: String,
}

pub struct AuditLog {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    /// Serialises appends so ids stay dense and ordered.
    next: Mutex<Option<u64>>,
    max: u64,
}

impl AuditLog {
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> AuditLog {
        AuditLog {
            store,
            clock,
            next: Mutex::new(None),
            max: MAX_ENTRIES,
        }
    }

    #[cfg(test)]
    fn with_max(mut self, max: u64) -> AuditLog {
        self.max = max;
        self
    }

    /// Records an event. A storage failure is logged, never turned into a failed request.
    pub fn record(
        &self,
        event: &str,
        user: &str,
        ip: &str,
        path: &str,
        success: bool,
        details: &str,
    ) {
        if success {
            tracing::info!(event, user, ip, path, details, "security audit event");
        } else {
            tracing::warn!(
                event,
                user,
                ip,
                path,
                details,
                "security audit event - FAILED"
            );
        }
        if let Err(e) = self.append(event, user, ip, path, success, details) {
            tracing::error!(error = %e, "could not write the audit log");
        }
    }

    fn append(
        &self,
        event: &str,
        user: &str,
        ip: &str,
        path: &str,
        success: bool,
        details: &str,
    ) -> Result<(), StoreError> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let tx = self
            .store
            .database()
            .begin_write()
            .map_err(StoreError::db)?;
        let id;
        {
            let mut t = tx.open_table(AUDIT).map_err(StoreError::db)?;
            id = match *next {
                Some(n) => n,
                None => t
                    .last()
                    .map_err(StoreError::db)?
                    .map_or(1, |(k, _)| k.value() + 1),
            };
            let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
            let ev = AuditEvent {
                id,
                timestamp: rfc3339(self.clock.now_ms()),
                event: clip(event, 64),
                user: clip(user, 128),
                ip: clip(ip, 64),
                path: clip(path, 256),
                success,
                details: clip(details, 512),
            };
            let json = serde_json::to_string(&ev).unwrap_or_default();
            t.insert(id, json.as_str()).map_err(StoreError::db)?;
            let len = t.len().map_err(StoreError::db)?;
            if len > self.max {
                let cutoff = id.saturating_sub(self.max);
                t.retain(|k, _| k > cutoff).map_err(StoreError::db)?;
            }
        }
        tx.commit().map_err(StoreError::db)?;
        *next = Some(id + 1);
        Ok(())
    }

    /// The newest `limit` events, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let rx = self.store.database().begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(AUDIT).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)?.rev().take(limit) {
            let (_, v) = row.map_err(StoreError::db)?;
            if let Ok(e) = serde_json::from_str(v.value()) {
                out.push(e);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::ManualClock;

    #[test]
    fn bounded_ordered_and_persistent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let clock = Arc::new(ManualClock::new(0));
        let log = AuditLog::new(store.clone(), clock.clone()).with_max(5);
        for i in 0..8 {
            log.record("login", "admin", "10.0.0.1", "/api/login", i % 2 == 0, "");
        }
        let r = log.recent(100).unwrap();
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].id, 8);
        assert_eq!(r[4].id, 4);
        let log = AuditLog::new(store, clock).with_max(5);
        log.record("logout", "admin", "", "/api/logout", true, "");
        assert_eq!(
            log.recent(1).unwrap()[0].id,
            9,
            "ids continue after a restart"
        );
    }
}
