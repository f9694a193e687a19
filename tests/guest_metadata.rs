//! `/api/guests/metadata` end to end: the real binary in demo mode (built-in simulator), an
//! admin API token, both path forms, the API.md aliases, persistence across a restart, bad
//! data, and the access rules.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const ADMIN: &str = "guest-meta-admin-token-0123456789";

fn start_demo(dir: &Path, envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut cmd = command(dir, port);
    cmd.envs(envs.iter().copied());
    cmd.arg("--demo")
        .env("API_TOKENS", ADMIN)
        .env("PVE_POLLING_INTERVAL", "1")
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().expect("spawn pulse");
    let s = Server {
        child,
        port,
        dir: dir.to_path_buf(),
        _tmp: None,
    };
    wait_healthy(&s.url("/api/health"), Duration::from_secs(15));
    s
}

fn auth() -> (&'static str, &'static str) {
    ("X-API-Token", ADMIN)
}

/// The first VM of the demo fleet once polled: (id, node, vmid, name).
fn first_vm(s: &Server) -> (String, String, u64, String) {
    let started = Instant::now();
    loop {
        let st = get(&s.url("/api/state"), &[auth()]).json();
        if let Some(vm) = st["vms"].as_array().and_then(|v| v.first()) {
            return (
                vm["id"].as_str().unwrap().into(),
                vm["node"].as_str().unwrap().into(),
                vm["vmid"].as_u64().unwrap(),
                vm["name"].as_str().unwrap().into(),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no VMs in state: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the guest `id` is in the live state.
fn wait_guest(s: &Server, id: &str) {
    let started = Instant::now();
    loop {
        let st = get(&s.url("/api/state"), &[auth()]).json();
        if st["vms"]
            .as_array()
            .is_some_and(|v| v.iter().any(|g| g["id"] == id))
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{id} not in state"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn req(s: &Server, method: &str, path: &str, body: &str) -> Reply {
    send(
        method,
        &s.url(path),
        &[auth(), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn all(s: &Server) -> Value {
    let r = get(&s.url("/api/guests/metadata"), &[auth()]);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn crud_by_id_and_by_node_vmid_survives_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start_demo(tmp.path(), &[]);
    let (id, node, vmid, name) = first_vm(&s);
    let by_id = format!("/api/guests/metadata/{id}");
    let by_node = format!("/api/guests/metadata/{node}/{vmid}");

    // Nothing stored yet: the list is an empty object, an unknown guest reads as empty.
    assert_eq!(all(&s), json!({}));
    let r = get(&s.url(&by_id), &[auth()]);
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["id"], id.as_str());
    assert_eq!(j["consoleUrl"], "");
    assert_eq!(j["notes"], "");
    assert_eq!(j["tags"], json!([]));

    // API.md form and aliases: PUT /<node>/<vmid> with consoleUrl + notes.
    let r = req(
        &s,
        "PUT",
        &by_node,
        r#"{"consoleUrl":"https://console.example/vm/1","notes":"Production database"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["id"], id.as_str(), "node/vmid resolves to the state id");
    assert_eq!(j["customUrl"], "https://console.example/vm/1");
    assert_eq!(j["consoleUrl"], "https://console.example/vm/1");
    assert_eq!(j["description"], "Production database");
    assert_eq!(j["notes"], "Production database");
    assert_eq!(j["lastKnownName"], name.as_str());
    assert_eq!(j["lastKnownType"], "qemu");

    // The same record through the id form; reference field names; absent keys are kept.
    let r = req(&s, "POST", &by_id, r#"{"tags":["db","prod"]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let j = get(&s.url(&by_node), &[auth()]).json();
    assert_eq!(j["customUrl"], "https://console.example/vm/1");
    assert_eq!(j["notes"], "Production database");
    assert_eq!(j["tags"], json!(["db", "prod"]));
    let r = req(
        &s,
        "PUT",
        &by_id,
        r#"{"customUrl":"http://10.0.0.5:8080/","description":"x"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = all(&s);
    assert_eq!(listed.as_object().unwrap().len(), 1);
    assert_eq!(listed[&id]["consoleUrl"], "http://10.0.0.5:8080/");
    assert_eq!(listed[&id]["notes"], "x");

    // A second guest by free-form id (a guest Pulse does not currently see).
    let r = req(
        &s,
        "PUT",
        "/api/guests/metadata/gone-node-999",
        r#"{"notes":"retired"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("lastKnownName").is_none());

    // Ids are percent-decoded exactly once (`%2541` is the literal `%41`, not `A`).
    let r = req(
        &s,
        "PUT",
        "/api/guests/metadata/old%20guest%2541",
        r#"{"tags":["x"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "old guest%41");
    assert_eq!(
        req(&s, "DELETE", "/api/guests/metadata/old%20guest%2541", "").status,
        204
    );

    // Survives a restart.
    s.stop();
    let s = start_demo(tmp.path(), &[]);
    let listed = all(&s);
    // The <node>/<vmid> form needs the node in the live state: wait for the first poll.
    wait_guest(&s, &id);
    assert_eq!(listed.as_object().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[&id]["customUrl"], "http://10.0.0.5:8080/");
    assert_eq!(listed[&id]["tags"], json!(["db", "prod"]));
    assert_eq!(listed["gone-node-999"]["description"], "retired");

    // Clearing with null / "" and deleting through either form.
    let r = req(&s, "PUT", &by_id, r#"{"consoleUrl":null,"notes":""}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["consoleUrl"], "");
    assert_eq!(r.json()["notes"], "");
    let r = req(&s, "DELETE", &by_node, "");
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(all(&s).get(&id).is_none());
    let r = req(&s, "DELETE", "/api/guests/metadata/gone-node-999", "");
    assert_eq!(r.status, 204);
    assert_eq!(all(&s), json!({}));
    // Deleting again is idempotent.
    assert_eq!(req(&s, "DELETE", &by_id, "").status, 204);
}

#[test]
fn bad_data_is_refused_and_nothing_stored_and_access_is_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_demo(
        tmp.path(),
        // A password too, so even reads need credentials (API-only mode leaves reads open).
        &[
            ("PULSE_AUTH_USER", "admin"),
            ("PULSE_AUTH_PASS", &bcrypt::hash("pw-for-tests", 4).unwrap()),
        ],
    );
    let (id, node, vmid, _) = first_vm(&s);
    let by_id = format!("/api/guests/metadata/{id}");
    let by_node = format!("/api/guests/metadata/{node}/{vmid}");

    // A good record first: every refused write below must leave it untouched.
    let good = r#"{"consoleUrl":"https://ok.example/","notes":"keep me","tags":["a"]}"#;
    assert_eq!(req(&s, "PUT", &by_id, good).status, 200);
    let before = all(&s);

    let long_url = format!(r#"{{"consoleUrl":"https://h/{}"}}"#, "a".repeat(2100));
    let long_notes = format!(r#"{{"notes":"{}"}}"#, "n".repeat(10 * 1024 + 1));
    let many_tags = serde_json::to_string(
        &json!({"tags": (0..40).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
    )
    .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (&by_id, "{not json".into(), "Invalid JSON"),
        (&by_id, "".into(), "Invalid JSON"),
        (&by_id, r#"["array"]"#.into(), "Invalid JSON"),
        (
            &by_node,
            r#"{"consoleUrl":"vbscript:x"}"#.into(),
            "consoleUrl",
        ),
        (
            &by_id,
            r#"{"consoleUrl":"javascript:alert(1)"}"#.into(),
            "consoleUrl",
        ),
        (
            &by_id,
            r#"{"customUrl":"data:text/html,hi"}"#.into(),
            "customUrl",
        ),
        (
            &by_id,
            r#"{"consoleUrl":"/relative/path"}"#.into(),
            "consoleUrl",
        ),
        (
            &by_id,
            r#"{"consoleUrl":"ftp://files.example/"}"#.into(),
            "consoleUrl",
        ),
        (&by_id, long_url, "consoleUrl"),
        (&by_id, long_notes, "notes"),
        (&by_id, many_tags, "tags"),
        (&by_id, r#"{"tags":"a,b"}"#.into(), "Invalid JSON"),
        (&by_id, r#"{"notes":42}"#.into(), "Invalid JSON"),
        (&by_id, r#"{"unknownField":1}"#.into(), "unknown field"),
        (
            &by_id,
            r#"{"customUrl":"https://a/","consoleUrl":"https://b/"}"#.into(),
            "consoleUrl",
        ),
    ];
    for (path, body, needle) in &cases {
        let r = req(&s, "PUT", path, body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let err = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(
            err.contains(needle),
            "{body}: error {err:?} lacks {needle:?}"
        );
    }
    // Path errors: non-numeric vmid, unknown node.
    for (path, needle) in [
        (format!("/api/guests/metadata/{node}/abc"), "vmid"),
        (format!("/api/guests/metadata/{node}/-1"), "vmid"),
        (
            "/api/guests/metadata/no-such-node/100".to_string(),
            "unknown node",
        ),
    ] {
        let r = req(&s, "PUT", &path, r#"{"notes":"x"}"#);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(
            r.json()["error"].as_str().unwrap().contains(needle),
            "{path}"
        );
        assert_eq!(get(&s.url(&path), &[auth()]).status, 400, "GET {path}");
    }
    // Over the body limit (1 MiB default): refused before parsing.
    // Only the head is sent: the declared length alone must get a 413 (a client writing the
    // whole body would race the server closing the connection).
    let head = format!(
        "PUT {by_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Token: {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        2 << 20
    );
    let resp = raw(s.port, head.as_bytes());
    assert_eq!(status_of(&resp), 413, "{resp}");
    assert_eq!(all(&s), before, "a refused write changed what is stored");

    // Access: anonymous is 401; a monitoring:read token reads but cannot write.
    let anon = send(
        "PUT",
        &s.url(&by_id),
        &[("Content-Type", "application/json")],
        br#"{"notes":"anon"}"#,
    );
    assert_eq!(anon.status, 401, "{}", anon.text());
    assert_eq!(get(&s.url("/api/guests/metadata"), &[]).status, 401);
    let minted = req(
        &s,
        "POST",
        "/api/security/tokens",
        &json!({"name": "ro", "scopes": ["monitoring:read"]}).to_string(),
    );
    assert_eq!(minted.status, 200, "{}", minted.text());
    let ro = minted.json()["token"].as_str().unwrap().to_string();
    let ro_h = ("X-API-Token", ro.as_str());
    let r = get(&s.url(&by_id), &[ro_h]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["notes"], "keep me");
    for method in ["PUT", "POST", "DELETE"] {
        let r = send(
            method,
            &s.url(&by_id),
            &[ro_h, ("Content-Type", "application/json")],
            br#"{"notes":"ro"}"#,
        );
        assert_eq!(r.status, 403, "{method}: {}", r.text());
    }
    assert_eq!(all(&s), before);
}
