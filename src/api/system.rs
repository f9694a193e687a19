//! Health, version and system settings.

use super::error::ApiError;
use super::{AppState, body};
use crate::auth::{ClientIp, Principal};
use crate::settings::SystemSettings;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

pub const SYSTEM_KEY: &str = "system";

#[derive(Serialize)]
struct Health {
    status: &'static str,
    timestamp: u64,
    uptime: f64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn with_state(
    s: AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || s.clone())
}

/// The settings as they apply now (as the reference does): the persisted keys, with every
/// polling key filled in with its effective value (defaults and environment applied), plus
/// `envOverrides` naming the keys the environment currently decides and `effective`.
pub fn settings_json(state: &AppState) -> Result<serde_json::Value, ApiError> {
    let persisted: SystemSettings = state.store().get_setting(SYSTEM_KEY)?.unwrap_or_default();
    let mut v = serde_json::to_value(&persisted).map_err(|e| ApiError::internal(e.to_string()))?;
    let s = state.settings();
    let p = &s.polling;
    let secs = |ms: i64| ms / 1000;
    let effective = serde_json::json!({
        "pvePollingInterval": secs(p.intervals_ms[0]),
        "pbsPollingInterval": secs(p.intervals_ms[1]),
        "pmgPollingInterval": secs(p.intervals_ms[2]),
        "backupPollingInterval": secs(p.backup_interval_ms),
        "backupPollingEnabled": p.backup_enabled,
        "adaptivePollingEnabled": p.adaptive.is_some(),
        "connectionTimeout": p.connection_timeout.as_secs(),
        "temperatureMonitoringEnabled": p.temperature_monitoring,
        "logLevel": s.log_level.as_str(),
        "allowedOrigins": s.allowed_origins.join(","),
    });
    if let (Some(obj), Some(eff)) = (v.as_object_mut(), effective.as_object()) {
        // As the reference: polling keys show their effective value; `logLevel` and
        // `allowedOrigins` stay the persisted ones (their effective values are under
        // `effective`).
        for (k, val) in eff
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "logLevel" | "allowedOrigins"))
        {
            obj.insert(k.clone(), val.clone());
        }
        let [base, min, max] = persisted.adaptive_secs();
        let adaptive = p.adaptive.map(|a| a.map(secs)).unwrap_or([base, min, max]);
        obj.insert("adaptivePollingBaseInterval".into(), adaptive[0].into());
        obj.insert("adaptivePollingMinInterval".into(), adaptive[1].into());
        obj.insert("adaptivePollingMaxInterval".into(), adaptive[2].into());
    }
    v["envOverrides"] = s
        .env_overrides
        .iter()
        .map(|k| (k.to_string(), serde_json::Value::Bool(true)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    v["effective"] = effective;
    Ok(v)
}

fn settings_view(state: &AppState) -> Result<Response, ApiError> {
    Ok(warp::reply::json(&settings_json(state)?).into_response())
}

/// A 400 whose message names the first bad field and whose `fields` names them all.
pub fn invalid_settings(errs: Vec<crate::settings::SettingError>) -> ApiError {
    let first = errs
        .first()
        .map(|e| format!("Invalid settings: {}: {}", e.name, e.message))
        .unwrap_or_else(|| "Invalid settings".into());
    let mut e = ApiError::bad_request(first);
    e.fields = errs.into_iter().map(|e| (e.name, e.message)).collect();
    e
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;

    let health = warp::path!("health")
        .and(warp::get().or(warp::head()).unify())
        .and(with_state(state.clone()))
        .map(|s: AppState| {
            warp::reply::json(&Health {
                status: "healthy",
                timestamp: unix_now(),
                uptime: s.inner.started.elapsed().as_secs_f64(),
            })
            .into_response()
        });

    let version = warp::path!("version")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|s: AppState| warp::reply::json(&s.inner.version).into_response());

    // API.md names these /api/system/settings(+/update); the reference also serves
    // /api/config/system (GET/PUT). Both are served.
    let get_settings = warp::path!("system" / "settings")
        .or(warp::path!("config" / "system"))
        .unify()
        .and(warp::get())
        .and(with_state(state.clone()))
        .and_then(|s: AppState| async move { settings_view(&s).map_err(ApiError::reject) });

    let put_settings =
        warp::path!("system" / "settings" / "update")
            .and(warp::post())
            .or(warp::path!("config" / "system").and(warp::put()))
            .unify()
            .and(with_state(state))
            .and(warp::ext::optional::<Principal>())
            .and(warp::ext::optional::<ClientIp>())
            .and(body::json::<serde_json::Value>(limit))
            .and_then(
                |s: AppState,
                 p: Option<Principal>,
                 c: Option<ClientIp>,
                 patch: serde_json::Value| async move {
                    // Key names only: settings values may hold secrets.
                    let keys: Vec<String> = patch
                        .as_object()
                        .map(|o| o.keys().take(32).cloned().collect())
                        .unwrap_or_default();
                    let r = apply_patch(&s, patch);
                    s.auth().audit.record(
                        "settings_changed",
                        p.as_ref().map_or("", |p| p.user.as_str()),
                        &c.map(|c| c.ip.to_string()).unwrap_or_default(),
                        "/api/system/settings",
                        r.is_ok(),
                        &format!("keys={}", keys.join(",")),
                    );
                    r.map_err(ApiError::reject)
                },
            );

    health
        .or(version)
        .unify()
        .or(get_settings)
        .unify()
        .or(put_settings)
        .unify()
        .boxed()
}

/// Merges a partial JSON object into the stored settings (keys absent stay as they are),
/// validates the result, then persists it in one commit.
fn apply_patch(state: &AppState, patch: serde_json::Value) -> Result<Response, ApiError> {
    let serde_json::Value::Object(mut patch) = patch else {
        return Err(ApiError::bad_request("Settings must be a JSON object"));
    };
    for k in crate::settings::system::VIEW_ONLY_KEYS {
        patch.remove(*k);
    }
    let errs = crate::settings::system::check_types(&patch);
    if !errs.is_empty() {
        return Err(invalid_settings(errs));
    }
    let _guard = state
        .inner
        .settings_lock
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let current: SystemSettings = state.store().get_setting(SYSTEM_KEY)?.unwrap_or_default();
    let mut merged = match serde_json::to_value(&current) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in patch {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let new: SystemSettings = serde_json::from_value(serde_json::Value::Object(merged))
        .map_err(|e| ApiError::bad_request(format!("Invalid settings: {e}")))?;
    state.update_system_settings(new)?;
    settings_view(state)
}
