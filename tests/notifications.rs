//! Black-box tests of the notification pipeline: the real binary, a real SMTP sink and a
//! real HTTP receiver, all on 127.0.0.1. Loopback is reachable only because each server
//! here is started with `PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS=127.0.0.1` (the SSRF test
//! starts one without it and proves loopback is refused by default).

mod common;
#[path = "common/receivers.rs"]
mod receivers;

use common::*;
use receivers::{HttpReceiver, Mode, SmtpSink};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const JSON: (&str, &str) = ("content-type", "application/json");
const ALLOW: (&str, &str) = ("PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS", "127.0.0.1");
const FAST: (&str, &str) = ("PULSE_NOTIFY_RETRY_BASE_MS", "100");

fn call(s: &Server, method: &str, path: &str, body: &Value) -> Reply {
    send(method, &s.url(path), &[JSON], body.to_string().as_bytes())
}

fn create_webhook(s: &Server, body: Value) -> String {
    let r = call(s, "POST", "/api/notifications/webhooks", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn stats(s: &Server) -> Value {
    let r = get(&s.url("/api/notifications/queue/stats"), &[]);
    assert_eq!(r.status, 200);
    r.json()
}

#[test]
fn email_reaches_a_real_smtp_server_and_a_5xx_is_reported() {
    let sink = SmtpSink::start();
    let s = start_with(&[ALLOW, FAST]);
    let cfg = json!({
        "enabled": true, "server": "127.0.0.1", "port": sink.port, "tls": false, "startTLS": false,
        "username": "mailer", "password": "smtp-Secret-123", "from": "pulse@example.test",
        "to": ["ops@example.test", "oncall@example.test"]
    });
    let r = call(&s, "PUT", "/api/notifications/email", &cfg);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = get(&s.url("/api/notifications/email"), &[]).json();
    assert_eq!(got["password"], "", "password never read back");
    assert_eq!(got["server"], "127.0.0.1");
    // The password is sealed: absent from the redb file.
    let db = std::fs::read(s.dir.join("pulse.redb")).unwrap();
    assert!(!db.windows(15).any(|w| w == b"smtp-Secret-123"));

    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "email"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mails = sink.all();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from, "<pulse@example.test>");
    assert_eq!(m.rcpt, vec!["<ops@example.test>", "<oncall@example.test>"]);
    // AUTH PLAIN carries \0user\0password, base64.
    use base64::Engine;
    let auth = m.auth.clone().expect("authenticated");
    let plain = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .expect("AUTH PLAIN payload");
    assert_eq!(plain, b"\0mailer\0smtp-Secret-123");
    let d = &m.data;
    assert!(
        d.contains("Subject: [Pulse Alert] Warning: CPU on Email Configuration Test"),
        "{d}"
    );
    assert!(d.contains("From: pulse@example.test"), "{d}");
    assert!(d.contains("ops@example.test") && d.contains("oncall@example.test"));
    assert!(d.contains("multipart/alternative"), "{d}");
    assert!(d.contains("text/plain") && d.contains("text/html"), "{d}");
    assert!(d.contains("X-Mailer: Pulse Monitoring System"), "{d}");
    assert!(d.contains("Message-ID: <test-"), "{d}");

    // The queued path delivers through the pool, same server.
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "email", "queue": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_until(20, "queued email", || sink.all().len() == 2);

    // A 5xx from the server is an error the user sees, with the server's words.
    *sink.reject.lock().unwrap() = Some("554 5.7.1 Relay access denied by sink".into());
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "email"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(e.contains("Relay access denied"), "{e}");

    // Bad input: invalid address, wrong types; nothing stored half-written.
    let bad = call(
        &s,
        "PUT",
        "/api/notifications/email",
        &json!({"enabled": true, "server": "x", "from": "not an address"}),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    let bad = call(
        &s,
        "PUT",
        "/api/notifications/email",
        &json!({"port": "twenty-five"}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        get(&s.url("/api/notifications/email"), &[]).json()["server"],
        "127.0.0.1"
    );
    let providers = get(&s.url("/api/notifications/email-providers"), &[]).json();
    assert_eq!(providers.as_array().unwrap().len(), 11);
    assert_eq!(providers[0]["smtpHost"], "smtp.gmail.com");
}

#[test]
fn every_service_payload_and_header_reaches_the_receiver() {
    let rx = HttpReceiver::start(Mode::Ok);
    let s = start_with(&[ALLOW, FAST]);
    let services = [
        "generic",
        "discord",
        "slack",
        "telegram",
        "teams",
        "teams-adaptive",
        "pagerduty",
        "pushover",
        "gotify",
        "ntfy",
        "mattermost",
    ];
    for svc in services {
        let url = if svc == "telegram" {
            rx.url("/bot123:abc/sendMessage?chat_id=-100777")
        } else {
            rx.url(&format!("/{svc}"))
        };
        let id = create_webhook(
            &s,
            json!({
                "name": svc, "url": url, "service": svc, "enabled": true,
                "headers": {"X-Custom": "secret-header-value", "routing_key": "rk-123"},
                "customFields": {"app_token": "apptok", "user_token": "usertok"}
            }),
        );
        let before = rx.count();
        let r = call(
            &s,
            "POST",
            "/api/notifications/test",
            &json!({"method": "webhook", "webhookId": id}),
        );
        assert_eq!(r.status, 200, "{svc}: {}", r.text());
        assert_eq!(rx.count(), before + 1, "{svc}");
        let req = rx.all().pop().unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.header("X-Custom"), Some("secret-header-value"), "{svc}");
        assert_eq!(req.header("User-Agent"), Some("Pulse-Monitoring/2.0"));
        assert!(req.header("Idempotency-Key").is_some());
        if svc == "ntfy" {
            assert!(
                req.header("Content-Type")
                    .unwrap()
                    .starts_with("text/plain")
            );
            assert!(
                req.text().starts_with("WARNING: Test VM on pve-node-01"),
                "{}",
                req.text()
            );
            continue;
        }
        assert_eq!(req.header("Content-Type"), Some("application/json"));
        let v = req.json();
        let check = match svc {
            "generic" => v["alerts"][0]["id"].is_string() && v["source"] == "pulse-monitoring",
            "discord" => {
                v["embeds"][0]["title"] == "Pulse Alert: Warning"
                    && v["embeds"][0]["color"] == 15105570
            }
            "slack" => v["blocks"].is_array() && v["text"] == "Pulse Alert: Warning - Test VM",
            "telegram" => {
                req.path == "/bot123:abc/sendMessage"
                    && v["chat_id"] == "-100777"
                    && v["parse_mode"] == "Markdown"
            }
            "teams" => v["@type"] == "MessageCard" && v["themeColor"] == "FFA500",
            "teams-adaptive" => v["attachments"][0]["content"]["type"] == "AdaptiveCard",
            "pagerduty" => {
                v["routing_key"] == "rk-123"
                    && v["event_action"] == "trigger"
                    && v["payload"]["severity"] == "warning"
            }
            "pushover" => v["token"] == "apptok" && v["user"] == "usertok" && v["priority"] == 0,
            "gotify" => v["priority"] == 5 && v["extras"]["pulse::alert"]["value"] == 85.5,
            "mattermost" => v["text"].as_str().unwrap().contains("Pulse Alert: Warning"),
            _ => unreachable!(),
        };
        assert!(check, "{svc} payload: {v}");
    }
    // Listing masks header values; the masked object round-trips without losing secrets.
    let list = get(&s.url("/api/notifications/webhooks"), &[]).json();
    assert_eq!(list.as_array().unwrap().len(), services.len());
    let first = list[0].clone();
    assert_eq!(first["headers"]["X-Custom"], "***REDACTED***");
    assert!(!list.to_string().contains("secret-header-value"));
    let id = first["id"].as_str().unwrap().to_string();
    let mut upd = first.clone();
    upd["name"] = "renamed".into();
    let r = call(
        &s,
        "PUT",
        &format!("/api/notifications/webhooks/{id}"),
        &upd,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "webhook", "webhookId": id}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        rx.all().pop().unwrap().header("X-Custom"),
        Some("secret-header-value")
    );

    // The test endpoint reports the target's real answer.
    let r = call(
        &s,
        "POST",
        "/api/notifications/webhooks/test",
        &json!({"name": "t", "url": rx.url("/t"), "service": "pagerduty", "headers": {"routing_key": "k"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], 200);
    assert_eq!(r.json()["response"], "ok");
    assert_eq!(
        rx.all().pop().unwrap().header("Accept"),
        Some("application/vnd.pagerduty+json;version=2")
    );
    rx.set_mode(Mode::AlwaysFail);
    let r = call(
        &s,
        "POST",
        "/api/notifications/webhooks/test",
        &json!({"name": "t", "url": rx.url("/t")}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status"], 500);
    assert_eq!(r.json()["success"], false);

    // Custom template: functions and JSON-safe values.
    rx.set_mode(Mode::Ok);
    let id = create_webhook(
        &s,
        json!({
            "name": "custom", "url": rx.url("/custom"), "service": "generic", "enabled": true,
            "template": "{\"t\":\"{{.Level | upper}} {{printf \"%.0f\" .Value}}\",\"n\":{{.AlertCount}},\"q\":\"{{urlquery .ResourceName}}\"}"
        }),
    );
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "webhook", "webhookId": id}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = rx.all().pop().unwrap().json();
    assert_eq!(v, json!({"t": "WARNING 86", "n": 1, "q": "Test+VM"}));

    // Delete, then it is gone.
    let r = send(
        "DELETE",
        &s.url(&format!("/api/notifications/webhooks/{id}")),
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    let r = send(
        "DELETE",
        &s.url(&format!("/api/notifications/webhooks/{id}")),
        &[],
        b"",
    );
    assert_eq!(r.status, 404);
    let t = get(&s.url("/api/notifications/webhook-templates"), &[]).json();
    assert_eq!(t.as_array().unwrap().len(), services.len());
    let h = get(&s.url("/api/notifications/webhook-history"), &[]).json();
    assert!(h.as_array().unwrap().is_empty() || h[0]["webhookUrl"].is_string());
}

#[test]
fn retries_then_delivers_and_dead_letters_then_retries_from_the_dlq() {
    let flaky = HttpReceiver::start(Mode::FailFirst(2));
    let dead = HttpReceiver::start(Mode::AlwaysFail);
    let s = start_with(&[ALLOW, FAST]);
    let f = create_webhook(
        &s,
        json!({"name": "flaky", "url": flaky.url("/f"), "enabled": true}),
    );
    let d = create_webhook(
        &s,
        json!({"name": "dead", "url": dead.url("/d"), "enabled": true}),
    );

    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "webhook", "webhookId": f, "queue": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    flaky.wait_for(30, "3 attempts", |r| r.len() >= 3);
    wait_until(10, "completed", || stats(&s)["completed"] == 1);
    let keys: HashSet<String> = flaky
        .all()
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 1, "one idempotency key across retries");
    assert_eq!(flaky.count(), 3, "fail, fail, deliver");

    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "webhook", "webhookId": d, "queue": true}),
    );
    assert_eq!(r.status, 200);
    wait_until(30, "dlq", || stats(&s)["dlq"] == 1);
    assert_eq!(dead.count(), 3, "maxAttempts 3");
    let dlq = get(&s.url("/api/notifications/dlq?limit=10"), &[]).json();
    assert_eq!(dlq.as_array().unwrap().len(), 1);
    let item = &dlq[0];
    assert_eq!(item["status"], "dlq");
    assert_eq!(item["attempts"], 3);
    assert!(
        item["lastError"].as_str().unwrap().contains("HTTP 500"),
        "{item}"
    );
    let id = item["id"].as_str().unwrap().to_string();
    // Audit history names every attempt.
    let hist = get(&s.url("/api/notifications/history?limit=50"), &[]).json();
    assert!(
        hist.as_array()
            .unwrap()
            .iter()
            .filter(|h| h["notificationId"] == id.as_str())
            .count()
            == 3
    );

    // The endpoint is fixed; retry from the DLQ delivers.
    dead.set_mode(Mode::Ok);
    let r = call(
        &s,
        "POST",
        "/api/notifications/dlq/retry",
        &json!({"id": id}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    dead.wait_for(20, "retry delivery", |r| r.len() == 4);
    wait_until(10, "dlq empty", || stats(&s)["dlq"] == 0);
    assert!(
        get(&s.url("/api/notifications/dlq"), &[])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Bad DLQ input.
    assert_eq!(
        call(&s, "POST", "/api/notifications/dlq/retry", &json!({})).status,
        400
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/dlq/retry",
            &json!({"id": "nope"})
        )
        .status,
        404
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/dlq/delete",
            &json!({"id": "nope"})
        )
        .status,
        404
    );
    assert_eq!(
        send(
            "POST",
            &s.url("/api/notifications/dlq/delete"),
            &[JSON],
            b"{not json"
        )
        .status,
        400
    );

    // Delete from the DLQ with DELETE (raw: clients rarely send bodies with DELETE).
    dead.set_mode(Mode::AlwaysFail);
    call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "webhook", "webhookId": d, "queue": true}),
    );
    wait_until(30, "dlq again", || stats(&s)["dlq"] == 1);
    let id = get(&s.url("/api/notifications/dlq"), &[]).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"id": id}).to_string();
    let req = format!(
        "DELETE /api/notifications/dlq/delete HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let out = raw(s.port, req.as_bytes());
    assert_eq!(status_of(&out), 200, "{out}");
    assert_eq!(stats(&s)["dlq"], 0);
}

#[test]
fn ssrf_targets_and_malformed_templates_are_refused() {
    // No allowlist: loopback is refused like every private address.
    let s = start_with(&[]);
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://[::1]:9/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/",
        "http://10.0.0.1/",
        "http://192.168.0.10/",
        "http://[fe80::1]/",
        "ftp://127.0.0.1/",
        "not a url",
    ] {
        let r = call(
            &s,
            "POST",
            "/api/notifications/webhooks",
            &json!({"name": "x", "url": url, "enabled": true}),
        );
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("Invalid webhook URL"),
            "{}",
            r.text()
        );
        let r = call(
            &s,
            "POST",
            "/api/notifications/webhooks/test",
            &json!({"name": "x", "url": url}),
        );
        assert_eq!(r.status, 400, "test {url}");
    }
    assert!(
        get(&s.url("/api/notifications/webhooks"), &[])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    drop(s);

    let rx = HttpReceiver::start(Mode::Ok);
    let s = start_with(&[ALLOW]);
    // The allowlist opens exactly 127.0.0.1: metadata stays closed.
    let r = call(
        &s,
        "POST",
        "/api/notifications/webhooks",
        &json!({"name": "x", "url": "http://169.254.169.254/", "enabled": true}),
    );
    assert_eq!(r.status, 400);
    for (tpl, needle) in [
        ("{\"a\":\"{{.Level\"}", "unclosed action"),
        ("{\"a\":\"{{if .Level}}x\"}", "if without end"),
        (
            "{\"a\":\"{{nosuch .Level}}\"}",
            "function \\\"nosuch\\\" not defined",
        ),
        ("{\"a\":\"{{.NoField}}\"}", "can't evaluate field NoField"),
        ("{\"a\": {{.Level}} }", "invalid JSON"),
    ] {
        let r = call(
            &s,
            "POST",
            "/api/notifications/webhooks",
            &json!({"name": "x", "url": rx.url("/"), "template": tpl, "enabled": true}),
        );
        assert_eq!(r.status, 400, "{tpl}");
        let e = r.text();
        assert!(
            e.contains("Invalid webhook template") && e.contains(needle),
            "{tpl}: {e}"
        );
    }
    // Other bad bodies.
    assert_eq!(
        send(
            "POST",
            &s.url("/api/notifications/webhooks"),
            &[JSON],
            b"[1,2"
        )
        .status,
        400
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/webhooks",
            &json!({"name": 5})
        )
        .status,
        400
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/webhooks",
            &json!({"name": "x", "url": rx.url("/"), "service": "fax"})
        )
        .status,
        400
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/webhooks",
            &json!({"name": "x", "url": rx.url("/"), "service": "telegram"})
        )
        .status,
        400,
        "telegram needs chat_id"
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/test",
            &json!({"method": "pigeon"})
        )
        .status,
        400
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/test",
            &json!({"method": "webhook"})
        )
        .status,
        400,
        "no webhooks configured"
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/notifications/test",
            &json!({"method": "webhook", "webhookId": "nope"})
        )
        .status,
        404
    );
    assert_eq!(
        call(&s, "POST", "/api/notifications", &json!({"maxAttempts": 0})).status,
        400
    );
    assert!(
        get(&s.url("/api/notifications/webhooks"), &[])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(rx.count(), 0, "nothing was sent for refused input");
    // Apprise: http mode server URL goes through the same guard.
    let r = call(
        &s,
        "PUT",
        "/api/notifications/apprise",
        &json!({"enabled": true, "mode": "http", "serverUrl": "http://169.254.169.254"}),
    );
    assert_eq!(r.status, 400);
    let r = call(
        &s,
        "PUT",
        "/api/notifications/apprise",
        &json!({"enabled": true, "mode": "http", "serverUrl": rx.url("/apprise/"), "configKey": "my key", "apiKey": "ak-1"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["apiKey"], "***REDACTED***");
    assert_eq!(r.json()["serverUrl"], rx.url("/apprise"));
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "apprise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let req = rx.all().pop().unwrap();
    assert_eq!(req.path, "/apprise/notify/my%20key");
    assert_eq!(req.header("X-API-KEY"), Some("ak-1"));
    assert_eq!(req.json()["type"], "warning");
    assert_eq!(req.json()["title"], "Pulse alert: Test VM");
}

#[test]
fn apprise_cli_mode_runs_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("apprise-args");
    let script = dir.path().join("fake-apprise");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", out.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = start_with(&[]);
    let r = call(
        &s,
        "PUT",
        "/api/notifications/apprise",
        &json!({"enabled": true, "targets": ["mailto://x", "MAILTO://x", "tgram://t/c"], "cliPath": script.display().to_string()}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["targets"], json!(["mailto://x", "tgram://t/c"]));
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"type": "apprise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let args = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = args.lines().collect();
    assert_eq!(lines[0], "-t");
    assert_eq!(lines[1], "Pulse alert: Test VM");
    assert!(args.contains("mailto://x") && args.contains("tgram://t/c"));
    // A failing command is an error with its output.
    std::fs::write(&script, "#!/bin/sh\necho broken target >&2\nexit 3\n").unwrap();
    let r = call(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"type": "apprise"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("broken target"), "{}", r.text());
}

/// kill -9 with 200 queued notifications and a receiver that never answers; after restart
/// every notification arrives (counted at the receiver, de-duplicated by idempotency key).
#[test]
fn crash_with_200_queued_loses_nothing() {
    const N: usize = 200;
    let rx = HttpReceiver::start(Mode::Stall);
    let dir = tempfile::tempdir().unwrap();
    let envs = [ALLOW, FAST, ("PULSE_NOTIFY_HTTP_TIMEOUT_MS", "120000")];
    let mut s = start_in(dir.path(), &envs);
    let id = create_webhook(
        &s,
        json!({"name": "stalled", "url": rx.url("/hook"), "enabled": true}),
    );
    let mut queued = HashSet::new();
    for _ in 0..N {
        let r = call(
            &s,
            "POST",
            "/api/notifications/test",
            &json!({"method": "webhook", "webhookId": id, "queue": true}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        queued.insert(r.json()["ids"][0].as_str().unwrap().to_string());
    }
    assert_eq!(queued.len(), N);
    rx.wait_for(10, "first stalled delivery", |r| !r.is_empty());
    let st = stats(&s);
    assert_eq!(st["queueDepth"], N as u64, "{st}");
    assert_eq!(
        st["processing"], 1,
        "one in flight to the stalled endpoint: {st}"
    );
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    s.port = 0;

    rx.set_mode(Mode::Ok);
    let started = Instant::now();
    let s2 = start_in(dir.path(), &envs);
    rx.wait_for(120, "all notifications after restart", |r| {
        r.iter()
            .filter_map(|q| q.header("Idempotency-Key"))
            .collect::<HashSet<_>>()
            .len()
            >= N
    });
    let elapsed = started.elapsed();
    let all = rx.all();
    let keys: HashSet<String> = all
        .iter()
        .filter_map(|q| q.header("Idempotency-Key").map(str::to_string))
        .collect();
    assert_eq!(keys, queued, "every queued id delivered, nothing else");
    wait_until(10, "queue drained", || stats(&s2)["completed"] == N as u64);
    eprintln!(
        "crash test: queued {N}, receiver requests {} (incl. the stalled one), unique {}, lost 0, drained after restart in {:.2?}",
        all.len(),
        keys.len(),
        elapsed
    );
}
