//! The chart responses: `/api/charts?range=` and `/api/storage-charts?range=<minutes>`
//! (spec/state-model.md §8), drawn from the history tiers.

use super::feed::{GUEST_METRICS, NODE_METRICS, STORAGE_METRICS, series};
use super::{History, Point};
use crate::model::State;
use crate::model::time::rfc3339_ms;
use crate::store::StoreError;
use serde_json::{Map, Value, json};

pub const RANGES: [(&str, i64); 9] = [
    ("5m", 5 * 60_000),
    ("15m", 15 * 60_000),
    ("30m", 30 * 60_000),
    ("1h", 3_600_000),
    ("4h", 4 * 3_600_000),
    ("12h", 12 * 3_600_000),
    ("24h", 24 * 3_600_000),
    ("7d", 7 * 86_400_000),
    ("30d", 30 * 86_400_000),
];

/// `range` of `/api/charts`; absent = 1h. Unknown values are an error listing the accepted
/// ones (the reference silently falls back to 1h, which hides typos).
pub fn parse_range(r: Option<&str>) -> Result<i64, String> {
    let Some(r) = r else { return Ok(3_600_000) };
    RANGES
        .iter()
        .find(|(k, _)| *k == r)
        .map(|(_, ms)| *ms)
        .ok_or_else(|| {
            let names: Vec<&str> = RANGES.iter().map(|(k, _)| *k).collect();
            format!("Invalid range {r:?}; accepted values: {}", names.join(", "))
        })
}

/// `range` of `/api/storage-charts`: whole minutes, 1 to 30 days; absent = 60.
pub fn parse_minutes(r: Option<&str>) -> Result<i64, String> {
    let Some(r) = r else { return Ok(60) };
    match r.trim().parse::<i64>() {
        Ok(m) if (1..=43_200).contains(&m) => Ok(m),
        _ => Err(format!(
            "Invalid range {r:?}; expected whole minutes from 1 to 43200"
        )),
    }
}

fn point(p: &Point) -> Value {
    let mut v = json!({"timestamp": p.timestamp, "value": p.avg});
    // The maximum is sent only where it differs, so a spike inside a coarse slot shows.
    if p.max > p.avg + 1e-6 {
        v["max"] = json!(p.max);
    }
    v
}

fn current(now: i64, value: f64) -> Value {
    json!([{"timestamp": now, "value": value}])
}

pub fn charts(h: &History, state: &State, range_ms: i64, now: i64) -> Result<Value, StoreError> {
    let mut names = Vec::new();
    for g in state.vms.iter().chain(&state.containers) {
        for m in GUEST_METRICS {
            names.push(series('g', m, &g.id));
        }
    }
    for n in &state.nodes {
        for m in NODE_METRICS {
            names.push(series('n', m, &n.id));
        }
    }
    for s in &state.storage {
        names.push(series('s', "usage", &s.id));
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = h.query(&refs, range_ms, now)?;
    let mut oldest = now;
    let mut take = |name: String, fallback: f64| -> Value {
        match found.get(&name) {
            Some(pts) if !pts.is_empty() => {
                oldest = oldest.min(pts[0].timestamp);
                Value::Array(pts.iter().map(point).collect())
            }
            _ => current(now, fallback),
        }
    };

    let mut data = Map::new();
    for g in state.vms.iter().chain(&state.containers) {
        let now_values = [
            g.cpu * 100.0,
            g.memory.as_ref().map_or(0.0, |m| m.usage),
            g.disk.as_ref().map_or(0.0, |d| d.usage),
            g.disk_read as f64,
            g.disk_write as f64,
            g.network_in as f64,
            g.network_out as f64,
        ];
        let mut m = Map::new();
        for (metric, v) in GUEST_METRICS.iter().zip(now_values) {
            m.insert(metric.to_string(), take(series('g', metric, &g.id), v));
        }
        data.insert(g.id.clone(), Value::Object(m));
    }
    let mut node_data = Map::new();
    for n in &state.nodes {
        let now_values = [
            n.cpu * 100.0,
            n.memory.as_ref().map_or(0.0, |m| m.usage),
            n.disk.as_ref().map_or(0.0, |d| d.usage),
        ];
        let mut m = Map::new();
        for (metric, v) in NODE_METRICS.iter().zip(now_values) {
            m.insert(metric.to_string(), take(series('n', metric, &n.id), v));
        }
        node_data.insert(n.id.clone(), Value::Object(m));
    }
    let mut storage_data = Map::new();
    for s in &state.storage {
        storage_data.insert(
            s.id.clone(),
            json!({"disk": take(series('s', "usage", &s.id), s.usage)}),
        );
    }
    Ok(json!({
        "data": data,
        "nodeData": node_data,
        "storageData": storage_data,
        "timestamp": now,
        "stats": {"oldestDataTimestamp": oldest},
    }))
}

pub fn storage_charts(
    h: &History,
    state: &State,
    minutes: i64,
    now: i64,
) -> Result<Value, StoreError> {
    let mut names = Vec::new();
    for s in &state.storage {
        for m in STORAGE_METRICS {
            names.push(series('s', m, &s.id));
        }
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = h.query(&refs, minutes * 60_000, now)?;
    let mut out = Map::new();
    for s in &state.storage {
        let mut m = Map::new();
        for metric in STORAGE_METRICS {
            let v = match found.get(&series('s', metric, &s.id)) {
                Some(pts) if !pts.is_empty() => Value::Array(
                    pts.iter()
                        .map(|p| json!({"value": p.avg, "timestamp": rfc3339_ms(p.timestamp)}))
                        .collect(),
                ),
                _ => Value::Null,
            };
            m.insert(metric.to_string(), v);
        }
        out.insert(s.id.clone(), Value::Object(m));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None), Ok(3_600_000));
        assert_eq!(parse_range(Some("7d")), Ok(7 * 86_400_000));
        let e = parse_range(Some("2h")).unwrap_err();
        assert!(e.contains("accepted values: 5m, 15m"));
        assert_eq!(parse_minutes(Some("90")), Ok(90));
        assert!(parse_minutes(Some("0")).is_err());
        assert!(parse_minutes(Some("abc")).is_err());
        assert!(parse_minutes(Some("99999999999999999999")).is_err());
    }
}
