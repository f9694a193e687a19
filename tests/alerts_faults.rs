//! Alerts end to end against the simulator: the real `pulse` binary polls a `pulse simulate`
//! instance (frozen clock, so only injected faults move the numbers); faults are injected
//! through the simulator's admin `/faults` endpoint — a node offline, a guest at 95 % CPU, a
//! full storage — and each alert must appear in `/api/alerts/active` and
//! `/api/state.activeAlerts` within the configured grace time, then resolve once the fault is
//! lifted. A PBS verification job that fails (`failedVerifies`) raises a critical alert that
//! resolves once the job passes again. An acknowledgement survives a restart of the server on
//! the same data dir.

mod common;

use common::sim::Sim;
use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Grace periods set through the config API: short, but long enough to be observable.
const GRACE_S: u64 = 2;
/// Generous slack on top of the grace for a busy CI machine (polls every second).
const SLACK: Duration = Duration::from_secs(25);

fn json_send(s: &Server, method: &str, path: &str, body: &Value) -> Reply {
    send(
        method,
        &s.url(path),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn get_json(s: &Server, path: &str) -> Value {
    let r = get(&s.url(path), &[]);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

fn find<'a>(list: &'a Value, pred: &dyn Fn(&Value) -> bool) -> Option<&'a Value> {
    list.as_array()?.iter().find(|a| pred(a))
}

/// Waits until `pred` holds for `/api/alerts/active` and `/api/state.activeAlerts` alike;
/// returns the matching alert (or `Value::Null` when waiting for absence).
fn wait_alert(s: &Server, what: &str, present: bool, pred: &dyn Fn(&Value) -> bool) -> Value {
    wait_alert_for(s, what, present, Duration::ZERO, pred)
}

/// As `wait_alert`, allowing `extra` on top of the grace period and slack.
fn wait_alert_for(
    s: &Server,
    what: &str,
    present: bool,
    extra: Duration,
    pred: &dyn Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let active = get_json(s, "/api/alerts/active");
        let state = get_json(s, "/api/state");
        let a = find(&active, pred).cloned();
        let b = find(&state["activeAlerts"], pred).cloned();
        if a.is_some() == present && b.is_some() == present {
            return a.unwrap_or(Value::Null);
        }
        assert!(
            started.elapsed() < Duration::from_secs(GRACE_S) + SLACK + extra,
            "{what}: expected present={present}; active={active}; nodes={}",
            state["nodes"]
                .as_array()
                .map(|n| n
                    .iter()
                    .map(|n| format!("{} {} {}", n["id"], n["status"], n["connectionHealth"]))
                    .collect::<Vec<_>>())
                .unwrap_or_default()
                .join(", ")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_server(dir: &std::path::Path) -> Server {
    let port = free_port();
    let mut cmd = command(dir, port);
    cmd.env("PVE_POLLING_INTERVAL", "1")
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    let s = Server {
        child,
        port,
        dir: dir.to_path_buf(),
        _tmp: None,
    };
    wait_healthy(&s.url("/api/health"), Duration::from_secs(15));
    s
}

fn sim() -> Sim {
    Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "3",
        "--guests",
        "12",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
        "--seed",
        "11",
    ])
}

/// Adds the simulator as a node and sets short grace periods; returns the first state that
/// shows every node online.
fn configure(s: &Server, sim: &Sim) -> Value {
    let inst = &sim.doc["instances"][0];
    let body = json!({
        "type": "pve", "name": "lab", "host": inst["url"],
        "tokenName": inst["tokenId"], "tokenValue": inst["tokenValue"],
        "fingerprint": inst["fingerprint"],
    });
    let r = json_send(s, "POST", "/api/config/nodes", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    // Thresholds: CPU 93/90 (the injected guest runs at 95 %), storage 90/85 (the full
    // storage is at 99 %); grace periods of GRACE_S seconds for every resource kind.
    let grace = json!({"guest": GRACE_S, "node": GRACE_S, "storage": GRACE_S, "pbs": GRACE_S});
    let cfg = json!({
        "enabled": true,
        "activationState": "active",
        "guestDefaults": {"cpu": {"trigger": 93, "clear": 90}},
        "nodeDefaults": {"cpu": {"trigger": 99, "clear": 98}},
        "storageDefault": {"trigger": 90, "clear": 85},
        "timeThresholds": grace,
    });
    let r = json_send(s, "PUT", "/api/alerts/config", &cfg);
    assert_eq!(r.status, 200, "{}", r.text());
    let saved = get_json(s, "/api/alerts/config");
    assert_eq!(saved["timeThresholds"]["guest"], GRACE_S);
    let started = Instant::now();
    loop {
        let st = get_json(s, "/api/state");
        let online = st["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["status"] == "online"));
        if online && st["vms"].as_array().is_some_and(|v| !v.is_empty()) {
            return st;
        }
        assert!(started.elapsed() < SLACK, "fleet not seen: {st}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn fault(sim: &Sim, body: Value) {
    let (status, reply) = sim.admin_send("POST", "/faults", &body.to_string());
    assert_eq!(status, 200, "{reply}");
}

/// The running VM with the lowest CPU: far below the 93 % trigger on its own, so only the
/// injected fault can raise its alert (the frozen simulator clock keeps its value fixed).
fn quiet_guest(st: &Value) -> Value {
    let g = st["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] == "running" && g["template"] != true)
        .min_by(|a, b| {
            a["cpu"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["cpu"].as_f64().unwrap())
        })
        .expect("a running VM")
        .clone();
    assert!(g["cpu"].as_f64().unwrap() < 0.5, "{g}");
    g
}

#[test]
fn injected_faults_raise_alerts_that_resolve_when_lifted() {
    let sim = sim();
    // The new fault keys are validated like the others: wrong types are a 400, nothing applied.
    for bad in [r#"{"hotGuests": ["101"]}"#, r#"{"fullStorages": "local"}"#] {
        let (status, reply) = sim.admin_send("POST", "/faults", bad);
        assert_eq!(status, 400, "{bad}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start_server(tmp.path());
    let st = configure(&s, &sim);
    let guest = quiet_guest(&st);
    let vmid = guest["vmid"].as_u64().unwrap();
    let gname = guest["name"].as_str().unwrap().to_string();
    let gnode = guest["node"].as_str().unwrap().to_string();
    let hot = |a: &Value| {
        a["type"] == "cpu" && a["resourceName"] == gname.as_str() && a["node"] == gnode.as_str()
    };
    // Offline: a node other than the guest's, so the guest stays observable.
    let node = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] != gnode.as_str())
        .unwrap()
        .clone();
    let node_name = node["node"].as_str().unwrap().to_string();
    let offline_id = format!("node-offline-{}", node["id"].as_str().unwrap());
    let storage = find(&st["storage"], &|x| {
        x["name"] == "local" && x["node"] == gnode.as_str()
    })
    .expect("local storage on the guest's node")
    .clone();
    let storage_id = format!("{}-usage", storage["id"].as_str().unwrap());
    assert!(storage["usage"].as_f64().unwrap() < 85.0, "{storage}");

    // The poller itself shows a node offline only after it has been unreachable for a
    // minute (OFFLINE_GRACE_MS: a reboot is not an outage); the engine's grace comes on top.
    let node_grace = Duration::from_secs(60);
    for (what, on, off, extra, pred) in [
        (
            "guest at 95 % CPU",
            json!({"hotGuests": [vmid]}),
            json!({"hotGuests": []}),
            Duration::ZERO,
            Box::new(hot) as Box<dyn Fn(&Value) -> bool>,
        ),
        (
            "node offline",
            json!({"offlineNodes": [node_name]}),
            json!({"onlineNodes": [node_name]}),
            node_grace,
            Box::new(|a: &Value| a["id"] == offline_id.as_str()),
        ),
        (
            "full storage",
            json!({"fullStorages": ["local"]}),
            json!({"fullStorages": []}),
            Duration::ZERO,
            Box::new(|a: &Value| a["id"] == storage_id.as_str()),
        ),
    ] {
        wait_alert(&s, what, false, &*pred);
        let injected = Instant::now();
        fault(&sim, on);
        let a = wait_alert_for(&s, what, true, extra, &*pred);
        let took = injected.elapsed();
        // Not before the grace period (plus the poll that first saw the fault).
        assert!(
            took >= Duration::from_secs(GRACE_S) + extra,
            "{what} after {took:?}"
        );
        match what {
            "guest at 95 % CPU" => {
                assert_eq!(a["value"].as_f64().map(f64::round), Some(95.0), "{a}");
                assert_eq!(a["threshold"], 93.0);
                assert_eq!(a["metadata"]["clearThreshold"], 90.0);
            }
            "full storage" => {
                assert!(a["value"].as_f64().unwrap() >= 98.9, "{a}");
                // Critical only 10 points above the trigger (100 %): 99 % is a warning.
                assert_eq!(a["level"], "warning", "{a}");
                assert_eq!(a["metadata"]["clearThreshold"], 85.0);
            }
            _ => assert_eq!(a["level"], "critical", "{a}"),
        }
        fault(&sim, off);
        wait_alert(&s, what, false, &*pred);
        // The resolution is in the history.
        let hist = get_json(&s, "/api/alerts/history?limit=0");
        let h = find(&hist, &|h| h["id"] == a["id"]).unwrap_or_else(|| panic!("{hist}"));
        assert!(h["resolvedTime"].is_string(), "{h}");
    }
    assert_eq!(s.stop().code(), Some(0));
}

#[test]
fn acknowledgement_survives_a_server_restart() {
    let sim = sim();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start_server(tmp.path());
    let st = configure(&s, &sim);
    let guest = quiet_guest(&st);
    let gname = guest["name"].as_str().unwrap().to_string();
    let gnode = guest["node"].as_str().unwrap().to_string();
    let hot = move |a: &Value| {
        a["type"] == "cpu" && a["resourceName"] == gname.as_str() && a["node"] == gnode.as_str()
    };
    fault(&sim, json!({"hotGuests": [guest["vmid"]]}));
    let a = wait_alert(&s, "hot guest", true, &hot);
    let id = a["id"].as_str().unwrap().to_string();
    let escaped: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let r = send(
        "POST",
        &s.url(&format!("/api/alerts/{escaped}/acknowledge")),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let before = wait_alert(&s, "acknowledged", true, &|x| {
        x["id"] == id.as_str() && x["acknowledged"] == true
    });
    assert_eq!(s.stop().code(), Some(0));

    // Same data dir: the node config and the acknowledged alert are both still there.
    let s = start_server(tmp.path());
    let after = wait_alert(&s, "acknowledged after restart", true, &|x| {
        x["id"] == id.as_str() && x["acknowledged"] == true
    });
    assert_eq!(after["ackTime"], before["ackTime"]);
    assert_eq!(after["startTime"], before["startTime"]);
    // Polls resume and still see the fault: the same alert, still acknowledged.
    let polled = get_json(&s, "/api/state")["lastUpdate"]
        .as_i64()
        .unwrap_or(0);
    let started = Instant::now();
    while get_json(&s, "/api/state")["lastUpdate"]
        .as_i64()
        .unwrap_or(0)
        <= polled + 2_000
    {
        assert!(started.elapsed() < SLACK, "no polls after the restart");
        std::thread::sleep(Duration::from_millis(200));
    }
    let still = wait_alert(&s, "still acknowledged", true, &|x| x["id"] == id.as_str());
    assert_eq!(still["acknowledged"], true, "{still}");
    assert_eq!(still["startTime"], before["startTime"]);
    // Lifting the fault resolves it.
    fault(&sim, json!({"hotGuests": []}));
    wait_alert(&s, "resolved", false, &|x| x["id"] == id.as_str());
}

#[test]
fn failed_pbs_verify_job_raises_a_critical_alert_until_it_passes() {
    let sim = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "1",
        "--guests",
        "2",
        "--standalone",
        "0",
        "--pbs",
        "1",
        "--pmg",
        "0",
        "--seed",
        "11",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = command(tmp.path(), port);
    cmd.env("PBS_POLLING_INTERVAL", "1")
        .stderr(std::process::Stdio::null());
    let mut s = Server {
        child: cmd.spawn().unwrap(),
        port,
        dir: tmp.path().to_path_buf(),
        _tmp: None,
    };
    wait_healthy(&s.url("/api/health"), Duration::from_secs(15));
    let i = sim.inst("pbs1");
    let mut body =
        json!({"type": "pbs", "name": "backup", "host": i["url"], "fingerprint": i["fingerprint"]});
    if i["tokenId"].is_string() {
        body["tokenName"] = i["tokenId"].clone();
        body["tokenValue"] = i["tokenValue"].clone();
    } else {
        body["user"] = i["user"].clone();
        body["password"] = i["password"].clone();
    }
    let r = json_send(&s, "POST", "/api/config/nodes", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = json_send(
        &s,
        "PUT",
        "/api/alerts/config",
        &json!({"enabled": true, "activationState": "active"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The job results arrive with the first poll; pick a datastore whose last verification passed.
    let started = Instant::now();
    let (pbs_id, job) = loop {
        let st = get_json(&s, "/api/state");
        let pbs = &st["pbs"][0];
        if let Some(jobs) = pbs["verifyJobs"].as_array().filter(|j| !j.is_empty()) {
            let ok = jobs
                .iter()
                .find(|j| j["status"] == "ok")
                .expect("a passing verify job")
                .clone();
            assert!(
                ok["id"]
                    .as_str()
                    .unwrap()
                    .starts_with(ok["store"].as_str().unwrap()),
                "{ok}"
            );
            break (pbs["id"].as_str().unwrap().to_string(), ok);
        }
        assert!(started.elapsed() < SLACK, "no verify jobs: {}", st["pbs"]);
        std::thread::sleep(Duration::from_millis(200));
    };
    let alert_id = format!("pbs-job-{pbs_id}-verify-{}", job["id"].as_str().unwrap());
    let is_it = |a: &Value| a["id"] == alert_id.as_str();
    wait_alert(&s, "failed verify", false, &is_it);

    fault(&sim, json!({"failedVerifies": [job["store"]]}));
    let a = wait_alert(&s, "failed verify", true, &is_it);
    assert_eq!(a["level"], "critical", "{a}");
    assert!(a["message"].as_str().unwrap().contains("verify job"), "{a}");
    let st = get_json(&s, "/api/state");
    let failed = find(&st["pbs"][0]["verifyJobs"], &|j| j["id"] == job["id"])
        .unwrap()
        .clone();
    assert_eq!(failed["status"], "error", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("failed"),
        "{failed}"
    );

    fault(&sim, json!({"failedVerifies": []}));
    wait_alert(&s, "failed verify", false, &is_it);
    assert_eq!(s.stop().code(), Some(0));
}
