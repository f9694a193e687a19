//! `GET /api/config`: the whole running configuration in one document — system settings
//! (effective values, as `/api/system/settings` shows them), the configured nodes and the
//! server basics — with every secret masked. Nodes are shown exactly as
//! `/api/config/nodes` shows them (`hasPassword`/`hasToken`, never the values); any other
//! key whose name marks it as a secret is replaced by `"********"` wherever it appears.

use super::AppState;
use super::error::ApiError;
use crate::nodes::{Nodes, view};
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

pub const MASK: &str = "********";

/// Whether a key names a secret (`password`, `tokenValue`, `secret`, `apiKey`, …).
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    // `hasPassword`/`hasToken` are booleans about secrets, not secrets; `tokenName` is an id.
    if k.starts_with("has") || k == "tokenname" {
        return false;
    }
    [
        "password",
        "passwd",
        "secret",
        "tokenvalue",
        "token_value",
        "apikey",
        "api_key",
        "privatekey",
        "passphrase",
    ]
    .iter()
    .any(|s| k.contains(s))
        || k == "token"
        || k.ends_with("token")
}

/// Replaces every secret-named value (at any depth) by `MASK`.
pub fn mask(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if secret_key(k) && !val.is_null() && !val.is_boolean() {
                    *val = Value::String(MASK.into());
                } else {
                    mask(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask),
        _ => {}
    }
}

fn build(state: &AppState) -> Result<Value, ApiError> {
    let system = super::system::settings_json(state)?;
    let nodes = Nodes::new(state.store());
    let mut list = Vec::new();
    let health = state.inner.live.current();
    for n in nodes.list()? {
        let secrets = nodes.secrets(&n.id)?;
        let key = match n.kind {
            crate::poller::scheduler::Kind::Pve => n.name.clone(),
            k => format!("{}-{}", k.as_str(), n.name),
        };
        let status = match health.state.connection_health.get(&key) {
            Some(true) => "connected",
            Some(false) => "error",
            None => "disconnected",
        };
        list.push(view(&n, &secrets, status));
    }
    let s = state.settings();
    let mut doc = json!({
        // Kept from the reference's document, with true values.
        "csrfProtection": true,
        "autoUpdateEnabled": system["autoUpdateEnabled"],
        "updateChannel": system["updateChannel"].as_str().unwrap_or("stable"),
        "system": system,
        "nodes": list,
        "server": {
            "https": s.tls.is_some(),
            "publicURL": s.security.public_url,
            "dataDir": s.data_dir.display().to_string(),
            "mockMode": state.inner.demo.enabled(),
            "version": state.inner.version.version,
        },
    });
    mask(&mut doc);
    Ok(doc)
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("config")
        .and(warp::get())
        .and_then(move || {
            let s = state.clone();
            async move {
                let doc = tokio::task::spawn_blocking(move || build(&s))
                    .await
                    .map_err(|_| ApiError::internal("request failed").reject())?
                    .map_err(ApiError::reject)?;
                Ok::<_, warp::Rejection>(warp::reply::json(&doc).into_response())
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_masked_at_any_depth() {
        let mut v = json!({
            "hasPassword": true, "tokenName": "root@pam!pulse", "name": "pve1",
            "nested": [{"tokenValue": "abc", "apiKey": "k", "smtpPassword": "p", "token": "t"}],
            "webhookSecret": "s", "password": null,
        });
        mask(&mut v);
        assert_eq!(v["hasPassword"], true);
        assert_eq!(v["tokenName"], "root@pam!pulse");
        assert_eq!(v["name"], "pve1");
        for k in ["tokenValue", "apiKey", "smtpPassword", "token"] {
            assert_eq!(v["nested"][0][k], MASK, "{k}");
        }
        assert_eq!(v["webhookSecret"], MASK);
        assert!(v["password"].is_null());
    }
}
