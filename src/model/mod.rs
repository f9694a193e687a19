//! The monitored world as `/api/state` and the WebSocket show it (spec/state-model.md).
//! A `State` is immutable once built: each tick produces a new one, which `published`
//! serializes once and shares with every reader.

pub mod parts;
pub mod published;
pub mod resources;
pub mod time;

pub use resources::*;
use serde::Serialize;
use serde::ser::SerializeStruct;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub nodes: Vec<Node>,
    /// Guests are shared (`Arc`) between an instance's fragment and every merged state built
    /// from it: a publish assembles the fleet by reference count instead of deep-copying
    /// thousands of guests (about 25 allocations each) every time any instance reports.
    pub vms: Vec<Arc<Guest>>,
    pub containers: Vec<Arc<Guest>>,
    /// Agent-reported hosts arrive with the Docker/host agent issue; kept as JSON until then.
    pub docker_hosts: Vec<serde_json::Value>,
    pub removed_docker_hosts: Vec<serde_json::Value>,
    pub hosts: Vec<serde_json::Value>,
    pub storage: Vec<Storage>,
    pub ceph_clusters: Vec<CephCluster>,
    pub physical_disks: Vec<PhysicalDisk>,
    pub pbs: Vec<PbsInstance>,
    pub pmg: Vec<PmgInstance>,
    /// The backup lists are most of a big fleet's state and change only on the slower
    /// backup cadence: shared (`Arc`) so a cycle that did not re-read them, the merge of all
    /// instances and each publish reuse them instead of copying, and an unchanged list is
    /// recognised by pointer (its JSON is reused too, see `published`).
    pub pve_backups: Arc<PveBackups>,
    pub pbs_backups: Arc<Vec<PbsBackup>>,
    pub pmg_backups: Arc<Vec<PmgBackup>>,
    pub replication_jobs: Vec<ReplicationJob>,
    pub active_alerts: Vec<ActiveAlert>,
    /// Keys: PVE instance name, `pbs-<name>`, `pmg-<name>`, `docker-<id>`, `host-<id>`.
    pub connection_health: BTreeMap<String, bool>,
    /// Unix ms of the last change.
    pub last_update: i64,
    pub temperature_monitoring_enabled: bool,
}

/// `{pve, pbs, pmg}`: the same backups as the three flat keys, grouped.
struct BackupsView<'a>(&'a State);

impl Serialize for BackupsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Backups", 3)?;
        st.serialize_field("pve", &*self.0.pve_backups)?;
        st.serialize_field("pbs", &*self.0.pbs_backups)?;
        st.serialize_field("pmg", &*self.0.pmg_backups)?;
        st.end()
    }
}

struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_struct("Empty", 0)?.end()
    }
}

/// The frontend shape, in the documented key order (§3).
impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("State", 25)?;
        st.serialize_field("nodes", &self.nodes)?;
        st.serialize_field("vms", &self.vms)?;
        st.serialize_field("containers", &self.containers)?;
        st.serialize_field("dockerHosts", &self.docker_hosts)?;
        st.serialize_field("removedDockerHosts", &self.removed_docker_hosts)?;
        st.serialize_field("hosts", &self.hosts)?;
        st.serialize_field("storage", &self.storage)?;
        st.serialize_field("cephClusters", &self.ceph_clusters)?;
        st.serialize_field("physicalDisks", &self.physical_disks)?;
        st.serialize_field("pbs", &self.pbs)?;
        st.serialize_field("pmg", &self.pmg)?;
        st.serialize_field("pbsBackups", &*self.pbs_backups)?;
        st.serialize_field("pmgBackups", &*self.pmg_backups)?;
        st.serialize_field("backups", &BackupsView(self))?;
        st.serialize_field("replicationJobs", &self.replication_jobs)?;
        st.serialize_field("activeAlerts", &self.active_alerts)?;
        st.serialize_field("metrics", &EmptyObject)?;
        st.serialize_field("pveBackups", &*self.pve_backups)?;
        st.serialize_field("performance", &EmptyObject)?;
        st.serialize_field("connectionHealth", &self.connection_health)?;
        st.serialize_field("stats", &EmptyObject)?;
        st.serialize_field("lastUpdate", &self.last_update)?;
        st.serialize_field(
            "temperatureMonitoringEnabled",
            &self.temperature_monitoring_enabled,
        )?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_has_every_key_in_order() {
        let s = State {
            last_update: 5,
            temperature_monitoring_enabled: true,
            ..Default::default()
        };
        let json = serde_json::to_string(&s).unwrap();
        let keys = [
            "nodes",
            "vms",
            "containers",
            "dockerHosts",
            "removedDockerHosts",
            "hosts",
            "storage",
            "cephClusters",
            "physicalDisks",
            "pbs",
            "pmg",
            "pbsBackups",
            "pmgBackups",
            "backups",
            "replicationJobs",
            "activeAlerts",
            "metrics",
            "pveBackups",
            "performance",
            "connectionHealth",
            "stats",
            "lastUpdate",
            "temperatureMonitoringEnabled",
        ];
        let mut last = 0;
        for k in keys {
            let at = json
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"));
            assert!(at >= last, "{k} out of order");
            last = at;
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["nodes"], serde_json::json!([]));
        assert_eq!(v["metrics"], serde_json::json!({}));
        assert_eq!(v["backups"]["pve"]["backupTasks"], serde_json::json!([]));
        assert_eq!(v["pveBackups"]["guestSnapshots"], serde_json::json!([]));
    }

    #[test]
    fn optional_fields_follow_omitempty() {
        let g = Guest {
            id: "pve1-101".into(),
            kind: "lxc",
            tags: String::new(),
            ..Default::default()
        };
        let v = serde_json::to_value(&g).unwrap();
        for absent in [
            "memory",
            "disk",
            "disks",
            "osName",
            "tags",
            "lock",
            "lastBackup",
            "ipAddresses",
        ] {
            assert!(v.get(absent).is_none(), "{absent} should be omitted");
        }
        assert_eq!(v["type"], "lxc");
        assert_eq!(v["template"], false);
        let pbs = PbsInstance::default();
        let v = serde_json::to_value(&pbs).unwrap();
        assert!(v["datastores"].is_null() && v["backupJobs"].is_null());
        assert_eq!(v["lastSeen"], time::ZERO_TIME);
        let c = CephCluster {
            num_pgs: 3,
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&c).unwrap()["numPGs"], 3);
        let b = StorageBackup {
            is_pbs: true,
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&b).unwrap()["isPBS"], true);
    }

    #[test]
    fn memory_is_consistent() {
        let m = Memory::from_used(100, 150);
        assert_eq!((m.used, m.free, m.usage), (100, 0, 100.0));
        let m = Memory::from_used(0, 0);
        assert_eq!(m.usage, 0.0);
    }
}
