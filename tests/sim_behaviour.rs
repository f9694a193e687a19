//! Black-box behaviour of `pulse simulate`: determinism, time evolution, authentication,
//! permissions, every fault kind, request accounting, admin input validation and CLI errors.

mod common;

use common::sim::{Auth, Sim, T0, agent};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn small(extra: &[&str]) -> Sim {
    Sim::start(
        &[
            &[
                "--clusters",
                "1",
                "--nodes",
                "3",
                "--guests",
                "60",
                "--standalone",
                "0",
                "--pbs",
                "1",
                "--pmg",
                "1",
            ],
            extra,
        ]
        .concat(),
    )
}

#[test]
fn same_seed_and_clock_give_identical_answers() {
    let a = small(&["--seed", "42"]);
    let b = small(&["--seed", "42"]);
    let c = small(&["--seed", "43"]);
    for (inst, path) in [
        ("cluster1", "/cluster/resources"),
        ("cluster1", "/nodes/c1-pve1/tasks"),
        ("cluster1", "/nodes/c1-pve2/storage/nfs-backup/content"),
        ("pbs1", "/admin/datastore/store1/snapshots"),
        ("pmg1", "/statistics/mailcount?timespan=3600"),
    ] {
        assert_eq!(a.ok(inst, path), b.ok(inst, path), "{inst} {path}");
    }
    assert_ne!(
        a.ok("cluster1", "/cluster/resources"),
        c.ok("cluster1", "/cluster/resources")
    );
    // credentials are deterministic too, so scripts can be re-run
    assert_eq!(
        a.inst("cluster1")["tokenValue"],
        b.inst("cluster1")["tokenValue"]
    );
}

fn guests(sim: &Sim) -> Vec<Value> {
    sim.ok("cluster1", "/cluster/resources?type=vm")["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn metrics_move_counters_grow_and_backups_appear_on_schedule() {
    let sim = small(&["--seed", "3"]);
    let before = guests(&sim);
    let content_before = sim.ok(
        "cluster1",
        "/nodes/c1-pve1/storage/nfs-backup/content?content=backup",
    )["data"]
        .as_array()
        .unwrap()
        .len();
    let (s, _) = sim.admin_send("POST", "/clock/advance", r#"{"seconds": 600}"#);
    assert_eq!(s, 200);
    let after = guests(&sim);
    let mut compared = 0;
    let mut cpu_changed = 0;
    for g in &before {
        let Some(h) = after.iter().find(|x| x["vmid"] == g["vmid"]) else {
            panic!("guest vanished")
        };
        if g["status"] == "running"
            && h["status"] == "running"
            && h["uptime"].as_i64().unwrap() >= 600
        {
            assert_eq!(
                h["uptime"].as_i64().unwrap(),
                g["uptime"].as_i64().unwrap() + 600,
                "uptime of {}",
                g["vmid"]
            );
            for k in ["netin", "netout", "diskread", "diskwrite"] {
                assert!(
                    h[k].as_u64().unwrap() >= g[k].as_u64().unwrap(),
                    "{k} of {} went backwards",
                    g["vmid"]
                );
            }
            if h["cpu"] != g["cpu"] {
                cpu_changed += 1;
            }
            compared += 1;
        }
    }
    assert!(compared > 20, "{compared}");
    assert!(
        cpu_changed * 2 > compared,
        "cpu barely moves: {cpu_changed}/{compared}"
    );
    // a day later the nightly job has produced a new backup per guest and pruned the oldest
    let (s, _) = sim.admin_send("POST", "/clock/advance", r#"{"seconds": 86400}"#);
    assert_eq!(s, 200);
    let content_after = sim.ok(
        "cluster1",
        "/nodes/c1-pve1/storage/nfs-backup/content?content=backup",
    )["data"]
        .clone();
    let n_after = content_after.as_array().unwrap().len();
    assert!(content_before > 0 && n_after > 0);
    let newest = content_after
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["ctime"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(newest > T0 + 600, "no backup newer than the first look");
    // PBS snapshots follow their schedule as well
    let snaps = |sim: &Sim| {
        sim.ok("pbs1", "/admin/datastore/store1/snapshots")["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["backup-time"].as_i64().unwrap())
            .max()
            .unwrap()
    };
    assert!(snaps(&sim) > T0 - 86_400);
}

#[test]
fn authentication_like_the_products() {
    let sim = small(&["--seed", "1"]);
    assert_eq!(sim.get("cluster1", "/nodes", Auth::None).status, 401);
    assert_eq!(
        sim.get(
            "cluster1",
            "/nodes",
            Auth::Header("PVEAPIToken=root@pam!pulse=wrong".into())
        )
        .status,
        401
    );
    assert_eq!(
        sim.get("cluster1", "/nodes", Auth::Header("garbage".into()))
            .status,
        401
    );
    assert_eq!(sim.get("cluster1", "/nodes", Auth::Token).status, 200);
    // PBS uses ':' before the secret; the PVE spelling is refused
    let p = sim.inst("pbs1");
    let pve_style = format!(
        "PVEAPIToken={}={}",
        p["tokenId"].as_str().unwrap(),
        p["tokenValue"].as_str().unwrap()
    );
    assert_eq!(
        sim.get("pbs1", "/version", Auth::Header(pve_style)).status,
        401
    );
    assert_eq!(sim.get("pbs1", "/version", Auth::Token).status, 200);
    // tickets, form and JSON bodies
    let cookie = sim.login_cookie("cluster1");
    assert_eq!(
        sim.get("cluster1", "/nodes", Auth::Cookie(cookie.clone()))
            .status,
        200
    );
    let i = sim.inst("cluster1");
    let url = format!("{}/api2/json/access/ticket", sim.url("cluster1"));
    let body = json!({"username": i["user"], "password": i["password"]}).to_string();
    let mut r = sim
        .agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(&body)
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert!(v["data"]["CSRFPreventionToken"].as_str().unwrap().len() > 10);
    assert!(
        v["data"]["ticket"]
            .as_str()
            .unwrap()
            .starts_with("PVE:root@pam:")
    );
    assert_eq!(
        sim.post_form(
            "cluster1",
            "/access/ticket",
            "username=root@pam&password=nope"
        )
        .status,
        401
    );
    assert_eq!(
        sim.post_form("cluster1", "/access/ticket", "username=root@pam")
            .status,
        400
    );
    let mut r = sim
        .agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send("{\"username\": ")
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "malformed JSON login: {}",
        r.body_mut().read_to_string().unwrap_or_default()
    );
    // Oversized bodies get their 413, not a connection closed while the client still sends
    // (the 2 MB one reliably broke the pipe when the simulator answered after 64 KiB).
    for len in [100_000, 2_000_000] {
        let huge = format!("username=root@pam&password={}", "x".repeat(len));
        assert_eq!(
            sim.post_form("cluster1", "/access/ticket", &huge).status,
            413,
            "{len} bytes"
        );
    }
    // the ticket expires after two simulated hours
    sim.admin_send("POST", "/clock/advance", r#"{"seconds": 7300}"#);
    assert_eq!(
        sim.get("cluster1", "/nodes", Auth::Cookie(cookie)).status,
        401
    );
    // PMG: tickets yes, API tokens no
    let pmg_cookie = sim.login_cookie("pmg1");
    assert_eq!(
        sim.get("pmg1", "/statistics/mail", Auth::Cookie(pmg_cookie.clone()))
            .status,
        200
    );
    assert_eq!(
        sim.get(
            "pmg1",
            "/statistics/mail",
            Auth::Header("PMGAPIToken=root@pam!x:y".into())
        )
        .status,
        401
    );
    // a PVE ticket is no PMG ticket
    let pve_ticket = sim
        .login_cookie("cluster1")
        .replace("PVEAuthCookie", "PMGAuthCookie");
    assert_eq!(
        sim.get("pmg1", "/version", Auth::Cookie(pve_ticket)).status,
        401
    );
}

#[test]
fn limited_token_gets_403_where_privileges_are_missing() {
    let sim = small(&["--seed", "2"]);
    let t = sim.truth("cluster1");
    let g = &t["guestFacts"][0];
    let path = format!(
        "/nodes/{}/{}/{}/status/current",
        g["node"].as_str().unwrap(),
        g["type"].as_str().unwrap(),
        g["vmid"]
    );
    assert_eq!(sim.get("cluster1", &path, Auth::Token).status, 200);
    assert_eq!(sim.get("cluster1", &path, Auth::Limited).status, 403);
    assert_eq!(
        sim.get(
            "cluster1",
            "/nodes/c1-pve1/storage/nfs-backup/content",
            Auth::Limited
        )
        .status,
        403
    );
    // node-level audit still works; VM lists are filtered, not refused (as PVE does)
    assert_eq!(
        sim.get("cluster1", "/nodes/c1-pve1/status", Auth::Limited)
            .status,
        200
    );
    let r = sim.get("cluster1", "/cluster/resources?type=vm", Auth::Limited);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"], json!([]));
    assert_eq!(
        sim.get("pbs1", "/admin/datastore/store1/status", Auth::Limited)
            .status,
        403
    );
}

fn faults(sim: &Sim, body: Value) {
    let (s, v) = sim.admin_send("POST", "/faults", &body.to_string());
    assert_eq!(s, 200, "{v}");
}

#[test]
fn fault_latency_errors_invalid_json() {
    let sim = small(&["--seed", "4"]);
    faults(&sim, json!({"instance": "pbs1", "latencyMs": 400}));
    let t = Instant::now();
    assert_eq!(sim.get("pbs1", "/version", Auth::Token).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(400));
    faults(
        &sim,
        json!({"instance": "pbs1", "latencyMs": 0, "errorRate": 1.0, "errorStatus": 503}),
    );
    let r = sim.get("pbs1", "/version", Auth::Token);
    assert_eq!((r.status, r.json()), (503, json!({"data": null})));
    faults(
        &sim,
        json!({"instance": "pbs1", "errorRate": 0.5, "errorStatus": 500}),
    );
    let codes: Vec<u16> = (0..60)
        .map(|_| sim.get("pbs1", "/version", Auth::Token).status)
        .collect();
    let errs = codes.iter().filter(|c| **c == 500).count();
    assert!((10..50).contains(&errs), "{errs} of 60");
    faults(
        &sim,
        json!({"instance": "pbs1", "errorRate": 0.0, "invalidJsonRate": 1.0}),
    );
    let r = sim.get("pbs1", "/version", Auth::Token);
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<Value>(&r.body).is_err(),
        "body parsed: {}",
        r.body
    );
    // other instances are untouched, and DELETE clears everything
    assert_eq!(sim.get("cluster1", "/version", Auth::Token).status, 200);
    assert_eq!(sim.admin_delete("/faults"), 200);
    assert!(serde_json::from_str::<Value>(&sim.get("pbs1", "/version", Auth::Token).body).is_ok());
}

#[test]
fn fault_hang_and_reset_fail_at_transport_level() {
    let sim = small(&["--seed", "5"]);
    faults(&sim, json!({"instance": "cluster1", "hangRate": 1.0}));
    let quick = agent(Duration::from_millis(800));
    let url = format!("{}/api2/json/version", sim.url("cluster1"));
    let t = Instant::now();
    let err = quick.get(&url).call().expect_err("hang must time out");
    assert!(t.elapsed() >= Duration::from_millis(700), "{err}");
    assert!(matches!(err, ureq::Error::Timeout(_)), "{err:?}");
    faults(
        &sim,
        json!({"instance": "cluster1", "hangRate": 0.0, "resetRate": 1.0}),
    );
    let fresh = agent(Duration::from_secs(5));
    let err = fresh.get(&url).call().expect_err("reset must fail");
    assert!(!matches!(err, ureq::Error::StatusCode(_)), "{err:?}");
    faults(&sim, json!({"instance": "cluster1", "resetRate": 0.0}));
    assert_eq!(sim.get("cluster1", "/version", Auth::Token).status, 200);
}

#[test]
fn fault_instance_down_refuses_connections_and_comes_back() {
    let sim = small(&["--seed", "6"]);
    // a keep-alive connection opened before the fault is not answered either
    let cookie = sim.login_cookie("pmg1");
    assert_eq!(
        sim.get("pmg1", "/version", Auth::Cookie(cookie.clone()))
            .status,
        200
    );
    faults(&sim, json!({"instance": "pmg1", "down": true}));
    assert!(
        sim.try_get("pmg1", "/version", Auth::Cookie(cookie))
            .is_err(),
        "answered while down"
    );
    std::thread::sleep(Duration::from_millis(200));
    let addr = sim.url("pmg1").trim_start_matches("https://").to_string();
    let e = std::net::TcpStream::connect(&addr).expect_err("down instance accepted a connection");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    faults(&sim, json!({"instance": "pmg1", "down": false}));
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "instance did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cookie = sim.login_cookie("pmg1");
    assert_eq!(
        sim.get("pmg1", "/version", Auth::Cookie(cookie)).status,
        200
    );
}

#[test]
fn fault_tickets_invalidated_and_expired() {
    let sim = small(&["--seed", "7"]);
    let c = sim.login_cookie("cluster1");
    assert_eq!(
        sim.get("cluster1", "/nodes", Auth::Cookie(c.clone()))
            .status,
        200
    );
    faults(
        &sim,
        json!({"instance": "cluster1", "invalidateTickets": true}),
    );
    assert_eq!(sim.get("cluster1", "/nodes", Auth::Cookie(c)).status, 401);
    let c2 = sim.login_cookie("cluster1");
    assert_eq!(
        sim.get("cluster1", "/nodes", Auth::Cookie(c2.clone()))
            .status,
        200
    );
    faults(&sim, json!({"instance": "cluster1", "expireTickets": true}));
    assert_eq!(sim.get("cluster1", "/nodes", Auth::Cookie(c2)).status, 401);
    // tokens are unaffected
    assert_eq!(sim.get("cluster1", "/nodes", Auth::Token).status, 200);
    // a login after the expiry instant works again (the clock is frozen: step it)
    sim.admin_send("POST", "/clock/advance", r#"{"seconds": 2}"#);
    let c3 = sim.login_cookie("cluster1");
    assert_eq!(sim.get("cluster1", "/nodes", Auth::Cookie(c3)).status, 200);
}

#[test]
fn fault_node_offline_from_the_command_line_and_at_run_time() {
    let sim = small(&["--seed", "8", "--faults", "cluster1:offline=c1-pve2"]);
    let nodes = sim.ok("cluster1", "/nodes")["data"].clone();
    let n2 = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "c1-pve2")
        .unwrap();
    assert_eq!(n2["status"], "offline");
    assert!(n2.get("cpu").is_none());
    let r = sim.get("cluster1", "/nodes/c1-pve2/status", Auth::Token);
    assert_eq!(r.status, 595);
    let cs = sim.ok("cluster1", "/cluster/status")["data"].clone();
    assert_eq!(
        cs.as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == "c1-pve2")
            .unwrap()["online"],
        0
    );
    let on2: Vec<Value> = guests(&sim)
        .into_iter()
        .filter(|g| g["node"] == "c1-pve2")
        .collect();
    assert!(!on2.is_empty() && on2.iter().all(|g| g["status"] == "unknown"));
    faults(
        &sim,
        json!({"instance": "cluster1", "onlineNodes": ["c1-pve2"], "offlineNodes": ["c1-pve3"]}),
    );
    assert_eq!(
        sim.get("cluster1", "/nodes/c1-pve2/status", Auth::Token)
            .status,
        200
    );
    assert_eq!(
        sim.get("cluster1", "/nodes/c1-pve3/status", Auth::Token)
            .status,
        595
    );
    // the truth side channel reports the same
    let t = sim.truth("cluster1");
    assert_eq!(t["faults"]["offlineNodes"], json!(["c1-pve3"]));
}

#[test]
fn vanished_guest_answers_500_with_null_data() {
    let sim = small(&["--seed", "9"]);
    let g = sim.truth("cluster1")["guestFacts"][3].clone();
    let path = format!(
        "/nodes/{}/{}/{}/status/current",
        g["node"].as_str().unwrap(),
        g["type"].as_str().unwrap(),
        g["vmid"]
    );
    assert_eq!(sim.get("cluster1", &path, Auth::Token).status, 200);
    let (s, _) = sim.admin_send(
        "POST",
        "/guests/vanish",
        &json!({"instance": "cluster1", "vmid": g["vmid"]}).to_string(),
    );
    assert_eq!(s, 200);
    let r = sim.get("cluster1", &path, Auth::Token);
    assert_eq!((r.status, r.json()), (500, json!({"data": null})));
    assert!(!guests(&sim).iter().any(|x| x["vmid"] == g["vmid"]));
}

/// Reads the server certificate's SHA-256 fingerprint over a real TLS handshake.
fn peer_fingerprint(url: &str) -> String {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    #[derive(Debug)]
    struct Capture(std::sync::Mutex<Vec<u8>>);
    impl ServerCertVerifier for Capture {
        fn verify_server_cert(
            &self,
            ee: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.0.lock().unwrap() = ee.to_vec();
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let cap = std::sync::Arc::new(Capture(Default::default()));
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(cap.clone())
    .with_no_client_auth();
    let addr = url.trim_start_matches("https://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut conn = rustls::ClientConnection::new(
        std::sync::Arc::new(cfg),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    tls.write_all(b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut sink = Vec::new();
    let _ = tls.read_to_end(&mut sink);
    let der = cap.0.lock().unwrap().clone();
    use sha2::Digest;
    sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn fault_certificate_change() {
    let sim = small(&["--seed", "10"]);
    let before = peer_fingerprint(&sim.url("cluster1"));
    assert_eq!(
        before,
        sim.inst("cluster1")["fingerprint"].as_str().unwrap()
    );
    faults(
        &sim,
        json!({"instance": "cluster1", "rotateCertificate": true}),
    );
    let after = peer_fingerprint(&sim.url("cluster1"));
    assert_ne!(before, after);
    let (_, doc) = sim.admin_get("/instances");
    let listed = doc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "cluster1")
        .unwrap()["fingerprint"]
        .clone();
    assert_eq!(listed, json!(after));
    // other instances keep theirs
    assert_eq!(
        peer_fingerprint(&sim.url("pbs1")),
        sim.inst("pbs1")["fingerprint"].as_str().unwrap()
    );
}

#[test]
fn accounting_per_path_and_credential() {
    let sim = small(&["--seed", "12"]);
    assert_eq!(sim.admin_send("POST", "/accounting/reset", "").0, 200);
    for _ in 0..3 {
        sim.get("cluster1", "/nodes/c1-pve1/status", Auth::Token);
    }
    sim.get("cluster1", "/nodes/c1-pve2/status", Auth::Limited);
    sim.get("cluster1", "/nodes", Auth::None);
    let (s, a) = sim.admin_get("/accounting");
    assert_eq!(s, 200);
    let c = &a["cluster1"];
    assert_eq!(c["total"], 5);
    assert_eq!(c["byPath"]["/nodes/{node}/status"], 4);
    assert_eq!(c["byPath"]["/nodes"], 1);
    assert_eq!(c["byCredential"]["token:root@pam!pulse"], 3);
    assert_eq!(c["byCredential"]["token:audit@pve!limited"], 1);
    assert_eq!(c["byCredential"]["anonymous"], 1);
    assert!(a.get("pbs1").is_none());
}

#[test]
fn admin_rejects_bad_input_with_clear_400() {
    let sim = small(&["--seed", "13"]);
    let cases: &[(&str, &str, &str)] = &[
        ("/faults", "{not json", "invalid JSON"),
        ("/faults", "", "JSON object"),
        ("/faults", r#"{"latencyMs": "slow"}"#, "invalid JSON"),
        ("/faults", r#"{"bogus": 1}"#, "unknown field"),
        ("/faults", r#"{"errorRate": 2}"#, "between 0 and 1"),
        ("/faults", r#"{"errorStatus": 404}"#, "500 or 503"),
        ("/faults", r#"{"latencyMs": 99999999}"#, "at most"),
        (
            "/faults",
            r#"{"instance": "nope", "down": true}"#,
            "unknown instance",
        ),
        (
            "/faults",
            r#"{"instance": "cluster1", "offlineNodes": ["ghost"]}"#,
            "unknown node",
        ),
        ("/faults", "[1,2,3]", "invalid JSON"),
        ("/clock/advance", r#"{"seconds": -5}"#, "positive"),
        ("/clock/advance", r#"{"seconds": 1e300}"#, "ten years"),
        ("/clock/advance", r#"{"secs": 5}"#, "unknown field"),
        (
            "/guests/vanish",
            r#"{"instance": "cluster1", "vmid": 5}"#,
            "unknown vmid",
        ),
        (
            "/guests/vanish",
            r#"{"instance": "pbs1", "vmid": 100}"#,
            "unknown PVE instance",
        ),
        (
            "/guests/vanish",
            r#"{"instance": "cluster1", "vmid": -1}"#,
            "invalid JSON",
        ),
    ];
    for (path, body, want) in cases {
        let (s, v) = sim.admin_send("POST", path, body);
        assert_eq!(s, 400, "{path} {body}: {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "{path} {body}: {msg}");
    }
    let (s, _) = sim.admin_get("/truth?instance=nope");
    assert_eq!(s, 400);
    let (s, _) = sim.admin_get("/nope");
    assert_eq!(s, 404);
    let (s, _) = sim.admin_send("PUT", "/clock/advance", r#"{"seconds": 1}"#);
    assert_eq!(s, 405);
    let big = format!(r#"{{"instance": "{}"}}"#, "x".repeat(70_000));
    let (s, _) = sim.admin_send("POST", "/faults", &big);
    assert_eq!(s, 413);
    // nothing was applied by the rejected requests, and the simulator still answers
    let (_, f) = sim.admin_get("/faults");
    assert_eq!(f["cluster1"]["errorRate"], 0.0);
    assert_eq!(sim.get("cluster1", "/version", Auth::Token).status, 200);
}

#[test]
fn bad_api_parameters_get_proxmox_style_400() {
    let sim = small(&["--seed", "14"]);
    let r = sim.get(
        "cluster1",
        "/nodes/c1-pve1/qemu/abc/status/current",
        Auth::Token,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["errors"]["vmid"],
        "type check ('integer') failed - got 'abc'"
    );
    let r = sim.get(
        "cluster1",
        "/nodes/c1-pve1/rrddata?timeframe=hour&ds=memused",
        Auth::Token,
    );
    assert_eq!(r.status, 400, "PVE rejects the ds parameter");
    assert_eq!(
        sim.get("cluster1", "/cluster/resources?type=bogus", Auth::Token)
            .status,
        400
    );
    assert_eq!(
        sim.get("cluster1", "/nodes/nosuchnode/status", Auth::Token)
            .status,
        500
    );
    assert_eq!(
        sim.get("cluster1", "/cluster/ceph/df", Auth::Token).status,
        501
    );
    assert_eq!(
        sim.get("cluster1", "/nodes/c1-pve1/tasks?limit=x", Auth::Token)
            .status,
        400
    );
    assert_eq!(
        sim.get("cluster1", "/nodes/c1-pve1/disks/smart", Auth::Token)
            .status,
        400
    );
    assert_eq!(
        sim.get("pbs1", "/admin/datastore/nope/status", Auth::Token)
            .status,
        400
    );
    let cookie = sim.login_cookie("pmg1");
    assert_eq!(
        sim.get(
            "pmg1",
            "/statistics/mailcount?timespan=5",
            Auth::Cookie(cookie)
        )
        .status,
        400
    );
}

#[test]
fn plain_http_and_reason_phrases() {
    let sim = Sim::start(&[
        "--plain-http",
        "--clusters",
        "1",
        "--nodes",
        "2",
        "--guests",
        "10",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
        "--faults",
        "cluster1:offline=c1-pve2",
    ]);
    let url = sim.url("cluster1");
    assert!(url.starts_with("http://"));
    assert!(sim.inst("cluster1")["fingerprint"].is_null());
    let i = sim.inst("cluster1");
    let auth = format!(
        "PVEAPIToken={}={}",
        i["tokenId"].as_str().unwrap(),
        i["tokenValue"].as_str().unwrap()
    );
    let raw = |path: &str| {
        let mut s = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
        write!(s, "GET /api2/json{path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.lines().next().unwrap_or_default().to_string()
    };
    assert_eq!(
        raw("/nodes/c1-pve2/status"),
        "HTTP/1.1 595 No route to host"
    );
    assert_eq!(
        raw("/nodes/c1-pve1/qemu/999999/status/current"),
        "HTTP/1.1 500 Configuration file 'nodes/c1-pve1/qemu-server/999999.conf' does not exist"
    );
    assert_eq!(raw("/version"), "HTTP/1.1 200 OK");
}

#[test]
fn command_line_errors_exit_with_usage_code() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pulse"))
            .arg("simulate")
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--listen", "127.0.0.1:0", "--faults", "explode"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown fault"));
    assert!(o.stdout.is_empty());
    assert_eq!(
        run(&["--listen", "127.0.0.1:0", "--nodes", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&[
            "--listen",
            "127.0.0.1:0",
            "--faults",
            "cluster1:error-rate=7"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        run(&["--listen", "127.0.0.1:0", "--faults", "nosuch:down"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["--listen", "not-an-address"]).status.code(), Some(2));
    assert_eq!(
        run(&[
            "--listen",
            "127.0.0.1:0",
            "--frozen-clock",
            "99999999999999"
        ])
        .status
        .code(),
        Some(2)
    );
    // port taken: runtime failure, exit 1
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let o = run(&["--listen", &format!("127.0.0.1:{port}")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot listen"));
}

#[test]
fn cluster_lists_repeat_within_the_status_cycle_and_match_the_truth() {
    let sim = small(&["--seed", "15"]);
    let a = sim.ok("cluster1", "/cluster/resources");
    let t = sim.truth("cluster1");
    assert_eq!(
        a["data"], t["resources"],
        "truth differs from what is served"
    );
    sim.admin_send("POST", "/clock/advance", r#"{"seconds": 5}"#);
    assert_eq!(
        sim.ok("cluster1", "/cluster/resources"),
        a,
        "changed inside one 10 s cycle"
    );
    sim.admin_send("POST", "/clock/advance", r#"{"seconds": 6}"#);
    assert_ne!(
        sim.ok("cluster1", "/cluster/resources"),
        a,
        "did not change in the next cycle"
    );
}

#[test]
fn guest_agent_modes() {
    let sim = Sim::start(&[
        "--clusters",
        "1",
        "--nodes",
        "3",
        "--guests",
        "200",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
        "--seed",
        "16",
    ]);
    let t = sim.truth("cluster1");
    let running: std::collections::BTreeSet<u64> = t["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "running")
        .filter_map(|r| r["vmid"].as_u64())
        .collect();
    let pick = |mode: &str| {
        t["guestFacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| {
                g["type"] == "qemu"
                    && g["agent"] == mode
                    && g["paused"] == false
                    && running.contains(&g["vmid"].as_u64().unwrap())
            })
            .unwrap_or_else(|| panic!("no running VM with agent {mode}"))
            .clone()
    };
    let path = |g: &Value| {
        format!(
            "/nodes/{}/qemu/{}/agent/get-fsinfo",
            g["node"].as_str().unwrap(),
            g["vmid"]
        )
    };
    let ok = sim.get("cluster1", &path(&pick("ok")), Auth::Token);
    assert_eq!(ok.status, 200);
    assert!(
        ok.json()["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["mountpoint"] == "/" || f["mountpoint"] == "C:\\")
    );
    let err = sim.get("cluster1", &path(&pick("error")), Auth::Token);
    assert_eq!(err.status, 200, "agent errors come back inside HTTP 200");
    assert!(err.json()["data"]["error"]["desc"].is_string());
    assert_eq!(
        sim.get("cluster1", &path(&pick("notRunning")), Auth::Token)
            .status,
        500
    );
    assert_eq!(
        sim.get("cluster1", &path(&pick("off")), Auth::Token).status,
        500
    );
}

#[test]
fn pbs_snapshots_cover_every_verification_state() {
    let sim = small(&["--seed", "17"]);
    let mut all = Vec::new();
    for ns in ["", "prod", "prod/db", "lab"] {
        let v = sim.ok(
            "pbs1",
            &format!("/admin/datastore/store1/snapshots?ns={ns}"),
        );
        all.extend(v["data"].as_array().unwrap().clone());
    }
    let state = |s: &Value| s["verification"]["state"].as_str().map(str::to_string);
    assert!(all.iter().any(|s| state(s).as_deref() == Some("ok")));
    assert!(all.iter().any(|s| state(s).as_deref() == Some("failed")));
    assert!(all.iter().any(|s| state(s).is_none()));
    assert!(all.iter().any(|s| {
        s["fingerprint"].is_string()
            && s["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["crypt-mode"] == "encrypt")
    }));
    assert!(
        all.iter()
            .filter_map(|s| s["verification"]["upid"].as_str())
            .all(|u| u.contains("\\x3a") && u.starts_with("UPID:pbs1:"))
    );
    let ns = sim.ok("pbs1", "/admin/datastore/store1/namespace");
    assert_eq!(ns["data"][0]["ns"], "");
    let tasks = sim.ok("pbs1", "/nodes/localhost/tasks?limit=500");
    let types: std::collections::BTreeSet<&str> = tasks["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["worker_type"].as_str())
        .collect();
    for w in [
        "backup",
        "garbage_collection",
        "prunejob",
        "verificationjob",
        "syncjob",
    ] {
        assert!(types.contains(w), "no {w} task: {types:?}");
    }
}

#[test]
fn pmg_mail_counts_grow_through_the_day() {
    let sim = small(&["--seed", "18"]);
    let cookie = sim.login_cookie("pmg1");
    let count = || {
        sim.get("pmg1", "/statistics/mail", Auth::Cookie(cookie.clone()))
            .json()["data"]["count"]
            .as_f64()
            .unwrap()
    };
    let a = count();
    sim.admin_send("POST", "/clock/advance", r#"{"seconds": 7200}"#);
    let b = count();
    assert!(b > a, "{a} -> {b}");
    let hours = sim
        .get(
            "pmg1",
            "/statistics/mailcount?timespan=3600",
            Auth::Cookie(cookie.clone()),
        )
        .json();
    assert_eq!(hours["data"].as_array().unwrap().len(), 24);
    let q = sim
        .get("pmg1", "/nodes/pmg1-a/postfix/queue", Auth::Cookie(cookie))
        .json();
    assert_eq!(q["data"].as_array().unwrap().len(), 4);
}
