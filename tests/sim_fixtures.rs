//! Generic comparator: every fixture in fixtures/proxmox/{pve,pbs,pmg} that maps to a simulated
//! endpoint is compared with the simulator's body for the same endpoint and the same scenario
//! (running / stopped / paused guest, ...): same envelope, every fixture field present, and
//! compatible JSON kinds (a string where the real server sends a string). Kinds are pooled over
//! all fixtures of one endpoint, because real servers disagree across versions (PVE 6 sends
//! `"vmid":"100"`, PVE 7+ `"vmid":101`). Extra simulator fields must be declared by the official
//! schema for that path. Hand-written fixtures only count for field names (they are not evidence
//! of types). Every deviation that is accepted is listed in `ALLOW` with its reason.

mod common;

use common::sim::{Auth, Sim, fixtures_dir};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default, Debug, Clone)]
struct Shape {
    kinds: BTreeSet<&'static str>,
    fields: BTreeMap<String, Shape>,
    items: Option<Box<Shape>>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Objects whose keys are names (devices, NICs, checks), not fields: their values are pooled.
const MAP_PATHS: &[&str] = &[".data.nics", ".data.blockstat", ".data.cap", ".data.cap.*"];

fn is_map(path: &str) -> bool {
    MAP_PATHS.contains(&path)
}

fn add(shape: &mut Shape, v: &Value, path: &str) {
    shape.kinds.insert(kind(v));
    match v {
        Value::Object(m) if is_map(path) => {
            for val in m.values() {
                add(
                    shape.fields.entry("*".into()).or_default(),
                    val,
                    &format!("{path}.*"),
                );
            }
        }
        Value::Object(m) => {
            for (k, val) in m {
                add(
                    shape.fields.entry(k.clone()).or_default(),
                    val,
                    &format!("{path}.{k}"),
                );
            }
        }
        Value::Array(a) => {
            let it = shape.items.get_or_insert_with(Default::default);
            for val in a {
                add(it, val, &format!("{path}[]"));
            }
        }
        _ => {}
    }
}

fn shape_of(v: &Value) -> Shape {
    let mut s = Shape::default();
    add(&mut s, v, "");
    s
}

/// Accepted deviations: (fixture file, json path, reason). A path ending in `!kind` allows a
/// kind difference, otherwise it allows the field to be absent.
const ALLOW: &[(&str, &str, &str)] = &[
    (
        "pve/version.1.json",
        ".data.keyboard",
        "PVE 6 only; /version in the PVE 9.1 schema has no keyboard",
    ),
    (
        "pve/nodes-node-qemu.1.json",
        ".data[].template",
        "PVE 6 sends template \"\" on every VM; PVE >= 7 sends template only on templates (as the simulator does)",
    ),
    (
        "pve/nodes-node-qemu.1.json",
        ".data[].vmid!kind",
        "PVE 6 sends the qemu vmid as a string; PVE >= 7 sends integers (status/current fixture 4, PVE 7)",
    ),
    (
        "pve/nodes-node-qemu.1.json",
        ".data[].template!kind",
        "PVE 6 sends template \"\"; PVE >= 7 sends 1 on templates only",
    ),
    (
        "pve/nodes-node-qemu.1.json",
        ".data[].pid!kind",
        "PVE 6 sends pid null for stopped VMs; PVE >= 7 omits pid unless running",
    ),
    (
        "pve/nodes-node-qemu-vmid-status-current.2.json",
        ".data.template",
        "PVE 6 only (status/current fixture 4, PVE 7, has no template key)",
    ),
    (
        "pve/nodes-node-qemu-vmid-status-current.3.json",
        ".data.template",
        "PVE 6 only (status/current fixture 4, PVE 7, has no template key)",
    ),
    (
        "pve/nodes-node-qemu-vmid-status-current.3.json",
        ".data.serial",
        "present only when a serial port is configured",
    ),
    (
        "pve/nodes-node-lxc-vmid-status-current.1.json",
        ".data.ha.state+",
        "HA-managed guests carry ha.state and ha.group; the captured guests were not HA-managed",
    ),
    (
        "pve/nodes-node-lxc-vmid-status-current.1.json",
        ".data.ha.group+",
        "HA-managed guests carry ha.state and ha.group; the captured guests were not HA-managed",
    ),
    (
        "pve/nodes-node-lxc.1.json",
        ".data[].template",
        "PVE sends template only on templates; the simulated node under test may have none",
    ),
    (
        "pve/cluster-resources.2.json",
        ".data[].pool",
        "only pooled guests carry pool; checked on the whole fleet instead",
    ),
];

fn allowed(file: &str, path: &str) -> Option<&'static str> {
    ALLOW
        .iter()
        .find(|(f, p, _)| *f == file && *p == path)
        .map(|a| a.2)
}

/// Collects problems comparing one fixture file's shape with the simulator's.
#[allow(clippy::too_many_arguments)]
fn compare(
    file: &str,
    path: &str,
    fx: &Shape,
    pooled: &Shape,
    sim: &Shape,
    schema: Option<&Value>,
    handwritten: bool,
    problems: &mut Vec<String>,
) {
    // kinds: the simulator's kinds must be among those real servers sent (null excepted in the
    // fixture: a null field is "no value" and the simulator may omit or fill it)
    if !handwritten {
        for k in &sim.kinds {
            let ok = pooled.kinds.contains(k)
                || (pooled.kinds.len() == 1 && pooled.kinds.contains("null"));
            if !ok && allowed(file, &format!("{path}!kind")).is_none() {
                problems.push(format!(
                    "{file}: {path}: simulator sends {k}, real servers sent {:?}",
                    pooled.kinds
                ));
            }
        }
    }
    for (name, f) in &fx.fields {
        let p = if name == "*" {
            format!("{path}.*")
        } else {
            format!("{path}.{name}")
        };
        match sim.fields.get(name) {
            None => {
                if allowed(file, &p).is_none() {
                    problems.push(format!(
                        "{file}: {p}: field missing in the simulator's answer"
                    ));
                }
            }
            Some(s) => {
                let pl = pooled.fields.get(name).unwrap_or(f);
                let sub = schema
                    .and_then(|s| s.get("properties"))
                    .and_then(|p| p.get(name));
                compare(file, &p, f, pl, s, sub, handwritten, problems);
            }
        }
    }
    // extra fields: fine when the official schema declares them at this place
    for name in sim.fields.keys() {
        if name == "*" || pooled.fields.contains_key(name) {
            continue;
        }
        let declared = schema
            .and_then(|s| s.get("properties"))
            .is_some_and(|p| p.get(name).is_some());
        if !declared && allowed(file, &format!("{path}.{name}+")).is_none() && !handwritten {
            problems.push(format!(
                "{file}: {path}.{name}: extra field neither in real answers nor in the schema"
            ));
        }
    }
    if let (Some(fi), Some(si)) = (&fx.items, &sim.items) {
        let pl = pooled.items.as_deref().unwrap_or(fi);
        compare(
            file,
            &format!("{path}[]"),
            fi,
            pl,
            si,
            schema.and_then(|s| s.get("items")),
            handwritten,
            problems,
        );
    } else if fx.items.as_ref().is_some_and(|i| !i.kinds.is_empty())
        && sim.items.as_ref().is_none_or(|i| i.kinds.is_empty())
    {
        problems.push(format!(
            "{file}: {path}: real answer has array items, the simulator's is empty"
        ));
    }
}

struct Targets {
    node: String,
    running_vm: u64,
    agent_vm: u64,
    paused_vm: u64,
    stopped_vm: u64,
    snap_vm: u64,
    running_ct: u64,
    stopped_ct: u64,
    lxc_node: String,
    backup_guest: u64,
    no_backup_guest: u64,
    running_task: String,
    done_vzdump: String,
    task_node: String,
    hdd: String,
    ssd: String,
    nvme: String,
}

fn targets(sim: &Sim) -> Targets {
    let t = sim.truth("cluster1");
    let facts = t["guestFacts"].as_array().unwrap().clone();
    let res = t["resources"].as_array().unwrap().clone();
    let status = |vmid: u64| {
        res.iter()
            .find(|r| r["vmid"] == vmid)
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let find = |pred: &dyn Fn(&Value) -> bool| -> u64 {
        facts
            .iter()
            .find(|f| pred(f))
            .map(|f| f["vmid"].as_u64().unwrap())
            .expect("fleet has a guest of every kind")
    };
    let node = t["nodes"][0]["node"].as_str().unwrap().to_string();
    let on = |f: &Value, n: &str| f["node"] == n;
    let running_vm = find(&|f| {
        f["type"] == "qemu"
            && on(f, &node)
            && status(f["vmid"].as_u64().unwrap()) == "running"
            && !f["paused"].as_bool().unwrap()
            && f["agent"] == "off"
    });
    let agent_vm = find(&|f| {
        f["type"] == "qemu"
            && on(f, &node)
            && status(f["vmid"].as_u64().unwrap()) == "running"
            && !f["paused"].as_bool().unwrap()
            && f["agent"] == "ok"
    });
    let paused_vm = find(&|f| f["type"] == "qemu" && on(f, &node) && f["paused"] == true);
    let stopped_vm = find(&|f| {
        f["type"] == "qemu"
            && on(f, &node)
            && status(f["vmid"].as_u64().unwrap()) == "stopped"
            && f["template"] == false
    });
    let snap_vm =
        find(&|f| f["type"] == "qemu" && on(f, &node) && f["snapshots"].as_u64().unwrap() > 0);
    // a node that holds running and stopped containers
    let lxc_node = t["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap().to_string())
        .find(|n| {
            let cts: Vec<&Value> = facts
                .iter()
                .filter(|f| f["type"] == "lxc" && on(f, n) && f["template"] == false)
                .collect();
            cts.iter()
                .any(|f| status(f["vmid"].as_u64().unwrap()) == "running")
                && cts
                    .iter()
                    .any(|f| status(f["vmid"].as_u64().unwrap()) == "stopped")
        })
        .expect("a node with running and stopped containers");
    let running_ct = find(&|f| {
        f["type"] == "lxc" && on(f, &lxc_node) && status(f["vmid"].as_u64().unwrap()) == "running"
    });
    let stopped_ct = find(&|f| {
        f["type"] == "lxc"
            && on(f, &lxc_node)
            && status(f["vmid"].as_u64().unwrap()) == "stopped"
            && f["template"] == false
    });
    let backup_guest = find(&|f| f["backup"] == true && on(f, &node));
    let no_backup_guest = find(&|f| f["backup"] == false && on(f, &node));
    // tasks: a running and a finished vzdump (the frozen clock sits inside the nightly window)
    let mut running_task = String::new();
    let mut done_vzdump = String::new();
    let mut task_node = String::new();
    for n in t["nodes"].as_array().unwrap() {
        let name = n["node"].as_str().unwrap();
        let tasks = sim.ok(
            "cluster1",
            &format!("/nodes/{name}/tasks?typefilter=vzdump&limit=500"),
        );
        let tasks = tasks["data"].as_array().unwrap();
        let r = tasks.iter().find(|t| t.get("endtime").is_none());
        let d = tasks.iter().find(|t| t["status"] == "OK");
        if let (Some(r), Some(d)) = (r, d) {
            running_task = r["upid"].as_str().unwrap().to_string();
            done_vzdump = d["upid"].as_str().unwrap().to_string();
            task_node = name.to_string();
            break;
        }
    }
    assert!(
        !running_task.is_empty(),
        "no node with a running and a finished backup task"
    );
    let mut hdd = String::new();
    let mut ssd = String::new();
    let mut nvme = String::new();
    for n in t["disks"].as_array().unwrap() {
        for d in n["disks"].as_array().unwrap() {
            let id = format!(
                "{}|{}",
                n["node"].as_str().unwrap(),
                d["devpath"].as_str().unwrap()
            );
            match d["type"].as_str().unwrap() {
                "hdd" if hdd.is_empty() => hdd = id,
                "ssd" if ssd.is_empty() => ssd = id,
                "nvme" if nvme.is_empty() => nvme = id,
                _ => {}
            }
        }
    }
    assert!(
        !hdd.is_empty() && !ssd.is_empty() && !nvme.is_empty(),
        "fleet lacks a disk type"
    );
    Targets {
        node,
        running_vm,
        agent_vm,
        paused_vm,
        stopped_vm,
        snap_vm,
        running_ct,
        stopped_ct,
        lxc_node,
        backup_guest,
        no_backup_guest,
        running_task,
        done_vzdump,
        task_node,
        hdd,
        ssd,
        nvme,
    }
}

/// Fixture file -> (instance, simulated path, schema path).
fn target_for(file: &str, t: &Targets) -> Option<(&'static str, String, &'static str)> {
    let n = &t.node;
    let smart = |id: &str| {
        let (node, dev) = id.split_once('|').unwrap();
        format!("/nodes/{node}/disks/smart?disk={dev}")
    };
    let (stem, idx) = {
        let base = file.trim_end_matches(".json").replace(".handwritten", "");
        let (s, i) = base.rsplit_once('.').unwrap();
        match s.strip_suffix(".http500") {
            Some(s) => (s.to_string(), "http500".to_string()),
            None => (s.to_string(), i.to_string()),
        }
    };
    let r = match (stem.as_str(), idx.as_str()) {
        ("pve/version", _) => ("cluster1", "/version".into(), "/version"),
        ("pve/nodes", _) => ("cluster1", "/nodes".into(), "/nodes"),
        ("pve/storage", _) => ("cluster1", "/storage".into(), "/storage"),
        ("pve/cluster-status", _) => ("cluster1", "/cluster/status".into(), "/cluster/status"),
        ("pve/cluster-backup", _) => ("cluster1", "/cluster/backup".into(), "/cluster/backup"),
        ("pve/cluster-resources", "1") => (
            "cluster1",
            "/cluster/resources?type=node".into(),
            "/cluster/resources",
        ),
        ("pve/cluster-resources", "2") => (
            "cluster1",
            "/cluster/resources?type=vm".into(),
            "/cluster/resources",
        ),
        ("pve/cluster-resources", "3") => (
            "cluster1",
            "/cluster/resources?type=storage".into(),
            "/cluster/resources",
        ),
        ("pve/nodes-node-status", _) => (
            "cluster1",
            format!("/nodes/{n}/status"),
            "/nodes/{node}/status",
        ),
        ("pve/nodes-node-rrddata", _) => (
            "cluster1",
            format!("/nodes/{n}/rrddata?timeframe=hour&cf=AVERAGE"),
            "/nodes/{node}/rrddata",
        ),
        ("pve/nodes-node-disks-list", _) => (
            "cluster1",
            format!("/nodes/{n}/disks/list"),
            "/nodes/{node}/disks/list",
        ),
        ("pve/nodes-node-disks-smart", "1") => {
            ("cluster1", smart(&t.hdd), "/nodes/{node}/disks/smart")
        }
        ("pve/nodes-node-disks-smart", "2") => {
            ("cluster1", smart(&t.nvme), "/nodes/{node}/disks/smart")
        }
        ("pve/nodes-node-disks-smart", "3") => {
            ("cluster1", smart(&t.ssd), "/nodes/{node}/disks/smart")
        }
        ("pve/nodes-node-qemu", _) => {
            ("cluster1", format!("/nodes/{n}/qemu"), "/nodes/{node}/qemu")
        }
        ("pve/nodes-node-lxc", _) => (
            "cluster1",
            format!("/nodes/{}/lxc", t.lxc_node),
            "/nodes/{node}/lxc",
        ),
        ("pve/nodes-node-qemu-vmid-status-current", "1") => (
            "cluster1",
            format!("/nodes/{n}/qemu/{}/status/current", t.agent_vm),
            "/nodes/{node}/qemu/{vmid}/status/current",
        ),
        ("pve/nodes-node-qemu-vmid-status-current", "2") => (
            "cluster1",
            format!("/nodes/{n}/qemu/{}/status/current", t.running_vm),
            "/nodes/{node}/qemu/{vmid}/status/current",
        ),
        ("pve/nodes-node-qemu-vmid-status-current", "3") => (
            "cluster1",
            format!("/nodes/{n}/qemu/{}/status/current", t.paused_vm),
            "/nodes/{node}/qemu/{vmid}/status/current",
        ),
        ("pve/nodes-node-qemu-vmid-status-current", "4") => (
            "cluster1",
            format!("/nodes/{n}/qemu/{}/status/current", t.stopped_vm),
            "/nodes/{node}/qemu/{vmid}/status/current",
        ),
        ("pve/nodes-node-qemu-vmid-status-current", _) => (
            "cluster1",
            format!("/nodes/{n}/qemu/999999/status/current"),
            "/nodes/{node}/qemu/{vmid}/status/current",
        ),
        ("pve/nodes-node-qemu-vmid-rrddata", "1") => (
            "cluster1",
            format!(
                "/nodes/{n}/qemu/{}/rrddata?timeframe=year&cf=AVERAGE",
                t.running_vm
            ),
            "/nodes/{node}/qemu/{vmid}/rrddata",
        ),
        ("pve/nodes-node-qemu-vmid-rrddata", _) => (
            "cluster1",
            format!(
                "/nodes/{n}/qemu/{}/rrddata?timeframe=hour&cf=AVERAGE",
                t.running_vm
            ),
            "/nodes/{node}/qemu/{vmid}/rrddata",
        ),
        ("pve/nodes-node-lxc-vmid-rrddata", _) => (
            "cluster1",
            format!(
                "/nodes/{}/lxc/{}/rrddata?timeframe=hour&cf=AVERAGE",
                t.lxc_node, t.running_ct
            ),
            "/nodes/{node}/lxc/{vmid}/rrddata",
        ),
        ("pve/nodes-node-lxc-vmid-status-current", "1") => (
            "cluster1",
            format!("/nodes/{}/lxc/{}/status/current", t.lxc_node, t.stopped_ct),
            "/nodes/{node}/lxc/{vmid}/status/current",
        ),
        ("pve/nodes-node-lxc-vmid-status-current", _) => (
            "cluster1",
            format!("/nodes/{}/lxc/{}/status/current", t.lxc_node, t.running_ct),
            "/nodes/{node}/lxc/{vmid}/status/current",
        ),
        ("pve/nodes-node-qemu-vmid-snapshot", _) => (
            "cluster1",
            format!("/nodes/{n}/qemu/{}/snapshot", t.snap_vm),
            "/nodes/{node}/qemu/{vmid}/snapshot",
        ),
        ("pve/nodes-node-qemu-vmid-agent-get-fsinfo", _) => (
            "cluster1",
            format!("/nodes/{n}/qemu/{}/agent/get-fsinfo", t.agent_vm),
            "/nodes/{node}/qemu/{vmid}/agent/get-fsinfo",
        ),
        ("pve/nodes-node-qemu-vmid-agent-network-get-interfaces", _) => (
            "cluster1",
            format!(
                "/nodes/{n}/qemu/{}/agent/network-get-interfaces",
                t.agent_vm
            ),
            "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces",
        ),
        ("pve/nodes-node-storage", _) => (
            "cluster1",
            format!("/nodes/{n}/storage"),
            "/nodes/{node}/storage",
        ),
        ("pve/nodes-node-storage-storage-content", "1") => (
            "cluster1",
            format!(
                "/nodes/{n}/storage/nfs-backup/content?vmid={}",
                t.backup_guest
            ),
            "/nodes/{node}/storage/{storage}/content",
        ),
        ("pve/nodes-node-storage-storage-content", _) => (
            "cluster1",
            format!(
                "/nodes/{n}/storage/nfs-backup/content?vmid={}",
                t.no_backup_guest
            ),
            "/nodes/{node}/storage/{storage}/content",
        ),
        ("pve/nodes-node-tasks", _) => (
            "cluster1",
            format!("/nodes/{}/tasks", t.task_node),
            "/nodes/{node}/tasks",
        ),
        ("pve/nodes-node-tasks-upid-status", "1") => (
            "cluster1",
            format!("/nodes/{}/tasks/{}/status", t.task_node, t.running_task),
            "/nodes/{node}/tasks/{upid}/status",
        ),
        ("pve/nodes-node-tasks-upid-status", _) => (
            "cluster1",
            format!("/nodes/{}/tasks/{}/status", t.task_node, t.done_vzdump),
            "/nodes/{node}/tasks/{upid}/status",
        ),
        ("pbs/version", _) => ("pbs1", "/version".into(), "/version"),
        ("pbs/nodes-localhost-subscription", _) => (
            "pbs1",
            "/nodes/localhost/subscription".into(),
            "/nodes/{node}/subscription",
        ),
        ("pbs/status-datastore-usage", _) => (
            "pbs1",
            "/status/datastore-usage".into(),
            "/status/datastore-usage",
        ),
        ("pbs/admin-datastore-store-namespace", _) => (
            "pbs1",
            "/admin/datastore/store1/namespace".into(),
            "/admin/datastore/{store}/namespace",
        ),
        ("pbs/admin-datastore-store-snapshots", _) => (
            "pbs1",
            "/admin/datastore/store1/snapshots".into(),
            "/admin/datastore/{store}/snapshots",
        ),
        ("pmg/quarantine-spamstatus", _) => (
            "pmg1",
            "/quarantine/spamstatus".into(),
            "/quarantine/spamstatus",
        ),
        ("pmg/quarantine-virusstatus", _) => (
            "pmg1",
            "/quarantine/virusstatus".into(),
            "/quarantine/virusstatus",
        ),
        ("pmg/statistics-mail", _) => ("pmg1", "/statistics/mail".into(), "/statistics/mail"),
        ("pmg/statistics-mailcount", _) => (
            "pmg1",
            "/statistics/mailcount?timespan=3600".into(),
            "/statistics/mailcount",
        ),
        ("pmg/statistics-spamscores", _) => (
            "pmg1",
            "/statistics/spamscores".into(),
            "/statistics/spamscores",
        ),
        _ => return None,
    };
    Some(r)
}

fn sim_body(sim: &Sim, inst: &str, path: &str, expect_500: bool) -> Value {
    let auth = if sim.inst(inst)["kind"] == "pmg" {
        Auth::Cookie(sim.login_cookie(inst))
    } else {
        Auth::Token
    };
    let r = sim.get(inst, path, auth);
    let want = if expect_500 { 500 } else { 200 };
    assert_eq!(r.status, want, "{inst} {path}: {}", r.body);
    r.json()
}

#[test]
fn simulated_bodies_match_every_real_fixture() {
    let sim = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "4",
        "--guests",
        "160",
        "--standalone",
        "1",
        "--pbs",
        "1",
        "--pmg",
        "1",
        "--seed",
        "11",
    ]);
    let t = targets(&sim);
    let dir = fixtures_dir();
    let mut files: Vec<String> = Vec::new();
    for product in ["pve", "pbs", "pmg"] {
        for e in std::fs::read_dir(dir.join(product)).expect("fixture dir") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                files.push(format!("{product}/{name}"));
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 40,
        "expected the full fixture set, found {}",
        files.len()
    );
    let schemas: BTreeMap<&str, BTreeMap<String, Value>> = ["pve", "pbs", "pmg"]
        .into_iter()
        .map(|p| (p, common::sim::load_schema(p)))
        .collect();

    // pool fixture kinds per endpoint (only real captures)
    let mut pooled: BTreeMap<String, Shape> = BTreeMap::new();
    let mut parsed: BTreeMap<String, Value> = BTreeMap::new();
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let stem = f
            .trim_end_matches(".json")
            .replace(".handwritten", "")
            .replace(".http500", "");
        let stem = stem
            .rsplit_once('.')
            .map(|x| x.0.to_string())
            .unwrap_or(stem);
        if !f.contains("handwritten") {
            add(pooled.entry(stem).or_default(), &v, "");
        }
        parsed.insert(f.clone(), v);
    }

    let sources = std::fs::read_to_string(dir.join("SOURCES.md")).expect("SOURCES.md");
    let enveloped_by_curator: BTreeSet<&str> = sources
        .lines()
        .filter(|l| l.contains("Envelope added by us"))
        .filter_map(|l| l.trim_start_matches('|').split('|').next().map(str::trim))
        .collect();
    assert!(
        enveloped_by_curator.len() >= 10,
        "SOURCES.md parse: {enveloped_by_curator:?}"
    );
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let mut unmapped = Vec::new();
    for f in &files {
        if f == "pve/access-ticket.1.json" {
            // POST: compared below
            continue;
        }
        let Some((inst, path, schema_path)) = target_for(f, &t) else {
            unmapped.push(f.clone());
            continue;
        };
        let fixture = &parsed[f];
        let is500 = f.contains("http500");
        let body = sim_body(&sim, inst, &path, is500);
        if is500 {
            assert_eq!(&body, fixture, "{f}: vanished guest body");
            checked.push(f.clone());
            continue;
        }
        // envelope: same top-level keys (only `data` when SOURCES.md says the envelope was
        // added by the fixture's curator), same kind of data
        let fk: BTreeSet<&String> = fixture.as_object().unwrap().keys().collect();
        let sk: BTreeSet<&String> = body.as_object().unwrap().keys().collect();
        if enveloped_by_curator.contains(f.as_str()) {
            assert!(sk.contains(&"data".to_string()), "{f}: no data member");
        } else {
            assert_eq!(fk, sk, "{f}: envelope keys");
        }
        assert_eq!(
            kind(&fixture["data"]),
            kind(&body["data"]),
            "{f}: kind of data"
        );
        let stem = f.trim_end_matches(".json").replace(".handwritten", "");
        let stem = stem.rsplit_once('.').unwrap().0.to_string();
        let fx = shape_of(fixture);
        let pl = pooled.get(&stem).cloned().unwrap_or_else(|| fx.clone());
        let product = &f[..3];
        let schema = schemas[product]
            .get(schema_path)
            .map(|r| serde_json::json!({"properties": {"data": r}}));
        compare(
            f,
            "",
            &fx,
            &pl,
            &shape_of(&body),
            schema.as_ref(),
            f.contains("handwritten"),
            &mut problems,
        );
        checked.push(f.clone());
    }

    // POST /access/ticket against the real login answer
    let i = sim.inst("cluster1");
    let form = format!(
        "username={}&password={}",
        i["user"].as_str().unwrap(),
        i["password"].as_str().unwrap()
    );
    let login = sim.post_form("cluster1", "/access/ticket", &form);
    assert_eq!(login.status, 200);
    let fx = &parsed["pve/access-ticket.1.json"];
    compare(
        "pve/access-ticket.1.json",
        "",
        &shape_of(fx),
        &shape_of(fx),
        &shape_of(&login.json()),
        None,
        false,
        &mut problems,
    );
    checked.push("pve/access-ticket.1.json".into());

    assert!(
        unmapped.is_empty(),
        "fixtures without a simulated endpoint: {unmapped:?}"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("compared {} fixtures: {checked:?}", checked.len());
}

/// The comparator itself must catch the deviations it exists for.
#[test]
fn comparator_detects_deviations() {
    let real = serde_json::json!({"data": {"vmid": 101, "status": "running", "nics": {"tap101i0": {"netin": 5}}}});
    let run = |sim: Value| {
        let mut p = Vec::new();
        let fx = shape_of(&real);
        compare(
            "pve/x.json",
            "",
            &fx,
            &fx,
            &shape_of(&sim),
            None,
            false,
            &mut p,
        );
        p
    };
    assert!(run(real.clone()).is_empty());
    // a string where the real server sends a number
    assert_eq!(run(serde_json::json!({"data": {"vmid": "101", "status": "running", "nics": {"tap9i0": {"netin": 5}}}})).len(), 1);
    // missing field, and a map entry with a wrongly typed value
    let p = run(serde_json::json!({"data": {"vmid": 101, "nics": {"tap9i0": {"netin": "5"}}}}));
    assert_eq!(p.len(), 2, "{p:?}");
    // extra field not declared anywhere
    assert_eq!(run(serde_json::json!({"data": {"vmid": 101, "status": "running", "nics": {"t": {"netin": 1}}, "bogus": 1}})).len(), 1);
}
