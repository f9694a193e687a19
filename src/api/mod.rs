//! The HTTP API: one file per area, shared state, and the route table.

pub mod alerts;
pub mod backups;
pub mod body;
pub mod charts;
pub mod config_view;
pub mod demo;
pub mod error;
pub mod guest_metadata;
pub mod live;
pub mod nodes;
pub mod notifications;
pub mod query;
pub mod security;
pub mod simple_stats;
pub mod storage;
pub mod system;
pub mod ws;

use crate::logging::LogHandle;
use crate::settings::{Env, ServeFlags, Settings, SystemSettings};
use crate::store::Store;
use crate::version::VersionInfo;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

pub struct Inner {
    pub started: Instant,
    pub store: Arc<Store>,
    pub auth: Arc<crate::auth::Auth>,
    /// Metric history; attached at start-up (`attach_history`), absent in bare test setups.
    pub history: std::sync::OnceLock<Arc<std::sync::Mutex<crate::history::History>>>,
    pub version: VersionInfo,
    pub log: Option<LogHandle>,
    /// The current monitored state, serialized once per change.
    pub live: Arc<crate::model::published::StateCell>,
    /// The alert engine and its config; the monitor publishes every state through it.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// The notification pipeline (queue, channels, metrics); its delivery threads are
    /// started by `serve`.
    pub notify: Arc<crate::notify::Notifier>,
    /// Poll scheduling, shared with the monitor thread (scheduler-health view).
    pub scheduler: Arc<std::sync::Mutex<crate::poller::scheduler::Scheduler>>,
    /// Demo mode: the in-process simulator, monitored beside the configured nodes.
    pub demo: Arc<crate::demo::Demo>,
    /// Serializes node-list read-modify-write cycles (ids, duplicate checks).
    pub nodes_lock: std::sync::Mutex<()>,
    /// Serializes settings read-merge-write cycles, so concurrent partial updates never
    /// lose each other's keys.
    pub settings_lock: std::sync::Mutex<()>,
    /// The global temperature switch, shared with the monitor (applied live).
    pub temperature_monitoring: Arc<std::sync::atomic::AtomicBool>,
    /// Called after the node list changed (the monitor reloads its instances).
    pub on_nodes_changed: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Re-resolved when persisted settings change; readers clone the Arc.
    settings: RwLock<Arc<Settings>>,
    flags: ServeFlags,
    env: Box<dyn Env + Send + Sync>,
}

impl AppState {
    /// Builds the state with security loaded from `store` and the settings (system clock,
    /// bcrypt cost 12). For in-process tests and tools; `pulse serve` uses `with_auth` so a
    /// broken security setup is an error message, not a panic.
    pub fn new(
        store: Store,
        settings: Settings,
        flags: ServeFlags,
        env: Box<dyn Env + Send + Sync>,
        version: VersionInfo,
        log: Option<LogHandle>,
    ) -> AppState {
        Self::with_clock(
            store,
            settings,
            flags,
            env,
            version,
            log,
            Arc::new(crate::poller::clock::SystemClock),
        )
    }

    /// As `new`, with the clock the alert engine reads (tests drive a manual one).
    pub fn with_clock(
        store: Store,
        settings: Settings,
        flags: ServeFlags,
        env: Box<dyn Env + Send + Sync>,
        version: VersionInfo,
        log: Option<LogHandle>,
        clock: Arc<dyn crate::poller::clock::Clock>,
    ) -> AppState {
        let store = Arc::new(store);
        let auth = crate::auth::Auth::new(
            store.clone(),
            &settings,
            Arc::new(crate::auth::clock::SystemClock),
            crate::auth::password::COST,
        )
        .unwrap_or_else(|e| panic!("security state could not be loaded: {e}"));
        Self::build(
            store,
            Arc::new(auth),
            settings,
            flags,
            env,
            version,
            log,
            clock,
        )
    }

    /// As `new`, with security state loaded by the caller (so `serve` can report errors).
    pub fn with_auth(
        store: Arc<Store>,
        auth: Arc<crate::auth::Auth>,
        settings: Settings,
        flags: ServeFlags,
        env: Box<dyn Env + Send + Sync>,
        version: VersionInfo,
        log: Option<LogHandle>,
    ) -> AppState {
        let clock = Arc::new(crate::poller::clock::SystemClock);
        Self::build(store, auth, settings, flags, env, version, log, clock)
    }

    #[allow(clippy::too_many_arguments)] // private: the one place the parts come together
    fn build(
        store: Arc<Store>,
        auth: Arc<crate::auth::Auth>,
        settings: Settings,
        flags: ServeFlags,
        env: Box<dyn Env + Send + Sync>,
        version: VersionInfo,
        log: Option<LogHandle>,
        clock: Arc<dyn crate::poller::clock::Clock>,
    ) -> AppState {
        let alerts = Arc::new(crate::alerts::Alerts::load(&store, clock));
        let notify = crate::notify::Notifier::new(
            store.clone(),
            crate::notify::Tuning::from_env(),
            settings.security.public_url.clone(),
        );
        // Alerts restored from the store are visible in /api/state before the first poll.
        let initial = crate::model::State {
            active_alerts: alerts.state_alerts(),
            ..Default::default()
        };
        AppState {
            inner: Arc::new(Inner {
                started: Instant::now(),
                store,
                auth,
                history: std::sync::OnceLock::new(),
                version,
                log,
                live: Arc::new(crate::model::published::StateCell::new(initial)),
                alerts,
                notify,
                scheduler: Arc::new(std::sync::Mutex::new(
                    crate::poller::scheduler::Scheduler::new(Default::default(), rand::random()),
                )),
                demo: Arc::new(crate::demo::Demo::default()),
                nodes_lock: std::sync::Mutex::new(()),
                settings_lock: std::sync::Mutex::new(()),
                temperature_monitoring: Arc::new(std::sync::atomic::AtomicBool::new(
                    settings.polling.temperature_monitoring,
                )),
                on_nodes_changed: std::sync::OnceLock::new(),
                settings: RwLock::new(Arc::new(settings)),
                flags,
                env,
            }),
        }
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// What the monitor should poll: every configured node, plus the demo fleet while demo
    /// mode is on (a configured node wins a name clash).
    pub fn monitored_nodes(
        &self,
    ) -> Result<Vec<(crate::nodes::NodeConfig, crate::nodes::NodeSecrets)>, crate::store::StoreError>
    {
        let nodes = crate::nodes::Nodes::new(self.store());
        let mut out = Vec::new();
        for n in nodes.list()? {
            let s = nodes.secrets(&n.id)?;
            out.push((n, s));
        }
        for (n, s) in self.inner.demo.nodes().unwrap_or_default() {
            if !out
                .iter()
                .any(|(o, _)| o.kind == n.kind && o.name == n.name)
            {
                out.push((n, s));
            }
        }
        Ok(out)
    }

    /// Tells whoever watches the node list (the monitor) that it changed.
    pub fn nodes_changed(&self) {
        if let Some(f) = self.inner.on_nodes_changed.get() {
            f();
        }
    }

    pub fn auth(&self) -> &crate::auth::Auth {
        &self.inner.auth
    }

    /// Opens metric history on the store and returns the recorder that feeds it.
    pub fn attach_history(
        &self,
    ) -> Result<crate::history::feed::Recorder, crate::store::StoreError> {
        let h =
            crate::history::History::open(self.inner.store.clone(), crate::model::time::now_ms())?;
        let h = Arc::new(std::sync::Mutex::new(h));
        let _ = self.inner.history.set(h.clone());
        crate::history::feed::Recorder::spawn(h)
            .map_err(|e| crate::store::StoreError::Io(e.to_string()))
    }

    /// Publishes a new monitored state through the alert engine (which fills
    /// `activeAlerts`); the monitor's publish hook.
    pub fn publish_state(&self, state: crate::model::State) {
        self.inner
            .alerts
            .publish(&self.inner.store, &self.inner.live, state);
    }

    /// Validates, persists and applies new persisted settings. Nothing is written unless
    /// the whole resolved configuration is valid.
    pub fn update_system_settings(
        &self,
        new: SystemSettings,
    ) -> Result<Arc<Settings>, error::ApiError> {
        let errs = new.validate();
        if !errs.is_empty() {
            return Err(system::invalid_settings(errs));
        }
        let current = self.settings();
        let resolved = crate::settings::resolve(
            &self.inner.flags,
            self.inner.env.as_ref(),
            current.data_dir.clone(),
            &new,
        )
        .map_err(system::invalid_settings)?;
        self.inner.store.put_setting(system::SYSTEM_KEY, &new)?;
        if let Some(log) = &self.inner.log {
            log.set_level(resolved.log_level);
        }
        let polling_changed = current.polling != resolved.polling;
        let resolved = Arc::new(resolved);
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = resolved.clone();
        if polling_changed {
            self.apply_polling(crate::model::time::now_ms());
            // Pollers carry the timeout and backup cadence: rebuild them (the scheduler
            // keeps each instance's history, as their identities are unchanged).
            self.nodes_changed();
        }
        Ok(resolved)
    }

    /// Hands the current polling settings to the scheduler. Called at start-up and after
    /// every settings change, so new intervals apply without a restart.
    pub fn apply_polling(&self, now: i64) {
        let polling = self.settings().polling.clone();
        crate::proxmox::resolver::set_ttl(polling.dns_cache_ttl);
        self.inner.temperature_monitoring.store(
            polling.temperature_monitoring,
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut sched = self
            .inner
            .scheduler
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut cfg = sched.config().clone();
        [
            cfg.pve_interval_ms,
            cfg.pbs_interval_ms,
            cfg.pmg_interval_ms,
        ] = polling.intervals_ms;
        cfg.adaptive =
            polling.adaptive.map(
                |[base_ms, min_ms, max_ms]| crate::poller::scheduler::Adaptive {
                    base_ms,
                    min_ms,
                    max_ms,
                },
            );
        sched.reconfigure(cfg, now);
    }
}

/// The full route table: API routes, then the embedded UI for everything else.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let api = warp::path("api").and(
        // Anything unmatched under /api is a JSON 404/405 from `recover`, never the SPA page.
        system::routes(state.clone())
            .or(security::routes(state.clone()))
            .unify()
            .or(live::api_routes(state.clone()))
            .unify()
            .or(live::scheduler_health(state.clone()))
            .unify()
            .or(charts::routes(state.clone()))
            .unify()
            .or(nodes::routes(state.clone()))
            .unify()
            .or(alerts::routes(state.clone()))
            .unify()
            .or(notifications::routes(state.clone()))
            .unify()
            .or(demo::routes(state.clone()))
            .unify()
            .or(backups::routes(state.clone()))
            .unify()
            .or(storage::routes(state.clone()))
            .unify()
            .or(config_view::routes(state.clone()))
            .unify()
            .or(guest_metadata::routes(state.clone()))
            .unify()
            .recover(error::recover)
            .unify(),
    );
    api.or(simple_stats::routes(state.clone()))
        .unify()
        .or(crate::ui::routes())
        .unify()
        .boxed()
}
