//! Black-box tests of the Proxmox clients against loopback HTTPS servers started here
//! (127.0.0.1 only): TLS modes, ticket and token auth, renewal, status classification,
//! timeouts, bad bodies and gzip.

#[path = "support/mock_proxmox.rs"]
mod mock;

use mock::{MockServer, Reply, Seen};
use pulse::proxmox::auth::ManualClock;
use pulse::proxmox::http::fetch_fingerprint;
use pulse::proxmox::pve::ResourceType;
use pulse::proxmox::{
    ApiClient, ClientOptions, Credentials, ErrorKind, PbsClient, PmgClient, Product, ProxmoxError,
    PveClient, TlsMode,
};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const SHORT: Duration = Duration::from_millis(300);

fn token(product: Product) -> Credentials {
    let id = match product {
        Product::Pve => "pulse@pve!mon",
        Product::Pbs => "pulse@pbs!mon",
        Product::Pmg => "pulse@pmg!mon",
    };
    Credentials::from_settings(product, None, None, Some(id), Some("s3cr3t-uuid")).unwrap()
}

fn password(product: Product) -> Credentials {
    Credentials::from_settings(product, Some("root@pam"), Some("pa ss&w=rd"), None, None).unwrap()
}

fn client(product: Product, url: &str, creds: Credentials, tls: TlsMode) -> ApiClient {
    let mut o = ClientOptions::new(product, url, creds, tls);
    o.timeout = Duration::from_secs(5);
    o.connect_timeout = Duration::from_secs(2);
    ApiClient::new(o).unwrap()
}

fn pve(url: &str, tls: TlsMode) -> PveClient {
    PveClient::new(client(Product::Pve, url, token(Product::Pve), tls)).unwrap()
}

fn version_reply(_: &Seen) -> Reply {
    Reply::data(json!({"version": "8.2.4", "release": "8.2", "repoid": "faa83925"}))
}

/// Answers like a PVE/PBS/PMG server with ticket auth: login issues `PVE:ticket-<n>`.
fn ticket_server(cookie: &'static str) -> MockServer {
    let logins = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    MockServer::start(move |req| {
        if req.path == "/api2/json/access/ticket" {
            let n = logins.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            return Reply::data(json!({
                "ticket": format!("PVE:root@pam:6600AAAA::sig+/={n}"),
                "CSRFPreventionToken": format!("6600AAAA:csrf{n}"),
                "username": "root@pam",
            }));
        }
        let ok = req
            .header("cookie")
            .is_some_and(|c| c.starts_with(&format!("{cookie}=PVE:root@pam:")));
        if !ok {
            return Reply::raw(401, r#"{"data":null}"#);
        }
        if req.method == "POST" && req.header("csrfpreventiontoken").is_none() {
            return Reply::raw(401, r#"{"data":null}"#);
        }
        Reply::data(json!({"version": "8.2.4", "release": "8.2", "repoid": "x"}))
    })
}

fn logins(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/api2/json/access/ticket")
        .count()
}

// ---------------------------------------------------------------- TLS

#[test]
fn pinned_fingerprint_is_accepted_in_any_notation() {
    let server = MockServer::start(version_reply);
    let fp = server.fingerprint();
    let colon_upper = pulse::proxmox::tls::colon_hex(&fp);
    for configured in [fp.clone(), colon_upper] {
        // verifySSL=true does not matter once a fingerprint is pinned.
        let tls = TlsMode::from_settings(true, Some(&configured)).unwrap();
        let v = pve(&server.url(), tls)
            .version()
            .expect("pinned cert accepted");
        assert_eq!(v.version, "8.2.4");
    }
}

#[test]
fn wrong_fingerprint_is_rejected_with_expected_and_got() {
    let server = MockServer::start(version_reply);
    let wrong = "ab".repeat(32);
    let tls = TlsMode::from_settings(false, Some(&wrong)).unwrap();
    let e = pve(&server.url(), tls).version().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let ProxmoxError::FingerprintMismatch { mismatch, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(mismatch.expected, pulse::proxmox::tls::colon_hex(&wrong));
    assert_eq!(
        mismatch.got,
        pulse::proxmox::tls::colon_hex(&server.fingerprint())
    );
    let msg = e.to_string();
    assert!(
        msg.contains("certificate fingerprint mismatch: expected AB:AB"),
        "{msg}"
    );
    assert!(msg.contains("update the fingerprint"), "{msg}");
    assert!(
        server.requests().is_empty(),
        "no request sent over an unverified channel"
    );
}

#[test]
fn verify_ssl_rejects_self_signed_certificate() {
    let server = MockServer::start(version_reply);
    let tls = TlsMode::from_settings(true, None).unwrap();
    let e = pve(&server.url(), tls).version().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("not signed by a trusted authority"), "{msg}");
    assert!(msg.contains("fingerprint"), "{msg}");
    assert!(server.requests().is_empty());
}

#[test]
fn verify_ssl_accepts_trusted_ca_and_checks_the_host_name() {
    let (ca, leaf, key) = mock::ca_signed(&["127.0.0.1", "localhost"]);
    let server = MockServer::start_with(leaf, key, version_reply);
    let tls = TlsMode::Verify {
        extra_roots: vec![ca.clone()],
    };
    assert!(pve(&server.url(), tls.clone()).version().is_ok());

    let (ca2, leaf2, key2) = mock::ca_signed(&["pve.example.org"]);
    let other = MockServer::start_with(leaf2, key2, version_reply);
    let tls = TlsMode::Verify {
        extra_roots: vec![ca2],
    };
    let e = pve(&other.url(), tls).version().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.to_string().contains("not valid for the name"), "{e}");
}

#[test]
fn verify_ssl_off_accepts_any_certificate() {
    let server = MockServer::start(version_reply);
    let v = pve(&server.url(), TlsMode::from_settings(false, None).unwrap())
        .version()
        .unwrap();
    assert_eq!(v.release, "8.2");
}

#[test]
fn fetch_fingerprint_reports_the_server_certificate() {
    let server = MockServer::start(|_| Reply::raw(401, r#"{"data":null}"#));
    let got = fetch_fingerprint(Product::Pve, &server.url(), Duration::from_secs(2)).unwrap();
    assert_eq!(got, pulse::proxmox::tls::colon_hex(&server.fingerprint()));
}

#[test]
fn plain_http_on_the_https_port_is_a_clear_tls_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let e = pve(&format!("https://127.0.0.1:{port}"), TlsMode::NoVerify)
        .version()
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Tls | ErrorKind::Unreachable),
        "{e:?}"
    );
    assert!(e.to_string().contains("https"), "{e}");
}

// ---------------------------------------------------------------- auth

#[test]
fn ticket_login_sends_cookie_and_csrf_only_on_writes() {
    let server = ticket_server("PVEAuthCookie");
    let api = client(
        Product::Pve,
        &server.url(),
        password(Product::Pve),
        TlsMode::NoVerify,
    );
    api.login().unwrap();
    let _: serde_json::Value = api.get("/version", &[]).unwrap();
    let _: serde_json::Value = api
        .post("/nodes/pve/qemu/100/status/start", &[("a", "b")])
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let login = &reqs[0];
    assert_eq!(
        (login.method.as_str(), login.path.as_str()),
        ("POST", "/api2/json/access/ticket")
    );
    assert!(
        login
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&login.body).unwrap();
    assert_eq!(
        body,
        json!({"username": "root@pam", "password": "pa ss&w=rd"})
    );
    let get = &reqs[1];
    assert_eq!(
        get.header("cookie"),
        Some("PVEAuthCookie=PVE:root@pam:6600AAAA::sig+/=1")
    );
    assert_eq!(get.header("csrfpreventiontoken"), None);
    assert_eq!(get.header("authorization"), None);
    let post = &reqs[2];
    assert_eq!(post.header("csrfpreventiontoken"), Some("6600AAAA:csrf1"));
    assert_eq!(post.body, "a=b");
}

#[test]
fn ticket_cookie_name_per_product() {
    for (product, cookie) in [
        (Product::Pbs, "PBSAuthCookie"),
        (Product::Pmg, "PMGAuthCookie"),
    ] {
        let server = ticket_server(cookie);
        let api = client(product, &server.url(), password(product), TlsMode::NoVerify);
        let _: serde_json::Value = api.get("/version", &[]).expect("lazy login then GET");
        let get = server.requests().pop().unwrap();
        assert!(
            get.header("cookie")
                .unwrap()
                .starts_with(&format!("{cookie}="))
        );
    }
}

#[test]
fn login_retries_form_encoded_on_415() {
    let server = MockServer::start(|req| {
        if req.path.ends_with("/access/ticket") {
            if req
                .header("content-type")
                .is_some_and(|c| c.contains("json"))
            {
                return Reply::raw(415, "");
            }
            return Reply::data(json!({"ticket": "PMG:t", "CSRFPreventionToken": "c"}));
        }
        Reply::data(json!({}))
    });
    let api = client(
        Product::Pmg,
        &server.url(),
        password(Product::Pmg),
        TlsMode::NoVerify,
    );
    api.login().unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        reqs[1].body,
        "username=root%40pam&password=pa%20ss%26w%3Drd"
    );
}

#[test]
fn failed_login_says_what_to_check() {
    let server = MockServer::start(|_| Reply::raw(401, r#"{"data":null}"#));
    let api = client(
        Product::Pve,
        &server.url(),
        password(Product::Pve),
        TlsMode::NoVerify,
    );
    let e = api.login().unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Auth, Some(401)));
    let msg = e.to_string();
    assert!(
        msg.contains("login failed for root@pam") && msg.contains("realm"),
        "{msg}"
    );
    // a login answer without a ticket is a bad body, not a success
    server.set_handler(|_| Reply::data(json!({"username": "root@pam"})));
    assert_eq!(api.login().unwrap_err().kind(), ErrorKind::BadBody);
    // a ticket that would break the Cookie header is refused
    server.set_handler(|_| Reply::data(json!({"ticket": "PVE:a;b c", "CSRFPreventionToken": "c"})));
    assert_eq!(api.login().unwrap_err().kind(), ErrorKind::BadBody);
    // two-factor accounts cannot be used
    server.set_handler(|_| {
        Reply::data(json!({"ticket": "PVE:x", "CSRFPreventionToken": "c", "NeedTFA": 1}))
    });
    let e = api.login().unwrap_err();
    assert!(e.is_auth() && e.to_string().contains("API token"), "{e}");
}

#[test]
fn token_headers_are_exact_per_product() {
    let server = MockServer::start(version_reply);
    let url = server.url();
    PveClient::new(client(
        Product::Pve,
        &url,
        token(Product::Pve),
        TlsMode::NoVerify,
    ))
    .unwrap()
    .version()
    .unwrap();
    PbsClient::new(client(
        Product::Pbs,
        &url,
        token(Product::Pbs),
        TlsMode::NoVerify,
    ))
    .unwrap()
    .version()
    .unwrap();
    PmgClient::new(client(
        Product::Pmg,
        &url,
        token(Product::Pmg),
        TlsMode::NoVerify,
    ))
    .unwrap()
    .version()
    .unwrap();
    // PBS with a bare token name + user field
    let bare = Credentials::from_settings(
        Product::Pbs,
        Some("backup"),
        None,
        Some("pulse-token"),
        Some("abc"),
    )
    .unwrap();
    PbsClient::new(client(Product::Pbs, &url, bare, TlsMode::NoVerify))
        .unwrap()
        .version()
        .unwrap();
    let auth: Vec<_> = server
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(r.header("cookie"), None);
            r.header("authorization").unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        auth,
        [
            "PVEAPIToken=pulse@pve!mon=s3cr3t-uuid",
            "PBSAPIToken=pulse@pbs!mon:s3cr3t-uuid",
            "PMGAPIToken=pulse@pmg!mon:s3cr3t-uuid",
            "PBSAPIToken=backup@pbs!pulse-token:abc",
        ]
    );
    // a bare PVE token name never reaches the wire
    let e =
        Credentials::from_settings(Product::Pve, Some("root@pam"), None, Some("mon"), Some("x"))
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[test]
fn ticket_is_renewed_before_expiry_not_after() {
    for (product, cookie, keep, renew) in [
        (Product::Pve, "PVEAuthCookie", 100u64, 111u64),
        (Product::Pbs, "PBSAuthCookie", 100, 111),
        (Product::Pmg, "PMGAuthCookie", 75, 81),
    ] {
        let server = ticket_server(cookie);
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let api = client(product, &server.url(), password(product), TlsMode::NoVerify)
            .with_clock(clock.clone());
        let get = || api.get::<serde_json::Value>("/version", &[]).unwrap();
        get();
        assert_eq!(logins(&server), 1);
        clock.advance(Duration::from_secs(keep * 60));
        get();
        assert_eq!(
            logins(&server),
            1,
            "{product:?}: ticket still fresh at {keep} min"
        );
        clock.advance(Duration::from_secs((renew - keep) * 60));
        get();
        assert_eq!(
            logins(&server),
            2,
            "{product:?}: renewed at {renew} min, before expiry"
        );
        let reqs = server.requests();
        let last = reqs.last().unwrap();
        assert!(
            last.header("cookie").unwrap().ends_with("=2"),
            "new ticket used"
        );
    }
}

#[test]
fn a_401_with_a_ticket_relogs_in_once() {
    let server = ticket_server("PVEAuthCookie");
    let api = client(
        Product::Pve,
        &server.url(),
        password(Product::Pve),
        TlsMode::NoVerify,
    );
    api.login().unwrap();
    // Server "restarted": the old ticket is refused once.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = calls.clone();
    server.set_handler(move |req| {
        if req.path.ends_with("/access/ticket") {
            return Reply::data(json!({"ticket": "PVE:new", "CSRFPreventionToken": "c"}));
        }
        c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if req.header("cookie") == Some("PVEAuthCookie=PVE:new") {
            Reply::data(json!({"ok": 1}))
        } else {
            Reply::raw(401, r#"{"data":null}"#)
        }
    });
    let v: serde_json::Value = api.get("/version", &[]).unwrap();
    assert_eq!(v["ok"], 1);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Always 401: one retry only, then a clear auth error.
    server.set_handler(|req| {
        if req.path.ends_with("/access/ticket") {
            return Reply::data(json!({"ticket": "PVE:x", "CSRFPreventionToken": "c"}));
        }
        Reply::raw(401, r#"{"data":null}"#)
    });
    server.clear();
    let e = api.get::<serde_json::Value>("/version", &[]).unwrap_err();
    assert!(e.is_auth(), "{e}");
    assert_eq!(server.requests().len(), 3, "GET, login, GET");
}

// ---------------------------------------------------------------- statuses

#[test]
fn statuses_are_classified_with_actionable_messages() {
    let server = MockServer::start(|_| Reply::raw(200, "{}"));
    let url = server.url();
    let tok = pve(&url, TlsMode::NoVerify);

    server.set_handler(|_| Reply::raw(401, r#"{"data":null}"#));
    let e = tok.nodes().unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Auth, Some(401)));
    assert!(
        e.to_string()
            .contains("API token pulse@pve!mon was rejected"),
        "{e}"
    );

    server.set_handler(|_| Reply::raw(403, r#"{"data":null}"#));
    let e = tok.nodes().unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Auth, Some(403)));
    let msg = e.to_string();
    assert!(
        msg.contains("PVEAuditor") && msg.contains("privilege separation"),
        "{msg}"
    );
    assert!(msg.contains("pulse@pve"), "{msg}");

    server.set_handler(|_| Reply::raw(500, r#"{"data":null}"#));
    let e = tok.qemu_status("pve", 100, None).unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Http, Some(500)));
    assert!(e.is_resource_specific() && !e.is_transient());
    assert!(
        e.to_string().contains("/nodes/pve/qemu/100/status/current"),
        "{e}"
    );

    server.set_handler(|_| Reply::raw(500, r#"{"data":null}"#));
    let e = tok.agent_fsinfo("pve", 100, None).unwrap_err();
    assert!(e.to_string().contains("guest agent"), "{e}");

    // Proxmox's real error text travels in the reason phrase and must reach the user.
    server.set_handler(|_| {
        Reply::raw(500, r#"{"data":null}"#).with_reason("QEMU guest agent is not running")
    });
    let e = tok.agent_fsinfo("pve", 100, None).unwrap_err();
    assert!(
        e.to_string().contains("QEMU guest agent is not running"),
        "{e}"
    );
    server.set_handler(|_| Reply::raw(595, "").with_reason("No route to host"));
    let e = tok.node_status("pve3").unwrap_err();
    assert!(e.to_string().contains("No route to host"), "{e}");
    assert!(
        e.to_string().contains("owns this resource is offline"),
        "{e}"
    );
    let e = tok.cluster_resources(ResourceType::Vm).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NodeUnavailable);
    assert!(e.to_string().contains("API daemon"), "{e}");
    // ... and does not leak into the next request's error
    server.set_handler(|_| Reply::raw(502, ""));
    let e = tok.nodes().unwrap_err();
    assert!(!e.to_string().contains("No route"), "{e}");

    server.set_handler(|_| Reply::raw(595, ""));
    let e = tok.node_status("pve2").unwrap_err();
    assert_eq!(
        (e.kind(), e.status()),
        (ErrorKind::NodeUnavailable, Some(595))
    );
    assert!(!e.is_auth() && e.is_resource_specific());
    assert!(e.to_string().contains("offline"), "{e}");

    server.set_handler(|_| Reply::raw(503, "Service Unavailable"));
    let e = tok.nodes().unwrap_err();
    assert!(
        e.is_transient() && e.to_string().contains("Service Unavailable"),
        "{e}"
    );

    server.set_handler(|_| {
        Reply::raw(
            400,
            r#"{"data":null,"errors":{"ds":"property is not defined in schema"}}"#,
        )
    });
    let e = tok.node_rrddata("pve", "hour", None).unwrap_err();
    assert!(e.to_string().contains("property is not defined"), "{e}");

    server.set_handler(|_| Reply::raw(301, ""));
    let e = tok.nodes().unwrap_err();
    assert!(e.to_string().contains("redirected"), "{e}");

    // PBS namespace 404 = no namespaces (older PBS)
    server.set_handler(|_| Reply::raw(404, r#"{"data":null}"#));
    let pbs = PbsClient::new(client(
        Product::Pbs,
        &url,
        token(Product::Pbs),
        TlsMode::NoVerify,
    ))
    .unwrap();
    assert!(pbs.namespaces("store1").unwrap().is_empty());
}

#[test]
fn agent_errors_inside_http_200_are_agent_errors() {
    let server = MockServer::start(|_| {
        Reply::data(
            json!({"error": {"class": "CommandNotFound", "desc": "guest-get-osinfo not supported"}}),
        )
    });
    let e = pve(&server.url(), TlsMode::NoVerify)
        .agent_osinfo("pve", 100, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Agent);
    assert!(
        e.to_string()
            .contains("CommandNotFound: guest-get-osinfo not supported"),
        "{e}"
    );
    // a non-list result means "no filesystems", not an error
    server.set_handler(|_| Reply::data(json!({"result": {}})));
    assert!(
        pve(&server.url(), TlsMode::NoVerify)
            .agent_fsinfo("pve", 100, None)
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------- network failures

#[test]
fn a_hanging_server_is_cut_off_by_the_timeout() {
    let server = MockServer::start(|_| Reply::data(json!([])).delayed(Duration::from_secs(10)));
    let mut o = ClientOptions::new(
        Product::Pve,
        &server.url(),
        token(Product::Pve),
        TlsMode::NoVerify,
    );
    o.timeout = SHORT;
    o.connect_timeout = SHORT;
    let api = PveClient::new(ApiClient::new(o).unwrap()).unwrap();
    let t0 = Instant::now();
    let e = api.nodes().unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(e.is_transient());
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        e.to_string().contains("/nodes") && e.to_string().contains("300ms"),
        "{e}"
    );

    // per-call timeout overrides the client's
    let server2 = MockServer::start(|_| Reply::data(json!([])).delayed(Duration::from_millis(800)));
    let api2 = pve(&server2.url(), TlsMode::NoVerify);
    let t0 = Instant::now();
    let e = api2.node_storage("pve", Some(SHORT)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(t0.elapsed() < Duration::from_millis(750));
}

#[test]
fn a_server_that_never_completes_the_tls_handshake_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Accept and hold connections without ever answering.
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let mut o = ClientOptions::new(
        Product::Pve,
        &format!("https://127.0.0.1:{port}"),
        token(Product::Pve),
        TlsMode::NoVerify,
    );
    o.timeout = Duration::from_secs(5);
    o.connect_timeout = SHORT;
    let t0 = Instant::now();
    let e = ApiClient::new(o)
        .unwrap()
        .get::<serde_json::Value>("/version", &[])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(e.to_string().contains("while connecting"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn connection_refused_is_reported_as_such() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = pve(&format!("https://127.0.0.1:{port}"), TlsMode::NoVerify)
        .version()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e:?}");
    assert!(e.is_transient());
    assert!(e.to_string().contains("8006"), "{e}");
}

// ---------------------------------------------------------------- bodies

#[test]
fn bad_bodies_are_bad_body_errors_naming_the_path() {
    let server = MockServer::start(|_| Reply::raw(200, ""));
    let api = pve(&server.url(), TlsMode::NoVerify);
    let cases: &[(&str, &str)] = &[
        ("{\"data\": [", "invalid JSON"),
        ("not json at all", "invalid JSON"),
        ("", "empty body"),
        ("<html><body>Proxmox</body></html>", "HTML"),
        (r#"{"data": "a string"}"#, "unexpected JSON shape"),
        (r#"{"data": {"node": "pve"}}"#, "unexpected JSON shape"),
        (r#"{"data": [1, 2]}"#, "unexpected JSON shape"),
        (
            r#"{"data": [{"node": {"nested": 1}}]}"#,
            "unexpected JSON shape",
        ),
        (r#"{"nodata": []}"#, "unexpected JSON shape"),
        ("[]", "unexpected JSON shape"),
    ];
    for (body, want) in cases {
        let b = body.to_string();
        server.set_handler(move |_| Reply::raw(200, b.clone()));
        let e = api.nodes().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadBody, "{body}: {e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("for /nodes:") && msg.contains(want),
            "{body}: {msg}"
        );
    }
    // `"data": null` for a list is an empty list; for an object it is a bad body.
    server.set_handler(|_| Reply::raw(200, r#"{"data":null}"#));
    assert!(api.nodes().unwrap().is_empty());
    let e = api.node_status("pve").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadBody);
}

#[test]
fn garbage_never_panics_any_call() {
    let bodies = [
        r#"{"data":{"x":[1,{"y":null}],"result":7,"error":"boom"}}"#,
        r#"{"data":[{"vmid":"abc","maxmem":"lots","template":"maybe","agent":{"enabled":"x"}}]}"#,
        r#"{"data":[null, 1, "x", []]}"#,
        r#"{"data":{"memory":"12","loadavg":{"a":1},"cpuinfo":[]}}"#,
        r#"{"data":{"result":[{"total-bytes":"0xZZ","disk":"nope"}]}}"#,
        r#"{"data":true}"#,
        "\u{feff}{\"data\":[]}",
        "\u{0}\u{1}\u{2}",
    ];
    let server = MockServer::start(|_| Reply::raw(200, ""));
    let url = server.url();
    let pve = pve(&url, TlsMode::NoVerify);
    let pbs = PbsClient::new(client(
        Product::Pbs,
        &url,
        token(Product::Pbs),
        TlsMode::NoVerify,
    ))
    .unwrap();
    let pmg = PmgClient::new(client(
        Product::Pmg,
        &url,
        token(Product::Pmg),
        TlsMode::NoVerify,
    ))
    .unwrap();
    for body in bodies {
        let b = body.to_string();
        server.set_handler(move |_| Reply::raw(200, b.clone()));
        let results: Vec<Result<(), ProxmoxError>> = vec![
            pve.nodes().map(drop),
            pve.node_status("n").map(drop),
            pve.cluster_resources(ResourceType::Vm).map(drop),
            pve.qemu_status("n", 1, None).map(drop),
            pve.lxc_status("n", 1, None).map(drop),
            pve.lxc_config("n", 1, None).map(drop),
            pve.agent_fsinfo("n", 1, None).map(drop),
            pve.agent_network_interfaces("n", 1, None).map(drop),
            pve.agent_info("n", 1, None).map(drop),
            pve.disks("n").map(drop),
            pve.ceph_status(None).map(drop),
            pve.zfs_pool("n", "rpool").map(drop),
            pve.replication_jobs().map(drop),
            pbs.node_status().map(drop),
            pbs.snapshots("s", "", None, None).map(drop),
            pbs.datastore_status("s").map(drop),
            pmg.mail_stats().map(drop),
            pmg.postfix_queue("n").map(drop),
            pmg.cluster_status().map(drop),
        ];
        for r in results {
            if let Err(e) = r {
                assert!(
                    matches!(e.kind(), ErrorKind::BadBody | ErrorKind::Agent),
                    "{body}: {e:?}"
                );
            }
        }
    }
}

#[test]
fn bodies_larger_than_the_connection_buffers_arrive_whole() {
    // 3,000 nodes: a ~300 KB body, many TLS records and many buffer fills.
    let list: Vec<_> = (0..3_000)
        .map(|i| json!({"node": format!("pve{i}"), "status": "online", "maxmem": i}))
        .collect();
    let server = MockServer::start(move |_| Reply::data(json!(list)));
    let client = pve(&server.url(), TlsMode::NoVerify);
    for _ in 0..2 {
        // twice: the second call reuses the kept-alive connection and its buffers
        let nodes = client.nodes().unwrap();
        assert_eq!(nodes.len(), 3_000);
        assert_eq!(
            (nodes[2_999].node.as_str(), nodes[2_999].maxmem),
            ("pve2999", 2_999)
        );
    }
}

#[test]
fn a_response_head_larger_than_the_buffer_is_an_error_not_a_hang() {
    let huge: &'static str = Box::leak("x".repeat(40 * 1024).into_boxed_str());
    let server = MockServer::start(move |_| {
        let mut r = Reply::data(json!([]));
        r.headers.push(("x-padding", huge));
        r
    });
    let started = Instant::now();
    let e = pve(&server.url(), TlsMode::NoVerify).nodes().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::BadBody, "{e:?}");
    assert!(
        e.to_string().contains("response headers larger than"),
        "{e}"
    );
}

#[test]
fn gzip_responses_are_accepted_and_decoded() {
    let server = MockServer::start(|_| {
        Reply::data(json!([{"node": "pve1", "status": "online", "maxmem": "1024"}])).gzipped()
    });
    let nodes = pve(&server.url(), TlsMode::NoVerify).nodes().unwrap();
    assert_eq!((nodes[0].node.as_str(), nodes[0].maxmem), ("pve1", 1024));
    let req = server.requests().pop().unwrap();
    assert!(req.header("accept-encoding").unwrap().contains("gzip"));
    // a body that claims gzip but is not: a bad body naming the path, not a panic
    server.set_handler(|_| {
        let mut r = Reply::raw(200, "definitely not gzip");
        r.headers.push(("content-encoding", "gzip"));
        r
    });
    let e = pve(&server.url(), TlsMode::NoVerify).nodes().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadBody, "{e:?}");
    assert!(e.to_string().contains("/nodes"), "{e}");
}

#[test]
fn base_url_is_normalised_and_paths_encoded() {
    let server = MockServer::start(|req| {
        if req.path.ends_with("/content") {
            Reply::data(json!([]))
        } else {
            Reply::data(json!({}))
        }
    });
    let api = pve(
        &format!("{}/#v1:0:=node%2Fpve", server.url()),
        TlsMode::NoVerify,
    );
    assert_eq!(api.api().base_url(), format!("{}/api2/json", server.url()));
    api.task_status("pve", "UPID:pbs:0001:store\\x3a1:root@pam:")
        .unwrap();
    api.storage_content("pve", "my store", Some("backup"), Some(101), None)
        .unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs[0].path,
        "/api2/json/nodes/pve/tasks/UPID:pbs:0001:store%5Cx3a1:root@pam:/status"
    );
    assert_eq!(
        reqs[1].path,
        "/api2/json/nodes/pve/storage/my%20store/content"
    );
    assert_eq!(reqs[1].query, "content=backup&vmid=101");
}

#[test]
fn one_client_shared_by_threads_logs_in_once() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ApiClient>();
    assert_send_sync::<PveClient>();
    assert_send_sync::<PbsClient>();
    assert_send_sync::<PmgClient>();
    assert_send_sync::<ProxmoxError>();

    let server = ticket_server("PVEAuthCookie");
    let api = Arc::new(client(
        Product::Pve,
        &server.url(),
        password(Product::Pve),
        TlsMode::NoVerify,
    ));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let api = api.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    api.get::<serde_json::Value>("/version", &[]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(logins(&server), 1);
    assert_eq!(server.requests().len(), 21);
}

#[test]
fn connect_logs_in_and_checks_the_product() {
    let server = MockServer::start(|_| Reply::raw(401, r#"{"data":null}"#));
    let opts = ClientOptions::new(
        Product::Pbs,
        &server.url(),
        password(Product::Pbs),
        TlsMode::NoVerify,
    );
    let e = PbsClient::connect(opts.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "bad password fails at connect");
    server.clear();
    let e = PveClient::connect(opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(server.requests().is_empty(), "wrong product: no network");
    // `new` refuses another product's ApiClient too, and says which is which.
    let api = |p| client(p, &server.url(), token(p), TlsMode::NoVerify);
    let e = PmgClient::new(api(Product::Pve)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string()
            .contains("a PMG client needs a PMG ApiClient, not a PVE one"),
        "{e}"
    );
    assert_eq!(
        PbsClient::new(api(Product::Pmg)).unwrap_err().kind(),
        ErrorKind::Config
    );
    assert_eq!(
        PveClient::new(api(Product::Pbs)).unwrap_err().kind(),
        ErrorKind::Config
    );
    assert!(PbsClient::new(api(Product::Pbs)).is_ok());
    assert!(server.requests().is_empty());
}

#[test]
fn answers_of_different_sizes_in_turn_each_decode_whole() {
    // Bodies are read into a buffer each thread reuses: a short answer after a long one must
    // carry none of the long one's bytes, and a long one after a short one all of its own.
    let long: Vec<serde_json::Value> = (0..4000)
        .map(|i| json!({"vmid": i, "name": format!("guest-{i}")}))
        .collect();
    let reply = json!(long.clone());
    let server = MockServer::start(move |req| {
        if req.path.ends_with("/long") {
            Reply::data(reply.clone())
        } else {
            Reply::data(json!([{"vmid": 7}]))
        }
    });
    let api = client(
        Product::Pve,
        &server.url(),
        token(Product::Pve),
        TlsMode::NoVerify,
    );
    for _ in 0..3 {
        let got: Vec<serde_json::Value> = api.get("/long", &[]).unwrap();
        assert_eq!(got, long);
        let got: Vec<serde_json::Value> = api.get("/short", &[]).unwrap();
        assert_eq!(got, vec![json!({"vmid": 7})]);
    }
}

#[test]
fn a_body_over_the_size_limit_is_a_bad_body_and_the_next_call_works() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = pulse::proxmox::http::MAX_BODY_BYTES as usize;
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let total = limit + 1024 * 1024;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
            if s.write_all(head.as_bytes()).is_err() {
                continue;
            }
            let chunk = vec![b' '; 1024 * 1024];
            for _ in 0..=total / chunk.len() {
                if s.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
    });
    let api = client(
        Product::Pve,
        &format!("http://127.0.0.1:{port}"),
        token(Product::Pve),
        TlsMode::NoVerify,
    );
    let e = api.get::<serde_json::Value>("/huge", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadBody, "{e:?}");
    assert!(e.to_string().contains("byte limit"), "{e}");
    // The same thread's next request reads its own, small answer.
    let server = MockServer::start(version_reply);
    let v = pve(&server.url(), TlsMode::NoVerify).version().unwrap();
    assert_eq!(v.release, "8.2");
}
