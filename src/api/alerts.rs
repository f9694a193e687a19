//! `/api/alerts/*` (API.md "Alert Management", spec/alerts.md §6). Alert ids contain `:` and
//! `/`, so everything under `/api/alerts/` is routed here and split by hand: the id is what
//! lies between the prefix and the action suffix, percent-decoded once.

use super::AppState;
use super::error::ApiError;
use crate::alerts::Level;
use crate::alerts::persist::{self, HistoryQuery};
use crate::alerts::service::{ActionError, UpdateError};
use serde::Deserialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};

/// Most ids a bulk request may name.
const MAX_BULK: usize = 1000;
const HISTORY_DEFAULT_LIMIT: usize = 100;
const HISTORY_MAX_LIMIT: usize = 10_000;

/// Routes under `/api/` (the caller strips the prefix).
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;
    warp::path("alerts")
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(super::body::bytes_limited(limit))
        .and_then(
            move |tail: warp::path::Tail, method: Method, query: String, body: bytes::Bytes| {
                let state = state.clone();
                let tail = tail.as_str().to_string();
                async move {
                    // Store writes and the engine lock are blocking work: off the async workers.
                    let r = tokio::task::spawn_blocking(move || {
                        handle(&state, &tail, &method, &query, &body)
                    })
                    .await
                    .unwrap_or_else(|_| Err(ApiError::internal("An unexpected error occurred")));
                    Ok::<Response, std::convert::Infallible>(match r {
                        Ok(resp) => resp,
                        Err(e) => e.into_response(),
                    })
                }
            },
        )
        .boxed()
}

fn json(v: &impl serde::Serialize) -> Response {
    warp::reply::json(v).into_response()
}

fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
}

fn handle(
    state: &AppState,
    tail: &str,
    method: &Method,
    query: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let alerts = &state.inner.alerts;
    let store = state.store();
    let cell = &state.inner.live;
    let path = tail.trim_end_matches('/');
    match path {
        // API.md documents `/api/alerts/`; the reference serves `/api/alerts/config`.
        "" | "config" => match *method {
            Method::GET | Method::HEAD => {
                Ok(json(&crate::alerts::config::to_api_json(&alerts.config())))
            }
            Method::PUT | Method::POST => match alerts.update_config(store, cell, body) {
                Ok(_) => Ok(json(&serde_json::json!({
                    "success": true,
                    "message": "Alert configuration updated successfully"
                }))),
                Err(UpdateError::Invalid(errs)) => {
                    let first = errs
                        .first()
                        .map(|(f, m)| format!("{f}: {m}"))
                        .unwrap_or_default();
                    let mut e =
                        ApiError::bad_request(format!("Invalid alert configuration: {first}"));
                    e.fields = errs;
                    Err(e)
                }
                Err(UpdateError::Store(e)) => Err(e.into()),
            },
            _ => Err(method_not_allowed()),
        },
        "activate" => {
            if *method != Method::POST {
                return Err(method_not_allowed());
            }
            let (already, time) = alerts.activate(store, cell).map_err(|e| {
                tracing::error!(error = %e, "cannot save the alert configuration");
                ApiError::internal("Failed to save configuration")
            })?;
            Ok(json(&serde_json::json!({
                "success": true,
                "message": if already { "Alerts already activated" } else { "Alert notifications activated" },
                "state": "active",
                "activationTime": time,
            })))
        }
        "active" => match *method {
            Method::GET | Method::HEAD => Ok(json(&alerts.active())),
            _ => Err(method_not_allowed()),
        },
        "history" => match *method {
            Method::GET | Method::HEAD => {
                let q = history_query(query)?;
                Ok(json(&persist::history(store, &q)?))
            }
            Method::DELETE => {
                persist::clear_history(store)?;
                Ok(json(&serde_json::json!({
                    "status": "success",
                    "message": "Alert history cleared"
                })))
            }
            _ => Err(method_not_allowed()),
        },
        "bulk/acknowledge" | "bulk/clear" => {
            if *method != Method::POST {
                return Err(method_not_allowed());
            }
            let req: BulkRequest = serde_json::from_slice(body)
                .map_err(|_| ApiError::bad_request("Invalid request body"))?;
            if req.alert_ids.is_empty() {
                return Err(ApiError::bad_request("No alert IDs provided"));
            }
            if req.alert_ids.len() > MAX_BULK {
                return Err(ApiError::bad_request(format!(
                    "Too many alert IDs (at most {MAX_BULK})"
                )));
            }
            let ids: Vec<String> = req.alert_ids;
            let results = if path == "bulk/acknowledge" {
                let user = req
                    .user
                    .map(|u| u.trim().chars().take(100).collect::<String>())
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| "admin".into());
                alerts.acknowledge(store, cell, &ids, &user)
            } else {
                alerts.clear(store, cell, &ids)
            };
            let out: Vec<serde_json::Value> = ids
                .iter()
                .zip(results)
                .map(|(id, r)| match r {
                    Ok(()) => serde_json::json!({"alertId": id, "success": true}),
                    Err(ActionError::NotFound(_)) => {
                        serde_json::json!({"alertId": id, "success": false, "error": "alert not found"})
                    }
                    Err(ActionError::Store(e)) => {
                        tracing::error!(error = %e, "store error");
                        serde_json::json!({"alertId": id, "success": false, "error": "storage error"})
                    }
                })
                .collect();
            Ok(json(&serde_json::json!({ "results": out })))
        }
        _ => {
            let Some((raw_id, action)) = path.rsplit_once('/') else {
                return Err(ApiError::not_found());
            };
            if !matches!(action, "acknowledge" | "unacknowledge" | "clear") {
                return Err(ApiError::not_found());
            }
            if *method != Method::POST {
                return Err(method_not_allowed());
            }
            let id = decode_id(raw_id)?;
            let ids = [id.clone()];
            let mut r = match action {
                "acknowledge" => alerts.acknowledge(store, cell, &ids, "admin"),
                "unacknowledge" => alerts.unacknowledge(store, cell, &ids),
                _ => alerts.clear(store, cell, &ids),
            };
            match r.pop() {
                Some(Ok(())) => Ok(json(&serde_json::json!({"success": true}))),
                Some(Err(ActionError::Store(e))) => Err(e.into()),
                _ => Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("alert not found: {id}"),
                )),
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkRequest {
    #[serde(default)]
    alert_ids: Vec<String>,
    #[serde(default)]
    user: Option<String>,
}

/// Percent-decodes an alert id from the path and checks it is a plausible id.
fn decode_id(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("Invalid alert ID");
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| bad())?
        .into_owned();
    if id.is_empty()
        || id.len() > 500
        || id.chars().any(|c| (c as u32) < 32 || c as u32 == 127)
        || id.contains("../")
        || id.contains("/..")
    {
        return Err(bad());
    }
    Ok(id)
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// `limit` (default 100, 0 = all, capped at 10,000, negative → 400, non-numeric ignored),
/// `offset`, `startTime`/`endTime` (RFC3339), `severity`, `resourceId`.
fn history_query(q: &str) -> Result<HistoryQuery, ApiError> {
    let mut out = HistoryQuery {
        limit: HISTORY_DEFAULT_LIMIT,
        ..Default::default()
    };
    for (k, v) in query_pairs(q) {
        match k.as_str() {
            "limit" => {
                if let Ok(n) = v.trim().parse::<i64>() {
                    if n < 0 {
                        return Err(ApiError::bad_request("limit must not be negative"));
                    }
                    out.limit = (n as usize).min(HISTORY_MAX_LIMIT);
                }
            }
            "offset" => {
                if let Ok(n) = v.trim().parse::<i64>() {
                    if n < 0 {
                        return Err(ApiError::bad_request("offset must not be negative"));
                    }
                    out.offset = n as usize;
                }
            }
            "startTime" | "endTime" if !v.is_empty() => {
                let t = crate::alerts::alert::parse_rfc3339(&v)
                    .ok_or_else(|| ApiError::bad_request(format!("{k} must be an RFC3339 time")))?;
                if k == "startTime" {
                    out.start = Some(t);
                } else {
                    out.end = Some(t);
                }
            }
            "severity" => {
                out.level = match v.as_str() {
                    "warning" => Some(Level::Warning),
                    "critical" => Some(Level::Critical),
                    _ => None,
                }
            }
            "resourceId" if !v.is_empty() => out.resource_id = Some(v),
            _ => {}
        }
    }
    if let (Some(s), Some(e)) = (out.start, out.end)
        && e < s
    {
        return Err(ApiError::bad_request("endTime is before startTime"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_decoded_and_checked() {
        assert_eq!(
            decode_id("docker%3Ahost%2Fabc-cpu").unwrap(),
            "docker:host/abc-cpu"
        );
        assert_eq!(decode_id("pve-101-cpu").unwrap(), "pve-101-cpu");
        for bad in ["", "a%0Ab", "..%2Fetc", "%FF", "a/../b"] {
            assert!(decode_id(bad).is_err(), "{bad}");
        }
        assert!(decode_id(&"x".repeat(501)).is_err());
    }

    #[test]
    fn history_query_rules() {
        let q = history_query("limit=0&offset=2&severity=critical&resourceId=pve-101").unwrap();
        assert_eq!(q.limit, 0);
        assert_eq!(q.offset, 2);
        assert_eq!(q.level, Some(Level::Critical));
        assert_eq!(q.resource_id.as_deref(), Some("pve-101"));
        assert_eq!(history_query("limit=abc").unwrap().limit, 100);
        assert_eq!(history_query("limit=99999").unwrap().limit, 10_000);
        assert_eq!(history_query("severity=all").unwrap().level, None);
        assert!(history_query("limit=-1").is_err());
        assert!(history_query("startTime=yesterday").is_err());
        assert!(
            history_query("startTime=2026-01-02T00:00:00Z&endTime=2026-01-01T00:00:00Z").is_err()
        );
        let q = history_query("startTime=2026-01-01T00%3A00%3A00Z").unwrap();
        assert!(q.start.is_some());
    }
}
