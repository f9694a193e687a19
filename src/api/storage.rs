//! `/api/storage/` (every storage) and `/api/storage/<id>` from the published live state.
//! The reference looks `<id>` up as a *storage* id; API.md documents a *node* id. Both are
//! served: a storage id answers that storage, a node id answers the storages the node
//! sees (its local ones and the shared ones it reports), anything else is a JSON 404.

use super::AppState;
use super::error::ApiError;
use super::query::LiveFilter;
use crate::model::{Node, State, Storage};
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The storages a node sees: its own, and shared ones it is listed on.
pub fn of_node<'a>(s: &'a State, n: &'a Node) -> impl Iterator<Item = &'a Storage> + 'a {
    s.storage.iter().filter(move |st| {
        st.instance == n.instance
            && (st.node == n.node
                || st.nodes.iter().any(|x| x == &n.node)
                || st.node_ids.iter().any(|x| x == &n.id))
    })
}

fn list(state: &AppState, query: &str) -> Result<Response, ApiError> {
    let f = LiveFilter::parse(query, &["instance", "node"])?;
    let p = state.inner.live.current();
    let data: Vec<&Storage> = p
        .state
        .storage
        .iter()
        .filter(|s| {
            f.instance_ok(&s.instance)
                && (f.node_ok(&s.node) || s.nodes.iter().any(|n| f.node_ok(n)))
        })
        .collect();
    Ok(warp::reply::json(&json!({ "data": data, "timestamp": unix_now() })).into_response())
}

fn one(state: &AppState, id: &str, query: &str) -> Result<Response, ApiError> {
    LiveFilter::parse(query, &[])?;
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
    let p = state.inner.live.current();
    let s = &p.state;
    if let Some(st) = s.storage.iter().find(|st| st.id == id) {
        return Ok(
            warp::reply::json(&json!({ "data": st, "timestamp": unix_now() })).into_response(),
        );
    }
    if let Some(n) = s.nodes.iter().find(|n| n.id == id) {
        let data: Vec<&Storage> = of_node(s, n).collect();
        return Ok(warp::reply::json(&json!({
            "node": n.id,
            "data": data,
            "timestamp": unix_now(),
        }))
        .into_response());
    }
    Err(ApiError::not_found_msg(format!(
        "No node or storage with id '{id}'"
    )))
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let query = || warp::query::raw().or(warp::any().map(String::new)).unify();
    let s1 = state.clone();
    let all = warp::path("storage")
        .and(warp::path::end())
        .and(warp::get())
        .and(query())
        .and_then(move |q: String| {
            let s = s1.clone();
            async move { list(&s, &q).map_err(ApiError::reject) }
        });
    let by_id = warp::path!("storage" / String)
        .and(warp::get())
        .and(query())
        .and_then(move |id: String, q: String| {
            let s = state.clone();
            async move {
                if id.is_empty() {
                    return list(&s, &q).map_err(ApiError::reject);
                }
                one(&s, &id, &q).map_err(ApiError::reject)
            }
        });
    all.or(by_id).unify().boxed()
}
