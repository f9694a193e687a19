//! Black-box: the live-data views (`/api/backups*`, `/api/snapshots`, `/api/storage*`,
//! `/simple-stats`, `GET /api/config`) and system settings applied live, against the real
//! server binary monitoring a simulator through `/api/config/nodes`.

mod common;

use common::sim::Sim;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn state(s: &Server) -> Value {
    get(&s.url("/api/state"), &[]).json()
}

fn wait_for(s: &Server, limit: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let st = state(s);
        if pred(&st) {
            return st;
        }
        assert!(
            started.elapsed() < limit,
            "{what} not seen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(usize::MAX, Vec::len)
}

fn json_send(s: &Server, method: &str, path: &str, body: &Value) -> Reply {
    send(
        method,
        &s.url(path),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn add_node(s: &Server, sim: &Sim, inst: &str, kind: &str, as_name: &str) {
    let i = sim.inst(inst);
    let body = json!({
        "type": kind, "name": as_name, "host": i["url"],
        "tokenName": i["tokenId"], "tokenValue": i["tokenValue"],
        "fingerprint": i["fingerprint"],
    });
    let r = json_send(s, "POST", "/api/config/nodes", &body);
    assert_eq!(r.status, 201, "{}", r.text());
}

fn serve(envs: &[(&str, &str)]) -> Server {
    start_with(envs)
}

#[test]
fn backups_snapshots_storage_and_config_views() {
    let sim = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "3",
        "--guests",
        "12",
        "--standalone",
        "0",
        "--pbs",
        "1",
        "--pmg",
        "0",
        "--seed",
        "11",
    ]);
    let s = serve(&[
        ("PVE_POLLING_INTERVAL", "1"),
        ("PBS_POLLING_INTERVAL", "1"),
        // Every poll refreshes backups and snapshots, so two polls can be compared.
        ("BACKUP_POLLING_CYCLES", "1"),
    ]);
    add_node(&s, &sim, "cluster1", "pve", "lab");
    add_node(&s, &sim, "pbs1", "pbs", "bk");
    let st = wait_for(&s, Duration::from_secs(30), "backups and snapshots", |st| {
        len(&st["nodes"]) == 3
            && len(&st["pbs"]) == 1
            && len(&st["pveBackups"]["storageBackups"]) > 0
            && len(&st["pveBackups"]["guestSnapshots"]) > 0
            && len(&st["pbsBackups"]) > 0
    });

    // /api/backups and /api/backups/unified: every collection of the state, both layouts.
    for path in ["/api/backups", "/api/backups/unified"] {
        let r = get(&s.url(path), &[]);
        assert_eq!(r.status, 200, "{path}");
        let b = r.json();
        let pve = &b["pveBackups"];
        assert_eq!(b["backups"]["pve"], *pve);
        for (flat, key) in [
            ("backupTasks", "backupTasks"),
            ("storageBackups", "storageBackups"),
            ("guestSnapshots", "guestSnapshots"),
        ] {
            assert_eq!(b[flat], pve[key]);
            // Published state and view come from polls at most a second apart.
            let want = len(&st["pveBackups"][key]);
            assert!(len(&b[flat]) > 0 || want == 0, "{flat}");
        }
        assert_eq!(b["backups"]["pbs"], b["pbsBackups"]);
        assert!(len(&b["pbsBackups"]) > 0);
    }

    // Filters narrow every collection; the vmid of a guest with a snapshot is used.
    let snap = &st["pveBackups"]["guestSnapshots"][0];
    let vmid = snap["vmid"].as_u64().unwrap();
    let b = get(
        &s.url(&format!("/api/backups?vmid={vmid}&instance=lab")),
        &[],
    )
    .json();
    assert!(len(&b["guestSnapshots"]) >= 1);
    for key in ["backupTasks", "storageBackups", "guestSnapshots"] {
        for x in b[key].as_array().unwrap() {
            assert_eq!(x["vmid"].as_u64(), Some(vmid), "{key}: {x}");
        }
    }
    for x in b["pbsBackups"].as_array().unwrap() {
        assert_eq!(x["vmid"], vmid.to_string());
    }
    let none = get(&s.url("/api/backups?instance=nobody"), &[]).json();
    assert_eq!(len(&none["storageBackups"]) + len(&none["pbsBackups"]), 0);

    // PVE / PBS / snapshot views.
    let pve = get(&s.url("/api/backups/pve"), &[]).json();
    assert!(len(&pve["backups"]) > 0);
    assert!(
        pve["backups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["instance"] == "lab")
    );
    let pbs = get(&s.url("/api/backups/pbs"), &[]).json();
    assert_eq!(len(&pbs["instances"]), 1);
    assert_eq!(pbs["instances"][0]["name"], "bk");
    assert!(len(&pbs["backups"]) > 0);
    let snaps = get(&s.url("/api/snapshots?type=qemu"), &[]).json();
    for x in snaps["snapshots"].as_array().unwrap() {
        assert_eq!(x["type"], "qemu");
        assert!(x["id"].as_str().unwrap().starts_with("lab-"));
    }
    let all = get(&s.url("/api/snapshots"), &[]).json();
    assert!(len(&all["snapshots"]) >= len(&snaps["snapshots"]));

    // Bad query parameters: 400 naming the parameter, JSON body.
    for (path, name) in [
        ("/api/backups?vmid=abc", "vmid"),
        ("/api/backups/pve?type=docker", "type"),
        ("/api/backups/pbs?colour=red", "colour"),
        ("/api/snapshots?vmid=", "vmid"),
        ("/api/storage/?vmid=1", "vmid"),
    ] {
        let r = get(&s.url(path), &[]);
        assert_eq!(r.status, 400, "{path}");
        let e = r.json();
        assert!(e["error"].as_str().unwrap().contains(name), "{path}: {e}");
    }

    // Storage: all, by storage id, by node id (local + shared), unknown → JSON 404.
    let st = state(&s);
    let all = get(&s.url("/api/storage/"), &[]).json();
    assert_eq!(len(&all["data"]), len(&st["storage"]));
    let bare = get(&s.url("/api/storage"), &[]).json();
    assert_eq!(len(&bare["data"]), len(&st["storage"]));
    let lab_only = get(&s.url("/api/storage/?instance=lab"), &[]).json();
    assert_eq!(len(&lab_only["data"]), len(&st["storage"]));
    let other = get(&s.url("/api/storage/?instance=elsewhere"), &[]).json();
    assert_eq!(len(&other["data"]), 0);
    assert!(all["timestamp"].as_u64().unwrap() > 0);
    let first = &st["storage"][0];
    let one = get(
        &s.url(&format!("/api/storage/{}", first["id"].as_str().unwrap())),
        &[],
    );
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["data"]["id"], first["id"]);
    let node = &st["nodes"][0];
    let node_name = node["node"].as_str().unwrap();
    let r = get(
        &s.url(&format!("/api/storage/{}", node["id"].as_str().unwrap())),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let by_node = r.json();
    assert_eq!(by_node["node"], node["id"]);
    let want: BTreeSet<String> = st["storage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            x["node"] == node_name
                || x["nodes"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|n| n == node_name))
        })
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    let got: BTreeSet<String> = by_node["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(
        by_node["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["shared"] == true),
        "a cluster node sees the shared storages too"
    );
    let missing = get(&s.url("/api/storage/no-such-node"), &[]);
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("no-such-node")
    );

    // Shared storage ids do not change between polls (the reference's do).
    let shared_ids = |st: &Value| -> BTreeSet<String> {
        st["storage"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["shared"] == true)
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = shared_ids(&st);
    assert!(!before.is_empty());
    let stamp = st["lastUpdate"].as_i64().unwrap();
    for _ in 0..3 {
        let later = wait_for(&s, Duration::from_secs(10), "a later poll", |x| {
            x["lastUpdate"].as_i64().unwrap() > stamp
        });
        assert_eq!(shared_ids(&later), before);
        std::thread::sleep(Duration::from_millis(1100));
    }

    // /simple-stats: HTML listing the monitored guests.
    let r = get(&s.url("/simple-stats"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let html = r.text();
    let guest = st["vms"][0]["name"].as_str().unwrap();
    assert!(html.contains(guest), "{guest} missing from /simple-stats");

    // /api/config: the whole configuration; the nodes' sealed secrets never appear. A third
    // node logs in with a password so both kinds of secret are configured.
    let i = sim.inst("cluster1");
    let body = json!({
        "type": "pve", "name": "labpw", "host": i["url"], "user": i["user"],
        "password": i["password"], "fingerprint": i["fingerprint"],
    });
    let r = json_send(&s, "POST", "/api/config/nodes", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = get(&s.url("/api/config"), &[]);
    assert_eq!(r.status, 200);
    let text = r.text();
    let cfg = r.json();
    assert_eq!(len(&cfg["nodes"]), 3);
    let pw = cfg["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "labpw")
        .unwrap();
    assert_eq!(pw["hasPassword"], true);
    let lab = cfg["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "lab")
        .unwrap();
    assert_eq!(lab["hasToken"], true);
    assert_eq!(cfg["system"]["pvePollingInterval"], 1);
    assert_eq!(cfg["updateChannel"], "stable");
    for inst in ["cluster1", "pbs1"] {
        for secret in ["tokenValue", "password"] {
            let v = sim.inst(inst)[secret].as_str().unwrap();
            assert!(!text.contains(v), "{inst}.{secret} leaked by /api/config");
        }
    }

    // The global temperature switch reaches the published state without a restart.
    assert_eq!(state(&s)["temperatureMonitoringEnabled"], true);
    let r = json_send(
        &s,
        "PUT",
        "/api/config/system",
        &json!({"temperatureMonitoringEnabled": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for(&s, Duration::from_secs(10), "temperature switch", |st| {
        st["temperatureMonitoringEnabled"] == false
    });
}

/// Sums the simulator's `/cluster/resources` calls for `instance`.
fn resource_calls(sim: &Sim, instance: &str) -> u64 {
    let (_, acc) = sim.admin_get("/accounting");
    acc[instance]["byPath"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.ends_with("/cluster/resources"))
                .map(|(_, v)| v.as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn calls_during(sim: &Sim, window: Duration) -> u64 {
    let a = resource_calls(sim, "cluster1");
    std::thread::sleep(window);
    resource_calls(sim, "cluster1") - a
}

#[test]
fn polling_interval_changes_apply_live() {
    let sim = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "1",
        "--guests",
        "4",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
        "--seed",
        "5",
    ]);
    let mut s = serve(&[]);
    // Defaults: 10 s for PVE; nothing overridden by the environment.
    let v = get(&s.url("/api/system/settings"), &[]).json();
    assert_eq!(v["pvePollingInterval"], 10);
    assert_eq!(v["pbsPollingInterval"], 60);
    assert_eq!(v["connectionTimeout"], 60);
    assert_eq!(v["envOverrides"], json!({}));
    add_node(&s, &sim, "cluster1", "pve", "lab");
    wait_for(&s, Duration::from_secs(20), "first poll", |st| {
        len(&st["nodes"]) == 1
    });

    // At the default 10 s a 3 s window sees at most one poll.
    assert!(calls_during(&sim, Duration::from_secs(3)) <= 1);

    // 1 s, without a restart: the cadence follows at once.
    let r = json_send(
        &s,
        "PUT",
        "/api/config/system",
        &json!({"pvePollingInterval": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["pvePollingInterval"], 1);
    std::thread::sleep(Duration::from_millis(1500));
    let fast = calls_during(&sim, Duration::from_secs(4));
    assert!((3..=6).contains(&fast), "{fast} polls in 4 s at 1 s");

    // Back to slow through the API.md path: polls stop after the one in progress.
    let r = json_send(
        &s,
        "POST",
        "/api/system/settings/update",
        &json!({"pvePollingInterval": 30, "theme": "dark"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The poll after the change lands on the 30 s grid at least 7.5 s after the last one,
    // so everything that must see no poll happens within 7 s of the change.
    let slowed = std::time::Instant::now();

    // A bad value: 400 naming the field, nothing of the request applied.
    let r = json_send(
        &s,
        "POST",
        "/api/system/settings/update",
        &json!({"pvePollingInterval": 0, "theme": "light"}),
    );
    assert_eq!(r.status, 400);
    let e = r.json();
    assert!(
        e["error"].as_str().unwrap().contains("pvePollingInterval"),
        "{e}"
    );
    assert!(e["fields"]["pvePollingInterval"].is_string());
    for (body, field) in [
        (json!({"connectionTimeout": "fast"}), "connectionTimeout"),
        (
            json!({"adaptivePollingMinInterval": 600, "adaptivePollingMaxInterval": 300}),
            "adaptivePollingMinInterval",
        ),
        (json!({"updateChannel": "nightly"}), "updateChannel"),
        (
            json!({"backupPollingEnabled": "yes"}),
            "backupPollingEnabled",
        ),
        (
            json!({"discoveryConfig": {"max_concurrent": -1}}),
            "discoveryConfig.max_concurrent",
        ),
    ] {
        let r = json_send(&s, "PUT", "/api/config/system", &body);
        assert_eq!(r.status, 400, "{body}");
        assert!(
            r.json()["fields"][field].is_string(),
            "{body}: {}",
            r.text()
        );
    }
    let r = json_send(&s, "PUT", "/api/config/system", &json!([1, 2]));
    assert_eq!(r.status, 400);
    let v = get(&s.url("/api/system/settings"), &[]).json();
    assert_eq!(v["pvePollingInterval"], 30);
    assert_eq!(v["theme"], "dark");
    // Polls stopped after the one in progress, and the rejected bodies changed nothing: a
    // window from 2.5 s to 5.5 s after the change (3 polls at 1 s) sees none.
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(slowed.elapsed()));
    let window = Duration::from_millis(7000)
        .saturating_sub(slowed.elapsed())
        .min(Duration::from_secs(3));
    assert!(
        window >= Duration::from_secs(2),
        "the rejected bodies took {:?}",
        slowed.elapsed()
    );
    assert_eq!(calls_during(&sim, window), 0, "still at 30 s");

    // Persisted: after a restart on the same data dir the settings are back.
    let dir = s.dir.clone();
    let tmp = s._tmp.take();
    s.stop();
    let s2 = start_in(&dir, &[]);
    let v = get(&s2.url("/api/system/settings"), &[]).json();
    assert_eq!(v["pvePollingInterval"], 30);
    assert_eq!(v["theme"], "dark");
    drop(s2);
    drop(tmp);
}

#[test]
fn environment_overrides_win_and_are_named() {
    let s = serve(&[
        ("PVE_POLLING_INTERVAL", "15"),
        ("CONNECTION_TIMEOUT", "20s"),
        ("ENABLE_BACKUP_POLLING", "false"),
    ]);
    let v = get(&s.url("/api/system/settings"), &[]).json();
    assert_eq!(v["pvePollingInterval"], 15);
    assert_eq!(v["connectionTimeout"], 20);
    assert_eq!(v["backupPollingEnabled"], false);
    for k in [
        "pvePollingInterval",
        "connectionTimeout",
        "backupPollingEnabled",
    ] {
        assert_eq!(v["envOverrides"][k], true, "{k}");
    }
    assert!(v["envOverrides"].get("pbsPollingInterval").is_none());
    // A persisted value is stored but the environment keeps deciding.
    let r = json_send(
        &s,
        "PUT",
        "/api/config/system",
        &json!({"pvePollingInterval": 40, "pbsPollingInterval": 90}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["pvePollingInterval"], 15);
    assert_eq!(v["pbsPollingInterval"], 90);
}
