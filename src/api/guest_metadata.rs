//! `/api/guests/metadata`: list, read, set and remove a guest's console URL, notes and tags.
//!
//! A guest is addressed either by its id (as in `/api/state`, e.g. `cluster1-pve1-100`) or
//! by `<node>/<vmid>` (API.md's form), which is resolved through the live state to the same
//! id, so both forms reach one record.

use super::error::ApiError;
use super::{AppState, body};
use crate::guest_metadata::{self as meta, GuestMetadata, Update};
use percent_encoding::percent_decode_str;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// Runs blocking work (redb) off the async workers.
async fn blocking<F>(f: F) -> Result<Response, warp::Rejection>
where
    F: FnOnce() -> Result<Response, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal("request failed").reject())?
        .map_err(ApiError::reject)
}

fn invalid(errs: Vec<meta::FieldError>) -> ApiError {
    let first = errs
        .first()
        .map(|(f, m)| format!("{f}: {m}"))
        .unwrap_or_else(|| "Invalid metadata".into());
    let mut e = ApiError::bad_request(first);
    e.fields = errs;
    e
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(v), status).into_response()
}

/// How the path named the guest.
#[derive(Debug, Clone)]
enum Target {
    Id(String),
    NodeVmid(String, String),
}

fn decode(seg: &str) -> Result<String, ApiError> {
    percent_decode_str(seg)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::bad_request("Guest ID is not valid UTF-8"))
}

/// The guest id the target names, plus the guest's live (name, type) when it is monitored.
fn resolve(
    state: &AppState,
    target: Target,
) -> Result<(String, Option<(String, String)>), ApiError> {
    let live = state.inner.live.current();
    let st = &live.state;
    let guests = || st.vms.iter().chain(st.containers.iter());
    let id = match target {
        Target::Id(raw) => {
            let id = decode(&raw)?;
            meta::check_id(&id).map_err(ApiError::bad_request)?;
            id
        }
        Target::NodeVmid(node, vmid) => {
            let node = decode(&node)?;
            let vmid: u32 = vmid.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
                let mut e = ApiError::bad_request(format!(
                    "vmid: must be a positive number (got '{vmid}')"
                ));
                e.fields = vec![("vmid".into(), "must be a positive number".into())];
                e
            })?;
            let mut instances: Vec<&str> = st
                .nodes
                .iter()
                .filter(|n| n.node == node)
                .map(|n| n.instance.as_str())
                .collect();
            instances.sort_unstable();
            instances.dedup();
            match instances.as_slice() {
                [inst] => crate::poller::map::guest::guest_id(inst, &node, vmid as u64),
                [] => {
                    let mut e = ApiError::bad_request(format!(
                        "node: unknown node '{node}' (use a node name from /api/state, or the guest id)"
                    ));
                    e.fields = vec![("node".into(), "unknown node".into())];
                    return Err(e);
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "node: '{node}' exists in several instances; address the guest by its id"
                    )));
                }
            }
        }
    };
    let found = guests()
        .find(|g| g.id == id)
        .map(|g| (g.name.clone(), g.kind.to_string()));
    Ok((id, found))
}

fn list(state: &AppState) -> Result<Response, ApiError> {
    let all = meta::list(state.store())?;
    let map: serde_json::Map<String, serde_json::Value> =
        all.into_iter().map(|(k, v)| (k, v.view())).collect();
    Ok(json(StatusCode::OK, &serde_json::Value::Object(map)))
}

/// An unknown guest reads as an empty record (200), as the reference does, so a UI can
/// always render the form.
fn read(state: &AppState, target: Target) -> Result<Response, ApiError> {
    let (id, _) = resolve(state, target)?;
    let rec = meta::get(state.store(), &id)?.unwrap_or_else(|| GuestMetadata::empty(&id));
    Ok(json(StatusCode::OK, &rec.view()))
}

fn write(state: &AppState, target: Target, body: bytes::Bytes) -> Result<Response, ApiError> {
    // Parsed here (not in a filter) so the path is checked first and errors name the field.
    let bad = |e: String| ApiError::bad_request(format!("Invalid JSON body: {e}"));
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
    // serde would read a struct from an array too; only an object is a metadata update.
    if !v.is_object() {
        return Err(bad("expected a JSON object".into()));
    }
    let upd: Update = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    let (id, live) = resolve(state, target)?;
    let changes = upd.validate().map_err(invalid)?;
    let rec = meta::update(state.store(), &id, changes, live)?;
    tracing::info!(guest = %id, "guest metadata updated");
    Ok(json(StatusCode::OK, &rec.view()))
}

/// Idempotent like the reference: 204 whether or not a record existed.
fn remove(state: &AppState, target: Target) -> Result<Response, ApiError> {
    let (id, _) = resolve(state, target)?;
    if meta::delete(state.store(), &id)? {
        tracing::info!(guest = %id, "guest metadata deleted");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/<guest-id>` or `/<node>/<vmid>` after the base path.
fn target() -> BoxedFilter<(Target,)> {
    let two = warp::path::param::<String>()
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .map(Target::NodeVmid);
    let one = warp::path::param::<String>()
        .and(warp::path::end())
        .map(Target::Id);
    two.or(one).unify().boxed()
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;
    let st = move || {
        let s = state.clone();
        warp::any().map(move || s.clone())
    };
    let base = || warp::path("guests").and(warp::path("metadata"));

    let all = base()
        .and(warp::path::end())
        .and(warp::get())
        .and(st())
        .and_then(|s: AppState| blocking(move || list(&s)));
    let get = base()
        .and(target())
        .and(warp::get())
        .and(st())
        .and_then(|t: Target, s: AppState| blocking(move || read(&s, t)));
    let put = base()
        .and(target())
        .and(warp::put().or(warp::post()).unify())
        .and(st())
        .and(body::bytes_limited(limit))
        .and_then(|t: Target, s: AppState, b: bytes::Bytes| blocking(move || write(&s, t, b)));
    let del = base()
        .and(target())
        .and(warp::delete())
        .and(st())
        .and_then(|t: Target, s: AppState| blocking(move || remove(&s, t)));

    all.or(get).unify().or(put).unify().or(del).unify().boxed()
}
