//! Live state: `GET /api/state` (the shared, pre-serialized JSON) and the WebSocket stream
//! `/ws` (also `/socket.io/?transport=websocket`), spec/state-model.md §1.

use super::AppState;
use crate::model::published::Published;
use futures_util::{SinkExt, StreamExt};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::ws::{Message, WebSocket};
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

/// A client whose socket does not accept a frame within this time is dropped, so it can
/// never hold up anything (each client has its own task; this only bounds its memory).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const APP_PING_EVERY: Duration = Duration::from_secs(30);
/// No frame at all from the client for this long (browsers answer our pings) → gone.
const READ_IDLE_LIMIT: Duration = Duration::from_secs(90);
/// Client messages are tiny commands; anything bigger is abuse.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

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

/// The WebSocket endpoints: `/ws` and the socket.io compatibility path.
pub fn ws_routes(state: AppState) -> BoxedFilter<(Response,)> {
    let s = state;
    let ws_path = warp::path!("ws")
        .or(warp::path("socket.io").and(warp::path::end()))
        .unify()
        .or(warp::path!("socket.io" / ..))
        .unify();
    ws_path
        .and(warp::ws())
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>("host"))
        .map(
            move |ws: warp::ws::Ws, origin: Option<String>, host: Option<String>| {
                let allowed = s.settings().allowed_origins.clone();
                if !origin_allowed(origin.as_deref(), host.as_deref(), &allowed) {
                    return super::error::ApiError::new(
                        StatusCode::FORBIDDEN,
                        "Origin not allowed",
                    )
                    .into_response();
                }
                let s = s.clone();
                ws.max_message_size(MAX_CLIENT_MESSAGE)
                    .on_upgrade(move |socket| client(socket, s))
                    .into_response()
            },
        )
        .boxed()
}

fn frame(kind: &str, data: &str) -> Message {
    Message::text(format!("{{\"type\":\"{kind}\",\"data\":{data}}}"))
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn state_frame(kind: &str, p: &Published) -> Message {
    // The state JSON is valid UTF-8 (serde_json output).
    frame(kind, std::str::from_utf8(p.json()).unwrap_or("{}"))
}

/// The `rawData` frame of the newest publish, built once and shared by every client: warp's
/// `Message::text` takes an owned `String` (one full copy of the state per client per tick),
/// but a built `Message` clones by reference count (tungstenite's `Utf8Bytes` is `Bytes`).
static RAW_FRAME: std::sync::Mutex<Option<(Arc<Published>, Message)>> = std::sync::Mutex::new(None);

fn shared_raw_frame(p: &Arc<Published>) -> Message {
    let mut slot = RAW_FRAME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, m)) = slot.as_ref()
        && Arc::ptr_eq(at, p)
    {
        return m.clone();
    }
    let m = state_frame("rawData", p);
    *slot = Some((p.clone(), m.clone()));
    m
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Sends one frame, giving up (so the caller drops the client) after `WRITE_TIMEOUT`.
async fn send(tx: &mut Sink, m: Message) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, tx.send(m)).await,
        Ok(Ok(()))
    )
}

async fn client(socket: WebSocket, state: AppState) {
    let (mut tx, mut rx) = socket.split();
    let mut updates = state.inner.live.subscribe();
    let mut alert_events = state.inner.alerts.subscribe();
    let mut ping = tokio::time::interval(APP_PING_EVERY);
    ping.tick().await;

    if !send(
        &mut tx,
        frame("welcome", r#"{"message":"Connected to Pulse WebSocket"}"#),
    )
    .await
    {
        return;
    }
    let first = updates.borrow_and_update().clone();
    if !send(&mut tx, state_frame("initialState", &first)).await {
        return;
    }
    loop {
        tokio::select! {
            changed = updates.changed() => {
                if changed.is_err() {
                    break; // server shutting down
                }
                // Only the newest state is sent; intermediate ones a slow client missed are
                // skipped, which is what a live view wants.
                let p = updates.borrow_and_update().clone();
                if !send(&mut tx, shared_raw_frame(&p)).await {
                    break;
                }
            }
            ev = alert_events.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    // A client too slow for the alert stream is dropped (it reconnects and
                    // gets the full state), as the reference does for non-state broadcasts.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if let Some(m) = alert_frame(&ev)
                    && !send(&mut tx, m).await
                {
                    break;
                }
            }
            _ = ping.tick() => {
                let m = frame("ping", &format!("{{\"timestamp\":{}}}", unix_secs()));
                if !send(&mut tx, m).await || !send(&mut tx, Message::ping(Vec::new())).await {
                    break;
                }
            }
            msg = tokio::time::timeout(READ_IDLE_LIMIT, rx.next()) => {
                let Ok(Some(Ok(msg))) = msg else { break };
                if msg.is_close() {
                    break;
                }
                let Ok(text) = msg.to_str() else { continue };
                let reply = match client_command(text) {
                    Some(Command::Ping) => frame("pong", &format!("{{\"timestamp\":{}}}", unix_secs())),
                    Some(Command::RequestData) => state_frame("rawData", &state.inner.live.current()),
                    None => continue,
                };
                if !send(&mut tx, reply).await {
                    break;
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.close()).await;
}

/// `/ws` messages for alert events: `alert` (raised, rose to critical, escalated, or a
/// deferred notification) and `alertResolved`.
fn alert_frame(ev: &crate::alerts::AlertEvent) -> Option<Message> {
    use crate::alerts::AlertEvent as E;
    match ev {
        E::Raised { alert, .. }
        | E::LevelRaised { alert, .. }
        | E::Escalated { alert, .. }
        | E::Deferred { alert } => {
            let data = serde_json::to_string(alert).ok()?;
            Some(frame("alert", &data))
        }
        E::Resolved { alert, .. } => {
            let data = serde_json::json!({ "alertId": alert.id }).to_string();
            Some(frame("alertResolved", &data))
        }
        _ => None,
    }
}

#[derive(Debug, PartialEq)]
enum Command {
    Ping,
    RequestData,
}

/// Parses a client message; anything unknown or malformed is ignored, as the reference does.
fn client_command(text: &str) -> Option<Command> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get("type")?.as_str()? {
        "ping" => Some(Command::Ping),
        "requestData" => Some(Command::RequestData),
        _ => None,
    }
}

/// Origin rule (spec/state-model.md §1.2): no Origin (non-browser clients) is allowed;
/// same origin as the Host; listed in `allowed` (`*` = any); or, with nothing configured,
/// a local origin: loopback, private IPs, `localhost`, `*.local`/`*.lan` of ≤ 3 labels.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    if host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) {
        return true;
    }
    if !allowed.is_empty() {
        return allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin));
    }
    let hostname = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if let Ok(ip) = hostname.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
    }
    let h = hostname.to_ascii_lowercase();
    h == "localhost"
        || ((h.ends_with(".local") || h.ends_with(".lan")) && h.split('.').count() <= 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_shares_one_raw_data_frame_per_publish() {
        let cell = crate::model::published::StateCell::default();
        let p = cell.publish(crate::model::State {
            last_update: 7,
            ..Default::default()
        });
        let (a, b) = (shared_raw_frame(&p), shared_raw_frame(&p));
        assert_eq!(
            a.as_bytes().as_ptr(),
            b.as_bytes().as_ptr(),
            "no copy per client"
        );
        let v: serde_json::Value = serde_json::from_slice(a.as_bytes()).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["data"]["lastUpdate"].as_i64()),
            (Some("rawData"), Some(7))
        );
        // The next publish gets its own frame.
        let q = cell.publish(crate::model::State {
            last_update: 8,
            ..Default::default()
        });
        let c = shared_raw_frame(&q);
        let v: serde_json::Value = serde_json::from_slice(c.as_bytes()).unwrap();
        assert_eq!(v["data"]["lastUpdate"], 8);
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(None, None, &[]));
        assert!(origin_allowed(
            Some("http://pulse.example:7655"),
            Some("pulse.example:7655"),
            &[]
        ));
        assert!(origin_allowed(
            Some("http://192.168.1.5:7655"),
            Some("x"),
            &[]
        ));
        assert!(origin_allowed(
            Some("http://localhost:5173"),
            Some("x"),
            &[]
        ));
        assert!(origin_allowed(Some("http://[::1]:7655"), Some("x"), &[]));
        assert!(origin_allowed(Some("https://pve.lan"), Some("x"), &[]));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            Some("pulse.example:7655"),
            &[]
        ));
        assert!(!origin_allowed(Some("https://a.b.c.local"), Some("x"), &[]));
        assert!(!origin_allowed(Some("null"), Some("x"), &[]));
        let allowed = vec!["https://dash.example".to_string()];
        assert!(origin_allowed(
            Some("https://dash.example"),
            Some("x"),
            &allowed
        ));
        assert!(!origin_allowed(
            Some("http://192.168.1.5"),
            Some("x"),
            &allowed
        ));
    }

    #[test]
    fn commands() {
        assert_eq!(client_command(r#"{"type":"ping"}"#), Some(Command::Ping));
        assert_eq!(
            client_command(r#"{"type":"requestData","x":1}"#),
            Some(Command::RequestData)
        );
        assert_eq!(client_command(r#"{"type":"shutdown"}"#), None);
        assert_eq!(client_command("not json"), None);
        assert_eq!(client_command(r#"{"type":5}"#), None);
    }
}
