//! Black-box tests of `/api/alerts/*`: the real binary on a loopback port with a temp data
//! dir, spoken to over HTTP — including bad input, which must get a clear 4xx and leave the
//! stored configuration untouched.

mod common;

use common::*;
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

fn put(s: &Server, path: &str, body: &str) -> Reply {
    send("PUT", &s.url(path), &[JSON], body.as_bytes())
}

fn post(s: &Server, path: &str, body: &str) -> Reply {
    send("POST", &s.url(path), &[JSON], body.as_bytes())
}

fn config(s: &Server) -> Value {
    let r = get(&s.url("/api/alerts/config"), &[]);
    assert_eq!(r.status, 200);
    r.json()
}

#[test]
fn config_defaults_both_paths_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_in(dir.path(), &[]);
    let c = config(&s);
    assert_eq!(c["enabled"], true);
    assert_eq!(
        c["guestDefaults"]["cpu"],
        json!({"trigger": 80.0, "clear": 75.0})
    );
    assert_eq!(c["nodeDefaults"]["temperature"]["trigger"], 80.0);
    assert_eq!(c["storageDefault"]["trigger"], 85.0);
    assert_eq!(c["pmgDefaults"]["queueTotalWarning"], 500);
    assert_eq!(c["pmgThresholds"], c["pmgDefaults"], "API.md's name too");
    assert_eq!(c["timeThresholds"]["guest"], 5);
    assert_eq!(c["activationState"], "pending_review");
    // API.md's path serves the same document.
    assert_eq!(get(&s.url("/api/alerts/"), &[]).json(), c);
    assert_eq!(get(&s.url("/api/alerts"), &[]).json(), c);

    // A partial write through the reference path.
    let r = put(
        &s,
        "/api/alerts/config",
        r#"{"guestDefaults":{"cpu":{"trigger":92.5,"clear":88}},"flappingThreshold":7,
            "pmgThresholds":{"holdQueueWarn":42},"dockerIgnoredContainerPrefixes":["ci-"," CI-"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    // …and one through API.md's path.
    let r = post(
        &s,
        "/api/alerts/",
        r#"{"schedule":{"quietHours":{"enabled":true,"start":"22:30","end":"07:00","timezone":"Europe/Berlin"},"cooldown":15}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = config(&s);
    assert_eq!(c["guestDefaults"]["cpu"]["trigger"], 92.5);
    assert_eq!(c["flappingThreshold"], 7);
    assert_eq!(
        c["flappingEnabled"], true,
        "keys not sent keep their values"
    );
    assert_eq!(c["pmgDefaults"]["holdQueueWarn"], 42);
    assert_eq!(c["pmgDefaults"]["queueTotalWarning"], 500);
    assert_eq!(c["dockerIgnoredContainerPrefixes"], json!(["ci-"]));
    assert_eq!(c["schedule"]["quietHours"]["timezone"], "Europe/Berlin");
    assert_eq!(c["schedule"]["cooldown"], 15);

    // Survives a restart.
    s.stop();
    let s = start_in(dir.path(), &[]);
    let c2 = config(&s);
    assert_eq!(c2, c);
}

#[test]
fn bad_config_is_refused_naming_the_field_and_nothing_changes() {
    let s = start();
    let before = config(&s);
    let cases: &[(&str, &str)] = &[
        ("{", "body"),
        ("[]", "body"),
        ("\"x\"", "body"),
        (
            r#"{"guestDefaults":{"cpu":{"trigger":70,"clear":90}}}"#,
            "guestDefaults.cpu.clear",
        ),
        (
            r#"{"nodeDefaults":{"memory":{"trigger":"ninety"}}}"#,
            "nodeDefaults.memory",
        ),
        (r#"{"enabled":"yes"}"#, "enabled"),
        (r#"{"flappingWindowSeconds":1.5}"#, "flappingWindowSeconds"),
        (
            r#"{"overrides":{"pve-999":{"cpu":{"trigger":50,"clear":40}}}}"#,
            "overrides.pve-999",
        ),
        (
            r#"{"schedule":{"quietHours":{"enabled":true,"start":"7pm","end":"06:00"}}}"#,
            "schedule.quietHours.start",
        ),
        (
            r#"{"schedule":{"quietHours":{"timezone":"Not/AZone"}}}"#,
            "schedule.quietHours.timezone",
        ),
        (
            r#"{"schedule":{"quietHours":{"days":{"funday":true}}}}"#,
            "schedule.quietHours.days",
        ),
        (
            r#"{"schedule":{"escalation":{"levels":[{"after":-5,"notify":"all"}]}}}"#,
            "schedule.escalation.levels[0].after",
        ),
        (r#"{"activationState":"maybe"}"#, "activationState"),
        (r#"{"maxAlertAgeDays":-1}"#, "maxAlertAgeDays"),
        (r#"{"customRules":[{"priority":"high"}]}"#, "customRules[0]"),
        (
            r#"{"customRules":[{"enabled":true,"thresholds":{"cpu":{"trigger":10,"clear":20}}}]}"#,
            "customRules[0].thresholds.cpu.clear",
        ),
    ];
    for (body, field) in cases {
        // A valid part next to the bad one must not be applied either.
        let r = put(&s, "/api/alerts/config", body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let j = r.json();
        let msg = j["error"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    let r = put(
        &s,
        "/api/alerts/config",
        r#"{"storageDefault":{"trigger":60,"clear":50},"guestDefaults":{"cpu":{"trigger":1,"clear":5}}}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["fields"]["guestDefaults.cpu.clear"].is_string());
    assert_eq!(config(&s), before, "nothing half-applied");
    // Oversized body (declared; the server answers before reading it).
    let resp = raw(
        s.port,
        b"PUT /api/alerts/config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n{",
    );
    assert_eq!(status_of(&resp), 413, "{resp}");
    // Wrong method.
    let r = send("DELETE", &s.url("/api/alerts/config"), &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].is_string());
    assert_eq!(config(&s), before);
}

#[test]
fn active_history_and_actions_on_unknown_ids() {
    let s = start();
    assert_eq!(get(&s.url("/api/alerts/active"), &[]).json(), json!([]));
    let h = get(&s.url("/api/alerts/history?limit=10&severity=all"), &[]);
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!([]));
    for bad in [
        "limit=-1",
        "offset=-3",
        "startTime=yesterday",
        "endTime=2026-13-01T00:00:00Z",
        "startTime=2026-02-01T00:00:00Z&endTime=2026-01-01T00:00:00Z",
    ] {
        let r = get(&s.url(&format!("/api/alerts/history?{bad}")), &[]);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"].is_string());
    }
    let r = send("DELETE", &s.url("/api/alerts/history"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "success");

    for action in ["acknowledge", "unacknowledge", "clear"] {
        for id in [
            "pve-101-cpu",
            "docker%3Ahost1%2Fabc-cpu",
            "node-offline-pve-n1",
        ] {
            let r = post(&s, &format!("/api/alerts/{id}/{action}"), "");
            assert_eq!(r.status, 404, "{id}/{action}: {}", r.text());
            let msg = r.json()["error"].as_str().unwrap().to_string();
            assert!(msg.contains("not found"), "{msg}");
        }
        let r = post(&s, &format!("/api/alerts/bad%0Aid/{action}"), "");
        assert_eq!(r.status, 400);
        let r = get(&s.url(&format!("/api/alerts/pve-101-cpu/{action}")), &[]);
        assert_eq!(r.status, 405);
    }
    let r = post(&s, "/api/alerts/pve-101-cpu/explode", "");
    assert_eq!(r.status, 404);

    // Bulk.
    for (body, want) in [
        ("not json", "Invalid request body"),
        (r#"{"alertIds":"x"}"#, "Invalid request body"),
        (r#"{"alertIds":[]}"#, "No alert IDs provided"),
        ("{}", "No alert IDs provided"),
    ] {
        let r = post(&s, "/api/alerts/bulk/acknowledge", body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"], want);
    }
    let r = post(
        &s,
        "/api/alerts/bulk/clear",
        r#"{"alertIds":["a-cpu","docker:h/c-cpu"]}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"results":[
            {"alertId":"a-cpu","success":false,"error":"alert not found"},
            {"alertId":"docker:h/c-cpu","success":false,"error":"alert not found"}
        ]})
    );
    // The server is fine after all that.
    assert_eq!(get(&s.url("/api/health"), &[]).status, 200);
}

#[test]
fn activate_switches_notifications_on_once() {
    let s = start();
    let r = post(&s, "/api/alerts/activate", "");
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["state"], "active");
    assert_eq!(j["message"], "Alert notifications activated");
    let t = j["activationTime"].as_str().unwrap().to_string();
    assert!(t.ends_with('Z'));
    let j = post(&s, "/api/alerts/activate", "").json();
    assert_eq!(j["message"], "Alerts already activated");
    assert_eq!(j["activationTime"], t.as_str());
    let c = config(&s);
    assert_eq!(c["activationState"], "active");
    assert_eq!(c["activationTime"], t.as_str());
}
