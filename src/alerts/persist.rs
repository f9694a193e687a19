//! Alert state in `pulse.redb`: the active set (so acks survive restarts), the history
//! (bounded by age and count), and the config document (in `settings`, key `alerts`). Each
//! change is one write transaction: nothing is ever half-written.

use super::alert::{Alert, Level};
use super::config::AlertConfig;
use super::engine::Tracked;
use crate::store::tables::{ALERT_HISTORY, ALERTS_ACTIVE};
use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

pub const CONFIG_KEY: &str = "alerts";
/// History keeps at most this many entries …
pub const HISTORY_MAX_ENTRIES: u64 = 10_000;
/// … and nothing older than this.
pub const HISTORY_MAX_AGE_MS: i64 = 30 * 24 * 3_600_000;
/// How far back a resolution looks for its history entry.
const RESOLVE_SCAN: usize = 5_000;

pub fn load_config(store: &Store) -> Result<Option<AlertConfig>, StoreError> {
    store.get_setting(CONFIG_KEY)
}

pub fn save_config(store: &Store, cfg: &AlertConfig) -> Result<(), StoreError> {
    store.put_setting(CONFIG_KEY, cfg)
}

/// The persisted active alerts; unreadable rows are skipped with a warning.
pub fn load_active(store: &Store) -> Result<Vec<Tracked>, StoreError> {
    let rx = store.database().begin_read().map_err(StoreError::db)?;
    let t = rx.open_table(ALERTS_ACTIVE).map_err(StoreError::db)?;
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::db)? {
        let (k, v) = row.map_err(StoreError::db)?;
        match serde_json::from_str::<Tracked>(v.value()) {
            Ok(t) => out.push(t),
            Err(e) => {
                tracing::warn!(id = k.value(), error = %e, "skipping unreadable stored alert")
            }
        }
    }
    Ok(out)
}

/// The part of a history row needed to find an alert's open entry.
#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
    #[serde(rename = "resolvedTime", default)]
    resolved_time: Option<serde::de::IgnoredAny>,
}

/// What one tick (or one user action) changes on disk.
#[derive(Debug, Default)]
pub struct Changes {
    pub upsert: Vec<Tracked>,
    pub remove: Vec<String>,
    pub history_add: Vec<Alert>,
    /// `(alert id, resolved at)`.
    pub history_resolve: Vec<(String, i64)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty()
            && self.remove.is_empty()
            && self.history_add.is_empty()
            && self.history_resolve.is_empty()
    }
}

/// Applies `c` in one transaction, then trims the history to its bounds.
pub fn apply(store: &Store, c: &Changes, now: i64) -> Result<(), StoreError> {
    if c.is_empty() {
        return Ok(());
    }
    let tx = store.database().begin_write().map_err(StoreError::db)?;
    {
        let mut active = tx.open_table(ALERTS_ACTIVE).map_err(StoreError::db)?;
        for id in &c.remove {
            active.remove(id.as_str()).map_err(StoreError::db)?;
        }
        for t in &c.upsert {
            let json = serde_json::to_string(t).map_err(|e| StoreError::BadValue {
                key: t.alert.id.clone(),
                reason: e.to_string(),
            })?;
            active
                .insert(t.alert.id.as_str(), json.as_str())
                .map_err(StoreError::db)?;
        }
        let mut hist = tx.open_table(ALERT_HISTORY).map_err(StoreError::db)?;
        if !c.history_resolve.is_empty() {
            // One backwards pass for all resolutions; rows are read as just `id` and
            // `resolvedTime` until one matches.
            let mut want: std::collections::HashMap<&str, i64> = c
                .history_resolve
                .iter()
                .map(|(id, at)| (id.as_str(), *at))
                .collect();
            let mut hits: Vec<(u64, i64)> = Vec::new();
            for row in hist
                .iter()
                .map_err(StoreError::db)?
                .rev()
                .take(RESOLVE_SCAN)
            {
                let (k, v) = row.map_err(StoreError::db)?;
                let Ok(head) = serde_json::from_str::<IdOnly>(v.value()) else {
                    continue;
                };
                if let Some(at) = want.remove(head.id.as_str())
                    && head.resolved_time.is_none()
                {
                    hits.push((k.value(), at));
                }
                if want.is_empty() {
                    break;
                }
            }
            for (k, at) in hits {
                let Some(json) = hist
                    .get(k)
                    .map_err(StoreError::db)?
                    .map(|v| v.value().to_string())
                else {
                    continue;
                };
                if let Ok(mut a) = serde_json::from_str::<Alert>(&json) {
                    a.resolved_time = Some(at);
                    if let Ok(json) = serde_json::to_string(&a) {
                        hist.insert(k, json.as_str()).map_err(StoreError::db)?;
                    }
                }
            }
        }
        let mut next = hist
            .last()
            .map_err(StoreError::db)?
            .map(|(k, _)| k.value() + 1)
            .unwrap_or(1);
        for a in &c.history_add {
            if let Ok(json) = serde_json::to_string(a) {
                hist.insert(next, json.as_str()).map_err(StoreError::db)?;
                next += 1;
            }
        }
        // Bounds: count first (cheap), then age from the oldest end.
        let len = hist.len().map_err(StoreError::db)?;
        if len > HISTORY_MAX_ENTRIES {
            let excess = len - HISTORY_MAX_ENTRIES;
            for _ in 0..excess {
                hist.pop_first().map_err(StoreError::db)?;
            }
        }
        loop {
            let (k, old) = match hist.first().map_err(StoreError::db)? {
                None => break,
                Some((k, v)) => (
                    k.value(),
                    serde_json::from_str::<Alert>(v.value())
                        .map(|a| now - a.start_time > HISTORY_MAX_AGE_MS)
                        .unwrap_or(true),
                ),
            };
            if !old {
                break;
            }
            hist.remove(k).map_err(StoreError::db)?;
        }
    }
    tx.commit().map_err(StoreError::db)
}

pub fn clear_history(store: &Store) -> Result<(), StoreError> {
    let tx = store.database().begin_write().map_err(StoreError::db)?;
    tx.delete_table(ALERT_HISTORY).map_err(StoreError::db)?;
    tx.open_table(ALERT_HISTORY).map_err(StoreError::db)?;
    tx.commit().map_err(StoreError::db)
}

/// `GET /api/alerts/history` filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryQuery {
    /// 0 = all.
    pub limit: usize,
    pub offset: usize,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub level: Option<Level>,
    pub resource_id: Option<String>,
}

/// Matching entries, newest first.
pub fn history(store: &Store, q: &HistoryQuery) -> Result<Vec<Alert>, StoreError> {
    let rx = store.database().begin_read().map_err(StoreError::db)?;
    let t = rx.open_table(ALERT_HISTORY).map_err(StoreError::db)?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for row in t.iter().map_err(StoreError::db)?.rev() {
        let (_, v) = row.map_err(StoreError::db)?;
        let Ok(a) = serde_json::from_str::<Alert>(v.value()) else {
            continue;
        };
        if q.start.is_some_and(|s| a.start_time < s)
            || q.end.is_some_and(|e| a.start_time > e)
            || q.level.is_some_and(|l| a.level != l)
            || q.resource_id.as_ref().is_some_and(|r| &a.resource_id != r)
        {
            continue;
        }
        if skipped < q.offset {
            skipped += 1;
            continue;
        }
        out.push(a);
        if q.limit > 0 && out.len() >= q.limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, start: i64, level: Level) -> Alert {
        Alert {
            id: id.into(),
            kind: "cpu".into(),
            level,
            resource_id: id.trim_end_matches("-cpu").into(),
            resource_name: "x".into(),
            node: "n".into(),
            instance: "i".into(),
            message: "m".into(),
            value: 1.0,
            threshold: 1.0,
            start_time: start,
            last_seen: start,
            acknowledged: false,
            ack_time: None,
            ack_user: None,
            metadata: Default::default(),
            last_notified: None,
            last_escalation: None,
            escalation_times: vec![],
            resolved_time: None,
        }
    }

    #[test]
    fn history_is_bounded_filtered_and_resolvable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = 100 * 86_400_000i64;
        let old = now - HISTORY_MAX_AGE_MS - 1;
        let c = Changes {
            history_add: vec![
                alert("old-cpu", old, Level::Warning),
                alert("a-cpu", now - 10, Level::Warning),
                alert("b-cpu", now - 5, Level::Critical),
            ],
            ..Default::default()
        };
        apply(&store, &c, now).unwrap();
        let all = history(&store, &HistoryQuery::default()).unwrap();
        assert_eq!(
            all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["b-cpu", "a-cpu"],
            "newest first, old entry pruned"
        );
        let crit = history(
            &store,
            &HistoryQuery {
                level: Some(Level::Critical),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(crit.len(), 1);
        let paged = history(
            &store,
            &HistoryQuery {
                limit: 1,
                offset: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(paged[0].id, "a-cpu");
        apply(
            &store,
            &Changes {
                history_resolve: vec![("a-cpu".into(), now)],
                ..Default::default()
            },
            now,
        )
        .unwrap();
        let a = history(
            &store,
            &HistoryQuery {
                resource_id: Some("a".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(a[0].resolved_time, Some(now));
        clear_history(&store).unwrap();
        assert!(
            history(&store, &HistoryQuery::default())
                .unwrap()
                .is_empty()
        );
    }
}
