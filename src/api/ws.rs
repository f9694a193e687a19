//! The WebSocket stream of the live state: `/ws` (also `/socket.io/…`), spec/state-model.md §1.2.
//!
//! The upgrade is done here on hyper directly (not through warp's `ws` filter) because of how
//! the state goes out. A big fleet's state is tens of MB, sent to every client on every
//! publish. Through warp each send was one text message: warp copies it into an owned
//! `String` and tungstenite copies that whole message again into the connection's write
//! buffer, which then keeps its capacity, so every connected client held the full state twice.
//! Here a state is sent as one fragmented text message (RFC 6455 §5.4) whose fragments are
//! slices of the one shared, already-serialized JSON: a client's buffer holds one fragment
//! at a time, and a new publish costs no copy per client beyond the socket write.

use super::AppState;
use super::error::ApiError;
use crate::model::published::Published;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, handshake::derive_accept_key};
use warp::http::{Request, StatusCode, header};
use warp::reply::{Reply, Response};

/// A client whose socket does not accept a frame within this time is dropped, so it can
/// never hold up anything (each client has its own task; this only bounds its memory).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const APP_PING_EVERY: Duration = Duration::from_secs(30);
/// No frame at all from the client for this long (browsers answer our pings) → gone.
const READ_IDLE_LIMIT: Duration = Duration::from_secs(90);
/// Client messages are tiny commands; anything bigger is abuse.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Payload per fragment of a state message: what a client's write buffer holds at a time.
pub const FRAGMENT_BYTES: usize = 256 * 1024;

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;
type Sink = futures_util::stream::SplitSink<Socket, Message>;

/// Whether `path` is one of the WebSocket endpoints.
pub fn is_ws_path(path: &str) -> bool {
    path == "/ws" || path == "/socket.io" || path.starts_with("/socket.io/")
}

fn header_has_token(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Answers a `/ws` request (already through the security gate): checks the handshake and the
/// origin, and on success returns `101` and serves the client once the connection upgrades.
pub fn upgrade(mut req: Request<Incoming>, state: AppState) -> Response {
    if req.method() != warp::http::Method::GET {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").into_response();
    }
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| derive_accept_key(k.as_bytes()));
    let version_ok = req
        .headers()
        .get("sec-websocket-version")
        .is_some_and(|v| v.as_bytes() == b"13");
    let handshake_ok = header_has_token(&req, header::CONNECTION, "upgrade")
        && header_has_token(&req, header::UPGRADE, "websocket")
        && version_ok;
    let Some(accept) = key.filter(|_| handshake_ok) else {
        return ApiError::bad_request(
            "Expected a WebSocket upgrade (Connection: upgrade, Upgrade: websocket, \
             Sec-WebSocket-Version: 13, Sec-WebSocket-Key)",
        )
        .into_response();
    };
    let text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (origin, host) = (text(header::ORIGIN), text(header::HOST));
    let allowed = state.settings().allowed_origins.clone();
    if !origin_allowed(origin.as_deref(), host.as_deref(), &allowed) {
        return ApiError::new(StatusCode::FORBIDDEN, "Origin not allowed").into_response();
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    // Client messages are small commands: no 128 KiB read buffer each.
                    .read_buffer_size(4 * 1024)
                    .write_buffer_size(64 * 1024)
                    .max_message_size(Some(MAX_CLIENT_MESSAGE))
                    .max_frame_size(Some(MAX_CLIENT_MESSAGE));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                client(socket, state).await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    warp::http::Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header("sec-websocket-accept", accept)
        .body(warp::hyper::body::Bytes::new())
        .map(Reply::into_response)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A small JSON message `{"type":kind,"data":data}`.
fn frame(kind: &str, data: &str) -> Message {
    Message::text(format!("{{\"type\":\"{kind}\",\"data\":{data}}}"))
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The frames of one state message `{"type":kind,"data":<state>}`: the envelope's head, the
/// state JSON in `FRAGMENT_BYTES` slices (shared, not copied), and the closing brace.
fn state_frames(kind: &str, p: &Published) -> Vec<Frame> {
    let json: &Bytes = p.json();
    let mut parts: Vec<Bytes> = vec![Bytes::from(format!("{{\"type\":\"{kind}\",\"data\":"))];
    let mut at = 0;
    while at < json.len() {
        let end = (at + FRAGMENT_BYTES).min(json.len());
        parts.push(json.slice(at..end));
        at = end;
    }
    parts.push(Bytes::from_static(b"}"));
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            let op = if i == 0 { Data::Text } else { Data::Continue };
            Frame::message(payload, OpCode::Data(op), i == last)
        })
        .collect()
}

/// Sends one message, giving up (so the caller drops the client) after `WRITE_TIMEOUT`.
async fn send(tx: &mut Sink, m: Message) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, tx.send(m)).await,
        Ok(Ok(()))
    )
}

/// Sends a state message fragment by fragment; each fragment must be written within
/// `WRITE_TIMEOUT`, so a client that stops reading is dropped mid-message.
async fn send_state(tx: &mut Sink, kind: &str, p: &Published) -> bool {
    for f in state_frames(kind, p) {
        if !send(tx, Message::Frame(f)).await {
            return false;
        }
    }
    true
}

async fn client(socket: Socket, state: AppState) {
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
    if !send_state(&mut tx, "initialState", &first).await {
        return;
    }
    drop(first);
    loop {
        tokio::select! {
            changed = updates.changed() => {
                if changed.is_err() {
                    break; // server shutting down
                }
                // Only the newest state is sent; intermediate ones a slow client missed are
                // skipped, which is what a live view wants.
                let p = updates.borrow_and_update().clone();
                if !send_state(&mut tx, "rawData", &p).await {
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
                if !send(&mut tx, m).await || !send(&mut tx, Message::Ping(Bytes::new())).await {
                    break;
                }
            }
            msg = tokio::time::timeout(READ_IDLE_LIMIT, rx.next()) => {
                let Ok(Some(Ok(msg))) = msg else { break };
                let text = match msg {
                    Message::Close(_) => break,
                    Message::Text(t) => t,
                    _ => continue,
                };
                let ok = match client_command(text.as_str()) {
                    Some(Command::Ping) => {
                        send(&mut tx, frame("pong", &format!("{{\"timestamp\":{}}}", unix_secs()))).await
                    }
                    Some(Command::RequestData) => {
                        let p = state.inner.live.current();
                        send_state(&mut tx, "rawData", &p).await
                    }
                    None => continue,
                };
                if !ok {
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
    fn a_state_goes_out_as_fragments_of_the_shared_json() {
        let cell = crate::model::published::StateCell::default();
        let mut s = crate::model::State {
            last_update: 7,
            ..Default::default()
        };
        // Big enough for several fragments.
        for i in 0..3_000u32 {
            s.vms.push(std::sync::Arc::new(crate::model::Guest {
                id: format!("pve-node-{i}"),
                vmid: i,
                name: "x".repeat(100),
                ..Default::default()
            }));
        }
        let p = cell.publish(s);
        let frames = state_frames("rawData", &p);
        assert!(frames.len() > 3, "{} frames", frames.len());
        let json = p.json();
        assert!(json.len() > 2 * FRAGMENT_BYTES);
        let mut whole = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let h = f.header();
            assert_eq!(h.is_final, i == frames.len() - 1);
            let want = if i == 0 { Data::Text } else { Data::Continue };
            assert_eq!(h.opcode, OpCode::Data(want));
            assert!(f.payload().len() <= FRAGMENT_BYTES);
            // The middle fragments point into the published JSON: no copy per client.
            if i > 0 && i < frames.len() - 1 {
                let inside = json.as_ptr_range().contains(&f.payload().as_ptr());
                assert!(inside, "fragment {i} is a copy");
            }
            whole.extend_from_slice(f.payload());
        }
        let v: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(v["type"], "rawData");
        assert_eq!(v["data"]["lastUpdate"], 7);
        assert_eq!(v["data"]["vms"].as_array().unwrap().len(), 3_000);
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
