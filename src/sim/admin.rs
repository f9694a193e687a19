//! The simulator-only admin API (plain HTTP on its own port, never part of a real product):
//! instances, ground truth, request accounting, faults, clock and fleet edits. Every input is
//! validated and bad input gets a 400 with `{"error": "..."}`.

use super::SimState;
use super::faults::FaultPatch;
use super::net::{Resp, respond};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

fn reply(status: u16, v: &Value) -> Resp {
    respond(
        status,
        None,
        Bytes::from(serde_json::to_vec_pretty(v).unwrap_or_default()),
        "application/json",
    )
}

fn bad(msg: impl std::fmt::Display) -> Resp {
    reply(400, &json!({"error": msg.to_string()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vanish {
    instance: String,
    vmid: u32,
    #[serde(default = "yes")]
    vanished: bool,
}

fn yes() -> bool {
    true
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Box<Resp>> {
    if body.is_empty() {
        return Err(Box::new(bad("request body must be a JSON object")));
    }
    serde_json::from_slice(body).map_err(|e| Box::new(bad(format!("invalid JSON body: {e}"))))
}

pub async fn handle(state: &SimState, req: Request<Incoming>) -> Resp {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let query = super::api::parse_query(req.uri().query().unwrap_or(""));
    let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(413, &json!({"error": "body larger than 64 KiB"})),
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "" | "/instances") => match state.doc.read() {
            Ok(d) => reply(200, &serde_json::to_value(&*d).unwrap_or(Value::Null)),
            Err(_) => reply(500, &json!({"error": "state poisoned"})),
        },
        ("GET", "/health") => reply(200, &json!({"ok": true})),
        ("GET", "/truth") => match query.get("instance") {
            Some(name) => match super::truth::instance_truth(state, name) {
                Some(v) => reply(200, &v),
                None => bad(format!("unknown instance '{name}'")),
            },
            None => {
                let all: Vec<Value> = state
                    .instances
                    .iter()
                    .filter_map(|i| super::truth::instance_truth(state, &i.name))
                    .collect();
                reply(
                    200,
                    &json!({"time": state.clock.now_secs(), "instances": all}),
                )
            }
        },
        ("GET", "/accounting") => reply(200, &state.accounting.snapshot()),
        ("POST" | "DELETE", "/accounting" | "/accounting/reset") => {
            state.accounting.reset();
            reply(200, &json!({"ok": true}))
        }
        ("GET", "/faults") => {
            let mut m = serde_json::Map::new();
            for i in &state.instances {
                m.insert(
                    i.name.clone(),
                    serde_json::to_value(state.faults_of(i)).unwrap_or(Value::Null),
                );
            }
            reply(200, &Value::Object(m))
        }
        ("POST" | "PUT", "/faults") => {
            let p: FaultPatch = match parse(&body) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            match state.apply_faults(&p) {
                Ok(changed) => reply(200, &json!({"ok": true, "instances": changed})),
                Err(e) => bad(e),
            }
        }
        ("DELETE", "/faults") => {
            state.clear_faults();
            reply(200, &json!({"ok": true}))
        }
        ("GET", "/clock") => reply(
            200,
            &json!({"now": state.clock.now_secs(), "nowMs": state.clock.now_ms()}),
        ),
        ("POST", "/clock/advance") => {
            let a: Advance = match parse(&body) {
                Ok(a) => a,
                Err(r) => return *r,
            };
            if !a.seconds.is_finite() || a.seconds <= 0.0 || a.seconds > 10.0 * 365.0 * 86_400.0 {
                return bad("seconds must be a positive number of at most ten years");
            }
            state.clock.advance_ms((a.seconds * 1000.0) as i64);
            reply(200, &json!({"now": state.clock.now_secs()}))
        }
        ("POST", "/guests/vanish") => {
            let v: Vanish = match parse(&body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            let Some(inst) = state
                .instance(&v.instance)
                .filter(|i| i.product == super::auth::Product::Pve)
            else {
                return bad(format!("unknown PVE instance '{}'", v.instance));
            };
            let Ok(mut fleet) = state.fleet.write() else {
                return reply(500, &json!({"error": "state poisoned"}));
            };
            match fleet.pve[inst.index]
                .guests
                .iter_mut()
                .find(|g| g.vmid == v.vmid)
            {
                Some(g) => {
                    g.vanished = v.vanished;
                    reply(200, &json!({"ok": true}))
                }
                None => bad(format!("unknown vmid {} in '{}'", v.vmid, v.instance)),
            }
        }
        (
            _,
            "" | "/instances" | "/health" | "/truth" | "/accounting" | "/faults" | "/clock"
            | "/clock/advance" | "/guests/vanish",
        ) => reply(
            405,
            &json!({"error": format!("method {method} not allowed on {path}")}),
        ),
        _ => reply(
            404,
            &json!({"error": format!("no such admin endpoint: {path}")}),
        ),
    }
}
