//! The HTTP API: one file per area, shared state, and the route table.

pub mod alerts;
pub mod body;
pub mod error;
pub mod live;
pub mod system;

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
    pub store: Store,
    pub version: VersionInfo,
    pub log: Option<LogHandle>,
    /// The current monitored state, serialized once per change.
    pub live: Arc<crate::model::published::StateCell>,
    /// The alert engine and its config; the monitor publishes every state through it.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// Poll scheduling, shared with the monitor thread (scheduler-health view).
    pub scheduler: Arc<std::sync::Mutex<crate::poller::scheduler::Scheduler>>,
    /// Re-resolved when persisted settings change; readers clone the Arc.
    settings: RwLock<Arc<Settings>>,
    flags: ServeFlags,
    env: Box<dyn Env + Send + Sync>,
}

impl AppState {
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
        let alerts = Arc::new(crate::alerts::Alerts::load(&store, clock));
        // Alerts restored from the store are visible in /api/state before the first poll.
        let initial = crate::model::State {
            active_alerts: alerts.state_alerts(),
            ..Default::default()
        };
        AppState {
            inner: Arc::new(Inner {
                started: Instant::now(),
                store,
                version,
                log,
                live: Arc::new(crate::model::published::StateCell::new(initial)),
                alerts,
                scheduler: Arc::new(std::sync::Mutex::new(
                    crate::poller::scheduler::Scheduler::new(Default::default(), rand::random()),
                )),
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
            let mut e = error::ApiError::bad_request("Invalid settings");
            e.fields = errs.into_iter().map(|e| (e.name, e.message)).collect();
            return Err(e);
        }
        let current = self.settings();
        let resolved = crate::settings::resolve(
            &self.inner.flags,
            self.inner.env.as_ref(),
            current.data_dir.clone(),
            &new,
        )
        .map_err(|errs| {
            let mut e = error::ApiError::bad_request("Invalid settings");
            e.fields = errs.into_iter().map(|e| (e.name, e.message)).collect();
            e
        })?;
        self.inner.store.put_setting(system::SYSTEM_KEY, &new)?;
        if let Some(log) = &self.inner.log {
            log.set_level(resolved.log_level);
        }
        let resolved = Arc::new(resolved);
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = resolved.clone();
        Ok(resolved)
    }
}

/// The full route table: API routes, then the embedded UI for everything else.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let api = warp::path("api").and(
        // Anything unmatched under /api is a JSON 404/405 from `recover`, never the SPA page.
        system::routes(state.clone())
            .or(live::api_routes(state.clone()))
            .unify()
            .or(live::scheduler_health(state.clone()))
            .unify()
            .or(alerts::routes(state.clone()))
            .unify()
            .recover(error::recover)
            .unify(),
    );
    live::ws_routes(state.clone())
        .or(api)
        .unify()
        .or(crate::ui::routes())
        .unify()
        .boxed()
}
