//! The HTTP API: one file per area, shared state, and the route table.

pub mod body;
pub mod error;
pub mod security;
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
    pub store: Arc<Store>,
    pub auth: Arc<crate::auth::Auth>,
    pub version: VersionInfo,
    pub log: Option<LogHandle>,
    /// Re-resolved when persisted settings change; readers clone the Arc.
    settings: RwLock<Arc<Settings>>,
    flags: ServeFlags,
    env: Box<dyn Env + Send + Sync>,
}

impl AppState {
    pub fn new(
        store: Arc<Store>,
        auth: Arc<crate::auth::Auth>,
        settings: Settings,
        flags: ServeFlags,
        env: Box<dyn Env + Send + Sync>,
        version: VersionInfo,
        log: Option<LogHandle>,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                started: Instant::now(),
                store,
                auth,
                version,
                log,
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

    pub fn auth(&self) -> &crate::auth::Auth {
        &self.inner.auth
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
            .or(security::routes(state.clone()))
            .unify()
            .recover(error::recover)
            .unify(),
    );
    api.or(crate::ui::routes()).unify().boxed()
}
