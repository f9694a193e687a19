//! `/api/state` and `/ws`: the server runs in-process (so the test can publish states), on a
//! loopback port, and is spoken to over real HTTP and WebSocket connections.

mod common;

use common::inprocess::InProcess;
use pulse::model::{Node, State};
use pulse::poller::clock::SystemClock;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

fn start() -> InProcess {
    InProcess::in_temp_dir(Arc::new(SystemClock))
}

fn node(i: usize) -> Node {
    Node {
        id: format!("lab-pve{i}"),
        name: format!("pve{i}"),
        node: format!("pve{i}"),
        instance: "lab".into(),
        status: "online".into(),
        kind: "node",
        ..Default::default()
    }
}

fn state_with(n: usize, stamp: i64) -> State {
    State {
        nodes: (0..n).map(node).collect(),
        last_update: stamp,
        ..Default::default()
    }
}

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(port: u16, origin: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://127.0.0.1:{port}/ws"
    ))
    .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    let (ws, _) = tungstenite::connect(req)?;
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    Ok(ws)
}

fn next_json(ws: &mut Ws) -> serde_json::Value {
    loop {
        match ws.read().expect("frame") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("json frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn api_state_serves_the_published_state() {
    let srv = start();
    let r = common::get(&format!("http://127.0.0.1:{}/api/state", srv.port), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let j = r.json();
    assert_eq!(j["nodes"], serde_json::json!([]));
    assert!(j["connectionHealth"].is_object());
    srv.state.inner.live.publish(state_with(3, 77));
    let j = common::get(&format!("http://127.0.0.1:{}/api/state", srv.port), &[]).json();
    assert_eq!(j["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(j["nodes"][1]["id"], "lab-pve1");
    assert_eq!(j["lastUpdate"], 77);
    let r = common::send(
        "POST",
        &format!("http://127.0.0.1:{}/api/state", srv.port),
        &[],
        b"{}",
    );
    assert_eq!(r.status, 405);
}

#[test]
fn websocket_protocol() {
    let srv = start();
    srv.state.inner.live.publish(state_with(2, 1));
    let mut ws = connect(srv.port, Some(&format!("http://127.0.0.1:{}", srv.port))).unwrap();
    let w = next_json(&mut ws);
    assert_eq!(w["type"], "welcome");
    let init = next_json(&mut ws);
    assert_eq!(init["type"], "initialState");
    assert_eq!(init["data"]["nodes"].as_array().unwrap().len(), 2);
    srv.state.inner.live.publish(state_with(4, 2));
    let raw = next_json(&mut ws);
    assert_eq!(raw["type"], "rawData");
    assert_eq!(raw["data"]["lastUpdate"], 2);
    ws.send(Message::text(r#"{"type":"ping"}"#)).unwrap();
    let pong = next_json(&mut ws);
    assert_eq!(pong["type"], "pong");
    assert!(pong["data"]["timestamp"].as_u64().unwrap() > 1_700_000_000);
    // Garbage is ignored; the connection stays usable.
    ws.send(Message::text("{{{ not json")).unwrap();
    ws.send(Message::binary(vec![0u8, 159, 146, 150])).unwrap();
    ws.send(Message::text(r#"{"type":"requestData"}"#)).unwrap();
    let raw = next_json(&mut ws);
    assert_eq!(raw["type"], "rawData");
    assert_eq!(raw["data"]["nodes"].as_array().unwrap().len(), 4);
}

#[test]
fn websocket_origin_rules() {
    let srv = start();
    let err = connect(srv.port, Some("https://evil.example")).unwrap_err();
    match err {
        tungstenite::Error::Http(r) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(
        connect(srv.port, None).is_ok(),
        "non-browser clients send no Origin"
    );
    assert!(connect(srv.port, Some("http://192.168.10.20:7655")).is_ok());
}

/// Origins listed in `ALLOWED_ORIGINS` (or the persisted `allowedOrigins`) may open `/ws`
/// from another site; the list then replaces the private-address allowance.
#[test]
fn websocket_origins_follow_the_allowed_list() {
    let srv = common::start_with(&[("ALLOWED_ORIGINS", "https://dash.example")]);
    assert!(connect(srv.port, Some("https://dash.example")).is_ok());
    match connect(srv.port, Some("https://evil.example")).unwrap_err() {
        tungstenite::Error::Http(r) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(connect(srv.port, None).is_ok());
}

#[test]
fn a_client_that_never_reads_does_not_delay_others() {
    let srv = start();
    // ~0.6 MB of JSON per state: the stalled client's socket buffers are full after a few
    // updates, so from then on its sends block. The reader must still get every update it
    // waits for (each read has a 5 s timeout, so a stall fails the test).
    let big = |stamp| state_with(2_000, stamp);
    srv.state.inner.live.publish(big(0));
    let stalled = connect(srv.port, None).unwrap();
    let mut reader = connect(srv.port, None).unwrap();
    assert_eq!(next_json(&mut reader)["type"], "welcome");
    assert_eq!(next_json(&mut reader)["type"], "initialState");
    for stamp in 1..=30 {
        srv.state.inner.live.publish(big(stamp));
        // The reader sees every change it waits for, stall or not.
        loop {
            let m = next_json(&mut reader);
            if m["type"] == "rawData" && m["data"]["lastUpdate"] == stamp {
                break;
            }
        }
    }
    drop(stalled);
}

#[test]
fn charts_from_recorded_history() {
    use pulse::model::{Guest, Memory, Storage};
    let srv = start();
    let recorder = srv.state.attach_history().unwrap();
    let now = pulse::model::time::now_ms();
    let state_at = |t: i64, cpu: f64| State {
        vms: vec![
            Guest {
                id: "lab-pve0-101".into(),
                vmid: 101,
                kind: "qemu",
                status: "running".into(),
                cpu,
                memory: Some(Memory::from_used(100, 40)),
                ..Default::default()
            }
            .into(),
        ],
        nodes: vec![node(0)],
        storage: vec![Storage {
            id: "lab-pve0-local".into(),
            usage: 50.0,
            used: 5,
            total: 10,
            avail: 5,
            ..Default::default()
        }],
        last_update: t,
        ..Default::default()
    };
    for (i, t) in [now - 40_000, now - 20_000, now].into_iter().enumerate() {
        let s = state_at(t, 0.1 * (i + 1) as f64);
        srv.state.inner.live.publish(s.clone());
        assert!(recorder.offer(std::sync::Arc::new(s)));
        std::thread::sleep(Duration::from_millis(200)); // one tick at a time for the writer
    }
    let base = format!("http://127.0.0.1:{}", srv.port);
    let j = common::get(&format!("{base}/api/charts?range=1h"), &[]).json();
    let cpu = j["data"]["lab-pve0-101"]["cpu"].as_array().unwrap();
    assert_eq!(cpu.len(), 3, "{cpu:?}");
    assert!((cpu[2]["value"].as_f64().unwrap() - 30.0).abs() < 0.01);
    assert_eq!(j["data"]["lab-pve0-101"]["memory"][0]["value"], 40.0);
    assert!(j["nodeData"]["lab-pve0"]["cpu"].is_array());
    assert_eq!(j["storageData"]["lab-pve0-local"]["disk"][0]["value"], 50.0);
    assert!(j["stats"]["oldestDataTimestamp"].as_i64().unwrap() <= now - 40_000);
    let r = common::get(&format!("{base}/api/charts?range=2h"), &[]);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("accepted values")
    );
    let sc = common::get(&format!("{base}/api/storage-charts?range=60"), &[]).json();
    let usage = sc["lab-pve0-local"]["usage"].as_array().unwrap();
    assert_eq!(usage.len(), 3);
    assert!(usage[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(sc["lab-pve0-local"]["total"][0]["value"], 10.0);
    for bad in ["abc", "0", "-5", "1e9"] {
        assert_eq!(
            common::get(&format!("{base}/api/storage-charts?range={bad}"), &[]).status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn websocket_endpoint_refuses_a_plain_request_clearly() {
    let srv = start();
    for path in ["/ws", "/socket.io/?transport=websocket"] {
        let r = common::get(&format!("http://127.0.0.1:{}{path}", srv.port), &[]);
        assert_eq!(r.status, 400, "{path}");
        let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains("WebSocket upgrade"), "{path}: {msg}");
    }
    // A wrong protocol version is refused the same way, never upgraded.
    let r = common::get(
        &format!("http://127.0.0.1:{}/ws", srv.port),
        &[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "8"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    );
    assert_eq!(r.status, 400);
}
