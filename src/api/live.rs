//! Live state: `GET /api/state` (the shared, pre-serialized JSON) and the scheduler's health.
//! The WebSocket stream of the same state is in `ws`.

use super::AppState;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

/// Routes under `/api/` (the caller strips the prefix).
pub fn api_routes(state: AppState) -> BoxedFilter<(Response,)> {
    let s = state;
    warp::path!("state")
        .and(warp::get())
        .map(move || {
            let p = s.inner.live.current();
            warp::http::Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-store")
                .body(p.json().clone())
                .map(Reply::into_response)
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        })
        .boxed()
}

/// `GET /api/monitoring/scheduler/health` (spec/polling-scheduler.md §6).
pub fn scheduler_health(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("monitoring" / "scheduler" / "health")
        .and(warp::get().or(warp::head()).unify())
        .map(move || {
            let now = crate::model::time::now_ms();
            let body = state
                .inner
                .scheduler
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .health(now);
            warp::reply::json(&body).into_response()
        })
        .boxed()
}
