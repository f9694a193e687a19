//! `/api/config/nodes` over HTTP against the real binary: CRUD with sealed, masked
//! credentials, validation, duplicates, and connection tests against loopback servers.

mod common;
#[path = "support/mock_proxmox.rs"]
mod mock;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const CT: [(&str, &str); 1] = [("Content-Type", "application/json")];

fn post(s: &Server, path: &str, body: serde_json::Value) -> Reply {
    send("POST", &s.url(path), &CT, body.to_string().as_bytes())
}

#[test]
fn crud_with_masked_and_sealed_secrets() {
    let mut s = start();
    let secret = "s3cr3t-password-for-pve-lab";
    let r = post(
        &s,
        "/api/config/nodes",
        json!({
            "type": "pve", "name": "lab", "host": "192.168.1.10",
            "user": "root@pam", "password": secret, "verifySSL": false
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(id, "pve-0");
    let r = post(
        &s,
        "/api/config/nodes",
        json!({
            "type": "pbs", "name": "backup", "host": "https://10.0.0.5:8007",
            "tokenName": "pulse@pbs!monitor", "tokenValue": "aaaa-bbbb-cccc"
        }),
    );
    assert_eq!(r.status, 201);
    let list = get(&s.url("/api/config/nodes"), &[]);
    assert_eq!(list.status, 200);
    assert!(!list.text().contains(secret) && !list.text().contains("aaaa-bbbb"));
    let j = list.json();
    assert_eq!(j[0]["host"], "https://192.168.1.10:8006");
    assert_eq!(j[0]["hasPassword"], true);
    assert_eq!(j[0]["hasToken"], false);
    assert_eq!(j[0]["monitorVMs"], true);
    assert_eq!(j[1]["type"], "pbs");
    assert_eq!(j[1]["hasToken"], true);
    assert_eq!(j[1]["tokenName"], "pulse@pbs!monitor");
    // Same name and type again: conflict.
    let r = post(
        &s,
        "/api/config/nodes",
        json!({"type": "pve", "name": "LAB", "host": "h", "user": "root@pam", "password": "x"}),
    );
    assert_eq!(r.status, 409);
    // Update without a password keeps the stored one.
    let r = send(
        "PUT",
        &s.url(&format!("/api/config/nodes/{id}")),
        &CT,
        br#"{"name":"lab2","monitorStorage":false}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = get(&s.url("/api/config/nodes"), &[]).json();
    assert_eq!(j[0]["name"], "lab2");
    assert_eq!(j[0]["monitorStorage"], false);
    assert_eq!(j[0]["hasPassword"], true);
    // Delete; ids of other nodes do not shift.
    assert_eq!(
        send(
            "DELETE",
            &s.url(&format!("/api/config/nodes/{id}")),
            &[],
            b""
        )
        .status,
        200
    );
    assert_eq!(
        send(
            "DELETE",
            &s.url(&format!("/api/config/nodes/{id}")),
            &[],
            b""
        )
        .status,
        404
    );
    let j = get(&s.url("/api/config/nodes"), &[]).json();
    assert_eq!(j.as_array().unwrap().len(), 1);
    assert_eq!(j[0]["id"], "pbs-1");
    // Secrets are sealed at rest.
    let dir = s.dir.clone();
    assert_eq!(s.stop().code(), Some(0));
    let raw = std::fs::read(dir.join("pulse.redb")).unwrap();
    for plain in [secret.as_bytes(), b"aaaa-bbbb-cccc".as_slice()] {
        assert!(
            !raw.windows(plain.len()).any(|w| w == plain),
            "plain secret in pulse.redb"
        );
    }
}

#[test]
fn bad_input_is_a_named_400_and_nothing_is_stored() {
    let s = start();
    for (body, field) in [
        (
            json!({"type": "esx", "name": "a", "host": "h", "user": "u", "password": "p"}),
            "type",
        ),
        (
            json!({"type": "pve", "name": "", "host": "h", "user": "root@pam", "password": "p"}),
            "name",
        ),
        (
            json!({"type": "pve", "name": "a", "host": "https://h:70000", "user": "root@pam", "password": "p"}),
            "host",
        ),
        (
            json!({"type": "pve", "name": "a", "host": "h"}),
            "credentials",
        ),
        (
            json!({"type": "pve", "name": "a", "host": "h", "tokenName": "bare", "tokenValue": "x"}),
            "credentials",
        ),
        (
            json!({"type": "pve", "name": "a", "host": "h", "user": "root@pam", "password": "p", "fingerprint": "nothex"}),
            "fingerprint",
        ),
        (
            json!({"type": "pbs", "name": "a", "host": "h", "user": "u@pbs", "password": "p", "monitorVMs": true}),
            "monitorVMs",
        ),
    ] {
        let r = post(&s, "/api/config/nodes", body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(
            r.json()["fields"][field].is_string(),
            "{field} not named: {}",
            r.text()
        );
    }
    for raw in [&b"{not json"[..], b"[]", b"{\"type\": 5}", b""] {
        let r = send("POST", &s.url("/api/config/nodes"), &CT, raw);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(raw));
    }
    assert_eq!(
        send("PUT", &s.url("/api/config/nodes/pve-99"), &CT, b"{}").status,
        404
    );
    assert_eq!(get(&s.url("/api/config/nodes"), &[]).json(), json!([]));
}

#[test]
fn test_connection_classifies_failures_fast() {
    let s = start();
    // A closed loopback port: refused at once, with the class in `fields.kind`.
    let closed = free_port();
    let started = Instant::now();
    let r = post(
        &s,
        "/api/config/nodes/test-connection",
        json!({
            "type": "pve", "host": format!("https://127.0.0.1:{closed}"), "user": "root@pam", "password": "x"
        }),
    );
    assert!(started.elapsed() < Duration::from_secs(11));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["fields"]["kind"], "refused", "{}", r.text());

    // A server that accepts TCP and never answers: cut off by the test timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let r = post(
        &s,
        "/api/config/nodes/test-config",
        json!({
            "type": "pmg", "host": format!("https://127.0.0.1:{port}"), "user": "root@pam", "password": "x"
        }),
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["fields"]["kind"], "timeout", "{}", r.text());
    drop(silent);
}

#[test]
fn test_connection_against_a_pve_endpoint() {
    let server = mock::MockServer::start(|seen| match seen.path.as_str() {
        "/api2/json/access/ticket" => mock::Reply::data(json!({
            "ticket": "PVE:root@pam:0000::sig", "CSRFPreventionToken": "0000:tok", "username": "root@pam"
        })),
        "/api2/json/nodes" => mock::Reply::data(
            json!([{"node": "pve1", "status": "online"}, {"node": "pve2", "status": "online"}]),
        ),
        "/api2/json/cluster/status" => mock::Reply::data(json!([
            {"type": "cluster", "name": "lab", "id": "cluster"},
            {"type": "node", "name": "pve1", "id": "node/pve1", "online": 1},
            {"type": "node", "name": "pve2", "id": "node/pve2", "online": 1}
        ])),
        _ => mock::Reply::raw(404, "{\"data\":null}"),
    });
    let s = start();
    let r = post(
        &s,
        "/api/config/nodes/test-connection",
        json!({
            "type": "pve", "host": server.url(), "user": "root@pam", "password": "pw",
            "fingerprint": server.fingerprint()
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["status"], "success");
    assert_eq!(j["nodeCount"], 2);
    assert_eq!(j["isCluster"], true);
    // A stored node is tested with its stored credentials.
    let r = post(
        &s,
        "/api/config/nodes",
        json!({
            "type": "pve", "name": "lab", "host": server.url(), "user": "root@pam", "password": "pw",
            "fingerprint": server.fingerprint()
        }),
    );
    assert_eq!(r.status, 201);
    let r = post(&s, "/api/config/nodes/pve-0/test", json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        post(&s, "/api/config/nodes/pve-7/test", json!({})).status,
        404
    );
}
