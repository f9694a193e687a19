//! Every simulated endpoint's body validated against the official API schema for its path
//! (PVE 9.1, PBS 4.x, PMG 6.3 in fixtures/proxmox/schema). The validator is strict: declared
//! types, enums, required properties and `additionalProperties: false`. Perl-based PVE/PMG
//! send booleans as 0/1, which their own schema language accepts, so that is allowed. Numbers
//! sent as strings and other contradictions are accepted only where a real captured response
//! shows the same (`QUIRKS`, each with the fixture that proves it).

mod common;

use common::sim::Sim;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.trim().parse::<f64>().is_ok()
}

fn truthy(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n <= 1)
}

/// Validates `v` against schema `s`; pushes (json path, message).
fn validate(v: &Value, s: &Value, path: &str, perl: bool, out: &mut Vec<(String, String)>) {
    let ty = s["type"].as_str().unwrap_or("any");
    let bad = |out: &mut Vec<(String, String)>, m: String| out.push((path.to_string(), m));
    match ty {
        "any" => {}
        "null" => {}
        "string" => match v {
            Value::String(x) => {
                if let Some(e) = s["enum"].as_array()
                    && !e.iter().any(|e| e == x)
                {
                    bad(out, format!("'{x}' not in enum {e:?}"));
                }
            }
            other => bad(out, format!("expected string, got {other}")),
        },
        "integer" => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => {}
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {}
            Value::String(x) if numeric(x) => bad(out, "numeric string for integer".into()),
            other => bad(out, format!("expected integer, got {other}")),
        },
        "number" => match v {
            Value::Number(_) => {}
            Value::String(x) if numeric(x) => bad(out, "numeric string for number".into()),
            other => bad(out, format!("expected number, got {other}")),
        },
        "boolean" => match v {
            Value::Bool(_) => {}
            n if perl && truthy(n) => {}
            other => bad(out, format!("expected boolean, got {other}")),
        },
        "array" => match v {
            Value::Array(a) => {
                if let Some(items) = s.get("items") {
                    for x in a {
                        validate(x, items, &format!("{path}[]"), perl, out);
                    }
                }
            }
            other => bad(out, format!("expected array, got {}", other)),
        },
        "object" => match v {
            Value::Object(m) => {
                let props = s["properties"].as_object();
                if let Some(props) = props {
                    for (k, ps) in props {
                        match m.get(k) {
                            Some(x) => validate(x, ps, &format!("{path}.{k}"), perl, out),
                            None => {
                                let optional = ps["optional"].as_u64() == Some(1)
                                    || ps["optional"] == true
                                    || ps.get("default").is_some();
                                if !optional {
                                    bad(out, format!("required property '{k}' missing"));
                                }
                            }
                        }
                    }
                }
                let closed = s["additionalProperties"] == false || s["additionalProperties"] == 0;
                if closed {
                    for k in m.keys() {
                        if !props.is_some_and(|p| p.contains_key(k)) {
                            bad(
                                out,
                                format!("property '{k}' not allowed (additionalProperties false)"),
                            );
                        }
                    }
                }
            }
            other => bad(out, format!("expected object, got {other}")),
        },
        other => bad(out, format!("unknown schema type {other}")),
    }
}

/// Accepted contradictions: (product, schema path, json path prefix, evidence).
const QUIRKS: &[(&str, &str, &str, &str)] = &[
    (
        "pve",
        "/nodes/{node}/lxc",
        ".data[].vmid",
        "fixtures pve/nodes-node-lxc.1.json (PVE 7) and .2.json send the container vmid as a string",
    ),
    (
        "pve",
        "/nodes/{node}/lxc/{vmid}/status/current",
        ".data.vmid",
        "pve/nodes-node-lxc-vmid-status-current.{1,2}.json: vmid as string",
    ),
    (
        "pve",
        "/nodes/{node}/lxc/{vmid}/status/current",
        ".data.disk",
        "pve/nodes-node-lxc-vmid-status-current.2.json: running CT sends disk as string",
    ),
    (
        "pve",
        "/nodes/{node}/lxc/{vmid}/status/current",
        ".data.maxdisk",
        "pve/nodes-node-lxc-vmid-status-current.2.json: running CT sends maxdisk as string",
    ),
    (
        "pve",
        "/nodes/{node}/lxc/{vmid}/status/current",
        ".data.template",
        "pve/nodes-node-lxc-vmid-status-current.{1,2}.json: template \"\" on non-templates",
    ),
    (
        "pve",
        "/nodes/{node}/disks/list",
        ".data[].osdid-list",
        "pve/nodes-node-disks-list.1.json: osdid-list null when the disk is no OSD",
    ),
    (
        "pbs",
        "/admin/datastore/{store}/snapshots",
        ".data[].files[]",
        "pbs/admin-datastore-store-snapshots.1.json: files are objects {filename, crypt-mode, size}, not strings",
    ),
];

fn quirk(product: &str, schema_path: &str, json_path: &str) -> Option<usize> {
    QUIRKS.iter().position(|(p, s, j, _)| {
        *p == product
            && *s == schema_path
            && (json_path == *j || json_path.starts_with(&format!("{j}[")))
    })
}

#[test]
fn every_simulated_endpoint_validates_against_the_official_schema() {
    let sim = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "4",
        "--guests",
        "120",
        "--standalone",
        "1",
        "--pbs",
        "1",
        "--pmg",
        "1",
        "--seed",
        "5",
    ]);
    let schemas: BTreeMap<&str, BTreeMap<String, Value>> = ["pve", "pbs", "pmg"]
        .into_iter()
        .map(|p| (p, common::sim::load_schema(p)))
        .collect();
    let t = sim.truth("cluster1");
    let facts = t["guestFacts"].as_array().unwrap();
    let res = t["resources"].as_array().unwrap();
    let running = |vmid: &Value| {
        res.iter()
            .any(|r| r["vmid"] == *vmid && r["status"] == "running")
    };
    let node = t["nodes"][0]["node"].as_str().unwrap().to_string();
    let mut eps: Vec<(&str, String, String)> = Vec::new();
    let mut pve = |p: String, s: &str| eps.push(("cluster1", p, s.to_string()));
    for p in [
        "/version",
        "/nodes",
        "/storage",
        "/cluster/status",
        "/cluster/resources",
        "/cluster/backup",
        "/cluster/replication",
        "/cluster/ceph/status",
    ] {
        pve(p.into(), p);
    }
    pve(format!("/nodes/{node}/status"), "/nodes/{node}/status");
    pve(
        format!("/nodes/{node}/rrddata?timeframe=hour"),
        "/nodes/{node}/rrddata",
    );
    pve(format!("/nodes/{node}/qemu"), "/nodes/{node}/qemu");
    pve(format!("/nodes/{node}/lxc"), "/nodes/{node}/lxc");
    pve(format!("/nodes/{node}/storage"), "/nodes/{node}/storage");
    pve(
        format!("/nodes/{node}/storage/nfs-backup/content"),
        "/nodes/{node}/storage/{storage}/content",
    );
    pve(
        format!("/nodes/{node}/storage/local/content"),
        "/nodes/{node}/storage/{storage}/content",
    );
    pve(
        format!("/nodes/{node}/storage/pbs-pbs1/content"),
        "/nodes/{node}/storage/{storage}/content",
    );
    pve(format!("/nodes/{node}/tasks"), "/nodes/{node}/tasks");
    pve(
        format!("/nodes/{node}/disks/list"),
        "/nodes/{node}/disks/list",
    );
    pve(
        format!("/nodes/{node}/replication"),
        "/nodes/{node}/replication",
    );
    pve(
        format!("/nodes/{node}/ceph/pool"),
        "/nodes/{node}/ceph/pool",
    );
    pve(format!("/nodes/{node}/ceph/osd"), "/nodes/{node}/ceph/osd");
    for n in t["disks"].as_array().unwrap() {
        for d in n["disks"].as_array().unwrap() {
            pve(
                format!(
                    "/nodes/{}/disks/smart?disk={}",
                    n["node"].as_str().unwrap(),
                    d["devpath"].as_str().unwrap()
                ),
                "/nodes/{node}/disks/smart",
            );
        }
    }
    for nn in t["nodes"].as_array().unwrap() {
        let n = nn["node"].as_str().unwrap();
        pve(format!("/nodes/{n}/disks/zfs"), "/nodes/{node}/disks/zfs");
    }
    let mut done_kinds = BTreeSet::new();
    for f in facts {
        let ty = f["type"].as_str().unwrap();
        let key = (
            ty.to_string(),
            running(&f["vmid"]),
            f["agent"].as_str().unwrap().to_string(),
            f["paused"] == true,
        );
        if !done_kinds.insert(key) {
            continue;
        }
        let base = format!("/nodes/{}/{ty}/{}", f["node"].as_str().unwrap(), f["vmid"]);
        let sp = format!("/nodes/{{node}}/{ty}/{{vmid}}");
        pve(
            format!("{base}/status/current"),
            &format!("{sp}/status/current"),
        );
        pve(
            format!("{base}/rrddata?timeframe=day"),
            &format!("{sp}/rrddata"),
        );
        pve(format!("{base}/snapshot"), &format!("{sp}/snapshot"));
        pve(format!("{base}/config"), &format!("{sp}/config"));
        if ty == "qemu" && f["agent"] == "ok" && running(&f["vmid"]) {
            for cmd in ["get-fsinfo", "network-get-interfaces", "get-osinfo", "info"] {
                pve(format!("{base}/agent/{cmd}"), &format!("{sp}/agent/{cmd}"));
            }
        }
        if ty == "lxc" && running(&f["vmid"]) {
            pve(format!("{base}/interfaces"), &format!("{sp}/interfaces"));
        }
    }
    for p in [
        "/version",
        "/nodes/localhost/status",
        "/nodes/localhost/subscription",
        "/nodes/localhost/tasks",
        "/admin/datastore",
        "/status/datastore-usage",
        "/admin/datastore/store1/status",
        "/admin/datastore/store1/gc",
        "/admin/datastore/store1/namespace",
        "/admin/datastore/store1/groups",
        "/admin/datastore/store1/groups?ns=prod",
        "/admin/datastore/store1/snapshots",
        "/admin/datastore/store1/snapshots?ns=prod",
        "/admin/datastore/store1/rrd?timeframe=hour&cf=AVERAGE",
    ] {
        let sp = p
            .split('?')
            .next()
            .unwrap()
            .replace("/localhost/", "/{node}/")
            .replace("/store1/", "/{store}/");
        eps.push(("pbs1", p.into(), sp));
    }
    for p in [
        "/version",
        "/config/cluster/status?list_single_node=1",
        "/nodes/pmg1-a/status",
        "/nodes/pmg1-a/postfix/queue",
        "/nodes/pmg1-a/postfix/queue/deferred",
        "/nodes/pmg1-a/postfix/qshape",
        "/nodes/pmg1-a/backup",
        "/statistics/mail",
        "/statistics/mailcount?timespan=3600",
        "/statistics/spamscores",
        "/quarantine/spamstatus",
        "/quarantine/virusstatus",
    ] {
        let sp = p
            .split('?')
            .next()
            .unwrap()
            .replace("/pmg1-a/", "/{node}/")
            .replace("/deferred", "/{queue}");
        eps.push(("pmg1", p.into(), sp));
    }

    let mut errors = Vec::new();
    let mut quirks_used = BTreeSet::new();
    let mut no_schema = Vec::new();
    let mut validated = 0;
    for (inst, path, schema_path) in &eps {
        let product = sim.inst(inst)["kind"].as_str().unwrap().to_string();
        let body = sim.ok(inst, path);
        let Some(schema) = schemas[product.as_str()].get(schema_path) else {
            no_schema.push(format!("{product} {schema_path}"));
            continue;
        };
        let mut out = Vec::new();
        validate(&body["data"], schema, ".data", product != "pbs", &mut out);
        validated += 1;
        for (jp, msg) in out {
            if let Some(q) = quirk(&product, schema_path, &jp) {
                quirks_used.insert(q);
            } else {
                errors.push(format!("{product} {path} ({schema_path}) {jp}: {msg}"));
            }
        }
    }
    errors.sort();
    errors.dedup();
    assert!(
        errors.is_empty(),
        "{} schema violation(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
    eprintln!("validated {validated} bodies against the schema");
    assert!(
        no_schema.is_empty(),
        "simulated endpoints missing from the schema: {no_schema:?}"
    );
    // every accepted contradiction is still needed (keeps the list honest)
    let unused: Vec<_> = (0..QUIRKS.len())
        .filter(|i| !quirks_used.contains(i))
        .map(|i| QUIRKS[i])
        .collect();
    assert!(unused.is_empty(), "quirks no longer needed: {unused:?}");
}

#[test]
fn validator_rejects_what_it_should() {
    let s: Value = serde_json::json!({"type": "object", "additionalProperties": 0, "properties": {
        "a": {"type": "integer"}, "b": {"type": "string", "enum": ["x"], "optional": 1}, "c": {"type": "boolean", "optional": 1}}});
    let run = |v: Value, perl: bool| {
        let mut out = Vec::new();
        validate(&v, &s, ".data", perl, &mut out);
        out
    };
    assert!(run(serde_json::json!({"a": 1}), false).is_empty());
    assert_eq!(run(serde_json::json!({"a": "1"}), false).len(), 1);
    assert_eq!(run(serde_json::json!({}), false).len(), 1);
    assert_eq!(run(serde_json::json!({"a": 1, "b": "y"}), false).len(), 1);
    assert_eq!(run(serde_json::json!({"a": 1, "z": 0}), false).len(), 1);
    assert!(run(serde_json::json!({"a": 1, "c": 1}), true).is_empty());
    assert_eq!(run(serde_json::json!({"a": 1, "c": 1}), false).len(), 1);
    assert_eq!(run(serde_json::json!({"a": 1.5}), false).len(), 1);
}
