//! `/api/system/mock-mode` (GET, POST, PUT): demo mode on/off and the simulated fleet's size.

use super::error::ApiError;
use super::{AppState, body};
use crate::demo::DemoConfig;
use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    enabled: Option<bool>,
    #[serde(default)]
    config: serde_json::Map<String, serde_json::Value>,
}

async fn update(s: AppState, r: Request) -> Result<Response, warp::Rejection> {
    let demo = s.inner.demo.clone();
    if !r.config.is_empty() {
        // Partial: keys sent replace, the rest stay.
        let mut merged = match serde_json::to_value(demo.config()) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        merged.extend(r.config);
        let c: DemoConfig = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| ApiError::bad_request(format!("Invalid config: {e}")).reject())?;
        if let Err((field, msg)) = c.validate() {
            let mut e = ApiError::bad_request(format!("{field}: {msg}"));
            e.fields = vec![(field, msg)];
            return Err(e.reject());
        }
        demo.set_config(c);
    }
    match r.enabled {
        Some(true) => demo.enable().await.map_err(|e| {
            ApiError::internal(format!("Could not start the simulator: {e}")).reject()
        })?,
        Some(false) => demo.disable().await,
        None => {}
    }
    if r.enabled.is_some() {
        s.nodes_changed();
    }
    Ok(warp::reply::json(&demo.status()).into_response())
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;
    let s = state.clone();
    let get = warp::path!("system" / "mock-mode")
        .and(warp::get())
        .map(move || warp::reply::json(&s.inner.demo.status()).into_response());
    let s = state;
    let set = warp::path!("system" / "mock-mode")
        .and(warp::post().or(warp::put()).unify())
        .and(body::json::<Request>(limit))
        .and_then(move |r: Request| update(s.clone(), r));
    get.or(set).unify().boxed()
}
