//! Every simulator fault against a real `pulse serve` (1 s poll cycles, 2 s request timeout):
//! the faulted instance shows `connectionHealth: false` with a classified reason in
//! `/api/monitoring/scheduler/health` within 2 cycles (plus the request timeout where the
//! fault is a hang), its breaker opens after the threshold, the other instances stay healthy,
//! and after `DELETE /faults` it is healthy again within 2 cycles with its breaker closed.
//! The server's thread count (`/proc/<pid>/task`) does not grow across fault/recover rounds.

mod common;
#[path = "support/live_harness.rs"]
mod harness;

use common::sim::Sim;
use common::*;
use harness::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Slack on top of the cycle budget for the poll itself and a loaded CI machine.
const SLACK: Duration = Duration::from_secs(3);

fn cycles(n: u64) -> Duration {
    Duration::from_secs(n * CYCLE_S) + SLACK
}

fn fleet() -> Sim {
    sim(&[
        "--clusters",
        "1",
        "--nodes",
        "2",
        "--guests",
        "10",
        "--standalone",
        "1",
        "--pbs",
        "1",
        "--pmg",
        "1",
        "--seed",
        "4",
    ])
}

struct Live {
    sim: Sim,
    srv: Server,
    names: Vec<String>,
}

fn live() -> Live {
    let sim = fleet();
    let srv = server(&[]);
    let names = add_all(&srv, &sim);
    wait_all_healthy(&srv, &sim, &names, Duration::from_secs(30));
    Live { sim, srv, names }
}

impl Live {
    fn fault(&self, body: Value) {
        let (code, reply) = self.sim.admin_send("POST", "/faults", &body.to_string());
        assert_eq!(code, 200, "{reply}");
    }

    fn clear(&self) {
        assert_eq!(self.sim.admin_delete("/faults"), 200);
    }

    fn kind(&self, name: &str) -> String {
        self.sim.inst(name)["kind"].as_str().unwrap().to_string()
    }

    /// Waits until `name` is unhealthy while every other instance stays healthy; returns
    /// its scheduler entry.
    fn expect_down(&self, name: &str, limit: Duration, reason: &str, category: &str) -> Value {
        let key = health_key(&self.sim, name);
        let kind = self.kind(name);
        wait_until(limit, &format!("{name} unhealthy ({reason})"), || {
            let st = state(&self.srv);
            let ch = &st["connectionHealth"];
            for other in self.names.iter().filter(|n| *n != name) {
                assert_eq!(
                    ch[health_key(&self.sim, other)],
                    true,
                    "{other} affected by a fault on {name}: {ch}"
                );
            }
            if ch[&key] != false {
                return Err(ch.to_string());
            }
            let inst = sched_instance(&sched_health(&self.srv), &kind, name);
            let err = &inst["pollStatus"]["lastError"];
            let msg = err["message"].as_str().unwrap_or("").to_lowercase();
            if err["category"] == category && msg.contains(reason) {
                Ok(inst)
            } else {
                Err(inst.to_string())
            }
        })
    }

    fn expect_breaker(&self, name: &str, want: &str, limit: Duration) -> Value {
        let kind = self.kind(name);
        wait_until(limit, &format!("{name} breaker {want}"), || {
            let inst = sched_instance(&sched_health(&self.srv), &kind, name);
            if inst["breaker"]["state"] == want {
                Ok(inst)
            } else {
                Err(inst["breaker"].to_string())
            }
        })
    }

    fn expect_recovered(&self, name: &str, limit: Duration) {
        let key = health_key(&self.sim, name);
        let started = Instant::now();
        wait_until(limit, &format!("{name} recovered"), || {
            let st = state(&self.srv);
            if st["connectionHealth"][&key] == true {
                Ok(())
            } else {
                Err(st["connectionHealth"].to_string())
            }
        });
        let inst = sched_instance(&sched_health(&self.srv), &self.kind(name), name);
        assert_eq!(inst["breaker"]["state"], "closed", "{inst}");
        assert_eq!(inst["pollStatus"]["consecutiveFailures"], 0);
        assert_eq!(inst["deadLetter"]["present"], false);
        eprintln!("{name} recovered after {:?}", started.elapsed());
    }

    fn pid(&self) -> u32 {
        self.srv.child.id()
    }

    fn node_id(&self, name: &str) -> String {
        let list = get(&self.srv.url("/api/config/nodes"), &[]).json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn put_node(&self, name: &str, body: Value) {
        let r = send(
            "PUT",
            &self
                .srv
                .url(&format!("/api/config/nodes/{}", self.node_id(name))),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn network_faults_are_reported_isolated_and_recovered_without_thread_growth() {
    let l = live();
    let pid = l.pid();
    let mut after_round = Vec::new();
    for round in 0..3 {
        // Instance down: connections refused.
        l.fault(json!({"instance": "cluster1", "down": true}));
        l.expect_down("cluster1", cycles(2), "refused", "transient");
        // Three failures open the breaker (the backoff keeps retries within 2 cycles).
        l.expect_breaker("cluster1", "open", cycles(5));
        l.clear();
        l.expect_recovered("cluster1", cycles(2));

        // Hung requests: the request timeout fires, the instance is marked, others poll on.
        l.fault(json!({"instance": "standalone1", "hangRate": 1.0}));
        l.expect_down(
            "standalone1",
            cycles(2) + Duration::from_secs(TIMEOUT_S),
            "did not answer",
            "transient",
        );
        l.clear();
        l.expect_recovered("standalone1", cycles(2) + Duration::from_secs(TIMEOUT_S));

        // Connections reset without an answer.
        l.fault(json!({"instance": "pbs1", "resetRate": 1.0}));
        l.expect_down("pbs1", cycles(2), "pbs1", "transient");
        l.clear();
        l.expect_recovered("pbs1", cycles(2));
        after_round.push(threads(pid));
        eprintln!("round {round}: {} threads", threads(pid));
    }
    // Fault/recover rounds do not leave threads behind (the pool is fixed; per-poll guest
    // workers are joined before a poll returns).
    assert!(
        after_round[2] <= after_round[0] + 1,
        "threads grew: {after_round:?}"
    );
}

#[test]
fn server_errors_garbage_and_slowness() {
    let l = live();
    // 5xx on every request.
    l.fault(json!({"instance": "pbs1", "errorRate": 1.0, "errorStatus": 503}));
    let inst = l.expect_down("pbs1", cycles(2), "503", "transient");
    assert!(inst["pollStatus"]["lastError"]["message"].is_string());
    l.clear();
    l.expect_recovered("pbs1", cycles(2));

    // Truncated JSON bodies.
    l.fault(json!({"instance": "pmg1", "invalidJsonRate": 1.0}));
    l.expect_down("pmg1", cycles(2), "pmg1", "transient");
    l.clear();
    l.expect_recovered("pmg1", cycles(2));

    // Slow but within the timeout: still healthy, never marked.
    l.fault(json!({"instance": "cluster1", "latencyMs": 150}));
    std::thread::sleep(Duration::from_secs(3 * CYCLE_S));
    let st = state(&l.srv);
    assert_eq!(st["connectionHealth"]["cluster1"], true);
    let inst = sched_instance(&sched_health(&l.srv), "pve", "cluster1");
    assert_eq!(inst["pollStatus"]["consecutiveFailures"], 0, "{inst}");
    // Slower than the request timeout: a timeout failure.
    l.fault(json!({"instance": "cluster1", "latencyMs": (TIMEOUT_S + 1) * 1000}));
    l.expect_down(
        "cluster1",
        cycles(2) + Duration::from_secs(TIMEOUT_S),
        "did not answer",
        "transient",
    );
    l.clear();
    l.expect_recovered("cluster1", cycles(2) + Duration::from_secs(TIMEOUT_S));

    // Sessions revoked or expired (PMG logs in with a password): a fresh login, no outage.
    l.fault(json!({"instance": "pmg1", "invalidateTickets": true}));
    std::thread::sleep(Duration::from_secs(3 * CYCLE_S));
    // Expiry marks tickets issued before the next simulated second; the simulator's clock
    // is frozen, so it is stepped on for fresh logins to be valid.
    l.fault(json!({"instance": "pmg1", "expireTickets": true}));
    let (code, _) = l
        .sim
        .admin_send("POST", "/clock/advance", r#"{"seconds":2}"#);
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_secs(3 * CYCLE_S));
    let inst = sched_instance(&sched_health(&l.srv), "pmg", "pmg1");
    assert_eq!(inst["pollStatus"]["consecutiveFailures"], 0, "{inst}");
    assert_eq!(state(&l.srv)["connectionHealth"]["pmg-pmg1"], true);
    l.clear();
}

#[test]
fn certificate_change_and_bad_credentials_are_permanent_until_reconfigured() {
    let l = live();
    // The pinned certificate changes: a TLS failure that retrying cannot fix. (A real
    // certificate change restarts pveproxy, which drops open connections: `down` for a few
    // cycles, so the kept-alive connection is dropped and the next one meets the new
    // certificate.)
    l.fault(json!({"instance": "cluster1", "rotateCertificate": true, "down": true}));
    std::thread::sleep(Duration::from_millis(2_500 * CYCLE_S));
    l.fault(json!({"instance": "cluster1", "down": false}));
    let inst = l.expect_down("cluster1", cycles(2), "fingerprint", "permanent");
    assert_eq!(inst["deadLetter"]["present"], true, "{inst}");
    assert_eq!(inst["deadLetter"]["reason"], "permanent_failure");
    let h = sched_health(&l.srv);
    assert!(h["deadLetter"]["count"].as_u64().unwrap() >= 1);
    // Clearing the faults does not bring the old certificate back: still parked.
    l.clear();
    std::thread::sleep(Duration::from_secs(3 * CYCLE_S));
    assert_eq!(state(&l.srv)["connectionHealth"]["cluster1"], false);
    // The user pins the new fingerprint: polling starts over at once.
    let (_, doc) = l.sim.admin_get("/instances");
    let fp = doc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "cluster1")
        .unwrap()["fingerprint"]
        .clone();
    l.put_node("cluster1", json!({"fingerprint": fp}));
    l.expect_recovered("cluster1", cycles(2));

    // A rejected API token.
    l.put_node(
        "standalone1",
        json!({"tokenValue": "00000000-dead-beef-0000-000000000000"}),
    );
    let inst = l.expect_down("standalone1", cycles(2), "token", "permanent");
    assert_eq!(inst["deadLetter"]["reason"], "permanent_failure");
    let good = l.sim.inst("standalone1")["tokenValue"].clone();
    l.put_node("standalone1", json!({"tokenValue": good}));
    l.expect_recovered("standalone1", cycles(2));
}
