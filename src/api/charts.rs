//! `GET /api/charts?range=` and `GET /api/storage-charts?range=<minutes>`.

use super::AppState;
use super::error::ApiError;
use crate::history::charts;
use std::collections::HashMap;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

type Query = HashMap<String, String>;

fn answer(
    state: &AppState,
    q: &Query,
    parse: fn(Option<&str>) -> Result<i64, String>,
    build: fn(
        &crate::history::History,
        &crate::model::State,
        i64,
        i64,
    ) -> Result<serde_json::Value, crate::store::StoreError>,
) -> Result<Response, ApiError> {
    let range = parse(q.get("range").map(String::as_str)).map_err(ApiError::bad_request)?;
    let Some(h) = state.inner.history.get() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Metric history is not available",
        ));
    };
    let live = state.inner.live.current();
    let now = crate::model::time::now_ms();
    // The query reads redb; it runs on the caller's worker only briefly (bounded points).
    let body = build(
        &h.lock().unwrap_or_else(|p| p.into_inner()),
        &live.state,
        range,
        now,
    )?;
    Ok(warp::reply::json(&body).into_response())
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let s = state.clone();
    let charts = warp::path!("charts")
        .and(warp::get())
        .and(warp::query::<Query>())
        .and_then(move |q: Query| {
            let s = s.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    answer(&s, &q, charts::parse_range, charts::charts)
                })
                .await
                .map_err(|_| ApiError::internal("chart query failed").reject())?
                .map_err(ApiError::reject)
            }
        });
    let s = state;
    let storage = warp::path!("storage-charts")
        .and(warp::get())
        .and(warp::query::<Query>())
        .and_then(move |q: Query| {
            let s = s.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    answer(&s, &q, charts::parse_minutes, |h, st, minutes, now| {
                        charts::storage_charts(h, st, minutes, now)
                    })
                })
                .await
                .map_err(|_| ApiError::internal("chart query failed").reject())?
                .map_err(ApiError::reject)
            }
        });
    charts.or(storage).unify().boxed()
}
