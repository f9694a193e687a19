//! The monitor: the one owner of live state. It asks the scheduler what is due, runs those
//! polls on the poller pool, takes back each instance's result (a `State` fragment holding
//! only that instance's resources), merges the fragments into a new `State` and publishes it.
//! Pollers never touch shared state; a failed poll keeps the instance's last good data and
//! marks its connection unhealthy.

use crate::model::published::StateCell;
use crate::model::{PbsBackup, PmgBackup, PveBackups, State};
use crate::poller::clock::Clock;
use crate::poller::pool::Pool;
use crate::poller::scheduler::{Category, Key, Outcome, Scheduler};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a poll failed, in words a user can act on, and whether retrying soon makes sense.
#[derive(Debug, Clone, PartialEq)]
pub struct PollFailure {
    pub message: String,
    pub category: Category,
}

/// Polls one configured instance (blocking; runs on a pool thread).
pub trait InstancePoller: Send + Sync {
    /// `previous` is this instance's last good fragment (for counter rates, carry-overs).
    fn poll(&self, previous: Option<&State>) -> Result<State, PollFailure>;
}

#[derive(Clone)]
pub struct Instance {
    pub key: Key,
    pub display_name: String,
    pub connection: String,
    /// Changes when anything that decides whether polling can succeed changes (host,
    /// credentials, TLS): a new identity starts the instance over, without inherited
    /// backoff, open breaker or dead-letter parking.
    pub identity: String,
    pub poller: Arc<dyn InstancePoller>,
}

type PollResult = (Key, Result<State, PollFailure>);

/// Publishing re-merges, re-serializes and re-offers the whole state (alerts, history, every
/// WebSocket client), so completions are coalesced: at most one publish per this interval...
pub const PUBLISH_MIN_INTERVAL_MS: i64 = 1_000;
/// ...made when no poll is in flight any more (the batch of polls dispatched together has
/// finished), or at the latest this long after the first unpublished completion (a slow or
/// hanging poll does not hold the others' news back for its whole timeout).
pub const PUBLISH_MAX_HOLD_MS: i64 = 1_000;

/// Where a merged state goes; by default straight into the cell. The server routes it
/// through the alert engine, which fills `activeAlerts` before publishing.
pub type Publisher = Arc<dyn Fn(State) + Send + Sync>;

pub struct Monitor {
    scheduler: Arc<Mutex<Scheduler>>,
    pool: Pool,
    clock: Arc<dyn Clock>,
    instances: BTreeMap<Key, Instance>,
    fragments: BTreeMap<Key, Arc<State>>,
    healthy: BTreeMap<Key, bool>,
    tx: mpsc::Sender<PollResult>,
    rx: mpsc::Receiver<PollResult>,
    cell: Arc<StateCell>,
    publisher: Option<Publisher>,
    /// Shared with whoever applies settings, so the global switch changes live.
    pub temperature_monitoring_enabled: Arc<AtomicBool>,
    /// Called with every published state (the history recorder); must not block.
    on_publish: Option<Box<dyn Fn(Arc<State>) + Send>>,
    /// New instance lists from the API side (node configuration changed, demo mode).
    updates: Option<mpsc::Receiver<Vec<Instance>>>,
    /// Polls submitted whose results have not been collected yet.
    in_flight: usize,
    /// Clock time of the first completion not yet published (`None` = nothing pending).
    dirty_since: Option<i64>,
    last_publish: Option<i64>,
    /// Set once the first batch of polls has finished: until then every completion is
    /// published at once, so a fresh start shows each instance as soon as it answers.
    warm: bool,
    backups: BackupJoins,
}

impl Monitor {
    /// `scheduler` and `cell` are shared with the API (health view, `/api/state`, `/ws`).
    pub fn new(
        scheduler: Arc<Mutex<Scheduler>>,
        pool: Pool,
        clock: Arc<dyn Clock>,
        cell: Arc<StateCell>,
    ) -> Monitor {
        let (tx, rx) = mpsc::channel();
        Monitor {
            scheduler,
            pool,
            clock,
            instances: BTreeMap::new(),
            fragments: BTreeMap::new(),
            healthy: BTreeMap::new(),
            tx,
            rx,
            cell,
            publisher: None,
            temperature_monitoring_enabled: Arc::new(AtomicBool::new(true)),
            on_publish: None,
            updates: None,
            in_flight: 0,
            dirty_since: None,
            last_publish: None,
            warm: false,
            backups: BackupJoins::new(),
        }
    }

    /// A sender for replacing the instance list while `run` is going; the newest list wins.
    pub fn updater(&mut self) -> mpsc::Sender<Vec<Instance>> {
        let (tx, rx) = mpsc::channel();
        self.updates = Some(rx);
        tx
    }

    pub fn on_publish(&mut self, f: impl Fn(Arc<State>) + Send + 'static) {
        self.on_publish = Some(Box::new(f));
    }

    /// Routes every merged state through `p` instead of publishing it directly.
    pub fn set_publisher(&mut self, p: Publisher) {
        self.publisher = Some(p);
    }

    /// The scheduler, shared with the API's scheduler-health view.
    pub fn scheduler(&self) -> Arc<Mutex<Scheduler>> {
        self.scheduler.clone()
    }

    fn sched(&self) -> std::sync::MutexGuard<'_, Scheduler> {
        self.scheduler.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the set of monitored instances. Removed ones disappear from state at once.
    pub fn set_instances(&mut self, list: Vec<Instance>) {
        let now = self.clock.now_ms();
        let keep: BTreeMap<Key, Instance> = list.into_iter().map(|i| (i.key.clone(), i)).collect();
        let removed: Vec<Key> = self
            .instances
            .keys()
            .filter(|k| !keep.contains_key(*k))
            .cloned()
            .collect();
        {
            let mut s = self.sched();
            for k in &removed {
                s.remove(k);
            }
            for i in keep.values() {
                if self
                    .instances
                    .get(&i.key)
                    .is_some_and(|old| old.identity != i.identity)
                {
                    s.remove(&i.key);
                }
            }
            for i in keep.values() {
                s.upsert(i.key.clone(), &i.display_name, &i.connection, now);
            }
        }
        for k in &removed {
            self.fragments.remove(k);
            self.healthy.remove(k);
        }
        self.instances = keep;
        if !removed.is_empty() {
            self.publish();
        }
    }

    /// Starts every due poll on the pool. Returns how many started.
    pub fn dispatch(&mut self) -> usize {
        let now = self.clock.now_ms();
        let due = self.sched().take_due(now);
        let mut started = 0;
        for key in due {
            let Some(inst) = self.instances.get(&key) else {
                continue;
            };
            let poller = inst.poller.clone();
            let previous = self.fragments.get(&key).cloned();
            let tx = self.tx.clone();
            let k = key.clone();
            let job = move || {
                let result = poller.poll(previous.as_deref());
                let _ = tx.send((k, result));
            };
            if self.pool.submit(job).is_ok() {
                started += 1;
                self.in_flight += 1;
            }
        }
        started
    }

    /// Applies finished polls, waiting up to `wait` for the first one. Publishes a new state
    /// when anything finished and a publish is due (see `PUBLISH_MIN_INTERVAL_MS`; otherwise
    /// `publish_if_due` does it later). Returns how many were applied.
    pub fn collect(&mut self, wait: Duration) -> usize {
        let mut results = Vec::new();
        if let Ok(r) = self.rx.recv_timeout(wait) {
            results.push(r);
            results.extend(self.rx.try_iter());
        }
        if results.is_empty() {
            return 0;
        }
        let now = self.clock.now_ms();
        let n = results.len();
        self.in_flight = self.in_flight.saturating_sub(n);
        for (key, result) in results {
            if !self.instances.contains_key(&key) {
                continue; // removed while its poll ran
            }
            let outcome = match result {
                Ok(fragment) => {
                    self.fragments.insert(key.clone(), Arc::new(fragment));
                    self.healthy.insert(key.clone(), true);
                    Outcome::Success
                }
                Err(f) => {
                    tracing::warn!(instance = %key, error = %f.message, "poll failed");
                    self.healthy.insert(key.clone(), false);
                    Outcome::Failure {
                        message: f.message,
                        category: f.category,
                    }
                }
            };
            self.sched().complete(&key, outcome, now);
        }
        self.dirty_since.get_or_insert(now);
        self.publish_if_due();
        if self.in_flight == 0 {
            self.warm = true;
        }
        n
    }

    /// Whether pending results should be published now.
    fn publish_due(&self, now: i64) -> bool {
        let Some(since) = self.dirty_since else {
            return false;
        };
        let Some(last) = self.last_publish else {
            return true; // the first publish after start is never delayed
        };
        if !self.warm {
            return true;
        }
        // `now < x`: the clock went backwards; do not wait for it to catch up.
        let spaced = now - last >= PUBLISH_MIN_INTERVAL_MS || now < last;
        let batch_done = self.in_flight == 0;
        let held_long = now - since >= PUBLISH_MAX_HOLD_MS || now < since;
        spaced && (batch_done || held_long)
    }

    /// Publishes the pending results if a publish is due. Returns whether it published.
    pub fn publish_if_due(&mut self) -> bool {
        if !self.publish_due(self.clock.now_ms()) {
            return false;
        }
        self.publish();
        true
    }

    /// When a pending publish becomes due (if nothing else happens before).
    fn publish_wake(&self) -> Option<i64> {
        let since = self.dirty_since?;
        let spaced = self
            .last_publish
            .map_or(since, |l| l + PUBLISH_MIN_INTERVAL_MS);
        Some(if self.in_flight == 0 {
            spaced
        } else {
            spaced.max(since + PUBLISH_MAX_HOLD_MS)
        })
    }

    /// How long the owner may sleep before something is due (bounded so that instance
    /// changes and shutdown are noticed quickly).
    pub fn idle_for(&self) -> Duration {
        let now = self.clock.now_ms();
        let mut next = self.sched().next_wake().unwrap_or(now + 250);
        if let Some(p) = self.publish_wake() {
            next = next.min(p);
        }
        Duration::from_millis((next - now).clamp(0, 250) as u64)
    }

    fn publish(&mut self) {
        let now = self.clock.now_ms();
        self.dirty_since = None;
        self.last_publish = Some(now);
        let mut state = State {
            temperature_monitoring_enabled: self
                .temperature_monitoring_enabled
                .load(Ordering::Relaxed),
            last_update: now,
            ..Default::default()
        };
        for (key, fragment) in &self.fragments {
            let healthy = self.healthy.get(key).copied().unwrap_or(false);
            merge(&mut state, fragment, healthy);
        }
        self.backups.fill(&mut state, self.fragments.values());
        for (key, ok) in &self.healthy {
            let name = match key.kind {
                crate::poller::scheduler::Kind::Pve => key.name.clone(),
                other => format!("{}-{}", other.as_str(), key.name),
            };
            state.connection_health.insert(name, *ok);
        }
        match &self.publisher {
            Some(p) => p(state),
            None => {
                self.cell.publish(state);
            }
        }
        // The hook sees what was published (with alerts filled in by the publisher).
        if let Some(f) = &self.on_publish {
            f(self.cell.current().state.clone());
        }
    }

    /// Runs until `stop` is set: dispatch, wait for results or the next due time, repeat.
    pub fn run(mut self, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            let newest = self.updates.as_ref().and_then(|rx| rx.try_iter().last());
            if let Some(list) = newest {
                self.set_instances(list);
            }
            self.dispatch();
            let wait = self.idle_for();
            self.collect(wait);
            self.publish_if_due();
        }
    }
}

/// Appends one instance's fragment; an unhealthy instance keeps its last data, with its
/// nodes marked as not reachable.
fn merge(into: &mut State, f: &State, healthy: bool) {
    into.nodes.extend(f.nodes.iter().cloned().map(|mut n| {
        if !healthy {
            n.connection_health = "error".into();
        }
        n
    }));
    into.vms.extend_from_slice(&f.vms);
    into.containers.extend_from_slice(&f.containers);
    into.storage.extend_from_slice(&f.storage);
    into.ceph_clusters.extend_from_slice(&f.ceph_clusters);
    into.physical_disks.extend_from_slice(&f.physical_disks);
    into.pbs.extend(f.pbs.iter().cloned().map(|mut p| {
        if !healthy {
            p.connection_health = "error".into();
        }
        p
    }));
    into.pmg.extend(f.pmg.iter().cloned().map(|mut p| {
        if !healthy {
            p.connection_health = "unhealthy".into();
        }
        p
    }));
    into.replication_jobs.extend_from_slice(&f.replication_jobs);
}

/// The instances' backup lists joined into one, rebuilt only when one of them changed
/// (pollers hand on the same `Arc` between backup reads): most publishes reuse the last
/// join, and a lone instance's list is shared as it is, never copied.
struct Joined<T> {
    parts: Vec<Arc<T>>,
    joined: Arc<T>,
}

impl<T: Default + Clone> Joined<T> {
    fn new() -> Self {
        Joined {
            parts: Vec::new(),
            joined: Arc::new(T::default()),
        }
    }

    fn join<'a>(
        &mut self,
        parts: impl Iterator<Item = &'a Arc<T>>,
        append: impl Fn(&mut T, &T),
        is_empty: impl Fn(&T) -> bool,
    ) -> Arc<T>
    where
        T: 'a,
    {
        let parts: Vec<Arc<T>> = parts.filter(|p| !is_empty(p)).cloned().collect();
        let same = parts.len() == self.parts.len()
            && parts
                .iter()
                .zip(&self.parts)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            self.joined = match parts.as_slice() {
                [] => Arc::new(T::default()),
                [one] => one.clone(),
                many => {
                    let mut all = T::default();
                    for p in many {
                        append(&mut all, p);
                    }
                    Arc::new(all)
                }
            };
            self.parts = parts;
        }
        self.joined.clone()
    }
}

/// The three joins of a publish.
struct BackupJoins {
    pve: Joined<PveBackups>,
    pbs: Joined<Vec<PbsBackup>>,
    pmg: Joined<Vec<PmgBackup>>,
}

impl BackupJoins {
    fn new() -> Self {
        BackupJoins {
            pve: Joined::new(),
            pbs: Joined::new(),
            pmg: Joined::new(),
        }
    }

    fn fill<'a>(
        &mut self,
        into: &mut State,
        fragments: impl Iterator<Item = &'a Arc<State>> + Clone,
    ) {
        into.pve_backups = self.pve.join(
            fragments.clone().map(|f| &f.pve_backups),
            |all, p| {
                all.backup_tasks.extend_shared(&p.backup_tasks);
                all.storage_backups.extend_shared(&p.storage_backups);
                all.guest_snapshots.extend_shared(&p.guest_snapshots);
            },
            |p| {
                p.backup_tasks.is_empty()
                    && p.storage_backups.is_empty()
                    && p.guest_snapshots.is_empty()
            },
        );
        into.pbs_backups = self.pbs.join(
            fragments.clone().map(|f| &f.pbs_backups),
            |all, p| all.extend_from_slice(p),
            |p| p.is_empty(),
        );
        into.pmg_backups = self.pmg.join(
            fragments.map(|f| &f.pmg_backups),
            |all, p| all.extend_from_slice(p),
            |p| p.is_empty(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Node;
    use crate::poller::clock::ManualClock;
    use crate::poller::scheduler::{Kind, SchedulerConfig};
    use std::sync::atomic::AtomicU32;

    fn fragment(tasks: &[&str]) -> Arc<State> {
        let mut s = State::default();
        let b = Arc::make_mut(&mut s.pve_backups);
        for t in tasks {
            b.backup_tasks.push(crate::model::BackupTask {
                id: (*t).into(),
                ..Default::default()
            });
        }
        Arc::new(s)
    }

    #[test]
    fn backup_lists_are_joined_only_when_one_changed() {
        let mut joins = BackupJoins::new();
        let a = fragment(&["a1", "a2"]);
        let b = fragment(&["b1"]);
        let empty = fragment(&[]);
        // A lone non-empty list is shared as it is.
        let mut s = State::default();
        joins.fill(&mut s, [&a, &empty].into_iter());
        assert!(Arc::ptr_eq(&s.pve_backups, &a.pve_backups));
        // Two lists: concatenated in fragment order, then reused while both stay the same.
        let mut s1 = State::default();
        joins.fill(&mut s1, [&a, &b].into_iter());
        let ids: Vec<&str> = s1
            .pve_backups
            .backup_tasks
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(ids, ["a1", "a2", "b1"]);
        let mut s2 = State::default();
        joins.fill(&mut s2, [&a, &b].into_iter());
        assert!(Arc::ptr_eq(&s1.pve_backups, &s2.pve_backups), "not rebuilt");
        // One instance re-read its backups: a new join with the new content.
        let b2 = fragment(&["b1", "b2"]);
        let mut s3 = State::default();
        joins.fill(&mut s3, [&a, &b2].into_iter());
        assert!(!Arc::ptr_eq(&s2.pve_backups, &s3.pve_backups));
        assert_eq!(s3.pve_backups.backup_tasks.len(), 4);
        // Nothing anywhere: empty lists.
        let mut s4 = State::default();
        joins.fill(&mut s4, [&empty].into_iter());
        assert!(s4.pve_backups.backup_tasks.is_empty());
        assert!(s4.pbs_backups.is_empty() && s4.pmg_backups.is_empty());
    }

    struct Fake {
        name: String,
        failing: AtomicBool,
        calls: AtomicU32,
    }

    impl InstancePoller for Fake {
        fn poll(&self, _previous: Option<&State>) -> Result<State, PollFailure> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.failing.load(Ordering::SeqCst) {
                return Err(PollFailure {
                    message: "connection refused".into(),
                    category: Category::Transient,
                });
            }
            Ok(State {
                nodes: vec![Node {
                    id: format!("{}-n1", self.name),
                    instance: self.name.clone(),
                    connection_health: "healthy".into(),
                    uptime: n as u64,
                    ..Default::default()
                }],
                ..Default::default()
            })
        }
    }

    fn fake(name: &str) -> Arc<Fake> {
        Arc::new(Fake {
            name: name.into(),
            failing: AtomicBool::new(false),
            calls: AtomicU32::new(0),
        })
    }

    fn instance(kind: Kind, f: &Arc<Fake>) -> Instance {
        Instance {
            key: Key::new(kind, f.name.clone()),
            display_name: f.name.clone(),
            connection: format!("https://{}:8006", f.name),
            identity: String::new(),
            poller: f.clone(),
        }
    }

    fn cycle(m: &mut Monitor) {
        let started = m.dispatch();
        let mut got = 0;
        while got < started {
            got += m.collect(Duration::from_secs(5));
        }
    }

    #[test]
    fn a_publisher_receives_every_merged_state() {
        let clock = ManualClock::at(1_000_000);
        let cell = Arc::new(StateCell::default());
        let sched = Arc::new(Mutex::new(Scheduler::new(SchedulerConfig::default(), 1)));
        let mut m = Monitor::new(
            sched,
            Pool::new(1, "t"),
            Arc::new(clock.clone()),
            cell.clone(),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let out = cell.clone();
        m.set_publisher(Arc::new(move |mut s: State| {
            sink.lock().unwrap().push(s.nodes.len());
            // A publisher decorates the state (as the alert engine fills activeAlerts).
            s.active_alerts.push(crate::model::ActiveAlert::default());
            out.publish(s);
        }));
        m.set_instances(vec![instance(Kind::Pve, &fake("a"))]);
        cycle(&mut m);
        assert_eq!(*seen.lock().unwrap(), vec![1]);
        assert_eq!(cell.current().state.active_alerts.len(), 1);
    }

    /// A monitor over `fakes` whose publisher counts publishes (each one = one merge +
    /// serialization downstream).
    fn counted(fakes: &[Arc<Fake>], clock: &ManualClock) -> (Monitor, Arc<AtomicU32>) {
        let cell = Arc::new(StateCell::default());
        let sched = Arc::new(Mutex::new(Scheduler::new(SchedulerConfig::default(), 1)));
        let mut m = Monitor::new(
            sched,
            Pool::new(fakes.len(), "t"),
            Arc::new(clock.clone()),
            cell.clone(),
        );
        let published = Arc::new(AtomicU32::new(0));
        let count = published.clone();
        m.set_publisher(Arc::new(move |s: State| {
            count.fetch_add(1, Ordering::SeqCst);
            cell.publish(s);
        }));
        m.set_instances(fakes.iter().map(|f| instance(Kind::Pve, f)).collect());
        (m, published)
    }

    #[test]
    fn five_instances_completing_together_are_published_once() {
        let clock = ManualClock::at(1_000_000);
        let fakes: Vec<_> = (0..5).map(|i| fake(&format!("c{i}"))).collect();
        let (mut m, published) = counted(&fakes, &clock);
        // Start: the first completion is published at once (never delayed), and so is each
        // of the first batch.
        let started = m.dispatch();
        assert_eq!(started, 5);
        let first = m.collect(Duration::from_secs(5));
        assert!(first >= 1);
        assert_eq!(
            published.load(Ordering::SeqCst),
            1,
            "first publish not delayed"
        );
        let mut got = first;
        while got < started {
            got += m.collect(Duration::from_secs(5));
        }
        assert_eq!(m.cell.current().state.nodes.len(), 5);
        // Next cycle: 5 completions, however they trickle in, make one publish, when the
        // last one is in.
        published.store(0, Ordering::SeqCst);
        clock.advance(10_000);
        assert_eq!(m.dispatch(), 5);
        let mut got = 0;
        while got < 5 {
            got += m.collect(Duration::from_secs(5));
            if got < 5 {
                assert_eq!(published.load(Ordering::SeqCst), 0, "held while polls run");
            }
        }
        assert_eq!(published.load(Ordering::SeqCst), 1);
        let s = m.cell.current();
        assert!(s.state.nodes.iter().all(|n| n.uptime == 2), "all five new");
        assert!(!m.publish_if_due(), "nothing left pending");
    }

    /// A poller that answers only when the test lets it.
    struct Gated {
        open: Mutex<mpsc::Receiver<()>>,
    }

    impl InstancePoller for Gated {
        fn poll(&self, _previous: Option<&State>) -> Result<State, PollFailure> {
            let _ = self.open.lock().unwrap().recv();
            Ok(State::default())
        }
    }

    #[test]
    fn a_hanging_poll_holds_the_others_back_at_most_the_hold_time() {
        let clock = ManualClock::at(1_000_000);
        let fast = fake("fast");
        let (mut m, published) = counted(std::slice::from_ref(&fast), &clock);
        let (release, gate) = mpsc::channel();
        let slow = Instance {
            key: Key::new(Kind::Pve, "slow"),
            display_name: "slow".into(),
            connection: "https://slow:8007".into(),
            identity: String::new(),
            poller: Arc::new(Gated {
                open: Mutex::new(gate),
            }),
        };
        m.set_instances(vec![instance(Kind::Pve, &fast), slow]);
        m.pool = Pool::new(2, "t");
        // First batch: only `fast` answers, published at once.
        assert_eq!(m.dispatch(), 2);
        assert_eq!(m.collect(Duration::from_secs(5)), 1);
        assert_eq!(published.load(Ordering::SeqCst), 1);
        release.send(()).unwrap();
        assert_eq!(m.collect(Duration::from_secs(5)), 1);
        assert_eq!(
            published.load(Ordering::SeqCst),
            2,
            "first batch: each at once"
        );
        // Warm: `fast` answers, `slow` hangs → held, published once the hold has passed.
        published.store(0, Ordering::SeqCst);
        clock.advance(10_000);
        assert_eq!(m.dispatch(), 2);
        assert_eq!(m.collect(Duration::from_secs(5)), 1);
        assert_eq!(
            published.load(Ordering::SeqCst),
            0,
            "slow poll still running"
        );
        clock.advance(PUBLISH_MAX_HOLD_MS - 1);
        assert!(!m.publish_if_due());
        assert!(
            m.idle_for() <= Duration::from_millis(1),
            "woken for the publish"
        );
        clock.advance(1);
        assert!(m.publish_if_due());
        assert_eq!(m.cell.current().state.nodes[0].uptime, 2);
        release.send(()).unwrap();
        assert_eq!(m.collect(Duration::from_secs(5)), 1);
        // The slow result came < 1 s after the last publish: it waits for the interval.
        assert_eq!(published.load(Ordering::SeqCst), 1);
        clock.advance(PUBLISH_MIN_INTERVAL_MS);
        assert!(m.publish_if_due());
        assert_eq!(published.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn polls_merge_publish_and_failures_keep_last_data() {
        let clock = ManualClock::at(1_000_000);
        let cell = Arc::new(StateCell::default());
        let sched = Arc::new(Mutex::new(Scheduler::new(SchedulerConfig::default(), 1)));
        let mut m = Monitor::new(
            sched,
            Pool::new(2, "t"),
            Arc::new(clock.clone()),
            cell.clone(),
        );
        let a = fake("a");
        let b = fake("b");
        m.set_instances(vec![instance(Kind::Pve, &a), instance(Kind::Pbs, &b)]);
        cycle(&mut m);
        let s = cell.current();
        assert_eq!(s.state.nodes.len(), 2);
        assert_eq!(s.state.connection_health.get("a"), Some(&true));
        assert_eq!(s.state.connection_health.get("pbs-b"), Some(&true));
        // Not due yet: nothing is polled.
        clock.advance(5_000);
        assert_eq!(m.dispatch(), 0);
        // `a` starts failing: its last data stays, marked unhealthy.
        a.failing.store(true, Ordering::SeqCst);
        clock.advance(5_000);
        cycle(&mut m);
        let s = cell.current();
        assert_eq!(s.state.connection_health.get("a"), Some(&false));
        let node_a = s.state.nodes.iter().find(|n| n.instance == "a").unwrap();
        assert_eq!(node_a.connection_health, "error");
        assert_eq!(node_a.uptime, 1, "last good data kept");
        // Breaker opens after 3 failures; recovery closes it.
        for _ in 0..3 {
            clock.set(m.sched().next_wake().unwrap());
            cycle(&mut m);
        }
        let k = Key::new(Kind::Pve, "a");
        assert_eq!(
            m.sched().breaker_state(&k),
            Some(crate::poller::breaker::BreakerState::Open)
        );
        a.failing.store(false, Ordering::SeqCst);
        // Step time to each next due poll (b's included) until a has been retried.
        let calls = a.calls.load(Ordering::SeqCst);
        for _ in 0..5 {
            if a.calls.load(Ordering::SeqCst) > calls {
                break;
            }
            clock.set(m.sched().next_wake().unwrap());
            cycle(&mut m);
        }
        assert_eq!(cell.current().state.connection_health.get("a"), Some(&true));
        assert_eq!(
            m.sched().breaker_state(&k),
            Some(crate::poller::breaker::BreakerState::Closed)
        );
        // Removing an instance removes its data at once.
        m.set_instances(vec![instance(Kind::Pve, &a)]);
        let s = cell.current();
        assert!(s.state.nodes.iter().all(|n| n.instance == "a"));
        assert!(!s.state.connection_health.contains_key("pbs-b"));
    }
}
