//! The current state, published: each new `State` is serialized to JSON at most once, when
//! the first reader (`/api/state`, a WebSocket client) asks for it, and every reader shares
//! those bytes. With nobody watching (most of a monitor's life) nothing is serialized at all.
//! Readers that fall behind simply see the newest value next time; nobody waits for a slow
//! reader.

use super::State;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::watch;

/// Built JSON documents kept to be written over by a later document once no reader holds
/// them. A big fleet's state is ~10 MB; allocating that afresh per publish costs a page
/// fault per 4 KiB (most of a publish's CPU when measured), while a reused buffer is
/// already mapped. Two, because the previous document is often still being sent.
type Spares = Arc<Mutex<VecDeque<Bytes>>>;
const SPARES: usize = 2;
/// After this many publishes in a row that nobody read, nobody is watching: the spares
/// (two state-sized buffers, ~50 MB at 5,000 guests) are freed. One unread publish is normal
/// (a client skips to the newest state), so a single one does not count. (With glibc, the
/// allocator then, asking it to hand the memory back with `malloc_trim` was measured and
/// dropped: every later poll's allocations got slower, 154 → 238 ms CPU per cycle at 2,000
/// guests.)
const IDLE_AFTER_UNREAD: u32 = 2;

#[derive(Debug)]
pub struct Published {
    pub state: Arc<State>,
    /// Increases by one per publish.
    pub seq: u64,
    /// The frontend-shape JSON of `state`, built on first use.
    json: OnceLock<Bytes>,
    /// The JSON of `state.pve_backups` (84 % of a big fleet's state): written into `json`
    /// twice (`backups.pve` and `pveBackups`, both required by spec/state-model.md §3) from
    /// this one serialization, and shared with the next publishes while the backups are the
    /// same list (they are re-read only every `backup_polling_cycles`-th cycle).
    pve_backups_json: Arc<OnceLock<Bytes>>,
    /// Size of the document before this one (a close guess for this one's buffer).
    size_hint: usize,
    spares: Spares,
}

impl Published {
    /// The state document, serialized now if this is its first reader.
    pub fn json(&self) -> &Bytes {
        self.json.get_or_init(|| {
            let pve = self
                .pve_backups_json
                .get_or_init(|| Bytes::from(to_json(&*self.state.pve_backups)));
            let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            // The oldest spare first: it is the likeliest to have no reader left.
            let mut buf = BytesMut::new();
            while let Some(b) = spares.pop_front() {
                if let Ok(m) = b.try_into_mut() {
                    buf = m;
                    break;
                }
            }
            buf.clear();
            // Room for the whole document at once, so it is written without growing; a
            // recycled buffer that is big enough is kept as it is.
            let guess = self.size_hint.max(2 * pve.len()) + 16 * 1024;
            if buf.capacity() < guess {
                buf.reserve(guess + 64 * 1024);
            }
            frontend_json(&mut buf, &self.state, pve);
            let doc = buf.freeze();
            spares.push_back(doc.clone());
            while spares.len() > SPARES {
                spares.pop_front();
            }
            doc
        })
    }
}

#[derive(Clone)]
pub struct StateCell {
    tx: Arc<watch::Sender<Arc<Published>>>,
    spares: Spares,
    /// Publishes in a row whose state nobody read.
    unread: Arc<std::sync::atomic::AtomicU32>,
}

impl Default for StateCell {
    fn default() -> Self {
        Self::new(State::default())
    }
}

impl StateCell {
    pub fn new(initial: State) -> StateCell {
        let spares: Spares = Arc::default();
        let first = Arc::new(Published {
            state: Arc::new(initial),
            seq: 0,
            json: OnceLock::new(),
            pve_backups_json: Arc::default(),
            size_hint: 0,
            spares: spares.clone(),
        });
        let (tx, _rx) = watch::channel(first);
        StateCell {
            tx: Arc::new(tx),
            spares,
            unread: Arc::default(),
        }
    }

    pub fn current(&self) -> Arc<Published> {
        self.tx.borrow().clone()
    }

    /// Replaces the state. Serialization happens on first read, once.
    pub fn publish(&self, state: State) -> Arc<Published> {
        let prev = self.current();
        let pve_backups_json = if Arc::ptr_eq(&prev.state.pve_backups, &state.pve_backups) {
            prev.pve_backups_json.clone()
        } else {
            Arc::default()
        };
        let p = Arc::new(Published {
            state: Arc::new(state),
            seq: prev.seq + 1,
            json: OnceLock::new(),
            pve_backups_json,
            size_hint: prev.json.get().map_or(prev.size_hint, Bytes::len),
            spares: self.spares.clone(),
        });
        let was_read = prev.json.get().is_some();
        drop(prev);
        self.tx.send_replace(p.clone());
        self.note_reader(was_read);
        p
    }

    /// Frees the spares once nobody has read for `IDLE_AFTER_UNREAD` publishes.
    fn note_reader(&self, previous_was_read: bool) {
        use std::sync::atomic::Ordering;
        if previous_was_read {
            self.unread.store(0, Ordering::Relaxed);
            return;
        }
        if self.unread.fetch_add(1, Ordering::Relaxed) + 1 != IDLE_AFTER_UNREAD {
            return;
        }
        self.spares
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How many built documents are kept for reuse (tests).
    pub fn spare_count(&self) -> usize {
        self.spares.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.tx.subscribe()
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
        let v: serde_json::Value = serde_json::from_slice(p.json()).unwrap();
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
        s.vms.push(std::sync::Arc::new(Guest {
            id: "pve-n1-100".into(),
            kind: "qemu",
            name: "with \"quotes\" and ünïcode".into(),
            ..Default::default()
        }));
        for i in 0..n {
            std::sync::Arc::make_mut(&mut s.pve_backups)
                .storage_backups
                .push(StorageBackup {
                    instance: "pve".into(),
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
                String::from_utf8(p.json().to_vec()).unwrap(),
                serde_json::to_string(&s).unwrap(),
                "byte for byte"
            );
            let v: serde_json::Value = serde_json::from_slice(p.json()).unwrap();
            assert_eq!(v["backups"]["pve"], v["pveBackups"]);
        }
    }

    #[test]
    fn nothing_is_serialized_until_read_and_buffers_are_reused_only_when_free() {
        let cell = StateCell::default();
        let state = |n: i64| State {
            last_update: n,
            ..populated(50)
        };
        // Nobody reads: no document is built.
        let p0 = cell.publish(state(0));
        assert!(p0.json.get().is_none() && p0.pve_backups_json.get().is_none());
        drop(p0);
        // Built on first read; a later document reuses the buffer once nobody holds it.
        let p1 = cell.publish(state(1));
        let p1_ptr = p1.json().as_ptr();
        assert!(std::ptr::eq(p1.json(), p1.json()), "built once");
        drop(p1);
        let p2 = cell.publish(state(2));
        assert_eq!(p2.json().as_ptr(), p1_ptr, "the free buffer is reused");
        assert_eq!(
            p2.json().as_ref(),
            serde_json::to_vec(&state(2)).unwrap().as_slice()
        );
        // A reader still holds publish 2's bytes: publish 3 must not write over them.
        let held = p2.json().clone();
        let before = held.to_vec();
        drop(p2);
        let p3 = cell.publish(state(3));
        assert_ne!(p3.json().as_ptr(), held.as_ptr());
        assert_eq!(held.as_ref(), before.as_slice(), "held bytes untouched");
        assert_eq!(
            p3.json().as_ref(),
            serde_json::to_vec(&state(3)).unwrap().as_slice()
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
        std::sync::Arc::make_mut(&mut next.vms[0]).cpu = 0.5;
        let b = cell.publish(next.clone());
        a.json(); // the first reader serializes the backups; the next publish shares them
        assert!(Arc::ptr_eq(&a.pve_backups_json, &b.pve_backups_json));
        assert_eq!(
            a.pve_backups_json.get().unwrap().as_ptr(),
            b.pve_backups_json.get().unwrap().as_ptr(),
            "same bytes reused"
        );
        assert_eq!(
            b.json().as_ref(),
            serde_json::to_vec(&next).unwrap().as_slice()
        );
        // Changed backups are serialized anew.
        let mut changed = next;
        Arc::make_mut(&mut changed.pve_backups).backup_tasks.pop();
        let c = cell.publish(changed.clone());
        c.json();
        assert!(!Arc::ptr_eq(&b.pve_backups_json, &c.pve_backups_json));
        assert_eq!(
            c.json().as_ref(),
            serde_json::to_vec(&changed).unwrap().as_slice()
        );
    }

    #[test]
    fn spares_are_freed_when_nobody_reads() {
        let cell = StateCell::default();
        let st = |t| State {
            last_update: t,
            ..Default::default()
        };
        // A watched monitor: every state is read, the built documents are kept for reuse.
        for t in 1..=3 {
            let _ = cell.publish(st(t)).json();
        }
        assert!(cell.spare_count() >= 1);
        // One skipped state (a client jumped to the newest) keeps them...
        let _ = cell.publish(st(4));
        let _ = cell.publish(st(5)).json();
        assert!(cell.spare_count() >= 1);
        // ...nobody reading for IDLE_AFTER_UNREAD publishes frees them.
        for t in 6..8 {
            let _ = cell.publish(st(t));
        }
        cell.publish(st(8));
        assert_eq!(cell.spare_count(), 0);
        // A reader coming back still gets a correct document.
        let p = cell.publish(st(9));
        let v: serde_json::Value = serde_json::from_slice(p.json()).unwrap();
        assert_eq!(v["lastUpdate"], 9);
    }
}
