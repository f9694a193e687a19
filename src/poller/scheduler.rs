//! When each instance is polled (spec/polling-scheduler.md §2–§6), as pure, clock-driven
//! bookkeeping: the owner asks for due instances, runs the polls elsewhere, and reports each
//! outcome. Differences from the reference, on purpose:
//! - PBS and PMG use their own intervals (the reference polls everything on the PVE ticker).
//! - At most one poll per instance is in flight.
//! - The real outcome is recorded (the reference records every poll as a success).
//! - The next run is planned when a poll completes, not re-planned on every tick.
//! - An instance failing for a permanent reason (credentials, TLS pin, settings) is really
//!   parked in the dead-letter list (retried every 30 min) and leaves it on its next success
//!   or when its configuration changes.
//! - Transient failures (refused, timeouts, 5xx, garbage) back off exponentially with jitter,
//!   but never wait longer than `transient_retry_cap_cycles` poll intervals, breaker included,
//!   and are not parked for 30 min after 5 attempts (they are still listed as dead letters):
//!   the reference's caps (5 min backoff, 30 min parking) hide a node that rebooted for
//!   minutes after it is back, and retrying a refused connection costs nothing.

use super::breaker::{Breaker, BreakerConfig, BreakerState};
use crate::model::time::rfc3339_ms;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pve,
    Pbs,
    Pmg,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pve => "pve",
            Kind::Pbs => "pbs",
            Kind::Pmg => "pmg",
        }
    }
}

/// `<type>::<name>`, the scheduler's identity for an instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub name: String,
}

impl Key {
    pub fn new(kind: Kind, name: impl Into<String>) -> Key {
        Key {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.kind.as_str(), self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Worth retrying soon: connection, timeout, 5xx.
    Transient,
    /// Will not fix itself: bad credentials, bad configuration.
    Permanent,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Transient => "transient",
            Category::Permanent => "permanent",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    Failure { message: String, category: Category },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adaptive {
    pub base_ms: i64,
    pub min_ms: i64,
    pub max_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    pub pve_interval_ms: i64,
    pub pbs_interval_ms: i64,
    pub pmg_interval_ms: i64,
    pub adaptive: Option<Adaptive>,
    pub breaker: BreakerConfig,
    pub backoff_base_ms: i64,
    pub backoff_max_ms: i64,
    /// Consecutive failures that send an instance to the dead-letter list.
    pub max_retry_attempts: u32,
    pub dead_letter_retry_ms: i64,
    /// Staleness reaches 1 after this long without success.
    pub max_stale_ms: i64,
    /// Longest wait before retrying after a transient failure, in poll intervals of the
    /// instance's kind (backoff and open-breaker retry alike), so a recovered instance is
    /// seen again within this many cycles.
    pub transient_retry_cap_cycles: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            pve_interval_ms: 10_000,
            pbs_interval_ms: 60_000,
            pmg_interval_ms: 60_000,
            adaptive: None,
            breaker: BreakerConfig::default(),
            backoff_base_ms: 5_000,
            backoff_max_ms: 300_000,
            max_retry_attempts: 5,
            dead_letter_retry_ms: 30 * 60_000,
            max_stale_ms: 300_000,
            transient_retry_cap_cycles: 2,
        }
    }
}

/// The next poll of a fixed-interval instance: the first multiple of `interval` (counted
/// from the Unix epoch) at least a quarter interval away. Instances of one kind share the
/// grid, so their polls start together and finish together, and the monitor publishes (runs
/// alerts, serializes, fans out) once per cycle instead of once per instance whose phase
/// drifted by its poll time.
fn on_grid(now: i64, interval: i64) -> i64 {
    let interval = interval.max(1);
    let earliest = now + interval / 4;
    earliest + (interval - earliest.rem_euclid(interval)) % interval
}

impl SchedulerConfig {
    fn interval(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Pve => self.pve_interval_ms,
            Kind::Pbs => self.pbs_interval_ms,
            Kind::Pmg => self.pmg_interval_ms,
        }
    }

    /// The longest wait after a transient failure of an instance of `kind`.
    fn retry_cap(&self, kind: Kind) -> i64 {
        self.interval(kind)
            .max(1)
            .saturating_mul(i64::from(self.transient_retry_cap_cycles.max(1)))
    }

    /// The breaker settings for `kind`: its retry times stay within the retry cap.
    fn breaker_for(&self, kind: Kind) -> BreakerConfig {
        let cap = self.retry_cap(kind);
        BreakerConfig {
            base_retry_ms: self.breaker.base_retry_ms.min(cap),
            max_retry_ms: self.breaker.max_retry_ms.min(cap),
            half_open_window_ms: self.breaker.half_open_window_ms.min(cap),
            ..self.breaker
        }
    }
}

#[derive(Debug, Clone)]
struct DeadLetter {
    reason: &'static str,
    first_attempt: i64,
    last_attempt: i64,
    retry_count: u32,
    next_retry: i64,
    last_error: String,
}

#[derive(Debug, Clone)]
struct Task {
    connection: String,
    display_name: String,
    next_run: i64,
    in_flight: bool,
    breaker: Breaker,
    last_success: Option<i64>,
    last_error: Option<(i64, String, Category)>,
    consecutive_failures: u32,
    first_failure: Option<i64>,
    smoothed_ms: Option<i64>,
    dead_letter: Option<DeadLetter>,
}

pub struct Scheduler {
    cfg: SchedulerConfig,
    tasks: BTreeMap<Key, Task>,
    rng: u64,
}

/// splitmix64: a tiny deterministic generator for jitter (seeded, so tests are exact).
fn next_rand(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl Scheduler {
    pub fn new(cfg: SchedulerConfig, seed: u64) -> Scheduler {
        Scheduler {
            cfg,
            tasks: BTreeMap::new(),
            rng: seed,
        }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// New intervals apply from each instance's next completion; nothing else is reset.
    pub fn set_config(&mut self, cfg: SchedulerConfig) {
        self.cfg = cfg;
    }

    /// As `set_config`, for a change made while running (settings API): a healthy instance
    /// waiting longer than its new interval is brought forward, so a shorter interval takes
    /// effect at once instead of after the old, longer wait. Backoff, breaker and
    /// dead-letter waits are left alone.
    pub fn reconfigure(&mut self, cfg: SchedulerConfig, now: i64) {
        self.cfg = cfg;
        for (key, t) in self.tasks.iter_mut() {
            if t.in_flight || t.consecutive_failures > 0 || t.dead_letter.is_some() {
                continue;
            }
            let interval = match self.cfg.adaptive {
                None => self.cfg.interval(key.kind),
                Some(a) => a.max_ms,
            };
            let latest = t.last_success.map_or(now, |at| at + interval).max(now);
            t.next_run = t.next_run.min(latest);
        }
    }

    /// Adds an instance (due at once) or, when its connection changed, starts it over:
    /// a user who fixed a host or credentials should not wait out a breaker or dead letter.
    pub fn upsert(&mut self, key: Key, display_name: &str, connection: &str, now: i64) {
        if let Some(t) = self.tasks.get_mut(&key) {
            t.display_name = display_name.to_string();
            if t.connection == connection {
                return;
            }
        }
        let in_flight = self.tasks.get(&key).is_some_and(|t| t.in_flight);
        self.tasks.insert(
            key,
            Task {
                connection: connection.to_string(),
                display_name: display_name.to_string(),
                next_run: now,
                in_flight,
                breaker: Breaker::new(now),
                last_success: None,
                last_error: None,
                consecutive_failures: 0,
                first_failure: None,
                smoothed_ms: None,
                dead_letter: None,
            },
        );
    }

    pub fn remove(&mut self, key: &Key) {
        self.tasks.remove(key);
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.tasks.keys()
    }

    /// Instances whose poll should start now; they are marked in flight. An instance whose
    /// breaker refuses is pushed to the breaker's retry time instead.
    pub fn take_due(&mut self, now: i64) -> Vec<Key> {
        let mut due = Vec::new();
        for (key, t) in self.tasks.iter_mut() {
            if t.in_flight || t.next_run > now {
                continue;
            }
            let cfg = self.cfg.breaker_for(key.kind);
            if t.breaker.allow(&cfg, now) {
                t.in_flight = true;
                due.push(key.clone());
            } else {
                t.next_run = t.breaker.retry_at(&cfg).unwrap_or(now).max(now + 1);
            }
        }
        due
    }

    /// The earliest time anything becomes due (for the owner's sleep).
    pub fn next_wake(&self) -> Option<i64> {
        self.tasks
            .values()
            .filter(|t| !t.in_flight)
            .map(|t| t.next_run)
            .min()
    }

    pub fn complete(&mut self, key: &Key, outcome: Outcome, now: i64) {
        let cfg = self.cfg.clone();
        let staleness_before = self.staleness(key, now);
        let jitter = next_rand(&mut self.rng);
        let Some(t) = self.tasks.get_mut(key) else {
            return;
        };
        t.in_flight = false;
        let bcfg = cfg.breaker_for(key.kind);
        match outcome {
            Outcome::Success => {
                t.breaker.success(now);
                t.last_success = Some(now);
                t.consecutive_failures = 0;
                t.first_failure = None;
                t.dead_letter = None;
                let interval = match cfg.adaptive {
                    None => cfg.interval(key.kind),
                    Some(a) => adaptive_interval(&a, staleness_before, t.smoothed_ms, jitter),
                };
                t.next_run = match cfg.adaptive {
                    Some(_) => {
                        t.smoothed_ms = Some(interval);
                        now + interval
                    }
                    None => on_grid(now, interval),
                };
            }
            Outcome::Failure { message, category } => {
                t.breaker.failure(&bcfg, now);
                t.consecutive_failures = t.consecutive_failures.saturating_add(1);
                t.first_failure.get_or_insert(now);
                t.last_error = Some((now, message.clone(), category));
                let exhausted = t.consecutive_failures >= cfg.max_retry_attempts;
                let permanent = category == Category::Permanent;
                if permanent || exhausted {
                    let dl = t.dead_letter.get_or_insert(DeadLetter {
                        reason: "",
                        first_attempt: now,
                        last_attempt: now,
                        retry_count: 0,
                        next_retry: now,
                        last_error: String::new(),
                    });
                    dl.reason = if category == Category::Permanent {
                        "permanent_failure"
                    } else {
                        "max_retry_attempts"
                    };
                    dl.last_attempt = now;
                    dl.retry_count += 1;
                    dl.next_retry = now + cfg.dead_letter_retry_ms;
                    dl.last_error = message;
                }
                if permanent {
                    t.next_run = now + cfg.dead_letter_retry_ms;
                } else {
                    let cap = cfg.retry_cap(key.kind);
                    let base = cfg.backoff_base_ms.min(cfg.interval(key.kind)).max(1);
                    let exp = t.consecutive_failures.saturating_sub(1).min(20);
                    let raw = base.saturating_mul(1i64 << exp) as f64;
                    let delay = (raw * (1.0 + (2.0 * jitter - 1.0) * 0.2)) as i64;
                    let delay = delay.clamp(1, cfg.backoff_max_ms.min(cap));
                    let retry = t.breaker.retry_at(&bcfg).unwrap_or(0);
                    t.next_run = (now + delay).max(retry);
                    if let Some(dl) = t.dead_letter.as_mut() {
                        dl.next_retry = t.next_run;
                    }
                }
            }
        }
    }

    /// 0 = fresh, 1 = no success for `max_stale_ms` (or never).
    pub fn staleness(&self, key: &Key, now: i64) -> f64 {
        match self.tasks.get(key).and_then(|t| t.last_success) {
            None => 1.0,
            Some(at) => ((now - at) as f64 / self.cfg.max_stale_ms.max(1) as f64).clamp(0.0, 1.0),
        }
    }

    pub fn breaker_state(&self, key: &Key) -> Option<BreakerState> {
        self.tasks.get(key).map(|t| t.breaker.state)
    }

    pub fn is_dead_lettered(&self, key: &Key) -> bool {
        self.tasks.get(key).is_some_and(|t| t.dead_letter.is_some())
    }

    /// `GET /api/monitoring/scheduler/health` (spec §6.1).
    pub fn health(&self, now: i64) -> Value {
        let waiting: Vec<(&Key, &Task)> = self.tasks.iter().filter(|(_, t)| !t.in_flight).collect();
        let mut per_type: BTreeMap<&str, u32> = BTreeMap::new();
        for (k, _) in &waiting {
            *per_type.entry(k.kind.as_str()).or_default() += 1;
        }
        let due_soon = waiting
            .iter()
            .filter(|(_, t)| t.next_run - now <= 12_000)
            .count();
        let dead: Vec<Value> = self
            .tasks
            .iter()
            .filter_map(|(k, t)| {
                t.dead_letter.as_ref().map(|dl| {
                    let mut v = json!({
                        "instance": k.name, "type": k.kind.as_str(),
                        "nextRun": rfc3339_ms(dl.next_retry), "failures": t.consecutive_failures,
                    });
                    if !dl.last_error.is_empty() {
                        v["lastError"] = json!(dl.last_error);
                    }
                    v
                })
            })
            .collect();
        let breakers: Vec<Value> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.breaker.state != BreakerState::Closed || t.breaker.failures > 0)
            .map(|(k, t)| {
                json!({
                    "instance": k.name, "type": k.kind.as_str(), "state": t.breaker.state.as_str(),
                    "failures": t.breaker.failures,
                    "retryAt": rfc3339_ms(t.breaker.retry_at(&self.cfg.breaker_for(k.kind)).unwrap_or(0)),
                })
            })
            .collect();
        let staleness: Vec<Value> = self
            .tasks
            .iter()
            .map(|(k, t)| {
                json!({
                    "instance": k.name, "type": k.kind.as_str(), "score": self.staleness(k, now),
                    "lastSuccess": rfc3339_ms(t.last_success.unwrap_or(0)),
                    "lastError": rfc3339_ms(t.last_error.as_ref().map_or(0, |e| e.0)),
                })
            })
            .collect();
        let instances: Vec<Value> = self
            .tasks
            .iter()
            .map(|(k, t)| {
                let mut poll = json!({ "consecutiveFailures": t.consecutive_failures });
                if let Some(s) = t.last_success {
                    poll["lastSuccess"] = json!(rfc3339_ms(s));
                }
                if let Some((at, msg, cat)) = &t.last_error {
                    poll["lastError"] = json!({"at": rfc3339_ms(*at), "message": msg, "category": cat.as_str()});
                }
                if let Some(f) = t.first_failure {
                    poll["firstFailureAt"] = json!(rfc3339_ms(f));
                }
                let mut breaker = json!({
                    "state": t.breaker.state.as_str(),
                    "since": rfc3339_ms(t.breaker.since),
                    "lastTransition": rfc3339_ms(t.breaker.since),
                    "failureCount": t.breaker.failures,
                });
                if let Some(r) = t.breaker.retry_at(&self.cfg.breaker_for(k.kind)) {
                    breaker["retryAt"] = json!(rfc3339_ms(r));
                }
                let dead_letter = match &t.dead_letter {
                    None => json!({"present": false}),
                    Some(dl) => json!({
                        "present": true, "reason": dl.reason,
                        "firstAttempt": rfc3339_ms(dl.first_attempt),
                        "lastAttempt": rfc3339_ms(dl.last_attempt),
                        "retryCount": dl.retry_count,
                        "nextRetry": rfc3339_ms(dl.next_retry),
                    }),
                };
                json!({
                    "key": k.to_string(), "type": k.kind.as_str(),
                    "displayName": if t.display_name.is_empty() { &k.name } else { &t.display_name },
                    "instance": k.name, "connection": t.connection,
                    "pollStatus": poll, "breaker": breaker, "deadLetter": dead_letter,
                })
            })
            .collect();
        let mut out = json!({
            "updatedAt": rfc3339_ms(now),
            "enabled": self.cfg.adaptive.is_some(),
            "queue": {"depth": waiting.len(), "dueWithinSeconds": due_soon, "perType": per_type},
            "deadLetter": {"count": dead.len(), "tasks": dead.into_iter().take(25).collect::<Vec<_>>()},
        });
        if !breakers.is_empty() {
            out["breakers"] = json!(breakers);
        }
        if !staleness.is_empty() {
            out["staleness"] = json!(staleness);
        }
        out["instances"] = json!(instances);
        out
    }
}

/// spec §3 steps 1–6, minus error and queue terms (applied by the caller's outcome path).
fn adaptive_interval(a: &Adaptive, staleness: f64, previous: Option<i64>, jitter: f64) -> i64 {
    let (min, max) = (a.min_ms as f64, a.max_ms as f64);
    let target = min + (max - min) * (1.0 - staleness.clamp(0.0, 1.0));
    let prev = previous.unwrap_or(a.base_ms) as f64;
    let smoothed = (0.6 * target + 0.4 * prev).clamp(min, max);
    let jittered = smoothed * (1.0 + (2.0 * jitter - 1.0) * 0.05);
    jittered.clamp(min, max) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(msg: &str) -> Outcome {
        Outcome::Failure {
            message: msg.into(),
            category: Category::Transient,
        }
    }

    #[test]
    fn each_kind_keeps_its_own_interval_and_one_poll_in_flight() {
        let mut s = Scheduler::new(SchedulerConfig::default(), 1);
        let pve = Key::new(Kind::Pve, "lab");
        let pbs = Key::new(Kind::Pbs, "backup");
        s.upsert(pve.clone(), "lab", "https://a:8006", 0);
        s.upsert(pbs.clone(), "backup", "https://b:8007", 0);
        assert_eq!(s.take_due(0), vec![pve.clone(), pbs.clone()]);
        assert!(s.take_due(1).is_empty(), "in flight: not handed out twice");
        s.complete(&pve, Outcome::Success, 500);
        s.complete(&pbs, Outcome::Success, 500);
        assert_eq!(s.take_due(9_999), Vec::<Key>::new());
        assert_eq!(s.take_due(10_000), vec![pve.clone()]);
        assert_eq!(s.next_wake(), Some(60_000));
    }

    #[test]
    fn instances_of_one_kind_poll_on_a_shared_grid() {
        let mut s = Scheduler::new(SchedulerConfig::default(), 1);
        let a = Key::new(Kind::Pve, "a");
        let b = Key::new(Kind::Pve, "b");
        s.upsert(a.clone(), "a", "https://a:8006", 0);
        s.upsert(b.clone(), "b", "https://b:8006", 0);
        // Added at different times, finishing at different times...
        assert_eq!(s.take_due(3_700), vec![a.clone(), b.clone()]);
        s.complete(&a, Outcome::Success, 3_900);
        s.complete(&b, Outcome::Success, 7_400);
        // ...both next start on the same 10 s boundary (b's is 2.6 s away: at least a
        // quarter interval, so it is not skipped).
        assert_eq!(s.take_due(9_999), Vec::<Key>::new());
        assert_eq!(s.take_due(10_000), vec![a.clone(), b.clone()]);
        // A poll that ends closer than a quarter interval to the boundary waits one more.
        s.complete(&a, Outcome::Success, 18_000);
        s.complete(&b, Outcome::Success, 10_300);
        assert_eq!(s.take_due(20_000), vec![b.clone()]);
        assert_eq!(s.take_due(29_999), Vec::<Key>::new());
        s.complete(&b, Outcome::Success, 20_200);
        assert_eq!(s.take_due(30_000), vec![a, b]);
    }

    #[test]
    fn a_shorter_interval_applies_at_once_a_longer_from_the_next_poll() {
        let mut s = Scheduler::new(SchedulerConfig::default(), 1);
        let pve = Key::new(Kind::Pve, "lab");
        s.upsert(pve.clone(), "lab", "https://a:8006", 0);
        assert_eq!(s.take_due(0).len(), 1);
        s.complete(&pve, Outcome::Success, 1_000);
        assert_eq!(s.next_wake(), Some(10_000));
        let cfg = SchedulerConfig {
            pve_interval_ms: 2_000,
            ..Default::default()
        };
        s.reconfigure(cfg.clone(), 1_500);
        assert_eq!(
            s.next_wake(),
            Some(3_000),
            "brought forward to last success + 2 s"
        );
        s.reconfigure(cfg.clone(), 5_000);
        assert_eq!(s.next_wake(), Some(3_000), "an overdue poll stays due");
        let slow = SchedulerConfig {
            pve_interval_ms: 60_000,
            ..Default::default()
        };
        s.reconfigure(slow, 5_000);
        assert_eq!(s.take_due(5_000).len(), 1);
        s.complete(&pve, Outcome::Success, 5_100);
        assert_eq!(s.next_wake(), Some(60_000));
        // A failing instance keeps its backoff.
        assert_eq!(s.take_due(60_000).len(), 1);
        s.complete(&pve, fail("refused"), 60_100);
        let wake = s.next_wake().unwrap();
        s.reconfigure(cfg, 60_200);
        assert_eq!(s.next_wake(), Some(wake));
    }

    #[test]
    fn failures_back_off_trip_the_breaker_and_dead_letter() {
        let mut s = Scheduler::new(SchedulerConfig::default(), 7);
        let k = Key::new(Kind::Pve, "lab");
        s.upsert(k.clone(), "lab", "https://a:8006", 0);
        let mut now = 0;
        let mut delays = Vec::new();
        for i in 1..=5 {
            let due = s.take_due(now);
            assert_eq!(due, vec![k.clone()], "attempt {i} at {now}");
            s.complete(&k, fail("connection refused"), now);
            let next = s.next_wake().unwrap();
            delays.push(next - now);
            now = next;
        }
        // Backoff grows ≈5, 10 s; from the 3rd failure the breaker's retry wins.
        assert!((4_000..=6_000).contains(&delays[0]), "{delays:?}");
        assert!((8_000..=12_000).contains(&delays[1]), "{delays:?}");
        assert_eq!(s.breaker_state(&k), Some(BreakerState::Open));
        assert!(s.is_dead_lettered(&k));
        // Transient failures are listed as dead letters but never wait more than two
        // poll intervals (10 s each by default), breaker included.
        assert!(delays.iter().all(|d| *d <= 20_000), "{delays:?}");
        assert!(delays[4] >= 16_000, "still backed off: {delays:?}");
        let h = s.health(now);
        assert_eq!(h["deadLetter"]["count"], 1);
        assert_eq!(
            h["deadLetter"]["tasks"][0]["lastError"],
            "connection refused"
        );
        let inst = &h["instances"][0];
        assert_eq!(inst["key"], "pve::lab");
        assert_eq!(inst["pollStatus"]["consecutiveFailures"], 5);
        assert_eq!(inst["pollStatus"]["lastError"]["category"], "transient");
        assert_eq!(inst["deadLetter"]["reason"], "max_retry_attempts");
        assert_eq!(inst["breaker"]["state"], "open");
        assert!(h["breakers"].is_array());
        // Recovery: the next probe succeeds → closed, out of the dead-letter list.
        assert_eq!(s.take_due(now), vec![k.clone()]);
        s.complete(&k, Outcome::Success, now + 100);
        assert_eq!(s.breaker_state(&k), Some(BreakerState::Closed));
        assert!(!s.is_dead_lettered(&k));
        let h = s.health(now + 100);
        assert!(h.get("breakers").is_none(), "omitted when empty");
        assert_eq!(h["instances"][0]["deadLetter"], json!({"present": false}));
        assert_eq!(h["instances"][0]["pollStatus"]["consecutiveFailures"], 0);
    }

    #[test]
    fn transient_retries_stay_within_two_intervals_of_the_kind() {
        let cfg = SchedulerConfig {
            pve_interval_ms: 1_000,
            ..SchedulerConfig::default()
        };
        let mut s = Scheduler::new(cfg, 5);
        let pve = Key::new(Kind::Pve, "lab");
        let pmg = Key::new(Kind::Pmg, "mail");
        s.upsert(pve.clone(), "lab", "https://a:8006", 0);
        s.upsert(pmg.clone(), "mail", "https://m:8006", 0);
        let mut now = 0;
        for _ in 0..30 {
            for k in s.take_due(now) {
                s.complete(&k, fail("timed out"), now);
            }
            now = s.next_wake().unwrap();
        }
        assert_eq!(s.breaker_state(&pve), Some(BreakerState::Open));
        let pve_wait = s.tasks[&pve].next_run - s.tasks[&pve].last_error.as_ref().unwrap().0;
        assert!((1..=2_000).contains(&pve_wait), "{pve_wait}");
        let pmg_wait = s.tasks[&pmg].next_run - s.tasks[&pmg].last_error.as_ref().unwrap().0;
        assert!(pmg_wait <= 120_000 && pmg_wait > 2_000, "{pmg_wait}");
        // Recovery: due again within two intervals, the probe closes the breaker.
        let t = now.max(s.tasks[&pve].next_run);
        assert!(s.take_due(t).contains(&pve));
        s.complete(&pve, Outcome::Success, t);
        assert_eq!(s.breaker_state(&pve), Some(BreakerState::Closed));
        assert!(!s.is_dead_lettered(&pve));
    }

    #[test]
    fn permanent_errors_park_at_once_and_a_config_change_unparks() {
        let mut s = Scheduler::new(SchedulerConfig::default(), 3);
        let k = Key::new(Kind::Pmg, "mail");
        s.upsert(k.clone(), "mail", "https://m:8006", 0);
        s.take_due(0);
        s.complete(
            &k,
            Outcome::Failure {
                message: "401 bad credentials".into(),
                category: Category::Permanent,
            },
            10,
        );
        assert!(s.is_dead_lettered(&k));
        assert_eq!(
            s.health(10)["instances"][0]["deadLetter"]["reason"],
            "permanent_failure"
        );
        s.upsert(k.clone(), "mail", "https://m:8006", 20);
        assert!(s.is_dead_lettered(&k), "same config: still parked");
        s.upsert(k.clone(), "mail", "https://m2:8006", 30);
        assert!(!s.is_dead_lettered(&k));
        assert_eq!(s.take_due(30), vec![k]);
    }

    #[test]
    fn health_shape_when_empty_and_healthy() {
        let mut s = Scheduler::new(SchedulerConfig::default(), 1);
        let h = s.health(1_000);
        assert_eq!(
            h["queue"],
            json!({"depth": 0, "dueWithinSeconds": 0, "perType": {}})
        );
        assert_eq!(h["deadLetter"], json!({"count": 0, "tasks": []}));
        assert!(h.get("staleness").is_none() && h.get("breakers").is_none());
        assert_eq!(h["instances"], json!([]));
        let k = Key::new(Kind::Pbs, "b");
        s.upsert(k.clone(), "Backups", "https://b:8007", 0);
        s.take_due(0);
        s.complete(&k, Outcome::Success, 1_000);
        let h = s.health(1_000);
        assert_eq!(h["queue"]["perType"], json!({"pbs": 1}));
        assert_eq!(h["instances"][0]["displayName"], "Backups");
        assert_eq!(h["instances"][0]["connection"], "https://b:8007");
        assert!(h["instances"][0]["breaker"].get("retryAt").is_none());
        assert_eq!(h["staleness"][0]["score"], 0.0);
        assert_eq!(
            h["staleness"][0]["lastError"],
            crate::model::time::ZERO_TIME
        );
    }

    #[test]
    fn adaptive_intervals_stay_in_bounds_and_favour_stale_instances() {
        let a = Adaptive {
            base_ms: 10_000,
            min_ms: 5_000,
            max_ms: 300_000,
        };
        let fresh = adaptive_interval(&a, 0.0, None, 0.5);
        let stale = adaptive_interval(&a, 1.0, None, 0.5);
        assert!(stale < fresh);
        for j in [0.0, 0.5, 0.999] {
            for st in [0.0, 0.3, 1.0] {
                let v = adaptive_interval(&a, st, Some(200_000), j);
                assert!((5_000..=300_000).contains(&v));
            }
        }
    }
}
