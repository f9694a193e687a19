//! `/api/notifications/*` and `/api/test-notification` (API.md "Notifications" … "Test
//! Notifications", spec/notifications.md §6). Everything here touches the store or the
//! network, so handlers run on the blocking pool. Secrets are masked on every read.

use super::AppState;
use super::error::ApiError;
use crate::notify::config::{self, AppriseConfig, EmailConfig, PipelineSettings, Webhook};
use crate::notify::payload::{self, Kind};
use crate::notify::{Channels, email, webhook};
use serde::Deserialize;
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};

const DLQ_DEFAULT: usize = 100;
const DLQ_MAX: usize = 1000;
const HISTORY_MAX: usize = 1000;
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;
    let st = state.clone();
    let main = warp::path("notifications")
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(super::body::bytes_limited(limit))
        .and_then(
            move |tail: warp::path::Tail, method: Method, query: String, body: bytes::Bytes| {
                let state = st.clone();
                let tail = tail.as_str().to_string();
                async move {
                    let r = tokio::task::spawn_blocking(move || {
                        handle(&state, &tail, &method, &query, &body)
                    })
                    .await
                    .unwrap_or_else(|_| Err(ApiError::internal("An unexpected error occurred")));
                    Ok::<Response, std::convert::Infallible>(
                        r.unwrap_or_else(|e| e.into_response()),
                    )
                }
            },
        );
    // The reference's router-level test: announces a fake event to UI clients only.
    let ws_test = warp::path("test-notification")
        .and(warp::path::end())
        .and(warp::post())
        .map(|| json_reply(&json!({"status": "notification sent"})));
    main.or(ws_test).unify().boxed()
}

fn json_reply(v: &impl serde::Serialize) -> Response {
    warp::reply::json(v).into_response()
}

fn not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("Invalid JSON body: {}", e.inner()))
        } else {
            ApiError::bad_request(format!("Invalid JSON body at {path}: {}", e.inner()))
        }
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k == key).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn handle(
    state: &AppState,
    tail: &str,
    method: &Method,
    query: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let n = &state.inner.notify;
    let store = state.store();
    let path = tail.trim_end_matches('/');
    let get = matches!(*method, Method::GET | Method::HEAD);
    match path {
        "" => match *method {
            Method::GET | Method::HEAD => {
                let mut email = config::load_email(store)?;
                email.password.clear();
                let mut apprise = config::load_apprise(store)?;
                mask_apprise(&mut apprise);
                let hooks: Vec<Webhook> = config::load_webhooks(store)?
                    .iter()
                    .map(Webhook::masked)
                    .collect();
                Ok(json_reply(&json!({
                    "email": email,
                    "webhooks": hooks,
                    "apprise": apprise,
                    "settings": config::load_pipeline(store)?,
                })))
            }
            Method::POST | Method::PUT => {
                let p: PipelineSettings = parse(body)?;
                if !(1..=20).contains(&p.max_attempts) {
                    let mut e = ApiError::bad_request("maxAttempts must be between 1 and 20");
                    e.fields = vec![("maxAttempts".into(), "must be between 1 and 20".into())];
                    return Err(e);
                }
                config::save_pipeline(store, &p)?;
                Ok(json_reply(&p))
            }
            _ => Err(not_allowed()),
        },
        "email" => match *method {
            Method::GET | Method::HEAD => {
                let mut c = config::load_email(store)?;
                c.password.clear();
                Ok(json_reply(&c))
            }
            Method::PUT | Method::POST => {
                let mut c: EmailConfig = parse(body)?;
                validate_email(&c)?;
                let _g = n.config_lock.lock().unwrap_or_else(|p| p.into_inner());
                if c.password.is_empty() {
                    c.password = config::load_email(store)?.password;
                }
                config::save_email(store, &c)?;
                Ok(json_reply(&json!({"status": "success"})))
            }
            _ => Err(not_allowed()),
        },
        "email-providers" if get => Ok(json_reply(&email::providers())),
        "apprise" => match *method {
            Method::GET | Method::HEAD => {
                let mut c = config::load_apprise(store)?;
                mask_apprise(&mut c);
                Ok(json_reply(&c))
            }
            Method::PUT | Method::POST => {
                let mut c: AppriseConfig = parse(body)?;
                let _g = n.config_lock.lock().unwrap_or_else(|p| p.into_inner());
                let old = config::load_apprise(store)?;
                if c.api_key == config::REDACTED {
                    c.api_key = old.api_key;
                }
                c.normalize();
                if c.mode == "http" && !c.server_url.is_empty() {
                    crate::notify::ssrf::check(&c.server_url, &n.allowlist()).map_err(|e| {
                        ApiError::bad_request(format!("Invalid Apprise server URL: {e}"))
                    })?;
                }
                config::save_apprise(store, &c)?;
                mask_apprise(&mut c);
                Ok(json_reply(&c))
            }
            _ => Err(not_allowed()),
        },
        "webhooks" => match *method {
            Method::GET | Method::HEAD => {
                let hooks: Vec<Webhook> = config::load_webhooks(store)?
                    .iter()
                    .map(Webhook::masked)
                    .collect();
                Ok(json_reply(&hooks))
            }
            Method::POST => {
                let mut w: Webhook = parse(body)?;
                check_webhook(state, &w)?;
                let _g = n.config_lock.lock().unwrap_or_else(|p| p.into_inner());
                let mut hooks = config::load_webhooks(store)?;
                if w.id.trim().is_empty() {
                    w.id = crate::notify::queue::new_id("webhook");
                }
                if hooks.iter().any(|h| h.id == w.id) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("webhook {} already exists", w.id),
                    ));
                }
                hooks.push(w.clone());
                config::save_webhooks(store, &hooks)?;
                Ok(json_reply(&w.masked()))
            }
            _ => Err(not_allowed()),
        },
        "webhooks/test" => {
            if *method != Method::POST {
                return Err(not_allowed());
            }
            let w: Webhook = parse(body)?;
            test_webhook(state, w)
        }
        "webhook-templates" if get => Ok(json_reply(&payload::service_templates())),
        "webhook-history" if get => {
            let v: Vec<Value> = n
                .queue()
                .attempts(HISTORY_MAX)?
                .into_iter()
                .filter(|a| a.channel == "webhook")
                .take(100)
                .map(|a| {
                    let mut o = json!({
                        "webhookName": a.target_name,
                        "webhookUrl": a.destination,
                        "service": a.service,
                        "alertId": a.alert_ids.first().cloned().unwrap_or_default(),
                        "timestamp": crate::model::time::rfc3339_ms(a.timestamp),
                        "statusCode": a.status_code.unwrap_or(0),
                        "success": a.success,
                        "retryAttempts": a.attempt.saturating_sub(1),
                        "payloadSize": a.payload_bytes,
                        "notificationId": a.notification_id,
                    });
                    if let Some(e) = a.error {
                        o["errorMessage"] = e.into();
                    }
                    o
                })
                .collect();
            Ok(json_reply(&v))
        }
        "history" if get => {
            let limit = query_param(query, "limit")
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|l| (1..=HISTORY_MAX).contains(l))
                .unwrap_or(100);
            let v: Vec<Value> = n
                .queue()
                .attempts(limit)?
                .into_iter()
                .map(|a| {
                    let ts = crate::model::time::rfc3339_ms(a.timestamp);
                    let mut v = serde_json::to_value(a).unwrap_or_default();
                    v["timestamp"] = ts.into();
                    v
                })
                .collect();
            Ok(json_reply(&v))
        }
        "test" => {
            if *method != Method::POST {
                return Err(not_allowed());
            }
            test_notification(state, body)
        }
        "health" if get => {
            let q = match n.queue().stats(crate::model::time::now_ms()) {
                Ok(mut s) => {
                    s["healthy"] = true.into();
                    s
                }
                Err(e) => json!({"error": e.to_string(), "healthy": false}),
            };
            let email = config::load_email(store)?;
            let hooks = config::load_webhooks(store)?;
            let healthy = q["healthy"] == true;
            Ok(json_reply(&json!({
                "queue": q,
                "email": {"enabled": email.enabled, "configured": !email.server.is_empty()},
                "webhooks": {"total": hooks.len(), "enabled": hooks.iter().filter(|w| w.enabled).count()},
                "encryption": {"enabled": true},
                "overall_healthy": healthy,
            })))
        }
        "queue/stats" if get => Ok(json_reply(&n.queue().stats(crate::model::time::now_ms())?)),
        "dlq" if get => {
            let limit = query_param(query, "limit")
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|l| (1..=DLQ_MAX).contains(l))
                .unwrap_or(DLQ_DEFAULT);
            let v: Vec<Value> = n.queue().dlq(limit)?.iter().map(|i| i.to_api()).collect();
            Ok(json_reply(&v))
        }
        "dlq/retry" => {
            if *method != Method::POST {
                return Err(not_allowed());
            }
            let id = id_of(body)?;
            if !n.queue().retry(&id, crate::model::time::now_ms())? {
                return Err(ApiError::not_found_msg(format!("No DLQ item with id {id}")));
            }
            n.wake_workers();
            Ok(json_reply(&json!({
                "success": true,
                "message": "Notification scheduled for retry",
                "id": id,
            })))
        }
        "dlq/delete" => {
            if !matches!(*method, Method::POST | Method::DELETE) {
                return Err(not_allowed());
            }
            let id = id_of(body)?;
            if !n.queue().delete(&id)? {
                return Err(ApiError::not_found_msg(format!("No DLQ item with id {id}")));
            }
            Ok(json_reply(&json!({
                "success": true,
                "message": "DLQ item deleted",
                "id": id,
            })))
        }
        p if p.starts_with("webhooks/") => {
            let id = percent_encoding::percent_decode_str(&p["webhooks/".len()..])
                .decode_utf8_lossy()
                .into_owned();
            webhook_by_id(state, &id, method, body)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn mask_apprise(c: &mut AppriseConfig) {
    if !c.api_key.is_empty() {
        c.api_key = config::REDACTED.into();
    }
}

fn id_of(body: &[u8]) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        id: String,
    }
    let r: Req = parse(body)?;
    if r.id.trim().is_empty() {
        return Err(ApiError::bad_request("Missing notification ID"));
    }
    Ok(r.id)
}

fn validate_email(c: &EmailConfig) -> Result<(), ApiError> {
    let mut fields = Vec::new();
    let addr_ok = |s: &str| s.trim().parse::<lettre::message::Mailbox>().is_ok();
    if !c.from.is_empty() && !addr_ok(&c.from) {
        fields.push(("from".to_string(), "not a valid email address".to_string()));
    }
    for t in &c.to {
        if !t.trim().is_empty() && !addr_ok(t) {
            fields.push((
                "to".to_string(),
                format!("{t:?} is not a valid email address"),
            ));
        }
    }
    if c.enabled {
        if c.server.trim().is_empty() {
            fields.push(("server".into(), "required when email is enabled".into()));
        }
        if c.from.trim().is_empty() {
            fields.push(("from".into(), "required when email is enabled".into()));
        }
        if c.port == 0 {
            fields.push(("port".into(), "required when email is enabled".into()));
        }
    }
    if fields.is_empty() {
        return Ok(());
    }
    let mut e = ApiError::bad_request(format!(
        "Invalid email configuration: {}: {}",
        fields[0].0, fields[0].1
    ));
    e.fields = fields;
    Err(e)
}

const SERVICES: &[&str] = &[
    "",
    "generic",
    "discord",
    "slack",
    "telegram",
    "teams",
    "teams-adaptive",
    "pagerduty",
    "pushover",
    "gotify",
    "ntfy",
    "mattermost",
];

/// URL guard + template check + basic shape, for create and update.
fn check_webhook(state: &AppState, w: &Webhook) -> Result<(), ApiError> {
    if w.url.trim().is_empty() {
        return Err(ApiError::bad_request(
            "Invalid webhook URL: URL is required",
        ));
    }
    if !SERVICES.contains(&w.service.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Unknown webhook service {:?}; use one of {}",
            w.service,
            SERVICES[1..].join(", ")
        )));
    }
    let m = w.method();
    if !["POST", "PUT", "PATCH", "GET"].contains(&m.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Unsupported webhook method {m}"
        )));
    }
    for (k, v) in &w.headers {
        if http::header::HeaderName::from_bytes(k.as_bytes()).is_err()
            || http::header::HeaderValue::from_str(v).is_err()
        {
            return Err(ApiError::bad_request(format!("Invalid header {k:?}")));
        }
    }
    let now = crate::model::time::now_ms();
    payload::validate_template(w, now)
        .map_err(|e| ApiError::bad_request(format!("Invalid webhook template: {}", e.0)))?;
    let a = payload::sample_alert(now);
    let data = payload::template_data(
        std::slice::from_ref(&a),
        Kind::Alert,
        Some(w),
        "",
        None,
        now,
    );
    let (url, _) = webhook::prepare_url(w, &data)
        .map_err(|e| ApiError::bad_request(format!("Invalid webhook URL: {e}")))?;
    crate::notify::ssrf::check(&url, &state.inner.notify.allowlist())
        .map_err(|e| ApiError::bad_request(format!("Invalid webhook URL: {e}")))?;
    Ok(())
}

fn webhook_by_id(
    state: &AppState,
    id: &str,
    method: &Method,
    body: &[u8],
) -> Result<Response, ApiError> {
    let n = &state.inner.notify;
    let store = state.store();
    let missing = || ApiError::not_found_msg(format!("webhook not found: {id}"));
    match *method {
        Method::GET | Method::HEAD => {
            let hooks = config::load_webhooks(store)?;
            let w = hooks.iter().find(|w| w.id == id).ok_or_else(missing)?;
            Ok(json_reply(&w.masked()))
        }
        Method::PUT => {
            let mut w: Webhook = parse(body)?;
            w.id = id.to_string();
            let _g = n.config_lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut hooks = config::load_webhooks(store)?;
            let slot = hooks.iter_mut().find(|h| h.id == id).ok_or_else(missing)?;
            w.keep_secrets_from(slot);
            check_webhook(state, &w)?;
            *slot = w.clone();
            config::save_webhooks(store, &hooks)?;
            Ok(json_reply(&w.masked()))
        }
        Method::DELETE => {
            let _g = n.config_lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut hooks = config::load_webhooks(store)?;
            let before = hooks.len();
            hooks.retain(|h| h.id != id);
            if hooks.len() == before {
                return Err(missing());
            }
            config::save_webhooks(store, &hooks)?;
            Ok(json_reply(&json!({"status": "success"})))
        }
        _ => Err(not_allowed()),
    }
}

/// `POST /webhooks/test`: renders the webhook's payload for a synthetic alert and sends it
/// now, reporting the target's real answer.
fn test_webhook(state: &AppState, mut w: Webhook) -> Result<Response, ApiError> {
    let n = &state.inner.notify;
    if w.service.trim().is_empty() {
        w.service = "generic".into();
    }
    // A saved webhook tested from the UI arrives masked: use the stored secrets.
    if !w.id.is_empty()
        && let Some(old) = config::load_webhooks(state.store())?
            .iter()
            .find(|h| h.id == w.id)
    {
        w.keep_secrets_from(old);
    }
    check_webhook(state, &w)?;
    let now = crate::model::time::now_ms();
    let mut alert = payload::sample_alert(now);
    alert.id = format!(
        "test-{}",
        jiff::Timestamp::from_millisecond(now)
            .map(|t| t.strftime("%Y%m%d-%H%M%S").to_string())
            .unwrap_or_default()
    );
    let public = n.public_url();
    let alerts = vec![alert];
    let pre = payload::template_data(&alerts, Kind::Alert, Some(&w), "", public.as_deref(), now);
    let (url, chat) = webhook::prepare_url(&w, &pre)
        .map_err(|e| ApiError::bad_request(format!("Invalid webhook URL: {e}")))?;
    let data = payload::template_data(
        &alerts,
        Kind::Alert,
        Some(&w),
        &chat,
        public.as_deref(),
        now,
    );
    let tpl = payload::service_template(&w.service);
    let mut src_w = w.clone();
    if src_w.template.trim().is_empty()
        && let Some(t) = &tpl
    {
        src_w.template = t.payload_template.to_string();
    }
    let body = payload::webhook_body(&src_w, &alerts, &data, now)
        .map_err(|e| ApiError::bad_request(format!("Invalid webhook template: {e}")))?;
    let mut headers = webhook::headers(&w, body.content_type, &format!("test-{now}"));
    if let Some(t) = &tpl {
        for (k, v) in &t.headers {
            if !v.contains("{{") && !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
                headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    if w.service == "ntfy" {
        headers.push((
            "Title".into(),
            format!("WARNING: {}", alerts[0].resource_name),
        ));
        headers.push(("Priority".into(), "high".into()));
        headers.push(("Tags".into(), "warning,pulse,cpu".into()));
    }
    for h in headers.iter_mut() {
        if h.0 == "User-Agent" {
            h.1 = format!("{} (Test)", webhook::USER_AGENT);
        }
    }
    match webhook::send(
        &w.method(),
        &url,
        &headers,
        &body.bytes,
        &n.allowlist(),
        TEST_TIMEOUT,
    ) {
        Ok(o) => Ok(json_reply(
            &json!({"status": o.status, "response": o.body, "success": true}),
        )),
        Err(e) => Ok(warp::reply::with_status(
            warp::reply::json(&json!({
                "status": e.status.unwrap_or(0),
                "response": e.body,
                "error": e.message,
                "success": false,
            })),
            StatusCode::BAD_REQUEST,
        )
        .into_response()),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TestReq {
    method: String,
    #[serde(rename = "type")]
    kind: String,
    config: Option<EmailConfig>,
    webhook_id: String,
    /// Extension: send through the durable queue (retries, DLQ) instead of directly.
    queue: bool,
}

/// `POST /api/notifications/test`: a synthetic alert through one channel, answered with
/// the channel's real result (an SMTP 5xx is an error here, not "success").
fn test_notification(state: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let n = &state.inner.notify;
    let store = state.store();
    let req: TestReq = if body.iter().all(u8::is_ascii_whitespace) {
        TestReq::default()
    } else {
        parse(body)?
    };
    let method = if req.method.is_empty() {
        req.kind.clone()
    } else {
        req.method.clone()
    };
    let now = crate::model::time::now_ms();
    let mut alert = payload::sample_alert(now);
    let public = n.public_url();
    let ok = || json_reply(&json!({"status": "success", "message": "Test notification sent"}));
    let fail = |m: String| ApiError::bad_request(m);
    match method.as_str() {
        "email" => {
            alert.id = "test-email".into();
            alert.resource_name = "Email Configuration Test".into();
            let c = match req.config {
                Some(mut c) => {
                    if c.password.is_empty() {
                        c.password = config::load_email(store)?.password;
                    }
                    if !c.enabled {
                        return Err(fail("email notifications are not enabled".into()));
                    }
                    c
                }
                None => {
                    let c = config::load_email(store)?;
                    if !c.enabled {
                        return Err(fail("email notifications are not enabled".into()));
                    }
                    if req.queue {
                        let ids = n.enqueue(vec![alert], Kind::Alert, &Channels::Email)?;
                        return Ok(queued(ids));
                    }
                    c
                }
            };
            validate_email(&c)?;
            email::check_config(&c).map_err(fail)?;
            let alerts = [alert];
            let subject = payload::email_subject(&alerts, Kind::Alert);
            let mail = email::Mail {
                subject: &subject,
                text: payload::email_text(&alerts, Kind::Alert, public.as_deref(), now),
                html: payload::email_html(&alerts, Kind::Alert, public.as_deref(), now),
                message_id: &format!("test-{now}"),
            };
            email::send(&c, &mail).map_err(|e| fail(format!("Failed to send test email: {e}")))?;
            Ok(ok())
        }
        "webhook" => {
            let hooks = config::load_webhooks(store)?;
            let w = if !req.webhook_id.is_empty() {
                alert.id = format!("test-webhook-{}", req.webhook_id);
                hooks
                    .into_iter()
                    .find(|w| w.id == req.webhook_id)
                    .ok_or_else(|| ApiError::not_found_msg("Webhook not found"))?
            } else {
                if hooks.is_empty() {
                    return Err(fail("no webhooks configured".into()));
                }
                alert.id = "test-alert".into();
                hooks
                    .into_iter()
                    .find(|w| w.enabled)
                    .ok_or_else(|| fail("no enabled webhooks found".into()))?
            };
            if req.queue {
                let ids = n.enqueue(vec![alert], Kind::Alert, &Channels::Webhook(w.id.clone()))?;
                return Ok(queued(ids));
            }
            n.send_webhook(
                &w,
                &[alert],
                Kind::Alert,
                &format!("test-{now}"),
                public.as_deref(),
                now,
            )
            .map_err(|e| fail(format!("Failed to send test webhook: {e}")))?;
            Ok(ok())
        }
        "apprise" => {
            let c = config::load_apprise(store)?;
            if !c.enabled {
                return Err(fail("apprise notifications are not enabled".into()));
            }
            if req.queue {
                let ids = n.enqueue(vec![alert], Kind::Alert, &Channels::Apprise)?;
                return Ok(queued(ids));
            }
            let (title, body, ty) =
                payload::apprise_message(&[alert], Kind::Alert, public.as_deref());
            crate::notify::apprise::send(&c, &title, &body, ty, &n.allowlist())
                .map_err(|e| fail(format!("Failed to send test Apprise notification: {e}")))?;
            Ok(ok())
        }
        "" => Err(fail(
            "method is required (email, webhook or apprise)".into(),
        )),
        other => Err(fail(format!("unknown notification method: {other}"))),
    }
}

fn queued(ids: Vec<String>) -> Response {
    json_reply(&json!({
        "status": "success",
        "message": "Test notification queued",
        "ids": ids,
    }))
}
