//! `pulse serve --demo` end to end: the built-in simulator monitored through the real
//! clients and pollers; a second simulator added through `/api/config/nodes`; `/ws`
//! streaming the live fleet; mock mode switched off and on.

mod common;

use common::sim::Sim;
use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn state(s: &Server) -> Value {
    get(&s.url("/api/state"), &[]).json()
}

/// Polls `/api/state` until `pred` holds (or panics after `limit`).
fn wait_for(s: &Server, limit: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let st = state(s);
        if pred(&st) {
            return st;
        }
        assert!(
            started.elapsed() < limit,
            "{what} not seen within {limit:?}: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn count(st: &Value, key: &str, instance: &str) -> usize {
    st[key]
        .as_array()
        .map(|a| a.iter().filter(|x| x["instance"] == instance).count())
        .unwrap_or(0)
}

#[test]
fn demo_fleet_second_simulator_and_websocket() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = command(tmp.path(), port);
    cmd.arg("--demo")
        .env("PVE_POLLING_INTERVAL", "1")
        .env("PBS_POLLING_INTERVAL", "1")
        .env("PMG_POLLING_INTERVAL", "1")
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    let mut s = Server {
        child,
        port,
        dir: tmp.path().to_path_buf(),
        _tmp: None,
    };
    wait_healthy(&s.url("/api/health"), Duration::from_secs(15));

    // The default demo fleet: one 3-node cluster, one standalone node, a PBS, a PMG.
    let st = wait_for(&s, Duration::from_secs(20), "demo fleet", |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 4)
            && st["pbs"].as_array().is_some_and(|p| p.len() == 1)
            && st["pmg"].as_array().is_some_and(|p| p.len() == 1)
    });
    assert_eq!(count(&st, "nodes", "cluster1"), 3);
    assert!(count(&st, "vms", "cluster1") + count(&st, "containers", "cluster1") >= 20);
    assert!(st["storage"].as_array().unwrap().len() >= 3);
    for key in ["cluster1", "standalone1", "pbs-pbs1", "pmg-pmg1"] {
        assert_eq!(
            st["connectionHealth"][key], true,
            "{key}: {}",
            st["connectionHealth"]
        );
    }
    for n in st["nodes"].as_array().unwrap() {
        assert_eq!(n["status"], "online");
        let cpu = n["cpu"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&cpu), "{cpu}");
        assert!(n["memory"]["total"].as_u64().unwrap() > 0);
    }
    let mock = get(&s.url("/api/system/mock-mode"), &[]).json();
    assert_eq!(mock["enabled"], true);

    // The live stream: initialState with the fleet, then rawData as polls land.
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        if let tungstenite::Message::Text(t) = ws.read().unwrap() {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            seen.push(v);
        }
    }
    assert_eq!(seen[0]["type"], "welcome");
    assert_eq!(seen[1]["type"], "initialState");
    assert_eq!(seen[1]["data"]["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(seen[2]["type"], "rawData");
    assert!(seen[2]["data"]["lastUpdate"].as_i64() >= seen[1]["data"]["lastUpdate"].as_i64());

    // A second, separate simulator added as a real node: its nodes appear.
    let second = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "2",
        "--guests",
        "6",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
        "--seed",
        "7",
    ]);
    let inst = &second.doc["instances"][0];
    let body = json!({
        "type": "pve", "name": "second", "host": inst["url"],
        "tokenName": inst["tokenId"], "tokenValue": inst["tokenValue"],
        "fingerprint": inst["fingerprint"],
    });
    let r = send(
        "POST",
        &s.url("/api/config/nodes"),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let st = wait_for(
        &s,
        Duration::from_secs(20),
        "second simulator's nodes",
        |st| count(st, "nodes", "second") == 2,
    );
    assert_eq!(st["connectionHealth"]["second"], true);
    assert!(count(&st, "vms", "second") + count(&st, "containers", "second") >= 1);

    // Demo off: the demo fleet leaves, the configured node stays.
    let r = send(
        "POST",
        &s.url("/api/system/mock-mode"),
        &[("Content-Type", "application/json")],
        br#"{"enabled":false}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["enabled"], false);
    let st = wait_for(&s, Duration::from_secs(10), "demo fleet gone", |st| {
        st["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["instance"] == "second"))
    });
    assert_eq!(count(&st, "nodes", "second"), 2);
    assert!(st["connectionHealth"].get("cluster1").is_none());
    let r = send(
        "PUT",
        &s.url("/api/system/mock-mode"),
        &[("Content-Type", "application/json")],
        br#"{"config":{"nodeCount":0}}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["fields"]["nodeCount"].is_string());
    let r = send(
        "PUT",
        &s.url("/api/system/mock-mode"),
        &[("Content-Type", "application/json")],
        br#"{"enabled":"yes"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(s.stop().code(), Some(0));
}

#[test]
fn charts_cover_every_guest_of_the_demo_fleet() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = command(tmp.path(), port);
    cmd.arg("--demo")
        .env("PVE_POLLING_INTERVAL", "1")
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    let s = Server {
        child,
        port,
        dir: tmp.path().to_path_buf(),
        _tmp: None,
    };
    wait_healthy(&s.url("/api/health"), Duration::from_secs(15));
    let st = wait_for(&s, Duration::from_secs(20), "guests", |st| {
        st["vms"].as_array().is_some_and(|v| !v.is_empty())
    });
    let points = |c: &Value, id: &str| c["data"][id]["cpu"].as_array().map_or(0, Vec::len);
    let first = get(&s.url("/api/charts?range=1h"), &[]).json();
    let guests: Vec<String> = st["vms"]
        .as_array()
        .unwrap()
        .iter()
        .chain(st["containers"].as_array().unwrap())
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    for id in &guests {
        assert!(points(&first, id) >= 1, "no cpu series for {id}");
        for m in ["memory", "disk", "netin", "netout", "diskread", "diskwrite"] {
            assert!(first["data"][id][m].is_array(), "{id} lacks {m}");
        }
    }
    for n in st["nodes"].as_array().unwrap() {
        assert!(first["nodeData"][n["id"].as_str().unwrap()]["cpu"].is_array());
    }
    // The finest tier has 10-second slots: after two more slots, every series has grown.
    std::thread::sleep(Duration::from_secs(21));
    let later = get(&s.url("/api/charts?range=1h"), &[]).json();
    let grown = guests
        .iter()
        .filter(|id| points(&later, id) > points(&first, id))
        .count();
    assert_eq!(grown, guests.len(), "series that gained points");
    // Every range answers from its tier; points are stamped with their slot's start, so the
    // oldest one is at most the run time plus one slot of that tier old.
    for (r, slot_ms) in [
        ("5m", 10_000),
        ("15m", 10_000),
        ("4h", 60_000),
        ("24h", 300_000),
        ("7d", 1_800_000),
        ("30d", 1_800_000),
    ] {
        let c = get(&s.url(&format!("/api/charts?range={r}")), &[]);
        assert_eq!(c.status, 200, "{r}");
        let now = c.json()["timestamp"].as_i64().unwrap();
        let oldest = c.json()["stats"]["oldestDataTimestamp"].as_i64().unwrap();
        assert!(
            oldest <= now && now - oldest <= 60_000 + slot_ms,
            "{r}: oldest point {} ms old",
            now - oldest
        );
    }
}
