//! Add/update requests for nodes: parsing and validation. Every problem is reported with
//! the JSON field it concerns; nothing is stored unless the whole request is valid.

use super::{NodeConfig, NodeSecrets, monitor_defaults};
use crate::poller::scheduler::Kind;
use crate::proxmox::Product;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRequest {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub host: Option<String>,
    #[serde(rename = "guestURL", alias = "guestUrl")]
    pub guest_url: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token_name: Option<String>,
    pub token_value: Option<String>,
    pub fingerprint: Option<String>,
    #[serde(rename = "verifySSL", alias = "verifySsl")]
    pub verify_ssl: Option<bool>,
    pub temperature_monitoring_enabled: Option<bool>,
    /// `monitor*` flags and anything else (ignored unless it starts with `monitor`).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

pub type FieldErrors = Vec<(String, String)>;

pub fn product(kind: Kind) -> Product {
    match kind {
        Kind::Pve => Product::Pve,
        Kind::Pbs => Product::Pbs,
        Kind::Pmg => Product::Pmg,
    }
}

pub fn parse_kind(s: &str) -> Option<Kind> {
    match s.trim().to_ascii_lowercase().as_str() {
        "pve" => Some(Kind::Pve),
        "pbs" => Some(Kind::Pbs),
        "pmg" => Some(Kind::Pmg),
        _ => None,
    }
}

/// `scheme://host:port` as stored, from whatever the user typed (default port added when no
/// scheme was typed; path, query and user-info dropped).
pub fn normalize_host(input: &str, kind: Kind) -> Result<String, String> {
    crate::proxmox::http::normalize_base_url(input, product(kind))
        .map(|u| u.trim_end_matches("/api2/json").to_string())
        .map_err(|e| e.to_string())
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string())
}

/// Builds the node to store from a request; `existing` (with its secrets) for updates, where
/// absent fields and empty secrets keep their stored values.
pub fn build(
    req: NodeRequest,
    existing: Option<(&NodeConfig, &NodeSecrets)>,
) -> Result<(NodeConfig, NodeSecrets), FieldErrors> {
    let mut errs: FieldErrors = Vec::new();
    let mut err = |f: &str, m: String| errs.push((f.to_string(), m));

    let kind = match (text(&req.kind), existing) {
        (Some(k), _) => match parse_kind(&k) {
            Some(kind) if existing.is_none_or(|(e, _)| e.kind == kind) => Some(kind),
            Some(_) => {
                err("type", "the type of an existing node cannot change".into());
                None
            }
            None => {
                err("type", "must be pve, pbs or pmg".into());
                None
            }
        },
        (None, Some((e, _))) => Some(e.kind),
        (None, None) => {
            err("type", "is required (pve, pbs or pmg)".into());
            None
        }
    };

    let name = text(&req.name).or_else(|| existing.map(|(e, _)| e.name.clone()));
    match &name {
        None => err("name", "is required".into()),
        Some(n) if n.is_empty() => err("name", "is required".into()),
        Some(n) if n.chars().count() > 64 => err("name", "must be at most 64 characters".into()),
        Some(n) if n.chars().any(char::is_control) => {
            err("name", "must not contain control characters".into())
        }
        _ => {}
    }

    let host = match (text(&req.host), existing, kind) {
        (Some(h), _, Some(k)) => match normalize_host(&h, k) {
            Ok(h) => Some(h),
            Err(e) => {
                err("host", e);
                None
            }
        },
        (None, Some((e, _)), _) => Some(e.host.clone()),
        (None, None, _) => {
            err("host", "is required".into());
            None
        }
        (Some(_), _, None) => None,
    };

    let guest_url = text(&req.guest_url)
        .or_else(|| existing.map(|(e, _)| e.guest_url.clone()))
        .unwrap_or_default();
    if !(guest_url.is_empty()
        || guest_url.starts_with("https://")
        || guest_url.starts_with("http://"))
    {
        err("guestURL", "must start with http:// or https://".into());
    }

    let fingerprint = text(&req.fingerprint)
        .or_else(|| existing.map(|(e, _)| e.fingerprint.clone()))
        .unwrap_or_default();
    if !fingerprint.is_empty()
        && let Err(e) = crate::proxmox::tls::normalize_fingerprint(&fingerprint)
    {
        err("fingerprint", e);
    }

    // Credentials: a new secret replaces the stored one; an empty one keeps it. Sending a
    // token clears a stored password and vice versa, so one method is in force.
    let old = existing.map(|(_, s)| s.clone()).unwrap_or_default();
    let old_node = existing.map(|(e, _)| e);
    let token_name = text(&req.token_name)
        .or_else(|| old_node.map(|e| e.token_name.clone()))
        .unwrap_or_default();
    let user = text(&req.user)
        .or_else(|| old_node.map(|e| e.user.clone()))
        .unwrap_or_default();
    let new_password = req.password.clone().unwrap_or_default();
    let new_token = text(&req.token_value).unwrap_or_default();
    let mut secrets = NodeSecrets {
        password: if new_password.is_empty() {
            old.password
        } else {
            new_password
        },
        token_value: if new_token.is_empty() {
            old.token_value
        } else {
            new_token
        },
    };
    let using_token = !token_name.is_empty() && !secrets.token_value.is_empty();
    if using_token && !req.token_value.as_deref().unwrap_or("").is_empty() {
        secrets.password.clear();
    } else if !req.password.as_deref().unwrap_or("").is_empty() {
        secrets.token_value.clear();
    }
    if let Some(k) = kind
        && let Err(e) = crate::proxmox::auth::Credentials::from_settings(
            product(k),
            Some(&user).filter(|u| !u.is_empty()).map(String::as_str),
            Some(&secrets.password)
                .filter(|p| !p.is_empty())
                .map(String::as_str),
            Some(&token_name)
                .filter(|t| !t.is_empty())
                .map(String::as_str),
            Some(&secrets.token_value)
                .filter(|t| !t.is_empty())
                .map(String::as_str),
        )
    {
        err("credentials", e.to_string());
    }

    let mut monitor = existing.map(|(e, _)| e.monitor.clone()).unwrap_or_default();
    if let Some(k) = kind {
        let allowed = monitor_defaults(k);
        if existing.is_none() {
            for (flag, default) in allowed {
                monitor.insert(flag.to_string(), *default);
            }
        }
        for (key, value) in &req.rest {
            if !key.starts_with("monitor") {
                continue; // e.g. `id`/`status` echoed back from a GET: harmless
            }
            if !allowed.iter().any(|(f, _)| f == key) {
                err(key, format!("is not a setting of a {} node", k.as_str()));
                continue;
            }
            match value {
                Value::Bool(b) => {
                    monitor.insert(key.clone(), *b);
                }
                Value::Null => {}
                _ => err(key, "must be true or false".into()),
            }
        }
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    let (Some(kind), Some(name), Some(host)) = (kind, name, host) else {
        return Err(vec![("request".into(), "incomplete".into())]);
    };
    let node = NodeConfig {
        id: existing.map(|(e, _)| e.id.clone()).unwrap_or_default(),
        kind,
        name,
        host,
        guest_url,
        user: if using_token && secrets.password.is_empty() && req.user.is_none() {
            String::new()
        } else {
            user
        },
        token_name: if secrets.token_value.is_empty() {
            String::new()
        } else {
            token_name
        },
        fingerprint,
        verify_ssl: req
            .verify_ssl
            .or(existing.map(|(e, _)| e.verify_ssl))
            .unwrap_or(false),
        monitor,
        temperature_monitoring_enabled: req
            .temperature_monitoring_enabled
            .or(existing.and_then(|(e, _)| e.temperature_monitoring_enabled)),
    };
    Ok((node, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> NodeRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn create_with_password_normalises_and_defaults() {
        let (n, s) = build(
            req(serde_json::json!({"type":"pve","name":"lab","host":"192.168.1.10","user":"root@pam","password":"pw"})),
            None,
        )
        .unwrap();
        assert_eq!(n.host, "https://192.168.1.10:8006");
        assert!(n.monitor["monitorVMs"]);
        assert_eq!(s.password, "pw");
        let (n, _) = build(
            req(serde_json::json!({"type":"pbs","name":"b","host":"https://pbs.lan/some/path?x=1","tokenName":"root@pam!pulse","tokenValue":"abc-123"})),
            None,
        )
        .unwrap();
        assert_eq!(n.host, "https://pbs.lan", "typed scheme: no port forced");
        assert_eq!(n.token_name, "root@pam!pulse");
    }

    #[test]
    fn every_problem_is_named() {
        let e = build(
            req(serde_json::json!({"type":"xyz","name":"","host":"ftp://x"})),
            None,
        )
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert!(
            fields.contains(&"type") && fields.contains(&"name"),
            "{e:?}"
        );
        let e = build(req(serde_json::json!({"type":"pve","name":"a","host":"h:99999","user":"root@pam","password":"p"})), None).unwrap_err();
        assert_eq!(e[0].0, "host");
        let e = build(
            req(serde_json::json!({"type":"pve","name":"a","host":"h"})),
            None,
        )
        .unwrap_err();
        assert_eq!(e[0].0, "credentials");
        let e = build(req(serde_json::json!({"type":"pve","name":"a","host":"h","tokenName":"pulse","tokenValue":"x"})), None).unwrap_err();
        assert_eq!(e[0].0, "credentials", "bare PVE token names are refused");
        let e = build(req(serde_json::json!({"type":"pve","name":"a","host":"h","user":"u@pam","password":"p","monitorMailStats":true,"monitorVMs":"yes","fingerprint":"zz"})), None).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert!(
            fields.contains(&"monitorMailStats")
                && fields.contains(&"monitorVMs")
                && fields.contains(&"fingerprint"),
            "{e:?}"
        );
    }

    #[test]
    fn update_keeps_secrets_and_switches_methods() {
        let (n, s) = build(req(serde_json::json!({"type":"pve","name":"a","host":"h","user":"root@pam","password":"old"})), None).unwrap();
        let (n2, s2) = build(
            req(serde_json::json!({"name":"renamed","password":""})),
            Some((&n, &s)),
        )
        .unwrap();
        assert_eq!((n2.name.as_str(), s2.password.as_str()), ("renamed", "old"));
        assert_eq!(n2.host, n.host);
        let (n3, s3) = build(
            req(serde_json::json!({"tokenName":"root@pam!t","tokenValue":"sec"})),
            Some((&n2, &s2)),
        )
        .unwrap();
        assert_eq!((s3.token_value.as_str(), s3.password.as_str()), ("sec", ""));
        assert_eq!(n3.token_name, "root@pam!t");
        let e = build(req(serde_json::json!({"type":"pbs"})), Some((&n3, &s3))).unwrap_err();
        assert_eq!(e[0].0, "type");
    }
}
