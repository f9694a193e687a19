//! The ground truth side channel: exactly what the simulated servers would answer right now,
//! plus the facts an API does not show (agent mode, base run state, faults), so a test can
//! compare what a monitor reports with what is true.

use super::api::{Principal, Req};
use super::auth::Product;
use super::dynamics::Ctx;
use super::fleet::Agent;
use super::{SimState, pbs::PbsView, pmg::PmgView, pve::PveView};
use serde_json::{Value, json};
use std::collections::HashMap;

fn get(
    view: &dyn Fn(&Req) -> Result<Value, super::api::ApiError>,
    path: &str,
    query: &[(&str, &str)],
    now_ms: i64,
) -> Value {
    let admin = Principal::Ticket {
        user: "root@pam".into(),
    };
    let req = Req {
        method: "GET",
        segs: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        now_ms,
        principal: &admin,
    };
    view(&req)
        .map(super::api::materialize)
        .unwrap_or_else(|e| json!({"error": {"status": e.status, "reason": e.reason}}))
}

pub fn instance_truth(state: &SimState, name: &str) -> Option<Value> {
    let inst = state.instance(name)?;
    let fleet = state.fleet.read().ok()?;
    let faults = state.faults_of(inst);
    let now_ms = state.clock.now_ms();
    let ctx = Ctx::new(fleet.seed, fleet.genesis, &inst.name);
    let fp = inst.cert.as_ref().map(|c| c.fingerprint());
    let fps = fp.clone().unwrap_or_default();
    let mut v = match inst.product {
        Product::Pve => {
            let c = &fleet.pve[inst.index];
            let view = PveView {
                c,
                ctx,
                faults: &faults,
                pbs: &fleet.pbs,
                fingerprint: &fps,
                ip: &state.ip,
            };
            let r = |p: &str, q: &[(&str, &str)]| get(&|req| view.route(req), p, q, now_ms);
            let facts: Vec<Value> = c
                .guests
                .iter()
                .map(|g| {
                    json!({"vmid": g.vmid, "type": g.kind.as_str(), "node": c.nodes[g.node].name, "name": g.name,
                        "template": g.template, "paused": g.paused, "ha": g.ha, "configLock": g.lock, "vanished": g.vanished,
                        "agent": match g.agent { Agent::Off => "off", Agent::Ok => "ok", Agent::NotRunning => "notRunning", Agent::Error => "error" },
                        "backup": g.backup, "tags": g.tags, "snapshots": g.snapshots.len()})
                })
                .collect();
            let disks: Vec<Value> = c.nodes.iter().map(|n| json!({"node": n.name, "disks": r(&format!("nodes/{}/disks/list", n.name), &[])})).collect();
            json!({"cluster": r("cluster/status", &[]), "nodes": r("nodes", &[]), "resources": r("cluster/resources", &[]),
                "storage": r("storage", &[]), "ceph": c.ceph.as_ref().map(|_| r("cluster/ceph/status", &[])),
                "replication": r("cluster/replication", &[]), "guestFacts": facts, "disks": disks, "standalone": c.standalone})
        }
        Product::Pbs => {
            let s = &fleet.pbs[inst.index];
            let view = PbsView {
                s,
                ctx,
                faults: &faults,
                fingerprint: &fps,
            };
            let r = |p: &str, q: &[(&str, &str)]| get(&|req| view.route(req), p, q, now_ms);
            let stores: Vec<Value> = s
                .datastores
                .iter()
                .map(|d| {
                    let ns: Vec<Value> = d.namespaces.iter().map(|n| json!({"ns": n,
                        "snapshots": r(&format!("admin/datastore/{}/snapshots", d.name), &[("ns", n)])})).collect();
                    json!({"store": d.name, "status": r(&format!("admin/datastore/{}/status", d.name), &[]), "namespaces": ns})
                })
                .collect();
            json!({"version": r("version", &[]), "node": r("nodes/localhost/status", &[]), "datastores": stores,
                "tasks": r("nodes/localhost/tasks", &[("limit", "500")])})
        }
        Product::Pmg => {
            let s = &fleet.pmg[inst.index];
            let view = PmgView {
                s,
                ctx,
                fingerprint: &fps,
                ip: &state.ip,
            };
            let r = |p: &str, q: &[(&str, &str)]| get(&|req| view.route(req), p, q, now_ms);
            json!({"version": r("version", &[]), "cluster": r("config/cluster/status", &[("list_single_node", "1")]),
                "mail": r("statistics/mail", &[]), "mailcount": r("statistics/mailcount", &[]),
                "spamscores": r("statistics/spamscores", &[]), "spam": r("quarantine/spamstatus", &[]), "virus": r("quarantine/virusstatus", &[])})
        }
    };
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), json!(inst.product));
        m.insert("name".into(), json!(inst.name));
        m.insert("time".into(), json!(now_ms.div_euclid(1000)));
        m.insert("fingerprint".into(), json!(fp));
        m.insert(
            "faults".into(),
            serde_json::to_value(&faults).unwrap_or(Value::Null),
        );
    }
    Some(v)
}
