//! The current state, published: each new `State` is serialized to JSON once, and every
//! reader (`/api/state`, each WebSocket client) shares those bytes. Readers that fall behind
//! simply see the newest value next time; nobody waits for a slow reader.

use super::State;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug)]
pub struct Published {
    pub state: Arc<State>,
    /// The frontend-shape JSON of `state`.
    pub json: Bytes,
    /// Increases by one per publish.
    pub seq: u64,
    /// The JSON of `state.pve_backups` (84 % of a big fleet's state): written into `json`
    /// twice (`backups.pve` and `pveBackups`, both required by spec/state-model.md §3) from
    /// this one serialization, and reused by the next publish while the backups are unchanged
    /// (they are re-read only every `backup_polling_cycles`-th cycle).
    pve_backups_json: Bytes,
}

#[derive(Clone)]
pub struct StateCell {
    tx: Arc<watch::Sender<Arc<Published>>>,
}

impl Default for StateCell {
    fn default() -> Self {
        Self::new(State::default())
    }
}

impl StateCell {
    pub fn new(initial: State) -> StateCell {
        let first = Arc::new(encode(Arc::new(initial), 0, None));
        let (tx, _rx) = watch::channel(first);
        StateCell { tx: Arc::new(tx) }
    }

    pub fn current(&self) -> Arc<Published> {
        self.tx.borrow().clone()
    }

    /// Replaces the state; serialization happens here, once.
    pub fn publish(&self, state: State) -> Arc<Published> {
        let prev = self.current();
        let p = Arc::new(encode(Arc::new(state), prev.seq + 1, Some(&prev)));
        drop(prev);
        self.tx.send_replace(p.clone());
        p
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }
}

fn encode(state: Arc<State>, seq: u64, prev: Option<&Published>) -> Published {
    let pve_backups_json = match prev {
        Some(p) if Arc::ptr_eq(&p.state.pve_backups, &state.pve_backups) => {
            p.pve_backups_json.clone()
        }
        _ => Bytes::from(to_json(&*state.pve_backups)),
    };
    let json = frontend_json(&state, &pve_backups_json);
    Published {
        state,
        json: Bytes::from(json),
        seq,
        pve_backups_json,
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Vec<u8> {
    // Serializing plain structs of strings and finite numbers cannot fail; NaN/Inf become
    // null in serde_json, never an error. Fall back to null regardless.
    serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec())
}

/// Exactly `serde_json::to_vec(state)` (the `Serialize` impl of `State`, same keys in the same
/// order; a test holds them equal), but with the PVE backups written from `pve_backups`.
fn frontend_json(state: &State, pve_backups: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(2 * pve_backups.len() + 64 * 1024);
    fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
        out.push(if out.is_empty() { b'{' } else { b',' });
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    let s = state;
    field(&mut out, "nodes", &to_json(&s.nodes));
    field(&mut out, "vms", &to_json(&s.vms));
    field(&mut out, "containers", &to_json(&s.containers));
    field(&mut out, "dockerHosts", &to_json(&s.docker_hosts));
    field(
        &mut out,
        "removedDockerHosts",
        &to_json(&s.removed_docker_hosts),
    );
    field(&mut out, "hosts", &to_json(&s.hosts));
    field(&mut out, "storage", &to_json(&s.storage));
    field(&mut out, "cephClusters", &to_json(&s.ceph_clusters));
    field(&mut out, "physicalDisks", &to_json(&s.physical_disks));
    field(&mut out, "pbs", &to_json(&s.pbs));
    field(&mut out, "pmg", &to_json(&s.pmg));
    let pbs_backups = to_json(&*s.pbs_backups);
    let pmg_backups = to_json(&*s.pmg_backups);
    field(&mut out, "pbsBackups", &pbs_backups);
    field(&mut out, "pmgBackups", &pmg_backups);
    let mut grouped = Vec::with_capacity(pve_backups.len() + pbs_backups.len() + 32);
    grouped.extend_from_slice(b"{\"pve\":");
    grouped.extend_from_slice(pve_backups);
    grouped.extend_from_slice(b",\"pbs\":");
    grouped.extend_from_slice(&pbs_backups);
    grouped.extend_from_slice(b",\"pmg\":");
    grouped.extend_from_slice(&pmg_backups);
    grouped.push(b'}');
    field(&mut out, "backups", &grouped);
    drop(grouped);
    field(&mut out, "replicationJobs", &to_json(&s.replication_jobs));
    field(&mut out, "activeAlerts", &to_json(&s.active_alerts));
    field(&mut out, "metrics", b"{}");
    field(&mut out, "pveBackups", pve_backups);
    field(&mut out, "performance", b"{}");
    field(&mut out, "connectionHealth", &to_json(&s.connection_health));
    field(&mut out, "stats", b"{}");
    field(&mut out, "lastUpdate", &to_json(&s.last_update));
    field(
        &mut out,
        "temperatureMonitoringEnabled",
        &to_json(&s.temperature_monitoring_enabled),
    );
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_serializes_once_and_notifies() {
        let cell = StateCell::default();
        let mut rx = cell.subscribe();
        assert_eq!(cell.current().seq, 0);
        let s = State {
            last_update: 42,
            ..Default::default()
        };
        cell.publish(s);
        assert!(rx.has_changed().unwrap());
        let p = rx.borrow_and_update().clone();
        assert_eq!(p.seq, 1);
        let v: serde_json::Value = serde_json::from_slice(&p.json).unwrap();
        assert_eq!(v["lastUpdate"], 42);
        assert!(
            Arc::ptr_eq(&p, &cell.current()),
            "readers share one encoding"
        );
    }

    fn populated(n: usize) -> State {
        use crate::model::{BackupTask, Guest, GuestSnapshot, Node, StorageBackup};
        let mut s = State {
            last_update: 1_700_000_000_000,
            temperature_monitoring_enabled: true,
            ..Default::default()
        };
        s.nodes.push(Node {
            id: "pve-n1".into(),
            name: "n1".into(),
            ..Default::default()
        });
        s.vms.push(Guest {
            id: "pve-n1-100".into(),
            kind: "qemu",
            name: "with \"quotes\" and ünïcode".into(),
            ..Default::default()
        });
        for i in 0..n {
            std::sync::Arc::make_mut(&mut s.pve_backups)
                .storage_backups
                .push(StorageBackup {
                    id: format!("pve-local:backup/vzdump-qemu-{i}.vma.zst"),
                    volid: format!("local:backup/vzdump-qemu-{i}.vma.zst"),
                    ..Default::default()
                });
            std::sync::Arc::make_mut(&mut s.pve_backups)
                .backup_tasks
                .push(BackupTask {
                    id: format!("pve-UPID:{i}"),
                    ..Default::default()
                });
            std::sync::Arc::make_mut(&mut s.pve_backups)
                .guest_snapshots
                .push(GuestSnapshot {
                    id: format!("pve-n1-100-snap{i}"),
                    ..Default::default()
                });
        }
        s.connection_health.insert("pve".into(), true);
        s
    }

    #[test]
    fn the_shared_encoding_equals_the_serialize_impl() {
        for s in [State::default(), populated(3)] {
            let cell = StateCell::default();
            let p = cell.publish(s.clone());
            assert_eq!(
                String::from_utf8(p.json.to_vec()).unwrap(),
                serde_json::to_string(&s).unwrap(),
                "byte for byte"
            );
            let v: serde_json::Value = serde_json::from_slice(&p.json).unwrap();
            assert_eq!(v["backups"]["pve"], v["pveBackups"]);
        }
    }

    #[test]
    fn unchanged_pve_backups_are_serialized_once_across_publishes() {
        let cell = StateCell::default();
        let a = cell.publish(populated(5));
        let mut next = populated(5);
        // A poller that did not re-read backups hands on the same list.
        next.pve_backups = a.state.pve_backups.clone();
        next.last_update += 10_000; // everything else may change; the backups did not
        next.vms[0].cpu = 0.5;
        let b = cell.publish(next.clone());
        assert_eq!(
            a.pve_backups_json.as_ptr(),
            b.pve_backups_json.as_ptr(),
            "same bytes reused"
        );
        assert_eq!(
            b.json.as_ref(),
            serde_json::to_vec(&next).unwrap().as_slice()
        );
        // Changed backups are serialized anew.
        let mut changed = next;
        Arc::make_mut(&mut changed.pve_backups).backup_tasks.pop();
        let c = cell.publish(changed.clone());
        assert_ne!(b.pve_backups_json.as_ptr(), c.pve_backups_json.as_ptr());
        assert_eq!(
            c.json.as_ref(),
            serde_json::to_vec(&changed).unwrap().as_slice()
        );
    }
}
