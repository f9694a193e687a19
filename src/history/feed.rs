//! What is recorded from each published state, and the writer thread that records it.

use super::History;
use crate::model::State;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Series name: `<kind>|<metric>|<resource id>` (the id last: it may contain anything).
/// Kinds: `g` guest, `n` node, `s` storage, `d` PBS datastore.
pub fn series(kind: char, metric: &str, id: &str) -> String {
    format!("{kind}|{metric}|{id}")
}

pub const GUEST_METRICS: [&str; 7] = [
    "cpu",
    "memory",
    "disk",
    "diskread",
    "diskwrite",
    "netin",
    "netout",
];
pub const NODE_METRICS: [&str; 3] = ["cpu", "memory", "disk"];
pub const STORAGE_METRICS: [&str; 4] = ["usage", "used", "total", "avail"];

/// The samples of one state: guests and online nodes (cpu as percent), storages, PBS
/// datastores. Stopped guests are recorded too (as zeros), so their charts have no gaps.
pub fn samples(state: &State) -> Vec<(String, f64)> {
    let mut out =
        Vec::with_capacity((state.vms.len() + state.containers.len()) * 7 + state.nodes.len() * 3);
    for g in state.vms.iter().chain(&state.containers) {
        let mem = g.memory.as_ref().map_or(0.0, |m| m.usage);
        let disk = g.disk.as_ref().map_or(0.0, |d| d.usage);
        let values = [
            g.cpu * 100.0,
            mem,
            disk,
            g.disk_read as f64,
            g.disk_write as f64,
            g.network_in as f64,
            g.network_out as f64,
        ];
        for (m, v) in GUEST_METRICS.iter().zip(values) {
            out.push((series('g', m, &g.id), v));
        }
    }
    for n in state.nodes.iter().filter(|n| n.status == "online") {
        let values = [
            n.cpu * 100.0,
            n.memory.as_ref().map_or(0.0, |m| m.usage),
            n.disk.as_ref().map_or(0.0, |d| d.usage),
        ];
        for (m, v) in NODE_METRICS.iter().zip(values) {
            out.push((series('n', m, &n.id), v));
        }
    }
    for s in &state.storage {
        let values = [s.usage, s.used as f64, s.total as f64, s.avail as f64];
        for (m, v) in STORAGE_METRICS.iter().zip(values) {
            out.push((series('s', m, &s.id), v));
        }
    }
    for p in &state.pbs {
        for d in p.datastores.iter().flatten() {
            let id = format!("{}-{}", p.id, d.name);
            for (m, v) in [
                ("usage", d.usage),
                ("used", d.used as f64),
                ("total", d.total as f64),
            ] {
                out.push((series('d', m, &id), v));
            }
        }
    }
    out
}

/// States closer together than this (by `last_update`) are recorded once. A fleet of
/// several instances publishes after each instance's poll, so most publishes repeat the
/// other instances' unchanged values; recording each cost a full sample set and a redb
/// write. Every instance's poll still reaches the next recorded state, and each 10 s raw
/// slot gets at least one sample while polling runs.
pub const RECORD_MIN_GAP_MS: i64 = 5_000;

/// Hands states to the history writer thread without ever blocking the monitor: if the
/// writer is still busy with the previous tick, this tick is skipped (and counted).
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Arc<State>>,
    /// `last_update` of the last state handed to the writer.
    last: Arc<AtomicI64>,
}

impl Recorder {
    pub fn spawn(history: Arc<Mutex<History>>) -> std::io::Result<Recorder> {
        let (tx, rx) = sync_channel::<Arc<State>>(1);
        std::thread::Builder::new()
            .name("history".into())
            .spawn(move || {
                for state in rx {
                    let samples = samples(&state);
                    let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = h.record(state.last_update, &samples) {
                        tracing::error!(error = %e, "history write failed");
                    }
                }
            })?;
        Ok(Recorder::new(tx))
    }

    fn new(tx: SyncSender<Arc<State>>) -> Recorder {
        Recorder {
            tx,
            last: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Offers a published state; returns whether it was handed to the writer.
    pub fn offer(&self, state: Arc<State>) -> bool {
        let at = state.last_update;
        let last = self.last.load(Ordering::Relaxed);
        // `at < last`: the clock went backwards; record rather than wait for it.
        if last != i64::MIN && at >= last && at - last < RECORD_MIN_GAP_MS {
            return false;
        }
        match self.tx.try_send(state) {
            Ok(()) => {
                self.last.store(at, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                tracing::warn!("history writer busy; skipped one tick");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_publishes_are_recorded_once() {
        let (tx, rx) = sync_channel(16);
        let r = Recorder::new(tx);
        let at = |t: i64| {
            Arc::new(State {
                last_update: t,
                ..Default::default()
            })
        };
        // A fleet's publishes 1-2 s apart: one sample per RECORD_MIN_GAP_MS.
        let offered: Vec<bool> = [0, 1_500, 3_000, 5_000, 6_000, 10_500, 20_000]
            .into_iter()
            .map(|t| r.offer(at(t)))
            .collect();
        assert_eq!(offered, [true, false, false, true, false, true, true]);
        // The clock went backwards: recorded, and the gap counts from there.
        assert!(r.offer(at(1_000)));
        assert!(!r.offer(at(2_000)));
        let got: Vec<i64> = rx.try_iter().map(|s| s.last_update).collect();
        assert_eq!(got, [0, 5_000, 10_500, 20_000, 1_000]);
    }
}
