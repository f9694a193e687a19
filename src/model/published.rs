//! The current state, published: each new `State` is serialized to JSON once, and every
//! reader (`/api/state`, each WebSocket client) shares those bytes. Readers that fall behind
//! simply see the newest value next time; nobody waits for a slow reader.

use super::State;
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::{Arc, Mutex};
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
    /// The JSON buffer of the publish before the current one, kept to be written over by
    /// the next publish once no reader holds it any more. A big fleet's state is ~10 MB;
    /// allocating that afresh per publish costs a page fault per 4 KiB (most of a publish's
    /// CPU when measured), while a reused buffer is already mapped.
    spare: Arc<Mutex<Option<Bytes>>>,
}

impl Default for StateCell {
    fn default() -> Self {
        Self::new(State::default())
    }
}

impl StateCell {
    pub fn new(initial: State) -> StateCell {
        let first = Arc::new(encode(Arc::new(initial), 0, None, BytesMut::new()));
        let (tx, _rx) = watch::channel(first);
        StateCell {
            tx: Arc::new(tx),
            spare: Arc::new(Mutex::new(None)),
        }
    }

    pub fn current(&self) -> Arc<Published> {
        self.tx.borrow().clone()
    }

    /// Replaces the state; serialization happens here, once.
    pub fn publish(&self, state: State) -> Arc<Published> {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        // Reusable only if nobody (a response still being written, a WebSocket frame)
        // holds it; otherwise it is simply dropped and a new buffer allocated.
        let buf = spare
            .take()
            .and_then(|b| b.try_into_mut().ok())
            .unwrap_or_default();
        let prev = self.current();
        let p = Arc::new(encode(Arc::new(state), prev.seq + 1, Some(&prev), buf));
        *spare = Some(prev.json.clone());
        drop(prev);
        self.tx.send_replace(p.clone());
        p
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }
}

fn encode(state: Arc<State>, seq: u64, prev: Option<&Published>, mut buf: BytesMut) -> Published {
    let pve_backups_json = match prev {
        Some(p) if Arc::ptr_eq(&p.state.pve_backups, &state.pve_backups) => {
            p.pve_backups_json.clone()
        }
        _ => Bytes::from(to_json(&*state.pve_backups)),
    };
    buf.clear();
    // Room for the whole document at once (the previous one's size is a close guess), so
    // it is written without growing; a recycled buffer that is big enough is kept as it is.
    let guess = prev.map_or(2 * pve_backups_json.len(), |p| p.json.len()) + 16 * 1024;
    if buf.capacity() < guess {
        buf.reserve(guess + 64 * 1024);
    }
    frontend_json(&mut buf, &state, &pve_backups_json);
    Published {
        state,
        json: buf.freeze(),
        seq,
        pve_backups_json,
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Vec<u8> {
    // Serializing plain structs of strings and finite numbers cannot fail; NaN/Inf become
    // null in serde_json, never an error. Fall back to null regardless.
    serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec())
}

/// Writes `value`'s JSON at the end of `out` (no intermediate buffer).
fn put_json<T: serde::Serialize + ?Sized>(out: &mut BytesMut, v: &T) {
    let mark = out.len();
    if serde_json::to_writer(out.writer(), v).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"null");
    }
}

/// Exactly `serde_json::to_vec(state)` (the `Serialize` impl of `State`, same keys in the same
/// order; a test holds them equal), written into `out`, with the PVE backups copied in from
/// `pve_backups` (serialized once, used twice).
fn frontend_json(out: &mut BytesMut, state: &State, pve_backups: &[u8]) {
    fn key(out: &mut BytesMut, name: &str) {
        out.extend_from_slice(if out.is_empty() { b"{\"" } else { b",\"" });
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    }
    fn field<T: serde::Serialize + ?Sized>(out: &mut BytesMut, name: &str, v: &T) {
        key(out, name);
        put_json(out, v);
    }
    fn raw(out: &mut BytesMut, name: &str, value: &[u8]) {
        key(out, name);
        out.extend_from_slice(value);
    }
    let s = state;
    field(out, "nodes", &s.nodes);
    field(out, "vms", &s.vms);
    field(out, "containers", &s.containers);
    field(out, "dockerHosts", &s.docker_hosts);
    field(out, "removedDockerHosts", &s.removed_docker_hosts);
    field(out, "hosts", &s.hosts);
    field(out, "storage", &s.storage);
    field(out, "cephClusters", &s.ceph_clusters);
    field(out, "physicalDisks", &s.physical_disks);
    field(out, "pbs", &s.pbs);
    field(out, "pmg", &s.pmg);
    let pbs_backups = to_json(&*s.pbs_backups);
    let pmg_backups = to_json(&*s.pmg_backups);
    raw(out, "pbsBackups", &pbs_backups);
    raw(out, "pmgBackups", &pmg_backups);
    key(out, "backups");
    out.extend_from_slice(b"{\"pve\":");
    out.extend_from_slice(pve_backups);
    out.extend_from_slice(b",\"pbs\":");
    out.extend_from_slice(&pbs_backups);
    out.extend_from_slice(b",\"pmg\":");
    out.extend_from_slice(&pmg_backups);
    out.extend_from_slice(b"}");
    field(out, "replicationJobs", &s.replication_jobs);
    field(out, "activeAlerts", &s.active_alerts);
    raw(out, "metrics", b"{}");
    raw(out, "pveBackups", pve_backups);
    raw(out, "performance", b"{}");
    field(out, "connectionHealth", &s.connection_health);
    raw(out, "stats", b"{}");
    field(out, "lastUpdate", &s.last_update);
    field(
        out,
        "temperatureMonitoringEnabled",
        &s.temperature_monitoring_enabled,
    );
    out.extend_from_slice(b"}");
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
    fn json_buffers_are_reused_only_when_no_reader_holds_them() {
        let cell = StateCell::default();
        let state = |n: i64| State {
            last_update: n,
            ..populated(50)
        };
        let p1 = cell.publish(state(1));
        let p1_ptr = p1.json.as_ptr();
        drop(p1);
        cell.publish(state(2));
        let p3 = cell.publish(state(3));
        assert_eq!(
            p3.json.as_ptr(),
            p1_ptr,
            "the buffer of two publishes ago is reused"
        );
        assert_eq!(
            p3.json.as_ref(),
            serde_json::to_vec(&state(3)).unwrap().as_slice()
        );

        // A reader (a response being written) still holds publish 4's bytes: publish 6 must
        // not write over them.
        let held = cell.publish(state(4)).json.clone();
        let before = held.to_vec();
        cell.publish(state(5));
        let p6 = cell.publish(state(6));
        assert_ne!(p6.json.as_ptr(), held.as_ptr());
        assert_eq!(held.as_ref(), before.as_slice(), "held bytes untouched");
        assert_eq!(
            p6.json.as_ref(),
            serde_json::to_vec(&state(6)).unwrap().as_slice()
        );
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
