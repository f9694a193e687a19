//! Ground truth: a real `pulse serve` monitors a simulated fleet (two clusters, a standalone
//! node, a PBS and a PMG) added through `POST /api/config/nodes`, and `/api/state` is compared
//! with the simulator's `GET /truth`: counts per kind, statuses, CPU/memory/disk figures,
//! storage usage, PBS datastores and PMG mail figures. The simulator's clock is frozen, so
//! every value is exact; then simulated time is stepped and the state must follow within
//! two poll cycles.

mod common;
#[path = "support/live_harness.rs"]
mod harness;

use common::sim::Sim;
use harness::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const PVE: [&str; 3] = ["cluster1", "cluster2", "standalone1"];

fn fleet() -> Sim {
    sim(&[
        "--clusters",
        "2",
        "--nodes",
        "3",
        "--guests",
        "24",
        "--standalone",
        "1",
        "--pbs",
        "1",
        "--pmg",
        "1",
        "--seed",
        "11",
    ])
}

fn of<'a>(st: &'a Value, key: &str, instance: &str) -> Vec<&'a Value> {
    st[key]
        .as_array()
        .map(|a| a.iter().filter(|x| x["instance"] == instance).collect())
        .unwrap_or_default()
}

fn f(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn close(a: f64, b: f64, tol: f64, what: &str) -> Result<(), String> {
    if (a - b).abs() <= tol {
        Ok(())
    } else {
        Err(format!("{what}: state {a} vs truth {b}"))
    }
}

/// Compares one PVE instance of `/api/state` with its truth; `Err` names the first mismatch.
fn check_pve(st: &Value, truth: &Value, name: &str) -> Result<(), String> {
    // Nodes: same names, same statuses, CPU and memory of online nodes.
    let want: BTreeMap<String, &Value> = truth["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"].as_str().unwrap().to_string(), n))
        .collect();
    let have: BTreeMap<String, &Value> = of(st, "nodes", name)
        .into_iter()
        .map(|n| (n["node"].as_str().unwrap().to_string(), n))
        .collect();
    if want.keys().collect::<Vec<_>>() != have.keys().collect::<Vec<_>>() {
        return Err(format!(
            "{name} nodes: {:?} vs truth {:?}",
            have.keys(),
            want.keys()
        ));
    }
    for (n, t) in &want {
        let s = have[n];
        if s["status"] != t["status"] {
            return Err(format!(
                "{name}/{n} status {} vs {}",
                s["status"], t["status"]
            ));
        }
        if t["status"] == "online" {
            close(f(&s["cpu"]), f(&t["cpu"]), 1e-6, &format!("{name}/{n} cpu"))?;
            close(
                f(&s["memory"]["total"]),
                f(&t["maxmem"]),
                0.0,
                &format!("{name}/{n} memory.total"),
            )?;
            close(
                f(&s["cpuInfo"]["cores"]),
                f(&t["maxcpu"]),
                0.0,
                &format!("{name}/{n} cores"),
            )?;
        }
    }

    // Guests: templates are not listed; every other guest with its status and figures.
    let resources = truth["resources"].as_array().unwrap();
    for (kind, key) in [("qemu", "vms"), ("lxc", "containers")] {
        let want: BTreeMap<u64, &Value> = resources
            .iter()
            .filter(|r| r["type"] == kind && f(&r["template"]) != 1.0)
            .map(|r| (f(&r["vmid"]) as u64, r))
            .collect();
        let have: BTreeMap<u64, &Value> = of(st, key, name)
            .into_iter()
            .map(|g| (g["vmid"].as_u64().unwrap(), g))
            .collect();
        if want.keys().collect::<Vec<_>>() != have.keys().collect::<Vec<_>>() {
            return Err(format!(
                "{name} {key}: {:?} vs truth {:?}",
                have.keys(),
                want.keys()
            ));
        }
        for (vmid, t) in &want {
            let g = have[vmid];
            let what = format!("{name} {kind} {vmid}");
            if g["status"] != t["status"] || g["node"] != t["node"] || g["name"] != t["name"] {
                return Err(format!(
                    "{what}: {}/{}/{} vs truth {}/{}/{}",
                    g["status"], g["node"], g["name"], t["status"], t["node"], t["name"]
                ));
            }
            let expected_id = format!("{name}-{}-{vmid}", t["node"].as_str().unwrap());
            if g["id"] != expected_id.as_str() {
                return Err(format!("{what}: id {} vs {expected_id}", g["id"]));
            }
            close(f(&g["cpus"]), f(&t["maxcpu"]), 0.0, &format!("{what} cpus"))?;
            if t["status"] == "running" {
                close(f(&g["cpu"]), f(&t["cpu"]), 1e-6, &format!("{what} cpu"))?;
                close(
                    f(&g["uptime"]),
                    f(&t["uptime"]),
                    0.0,
                    &format!("{what} uptime"),
                )?;
            } else if f(&g["cpu"]) != 0.0 {
                return Err(format!("{what}: not running but cpu {}", g["cpu"]));
            }
            if kind == "lxc" {
                close(
                    f(&g["memory"]["used"]),
                    f(&t["mem"]),
                    0.0,
                    &format!("{what} mem"),
                )?;
                close(
                    f(&g["memory"]["total"]),
                    f(&t["maxmem"]),
                    0.0,
                    &format!("{what} maxmem"),
                )?;
            }
            if kind == "qemu" && f(&g["disk"]["usage"]) < 0.0 {
                // Without agent filesystems the disk is the configured size PVE reports.
                close(
                    f(&g["disk"]["total"]),
                    f(&t["maxdisk"]),
                    0.0,
                    &format!("{what} disk total"),
                )?;
            }
        }
    }

    // Storage: every (node, storage) of the truth is shown with its figures; shared ones once.
    // PVE reports `shared` per storage in /cluster/resources (NFS, Ceph and PBS are shared by
    // nature, without a `shared` key in the /storage config).
    let shared: BTreeSet<&str> = resources
        .iter()
        .filter(|r| r["type"] == "storage" && f(&r["shared"]) == 1.0)
        .filter_map(|r| r["storage"].as_str())
        .collect();
    let st_storage = of(st, "storage", name);
    for t in resources.iter().filter(|r| r["type"] == "storage") {
        let sname = t["storage"].as_str().unwrap();
        let node = t["node"].as_str().unwrap();
        if t["status"] != "available" {
            continue; // disabled/inactive storages report no figures
        }
        let s = if shared.contains(sname) {
            st_storage
                .iter()
                .find(|s| s["storage"] == sname && s["shared"] == true)
        } else {
            st_storage
                .iter()
                .find(|s| s["storage"] == sname && s["node"] == node)
        };
        let Some(s) = s else {
            return Err(format!("{name}: storage {node}/{sname} missing"));
        };
        if shared.contains(sname) {
            // One merged entry listing every node that reports it.
            if !s["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x == node))
            {
                return Err(format!("{name}: shared {sname} lacks node {node}: {s}"));
            }
            continue;
        }
        close(
            f(&s["total"]),
            f(&t["maxdisk"]),
            0.0,
            &format!("{name} {node}/{sname} total"),
        )?;
        close(
            f(&s["used"]),
            f(&t["disk"]),
            0.0,
            &format!("{name} {node}/{sname} used"),
        )?;
        let usage = if f(&t["maxdisk"]) > 0.0 {
            f(&t["disk"]) / f(&t["maxdisk"]) * 100.0
        } else {
            0.0
        };
        close(
            f(&s["usage"]),
            usage,
            0.01,
            &format!("{name} {node}/{sname} usage"),
        )?;
    }
    Ok(())
}

fn check_pbs(st: &Value, truth: &Value) -> Result<(), String> {
    let pbs = st["pbs"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "pbs1"))
        .ok_or("pbs1 missing")?;
    let node = &truth["node"];
    close(
        f(&pbs["cpu"]),
        f(&node["cpu"]) * 100.0,
        1e-6,
        "pbs cpu (percent)",
    )?;
    close(
        f(&pbs["memoryTotal"]),
        f(&node["memory"]["total"]),
        0.0,
        "pbs memoryTotal",
    )?;
    close(
        f(&pbs["memoryUsed"]),
        f(&node["memory"]["used"]),
        0.0,
        "pbs memoryUsed",
    )?;
    if pbs["version"].as_str().unwrap_or("") != truth["version"]["version"].as_str().unwrap() {
        return Err(format!("pbs version {}", pbs["version"]));
    }
    let stores = truth["datastores"].as_array().unwrap();
    let have = pbs["datastores"].as_array().ok_or("no datastores")?;
    if have.len() != stores.len() {
        return Err(format!("datastores {} vs {}", have.len(), stores.len()));
    }
    for t in stores {
        let ds = t["store"].as_str().unwrap();
        let s = have
            .iter()
            .find(|d| d["name"] == ds)
            .ok_or(format!("datastore {ds} missing"))?;
        close(f(&s["total"]), f(&t["status"]["total"]), 0.0, "ds total")?;
        close(f(&s["used"]), f(&t["status"]["used"]), 0.0, "ds used")?;
        // Every namespace of the truth is listed.
        let ns: BTreeSet<&str> = s["namespaces"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n["path"].as_str()).collect())
            .unwrap_or_default();
        for n in t["namespaces"].as_array().unwrap() {
            if !ns.contains(n["ns"].as_str().unwrap()) {
                return Err(format!("{ds}: namespace {} missing", n["ns"]));
            }
        }
    }
    // PBS backups: one entry per snapshot of every namespace.
    let snapshots: usize = stores
        .iter()
        .flat_map(|d| d["namespaces"].as_array().unwrap())
        .map(|n| n["snapshots"].as_array().map_or(0, Vec::len))
        .sum();
    let backups = st["pbsBackups"].as_array().map_or(0, Vec::len);
    if backups != snapshots {
        return Err(format!(
            "pbsBackups {backups} vs truth snapshots {snapshots}"
        ));
    }
    Ok(())
}

fn check_pmg(st: &Value, truth: &Value) -> Result<(), String> {
    let pmg = st["pmg"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "pmg1"))
        .ok_or("pmg1 missing")?;
    let m = &pmg["mailStats"];
    let t = &truth["mail"];
    for (ours, theirs) in [
        ("countTotal", "count"),
        ("countIn", "count_in"),
        ("countOut", "count_out"),
        ("spamIn", "spamcount_in"),
        ("virusIn", "viruscount_in"),
        ("bytesIn", "bytes_in"),
        ("rblRejects", "rbl_rejects"),
    ] {
        // Mail counts are integers in PMG (the client reads them so); the simulator serves
        // a few with a .5 fraction, hence the half-mail tolerance.
        close(f(&m[ours]), f(&t[theirs]), 0.5, &format!("pmg {ours}"))?;
    }
    close(
        f(&m["averageProcessTimeMs"]),
        f(&t["avptime"]) * 1000.0,
        1e-6,
        "pmg averageProcessTimeMs",
    )?;
    let nodes = pmg["nodes"].as_array().map_or(0, Vec::len);
    let want = truth["cluster"].as_array().map_or(0, Vec::len);
    if nodes != want {
        return Err(format!("pmg nodes {nodes} vs {want}"));
    }
    close(
        f(&pmg["quarantine"]["spam"]),
        f(&truth["spam"]["count"]),
        0.0,
        "pmg quarantine spam",
    )?;
    Ok(())
}

fn check_all(st: &Value, sim: &Sim) -> Result<(), String> {
    for name in PVE {
        check_pve(st, &sim.truth(name), name)?;
    }
    check_pbs(st, &sim.truth("pbs1"))?;
    check_pmg(st, &sim.truth("pmg1"))
}

#[test]
fn api_state_agrees_with_the_simulators_ground_truth() {
    let sim = fleet();
    let s = server(&[]);
    let names = add_all(&s, &sim);
    assert_eq!(names.len(), 5);
    wait_all_healthy(&s, &sim, &names, Duration::from_secs(30));

    // Counts per kind over the whole state.
    let truths: Vec<Value> = PVE.iter().map(|n| sim.truth(n)).collect();
    let count = |kind: &str| -> usize {
        truths
            .iter()
            .flat_map(|t| t["resources"].as_array().unwrap())
            .filter(|r| r["type"] == kind && f(&r["template"]) != 1.0)
            .count()
    };
    let st = wait_until(Duration::from_secs(20), "exact agreement", || {
        let st = state(&s);
        check_all(&st, &sim).map(|_| st)
    });
    let nodes: usize = truths
        .iter()
        .map(|t| t["nodes"].as_array().unwrap().len())
        .sum();
    assert_eq!(st["nodes"].as_array().unwrap().len(), nodes);
    assert_eq!(st["vms"].as_array().unwrap().len(), count("qemu"));
    assert_eq!(st["containers"].as_array().unwrap().len(), count("lxc"));
    assert_eq!(st["pbs"].as_array().unwrap().len(), 1);
    assert_eq!(st["pmg"].as_array().unwrap().len(), 1);
    assert!(count("qemu") > 10 && count("lxc") > 5, "a real fleet");
    // Ceph clusters only where the truth has one (3-node clusters do).
    let ceph = truths.iter().filter(|t| !t["ceph"].is_null()).count();
    assert_eq!(st["cephClusters"].as_array().map_or(0, Vec::len), ceph);

    // Simulated time moves an hour: values change, and the state follows within 2 cycles
    // (plus the per-guest work of one poll).
    let before = sim.truth("cluster1")["resources"].clone();
    let (code, _) = sim.admin_send("POST", "/clock/advance", r#"{"seconds":3600}"#);
    assert_eq!(code, 200);
    assert_ne!(
        sim.truth("cluster1")["resources"],
        before,
        "the fleet moved"
    );
    wait_until(
        Duration::from_secs(2 * CYCLE_S + 8),
        "agreement after time moved",
        || check_all(&state(&s), &sim),
    );

    // A node goes offline: after the documented 60 s grace against flapping
    // (spec/polling-scheduler.md) its status and its guests follow the truth.
    let (code, body) = sim.admin_send(
        "POST",
        "/faults",
        r#"{"instance":"cluster1","offlineNodes":["c1-pve2"]}"#,
    );
    assert_eq!(code, 200, "{body}");
    let started = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(3 * CYCLE_S));
    let st = state(&s);
    let status = |st: &Value| {
        of(st, "nodes", "cluster1")
            .into_iter()
            .find(|n| n["node"] == "c1-pve2")
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&st), "online", "still in grace");
    let st = wait_until(
        Duration::from_secs(60 + 2 * CYCLE_S + 8),
        "offline node agreement",
        || {
            let st = state(&s);
            check_pve(&st, &sim.truth("cluster1"), "cluster1").map(|_| st)
        },
    );
    assert!(started.elapsed() >= Duration::from_secs(55), "grace kept");
    assert_eq!(status(&st), "offline");
    assert_eq!(
        st["connectionHealth"]["cluster1"], true,
        "the cluster answers"
    );
}

/// `/ws` against real polls: welcome, initialState with the fleet, then rawData every cycle;
/// a connected client that never reads does not hold the stream up.
#[test]
fn websocket_streams_each_poll_while_a_stalled_client_is_connected() {
    use tungstenite::Message;
    let sim = sim(&[
        "--clusters",
        "1",
        "--nodes",
        "2",
        "--guests",
        "10",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
    ]);
    let s = server(&[]);
    let names = add_all(&s, &sim);
    wait_all_healthy(&s, &sim, &names, Duration::from_secs(30));
    let url = format!("ws://127.0.0.1:{}/ws", s.port);
    let (_stalled, _) = tungstenite::connect(&url).unwrap();
    let (mut ws, _) = tungstenite::connect(&url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_ref() {
        t.set_read_timeout(Some(Duration::from_secs(2 * CYCLE_S + 5)))
            .unwrap();
    }
    let mut next = || loop {
        match ws.read().expect("frame within 2 cycles") {
            Message::Text(t) => return serde_json::from_str::<Value>(t.as_str()).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(next()["type"], "welcome");
    let init = next();
    assert_eq!(init["type"], "initialState");
    assert_eq!(init["data"]["nodes"].as_array().unwrap().len(), 2);
    let mut last = init["data"]["lastUpdate"].as_i64().unwrap();
    let started = std::time::Instant::now();
    let mut raw = 0;
    while raw < 4 {
        let m = next();
        if m["type"] != "rawData" {
            continue;
        }
        let t = m["data"]["lastUpdate"].as_i64().unwrap();
        assert!(t > last, "each rawData is a newer state");
        assert_eq!(m["data"]["nodes"].as_array().unwrap().len(), 2);
        last = t;
        raw += 1;
    }
    // Four polls' worth of updates in about four cycles (each poll takes its own time too).
    assert!(
        started.elapsed() < Duration::from_secs(4 * (CYCLE_S + 2)),
        "{:?}",
        started.elapsed()
    );
}
