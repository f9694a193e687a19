//! The durable notification queue in `pulse.redb` (table `notify_queue`). Every item is
//! committed (fsync) before delivery is tried, and every state change is its own commit:
//!
//! pending → processing → completed
//!                      ↘ failed (waits `nextRetryAt`) → processing → … → dlq
//!
//! Items left in `processing` by a crash are put back to `pending` on start (at-least-once;
//! receivers de-duplicate with the item id, sent as `Idempotency-Key`). Completed and
//! cancelled items are pruned after `COMPLETED_KEEP_MS`, DLQ items after `DLQ_KEEP_MS`.

use super::payload::Kind;
use crate::alerts::Alert;
use crate::store::tables::{NOTIFY_AUDIT, NOTIFY_QUEUE};
use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const COMPLETED_KEEP_MS: i64 = 7 * 86_400_000;
pub const DLQ_KEEP_MS: i64 = 30 * 86_400_000;
const AUDIT_KEEP: u64 = 1000;
const MAX_BACKOFF_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Processing,
    Completed,
    Failed,
    Dlq,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Dlq => "dlq",
            Status::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    /// `email`, `webhook` or `apprise`.
    #[serde(rename = "type")]
    pub channel: String,
    /// The webhook id for webhook items; empty otherwise.
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub kind: Kind,
    pub status: Status,
    pub alerts: Vec<Alert>,
    pub attempts: u32,
    pub max_attempts: u32,
    #[serde(default)]
    pub last_attempt: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_at: i64,
    #[serde(default)]
    pub next_retry_at: Option<i64>,
    #[serde(default)]
    pub completed_at: Option<i64>,
    #[serde(default)]
    pub payload_bytes: Option<u64>,
}

impl Item {
    /// Per-destination key: at most one delivery per destination runs at a time, so a slow
    /// endpoint holds one worker, never the pool.
    pub fn destination(&self) -> String {
        format!("{}:{}", self.channel, self.target)
    }

    pub fn due(&self, now: i64) -> bool {
        matches!(self.status, Status::Pending | Status::Failed)
            && self.next_retry_at.is_none_or(|t| t <= now)
    }

    /// The API form (times as RFC3339; the reference's field names).
    pub fn to_api(&self) -> serde_json::Value {
        let ts = |v: Option<i64>| v.map(crate::model::time::rfc3339_ms);
        let mut v = serde_json::json!({
            "id": self.id,
            "type": self.channel,
            "status": self.status.as_str(),
            "alerts": self.alerts,
            "attempts": self.attempts,
            "maxAttempts": self.max_attempts,
            "createdAt": crate::model::time::rfc3339_ms(self.created_at),
            "idempotencyKey": self.id,
            "notificationKind": self.kind,
        });
        let o = v.as_object_mut().expect("object");
        if !self.target.is_empty() {
            o.insert("method".into(), self.target.clone().into());
            o.insert(
                "config".into(),
                serde_json::json!({"webhookId": self.target}),
            );
        }
        for (k, val) in [
            ("lastAttempt", ts(self.last_attempt)),
            ("nextRetryAt", ts(self.next_retry_at)),
            ("completedAt", ts(self.completed_at)),
        ] {
            if let Some(t) = val {
                o.insert(k.into(), t.into());
            }
        }
        if let Some(e) = &self.last_error {
            o.insert("lastError".into(), e.clone().into());
        }
        if let Some(b) = self.payload_bytes {
            o.insert("payloadBytes".into(), b.into());
        }
        v
    }
}

/// A new item id: `<channel>-<unix nanos>`, strictly increasing within the process.
pub fn new_id(channel: &str) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format!("{channel}-{next}"),
            Err(p) => prev = p,
        }
    }
}

/// One delivery attempt, for `/api/notifications/history` and `webhook-history`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub notification_id: String,
    #[serde(rename = "type")]
    pub channel: String,
    pub target: String,
    pub target_name: String,
    /// Redacted destination (URL or recipients).
    pub destination: String,
    pub service: String,
    pub alert_ids: Vec<String>,
    pub attempt: u32,
    pub success: bool,
    pub status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub payload_bytes: u64,
    pub duration_ms: u64,
    pub timestamp: i64,
}

/// The scheduling fields of an item, read without building its alerts (claims and counts
/// scan the table; skipping the alert JSON keeps that cheap).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    id: String,
    #[serde(rename = "type")]
    channel: String,
    #[serde(default)]
    target: String,
    status: Status,
    created_at: i64,
    #[serde(default)]
    next_retry_at: Option<i64>,
    #[serde(default)]
    completed_at: Option<i64>,
}

impl Head {
    fn destination(&self) -> String {
        format!("{}:{}", self.channel, self.target)
    }
    fn due(&self, now: i64) -> bool {
        matches!(self.status, Status::Pending | Status::Failed)
            && self.next_retry_at.is_none_or(|t| t <= now)
    }
}

pub struct Queue {
    store: Arc<Store>,
}

fn bad(id: &str, e: serde_json::Error) -> StoreError {
    StoreError::BadValue {
        key: format!("notify_queue/{id}"),
        reason: e.to_string(),
    }
}

impl Queue {
    pub fn new(store: Arc<Store>) -> Queue {
        Queue { store }
    }

    fn db(&self) -> &redb::Database {
        self.store.database()
    }

    /// Commits `items` in one transaction (all or none).
    pub fn enqueue(&self, items: &[Item]) -> Result<(), StoreError> {
        let tx = self.db().begin_write().map_err(StoreError::db)?;
        {
            let mut t = tx.open_table(NOTIFY_QUEUE).map_err(StoreError::db)?;
            for it in items {
                let json = serde_json::to_string(it).map_err(|e| bad(&it.id, e))?;
                t.insert(it.id.as_str(), json.as_str())
                    .map_err(StoreError::db)?;
            }
        }
        tx.commit().map_err(StoreError::db)
    }

    pub fn all(&self) -> Result<Vec<Item>, StoreError> {
        let rx = self.db().begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(NOTIFY_QUEUE).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for r in t.iter().map_err(StoreError::db)? {
            let (k, v) = r.map_err(StoreError::db)?;
            match serde_json::from_str::<Item>(v.value()) {
                Ok(it) => out.push(it),
                Err(e) => {
                    tracing::error!(id = k.value(), error = %e, "unreadable queue item skipped")
                }
            }
        }
        Ok(out)
    }

    fn heads(&self) -> Result<Vec<Head>, StoreError> {
        let rx = self.db().begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(NOTIFY_QUEUE).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for r in t.iter().map_err(StoreError::db)? {
            let (k, v) = r.map_err(StoreError::db)?;
            match serde_json::from_str::<Head>(v.value()) {
                Ok(h) => out.push(h),
                Err(e) => {
                    tracing::error!(id = k.value(), error = %e, "unreadable queue item skipped")
                }
            }
        }
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let rx = self.db().begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(NOTIFY_QUEUE).map_err(StoreError::db)?;
        match t.get(id).map_err(StoreError::db)? {
            None => Ok(None),
            Some(v) => serde_json::from_str(v.value())
                .map(Some)
                .map_err(|e| bad(id, e)),
        }
    }

    /// Read-modify-write of one item in its own durable transaction; `f` returns false to
    /// leave it.
    fn update<F: FnOnce(&mut Item) -> bool>(
        &self,
        id: &str,
        f: F,
    ) -> Result<Option<Item>, StoreError> {
        self.update_with(id, true, None, f)
    }

    /// As `update`, optionally without fsync (`durable: false`) and with an audit record
    /// written in the same transaction.
    fn update_with<F: FnOnce(&mut Item) -> bool>(
        &self,
        id: &str,
        durable: bool,
        audit: Option<&Attempt>,
        f: F,
    ) -> Result<Option<Item>, StoreError> {
        let mut tx = self.db().begin_write().map_err(StoreError::db)?;
        if !durable {
            tx.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Db(e.to_string()))?;
        }
        if let Some(a) = audit {
            append_audit(&tx, a)?;
        }
        let out;
        {
            let mut t = tx.open_table(NOTIFY_QUEUE).map_err(StoreError::db)?;
            let cur = match t.get(id).map_err(StoreError::db)? {
                None => None,
                Some(v) => Some(serde_json::from_str::<Item>(v.value()).map_err(|e| bad(id, e))?),
            };
            let Some(mut it) = cur else {
                return Ok(None);
            };
            if !f(&mut it) {
                return Ok(None);
            }
            let json = serde_json::to_string(&it).map_err(|e| bad(id, e))?;
            t.insert(id, json.as_str()).map_err(StoreError::db)?;
            out = it;
        }
        tx.commit().map_err(StoreError::db)?;
        Ok(Some(out))
    }

    /// Start-up: anything a crash left in `processing` is delivered again.
    pub fn recover(&self, now: i64) -> Result<usize, StoreError> {
        let stuck: Vec<String> = self
            .all()?
            .into_iter()
            .filter(|i| i.status == Status::Processing)
            .map(|i| i.id)
            .collect();
        for id in &stuck {
            self.update(id, |it| {
                it.status = Status::Pending;
                it.next_retry_at = Some(now);
                // The interrupted attempt does not count against the item.
                it.attempts = it.attempts.saturating_sub(1);
                true
            })?;
        }
        Ok(stuck.len())
    }

    /// Claims the oldest due item whose destination is not `busy`, marking it `processing`.
    /// Also returns the earliest future due time (for the worker's sleep).
    pub fn claim(
        &self,
        now: i64,
        busy: &HashSet<String>,
    ) -> Result<(Option<Item>, Option<i64>), StoreError> {
        let items = self.heads()?;
        let mut next_due: Option<i64> = None;
        let mut best: Option<&Head> = None;
        for it in &items {
            if !matches!(it.status, Status::Pending | Status::Failed) {
                continue;
            }
            if !it.due(now) {
                let t = it.next_retry_at.unwrap_or(now);
                next_due = Some(next_due.map_or(t, |n| n.min(t)));
                continue;
            }
            if busy.contains(&it.destination()) {
                continue;
            }
            if best.is_none_or(|b| (it.created_at, &it.id) < (b.created_at, &b.id)) {
                best = Some(it);
            }
        }
        let Some(best) = best else {
            return Ok((None, next_due));
        };
        // Durable like every other step: a non-durable claim looked cheaper, but measured
        // ~5x slower here (the next durable commit has to flush more), see
        // benches/notify_throughput.rs.
        let claimed = self.update_with(&best.id, true, None, |it| {
            if !it.due(now) {
                return false;
            }
            it.status = Status::Processing;
            it.attempts += 1;
            it.last_attempt = Some(now);
            true
        })?;
        Ok((claimed, next_due))
    }

    pub fn complete(
        &self,
        id: &str,
        now: i64,
        bytes: u64,
        audit: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        self.update_with(id, true, audit, |it| {
            it.status = Status::Completed;
            it.completed_at = Some(now);
            it.next_retry_at = None;
            it.last_error = None;
            it.payload_bytes = Some(bytes);
            true
        })?;
        Ok(())
    }

    /// Records a failed attempt: back to `failed` with exponential backoff
    /// (`base · 2^attempts`, capped at 60 s), or to the DLQ once attempts are used up.
    pub fn fail(
        &self,
        id: &str,
        error: &str,
        now: i64,
        base_ms: i64,
        audit: Option<&Attempt>,
    ) -> Result<Option<Status>, StoreError> {
        Ok(self
            .update_with(id, true, audit, |it| {
                it.last_error = Some(error.to_string());
                if it.status == Status::Cancelled {
                    return true;
                }
                if it.attempts >= it.max_attempts {
                    it.status = Status::Dlq;
                    it.completed_at = Some(now);
                    it.next_retry_at = None;
                } else {
                    it.status = Status::Failed;
                    let exp = 1i64 << it.attempts.min(20);
                    it.next_retry_at = Some(now + (base_ms * exp).min(MAX_BACKOFF_MS));
                }
                true
            })?
            .map(|it| it.status))
    }

    /// Counts per status (completed/cancelled only within the last 24 h), with the
    /// API.md keys and the reference's aliases.
    pub fn stats(&self, now: i64) -> Result<serde_json::Value, StoreError> {
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for s in [
            "pending",
            "processing",
            "completed",
            "failed",
            "dlq",
            "cancelled",
        ] {
            counts.insert(s, 0);
        }
        let mut oldest: Option<i64> = None;
        for it in self.heads()? {
            let recent = it.completed_at.is_none_or(|c| now - c < 86_400_000);
            if matches!(it.status, Status::Completed | Status::Cancelled) && !recent {
                continue;
            }
            *counts.entry(it.status.as_str()).or_default() += 1;
            if matches!(it.status, Status::Pending | Status::Failed) {
                oldest = Some(oldest.map_or(it.created_at, |o| o.min(it.created_at)));
            }
        }
        let mut v = serde_json::to_value(&counts).unwrap_or_default();
        let depth = counts["pending"] + counts["processing"] + counts["failed"];
        v["queueDepth"] = depth.into();
        v["sending"] = counts["processing"].into();
        v["sent"] = counts["completed"].into();
        if let Some(o) = oldest {
            v["oldestPending"] = crate::model::time::rfc3339_ms(o).into();
        }
        Ok(v)
    }

    /// Depth per status for the gauges.
    pub fn depth(&self) -> Result<BTreeMap<&'static str, i64>, StoreError> {
        let mut m = BTreeMap::new();
        for s in ["pending", "processing", "failed", "dlq"] {
            m.insert(s, 0);
        }
        for it in self.heads()? {
            if let Some(c) = m.get_mut(it.status.as_str()) {
                *c += 1;
            }
        }
        Ok(m)
    }

    /// DLQ items, most recently failed first.
    pub fn dlq(&self, limit: usize) -> Result<Vec<Item>, StoreError> {
        let mut v: Vec<Item> = self
            .all()?
            .into_iter()
            .filter(|i| i.status == Status::Dlq)
            .collect();
        v.sort_by(|a, b| b.completed_at.cmp(&a.completed_at).then(b.id.cmp(&a.id)));
        v.truncate(limit);
        Ok(v)
    }

    /// Sends a DLQ item again with a fresh set of attempts (the reference granted one more
    /// attempt only, which surprised users retrying after fixing an endpoint).
    pub fn retry(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self
            .update(id, |it| {
                if it.status != Status::Dlq {
                    return false;
                }
                it.status = Status::Pending;
                it.attempts = 0;
                it.next_retry_at = Some(now);
                it.completed_at = None;
                true
            })?
            .is_some())
    }

    /// Removes a DLQ item. False when there is no such DLQ item.
    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        match self.get(id)? {
            Some(it) if it.status == Status::Dlq => {}
            _ => return Ok(false),
        }
        let tx = self.db().begin_write().map_err(StoreError::db)?;
        tx.open_table(NOTIFY_QUEUE)
            .map_err(StoreError::db)?
            .remove(id)
            .map_err(StoreError::db)?;
        tx.commit().map_err(StoreError::db)?;
        Ok(true)
    }

    /// Alert resolved: queued (not yet delivered) alert notifications that only concern it
    /// are cancelled; batches naming other alerts too still go out.
    pub fn cancel_for_alert(&self, alert_id: &str, now: i64) -> Result<usize, StoreError> {
        let ids: Vec<String> = self
            .all()?
            .into_iter()
            .filter(|i| {
                matches!(i.status, Status::Pending | Status::Failed)
                    && i.kind == Kind::Alert
                    && !i.alerts.is_empty()
                    && i.alerts.iter().all(|a| a.id == alert_id)
            })
            .map(|i| i.id)
            .collect();
        for id in &ids {
            self.update(id, |it| {
                it.status = Status::Cancelled;
                it.last_error = Some("Alert resolved".into());
                it.completed_at = Some(now);
                true
            })?;
        }
        Ok(ids.len())
    }

    /// Drops completed/cancelled items older than a week and DLQ items older than 30 days.
    pub fn prune(&self, now: i64) -> Result<usize, StoreError> {
        let old: Vec<String> = self
            .all()?
            .into_iter()
            .filter(|i| {
                let age = now - i.completed_at.unwrap_or(now);
                match i.status {
                    Status::Completed | Status::Cancelled => age > COMPLETED_KEEP_MS,
                    Status::Dlq => age > DLQ_KEEP_MS,
                    _ => false,
                }
            })
            .map(|i| i.id)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let tx = self.db().begin_write().map_err(StoreError::db)?;
        {
            let mut t = tx.open_table(NOTIFY_QUEUE).map_err(StoreError::db)?;
            for id in &old {
                t.remove(id.as_str()).map_err(StoreError::db)?;
            }
        }
        tx.commit().map_err(StoreError::db)?;
        Ok(old.len())
    }

    /// Appends a delivery attempt to the bounded audit log (own transaction).
    pub fn record(&self, a: &Attempt) -> Result<(), StoreError> {
        let tx = self.db().begin_write().map_err(StoreError::db)?;
        append_audit(&tx, a)?;
        tx.commit().map_err(StoreError::db)
    }

    /// The newest `limit` attempts, newest first.
    pub fn attempts(&self, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        let rx = self.db().begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(NOTIFY_AUDIT).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for r in t.iter().map_err(StoreError::db)?.rev() {
            let (_, v) = r.map_err(StoreError::db)?;
            if let Ok(a) = serde_json::from_str::<Attempt>(v.value()) {
                out.push(a);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Appends `a` to the bounded audit log inside `tx`.
fn append_audit(tx: &redb::WriteTransaction, a: &Attempt) -> Result<(), StoreError> {
    let json = serde_json::to_string(a).map_err(|e| bad(&a.notification_id, e))?;
    {
        let mut t = tx.open_table(NOTIFY_AUDIT).map_err(StoreError::db)?;
        let next = t
            .last()
            .map_err(StoreError::db)?
            .map(|(k, _)| k.value() + 1)
            .unwrap_or(0);
        t.insert(next, json.as_str()).map_err(StoreError::db)?;
        if t.len().map_err(StoreError::db)? > AUDIT_KEEP {
            let cut = next.saturating_sub(AUDIT_KEEP);
            let old: Vec<u64> = t
                .range(..=cut)
                .map_err(StoreError::db)?
                .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                .collect();
            for k in old {
                t.remove(k).map_err(StoreError::db)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, created: i64, max: u32) -> Item {
        Item {
            id: id.into(),
            channel: "webhook".into(),
            target: "w1".into(),
            kind: Kind::Alert,
            status: Status::Pending,
            alerts: vec![super::super::payload::sample_alert(created)],
            attempts: 0,
            max_attempts: max,
            last_attempt: None,
            last_error: None,
            created_at: created,
            next_retry_at: None,
            completed_at: None,
            payload_bytes: None,
        }
    }

    #[test]
    fn lifecycle_backoff_dlq_retry_and_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let q = Queue::new(store.clone());
        q.enqueue(&[item("a", 1, 3), item("b", 2, 3)]).unwrap();
        let none = HashSet::new();
        let (a, _) = q.claim(10, &none).unwrap();
        let a = a.unwrap();
        assert_eq!(
            (a.id.as_str(), a.attempts, a.status),
            ("a", 1, Status::Processing)
        );
        // The same destination is busy: b waits.
        let busy: HashSet<String> = [a.destination()].into();
        assert!(q.claim(10, &busy).unwrap().0.is_none());
        assert_eq!(
            q.fail("a", "boom", 10, 1000, None).unwrap(),
            Some(Status::Failed)
        );
        let got = q.get("a").unwrap().unwrap();
        assert_eq!(got.next_retry_at, Some(10 + 2000), "2^1 · base");
        // b is older-due now; a is not due until 2010.
        assert_eq!(q.claim(11, &none).unwrap().0.unwrap().id, "b");
        q.complete("b", 12, 42, None).unwrap();
        let (none_due, next) = q.claim(100, &none).unwrap();
        assert!(none_due.is_none());
        assert_eq!(next, Some(2010));
        // Attempt 2 fails (+4 s), attempt 3 fails → DLQ.
        q.claim(2010, &none).unwrap().0.unwrap();
        q.fail("a", "boom2", 2010, 1000, None).unwrap();
        assert_eq!(
            q.get("a").unwrap().unwrap().next_retry_at,
            Some(2010 + 4000)
        );
        q.claim(6010, &none).unwrap().0.unwrap();
        assert_eq!(
            q.fail("a", "boom3", 6010, 1000, None).unwrap(),
            Some(Status::Dlq)
        );
        assert_eq!(q.dlq(10).unwrap()[0].last_error.as_deref(), Some("boom3"));
        let s = q.stats(6010).unwrap();
        assert_eq!(
            (
                s["dlq"].as_u64(),
                s["completed"].as_u64(),
                s["sent"].as_u64()
            ),
            (Some(1), Some(1), Some(1))
        );
        // Retry from DLQ gets a fresh set of attempts.
        assert!(q.retry("a", 7000).unwrap());
        assert!(!q.retry("a", 7000).unwrap(), "only DLQ items");
        let c = q.claim(7000, &none).unwrap().0.unwrap();
        assert_eq!(c.attempts, 1);
        // Crash while processing: recovered to pending on the next start.
        drop(q);
        let q = Queue::new(store);
        assert_eq!(q.recover(8000).unwrap(), 1);
        let r = q.get("a").unwrap().unwrap();
        assert_eq!((r.status, r.attempts), (Status::Pending, 0));
        // Prune: completed items older than a week go.
        assert_eq!(q.prune(12 + COMPLETED_KEEP_MS + 1).unwrap(), 1);
        assert!(q.get("b").unwrap().is_none());
    }

    #[test]
    fn delete_and_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::new(Arc::new(Store::open(dir.path()).unwrap()));
        q.enqueue(&[item("x", 1, 1)]).unwrap();
        assert!(!q.delete("x").unwrap(), "not in the DLQ");
        let aid = q.get("x").unwrap().unwrap().alerts[0].id.clone();
        assert_eq!(q.cancel_for_alert(&aid, 5).unwrap(), 1);
        assert_eq!(q.get("x").unwrap().unwrap().status, Status::Cancelled);
        q.enqueue(&[item("y", 1, 1)]).unwrap();
        q.claim(2, &HashSet::new()).unwrap().0.unwrap();
        assert_eq!(q.fail("y", "e", 3, 10, None).unwrap(), Some(Status::Dlq));
        assert!(q.delete("y").unwrap());
        assert!(q.get("y").unwrap().is_none());
        assert!(!q.delete("nope").unwrap());
    }

    #[test]
    fn ids_are_unique() {
        let ids: HashSet<String> = (0..1000).map(|_| new_id("webhook")).collect();
        assert_eq!(ids.len(), 1000);
    }
}
