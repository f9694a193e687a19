//! Black-box security tests: the real binary, real HTTP.

#[path = "sec_harness/mod.rs"]
mod common;

use common::{Server, cheap_hash};
use pulse::auth::access::{Access, ROUTES};
use serde_json::json;

const USER: &str = "admin";
const PASS: &str = "correct horse battery";
const ADMIN_TOKEN: &str = "env-admin-token-0123456789abcdef";

/// Password + a full-access env token; loopback is a trusted proxy so tests can pose as
/// other clients with X-Forwarded-For.
fn secured() -> Server {
    let hash = cheap_hash(PASS);
    Server::start(&[
        ("PULSE_AUTH_USER", USER),
        ("PULSE_AUTH_PASS", &hash),
        ("API_TOKENS", ADMIN_TOKEN),
        ("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32"),
    ])
}

fn admin() -> (&'static str, &'static str) {
    ("X-API-Token", ADMIN_TOKEN)
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "x").replace('*', "x")
}

fn login(s: &Server, ip: &str, user: &str, pw: &str) -> common::Resp {
    s.post(
        "/api/login",
        &[("X-Forwarded-For", ip)],
        &json!({"username": user, "password": pw}).to_string(),
    )
}

fn mint(s: &Server, scopes: serde_json::Value) -> String {
    let r = s.post(
        "/api/security/tokens",
        &[admin()],
        &json!({"name": "t", "scopes": scopes}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

#[test]
fn every_protected_route_refuses_anonymous_and_wrong_scope() {
    let s = secured();
    let narrow = mint(&s, json!(["docker:report"]));
    let (mut checked, mut scoped) = (0, 0);
    for (i, r) in ROUTES.iter().enumerate() {
        if !r.access.is_protected() {
            continue;
        }
        let method = if r.method == "ANY" { "PATCH" } else { r.method };
        let path = concrete(r.path);
        // Each request poses as its own client so no rate limit interferes.
        let ip = format!("198.51.100.{}", i % 250 + 1);
        let anon = s.req(method, &path, &[("X-Forwarded-For", &ip)], Some("{}"));
        assert_eq!(anon.status, 401, "{method} {path} anonymous: {}", anon.body);
        checked += 1;
        if let Some(scope) = r.access.scope()
            && scope != "docker:report"
        {
            let ip = format!("198.51.101.{}", i % 250 + 1);
            let resp = s.req(
                method,
                &path,
                &[("X-Forwarded-For", &ip), ("X-API-Token", &narrow)],
                Some("{}"),
            );
            assert_eq!(
                resp.status, 403,
                "{method} {path} narrow token: {}",
                resp.body
            );
            let j = resp.json();
            assert_eq!(j["error"], "missing_scope");
            assert_eq!(j["requiredScope"], scope, "{method} {path}");
            scoped += 1;
        }
    }
    assert!(checked > 50 && scoped > 40, "{checked} {scoped}");
    // Public routes stay reachable without credentials.
    assert_eq!(s.get("/api/health", &[]).status, 200);
    assert_eq!(s.get("/api/security/status", &[]).status, 200);
    // A route nobody declared fails closed, even for a scoped token.
    let r = s.get("/api/not-declared-anywhere", &[("X-API-Token", &narrow)]);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["requiredScope"], "*");
}

#[test]
fn login_lockout_and_reset() {
    let s = secured();
    let ip = "203.0.113.10";
    // Unknown user and wrong password: same status and message shape.
    let a = login(&s, ip, "nobody", PASS);
    let b = login(&s, ip, USER, "wrong password!");
    assert_eq!(a.status, 401);
    assert_eq!(b.status, 401);
    assert_eq!(a.json()["error"], "invalid_credentials");
    assert_eq!(b.json()["remaining"], 3, "per IP: two failures so far");
    assert!(
        b.json()["message"]
            .as_str()
            .unwrap()
            .contains("3 attempts remaining")
    );
    login(&s, ip, USER, "wrong 3");
    login(&s, ip, USER, "wrong 4");
    let locked = login(&s, ip, USER, "wrong 5");
    assert_eq!(locked.status, 401);
    assert_eq!(locked.json()["locked"], true);
    assert_eq!(locked.json()["lockoutDuration"], "15 minutes");
    // Now even the right password is refused, from this IP and (user lock) from another.
    let r = login(&s, ip, USER, PASS);
    assert_eq!(r.status, 403);
    let j = r.json();
    assert_eq!(j["error"], "account_locked");
    assert!(j["remainingMinutes"].as_u64().unwrap() >= 14);
    assert!(j["lockedUntil"].as_str().unwrap().ends_with('Z'));
    // Four failures so far for the user (one went to "nobody"); a fifth from elsewhere
    // locks the user name everywhere.
    let r = login(&s, "203.0.113.12", USER, "wrong 6");
    assert_eq!(r.json()["locked"], true, "{}", r.body);
    assert_eq!(login(&s, "203.0.113.11", USER, PASS).status, 403);
    // Admin reset: user, then IP.
    let bad = s.post("/api/security/reset-lockout", &[admin()], "{}");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "missing_identifier");
    let r = s.post(
        "/api/security/reset-lockout",
        &[admin()],
        r#"{"identifier":"admin"}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Lockout reset for admin");
    assert_eq!(login(&s, "203.0.113.11", USER, PASS).status, 200);
    assert_eq!(
        login(&s, ip, USER, PASS).status,
        403,
        "the IP is still locked"
    );
    s.post(
        "/api/security/reset-lockout",
        &[admin()],
        &json!({"identifier": ip}).to_string(),
    );
    let ok = login(&s, ip, USER, PASS);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["success"], true);
    // The audit log saw it all and holds no secrets.
    let audit = s.get("/api/security/audit?limit=100", &[admin()]);
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("\"lockout\""));
    assert!(audit.body.contains("lockout_reset"));
    assert!(!audit.body.contains(PASS));
    assert!(!audit.body.contains("wrong password!"));
    assert!(!s.log().contains(PASS), "password in the server log");
}

#[test]
fn session_cookies_csrf_logout_and_restart() {
    let mut s = secured();
    let r = login(&s, "203.0.113.20", USER, PASS);
    assert_eq!(r.status, 200);
    let sess = r.cookie("pulse_session").unwrap();
    let csrf = r.cookie("pulse_csrf").unwrap();
    assert_eq!(sess.len(), 64);
    assert_eq!(csrf.len(), 44);
    let line = r.set_cookie_line("pulse_session").unwrap();
    assert!(
        line.contains("HttpOnly")
            && line.contains("SameSite=Lax")
            && line.contains("Max-Age=86400"),
        "{line}"
    );
    assert!(!line.contains("Secure"), "plain HTTP: no Secure flag");
    assert!(
        !r.set_cookie_line("pulse_csrf")
            .unwrap()
            .contains("HttpOnly")
    );
    // Behind an HTTPS proxy the cookie is Secure.
    let r2 = s.post(
        "/api/login",
        &[
            ("X-Forwarded-For", "203.0.113.21"),
            ("X-Forwarded-Proto", "https"),
        ],
        &json!({"username": USER, "password": PASS, "rememberMe": true}).to_string(),
    );
    let l2 = r2.set_cookie_line("pulse_session").unwrap();
    assert!(
        l2.contains("; Secure") && l2.contains("Max-Age=2592000"),
        "{l2}"
    );

    let cookie = format!("pulse_session={sess}; pulse_csrf={csrf}");
    let c = [("Cookie", cookie.as_str())];
    assert_eq!(s.get("/api/security/tokens", &c).status, 200);
    // State change without the CSRF header: refused, with a fresh token to retry.
    let r = s.post("/api/security/tokens", &c, r#"{"name":"x"}"#);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "CSRF token validation failed");
    let fresh = r.header("x-csrf-token").unwrap().to_string();
    assert_eq!(r.cookie("pulse_csrf").as_deref(), Some(fresh.as_str()));
    let forged = s.post(
        "/api/security/tokens",
        &[c[0], ("X-CSRF-Token", &csrf)],
        r#"{"name":"x"}"#,
    );
    assert_eq!(forged.status, 403, "the old token was rotated away");
    // Every failure rotates the token; the client retries with the newest one.
    let fresh = forged.header("x-csrf-token").unwrap().to_string();
    let ok = s.post(
        "/api/security/tokens",
        &[c[0], ("X-CSRF-Token", &fresh)],
        r#"{"name":"x"}"#,
    );
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Sessions survive a restart.
    s.stop();
    let dir = s.dir.clone();
    let s2 = Server::start_in(
        &dir,
        &[
            ("PULSE_AUTH_USER", USER),
            ("PULSE_AUTH_PASS", &cheap_hash(PASS)),
            ("API_TOKENS", ADMIN_TOKEN),
        ],
    );
    assert_eq!(s2.get("/api/security/tokens", &c).status, 200);
    // Logout revokes the session server-side and expires the cookies.
    let out = s2.req(
        "POST",
        "/api/logout",
        &[c[0], ("X-CSRF-Token", &fresh)],
        None,
    );
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(
        out.set_cookie_line("pulse_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(s2.get("/api/security/tokens", &c).status, 401);
}

#[test]
fn api_tokens_lifecycle_and_transport() {
    let s = secured();
    // Scope validation messages.
    for (scopes, msg) in [
        (
            json!([]),
            "select at least one scope or omit the field for full access",
        ),
        (json!(["nope"]), "unknown scope \"nope\""),
        (json!(["*", "settings:read"]), "cannot be combined"),
        (json!([" "]), "blank"),
    ] {
        let r = s.post(
            "/api/security/tokens",
            &[admin()],
            &json!({"scopes": scopes}).to_string(),
        );
        assert_eq!(r.status, 400, "{scopes}");
        assert!(
            r.json()["error"].as_str().unwrap().contains(msg),
            "{}",
            r.body
        );
    }
    let r = s.post(
        "/api/security/tokens",
        &[admin()],
        r#"{"name":"ci","scopes":["settings:read","settings:read"]}"#,
    );
    assert_eq!(r.status, 200);
    let j = r.json();
    let raw = j["token"].as_str().unwrap().to_string();
    let id = j["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(raw.len(), 64);
    assert_eq!(j["record"]["scopes"], json!(["settings:read"]));
    assert_eq!(j["record"]["prefix"], &raw[..6]);
    assert_eq!(j["record"]["suffix"], &raw[60..]);
    assert!(j["record"].get("hash").is_none());
    // The listing never shows the value.
    let list = s.get("/api/security/tokens", &[admin()]);
    assert!(!list.body.contains(&raw));
    assert!(
        list.json()["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id)
    );
    // Header and Bearer both work; query strings do not.
    assert_eq!(
        s.get("/api/system/settings", &[("X-API-Token", &raw)])
            .status,
        200
    );
    let bearer = format!("Bearer {raw}");
    assert_eq!(
        s.get("/api/system/settings", &[("Authorization", &bearer)])
            .status,
        200
    );
    let q = s.get(&format!("/api/system/settings?token={raw}"), &[]);
    assert_eq!(q.status, 401);
    assert!(q.body.contains("query"));
    // Read scope cannot write.
    let w = s.post(
        "/api/system/settings/update",
        &[("X-API-Token", &raw)],
        "{}",
    );
    assert_eq!(w.status, 403);
    // Garbage credentials are a clean 401.
    for (k, v) in [
        ("X-API-Token", "not-a-token"),
        ("X-API-Token", ""),
        ("Authorization", "Bearer"),
        ("Authorization", "Bearer x y z"),
        ("Authorization", "Digest abc"),
        ("Authorization", "Basic !!!notbase64"),
        ("Authorization", "Basic YWRtaW4="),
        ("Authorization", "garbage"),
    ] {
        let r = s.get("/api/system/settings", &[(k, v)]);
        assert_eq!(r.status, 401, "{k}: {v} -> {}", r.body);
        r.json();
    }
    // Settings changes are audited (key names, never values).
    let w = s.post(
        "/api/system/settings/update",
        &[admin()],
        r#"{"logLevel":"debug"}"#,
    );
    assert_eq!(w.status, 200, "{}", w.body);
    let audit = s.get("/api/security/audit?limit=5", &[admin()]).json();
    let ev = &audit["events"][0];
    assert_eq!(ev["event"], "settings_changed");
    assert_eq!(ev["details"], "keys=logLevel");
    assert_eq!(s.get("/api/security/audit?limit=0", &[admin()]).status, 400);
    // Public routes ignore a bad credential instead of failing.
    assert_eq!(
        s.get("/api/health", &[("X-API-Token", "stale")]).status,
        200
    );
    let st = s
        .get("/api/security/status", &[("X-API-Token", "stale")])
        .json();
    assert_eq!(st["apiTokenHint"], "");
    let st = s.get("/api/security/status", &[admin()]).json();
    assert_ne!(st["apiTokenHint"], "");
    // Basic auth with the real password works for scripts.
    let basic = format!("Basic {}", base64_encode(&format!("{USER}:{PASS}")));
    assert_eq!(
        s.get("/api/system/settings", &[("Authorization", &basic)])
            .status,
        200
    );
    // Revoke.
    let d = s.req(
        "DELETE",
        &format!("/api/security/tokens/{id}"),
        &[admin()],
        None,
    );
    assert_eq!(d.status, 204);
    assert_eq!(
        s.get("/api/system/settings", &[("X-API-Token", &raw)])
            .status,
        401
    );
    let d = s.req(
        "DELETE",
        &format!("/api/security/tokens/{id}"),
        &[admin()],
        None,
    );
    assert_eq!(d.status, 404);
    assert_eq!(d.json()["error"], "Token not found");
    // Env tokens cannot be deleted through the API.
    let env_id = s.get("/api/security/tokens", &[admin()]).json()["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["source"] == "env")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.req(
            "DELETE",
            &format!("/api/security/tokens/{env_id}"),
            &[admin()],
            None
        )
        .status,
        409
    );
    // validate-token and regenerate.
    let v = s.post(
        "/api/security/validate-token",
        &[admin()],
        &json!({"token": ADMIN_TOKEN}).to_string(),
    );
    assert_eq!(v.json()["valid"], true);
    assert_eq!(
        s.post("/api/security/validate-token", &[admin()], "{}")
            .status,
        400
    );
    let other = mint(&s, json!(["monitoring:read"]));
    let rg = s.post("/api/security/regenerate-token", &[admin()], "{}");
    assert_eq!(rg.status, 200);
    let new = rg.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/api/system/settings", &[("X-API-Token", &other)])
            .status,
        401,
        "regenerate replaces stored tokens"
    );
    assert_eq!(
        s.get("/api/system/settings", &[("X-API-Token", &new)])
            .status,
        200
    );
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn rate_limits_headers_and_exhaustion() {
    let s = secured();
    let h = s.get("/api/health", &[]);
    assert_eq!(h.header("x-ratelimit-limit"), Some("1000"));
    assert!(
        h.header("x-ratelimit-remaining")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            < 1000
    );
    let reset: u64 = h.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > 1_700_000_000);
    // Exempt paths carry no counters; pages are not limited.
    assert!(
        s.get("/api/state", &[admin()])
            .header("x-ratelimit-limit")
            .is_none()
    );
    assert!(s.get("/", &[]).header("x-ratelimit-limit").is_none());
    // 10 auth requests per minute per IP, then 429 with Retry-After and JSON.
    let ip = "192.0.2.50";
    for i in 0..10 {
        let r = s.post("/api/logout", &[("X-Forwarded-For", ip)], "{}");
        assert_eq!(r.status, 401, "request {i}");
        assert_eq!(r.header("x-ratelimit-limit"), Some("10"));
    }
    let r = s.post("/api/logout", &[("X-Forwarded-For", ip)], "{}");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit exceeded")
    );
    // Another client is unaffected; an untrusted peer cannot pick its IP (only loopback is
    // trusted here, and it is the peer, so XFF decides).
    assert_eq!(
        s.post("/api/logout", &[("X-Forwarded-For", "192.0.2.51")], "{}")
            .status,
        401
    );
    // Spoofed left-most XFF entries do not escape the bucket.
    let r = s.post(
        "/api/logout",
        &[("X-Forwarded-For", &format!("1.2.3.4, {ip}"))],
        "{}",
    );
    assert_eq!(r.status, 429);
}

#[test]
fn first_run_bootstrap_and_quick_setup() {
    let s = Server::start(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32")]);
    let token = std::fs::read_to_string(s.dir.join(".bootstrap_token")).unwrap();
    let token = token.trim().to_string();
    assert_eq!(token.len(), 48);
    let st = s.get("/api/security/status", &[]).json();
    assert_eq!(st["requiresAuth"], false);
    assert!(
        st["bootstrapTokenPath"]
            .as_str()
            .unwrap()
            .ends_with(".bootstrap_token")
    );
    let remote = ("X-Forwarded-For", "203.0.113.30");
    // Open mode: reads work, but nobody remote can mint credentials without the token.
    assert_eq!(s.get("/api/system/settings", &[remote]).status, 200);
    assert_eq!(s.post("/api/security/tokens", &[remote], "{}").status, 401);
    // validate-bootstrap-token.
    assert_eq!(
        s.post(
            "/api/security/validate-bootstrap-token",
            &[("X-Setup-Token", &token)],
            ""
        )
        .status,
        204
    );
    assert_eq!(
        s.post(
            "/api/security/validate-bootstrap-token",
            &[],
            &json!({"token": "00ff"}).to_string()
        )
        .status,
        401
    );
    assert_eq!(
        s.post("/api/security/validate-bootstrap-token", &[], "")
            .status,
        400
    );
    assert_eq!(
        s.post("/api/security/validate-bootstrap-token", &[], "{not json")
            .status,
        400
    );
    let body = json!({"username": "owner", "password": "a long enough password", "apiToken": "client-chosen-token-0123456789"});
    let r = s.post("/api/security/quick-setup", &[remote], &body.to_string());
    assert_eq!(r.status, 401, "{}", r.body);
    let r = s.post(
        "/api/security/quick-setup",
        &[remote, ("X-Setup-Token", "deadbeef")],
        &body.to_string(),
    );
    assert_eq!(r.status, 401);
    let short = json!({"username": "owner", "password": "short", "setupToken": token});
    assert_eq!(
        s.post("/api/security/quick-setup", &[remote], &short.to_string())
            .status,
        400
    );
    let r = s.post(
        "/api/security/quick-setup",
        &[remote, ("X-Setup-Token", &token)],
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["success"], true);
    assert!(
        !s.dir.join(".bootstrap_token").exists(),
        "token file removed"
    );
    // Now secured: anonymous refused, the new credentials work.
    assert_eq!(s.get("/api/system/settings", &[remote]).status, 401);
    assert_eq!(
        login(&s, "203.0.113.31", "owner", "a long enough password").status,
        200
    );
    assert_eq!(
        s.get(
            "/api/system/settings",
            &[("X-API-Token", "client-chosen-token-0123456789")]
        )
        .status,
        200
    );
    // A second run needs an admin, and without force it is a no-op.
    let again = s.post(
        "/api/security/quick-setup",
        &[remote, ("X-Setup-Token", &token)],
        &body.to_string(),
    );
    assert_eq!(again.status, 401);
    let skip = s.post(
        "/api/security/quick-setup",
        &[("X-API-Token", "client-chosen-token-0123456789")],
        &body.to_string(),
    );
    assert_eq!(skip.json()["skipped"], true);
    // The stored password survives a restart (no env needed).
    let mut s = s;
    s.stop();
    let s2 = Server::start_in(&s.dir.clone(), &[]);
    assert_eq!(
        login(&s2, "127.0.0.2", "owner", "a long enough password").status,
        200
    );
    assert!(!s2.dir.join(".bootstrap_token").exists());
}

#[test]
fn change_password_revokes_sessions() {
    let hash = cheap_hash(PASS);
    let env = [
        ("PULSE_AUTH_USER", USER),
        ("PULSE_AUTH_PASS", hash.as_str()),
        ("API_TOKENS", ADMIN_TOKEN),
        ("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32"),
    ];
    let mut s = Server::start(&env);
    let r = login(&s, "203.0.113.40", USER, PASS);
    let cookie = format!("pulse_session={}", r.cookie("pulse_session").unwrap());
    let csrf = r.cookie("pulse_csrf").unwrap();
    let other = login(&s, "203.0.113.41", USER, PASS);
    let other_cookie = format!("pulse_session={}", other.cookie("pulse_session").unwrap());
    let h = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let np = "a brand new password";
    let short = s.post(
        "/api/security/change-password",
        &h,
        &json!({"currentPassword": PASS, "newPassword": "short"}).to_string(),
    );
    assert_eq!(short.status, 400);
    let wrong = s.post(
        "/api/security/change-password",
        &h,
        &json!({"currentPassword": "nope", "newPassword": np}).to_string(),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "Current password is incorrect");
    let missing = s.post(
        "/api/security/change-password",
        &h,
        &json!({"newPassword": np}).to_string(),
    );
    assert_eq!(missing.status, 401);
    let ok = s.post(
        "/api/security/change-password",
        &h,
        &json!({"currentPassword": PASS, "newPassword": np}).to_string(),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    // The caller gets a fresh session; every old one is gone.
    let fresh = format!("pulse_session={}", ok.cookie("pulse_session").unwrap());
    assert_eq!(
        s.get("/api/security/tokens", &[("Cookie", &fresh)]).status,
        200
    );
    assert_eq!(
        s.get("/api/security/tokens", &[("Cookie", &cookie)]).status,
        401
    );
    assert_eq!(
        s.get("/api/security/tokens", &[("Cookie", &other_cookie)])
            .status,
        401
    );
    assert_eq!(login(&s, "203.0.113.42", USER, PASS).status, 401);
    assert_eq!(login(&s, "203.0.113.43", USER, np).status, 200);
    // Restart with the same environment: the changed password still wins.
    s.stop();
    let dir = s.dir.clone();
    let mut s2 = Server::start_in(&dir, &env);
    assert_eq!(login(&s2, "203.0.113.44", USER, np).status, 200);
    assert_eq!(login(&s2, "203.0.113.45", USER, PASS).status, 401);
    // A new value in the environment is a deliberate reset: it wins.
    s2.stop();
    let s3 = Server::start_in(
        &dir,
        &[
            ("PULSE_AUTH_USER", USER),
            ("PULSE_AUTH_PASS", "reset via env 123"),
        ],
    );
    assert_eq!(
        login(&s3, "127.0.0.3", USER, "reset via env 123").status,
        200
    );
    assert_eq!(login(&s3, "127.0.0.4", USER, np).status, 401);
}

#[test]
fn setup_codes_script_and_auto_register() {
    let s = secured();
    let bad = s.post("/api/setup-script-url", &[admin()], r#"{"type":"vmware"}"#);
    assert_eq!(bad.status, 400);
    let bad = s.post(
        "/api/setup-script-url",
        &[admin()],
        r#"{"type":"pve","host":"https://x/;rm -rf"}"#,
    );
    assert_eq!(bad.status, 400);
    let r = s.post(
        "/api/setup-script-url",
        &[admin(), ("Host", "pulse.lan:7655")],
        r#"{"type":"pve","host":"https://pve1.lan:8006","backupPerms":true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let code = j["setupToken"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 32);
    let url = j["url"].as_str().unwrap();
    assert!(!url.contains(&code), "no secret in the URL");
    assert!(
        j["command"]
            .as_str()
            .unwrap()
            .contains(&format!("PULSE_SETUP_TOKEN={code}"))
    );
    assert!(j["expires"].as_u64().unwrap() > 1_700_000_000);
    // The script itself (public).
    let path = url
        .split_once("7655")
        .map(|x| x.1)
        .unwrap_or(url)
        .to_string();
    let sc = s.get(&path, &[]);
    assert_eq!(sc.status, 200, "{path}: {}", sc.body);
    assert_eq!(sc.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(sc.body.contains("pveum user token add"));
    assert!(sc.body.contains("NODE_URL='https://pve1.lan:8006'"));
    assert!(!sc.body.contains(&code));
    for q in [
        "",
        "?type=pve&auth_token=xyz",
        "?type=pve&pulse_url=javascript:alert(1)",
        "?type=pve&host=a%0Ab",
    ] {
        assert_eq!(
            s.get(&format!("/api/setup-script{q}"), &[]).status,
            400,
            "{q}"
        );
    }
    let pbs = s.get("/api/setup-script?type=pbs", &[]);
    assert!(pbs.body.contains("proxmox-backup-manager"));

    let reg = |host: &str, code: &str| {
        s.post(
            "/api/auto-register",
            &[("X-Forwarded-For", "203.0.113.60")],
            &json!({"type": "pve", "host": host, "serverName": "pve1", "tokenId": "pulse-monitor@pam!pulse", "tokenValue": "0000-1111-secret", "authToken": code}).to_string(),
        )
    };
    let wrong_host = reg("https://evil.lan:8006", &code);
    assert_eq!(wrong_host.status, 401);
    assert!(wrong_host.body.contains("another node"));
    // Bad data never burns the code.
    let bad = s.post(
        "/api/auto-register",
        &[("X-Forwarded-For", "203.0.113.61")],
        &json!({"type": "pve", "host": "pve1.lan", "authToken": code}).to_string(),
    );
    assert_eq!(bad.status, 400);
    let ok = reg("pve1.lan", &code);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["status"], "success");
    // The node is in the node list, with its token sealed and masked.
    let id = ok.json()["nodeId"].as_str().unwrap().to_string();
    let list = s.get("/api/config/nodes", &[admin()]);
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(!list.body.contains("0000-1111-secret"));
    let node = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(node["host"], "https://pve1.lan:8006");
    assert_eq!(node["tokenName"], "pulse-monitor@pam!pulse");
    assert_eq!(node["hasToken"], true);
    let replay = reg("pve1.lan", &code);
    assert_eq!(replay.status, 401);
    assert!(replay.body.contains("already used"));
    let none = reg("pve1.lan", "");
    assert_eq!(none.status, 401);
    // A full-access API token also registers (legacy).
    assert_eq!(reg("pve2.lan", ADMIN_TOKEN).status, 200);
}

#[test]
fn recovery_is_local_only() {
    let s = secured();
    let remote = ("X-Forwarded-For", "203.0.113.70");
    assert_eq!(s.get("/api/security/recovery", &[remote]).status, 403);
    assert_eq!(
        s.post(
            "/api/security/recovery",
            &[remote],
            r#"{"action":"disable_auth"}"#
        )
        .status,
        403
    );
    let g = s.get("/api/security/recovery", &[]);
    assert_eq!(g.status, 200);
    assert_eq!(g.json()["recovery_mode"], false);
    assert_eq!(
        s.post("/api/security/recovery", &[], r#"{"action":"dance"}"#)
            .status,
        400
    );
    assert_eq!(
        s.post(
            "/api/security/recovery",
            &[],
            r#"{"action":"disable_auth"}"#
        )
        .status,
        200
    );
    // Local requests now pass without credentials; proxied ones still do not.
    let r = s.get("/api/system/settings", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-auth-recovery"), Some("true"));
    assert_eq!(s.get("/api/system/settings", &[remote]).status, 401);
    // Reset the forgotten password from here.
    let qs = s.post(
        "/api/security/quick-setup",
        &[],
        &json!({"username": "admin", "password": "recovered password", "force": true}).to_string(),
    );
    assert_eq!(qs.status, 200, "{}", qs.body);
    assert_eq!(
        s.post("/api/security/recovery", &[], r#"{"action":"enable_auth"}"#)
            .status,
        200
    );
    assert_eq!(s.get("/api/system/settings", &[]).status, 401);
    assert_eq!(
        login(&s, "203.0.113.71", "admin", "recovered password").status,
        200
    );
}

#[test]
fn api_only_mode_and_proxy_auth() {
    let s = Server::start(&[("API_TOKEN", ADMIN_TOKEN)]);
    let r = s.get("/api/system/settings", &[]);
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer realm=")
    );
    assert_eq!(s.get("/api/system/settings", &[admin()]).status, 200);
    assert_eq!(s.get("/", &[]).status, 200, "the UI page loads");
    // The dashboard's reads pass without a token; changes do not.
    assert_ne!(s.get("/api/state", &[]).status, 401);
    assert_ne!(s.get("/api/alerts/active", &[]).status, 401);
    assert_eq!(
        s.req("PUT", "/api/alerts/config", &[], Some("{}")).status,
        401
    );
    assert_eq!(s.get("/api/security/tokens", &[]).status, 401);
    assert_eq!(
        login(&s, "127.0.0.1", "admin", "whatever password").status,
        400
    );
    drop(s);

    let s = Server::start(&[
        ("PROXY_AUTH_SECRET", "shared-proxy-secret-0123"),
        ("PROXY_AUTH_USER_HEADER", "X-Remote-User"),
        ("PROXY_AUTH_ROLE_HEADER", "X-Remote-Roles"),
    ]);
    let good = [
        ("X-Proxy-Secret", "shared-proxy-secret-0123"),
        ("X-Remote-User", "alice"),
        ("X-Remote-Roles", "viewer|admin"),
    ];
    let r = s.get("/api/system/settings", &good);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-authenticated-user"), Some("alice"));
    assert_eq!(r.header("x-auth-method"), Some("proxy"));
    let viewer = [good[0], good[1], ("X-Remote-Roles", "viewer")];
    assert_eq!(s.get("/api/system/settings", &viewer).status, 403);
    assert_eq!(
        s.get("/api/alerts/active", &viewer).status,
        200,
        "non-admin routes pass the gate"
    );
    assert_eq!(
        s.get(
            "/api/system/settings",
            &[("X-Proxy-Secret", "wrong"), good[1]]
        )
        .status,
        401
    );
    assert_eq!(
        s.get("/api/system/settings", &[good[0]]).status,
        401,
        "user header required"
    );
    assert_eq!(s.get("/api/system/settings", &[]).status, 401);
}

#[test]
fn bad_input_is_a_clean_4xx() {
    let s = secured();
    let ip = |n: u8| format!("198.18.0.{n}");
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("{", "truncated"),
        ("[]", "array"),
        (r#"{"username": 5, "password": "x"}"#, "number user"),
        (r#"{"username": "admin"}"#, "no password"),
        ("null", "null"),
    ];
    for (i, (body, what)) in cases.iter().enumerate() {
        let r = s.post("/api/login", &[("X-Forwarded-For", &ip(i as u8 + 1))], body);
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        r.json();
    }
    let long = json!({"username": "a".repeat(10_000), "password": "x"}).to_string();
    assert_eq!(
        s.post("/api/login", &[("X-Forwarded-For", &ip(20))], &long)
            .status,
        400
    );
    // Oversize: refused from the declared length, before the body is read.
    let raw = s.raw(&format!(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        ip(21),
        2 << 20
    ));
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    // A chunked body without a length is cut off at the cap too.
    let mut chunked = format!(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        ip(22)
    );
    for _ in 0..20 {
        chunked.push_str(&format!("10000\r\n{}\r\n", "x".repeat(0x10000)));
    }
    chunked.push_str("0\r\n\r\n");
    let raw = s.raw(&chunked);
    assert!(
        raw.starts_with("HTTP/1.1 413"),
        "{}",
        &raw[..raw.len().min(200)]
    );
    // Header injection through a cookie value is refused by the HTTP layer or ignored.
    let raw = s.raw("GET /api/security/tokens HTTP/1.1\r\nHost: x\r\nCookie: pulse_session=a\rSet-Cookie: x=y\r\n\r\n");
    assert!(
        raw.starts_with("HTTP/1.1 400") || raw.starts_with("HTTP/1.1 401") || raw.is_empty(),
        "{raw}"
    );
    // Cookie garbage: ignored, never a crash.
    for c in [
        "pulse_session=",
        "pulse_session=;;;===",
        "pulse_session=zzzz; pulse_session=\"quoted\"",
        &format!("pulse_session={}", "f".repeat(64)),
        &format!("pulse_session={}", "é".repeat(40)),
    ] {
        let r = s.get(
            "/api/security/tokens",
            &[("Cookie", c), ("X-Forwarded-For", &ip(30))],
        );
        assert_eq!(r.status, 401, "{c}");
    }
    // Wrong content for token endpoints.
    for body in [
        r#"{"scopes": "settings:read"}"#,
        r#"{"scopes": [1]}"#,
        r#"{"name": "a\u0000b"}"#,
    ] {
        let r = s.post("/api/security/tokens", &[admin()], body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    let r = s.post(
        "/api/security/tokens",
        &[admin()],
        &json!({"name": "n".repeat(500)}).to_string(),
    );
    assert_eq!(r.status, 400);
    // The server is still healthy.
    assert_eq!(s.get("/api/health", &[]).status, 200);
}

#[test]
fn security_headers_on_every_response() {
    let s = secured();
    for path in ["/", "/api/health", "/api/nope", "/api/system/settings"] {
        let r = s.get(path, &[]);
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            r.header("referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        assert_eq!(
            r.header("content-security-policy"),
            Some(
                "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; frame-ancestors 'none'"
            )
        );
        assert!(r.header("x-request-id").is_some());
    }
}

#[test]
fn route_table_counts_are_reported() {
    let (c, by_scope) = pulse::auth::access::counts();
    println!(
        "routes: {} public, {} self-auth, {} user, {} admin, {} owner; by scope: {by_scope:?}",
        c[0], c[1], c[2], c[3], c[4]
    );
    assert!(c[0] > 10 && c[2] > 20 && c[3] > 10 && c[4] > 3, "{c:?}");
    assert!(by_scope.iter().any(|(s, _)| *s == "monitoring:read"));
    assert!(
        ROUTES
            .iter()
            .any(|r| matches!(r.access, Access::Owner(Some("*"))))
    );
}

#[test]
fn cors_only_for_allowed_origins() {
    let s = Server::start(&[
        ("API_TOKEN", ADMIN_TOKEN),
        ("ALLOWED_ORIGINS", "https://dash.example"),
    ]);
    let raw = s.raw("OPTIONS /api/system/settings HTTP/1.1\r\nHost: x\r\nOrigin: https://dash.example\r\nAccess-Control-Request-Method: GET\r\n\r\n");
    assert!(raw.starts_with("HTTP/1.1 204"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://dash.example")
    );
    let r = s.get(
        "/api/system/settings",
        &[("Origin", "https://dash.example"), admin()],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dash.example")
    );
    assert!(r.header("access-control-allow-credentials").is_none());
    let r = s.get(
        "/api/system/settings",
        &[("Origin", "https://evil.example"), admin()],
    );
    assert!(r.header("access-control-allow-origin").is_none());
    let raw = s.raw(
        "OPTIONS /api/system/settings HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n",
    );
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
}

/// A preflight from `origin`: its status code and whether it carries CORS headers.
fn preflight(s: &Server, origin: &str) -> (u16, bool) {
    let raw = s.raw(&format!(
        "OPTIONS /api/system/settings HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: GET\r\n\r\n"
    ));
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let allowed = raw
        .to_ascii_lowercase()
        .contains(&format!("access-control-allow-origin: {origin}"));
    (status, allowed)
}

/// Writes `allowedOrigins` through the settings API.
fn set_allowed_origins(s: &Server, list: &str) -> common::Resp {
    s.post(
        "/api/system/settings/update",
        &[admin()],
        &json!({ "allowedOrigins": list }).to_string(),
    )
}

#[test]
fn cors_follows_persisted_allowed_origins_without_restart() {
    let s = Server::start(&[("API_TOKEN", ADMIN_TOKEN)]);
    assert_eq!(preflight(&s, "https://dash.example"), (401, false));

    let w = set_allowed_origins(&s, "https://dash.example, https://ops.example:8443");
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(preflight(&s, "https://dash.example"), (204, true));
    let r = s.get(
        "/api/system/settings",
        &[("Origin", "https://ops.example:8443"), admin()],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ops.example:8443")
    );
    assert_eq!(
        r.json()["effective"]["allowedOrigins"],
        "https://dash.example,https://ops.example:8443"
    );
    assert_eq!(preflight(&s, "https://evil.example"), (401, false));

    // A bad origin is refused whole and the live list is unchanged.
    let w = set_allowed_origins(&s, "https://evil.example, not an origin");
    assert_eq!(w.status, 400, "{}", w.body);
    assert!(w.body.contains("allowedOrigins"), "{}", w.body);
    assert_eq!(preflight(&s, "https://evil.example"), (401, false));
    assert_eq!(preflight(&s, "https://dash.example"), (204, true));

    // Cleared: no origin gets CORS headers any more.
    assert_eq!(set_allowed_origins(&s, "").status, 200);
    assert_eq!(preflight(&s, "https://dash.example"), (401, false));
}

#[test]
fn env_allowed_origins_overrides_the_persisted_setting() {
    let s = Server::start(&[
        ("API_TOKEN", ADMIN_TOKEN),
        ("ALLOWED_ORIGINS", "https://env.example"),
    ]);
    let w = set_allowed_origins(&s, "https://dash.example");
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(preflight(&s, "https://env.example"), (204, true));
    assert_eq!(preflight(&s, "https://dash.example"), (401, false));
    let j = s.get("/api/system/settings", &[admin()]).json();
    assert_eq!(j["envOverrides"]["allowedOrigins"], true);
    assert_eq!(j["allowedOrigins"], "https://dash.example");
    assert_eq!(j["effective"]["allowedOrigins"], "https://env.example");
}
