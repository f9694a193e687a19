//! Raw types of the Proxmox Mail Gateway API. All numbers are decoded leniently (real PMG sends
//! JSON numbers; strings and nulls are tolerated).

use crate::proxmox::de;
use serde::Deserialize;

/// `GET /version`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PmgVersion {
    #[serde(deserialize_with = "de::string")]
    pub version: String,
    #[serde(deserialize_with = "de::string")]
    pub release: String,
    #[serde(deserialize_with = "de::string")]
    pub repoid: String,
}

/// One entry of `GET /config/cluster/status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PmgClusterNode {
    #[serde(deserialize_with = "de::u64")]
    pub cid: u64,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    /// master or node
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub ip: String,
    #[serde(deserialize_with = "de::string")]
    pub fingerprint: String,
}

/// Postfix queue counters (object form of `GET /nodes/{node}/postfix/queue`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct QueueCounts {
    #[serde(deserialize_with = "de::u64")]
    pub active: u64,
    #[serde(deserialize_with = "de::u64")]
    pub deferred: u64,
    #[serde(deserialize_with = "de::u64")]
    pub hold: u64,
    #[serde(deserialize_with = "de::u64")]
    pub incoming: u64,
    /// seconds
    #[serde(deserialize_with = "de::u64")]
    pub oldest_age: u64,
}

/// One row of `GET /nodes/{node}/postfix/qshape` (`domain` is `TOTAL` for the sum row).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct QshapeRow {
    #[serde(deserialize_with = "de::string")]
    pub domain: String,
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
}

/// One entry of `GET /nodes/{node}/backup`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PmgBackup {
    #[serde(deserialize_with = "de::string")]
    pub filename: String,
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(deserialize_with = "de::i64")]
    pub timestamp: i64,
}

/// `GET /statistics/mail` (counts; `bytes_*` bytes; `avptime` seconds).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MailStats {
    #[serde(deserialize_with = "de::u64")]
    pub count: u64,
    #[serde(deserialize_with = "de::u64")]
    pub count_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub count_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub spamcount_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub spamcount_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub viruscount_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub viruscount_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bounces_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bounces_out: u64,
    #[serde(deserialize_with = "de::f64")]
    pub bytes_in: f64,
    #[serde(deserialize_with = "de::f64")]
    pub bytes_out: f64,
    #[serde(deserialize_with = "de::u64")]
    pub glcount: u64,
    #[serde(deserialize_with = "de::u64")]
    pub junk_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub rbl_rejects: u64,
    #[serde(deserialize_with = "de::u64")]
    pub pregreet_rejects: u64,
    #[serde(deserialize_with = "de::f64")]
    pub avptime: f64,
}

/// One row of `GET /statistics/mailcount`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MailCountPoint {
    #[serde(deserialize_with = "de::u64")]
    pub index: u64,
    #[serde(deserialize_with = "de::i64")]
    pub time: i64,
    #[serde(deserialize_with = "de::u64")]
    pub count: u64,
    #[serde(deserialize_with = "de::u64")]
    pub count_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub count_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub spamcount_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub spamcount_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub viruscount_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub viruscount_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bounces_in: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bounces_out: u64,
    #[serde(deserialize_with = "de::u64")]
    pub rbl_rejects: u64,
    #[serde(deserialize_with = "de::u64")]
    pub pregreet_rejects: u64,
    #[serde(deserialize_with = "de::u64")]
    pub glcount: u64,
}

/// One row of `GET /statistics/spamscores`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SpamScore {
    #[serde(deserialize_with = "de::string")]
    pub level: String,
    #[serde(deserialize_with = "de::u64")]
    pub count: u64,
    #[serde(deserialize_with = "de::f64")]
    pub ratio: f64,
}

/// `GET /quarantine/spamstatus` / `virusstatus`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct QuarantineStatus {
    #[serde(deserialize_with = "de::u64")]
    pub count: u64,
    #[serde(deserialize_with = "de::f64")]
    pub avgbytes: f64,
    #[serde(deserialize_with = "de::f64")]
    pub avgspam: f64,
    #[serde(deserialize_with = "de::f64")]
    pub mbytes: f64,
}

/// `GET /nodes/{node}/postfix/queue`: Pulse's reference expects counters, while PMG's schema
/// documents a list of queues. Both shapes decode; the poller uses `Counts` or falls back to
/// `qshape`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PostfixQueue {
    Counts(QueueCounts),
    List(Vec<serde_json::Value>),
}
