//! Alert engine → notification pipeline, in process with a manual clock: a hot guest raises
//! an alert whose notification reaches a real HTTP receiver after the grouping window, and
//! (with `notifyOnResolved`) its resolution is announced too.

mod common;
#[path = "common/receivers.rs"]
mod receivers;

use common::inprocess::InProcess;
use pulse::model::*;
use pulse::poller::clock::ManualClock;
use receivers::{HttpReceiver, Mode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_764_000_000_000;

fn fleet(hot: bool) -> State {
    let guest = Guest {
        id: "lab-pve1-101".into(),
        vmid: 101,
        name: "web".into(),
        node: "pve1".into(),
        instance: "lab".into(),
        status: "running".into(),
        kind: "qemu",
        cpu: if hot { 0.95 } else { 0.2 },
        ..Default::default()
    };
    let node = Node {
        id: "lab-pve1".into(),
        node: "pve1".into(),
        name: "pve1".into(),
        instance: "lab".into(),
        status: "online".into(),
        kind: "node",
        connection_health: "healthy".into(),
        ..Default::default()
    };
    State {
        nodes: vec![node],
        vms: vec![guest.into()],
        connection_health: [("lab".to_string(), true)].into(),
        ..Default::default()
    }
}

#[test]
fn raised_and_resolved_alerts_are_delivered() {
    let rx = HttpReceiver::start(Mode::Ok);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = pulse::store::Store::open(dir.path()).unwrap();
    // Loopback allowed through the persisted system setting (not the environment).
    store
        .put_setting(
            "system",
            &json!({"webhookAllowedPrivateCIDRs": "127.0.0.1"}),
        )
        .unwrap();
    let srv = InProcess::serve(store, dir.path(), Arc::new(clock.clone()));
    let state = &srv.state;
    let n = state.inner.notify.clone();
    n.start().unwrap();
    n.attach_alerts(state.inner.alerts.clone()).unwrap();
    let post = |p: &str, v: Value| srv.post(p, &v.to_string());

    let r = post(
        "/api/notifications/webhooks",
        json!({"name": "rx", "url": rx.url("/a"), "enabled": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        "/api/notifications",
        json!({"notifyOnResolved": true, "maxAttempts": 3}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(post("/api/alerts/activate", json!({})).status, 200);
    let mut cfg = srv.get("/api/alerts/config");
    cfg["schedule"]["grouping"]["window"] = 1.into();
    cfg["schedule"]["groupingWindow"] = 1.into();
    let r = srv.send("PUT", "/api/alerts/config", &cfg.to_string());
    assert_eq!(r.status, 200, "{}", r.text());

    state.publish_state(fleet(false));
    for _ in 0..3 {
        clock.advance(10_000);
        state.publish_state(fleet(true));
    }
    rx.wait_for(15, "alert notification", |r| !r.is_empty());
    let first = rx.all()[0].json();
    assert_eq!(first["event"], "alert");
    assert_eq!(first["alerts"][0]["id"], "lab-101-cpu", "{first}");
    assert_eq!(first["alerts"][0]["level"], "critical");

    clock.advance(10_000);
    state.publish_state(fleet(false));
    rx.wait_for(15, "resolved notification", |r| r.len() >= 2);
    let second = rx.all()[1].json();
    assert_eq!(second["event"], "resolved", "{second}");
    assert_eq!(second["alerts"][0]["id"], "lab-101-cpu");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rx.count(), 2, "one notification each, no duplicates");
    n.shutdown();
    srv.stop();
}
