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

/// One state's samples: every series name written back to back into one reused buffer.
/// A 5,000-guest fleet has ~35,000 series; formatting each name into its own `String`
/// was a fifth of all allocations of the process (and the frees that go with them).
#[derive(Default)]
pub struct Samples {
    names: String,
    /// (end of the name in `names`, value)
    items: Vec<(usize, f64)>,
}

impl Samples {
    fn push(&mut self, kind: char, metric: &str, id: &str, value: f64) {
        use std::fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = write!(self.names, "{kind}|{metric}|{id}");
        self.items.push((self.names.len(), value));
    }

    /// Fills the buffer with the samples of `state` (replacing what it held): guests and
    /// online nodes (cpu as percent), storages, PBS datastores. Stopped guests are recorded
    /// too (as zeros), so their charts have no gaps.
    pub fn fill(&mut self, state: &State) {
        self.names.clear();
        self.items.clear();
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
                self.push('g', m, &g.id, v);
            }
        }
        for n in state.nodes.iter().filter(|n| n.status == "online") {
            let values = [
                n.cpu * 100.0,
                n.memory.as_ref().map_or(0.0, |m| m.usage),
                n.disk.as_ref().map_or(0.0, |d| d.usage),
            ];
            for (m, v) in NODE_METRICS.iter().zip(values) {
                self.push('n', m, &n.id, v);
            }
        }
        for s in &state.storage {
            let values = [s.usage, s.used as f64, s.total as f64, s.avail as f64];
            for (m, v) in STORAGE_METRICS.iter().zip(values) {
                self.push('s', m, &s.id, v);
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
                    self.push('d', m, &id, v);
                }
            }
        }
    }

    /// (series name, value) pairs, in the order they were filled.
    pub fn pairs(&self) -> Vec<(&str, f64)> {
        let mut start = 0;
        self.items
            .iter()
            .map(|&(end, v)| {
                let name = &self.names[start..end];
                start = end;
                (name, v)
            })
            .collect()
    }
}

/// At most one state per raw slot (10 s, `TIERS[0]`) is recorded: the first published in
/// it. A fleet of several instances publishes after each instance's poll, so most publishes
/// repeat the other instances' unchanged values; recording each cost a full sample set and a
/// redb write (35,000 series at 5,000 guests). Every slot in which a state is published gets
/// its sample, and every instance's values reach it (at most one poll interval old).
fn raw_slot(at: i64) -> i64 {
    super::tiers::TIERS[0].slot_start(at)
}

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
                let mut samples = Samples::default();
                for state in rx {
                    samples.fill(&state);
                    let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = h.record(state.last_update, &samples.pairs()) {
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
        if last != i64::MIN && at >= last && raw_slot(at) == raw_slot(last) {
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
    use crate::model::{Guest, Node};

    #[test]
    fn samples_name_every_series_of_a_state() {
        let g = |id: &str, cpu: f64| {
            Arc::new(Guest {
                id: id.into(),
                cpu,
                ..Default::default()
            })
        };
        let state = State {
            vms: vec![g("pve-a-100", 0.5)],
            containers: vec![g("pve-a-200", 0.25)],
            nodes: vec![Node {
                id: "pve-a".into(),
                status: "online".into(),
                cpu: 0.1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut s = Samples::default();
        // Filled twice: the second fill replaces the first.
        s.fill(&State::default());
        s.fill(&state);
        let pairs = s.pairs();
        assert_eq!(pairs.len(), 2 * 7 + 3);
        assert_eq!(pairs[0], ("g|cpu|pve-a-100", 50.0));
        assert_eq!(pairs[6].0, "g|netout|pve-a-100");
        assert_eq!(pairs[7], ("g|cpu|pve-a-200", 25.0));
        assert_eq!(pairs[14].0, series('n', "cpu", "pve-a"));
        assert!((pairs[14].1 - 10.0).abs() < 1e-9);
    }

    #[test]
    fn one_state_per_raw_slot_is_recorded() {
        let (tx, rx) = sync_channel(16);
        let r = Recorder::new(tx);
        let at = |t: i64| {
            Arc::new(State {
                last_update: t,
                ..Default::default()
            })
        };
        // A fleet's publishes 1-2 s apart: the first of each 10 s raw slot is recorded.
        let offered: Vec<bool> = [
            0, 1_500, 3_000, 9_999, 10_000, 10_500, 19_000, 20_000, 45_000,
        ]
        .into_iter()
        .map(|t| r.offer(at(t)))
        .collect();
        assert_eq!(
            offered,
            [true, false, false, false, true, false, false, true, true]
        );
        // The clock went backwards: recorded, and slots count from there.
        assert!(r.offer(at(1_000)));
        assert!(!r.offer(at(2_000)));
        assert!(r.offer(at(12_000)));
        let got: Vec<i64> = rx.try_iter().map(|s| s.last_update).collect();
        assert_eq!(got, [0, 10_000, 20_000, 45_000, 1_000, 12_000]);
    }
}
