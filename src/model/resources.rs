//! The resources of `/api/state` (frontend shape, spec/state-model.md §4–§5). Field order is
//! the documented key order; `Option` fields are omitted when `None`, mirroring the
//! reference's `omitempty`, so clients see the exact same keys.

use super::parts::Parts;
use super::time::{rfc3339, rfc3339_opt};
use serde::Serialize;
use std::sync::Arc;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub total: u64,
    pub used: u64,
    pub free: u64,
    /// Percent 0..100.
    pub usage: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balloon: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_used: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_total: Option<u64>,
}

impl Memory {
    /// Builds a consistent record: used capped at total, free and usage derived.
    pub fn from_used(total: u64, used: u64) -> Memory {
        let used = used.min(total);
        Memory {
            total,
            used,
            free: total - used,
            usage: percent(used, total),
            ..Default::default()
        }
    }
}

/// `part / whole × 100`, 0 when `whole` is 0; never NaN.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub total: u64,
    pub used: u64,
    pub free: u64,
    /// Percent 0..100, or −1: "actual usage unknown; `total` is the allocated size".
    pub usage: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuInfo {
    pub model: String,
    pub cores: u32,
    pub sockets: u32,
    pub mhz: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestNetworkInterface {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub id: String,
    pub node: String,
    pub name: String,
    pub display_name: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Fraction 0..1 of all logical CPUs.
    pub cpu: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    pub mem: u64,
    pub maxmem: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<Disk>,
    pub maxdisk: u64,
    pub uptime: u64,
    pub load_average: Vec<f64>,
    pub kernel_version: String,
    pub pve_version: String,
    pub cpu_info: CpuInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<serde_json::Value>,
    /// Unix ms of the poll that produced this entry.
    pub last_seen: i64,
    pub connection_health: String,
    #[serde(skip_serializing_if = "is_false")]
    pub is_cluster_member: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_monitoring_enabled: Option<bool>,
}

/// A QEMU VM (`type: "qemu"`) or LXC container (`type: "lxc"`); containers never carry the
/// agent-only fields, so those stay `None` and are omitted.
fn no_items<T>(list: &Arc<[T]>) -> bool {
    list.is_empty()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Guest {
    pub id: String,
    pub vmid: u32,
    pub name: String,
    pub node: Arc<str>,
    pub instance: Arc<str>,
    pub status: Arc<str>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Fraction 0..1 of the guest's vCPUs; 0 when not running.
    pub cpu: f64,
    pub cpus: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    pub mem: u64,
    pub maxmem: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<Disk>,
    // The lists and texts below come from slower-cadence readings (agent, CT status and
    // config) and are shared (`Arc`) with the poller's cache: a cycle hands them on by
    // reference count instead of copying every interface, address and name per guest.
    #[serde(skip_serializing_if = "no_items")]
    pub disks: Arc<[Disk]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_status_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_name: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<Arc<str>>,
    #[serde(skip_serializing_if = "no_items")]
    pub network_interfaces: Arc<[GuestNetworkInterface]>,
    #[serde(skip_serializing_if = "no_items")]
    pub ip_addresses: Arc<[String]>,
    /// Bytes per second, from counter deltas.
    pub network_in: u64,
    pub network_out: u64,
    pub disk_read: u64,
    pub disk_write: u64,
    pub uptime: u64,
    pub template: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<i64>,
    /// Comma-joined (PVE separates with `;`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    pub last_seen: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub id: String,
    pub storage: String,
    pub name: String,
    pub node: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_count: Option<u32>,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub total: u64,
    pub used: u64,
    pub avail: u64,
    pub free: u64,
    pub usage: f64,
    pub content: String,
    pub shared: bool,
    pub enabled: bool,
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CephPool {
    pub id: u32,
    pub name: String,
    pub stored_bytes: u64,
    pub available_bytes: u64,
    pub objects: u64,
    pub percent_used: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CephService {
    #[serde(rename = "type")]
    pub kind: String,
    pub running: u32,
    pub total: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CephCluster {
    pub id: String,
    pub instance: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fsid: String,
    pub health: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub health_message: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub usage_percent: f64,
    pub num_mons: u32,
    pub num_mgrs: u32,
    pub num_osds: u32,
    pub num_osds_up: u32,
    pub num_osds_in: u32,
    #[serde(rename = "numPGs")]
    pub num_pgs: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<CephPool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<CephService>,
    /// Unix ms.
    pub last_updated: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalDisk {
    pub id: String,
    pub node: String,
    pub instance: String,
    pub dev_path: String,
    pub model: String,
    pub serial: String,
    pub wwn: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub size: u64,
    pub health: String,
    /// Percent of life remaining, −1 unknown.
    pub wearout: i32,
    pub temperature: i32,
    pub rpm: u32,
    pub used: String,
    #[serde(serialize_with = "rfc3339")]
    pub last_checked: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PbsNamespace {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub depth: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PbsDatastore {
    pub name: String,
    pub total: u64,
    pub used: u64,
    pub free: u64,
    pub usage: f64,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<PbsNamespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduplication_factor: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PbsInstance {
    pub id: String,
    pub name: String,
    pub host: String,
    pub status: String,
    pub version: String,
    pub cpu: f64,
    /// Percent.
    pub memory: f64,
    pub memory_used: u64,
    pub memory_total: u64,
    pub uptime: u64,
    /// `null` when datastores are not monitored.
    pub datastores: Option<Vec<PbsDatastore>>,
    pub backup_jobs: Option<Vec<serde_json::Value>>,
    pub sync_jobs: Option<Vec<serde_json::Value>>,
    pub verify_jobs: Option<Vec<serde_json::Value>>,
    pub prune_jobs: Option<Vec<serde_json::Value>>,
    pub garbage_jobs: Option<Vec<serde_json::Value>>,
    pub connection_health: String,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgQueueStatus {
    pub active: u64,
    pub deferred: u64,
    pub hold: u64,
    pub incoming: u64,
    pub total: u64,
    /// Seconds.
    pub oldest_age: u64,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgNode {
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_avg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_status: Option<PmgQueueStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgMailStats {
    pub timeframe: String,
    pub count_total: f64,
    pub count_in: f64,
    pub count_out: f64,
    pub spam_in: f64,
    pub spam_out: f64,
    pub virus_in: f64,
    pub virus_out: f64,
    pub bounces_in: f64,
    pub bounces_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub greylist_count: f64,
    pub junk_in: f64,
    pub average_process_time_ms: f64,
    pub rbl_rejects: f64,
    pub pregreet_rejects: f64,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgMailCount {
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: i64,
    pub count: f64,
    pub count_in: f64,
    pub count_out: f64,
    pub spam_in: f64,
    pub spam_out: f64,
    pub virus_in: f64,
    pub virus_out: f64,
    pub rbl_rejects: f64,
    pub pregreet: f64,
    pub bounces_in: f64,
    pub bounces_out: f64,
    pub greylist: f64,
    pub index: u32,
    pub timeframe: String,
    #[serde(serialize_with = "rfc3339")]
    pub window_start: i64,
    #[serde(serialize_with = "rfc3339")]
    pub window_end: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgSpamBucket {
    pub score: String,
    pub count: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgQuarantine {
    pub spam: u64,
    pub virus: u64,
    pub attachment: u64,
    pub blacklisted: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgInstance {
    pub id: String,
    pub name: String,
    pub host: String,
    pub version: String,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<PmgNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_stats: Option<PmgMailStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mail_count: Vec<PmgMailCount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spam_distribution: Vec<PmgSpamBucket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<PmgQuarantine>,
    pub connection_health: String,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: i64,
    #[serde(serialize_with = "rfc3339")]
    pub last_updated: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupTask {
    pub id: String,
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub vmid: u32,
    /// `OK`, the error text, or `""` while running.
    pub status: String,
    #[serde(serialize_with = "rfc3339")]
    pub start_time: i64,
    /// Zero time while running.
    #[serde(serialize_with = "rfc3339")]
    pub end_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One backup volume on a PVE storage. A big fleet holds tens of thousands (25,650 on the
/// 5-cluster bench fleet), so the texts that repeat across them (instance, storage, node,
/// format) are shared `Arc<str>`s, and `id` (`<instance>-<volid>`) is written when
/// serialized instead of stored: about 320 bytes less per volume, ~8 MB on that fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageBackup {
    pub storage: Arc<str>,
    pub node: Arc<str>,
    pub instance: Arc<str>,
    pub kind: &'static str,
    pub vmid: u32,
    /// Unix ms (serialized RFC 3339).
    pub time: i64,
    /// Unix seconds.
    pub ctime: i64,
    pub size: u64,
    pub format: Arc<str>,
    pub notes: Option<String>,
    pub protected: bool,
    pub volid: String,
    pub is_pbs: bool,
    pub verified: bool,
    pub verification: Option<String>,
}

impl StorageBackup {
    /// `<instance>-<volid>`, the id `/api/state` shows.
    pub fn id(&self) -> String {
        format!("{}-{}", self.instance, self.volid)
    }
}

/// Serializes `<instance>-<volid>` without building the string first.
struct JoinedId<'a>(&'a str, &'a str);

impl Serialize for JoinedId<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}-{}", self.0, self.1))
    }
}

/// The documented keys, in order (as a derive would write them).
impl Serialize for StorageBackup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = 14 + usize::from(self.notes.is_some()) + usize::from(self.verification.is_some());
        let mut st = s.serialize_struct("StorageBackup", n)?;
        st.serialize_field("id", &JoinedId(&self.instance, &self.volid))?;
        st.serialize_field("storage", &*self.storage)?;
        st.serialize_field("node", &*self.node)?;
        st.serialize_field("instance", &*self.instance)?;
        st.serialize_field("type", self.kind)?;
        st.serialize_field("vmid", &self.vmid)?;
        st.serialize_field("time", &super::time::rfc3339_ms(self.time))?;
        st.serialize_field("ctime", &self.ctime)?;
        st.serialize_field("size", &self.size)?;
        st.serialize_field("format", &*self.format)?;
        if let Some(n) = &self.notes {
            st.serialize_field("notes", n)?;
        }
        st.serialize_field("protected", &self.protected)?;
        st.serialize_field("volid", &self.volid)?;
        st.serialize_field("isPBS", &self.is_pbs)?;
        st.serialize_field("verified", &self.verified)?;
        if let Some(v) = &self.verification {
            st.serialize_field("verification", v)?;
        }
        st.end()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestSnapshot {
    pub id: String,
    pub name: String,
    pub node: String,
    pub instance: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub vmid: u32,
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub vmstate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PbsBackup {
    pub id: String,
    pub instance: String,
    pub datastore: String,
    pub namespace: String,
    pub backup_type: String,
    /// A string in the reference's JSON (it is the backup id, not always numeric).
    pub vmid: String,
    #[serde(serialize_with = "rfc3339")]
    pub backup_time: i64,
    pub size: u64,
    pub protected: bool,
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PmgBackup {
    pub id: String,
    pub instance: String,
    pub node: String,
    pub filename: String,
    #[serde(serialize_with = "rfc3339")]
    pub backup_time: i64,
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PveBackups {
    pub backup_tasks: Parts<BackupTask>,
    pub storage_backups: Parts<StorageBackup>,
    pub guest_snapshots: Parts<GuestSnapshot>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationJob {
    pub id: String,
    pub instance: String,
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_storage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_storage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_status: Option<String>,
    /// Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_unix: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_duration_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_duration_human: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sync_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sync_unix: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_human: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_mbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polled_at: Option<i64>,
}

/// An active alert as `/api/state` lists it (§5.13); the alert engine owns the semantics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveAlert {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub level: String,
    pub resource_id: String,
    pub resource_name: String,
    pub node: String,
    pub instance: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    #[serde(serialize_with = "rfc3339")]
    pub start_time: i64,
    pub acknowledged: bool,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_opt"
    )]
    pub ack_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_user: Option<String>,
}
