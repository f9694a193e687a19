//! The alert engine: `(alert state, monitored State, config, now) → (alert state, events)`.
//! Pure and clock-injected — no I/O, no wall clock, no threads — so hours of behaviour can be
//! simulated in milliseconds. The caller persists the result and delivers the events.

use super::alert::{Alert, AlertEvent, Level, ResolvedBy};
use super::config::AlertConfig;
use super::quiet;
use super::rules::{self, Ctx, Observation, Resource, Rule};
use crate::model::State;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// After a restart, alerts of a connection that has not reported yet are kept this long
/// (so acknowledgements survive a slow first poll) before they are treated as gone.
const STARTUP_HOLD_MS: i64 = 10 * MINUTE;
/// Metric alerts become critical this many units (%, MB/s, °C) above their trigger.
const CRITICAL_MARGIN: f64 = 10.0;

/// An active alert and what the engine needs to keep about it across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    pub alert: Alert,
    /// The `connectionHealth` key of the data source.
    pub owner: String,
    #[serde(skip)]
    seen: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    since: i64,
    count: u32,
    /// When the last confirmation was counted.
    last: i64,
    tick: u64,
    resource_id: String,
}

/// Everything the engine remembers between ticks. Only `active` is durable; the rest is
/// short-lived bookkeeping that may start empty after a restart.
#[derive(Debug, Default, Clone)]
pub struct Engine {
    active: BTreeMap<String, Tracked>,
    pending: HashMap<String, Pending>,
    /// Last creation per id: `(time, value)`, for duplicate suppression.
    recent: HashMap<String, (i64, f64)>,
    /// New alerts for these ids are not created before the time (flapping, duplicates).
    suppressed_until: HashMap<String, i64>,
    /// Notification attempts per id inside the flapping window.
    flap: HashMap<String, Vec<i64>>,
    /// New-alert notifications per id in the last hour.
    rate: HashMap<String, Vec<i64>>,
    /// Last notification per id; kept across resolution so a re-raise honours the cooldown.
    last_notified: HashMap<String, i64>,
    seen_running: HashSet<String>,
    first_tick: Option<i64>,
    tick: u64,
    /// Set while re-evaluating after a config change: alerts may update and resolve, but a
    /// config save is not a poll, so it neither counts as a confirmation nor raises.
    reeval: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("alert not found: {0}")]
pub struct NotFound(pub String);

/// The pure step, as a function of values.
pub fn step(
    mut prev: Engine,
    state: &State,
    cfg: &AlertConfig,
    now: i64,
) -> (Engine, Vec<AlertEvent>) {
    let events = prev.evaluate(state, cfg, now);
    (prev, events)
}

impl Engine {
    /// Starts from persisted active alerts (acknowledgements included).
    pub fn restore(active: Vec<Tracked>) -> Engine {
        let mut e = Engine::default();
        for t in active {
            e.active.insert(t.alert.id.clone(), t);
        }
        e
    }

    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().map(|t| &t.alert)
    }

    pub fn get(&self, id: &str) -> Option<&Alert> {
        self.active.get(id).map(|t| &t.alert)
    }

    pub fn tracked(&self) -> impl Iterator<Item = &Tracked> {
        self.active.values()
    }

    /// Applies a new configuration to the last state at once (§5.9): switched-off checks and
    /// values now below their clear level resolve; new alerts wait for the next poll.
    pub fn reevaluate(&mut self, state: &State, cfg: &AlertConfig, now: i64) -> Vec<AlertEvent> {
        self.reeval = true;
        let ev = self.evaluate(state, cfg, now);
        self.reeval = false;
        ev
    }

    /// Evaluates one tick.
    pub fn evaluate(&mut self, state: &State, cfg: &AlertConfig, now: i64) -> Vec<AlertEvent> {
        let mut ev = Vec::new();
        self.tick += 1;
        let first = *self.first_tick.get_or_insert(now);
        if !cfg.enabled {
            let ids: Vec<String> = self.active.keys().cloned().collect();
            for id in ids {
                self.resolve(&id, ResolvedBy::Config, now, &mut ev);
            }
            self.pending.clear();
            return ev;
        }
        let touched: HashSet<String> = self
            .active
            .values()
            .map(|t| t.alert.resource_id.clone())
            .chain(self.pending.values().map(|p| p.resource_id.clone()))
            .collect();
        let obs = {
            let active = &self.active;
            let is_active = |id: &str| active.contains_key(id);
            let ctx = Ctx {
                now,
                seen_running: &self.seen_running,
                is_active: &is_active,
                touched: &touched,
            };
            rules::observe(state, cfg, &ctx)
        };
        let mut key = String::new();
        for g in state.vms.iter().chain(state.containers.iter()) {
            if &*g.status == "running" {
                use std::fmt::Write;
                key.clear();
                let _ = write!(key, "{}-{}", g.instance, g.vmid);
                if !self.seen_running.contains(&key) {
                    self.seen_running.insert(key.clone());
                }
            }
        }
        for o in &obs {
            self.observe(o, cfg, now, &mut ev);
        }
        // Alerts nothing observed any more: the resource is gone (deleted, or its instance
        // removed). Right after a restart, wait for a connection's first report.
        let tick = self.tick;
        if self.active.values().any(|t| t.seen != tick) {
            let mut owners: HashSet<&str> =
                state.connection_health.keys().map(|k| k.as_str()).collect();
            owners.extend(obs.iter().map(|o| &*o.resource.owner));
            let gone: Vec<String> = self
                .active
                .values()
                .filter(|t| t.seen != tick)
                .filter(|t| owners.contains(t.owner.as_str()) || now - first >= STARTUP_HOLD_MS)
                .map(|t| t.alert.id.clone())
                .collect();
            for id in gone {
                self.resolve(&id, ResolvedBy::Gone, now, &mut ev);
            }
        }
        self.escalate(cfg, now, &mut ev);
        self.housekeeping(cfg, now, &mut ev);
        ev
    }

    fn observe(&mut self, o: &Observation, cfg: &AlertConfig, now: i64, ev: &mut Vec<AlertEvent>) {
        let tick = self.tick;
        if let Some(t) = self.active.get_mut(&o.id) {
            t.seen = tick;
        }
        match &o.rule {
            Rule::Hold => {
                if let Some(p) = self.pending.get_mut(&o.id) {
                    p.tick = tick;
                }
            }
            Rule::Off(by) => {
                if !self.pending.is_empty() {
                    self.pending.remove(&o.id);
                }
                if self.active.contains_key(&o.id) {
                    self.resolve(&o.id, *by, now, ev);
                }
            }
            Rule::Threshold { th, grace_ms, unit } => {
                let clear = th.effective_clear();
                let level = if o.value >= th.trigger + CRITICAL_MARGIN {
                    Level::Critical
                } else {
                    Level::Warning
                };
                if o.value >= th.trigger {
                    let message = observation_message(o, *unit);
                    if self.active.contains_key(&o.id) {
                        self.update(o, level, message, now, cfg, ev);
                        // Thresholds may have changed since it fired (config save).
                        if let Some(t) = self.active.get_mut(&o.id)
                            && t.alert.threshold != th.trigger
                        {
                            t.alert.threshold = th.trigger;
                            t.alert
                                .metadata
                                .insert("clearThreshold".into(), clear.into());
                        }
                        return;
                    }
                    let Some(start) = self.confirm(o, now, *grace_ms, 1, 0) else {
                        return;
                    };
                    let mut meta = base_metadata(&o.resource);
                    meta.insert("clearThreshold".into(), clear.into());
                    if let Some(u) = unit {
                        meta.insert("unit".into(), (*u).into());
                    }
                    meta.insert("metric".into(), o.kind.into());
                    if let Some(d) = &o.disk {
                        let disk = d.disk;
                        meta.insert("diskIndex".into(), d.index.into());
                        meta.insert("label".into(), d.label.clone().into());
                        meta.insert(
                            "mountpoint".into(),
                            disk.mountpoint.clone().unwrap_or_default().into(),
                        );
                        meta.insert(
                            "device".into(),
                            disk.device.clone().unwrap_or_default().into(),
                        );
                        meta.insert(
                            "diskType".into(),
                            disk.kind.clone().unwrap_or_default().into(),
                        );
                        meta.insert("totalBytes".into(), disk.total.into());
                        meta.insert("usedBytes".into(), disk.used.into());
                        meta.insert("freeBytes".into(), disk.free.into());
                    }
                    self.raise(o, level, th.trigger, start, message, meta, cfg, now, ev);
                } else {
                    if !self.pending.is_empty() {
                        self.pending.remove(&o.id);
                    }
                    if let Some(t) = self.active.get_mut(&o.id) {
                        if o.value <= clear {
                            self.resolve(&o.id, ResolvedBy::Recovered, now, ev);
                        } else if t.alert.threshold != th.trigger {
                            // The trigger was raised above the current value: by today's
                            // configuration this is no alert.
                            self.resolve(&o.id, ResolvedBy::Config, now, ev);
                        } else {
                            // Between clear and trigger: still active, show the current value.
                            t.alert.value = o.value;
                            t.alert.last_seen = now;
                            t.alert.message = observation_message(o, *unit);
                        }
                    }
                }
            }
            Rule::Condition {
                level,
                confirmations,
                threshold,
                message,
            } => match level {
                None => {
                    if !self.pending.is_empty() {
                        self.pending.remove(&o.id);
                    }
                    if self.active.contains_key(&o.id) {
                        self.resolve(&o.id, ResolvedBy::Recovered, now, ev);
                    }
                }
                Some(level) => {
                    if self.active.contains_key(&o.id) {
                        self.update(o, *level, message.clone(), now, cfg, ev);
                        if let Some(t) = self.active.get_mut(&o.id) {
                            t.alert.threshold = *threshold;
                        }
                        return;
                    }
                    let gap = if *confirmations > 1 {
                        cfg.grace_ms(o.resource.resource_type, o.kind)
                    } else {
                        0
                    };
                    let Some(start) = self.confirm(o, now, 0, *confirmations, gap) else {
                        return;
                    };
                    let meta = base_metadata(&o.resource);
                    self.raise(
                        o,
                        *level,
                        *threshold,
                        start,
                        message.clone(),
                        meta,
                        cfg,
                        now,
                        ev,
                    );
                }
            },
        }
    }

    /// Records a breach; returns the start time once it has lasted `grace_ms` and been seen
    /// `confirmations` times in a row.
    ///
    /// A tick happens whenever any instance reports, so for conditions that need several
    /// confirmations, checks closer together than `gap_ms` count once: "3 checks" then means
    /// at least 2 × `gap_ms` of the condition, not three reports of other instances.
    fn confirm(
        &mut self,
        o: &Observation,
        now: i64,
        grace_ms: i64,
        confirmations: u32,
        gap_ms: i64,
    ) -> Option<i64> {
        let id = o.id.as_str();
        let tick = self.tick;
        if self.reeval {
            if let Some(p) = self.pending.get_mut(id) {
                p.tick = tick;
            }
            return None;
        }
        let p = self
            .pending
            .entry(id.to_string())
            .or_insert_with(|| Pending {
                since: now,
                count: 0,
                last: now,
                tick,
                resource_id: o.resource.id.clone(),
            });
        p.tick = tick;
        if p.count == 0 || now - p.last >= gap_ms {
            p.count += 1;
            p.last = now;
        }
        if now - p.since < grace_ms || p.count < confirmations.max(1) {
            return None;
        }
        let since = p.since;
        self.pending.remove(id);
        Some(since)
    }

    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        o: &Observation,
        level: Level,
        threshold: f64,
        start: i64,
        message: String,
        mut metadata: serde_json::Map<String, serde_json::Value>,
        cfg: &AlertConfig,
        now: i64,
        ev: &mut Vec<AlertEvent>,
    ) {
        if self.suppressed_until.get(&o.id).is_some_and(|t| *t > now) {
            return;
        }
        // The same alert coming straight back with about the same value is a duplicate.
        if let Some((at, value)) = self.recent.get(&o.id)
            && now - at < cfg.suppression_window * MINUTE
            && (value - o.value).abs() < cfg.minimum_delta
        {
            self.suppressed_until
                .insert(o.id.clone(), now + cfg.suppression_window * MINUTE);
            ev.push(AlertEvent::Suppressed {
                id: o.id.clone(),
                reason: "duplicate",
            });
            return;
        }
        metadata.insert("monitorOnly".into(), o.resource.monitor_only.into());
        let mut alert = Alert {
            id: o.id.clone(),
            kind: o.kind.to_string(),
            level,
            resource_id: o.resource.id.clone(),
            resource_name: o.resource.name.to_string(),
            node: o.resource.node.to_string(),
            instance: o.resource.instance.to_string(),
            message,
            value: o.value,
            threshold,
            start_time: start,
            last_seen: now,
            acknowledged: false,
            ack_time: None,
            ack_user: None,
            metadata,
            last_notified: None,
            last_escalation: None,
            escalation_times: Vec::new(),
            resolved_time: None,
        };
        self.recent.insert(o.id.clone(), (now, o.value));
        let notify = self.gate(&mut alert, cfg, now, Gate::New, ev);
        self.active.insert(
            o.id.clone(),
            Tracked {
                alert: alert.clone(),
                owner: o.resource.owner.to_string(),
                seen: self.tick,
            },
        );
        ev.push(AlertEvent::Raised { alert, notify });
    }

    fn update(
        &mut self,
        o: &Observation,
        level: Level,
        message: String,
        now: i64,
        cfg: &AlertConfig,
        ev: &mut Vec<AlertEvent>,
    ) {
        let Some(t) = self.active.get_mut(&o.id) else {
            return;
        };
        let rose = level > t.alert.level;
        t.alert.level = level;
        t.alert.value = o.value;
        t.alert.last_seen = now;
        t.alert.message = message;
        // The common case — still going on, nothing to announce — touches nothing else.
        let deferred = !rose && {
            let a = &self.active[&o.id].alert;
            a.last_notified.is_none()
                && !a.acknowledged
                && self.gate_open(a, cfg, now)
                && !self.in_cooldown(&a.id, cfg, now)
        };
        if !rose && !deferred {
            return;
        }
        let mut alert = self.active[&o.id].alert.clone();
        if rose {
            let notify = self.gate(&mut alert, cfg, now, Gate::Rise, ev);
            ev.push(AlertEvent::LevelRaised {
                alert: alert.clone(),
                notify,
            });
        } else {
            // Held back earlier (quiet hours, not yet activated) and still going on: notify
            // now that nothing forbids it.
            self.stamp(&mut alert, now);
            ev.push(AlertEvent::Deferred {
                alert: alert.clone(),
            });
        }
        if let Some(t) = self.active.get_mut(&o.id) {
            t.alert = alert;
        }
    }

    /// Activation, quiet hours and monitor-only: the rules that depend only on the alert.
    fn gate_open(&self, alert: &Alert, cfg: &AlertConfig, now: i64) -> bool {
        self.gate_reason(alert, cfg, now).is_none()
    }

    fn gate_reason(&self, alert: &Alert, cfg: &AlertConfig, now: i64) -> Option<&'static str> {
        if cfg.activation_state != "active" {
            return Some("not_activated");
        }
        let q = &cfg.schedule.quiet_hours;
        if quiet::active(q, now) {
            let silenced = match alert.level {
                Level::Warning => true,
                Level::Critical => match quiet::category(&alert.kind) {
                    Some(quiet::Category::Performance) => q.suppress.performance,
                    Some(quiet::Category::Storage) => q.suppress.storage,
                    Some(quiet::Category::Offline) => q.suppress.offline,
                    None => false,
                },
            };
            if silenced {
                return Some("quiet_hours");
            }
        }
        if alert
            .metadata
            .get("monitorOnly")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
        {
            return Some("monitor_only");
        }
        None
    }

    fn in_cooldown(&self, id: &str, cfg: &AlertConfig, now: i64) -> bool {
        cfg.schedule.cooldown > 0
            && self
                .last_notified
                .get(id)
                .is_some_and(|t| now - t < cfg.schedule.cooldown * MINUTE)
    }

    fn stamp(&mut self, alert: &mut Alert, now: i64) {
        alert.last_notified = Some(now);
        self.last_notified.insert(alert.id.clone(), now);
    }

    /// The notification gate (spec/alerts.md §5.5, with the cooldown applied per alert id).
    fn gate(
        &mut self,
        alert: &mut Alert,
        cfg: &AlertConfig,
        now: i64,
        kind: Gate,
        ev: &mut Vec<AlertEvent>,
    ) -> bool {
        let refuse = |reason: &'static str, ev: &mut Vec<AlertEvent>| {
            ev.push(AlertEvent::Suppressed {
                id: alert.id.clone(),
                reason,
            });
            false
        };
        if cfg.flapping_enabled {
            let window = cfg.flapping_window_seconds * 1000;
            let times = self.flap.entry(alert.id.clone()).or_default();
            times.retain(|t| now - t < window);
            times.push(now);
            if times.len() as i64 >= cfg.flapping_threshold {
                times.clear();
                self.suppressed_until.insert(
                    alert.id.clone(),
                    now + cfg.flapping_cooldown_minutes * MINUTE,
                );
                alert.metadata.insert("flapping".into(), true.into());
                return refuse("flapping", ev);
            }
        }
        if let Some(reason) = self.gate_reason(alert, cfg, now) {
            return refuse(reason, ev);
        }
        if kind == Gate::New && self.in_cooldown(&alert.id, cfg, now) {
            return refuse("cooldown", ev);
        }
        if kind == Gate::New && cfg.schedule.max_alerts_hour > 0 {
            let times = self.rate.entry(alert.id.clone()).or_default();
            times.retain(|t| now - t < HOUR);
            if times.len() as i64 >= cfg.schedule.max_alerts_hour {
                return refuse("rate_limit", ev);
            }
            times.push(now);
        }
        self.stamp(alert, now);
        true
    }

    fn resolve(&mut self, id: &str, by: ResolvedBy, now: i64, ev: &mut Vec<AlertEvent>) {
        self.pending.remove(id);
        if let Some(t) = self.active.remove(id) {
            let mut alert = t.alert;
            alert.resolved_time = Some(now);
            ev.push(AlertEvent::Resolved { alert, by, at: now });
        }
    }

    /// Escalation reminders for unacknowledged alerts (§5.7).
    fn escalate(&mut self, cfg: &AlertConfig, now: i64, ev: &mut Vec<AlertEvent>) {
        let esc = &cfg.schedule.escalation;
        if !esc.enabled || esc.levels.is_empty() {
            return;
        }
        let ids: Vec<String> = self
            .active
            .values()
            .filter(|t| !t.alert.acknowledged)
            .map(|t| t.alert.id.clone())
            .collect();
        for id in ids {
            for (i, level) in esc.levels.iter().enumerate() {
                let n = i as u32 + 1;
                let Some(t) = self.active.get(&id) else { break };
                if t.alert.last_escalation.unwrap_or(0) >= n
                    || now < t.alert.start_time + level.after * MINUTE
                {
                    continue;
                }
                let mut alert = t.alert.clone();
                alert.last_escalation = Some(n);
                alert.escalation_times.push(now);
                let notify = match self.gate_reason(&alert, cfg, now) {
                    None => {
                        self.stamp(&mut alert, now);
                        true
                    }
                    Some(reason) => {
                        ev.push(AlertEvent::Suppressed {
                            id: id.clone(),
                            reason,
                        });
                        false
                    }
                };
                if let Some(t) = self.active.get_mut(&id) {
                    t.alert = alert.clone();
                }
                ev.push(AlertEvent::Escalated {
                    alert,
                    level: n,
                    channel: level.notify.clone(),
                    notify,
                });
            }
        }
    }

    /// Auto-acknowledge, age limits, and pruning of short-lived bookkeeping (§5.8).
    fn housekeeping(&mut self, cfg: &AlertConfig, now: i64, ev: &mut Vec<AlertEvent>) {
        if cfg.auto_acknowledge_after_hours > 0 {
            let limit = cfg.auto_acknowledge_after_hours * HOUR;
            let ids: Vec<String> = self
                .active
                .values()
                .filter(|t| !t.alert.acknowledged && now - t.alert.start_time >= limit)
                .map(|t| t.alert.id.clone())
                .collect();
            for id in ids {
                if let Ok(a) = self.acknowledge(&id, "system-auto", now) {
                    ev.push(AlertEvent::Acknowledged { alert: a });
                }
            }
        }
        let day = 24 * HOUR;
        let expired: Vec<String> = self
            .active
            .values()
            .filter(|t| match (t.alert.acknowledged, t.alert.ack_time) {
                (true, Some(at)) => {
                    cfg.max_acknowledged_age_days > 0
                        && now - at >= cfg.max_acknowledged_age_days * day
                }
                _ => {
                    cfg.max_alert_age_days > 0
                        && now - t.alert.start_time >= cfg.max_alert_age_days * day
                }
            })
            .map(|t| t.alert.id.clone())
            .collect();
        for id in expired {
            self.resolve(&id, ResolvedBy::Expired, now, ev);
        }
        let tick = self.tick;
        self.pending.retain(|_, p| p.tick == tick);
        let window = cfg.suppression_window * MINUTE;
        self.recent.retain(|_, (at, _)| now - *at < window);
        self.suppressed_until.retain(|_, t| *t > now);
        self.rate.retain(|_, v| {
            v.retain(|t| now - t < HOUR);
            !v.is_empty()
        });
        let fw = cfg.flapping_window_seconds * 1000;
        self.flap.retain(|_, v| {
            v.retain(|t| now - t < fw);
            !v.is_empty()
        });
        let cooldown = cfg.schedule.cooldown * MINUTE;
        self.last_notified
            .retain(|_, t| now - *t < cooldown.max(HOUR));
    }

    pub fn acknowledge(&mut self, id: &str, user: &str, now: i64) -> Result<Alert, NotFound> {
        let t = self.active.get_mut(id).ok_or_else(|| NotFound(id.into()))?;
        if !t.alert.acknowledged {
            t.alert.acknowledged = true;
            t.alert.ack_time = Some(now);
            t.alert.ack_user = Some(user.to_string());
        }
        Ok(t.alert.clone())
    }

    pub fn unacknowledge(&mut self, id: &str) -> Result<Alert, NotFound> {
        let t = self.active.get_mut(id).ok_or_else(|| NotFound(id.into()))?;
        t.alert.acknowledged = false;
        t.alert.ack_time = None;
        t.alert.ack_user = None;
        Ok(t.alert.clone())
    }

    /// Removes an alert by hand. Its bookkeeping is forgotten, so if the condition still
    /// holds it is raised again after its grace delay — clearing is not silencing.
    pub fn clear(&mut self, id: &str, now: i64) -> Result<AlertEvent, NotFound> {
        if !self.active.contains_key(id) {
            return Err(NotFound(id.into()));
        }
        let mut ev = Vec::new();
        self.resolve(id, ResolvedBy::Manual, now, &mut ev);
        self.recent.remove(id);
        self.suppressed_until.remove(id);
        self.rate.remove(id);
        ev.pop().ok_or_else(|| NotFound(id.into()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Gate {
    New,
    Rise,
}

fn base_metadata(r: &Resource) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("resourceType".into(), r.resource_type.into());
    m
}

fn observation_message(o: &Observation, unit: Option<&str>) -> String {
    match &o.disk {
        Some(d) => format!(
            "{} disk ({}) at {:.1}%",
            o.resource.resource_type, d.label, o.value
        ),
        None => metric_message(&o.resource, o.kind, o.value, unit),
    }
}

fn metric_message(r: &Resource, kind: &str, value: f64, unit: Option<&str>) -> String {
    match (r.resource_type, unit) {
        ("Storage", _) => format!("Storage at {value:.1}%"),
        (t, Some("°C")) => format!("{t} temperature at {value:.1}°C"),
        (t, Some(u)) => format!("{t} {kind} at {value:.1} {u}"),
        (t, None) => format!("{t} {kind} at {value:.1}%"),
    }
}
