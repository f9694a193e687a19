//! Black-box tests of the foundation: the real binary on loopback, spoken to over HTTP.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn health_and_data_files() {
    let s = start();
    let r = get(&s.url("/api/health"), &[]);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let j = r.json();
    assert_eq!(j["status"], "healthy");
    assert!(j["timestamp"].as_u64().unwrap() > 1_700_000_000);
    assert!(j["uptime"].as_f64().unwrap() >= 0.0);
    assert!(s.dir.join("pulse.redb").is_file());
    let key = s.dir.join(".encryption.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&key).unwrap().len(),
        44,
        "base64 of 32 bytes"
    );
    let head = send("HEAD", &s.url("/api/health"), &[], b"");
    assert_eq!(head.status, 200);
}

#[test]
fn version_fields() {
    let s = start();
    let j = get(&s.url("/api/version"), &[]).json();
    assert_eq!(j["runtime"], "rust");
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    for key in [
        "build",
        "buildTime",
        "channel",
        "deploymentType",
        "latestVersion",
    ] {
        assert!(j[key].is_string(), "{key} missing: {j}");
    }
    for key in [
        "isDocker",
        "isDevelopment",
        "updateAvailable",
        "isSourceBuild",
        "containerized",
    ] {
        assert!(j[key].is_boolean(), "{key} missing: {j}");
    }
    let dt = j["deploymentType"].as_str().unwrap();
    assert!(
        [
            "systemd",
            "docker",
            "aur",
            "proxmoxve",
            "development",
            "manual"
        ]
        .contains(&dt),
        "{dt}"
    );
}

#[test]
fn second_server_on_same_dir_fails_fast() {
    let s = start();
    let start = Instant::now();
    let mut cmd = command(&s.dir, free_port());
    let out = cmd.output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use"), "{err}");
    assert!(
        err.contains(&format!("pid {}", s.child.id())),
        "names the holder: {err}"
    );
    // The first server is unaffected.
    assert_eq!(get(&s.url("/api/health"), &[]).status, 200);
}

#[test]
fn bad_settings_exit_2_with_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("FRONTEND_PORT", "abc")
        .env("LOG_LEVEL", "shouty")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FRONTEND_PORT: not a port number"), "{err}");
    assert!(err.contains("LOG_LEVEL:"), "{err}");
    assert!(
        !dir.path().join("pulse.redb").exists(),
        "bad config touches nothing"
    );
    let out = Command::new(BIN)
        .args(["serve", "--listen", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen:"));
}

#[test]
fn request_id_echo_and_security_headers() {
    let s = start();
    let r = get(&s.url("/api/health"), &[("X-Request-ID", "trace-42.abc")]);
    assert_eq!(r.header("x-request-id"), Some("trace-42.abc"));
    let r = get(
        &s.url("/api/health"),
        &[("X-Request-ID", "evil\tvalue<script>")],
    );
    let id = r.header("x-request-id").unwrap();
    assert!(!id.contains('<') && id.len() == 36, "{id}");
    for path in ["/api/health", "/", "/api/nope", "/assets/nothing.js"] {
        let r = get(&s.url(path), &[]);
        assert!(r.header("x-request-id").is_some(), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            r.header("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    }
}

#[test]
fn api_errors_are_json() {
    let s = start();
    let r = get(&s.url("/api/does/not/exist"), &[]);
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    let r = send("DELETE", &s.url("/api/health"), &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].is_string());
    let ct = [("Content-Type", "application/json")];
    let r = send(
        "POST",
        &s.url("/api/system/settings/update"),
        &ct,
        b"{\"logLevel\": ",
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("Invalid JSON"));
    let r = send("POST", &s.url("/api/system/settings/update"), &ct, b"[1,2]");
    assert_eq!(r.status, 400);
    // Oversize, declared by Content-Length.
    // (Refused before the body is read, so send only the head.)
    let out = raw(
        s.port,
        format!("POST /api/system/settings/update HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", (1 << 20) + 1).as_bytes(),
    );
    assert_eq!(status_of(&out), 413, "{out}");
    assert!(out.contains("\"error\""));
    // Oversize, chunked with no Content-Length.
    let mut req = b"POST /api/system/settings/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..20 {
        req.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        req.extend(std::iter::repeat_n(b' ', 64 * 1024));
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let out = raw(s.port, &req);
    assert_eq!(status_of(&out), 413, "{}", &out[..out.len().min(300)]);
    assert!(out.contains("\"error\""));
    // Nothing was half-written: settings are still the defaults.
    let j = get(&s.url("/api/system/settings"), &[]).json();
    assert!(j.get("logLevel").is_none(), "{j}");
}

#[test]
fn settings_persist_validate_and_env_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_in(dir.path(), &[]);
    let ct = [("Content-Type", "application/json")];
    let r = send("POST", &s.url("/api/system/settings/update"), &ct, br#"{"logLevel":"debug","allowEmbedding":true,"allowedEmbedOrigins":"https://dash.example"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["effective"]["logLevel"], "debug");
    // Applied live: embedding now allowed for that origin.
    let h = get(&s.url("/api/health"), &[]);
    assert!(
        h.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'self' https://dash.example")
    );
    assert!(h.header("x-frame-options").is_none());
    // A bad value is a 400 naming the field, and nothing changes.
    let r = send(
        "PUT",
        &s.url("/api/config/system"),
        &ct,
        br#"{"logLevel":"chatty"}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["fields"]["logLevel"].is_string(), "{}", r.text());
    let r = send(
        "POST",
        &s.url("/api/system/settings/update"),
        &ct,
        br#"{"allowedEmbedOrigins":"https://x; script-src *"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(s.stop().code(), Some(0));
    // Survives a restart; the environment overrides the persisted level.
    let s = start_in(dir.path(), &[("LOG_LEVEL", "warn")]);
    let j = get(&s.url("/api/system/settings"), &[]).json();
    assert_eq!(j["logLevel"], "debug");
    assert_eq!(j["allowEmbedding"], true);
    assert_eq!(j["envOverrides"]["logLevel"], true);
    assert_eq!(j["effective"]["logLevel"], "warn");
}

#[test]
fn graceful_shutdown_finishes_in_flight_request() {
    let s = start();
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = br#"{"logLevel":"error"}"#;
    let head = format!(
        "POST /api/system/settings/update HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    terminate(&s.child);
    std::thread::sleep(Duration::from_millis(200));
    conn.write_all(&body[5..]).unwrap();
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    while !out.contains("\"effective\"") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert_eq!(status_of(&out), 200, "{out}");
    // The process exits 0 once the request is done...
    let mut s = s;
    let status = wait_timeout(&mut s.child, Duration::from_secs(10));
    assert_eq!(status.and_then(|c| c.code()), Some(0));
    s.port = 0; // already exited: nothing for Drop to kill
    // ...having closed the file cleanly with the committed write in it.
    let s2 = start_in(&s.dir, &[]);
    assert_eq!(
        get(&s2.url("/api/system/settings"), &[]).json()["logLevel"],
        "error"
    );
}

#[test]
fn request_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = command(dir.path(), port).spawn().unwrap();
    wait_healthy(
        &format!("http://127.0.0.1:{port}/api/health"),
        Duration::from_secs(10),
    );
    get(
        &format!("http://127.0.0.1:{port}/api/version?token=supersecret"),
        &[("X-Request-ID", "log-check-1")],
    );
    terminate(&child);
    wait_timeout(&mut child, Duration::from_secs(10)).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let line = err
        .lines()
        .find(|l| l.contains("log-check-1"))
        .unwrap_or_else(|| panic!("no request line in {err}"));
    let j: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(j["method"], "GET");
    assert_eq!(j["path"], "/api/version");
    assert_eq!(j["status"], 200);
    assert!(j["duration_ms"].is_number());
    assert!(
        !err.contains("supersecret"),
        "query strings are never logged"
    );
}

#[test]
fn embedded_ui_caching_and_fallback() {
    let s = start();
    let r = get(&s.url("/"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let etag = r.header("etag").unwrap().to_string();
    let r304 = get(&s.url("/"), &[("If-None-Match", &etag)]);
    assert_eq!(r304.status, 304);
    assert!(r304.body.is_empty());
    // SPA fallback for a client-side route; a missing file is a real 404.
    let spa = get(&s.url("/nodes/pve1"), &[]);
    assert_eq!(spa.status, 200);
    assert_eq!(spa.body, r.body);
    assert_eq!(get(&s.url("/assets/missing-abcdefgh.js"), &[]).status, 404);
    // Hashed asset (the stylesheet index.html links; its name changes with every UI build):
    // immutable, precompressed when accepted.
    let html = String::from_utf8_lossy(&r.body).to_string();
    let css_path = html
        .split('"')
        .find(|p| p.starts_with("/assets/") && p.ends_with(".css"))
        .expect("index.html links a hashed stylesheet")
        .to_string();
    let css = get(&s.url(&css_path), &[("Accept-Encoding", "identity")]);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.header("cache-control").unwrap().contains("immutable"));
    assert!(css.header("content-encoding").is_none());
    let request = format!(
        "GET {css_path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    let raw_gz = raw(s.port, request.as_bytes());
    assert_eq!(status_of(&raw_gz), 200);
    assert!(
        raw_gz
            .to_ascii_lowercase()
            .contains("content-encoding: gzip"),
        "{raw_gz}"
    );
}

#[test]
fn path_traversal_is_refused() {
    let s = start();
    for path in [
        "/../../etc/passwd",
        "/assets/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets%2f..%2f..%2fetc%2fpasswd",
        "/assets/..%5c..%5cCargo.toml",
        "/index.html%00.css",
        "/api/../api/health",
    ] {
        let out = raw(
            s.port,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let status = status_of(&out);
        assert_eq!(status, 400, "{path}: {out}");
        assert!(!out.contains("root:"), "{path}");
    }
    // A raw NUL in the request line never reaches a handler.
    let out = raw(
        s.port,
        b"GET /index.html\0x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(matches!(status_of(&out), 0 | 400), "{out}");
    assert_eq!(
        get(&s.url("/api/health"), &[]).status,
        200,
        "server still serving"
    );
}

#[test]
fn https_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = command(&data, port)
        .env("HTTPS_ENABLED", "true")
        .env("TLS_CERT_FILE", &cert)
        .env("TLS_KEY_FILE", &key)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(true)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("https://127.0.0.1:{port}/api/health");
    let start = Instant::now();
    let body = loop {
        if let Ok(mut r) = agent.get(&url).call() {
            break r.body_mut().read_to_string().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "https never came up"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(body.contains("healthy"));
    // Plain HTTP on the TLS port gets nothing useful.
    assert!(
        ureq::get(&format!("http://127.0.0.1:{port}/api/health"))
            .call()
            .is_err()
    );
    terminate(&child);
    assert_eq!(
        wait_timeout(&mut child, Duration::from_secs(10))
            .unwrap()
            .code(),
        Some(0)
    );
    // Broken key file: a clear error, exit 1.
    std::fs::write(&key, "not a key").unwrap();
    let out = command(&data, free_port())
        .env("HTTPS_ENABLED", "1")
        .env("TLS_CERT_FILE", &cert)
        .env("TLS_KEY_FILE", &key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key.pem"));
}

#[test]
fn hash_password_and_version_commands() {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$2") && hash.contains("$12$"), "{hash}");
    assert!(bcrypt::verify("correct horse", hash).unwrap());
    assert!(!bcrypt::verify("wrong", hash).unwrap());
    let out = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "empty password refused");
    let out = Command::new(BIN).arg("version").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(&format!("pulse {}", env!("CARGO_PKG_VERSION"))));
    assert!(text.contains("commit"));
}

#[test]
fn refuses_when_key_missing_but_secrets_exist() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_in(dir.path(), &[]);
    assert_eq!(s.stop().code(), Some(0));
    std::fs::remove_file(dir.path().join(".encryption.key")).unwrap();
    let out = command(dir.path(), free_port()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".encryption.key") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn scheduler_health_shape_without_instances() {
    let s = start();
    let r = get(&s.url("/api/monitoring/scheduler/health"), &[]);
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["enabled"], false);
    assert_eq!(j["queue"]["depth"], 0);
    assert_eq!(
        j["deadLetter"],
        serde_json::json!({"count": 0, "tasks": []})
    );
    assert_eq!(j["instances"], serde_json::json!([]));
    assert!(j["updatedAt"].as_str().unwrap().ends_with('Z'));
    let st = get(&s.url("/api/state"), &[]).json();
    assert_eq!(st["nodes"], serde_json::json!([]));
}

#[test]
fn serve_flags_work_without_the_subcommand() {
    // The README's run command is `cargo run --release -- --demo`: flags with no subcommand.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(
        &format!("http://127.0.0.1:{port}/api/health"),
        Duration::from_secs(10),
    );
    terminate(&child);
    assert_eq!(
        wait_timeout(&mut child, Duration::from_secs(10))
            .unwrap()
            .code(),
        Some(0)
    );
    let out = Command::new(BIN)
        .args(["version", "--demo"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "serve flags do not mix with other subcommands"
    );
}
