//! Raw types of the Proxmox Backup Server API.

use super::Verification;
use crate::proxmox::de;
use serde::{Deserialize, Deserializer};

/// `GET /version`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PbsVersion {
    #[serde(deserialize_with = "de::string")]
    pub version: String,
    #[serde(deserialize_with = "de::string")]
    pub release: String,
    #[serde(deserialize_with = "de::string")]
    pub repoid: String,
}

/// Memory/swap block of `GET /nodes/localhost/status` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PbsMemory {
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub free: u64,
}

/// Root filesystem of `GET /nodes/localhost/status` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PbsRootfs {
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub avail: u64,
}

/// `GET /nodes/localhost/status`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PbsNodeStatus {
    /// fraction 0..1
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    #[serde(deserialize_with = "de::f64")]
    pub wait: f64,
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    #[serde(deserialize_with = "de::f64_list")]
    pub loadavg: Vec<f64>,
    #[serde(deserialize_with = "de::nullable")]
    pub memory: PbsMemory,
    #[serde(deserialize_with = "de::nullable")]
    pub swap: PbsMemory,
    #[serde(deserialize_with = "de::nullable")]
    pub root: PbsRootfs,
    #[serde(deserialize_with = "de::string")]
    pub kversion: String,
    pub cpuinfo: serde_json::Value,
    pub info: serde_json::Value,
}

/// One entry of `GET /admin/datastore`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Datastore {
    #[serde(deserialize_with = "de::string")]
    pub store: String,
    #[serde(deserialize_with = "de::string")]
    pub comment: String,
    #[serde(deserialize_with = "de::string")]
    pub maintenance: String,
    #[serde(rename = "backend-type", deserialize_with = "de::string")]
    pub backend_type: String,
    #[serde(rename = "mount-status", deserialize_with = "de::string")]
    pub mount_status: String,
}

/// Garbage-collection status (`GET /admin/datastore/{store}/gc`, `gc-status`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GcStatus {
    #[serde(deserialize_with = "de::string")]
    pub store: String,
    #[serde(deserialize_with = "de::string")]
    pub upid: String,
    #[serde(rename = "index-file-count", deserialize_with = "de::u64")]
    pub index_file_count: u64,
    #[serde(rename = "index-data-bytes", deserialize_with = "de::u64")]
    pub index_data_bytes: u64,
    #[serde(rename = "disk-bytes", deserialize_with = "de::u64")]
    pub disk_bytes: u64,
    #[serde(rename = "disk-chunks", deserialize_with = "de::u64")]
    pub disk_chunks: u64,
    #[serde(rename = "removed-bytes", deserialize_with = "de::u64")]
    pub removed_bytes: u64,
    #[serde(rename = "removed-chunks", deserialize_with = "de::u64")]
    pub removed_chunks: u64,
    #[serde(rename = "pending-bytes", deserialize_with = "de::u64")]
    pub pending_bytes: u64,
    #[serde(rename = "pending-chunks", deserialize_with = "de::u64")]
    pub pending_chunks: u64,
    #[serde(rename = "removed-bad", deserialize_with = "de::u64")]
    pub removed_bad: u64,
    #[serde(rename = "still-bad", deserialize_with = "de::u64")]
    pub still_bad: u64,
    #[serde(rename = "last-run-state", deserialize_with = "de::string")]
    pub last_run_state: String,
    #[serde(rename = "last-run-endtime", deserialize_with = "de::opt_i64")]
    pub last_run_endtime: Option<i64>,
    #[serde(rename = "next-run", deserialize_with = "de::opt_i64")]
    pub next_run: Option<i64>,
    #[serde(deserialize_with = "de::string")]
    pub schedule: String,
    #[serde(deserialize_with = "de::opt_i64")]
    pub duration: Option<i64>,
}

/// `GET /admin/datastore/{store}/status` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DatastoreStatus {
    #[serde(deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub avail: u64,
    #[serde(rename = "total-space", deserialize_with = "de::opt_u64")]
    pub total_space: Option<u64>,
    #[serde(rename = "deduplication-factor", deserialize_with = "de::opt_f64")]
    pub deduplication_factor: Option<f64>,
    #[serde(rename = "deduplication_factor", deserialize_with = "de::opt_f64")]
    pub deduplication_factor_legacy: Option<f64>,
    #[serde(rename = "gc-status", deserialize_with = "de::nullable")]
    pub gc_status: Option<GcStatus>,
    pub counts: serde_json::Value,
    #[serde(rename = "backend-type", deserialize_with = "de::string")]
    pub backend_type: String,
}

/// One point of `GET /admin/datastore/{store}/rrd`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DatastoreRrdPoint {
    #[serde(deserialize_with = "de::i64")]
    pub time: i64,
    #[serde(deserialize_with = "de::opt_f64")]
    pub total: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub used: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub available: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub read_ios: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub write_ios: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub read_bytes: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub write_bytes: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub io_ticks: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub dedup_factor: Option<f64>,
}

/// One entry of `GET /admin/datastore/{store}/namespace` (root is `""`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Namespace {
    #[serde(deserialize_with = "de::string")]
    pub ns: String,
    #[serde(deserialize_with = "de::string")]
    pub path: String,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub parent: String,
    #[serde(deserialize_with = "de::string")]
    pub comment: String,
}

/// One entry of `GET /admin/datastore/{store}/groups`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BackupGroup {
    /// vm, ct, host
    #[serde(rename = "backup-type", deserialize_with = "de::string")]
    pub backup_type: String,
    #[serde(rename = "backup-id", deserialize_with = "de::string")]
    pub backup_id: String,
    #[serde(rename = "last-backup", deserialize_with = "de::opt_i64")]
    pub last_backup: Option<i64>,
    #[serde(rename = "backup-count", deserialize_with = "de::u64")]
    pub backup_count: u64,
    #[serde(deserialize_with = "de::string")]
    pub owner: String,
    #[serde(deserialize_with = "de::string")]
    pub comment: String,
    #[serde(deserialize_with = "de::string_list")]
    pub files: Vec<String>,
}

/// One entry of `GET /admin/datastore/{store}/snapshots`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BackupSnapshot {
    #[serde(rename = "backup-type", deserialize_with = "de::string")]
    pub backup_type: String,
    #[serde(rename = "backup-id", deserialize_with = "de::string")]
    pub backup_id: String,
    #[serde(rename = "backup-time", deserialize_with = "de::i64")]
    pub backup_time: i64,
    #[serde(deserialize_with = "de::nullable")]
    pub files: Vec<SnapshotFile>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    #[serde(deserialize_with = "de::bool")]
    pub protected: bool,
    #[serde(deserialize_with = "de::string")]
    pub comment: String,
    #[serde(deserialize_with = "de::string")]
    pub owner: String,
    #[serde(deserialize_with = "de::nullable")]
    pub verification: Option<Verification>,
    #[serde(deserialize_with = "de::string")]
    pub fingerprint: String,
}

/// One entry of `GET /status/datastore-usage` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DatastoreUsage {
    #[serde(deserialize_with = "de::string")]
    pub store: String,
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub avail: u64,
    #[serde(rename = "backend-type", deserialize_with = "de::string")]
    pub backend_type: String,
    #[serde(rename = "mount-status", deserialize_with = "de::string")]
    pub mount_status: String,
    #[serde(rename = "estimated-full-date", deserialize_with = "de::opt_i64")]
    pub estimated_full_date: Option<i64>,
    #[serde(deserialize_with = "de::string")]
    pub error: String,
    #[serde(rename = "history-start", deserialize_with = "de::opt_i64")]
    pub history_start: Option<i64>,
    #[serde(rename = "history-delta", deserialize_with = "de::opt_i64")]
    pub history_delta: Option<i64>,
    pub history: serde_json::Value,
    #[serde(rename = "gc-status", deserialize_with = "de::nullable")]
    pub gc_status: Option<GcStatus>,
}

/// `GET /nodes/localhost/subscription`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Subscription {
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::string")]
    pub message: String,
    #[serde(deserialize_with = "de::string")]
    pub serverid: String,
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    #[serde(deserialize_with = "de::string")]
    pub key: String,
    #[serde(deserialize_with = "de::string")]
    pub level: String,
    #[serde(deserialize_with = "de::string")]
    pub productname: String,
    #[serde(deserialize_with = "de::string")]
    pub nextduedate: String,
}

impl DatastoreStatus {
    /// The deduplication factor under either spelling.
    pub fn dedup_factor(&self) -> Option<f64> {
        self.deduplication_factor
            .or(self.deduplication_factor_legacy)
    }
}

impl Namespace {
    /// The namespace path: `ns`, else `path`, else `name` (root is `""`).
    pub fn path(&self) -> &str {
        [&self.ns, &self.path, &self.name]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// A file of a backup snapshot: a bare file name, or `{filename, size, crypt-mode}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotFile {
    pub filename: String,
    pub size: Option<u64>,
    pub crypt_mode: String,
}

impl<'de> Deserialize<'de> for SnapshotFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Obj {
            #[serde(deserialize_with = "de::string")]
            filename: String,
            #[serde(deserialize_with = "de::opt_u64")]
            size: Option<u64>,
            #[serde(rename = "crypt-mode", deserialize_with = "de::string")]
            crypt_mode: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Obj(Obj),
        }
        Ok(match Form::deserialize(d)? {
            Form::Name(filename) => SnapshotFile {
                filename,
                ..Default::default()
            },
            Form::Obj(o) => SnapshotFile {
                filename: o.filename,
                size: o.size,
                crypt_mode: o.crypt_mode,
            },
        })
    }
}

/// One entry of `GET /nodes/localhost/tasks` (newest first). Job runs carry the job in
/// `worker_id`: `<store>` for garbage collection, `<store>:<job>` for verification and prune
/// jobs, `<remote>:<remote-store>:<store>:<job>` for sync jobs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PbsTask {
    #[serde(deserialize_with = "de::string")]
    pub upid: String,
    #[serde(deserialize_with = "de::string")]
    pub worker_type: String,
    #[serde(deserialize_with = "de::string")]
    pub worker_id: String,
    #[serde(deserialize_with = "de::i64")]
    pub starttime: i64,
    /// Absent while the task runs.
    #[serde(deserialize_with = "de::opt_i64")]
    pub endtime: Option<i64>,
    /// `OK`, `WARNINGS: n`, an error text, or absent while running.
    #[serde(deserialize_with = "de::opt_string")]
    pub status: Option<String>,
}
