//! Alerts end to end: the server runs in-process with a manual clock so the test can publish
//! monitored states through the alert engine (as the monitor does each tick) and inject
//! faults; everything is then observed over real HTTP and WebSocket connections, including
//! across a restart on the same data dir.

mod common;

use common::inprocess::InProcess;
use pulse::model::*;
use pulse::poller::clock::ManualClock;
use serde_json::Value;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

const T0: i64 = 1_764_000_000_000;

fn start(dir: &Path, clock: &ManualClock) -> InProcess {
    InProcess::start(dir, Arc::new(clock.clone()))
}

/// A small fleet; `fault` switches one problem on.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    HotGuest,
    NodeOffline,
    FullStorage,
    FailedVerify,
}

fn fleet(fault: Fault) -> State {
    let guest = Guest {
        id: "lab-pve1-101".into(),
        vmid: 101,
        name: "web".into(),
        node: "pve1".into(),
        instance: "lab".into(),
        status: "running".into(),
        kind: "qemu",
        cpu: if fault == Fault::HotGuest { 0.95 } else { 0.2 },
        ..Default::default()
    };
    let node = Node {
        id: "lab-pve1".into(),
        node: "pve1".into(),
        name: "pve1".into(),
        instance: "lab".into(),
        status: if fault == Fault::NodeOffline {
            "offline".into()
        } else {
            "online".into()
        },
        kind: "node",
        connection_health: if fault == Fault::NodeOffline {
            "error".into()
        } else {
            "healthy".into()
        },
        ..Default::default()
    };
    let storage = Storage {
        id: "lab-pve1-local".into(),
        name: "local".into(),
        node: "pve1".into(),
        instance: "lab".into(),
        status: "available".into(),
        total: 100,
        usage: if fault == Fault::FullStorage {
            99.0
        } else {
            30.0
        },
        ..Default::default()
    };
    let pbs = PbsInstance {
        id: "pbs-backup".into(),
        name: "backup".into(),
        status: "online".into(),
        connection_health: "healthy".into(),
        verify_jobs: Some(vec![if fault == Fault::FailedVerify {
            serde_json::json!({"id": "v-daily", "store": "ds", "status": "failed", "error": "missing chunk"})
        } else {
            serde_json::json!({"id": "v-daily", "store": "ds", "status": "ok"})
        }]),
        ..Default::default()
    };
    State {
        nodes: vec![node],
        vms: vec![guest.into()],
        storage: vec![storage],
        pbs: vec![pbs],
        connection_health: [("lab".to_string(), true), ("pbs-backup".to_string(), true)].into(),
        ..Default::default()
    }
}

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(port: u16) -> Ws {
    let (ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    ws
}

/// The next frame of one of `types`, skipping others (state frames, pings).
fn next_of(ws: &mut Ws, types: &[&str]) -> Value {
    loop {
        match ws.read().expect("frame") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if types.contains(&v["type"].as_str().unwrap_or("")) {
                    return v;
                }
            }
            _ => continue,
        }
    }
}

fn active_ids(srv: &InProcess) -> Vec<String> {
    srv.get("/api/alerts/active")
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

fn state_alert_ids(srv: &InProcess) -> Vec<String> {
    srv.get("/api/state")["activeAlerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn faults_raise_alerts_that_resolve_when_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let srv = start(dir.path(), &clock);
    let mut ws = connect(srv.port);
    next_of(&mut ws, &["initialState"]);

    let cases = [
        (Fault::HotGuest, "lab-101-cpu", "critical", 3),
        (Fault::NodeOffline, "node-offline-lab-pve1", "critical", 3),
        (Fault::FullStorage, "lab-pve1-local-usage", "critical", 3),
        (
            Fault::FailedVerify,
            "pbs-job-pbs-backup-verify-v-daily",
            "critical",
            1,
        ),
    ];
    for (fault, id, level, ticks_needed) in cases {
        srv.state.publish_state(fleet(Fault::None));
        assert!(active_ids(&srv).is_empty());
        // Poll every 10 s with the fault on; the alert appears within the configured time
        // (5 s grace → second poll; node offline → 3 confirmations).
        let mut ticks = 0;
        while !active_ids(&srv).contains(&id.to_string()) {
            assert!(ticks < ticks_needed, "{id} not raised after {ticks} polls");
            clock.advance(10_000);
            srv.state.publish_state(fleet(fault));
            ticks += 1;
        }
        assert!(ticks <= ticks_needed);
        let msg = next_of(&mut ws, &["alert"]);
        assert_eq!(msg["data"]["id"], id);
        assert_eq!(msg["data"]["level"], level);
        assert!(state_alert_ids(&srv).contains(&id.to_string()));
        let active = srv.get("/api/alerts/active");
        let a = &active.as_array().unwrap()[0];
        assert!(a["metadata"]["resourceType"].is_string(), "{a}");
        // Lifted: resolves on the next poll.
        clock.advance(10_000);
        srv.state.publish_state(fleet(Fault::None));
        assert!(active_ids(&srv).is_empty(), "{id} still active");
        assert!(state_alert_ids(&srv).is_empty());
        let msg = next_of(&mut ws, &["alertResolved"]);
        assert_eq!(msg["data"]["alertId"], id);
        clock.advance(10 * 60_000);
    }
    // A threshold alert carries its clear level.
    let hist = srv.get("/api/alerts/history?resourceId=lab-101");
    let h = &hist.as_array().unwrap()[0];
    assert_eq!(h["id"], "lab-101-cpu");
    assert_eq!(h["metadata"]["clearThreshold"], 75.0);
    assert!(
        h["resolvedTime"].is_string(),
        "history records the resolution"
    );
    let all = srv.get("/api/alerts/history?limit=0");
    assert_eq!(all.as_array().unwrap().len(), 4);
    let crit = srv.get("/api/alerts/history?severity=critical&limit=2&offset=1");
    assert_eq!(crit.as_array().unwrap().len(), 2);
    srv.stop();
}

#[test]
fn acknowledgement_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let srv = start(dir.path(), &clock);
    for _ in 0..2 {
        srv.state.publish_state(fleet(Fault::HotGuest));
        clock.advance(10_000);
    }
    assert_eq!(active_ids(&srv), vec!["lab-101-cpu"]);
    let r = srv.post("/api/alerts/lab-101-cpu/acknowledge", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    let st = srv.get("/api/state");
    assert_eq!(st["activeAlerts"][0]["acknowledged"], true);
    assert_eq!(st["activeAlerts"][0]["ackUser"], "admin");
    let before = srv.get("/api/alerts/active")[0].clone();
    srv.stop();

    // Restart on the same data dir.
    clock.advance(60_000);
    let srv = start(dir.path(), &clock);
    let a = srv.get("/api/alerts/active")[0].clone();
    assert_eq!(a["acknowledged"], true);
    assert_eq!(a["ackTime"], before["ackTime"]);
    assert_eq!(a["startTime"], before["startTime"]);
    assert_eq!(
        srv.get("/api/state")["activeAlerts"][0]["acknowledged"],
        true,
        "visible before the first poll"
    );
    // First poll after restart: still hot → the same alert, still acknowledged.
    srv.state.publish_state(fleet(Fault::HotGuest));
    let a = srv.get("/api/alerts/active")[0].clone();
    assert_eq!(a["acknowledged"], true);
    assert_eq!(a["startTime"], before["startTime"]);
    // Unacknowledge, then clear; both over URL-encoded ids.
    assert_eq!(
        srv.post("/api/alerts/lab%2D101%2Dcpu/unacknowledge", "")
            .status,
        200
    );
    assert_eq!(srv.get("/api/alerts/active")[0]["acknowledged"], false);
    let r = srv.post(
        "/api/alerts/bulk/acknowledge",
        r#"{"alertIds":["lab-101-cpu","nope"],"user":"ops"}"#,
    );
    assert_eq!(r.json()["results"][0]["success"], true);
    assert_eq!(r.json()["results"][1]["success"], false);
    assert_eq!(srv.get("/api/alerts/active")[0]["ackUser"], "ops");
    assert_eq!(srv.post("/api/alerts/lab-101-cpu/clear", "").status, 200);
    assert!(active_ids(&srv).is_empty());
    assert_eq!(srv.post("/api/alerts/lab-101-cpu/clear", "").status, 404);
    srv.stop();
}

#[test]
fn config_change_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let srv = start(dir.path(), &clock);
    for _ in 0..2 {
        srv.state.publish_state(fleet(Fault::HotGuest));
        clock.advance(10_000);
    }
    assert_eq!(active_ids(&srv), vec!["lab-101-cpu"]);
    // An override for the guest (now a known resource) disabling cpu resolves the alert
    // without waiting for the next poll.
    let r = common::send(
        "PUT",
        &srv.url("/api/alerts/config"),
        &[],
        br#"{"overrides":{"lab-101":{"cpu":{"trigger":-1,"clear":0}}}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(active_ids(&srv).is_empty());
    assert!(state_alert_ids(&srv).is_empty());
    // Unknown resources are still refused.
    let r = common::send(
        "PUT",
        &srv.url("/api/alerts/config"),
        &[],
        br#"{"overrides":{"lab-999":{"cpu":{"trigger":50,"clear":40}}}}"#,
    );
    assert_eq!(r.status, 400);
    let cfg = srv.get("/api/alerts/config");
    assert!(cfg["overrides"]["lab-101"].is_object());
    assert!(cfg["overrides"].get("lab-999").is_none());
    srv.stop();
}
