//! `/api/config/nodes`: list (secrets masked), add, update, delete, and connection tests.

use super::error::ApiError;
use super::{AppState, body};
use crate::nodes::request::{NodeRequest, build};
use crate::nodes::{NodeConfig, NodeSecrets, Nodes, probe, view};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

fn invalid(errs: Vec<(String, String)>) -> ApiError {
    let first = errs
        .first()
        .map(|(f, m)| format!("{f}: {m}"))
        .unwrap_or_else(|| "Invalid node".into());
    let mut e = ApiError::bad_request(first);
    e.fields = errs;
    e
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(&v), status).into_response()
}

/// Runs blocking work (redb, Proxmox calls) off the async workers.
async fn blocking<F>(f: F) -> Result<Response, warp::Rejection>
where
    F: FnOnce() -> Result<Response, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal("request failed").reject())?
        .map_err(ApiError::reject)
}

fn status_of(state: &AppState, node: &NodeConfig) -> &'static str {
    let key = match node.kind {
        crate::poller::scheduler::Kind::Pve => node.name.clone(),
        k => format!("{}-{}", k.as_str(), node.name),
    };
    match state.inner.live.current().state.connection_health.get(&key) {
        Some(true) => "connected",
        Some(false) => "error",
        None => "disconnected",
    }
}

fn duplicate(list: &[NodeConfig], candidate: &NodeConfig) -> bool {
    list.iter().any(|n| {
        n.id != candidate.id
            && n.kind == candidate.kind
            && n.name.eq_ignore_ascii_case(&candidate.name)
    })
}

fn list(state: &AppState) -> Result<Response, ApiError> {
    let nodes = Nodes::new(state.store());
    let mut out = Vec::new();
    for n in nodes.list()? {
        let secrets = nodes.secrets(&n.id)?;
        out.push(view(&n, &secrets, status_of(state, &n)));
    }
    Ok(json(StatusCode::OK, serde_json::Value::Array(out)))
}

fn add(state: &AppState, req: NodeRequest) -> Result<Response, ApiError> {
    let _guard = state
        .inner
        .nodes_lock
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let (node, secrets) = build(req, None).map_err(invalid)?;
    let nodes = Nodes::new(state.store());
    if duplicate(&nodes.list()?, &node) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "A node with this name already exists",
        ));
    }
    let saved = nodes.add(node, &secrets)?;
    state.nodes_changed();
    Ok(json(
        StatusCode::CREATED,
        serde_json::json!({"status": "success", "id": saved.id}),
    ))
}

fn update(state: &AppState, id: String, req: NodeRequest) -> Result<Response, ApiError> {
    let _guard = state
        .inner
        .nodes_lock
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let nodes = Nodes::new(state.store());
    let Some(existing) = nodes.get(&id)? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Node not found"));
    };
    let old_secrets = nodes.secrets(&id)?;
    let (node, secrets) = build(req, Some((&existing, &old_secrets))).map_err(invalid)?;
    if duplicate(&nodes.list()?, &node) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "A node with this name already exists",
        ));
    }
    nodes.update(node, &secrets)?;
    state.nodes_changed();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({"status": "success"}),
    ))
}

fn delete(state: &AppState, id: String) -> Result<Response, ApiError> {
    let _guard = state
        .inner
        .nodes_lock
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if !Nodes::new(state.store()).delete(&id)? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Node not found"));
    }
    state.nodes_changed();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({"status": "success"}),
    ))
}

fn run_test(node: &NodeConfig, secrets: &NodeSecrets) -> Result<Response, ApiError> {
    match probe::test(node, secrets) {
        Ok(v) => Ok(json(StatusCode::OK, v)),
        Err(e) => {
            let mut err = ApiError::bad_request(e.message);
            err.fields = vec![("kind".into(), e.kind.into())];
            Err(err)
        }
    }
}

fn test_new(req: NodeRequest) -> Result<Response, ApiError> {
    // A test needs no name; give one so validation focuses on what matters here.
    let req = NodeRequest {
        name: req
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or(Some("test".into())),
        ..req
    };
    let (node, secrets) = build(req, None).map_err(invalid)?;
    run_test(&node, &secrets)
}

fn test_existing(state: &AppState, id: String) -> Result<Response, ApiError> {
    let nodes = Nodes::new(state.store());
    let Some(node) = nodes.get(&id)? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Node not found"));
    };
    let secrets = nodes.secrets(&id)?;
    run_test(&node, &secrets)
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;
    let st = move || {
        let s = state.clone();
        warp::any().map(move || s.clone())
    };
    let base = || warp::path("config").and(warp::path("nodes"));

    let get = base()
        .and(warp::path::end())
        .and(warp::get())
        .and(st())
        .and_then(|s: AppState| blocking(move || list(&s)));
    let post = base()
        .and(warp::path::end())
        .and(warp::post())
        .and(st())
        .and(body::json::<NodeRequest>(limit))
        .and_then(|s: AppState, r: NodeRequest| blocking(move || add(&s, r)));
    let test_conn = base()
        .and(
            warp::path("test-connection")
                .or(warp::path("test-config"))
                .unify(),
        )
        .and(warp::path::end())
        .and(warp::post())
        .and(body::json::<NodeRequest>(limit))
        .and_then(|r: NodeRequest| blocking(move || test_new(r)));
    let test_one = base()
        .and(warp::path::param::<String>())
        .and(warp::path("test"))
        .and(warp::path::end())
        .and(warp::post())
        .and(st())
        .and_then(|id: String, s: AppState| blocking(move || test_existing(&s, id)));
    let put = base()
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::put())
        .and(st())
        .and(body::json::<NodeRequest>(limit))
        .and_then(|id: String, s: AppState, r: NodeRequest| blocking(move || update(&s, id, r)));
    let del = base()
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::delete())
        .and(st())
        .and_then(|id: String, s: AppState| blocking(move || delete(&s, id)));

    get.or(post)
        .unify()
        .or(test_conn)
        .unify()
        .or(test_one)
        .unify()
        .or(put)
        .unify()
        .or(del)
        .unify()
        .boxed()
}
