//! Shared by the live black-box tests (`live_truth`, `live_faults`, `live_economy`): a real
//! `pulse serve` with 1 s poll intervals and a short request timeout, the simulator's
//! instances added through `POST /api/config/nodes`, and helpers to wait on `/api/state` and
//! `/api/monitoring/scheduler/health`.
#![allow(dead_code)]

use crate::common::sim::Sim;
use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Seconds between polls of every product in these tests (one "cycle").
pub const CYCLE_S: u64 = 1;
/// `CONNECTION_TIMEOUT` in these tests: a hung request fails after this long.
pub const TIMEOUT_S: u64 = 2;

/// A `pulse serve` on a free port with 1 s poll intervals; stderr discarded.
pub fn server(extra_env: &[(&str, &str)]) -> Server {
    let cycle = CYCLE_S.to_string();
    let timeout = TIMEOUT_S.to_string();
    let mut envs: Vec<(&str, &str)> = vec![
        ("PVE_POLLING_INTERVAL", &cycle),
        ("PBS_POLLING_INTERVAL", &cycle),
        ("PMG_POLLING_INTERVAL", &cycle),
        ("CONNECTION_TIMEOUT", &timeout),
    ];
    envs.extend_from_slice(extra_env);
    start_with(&envs)
}

/// The `/api/config/nodes` body that monitors simulator instance `name` (token auth where
/// the product has tokens, password for PMG; certificate pinned by fingerprint).
pub fn node_body(sim: &Sim, name: &str) -> Value {
    let i = sim.inst(name);
    let mut b = json!({
        "type": i["kind"], "name": name, "host": i["url"], "fingerprint": i["fingerprint"],
    });
    if i["tokenId"].is_string() {
        b["tokenName"] = i["tokenId"].clone();
        b["tokenValue"] = i["tokenValue"].clone();
    } else {
        b["user"] = i["user"].clone();
        b["password"] = i["password"].clone();
    }
    b
}

/// Adds every simulator instance as a configured node; returns their names.
pub fn add_all(s: &Server, sim: &Sim) -> Vec<String> {
    let mut names = Vec::new();
    for i in sim.doc["instances"].as_array().unwrap() {
        let name = i["name"].as_str().unwrap().to_string();
        let r = send(
            "POST",
            &s.url("/api/config/nodes"),
            &[("Content-Type", "application/json")],
            node_body(sim, &name).to_string().as_bytes(),
        );
        assert_eq!(r.status, 201, "{name}: {}", r.text());
        names.push(name);
    }
    names
}

/// The `connectionHealth` key of a simulator instance (`pbs-<name>`, `pmg-<name>`, PVE bare).
pub fn health_key(sim: &Sim, name: &str) -> String {
    match sim.inst(name)["kind"].as_str().unwrap() {
        "pve" => name.to_string(),
        k => format!("{k}-{name}"),
    }
}

pub fn state(s: &Server) -> Value {
    let r = get(&s.url("/api/state"), &[]);
    assert_eq!(r.status, 200);
    r.json()
}

pub fn sched_health(s: &Server) -> Value {
    let r = get(&s.url("/api/monitoring/scheduler/health"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The scheduler-health `instances[]` entry of a simulator instance.
pub fn sched_instance(h: &Value, kind: &str, name: &str) -> Value {
    h["instances"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|i| i["type"] == kind && i["instance"] == name)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no scheduler entry {kind}::{name}: {h}"))
}

/// Polls `f` every 100 ms until it returns `Some`, or panics with the last value after `limit`.
pub fn wait_until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) => assert!(
                started.elapsed() < limit,
                "{what} not seen within {limit:?}; last: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until every named instance reports healthy in `connectionHealth`.
pub fn wait_all_healthy(s: &Server, sim: &Sim, names: &[String], limit: Duration) -> Value {
    wait_until(limit, "all instances healthy", || {
        let st = state(s);
        let ok = names
            .iter()
            .all(|n| st["connectionHealth"][health_key(sim, n)] == true);
        if ok {
            Ok(st)
        } else {
            Err(st["connectionHealth"].to_string())
        }
    })
}

/// Threads of process `pid` (`/proc/<pid>/task`).
pub fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A simulator with a frozen clock (so every value is exactly reproducible) and `extra` flags.
pub fn sim(extra: &[&str]) -> Sim {
    Sim::start(extra)
}
