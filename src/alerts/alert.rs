//! The alert object (spec/alerts.md §3) and the events the engine emits.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// Parses RFC3339 into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t: jiff::Timestamp = s.trim().parse().ok()?;
    Some(t.as_millisecond())
}

fn ser_ts<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::model::time::rfc3339_ms(*ms))
}

fn de_ts<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let s = String::deserialize(d)?;
    if s == crate::model::time::ZERO_TIME {
        return Ok(0);
    }
    parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom("not an RFC3339 time"))
}

fn ser_ts_opt<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    ser_ts(&ms.unwrap_or(0), s)
}

fn de_ts_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => parse_rfc3339(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("not an RFC3339 time")),
    }
}

fn ser_ts_vec<S: Serializer>(v: &[i64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for ms in v {
        seq.serialize_element(&crate::model::time::rfc3339_ms(*ms))?;
    }
    seq.end()
}

fn de_ts_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| parse_rfc3339(s).ok_or_else(|| serde::de::Error::custom("not an RFC3339 time")))
        .collect()
}

/// One alert, as `/api/alerts/active`, history and the `/ws` `alert` message show it.
/// Times are Unix ms inside, RFC3339 on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub level: Level,
    pub resource_id: String,
    pub resource_name: String,
    pub node: String,
    pub instance: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    #[serde(serialize_with = "ser_ts", deserialize_with = "de_ts")]
    pub start_time: i64,
    #[serde(serialize_with = "ser_ts", deserialize_with = "de_ts")]
    pub last_seen: i64,
    pub acknowledged: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_ts_opt",
        deserialize_with = "de_ts_opt"
    )]
    pub ack_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_user: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_ts_opt",
        deserialize_with = "de_ts_opt"
    )]
    pub last_notified: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_escalation: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser_ts_vec",
        deserialize_with = "de_ts_vec"
    )]
    pub escalation_times: Vec<i64>,
    /// Set on history entries once the alert is over (absent in the reference, which kept
    /// no resolution time at all).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_ts_opt",
        deserialize_with = "de_ts_opt"
    )]
    pub resolved_time: Option<i64>,
}

impl Alert {
    /// The reduced form `/api/state` lists (state-model §5.13).
    pub fn to_state(&self) -> crate::model::ActiveAlert {
        crate::model::ActiveAlert {
            id: self.id.clone(),
            kind: self.kind.clone(),
            level: self.level.as_str().into(),
            resource_id: self.resource_id.clone(),
            resource_name: self.resource_name.clone(),
            node: self.node.clone(),
            instance: self.instance.clone(),
            message: self.message.clone(),
            value: self.value,
            threshold: self.threshold,
            start_time: self.start_time,
            acknowledged: self.acknowledged,
            ack_time: self.ack_time,
            ack_user: self.ack_user.clone(),
        }
    }

    pub fn resource_type(&self) -> &str {
        self.metadata
            .get("resourceType")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }
}

/// Why an alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ResolvedBy {
    /// The condition is over (value at or below clear, resource back online, …).
    Recovered,
    /// Cleared by a user.
    Manual,
    /// The configuration no longer asks for it (threshold off, resource or family disabled).
    Config,
    /// The resource is no longer monitored.
    Gone,
    /// Housekeeping dropped it (`maxAlertAgeDays` / `maxAcknowledgedAgeDays`).
    Expired,
}

/// What happened, for the notification pipeline, `/ws` and history. `notify` says whether
/// the dispatch gate (activation, flapping, quiet hours, cooldown, rate limit, monitor-only)
/// lets a notification go out for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum AlertEvent {
    Raised {
        alert: Alert,
        notify: bool,
    },
    /// Warning → critical while active.
    LevelRaised {
        alert: Alert,
        notify: bool,
    },
    Escalated {
        alert: Alert,
        level: u32,
        channel: String,
        notify: bool,
    },
    /// An alert whose first notification was held back (quiet hours, not yet activated) and
    /// that is still going on once nothing forbids it.
    Deferred {
        alert: Alert,
    },
    /// A notification for this alert was held back.
    Suppressed {
        id: String,
        reason: &'static str,
    },
    Resolved {
        alert: Alert,
        by: ResolvedBy,
        at: i64,
    },
    Acknowledged {
        alert: Alert,
    },
    Unacknowledged {
        alert: Alert,
    },
}

impl AlertEvent {
    /// Events that change what the alert list shows.
    pub fn alert(&self) -> Option<&Alert> {
        match self {
            AlertEvent::Raised { alert, .. }
            | AlertEvent::LevelRaised { alert, .. }
            | AlertEvent::Escalated { alert, .. }
            | AlertEvent::Deferred { alert }
            | AlertEvent::Resolved { alert, .. }
            | AlertEvent::Acknowledged { alert }
            | AlertEvent::Unacknowledged { alert } => Some(alert),
            AlertEvent::Suppressed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_uses_rfc3339() {
        let a = Alert {
            id: "pve-101-cpu".into(),
            kind: "cpu".into(),
            level: Level::Critical,
            resource_id: "pve-101".into(),
            resource_name: "web".into(),
            node: "n1".into(),
            instance: "pve".into(),
            message: "VM cpu at 95.0%".into(),
            value: 95.0,
            threshold: 80.0,
            start_time: 1_700_000_000_000,
            last_seen: 1_700_000_010_000,
            acknowledged: true,
            ack_time: Some(1_700_000_020_000),
            ack_user: Some("admin".into()),
            metadata: serde_json::Map::new(),
            last_notified: None,
            last_escalation: Some(2),
            escalation_times: vec![1_700_000_030_000],
            resolved_time: None,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["startTime"], "2023-11-14T22:13:20Z");
        assert_eq!(v["type"], "cpu");
        assert_eq!(v["level"], "critical");
        assert!(v.get("lastNotified").is_none() && v.get("metadata").is_none());
        let back: Alert = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
