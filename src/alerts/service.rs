//! The server side of the engine: holds the engine and the config behind one lock, feeds it
//! each published state, persists what changed, fills `State.active_alerts`, and fans the
//! events out (`subscribe`: `/ws` and, later, the notification pipeline).
//!
//! Ordering: the monitor publishes through `publish`, and user actions republish through the
//! same lock, so the state clients see never goes back to an older alert list.

use super::alert::{Alert, AlertEvent};
use super::config::{self, AlertConfig, Errors};
use super::engine::{Engine, NotFound};
use super::persist::{self, Changes};
use crate::model::State;
use crate::model::published::{Published, StateCell};
use crate::poller::clock::Clock;
use crate::store::{Store, StoreError};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Active alerts are rewritten at least this often so `lastSeen`/`value` stay fresh on disk.
const FLUSH_EVERY_MS: i64 = 60_000;
const EVENT_BUFFER: usize = 1024;

struct Service {
    engine: Engine,
    config: AlertConfig,
    /// The last state the engine saw, for re-evaluation after a config change.
    last_state: Arc<State>,
    last_flush: i64,
}

pub struct Alerts {
    inner: Mutex<Service>,
    events: broadcast::Sender<AlertEvent>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("invalid alert configuration")]
    Invalid(Errors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Alerts {
    /// Loads config and active alerts from the store. A stored config that no longer
    /// validates is logged and replaced by defaults in memory (the stored copy is kept).
    pub fn load(store: &Store, clock: Arc<dyn Clock>) -> Alerts {
        let config = match persist::load_config(store) {
            Ok(Some(mut c)) => {
                let ok = |_: &str| true;
                match c.normalize(&ok) {
                    Ok(()) => c,
                    Err(errs) => {
                        tracing::error!(
                            ?errs,
                            "stored alert configuration is invalid; using defaults"
                        );
                        AlertConfig::default()
                    }
                }
            }
            Ok(None) => AlertConfig::default(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the alert configuration; using defaults");
                AlertConfig::default()
            }
        };
        let active = persist::load_active(store).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read active alerts");
            Vec::new()
        });
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Alerts {
            inner: Mutex::new(Service {
                engine: Engine::restore(active),
                config,
                last_state: Arc::new(State::default()),
                last_flush: clock.now_ms(),
            }),
            events,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Service> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Alert events as they happen (raised, resolved, acknowledged, …).
    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.events.subscribe()
    }

    pub fn config(&self) -> AlertConfig {
        self.lock().config.clone()
    }

    /// Active alerts, oldest first.
    pub fn active(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.lock().engine.active().cloned().collect();
        v.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)));
        v
    }

    /// The state's `activeAlerts` for the current alert set.
    pub fn state_alerts(&self) -> Vec<crate::model::ActiveAlert> {
        state_list(&self.lock().engine)
    }

    /// Evaluates `state`, persists and announces the outcome, and publishes `state` with its
    /// `activeAlerts` filled. The monitor calls this once per tick.
    pub fn publish(&self, store: &Store, cell: &StateCell, mut state: State) -> Arc<Published> {
        let mut svc = self.lock();
        let now = self.clock.now_ms();
        let Service { engine, config, .. } = &mut *svc;
        let events = engine.evaluate(&state, config, now);
        self.commit(&mut svc, store, &events, now);
        state.active_alerts = state_list(&svc.engine);
        let p = cell.publish(state);
        svc.last_state = p.state.clone();
        p
    }

    /// Persists and broadcasts `events`; storage errors are logged (the next change or the
    /// periodic flush writes the full active set again).
    fn commit(&self, svc: &mut Service, store: &Store, events: &[AlertEvent], now: i64) {
        let mut c = Changes::default();
        let mut touched = HashSet::new();
        for e in events {
            match e {
                AlertEvent::Raised { alert, .. } => {
                    c.history_add.push(alert.clone());
                    touched.insert(alert.id.clone());
                }
                AlertEvent::Resolved { alert, at, .. } => {
                    c.history_resolve.push((alert.id.clone(), *at));
                    c.remove.push(alert.id.clone());
                    touched.remove(&alert.id);
                }
                AlertEvent::Suppressed { .. } => {}
                other => {
                    if let Some(a) = other.alert() {
                        touched.insert(a.id.clone());
                    }
                }
            }
        }
        if now - svc.last_flush >= FLUSH_EVERY_MS {
            svc.last_flush = now;
            c.upsert = svc.engine.tracked().cloned().collect();
        } else {
            c.upsert = svc
                .engine
                .tracked()
                .filter(|t| touched.contains(&t.alert.id))
                .cloned()
                .collect();
        }
        if let Err(e) = persist::apply(store, &c, now) {
            tracing::error!(error = %e, "cannot persist alert changes");
        }
        for e in events {
            match e {
                AlertEvent::Raised { alert, notify } => {
                    tracing::info!(id = %alert.id, level = alert.level.as_str(), notify, "alert raised")
                }
                AlertEvent::Resolved { alert, by, .. } => {
                    tracing::info!(id = %alert.id, by = ?by, "alert resolved")
                }
                _ => {}
            }
            // No receivers is fine: nobody is listening yet.
            let _ = self.events.send(e.clone());
        }
    }

    /// Publishes the current state again with the current alert list (after user actions).
    fn republish(&self, svc: &Service, cell: &StateCell) {
        let mut s = (*cell.current().state).clone();
        s.active_alerts = state_list(&svc.engine);
        cell.publish(s);
    }

    /// Validates and stores a config write, then applies it at once to the last state.
    pub fn update_config(
        &self,
        store: &Store,
        cell: &StateCell,
        body: &[u8],
    ) -> Result<AlertConfig, UpdateError> {
        let mut svc = self.lock();
        let known = known_resources(&svc);
        let cfg = config::parse_update(body, &svc.config, &|k: &str| known.contains(k))
            .map_err(UpdateError::Invalid)?;
        self.apply_config(&mut svc, store, cell, cfg)
    }

    fn apply_config(
        &self,
        svc: &mut Service,
        store: &Store,
        cell: &StateCell,
        mut cfg: AlertConfig,
    ) -> Result<AlertConfig, UpdateError> {
        let now = self.clock.now_ms();
        if cfg.activation_state == "active" && cfg.activation_time.is_none() {
            cfg.activation_time = Some(crate::model::time::rfc3339_ms(now));
        }
        persist::save_config(store, &cfg)?;
        svc.config = cfg.clone();
        let state = svc.last_state.clone();
        let Service { engine, config, .. } = &mut *svc;
        let events = engine.reevaluate(&state, config, now);
        self.commit(svc, store, &events, now);
        self.republish(svc, cell);
        Ok(cfg)
    }

    /// `POST /api/alerts/activate`: returns whether it was already active and the time.
    pub fn activate(&self, store: &Store, cell: &StateCell) -> Result<(bool, String), StoreError> {
        let mut svc = self.lock();
        if svc.config.activation_state == "active" {
            let t = svc.config.activation_time.clone().unwrap_or_default();
            return Ok((true, t));
        }
        let mut cfg = svc.config.clone();
        cfg.activation_state = "active".into();
        cfg.activation_time = None;
        match self.apply_config(&mut svc, store, cell, cfg) {
            Ok(c) => Ok((false, c.activation_time.unwrap_or_default())),
            Err(UpdateError::Store(e)) => Err(e),
            Err(UpdateError::Invalid(_)) => Ok((false, String::new())),
        }
    }

    /// Runs `f` on the engine for each id, persisting and republishing once.
    pub fn act<F>(
        &self,
        store: &Store,
        cell: &StateCell,
        ids: &[String],
        mut f: F,
    ) -> Vec<Result<(), ActionError>>
    where
        F: FnMut(&mut Engine, &str, i64) -> Result<AlertEvent, NotFound>,
    {
        let mut svc = self.lock();
        let now = self.clock.now_ms();
        let mut events = Vec::new();
        let mut results = Vec::new();
        for id in ids {
            match f(&mut svc.engine, id, now) {
                Ok(e) => {
                    results.push(Ok(()));
                    events.push(e);
                }
                Err(nf) => results.push(Err(nf.into())),
            }
        }
        if !events.is_empty() {
            self.commit(&mut svc, store, &events, now);
            self.republish(&svc, cell);
        }
        results
    }

    pub fn acknowledge(
        &self,
        store: &Store,
        cell: &StateCell,
        ids: &[String],
        user: &str,
    ) -> Vec<Result<(), ActionError>> {
        self.act(store, cell, ids, |e, id, now| {
            e.acknowledge(id, user, now)
                .map(|alert| AlertEvent::Acknowledged { alert })
        })
    }

    pub fn unacknowledge(
        &self,
        store: &Store,
        cell: &StateCell,
        ids: &[String],
    ) -> Vec<Result<(), ActionError>> {
        self.act(store, cell, ids, |e, id, _| {
            e.unacknowledge(id)
                .map(|alert| AlertEvent::Unacknowledged { alert })
        })
    }

    pub fn clear(
        &self,
        store: &Store,
        cell: &StateCell,
        ids: &[String],
    ) -> Vec<Result<(), ActionError>> {
        self.act(store, cell, ids, |e, id, now| e.clear(id, now))
    }
}

fn state_list(engine: &Engine) -> Vec<crate::model::ActiveAlert> {
    let mut v: Vec<_> = engine.active().map(Alert::to_state).collect();
    v.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)));
    v
}

/// Ids an override may name: every monitored resource (guests by their alert id and their
/// state id), plus keys already configured and resources with active alerts, so a saved
/// document always round-trips even while a resource is briefly absent.
fn known_resources(svc: &Service) -> HashSet<String> {
    let s = &svc.last_state;
    let mut k: HashSet<String> = HashSet::new();
    for g in s.vms.iter().chain(s.containers.iter()) {
        k.insert(format!("{}-{}", g.instance, g.vmid));
        k.insert(format!("{}-{}", g.node, g.vmid));
        k.insert(g.id.clone());
    }
    k.extend(s.nodes.iter().map(|n| n.id.clone()));
    k.extend(s.storage.iter().map(|x| x.id.clone()));
    k.extend(s.ceph_clusters.iter().map(|x| x.id.clone()));
    k.extend(s.physical_disks.iter().map(|x| x.id.clone()));
    for p in &s.pbs {
        k.insert(p.id.clone());
        for d in p.datastores.as_deref().unwrap_or(&[]) {
            k.insert(format!("{}-datastore-{}", p.id, d.name));
        }
    }
    k.extend(s.pmg.iter().map(|x| x.id.clone()));
    for v in s.docker_hosts.iter().chain(s.hosts.iter()) {
        if let Some(id) = v.get("id").and_then(|x| x.as_str()) {
            k.insert(id.to_string());
        }
    }
    k.extend(svc.config.overrides.keys().cloned());
    k.extend(svc.engine.active().map(|a| a.resource_id.clone()));
    k
}
