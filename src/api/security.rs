//! Security endpoints: login/logout, password change, API tokens, lockout reset, audit
//! log, security status, first-run bootstrap + quick setup, localhost recovery, and node
//! setup codes (setup-script-url, setup-script, auto-register).
//! Who may call each is declared in `auth::access::ROUTES` and enforced before these run;
//! handlers only re-check what depends on the body (self-authenticating endpoints).

use super::error::ApiError;
use super::{AppState, body};
use crate::auth::gate::{
    CSRF_COOKIE, SESSION_COOKIE, cookies, is_secure, json_response, set_cookie,
};
use crate::auth::lockout::{self, Failure};
use crate::auth::setup::{self, CodeError, NodeType};
use crate::auth::{ClientIp, Method, Principal, password, tokens};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

fn with_state(
    s: AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || s.clone())
}

/// The caller and its address, as the gate attached them.
fn caller() -> impl Filter<Extract = (Principal, ClientIp), Error = warp::Rejection> + Clone {
    warp::ext::get::<Principal>().and(warp::ext::get::<ClientIp>())
}

type Res = Result<Response, ApiError>;

fn reply(r: Res) -> Result<Response, warp::Rejection> {
    Ok(r.unwrap_or_else(warp::reply::Reply::into_response))
}

fn ok_json(v: serde_json::Value) -> Res {
    Ok(warp::reply::json(&v).into_response())
}

/// For responses that carry a secret shown once (new tokens, setup codes).
fn secret_json(v: serde_json::Value) -> Res {
    let mut r = warp::reply::json(&v).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

fn no_control(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limit = state.settings().max_body_bytes;
    let st = move || with_state(state.clone());

    let login = warp::path!("login")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and(body::json::<LoginBody>(limit))
        .and_then(|s, p, c, h, b| async move { reply(login(s, p, c, h, b).await) });
    // Bodies are read (and ignored) even where none is expected: an unread body makes
    // hyper drop the connection, which breaks keep-alive clients.
    let logout = warp::path!("logout")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and(body::bytes_limited(limit))
        .and_then(|s, p, c, h, _b| async move { reply(logout(s, p, c, h)) });
    let status = warp::path!("security" / "status")
        .and(warp::get())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and_then(|s, p, c, h| async move { reply(status(s, p, c, h)) });
    let change_pw = warp::path!("security" / "change-password")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and(body::json::<ChangePassword>(limit))
        .and_then(|s, p, c, h, b| async move { reply(change_password(s, p, c, h, b).await) });
    let list_tokens = warp::path!("security" / "tokens")
        .and(warp::get())
        .and(st())
        .and_then(|s: AppState| async move {
            reply(ok_json(json!({ "tokens": s.auth().tokens.list() })))
        });
    let create_token = warp::path!("security" / "tokens")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(body::json::<CreateToken>(limit))
        .and_then(|s, p, c, b| async move { reply(create_token(s, p, c, b)) });
    let delete_token = warp::path!("security" / "tokens" / String)
        .and(warp::delete())
        .and(st())
        .and(caller())
        .and_then(|id, s, p, c| async move { reply(delete_token(s, p, c, id)) });
    let regenerate = warp::path!("security" / "regenerate-token")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(body::bytes_limited(limit))
        .and_then(|s, p, c, _b| async move { reply(regenerate(s, p, c)) });
    let validate_token = warp::path!("security" / "validate-token")
        .and(warp::post())
        .and(st())
        .and(body::json::<TokenBody>(limit))
        .and_then(|s: AppState, b: TokenBody| async move {
            let t = b.token.unwrap_or_default();
            if t.trim().is_empty() {
                return reply(Err(ApiError::bad_request("token is required")));
            }
            let valid = s.auth().tokens.validate(t.trim()).is_some();
            reply(ok_json(json!({
                "valid": valid,
                "message": if valid { "Token is valid" } else { "Token is not valid" },
            })))
        });
    let reset_lockout = warp::path!("security" / "reset-lockout")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(body::json::<ResetLockout>(limit))
        .and_then(|s, p, c, b| async move { reply(reset_lockout(s, p, c, b)) });
    let audit = warp::path!("security" / "audit")
        .and(warp::get())
        .and(st())
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|s: AppState, q: HashMap<String, String>| async move {
            let limit = match q.get("limit").map(|v| v.parse::<usize>()) {
                None => 100,
                Some(Ok(n)) if (1..=1000).contains(&n) => n,
                Some(_) => return reply(Err(ApiError::bad_request("limit must be 1-1000"))),
            };
            reply(
                s.auth()
                    .audit
                    .recent(limit)
                    .map_err(ApiError::from)
                    .and_then(|ev| ok_json(json!({ "events": ev }))),
            )
        });
    let validate_bootstrap = warp::path!("security" / "validate-bootstrap-token")
        .and(warp::post())
        .and(st())
        .and(warp::header::headers_cloned())
        .and(body::bytes_limited(limit))
        .and_then(|s, h, b| async move { reply(validate_bootstrap(s, h, b)) });
    let quick_setup = warp::path!("security" / "quick-setup")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and(body::json::<QuickSetup>(limit))
        .and_then(|s, p, c, h, b| async move { reply(quick_setup(s, p, c, h, b).await) });
    let recovery_get = warp::path!("security" / "recovery")
        .and(warp::get())
        .and(st())
        .and(caller())
        .and_then(|s: AppState, _p: Principal, c: ClientIp| async move {
            reply(local_only(&c).and_then(|()| {
                let on = s.auth().recovery_mode();
                ok_json(json!({
                    "recovery_mode": on,
                    "message": if on {
                        "Recovery mode is on: local connections skip authentication"
                    } else {
                        "Recovery mode is off"
                    },
                }))
            }))
        });
    let recovery_post = warp::path!("security" / "recovery")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(body::json::<Recovery>(limit))
        .and_then(|s, p, c, b| async move { reply(recovery(s, p, c, b)) });
    let setup_url = warp::path!("setup-script-url")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and(body::json::<SetupUrl>(limit))
        .and_then(|s, p, c, h, b| async move { reply(setup_script_url(s, p, c, h, b)) });
    let setup_script = warp::path!("setup-script")
        .and(warp::get())
        .and(st())
        .and(caller())
        .and(warp::header::headers_cloned())
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|s, _p: Principal, c, h, q| async move { reply(setup_script(s, c, h, q)) });
    let auto_register = warp::path!("auto-register")
        .and(warp::post())
        .and(st())
        .and(caller())
        .and(body::json::<AutoRegister>(limit))
        .and_then(|s, p, c, b| async move { reply(auto_register(s, p, c, b)) });

    // Each route is boxed before they are combined: a long chain of unboxed warp filters
    // makes the compiler's type work explode.
    let all: Vec<BoxedFilter<(Response,)>> = vec![
        login.boxed(),
        logout.boxed(),
        status.boxed(),
        change_pw.boxed(),
        list_tokens.boxed(),
        create_token.boxed(),
        delete_token.boxed(),
        regenerate.boxed(),
        validate_token.boxed(),
        reset_lockout.boxed(),
        audit.boxed(),
        validate_bootstrap.boxed(),
        quick_setup.boxed(),
        recovery_get.boxed(),
        recovery_post.boxed(),
        setup_url.boxed(),
        setup_script.boxed(),
        auto_register.boxed(),
    ];
    let none = warp::any()
        .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
        .boxed();
    all.into_iter()
        .fold(none, |acc, r| r.or(acc).unify().boxed())
}

// ---------------------------------------------------------------- login / logout

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    remember_me: bool,
}

fn minutes_left(until_ms: u64, now_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).div_ceil(60_000).max(1)
}

fn locked_response(until_ms: u64, now_ms: u64) -> Response {
    let n = minutes_left(until_ms, now_ms);
    json_response(
        StatusCode::FORBIDDEN,
        json!({
            "error": "account_locked",
            "message": format!("Too many failed attempts. Account is locked for {n} more minutes."),
            "lockedUntil": crate::auth::clock::rfc3339(until_ms),
            "remainingMinutes": n,
        }),
    )
}

/// Sets the session and CSRF cookies on `resp` (and the CSRF value in a header).
fn attach_session(resp: &mut Response, new: &crate::auth::sessions::NewSession, secure: bool) {
    let max_age = new.ttl_ms / 1000;
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &new.token, max_age, true, secure),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(CSRF_COOKIE, &new.csrf, max_age, false, secure),
    );
    if let Ok(v) = HeaderValue::from_str(&new.csrf) {
        h.insert("x-csrf-token", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

async fn login(s: AppState, _p: Principal, c: ClientIp, h: HeaderMap, b: LoginBody) -> Res {
    let auth = s.auth();
    let ip = c.ip.to_string();
    if b.username.len() > 128 || b.password.len() > 1024 || !no_control(&b.username) {
        return Err(ApiError::bad_request(
            "username or password is too long or malformed",
        ));
    }
    if !auth.has_password() {
        return Ok(json_response(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "password_auth_disabled",
                "message": "No password is configured on this server: set PULSE_AUTH_USER/PULSE_AUTH_PASS or run quick setup",
            }),
        ));
    }
    let keys = [lockout::user_key(&b.username), lockout::ip_key(&ip)];
    let now = auth.clock.now_ms();
    if let Some(until) = auth.lockout.locked_until(&keys) {
        auth.audit
            .record("login", &b.username, &ip, "/api/login", false, "locked out");
        return Ok(locked_response(until, now));
    }
    let ok = auth.verify_password(&b.username, &b.password).await;
    let secure = is_secure(c.tls, &h);
    // The rest commits to redb (lockout, session, audit): off the async workers, so a storm
    // of failed logins cannot stall other requests on fsync.
    let s2 = s.clone();
    match tokio::task::spawn_blocking(move || {
        login_finish(&s2, ok, &b.username, &ip, b.remember_me, secure)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => Err(ApiError::internal(format!("login failed: {e}"))),
    }
}

fn login_finish(s: &AppState, ok: bool, user: &str, ip: &str, remember: bool, secure: bool) -> Res {
    let auth = s.auth();
    let keys = [lockout::user_key(user), lockout::ip_key(ip)];
    if ok {
        auth.lockout.clear(&keys)?;
        let new = auth.sessions.create(user, ip, remember)?;
        auth.audit.record("login", user, ip, "/api/login", true, "");
        let mut resp =
            warp::reply::json(&json!({"success": true, "message": "Successfully logged in"}))
                .into_response();
        attach_session(&mut resp, &new, secure);
        return Ok(resp);
    }
    let outcome = auth.lockout.record_failure(&keys)?;
    auth.audit.record(
        "login",
        user,
        ip,
        "/api/login",
        false,
        "invalid credentials",
    );
    Ok(match outcome {
        Failure::Counted {
            attempts,
            remaining,
        } => json_response(
            StatusCode::UNAUTHORIZED,
            json!({
                "error": "invalid_credentials",
                "message": format!("Invalid username or password. You have {remaining} attempts remaining."),
                "attempts": attempts,
                "remaining": remaining,
                "maxAttempts": lockout::MAX_ATTEMPTS,
            }),
        ),
        Failure::NowLocked { until_ms } => {
            auth.audit
                .record("lockout", user, ip, "/api/login", false, "5 failed logins");
            json_response(
                StatusCode::UNAUTHORIZED,
                json!({
                    "error": "invalid_credentials",
                    "message": "Invalid username or password. Account is now locked for 15 minutes.",
                    "locked": true,
                    "lockoutDuration": "15 minutes",
                    "lockedUntil": crate::auth::clock::rfc3339(until_ms),
                }),
            )
        }
    })
}

fn logout(s: AppState, p: Principal, c: ClientIp, h: HeaderMap) -> Res {
    if let Method::Session { key } = &p.method {
        s.auth().sessions.revoke(key)?;
    }
    s.auth().audit.record(
        "logout",
        &p.user,
        &c.ip.to_string(),
        "/api/logout",
        true,
        "",
    );
    let secure = is_secure(c.tls, &h);
    let mut resp =
        warp::reply::json(&json!({"success": true, "message": "Successfully logged out"}))
            .into_response();
    let hm = resp.headers_mut();
    hm.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, true, secure),
    );
    hm.append(
        header::SET_COOKIE,
        set_cookie(CSRF_COOKIE, "", 0, false, secure),
    );
    if let Some(url) = s
        .auth()
        .env
        .proxy_auth
        .as_ref()
        .and_then(|p| p.logout_url.as_ref())
        && let Ok(v) = HeaderValue::from_str(url)
    {
        hm.insert("x-proxy-logout-url", v);
    }
    Ok(resp)
}

// ---------------------------------------------------------------- status

fn status(s: AppState, p: Principal, c: ClientIp, h: HeaderMap) -> Res {
    let auth = s.auth();
    let authed = p.is_authenticated() && p.method != Method::Open;
    let creds = auth.credentials();
    let private = crate::auth::is_private(c.ip);
    let proxy = auth.env.proxy_auth.as_ref();
    let mut v = json!({
        "apiTokenConfigured": !auth.tokens.is_empty(),
        "apiTokenHint": if authed { auth.tokens.list().first().map(|t| t.hint()).unwrap_or_default() } else { String::new() },
        "apiTokenCount": auth.tokens.list().len(),
        "requiresAuth": auth.auth_configured(),
        "hasAuthentication": auth.auth_configured(),
        "passwordConfigured": auth.has_password(),
        "apiOnlyMode": auth.api_only(),
        "exportProtected": !auth.tokens.is_empty() || !auth.env.allow_unprotected_export,
        "unprotectedExportAllowed": auth.env.allow_unprotected_export,
        "configuredButPendingRestart": false,
        "hasAuditLogging": true,
        "credentialsEncrypted": true,
        "hasHTTPS": c.tls,
        "clientIP": c.ip.to_string(),
        "isPrivateNetwork": private,
        "isTrustedNetwork": private,
        "publicAccess": !private,
        "hasProxyAuth": proxy.is_some(),
        "proxyAuthLogoutURL": proxy.and_then(|p| p.logout_url.clone()).unwrap_or_default(),
        "proxyAuthUsername": if matches!(p.method, Method::Proxy { .. }) { p.user.clone() } else { String::new() },
        "proxyAuthIsAdmin": matches!(p.method, Method::Proxy { admin: true }),
        "authUsername": if authed { creds.as_ref().map(|c| c.user.clone()).unwrap_or_default() } else { String::new() },
        "authLastModified": if authed { creds.as_ref().map(|c| c.changed_at.clone()).unwrap_or_default() } else { String::new() },
        "authMethod": if authed { p.method.name() } else { "" },
        "recoveryMode": auth.recovery_mode(),
        "oidcEnabled": false,
        "oidcUsername": "",
        "oidcIssuer": "",
        "oidcClientId": "",
        "oidcLogoutURL": "",
        "sessionCookiePresent": cookies(&h, SESSION_COOKIE).next().is_some(),
    });
    if auth.bootstrap_active() {
        v["bootstrapTokenPath"] = auth
            .data_dir
            .join(crate::auth::BOOTSTRAP_FILE)
            .display()
            .to_string()
            .into();
        v["isDocker"] = auth.env.docker.into();
        v["inContainer"] = (auth.env.docker || std::path::Path::new("/.dockerenv").exists()).into();
    }
    ok_json(v)
}

// ---------------------------------------------------------------- password

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePassword {
    #[serde(default)]
    current_password: Option<String>,
    new_password: String,
}

async fn change_password(
    s: AppState,
    p: Principal,
    c: ClientIp,
    h: HeaderMap,
    b: ChangePassword,
) -> Res {
    let auth = s.auth();
    let ip = c.ip.to_string();
    let Some(creds) = auth.credentials() else {
        return Err(ApiError::bad_request(
            "No password is configured; use quick setup to create one",
        ));
    };
    password::validate_new(&b.new_password).map_err(ApiError::bad_request)?;
    let current = b.current_password.unwrap_or_default();
    if current.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Current password required",
        ));
    }
    if current.len() > 1024 {
        return Err(ApiError::bad_request("currentPassword is too long"));
    }
    let keys = [lockout::user_key(&creds.user), lockout::ip_key(&ip)];
    let now = auth.clock.now_ms();
    if let Some(until) = auth.lockout.locked_until(&keys) {
        return Ok(locked_response(until, now));
    }
    if !auth.verify_password(&creds.user, &current).await {
        auth.lockout.record_failure(&keys)?;
        auth.audit.record(
            "password_change",
            &p.user,
            &ip,
            "/api/security/change-password",
            false,
            "wrong current password",
        );
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Current password is incorrect",
        ));
    }
    let hash = auth
        .hasher
        .hash(b.new_password)
        .await
        .map_err(|e| ApiError::internal(format!("could not hash the password: {e}")))?;
    // Ends every session, including the caller's; a session caller gets a fresh one.
    auth.set_credentials(&creds.user, hash)?;
    auth.audit.record(
        "password_change",
        &p.user,
        &ip,
        "/api/security/change-password",
        true,
        "all sessions revoked",
    );
    let mut resp = warp::reply::json(&json!({
        "success": true,
        "message": "Password changed. Other sessions have been signed out.",
        "requiresRestart": false,
    }))
    .into_response();
    if let Method::Session { .. } = p.method {
        let new = auth.sessions.create(&creds.user, &ip, false)?;
        attach_session(&mut resp, &new, is_secure(c.tls, &h));
    }
    Ok(resp)
}

// ---------------------------------------------------------------- tokens

#[derive(Deserialize)]
struct CreateToken {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

fn create_token(s: AppState, p: Principal, c: ClientIp, b: CreateToken) -> Res {
    let auth = s.auth();
    let name = b.name.unwrap_or_default().trim().to_string();
    let name = if name.is_empty() {
        "API token".to_string()
    } else {
        name
    };
    if name.chars().count() > 128 || !no_control(&name) {
        return Err(ApiError::bad_request(
            "name must be at most 128 characters without control characters",
        ));
    }
    let scopes = tokens::normalize_scopes(b.scopes).map_err(ApiError::bad_request)?;
    let minted = auth.tokens.create(&name, scopes.clone())?;
    auth.audit.record(
        "token_created",
        &p.user,
        &c.ip.to_string(),
        "/api/security/tokens",
        true,
        &format!(
            "id={} name={} scopes={}",
            minted.record.id,
            name,
            scopes.join(",")
        ),
    );
    sync_bootstrap(&s);
    secret_json(json!({ "token": minted.raw, "record": minted.record }))
}

fn sync_bootstrap(s: &AppState) {
    if let Err(e) = s.auth().sync_bootstrap() {
        tracing::warn!(error = %e, "could not update the bootstrap token file");
    }
}

fn delete_token(s: AppState, p: Principal, c: ClientIp, id: String) -> Res {
    let auth = s.auth();
    if auth.tokens.is_env(&id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "This token comes from API_TOKEN/API_TOKENS; remove it from the environment and restart",
        ));
    }
    match auth.tokens.delete(&id)? {
        None => Err(ApiError::not_found_msg("Token not found")),
        Some(rec) => {
            auth.audit.record(
                "token_revoked",
                &p.user,
                &c.ip.to_string(),
                "/api/security/tokens",
                true,
                &format!("id={} name={}", rec.id, rec.name),
            );
            sync_bootstrap(&s);
            Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
        }
    }
}

fn regenerate(s: AppState, p: Principal, c: ClientIp) -> Res {
    let auth = s.auth();
    let raw = crate::crypto::random_hex::<32>();
    let rec = auth.tokens.replace_all("Regenerated token", &raw)?;
    auth.audit.record(
        "token_regenerated",
        &p.user,
        &c.ip.to_string(),
        "/api/security/regenerate-token",
        true,
        &format!("id={}; all other stored tokens revoked", rec.id),
    );
    sync_bootstrap(&s);
    secret_json(json!({
        "success": true,
        "token": raw,
        "record": rec,
        "deploymentType": "pulse",
        "requiresRestart": false,
        "message": "All stored API tokens were replaced by this one; it is shown only once.",
    }))
}

#[derive(Deserialize)]
struct TokenBody {
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
struct ResetLockout {
    #[serde(default)]
    identifier: Option<String>,
}

fn reset_lockout(s: AppState, p: Principal, c: ClientIp, b: ResetLockout) -> Res {
    let id = b.identifier.unwrap_or_default().trim().to_string();
    if id.is_empty() {
        return Ok(json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "missing_identifier", "message": "identifier (a user name or IP address) is required"}),
        ));
    }
    if id.len() > 128 || !no_control(&id) {
        return Err(ApiError::bad_request("identifier is too long or malformed"));
    }
    let keys = [lockout::user_key(&id), lockout::ip_key(&id)];
    let had = s.auth().lockout.clear(&keys)?;
    s.auth().audit.record(
        "lockout_reset",
        &p.user,
        &c.ip.to_string(),
        "/api/security/reset-lockout",
        true,
        &format!("identifier={id} tracked={had}"),
    );
    ok_json(json!({"success": true, "message": format!("Lockout reset for {id}")}))
}

// ---------------------------------------------------------------- first run

fn setup_header(h: &HeaderMap) -> Option<String> {
    h.get("x-setup-token")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn validate_bootstrap(s: AppState, h: HeaderMap, body: bytes::Bytes) -> Res {
    let auth = s.auth();
    if !auth.bootstrap_active() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Bootstrap token unavailable: authentication is already configured",
        ));
    }
    let from_body = if body.is_empty() {
        None
    } else {
        let b: TokenBody = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
        b.token
    };
    let token = setup_header(&h).or(from_body).unwrap_or_default();
    if token.trim().is_empty() {
        return Err(ApiError::bad_request(
            "Bootstrap token required (X-Setup-Token header or {\"token\"})",
        ));
    }
    if !auth.bootstrap_valid(&token) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid bootstrap setup token",
        ));
    }
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuickSetup {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    api_token: Option<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    setup_token: Option<String>,
}

async fn quick_setup(s: AppState, p: Principal, c: ClientIp, h: HeaderMap, b: QuickSetup) -> Res {
    let auth = s.auth();
    let ip = c.ip.to_string();
    // Once anything is configured, only an authenticated admin (token: settings:write) may
    // re-run setup; before that, proof of owning the machine (bootstrap token or a local
    // connection) is needed.
    let allowed = if auth.auth_configured() {
        p.is_authenticated()
            && p.method != Method::Open
            && p.is_admin()
            && p.has_scope("settings:write")
    } else {
        let presented = setup_header(&h)
            .or(b.setup_token.clone())
            .unwrap_or_default();
        c.direct_loopback || auth.bootstrap_valid(&presented)
    };
    if !allowed {
        auth.audit.record(
            "quick_setup",
            &p.user,
            &ip,
            "/api/security/quick-setup",
            false,
            "not authorised",
        );
        let msg = if auth.auth_configured() {
            "Authentication required: sign in as an administrator (or use a token with settings:write)"
        } else {
            "Bootstrap token required: send the content of .bootstrap_token from the data directory in X-Setup-Token (pulse bootstrap-token prints it)"
        };
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, msg));
    }
    if auth.has_password() && !b.force {
        return ok_json(json!({
            "success": true,
            "skipped": true,
            "message": "Password authentication is already configured; send \"force\": true to replace it",
        }));
    }
    let user = b.username.trim().to_string();
    if user.is_empty() || user.chars().count() > 64 || !no_control(&user) || user.contains(':') {
        return Err(ApiError::bad_request(
            "username is required: 1-64 characters, no control characters or ':'",
        ));
    }
    password::validate_new(&b.password).map_err(ApiError::bad_request)?;
    let api_token = b
        .api_token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &api_token
        && (t.len() < 16 || t.len() > 512 || !t.bytes().all(|c| c.is_ascii_graphic()))
    {
        return Err(ApiError::bad_request(
            "apiToken must be 16-512 printable ASCII characters without spaces",
        ));
    }
    let hash = auth
        .hasher
        .hash(b.password)
        .await
        .map_err(|e| ApiError::internal(format!("could not hash the password: {e}")))?;
    auth.set_credentials(&user, hash)?;
    if let Some(t) = &api_token {
        auth.tokens.replace_all("Primary token", t)?;
    }
    sync_bootstrap(&s);
    auth.audit.record(
        "quick_setup",
        &p.user,
        &ip,
        "/api/security/quick-setup",
        true,
        &format!("user={user} token={}", api_token.is_some()),
    );
    ok_json(json!({
        "success": true,
        "method": "pulse",
        "deploymentType": if auth.env.docker { "docker" } else { "pulse" },
        "requiresManualRestart": false,
        "message": "Security enabled immediately! Sign in with your new credentials.",
        "note": "Credentials are stored (bcrypt, sealed) in the Pulse database; PULSE_AUTH_* variables, if later changed, take precedence.",
    }))
}

// ---------------------------------------------------------------- recovery

fn local_only(c: &ClientIp) -> Result<(), ApiError> {
    if c.direct_loopback {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Recovery is only available from a direct localhost connection (not through a proxy)",
        ))
    }
}

#[derive(Deserialize)]
struct Recovery {
    #[serde(default)]
    action: String,
}

fn recovery(s: AppState, p: Principal, c: ClientIp, b: Recovery) -> Res {
    local_only(&c)?;
    let auth = s.auth();
    let on = match b.action.as_str() {
        "disable_auth" => true,
        "enable_auth" => false,
        _ => {
            return Err(ApiError::bad_request(
                "Invalid action: use disable_auth or enable_auth",
            ));
        }
    };
    auth.set_recovery_mode(on)
        .map_err(|e| ApiError::internal(format!("could not change recovery mode: {e}")))?;
    auth.audit.record(
        "recovery",
        &p.user,
        &c.ip.to_string(),
        "/api/security/recovery",
        true,
        &b.action,
    );
    ok_json(json!({
        "success": true,
        "recovery_mode": on,
        "message": if on {
            "Recovery mode on: requests from this machine skip authentication. Reset the password, then enable_auth."
        } else {
            "Recovery mode off: authentication is enforced again"
        },
    }))
}

// ---------------------------------------------------------------- node setup

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetupUrl {
    #[serde(rename = "type")]
    node_type: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    backup_perms: bool,
}

/// Pulse's own URL for scripts: `PULSE_PUBLIC_URL`, else scheme + the request's Host.
fn pulse_url(s: &AppState, c: &ClientIp, h: &HeaderMap) -> Result<String, ApiError> {
    if let Some(u) = &s.auth().env.public_url {
        return Ok(u.clone());
    }
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if !ok {
        return Err(ApiError::bad_request("Invalid Host header"));
    }
    let scheme = if is_secure(c.tls, h) { "https" } else { "http" };
    Ok(format!("{scheme}://{host}"))
}

fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn setup_script_url(s: AppState, p: Principal, c: ClientIp, h: HeaderMap, b: SetupUrl) -> Res {
    let t = NodeType::parse(&b.node_type)
        .ok_or_else(|| ApiError::bad_request("type must be pve, pbs or pmg"))?;
    let host = match b.host.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        Some(raw) => Some(
            setup::normalize_host(t, raw)
                .map_err(|e| ApiError::bad_request(format!("host: {e}")))?,
        ),
        None => None,
    };
    let base = pulse_url(&s, &c, &h)?;
    let (code, expires_ms) = s.auth().setup_codes.create(t, host.clone());
    let mut url = format!("{base}/api/setup-script?type={}", t.as_str());
    if let Some(h) = &host {
        url.push_str(&format!("&host={}", enc(h)));
    }
    url.push_str(&format!("&pulse_url={}", enc(&base)));
    if b.backup_perms && t == NodeType::Pve {
        url.push_str("&backup_perms=true");
    }
    s.auth().audit.record(
        "setup_code_created",
        &p.user,
        &c.ip.to_string(),
        "/api/setup-script-url",
        true,
        &format!(
            "type={} host={}",
            t.as_str(),
            host.as_deref().unwrap_or("-")
        ),
    );
    // The code travels in the command's environment, never in the URL, so it does not end
    // up in proxy or server logs.
    let with_env = format!("curl -sSL \"{url}\" | PULSE_SETUP_TOKEN={code} bash");
    secret_json(json!({
        "url": url,
        "command": with_env,
        "commandWithEnv": with_env,
        "commandWithoutEnv": format!("curl -sSL \"{url}\" | bash"),
        "expires": expires_ms / 1000,
        "setupToken": code,
        "setupCode": code,
        "tokenHint": format!("{}…{}", &code[..3], &code[code.len() - 3..]),
    }))
}

fn setup_script(s: AppState, c: ClientIp, h: HeaderMap, q: HashMap<String, String>) -> Res {
    // An unknown type is refused (the reference served the PBS script for anything not pve).
    let t = match q.get("type").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => return Err(ApiError::bad_request("type is required: pve, pbs or pmg")),
        Some(v) => NodeType::parse(v)
            .ok_or_else(|| ApiError::bad_request("type must be pve, pbs or pmg"))?,
    };
    let host = match q.get("host").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(raw) => setup::normalize_host(t, raw)
            .map_err(|e| ApiError::bad_request(format!("host: {e}")))?,
        None => match t {
            NodeType::Pbs => "https://YOUR_PBS_HOST:8007".to_string(),
            NodeType::Pmg => "https://YOUR_PMG_HOST:8006".to_string(),
            NodeType::Pve => "https://YOUR_PROXMOX_HOST:8006".to_string(),
        },
    };
    let pulse = match q
        .get("pulse_url")
        .map(|v| v.trim().trim_end_matches('/'))
        .filter(|v| !v.is_empty())
    {
        Some(u) => {
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() <= 512
                && u.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '\'' | '"' | '\\' | '`' | '$'));
            if !ok {
                return Err(ApiError::bad_request("pulse_url must be an http(s) URL"));
            }
            u.split('#').next().unwrap_or(u).to_string()
        }
        None => pulse_url(&s, &c, &h)?,
    };
    let token = match q
        .get("auth_token")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        Some(v) if (32..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(v.to_string())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "auth_token must be 32-128 hex characters",
            ));
        }
        None => None,
    };
    let backup = q
        .get("backup_perms")
        .is_some_and(|v| v == "true" || v == "1");
    let pulse_host: String = pulse
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let token_name = format!("pulse-{pulse_host}-{}", s.auth().clock.now_ms() / 1000);
    let text = setup::script(&setup::ScriptParams {
        node_type: t,
        host: &host,
        pulse_url: &pulse,
        backup_perms: backup,
        setup_token: token.as_deref(),
        token_name: &token_name,
    });
    let mut resp = text.into_response();
    let hm = resp.headers_mut();
    hm.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    hm.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=pulse-setup-{}.sh", t.as_str()))
    {
        hm.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoRegister {
    #[serde(rename = "type", default)]
    node_type: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    token_id: String,
    #[serde(default)]
    token_value: String,
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    setup_code: Option<String>,
    #[serde(default)]
    auth_token: Option<String>,
    /// PMG (no API tokens): the monitoring user and its password. `username` is the
    /// reference's name for the field.
    #[serde(default, alias = "username")]
    user: String,
    #[serde(default)]
    password: String,
}

/// What an auto-registering host sends to sign in with: an API token (PVE, PBS) or a
/// user and password (PMG).
enum Credential<'a> {
    Token { id: &'a str, value: &'a str },
    Password { user: &'a str, password: &'a str },
}

impl Credential<'_> {
    /// For the audit log: who, never the secret.
    fn describe(&self) -> String {
        match self {
            Credential::Token { id, .. } => format!("tokenId={id}"),
            Credential::Password { user, .. } => format!("user={user}"),
        }
    }
}

/// Checks the credential fields for the node type; the error names the field at fault.
fn credential_of(t: NodeType, b: &AutoRegister) -> Result<Credential<'_>, ApiError> {
    if t == NodeType::Pmg {
        let user = b.user.trim();
        let missing: Vec<&str> = [
            ("user", user.is_empty()),
            ("password", b.password.is_empty()),
        ]
        .into_iter()
        .filter_map(|(f, gone)| gone.then_some(f))
        .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Missing required fields for pmg: {}",
                missing.join(", ")
            )));
        }
        let user_ok = user.len() <= 128
            && user.contains('@')
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@._-".contains(c));
        if !user_ok {
            return Err(ApiError::bad_request("user must look like name@realm"));
        }
        // Passwords may hold spaces; not control characters, and not unbounded.
        if b.password.len() > 256 || b.password.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "password must be at most 256 printable characters",
            ));
        }
        return Ok(Credential::Password {
            user,
            password: &b.password,
        });
    }
    if b.token_id.trim().is_empty() || b.token_value.trim().is_empty() {
        return Err(ApiError::bad_request(
            "Missing required fields: type, host, tokenId, tokenValue",
        ));
    }
    let token_id = b.token_id.trim();
    let token_ok = token_id.len() <= 128
        && token_id.contains('@')
        && token_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@!._-".contains(c));
    let value = b.token_value.trim();
    let value_ok = value.len() <= 256 && value.bytes().all(|c| c.is_ascii_graphic());
    if !token_ok || !value_ok {
        return Err(ApiError::bad_request(
            "tokenId must look like user@realm!name and tokenValue must be printable",
        ));
    }
    Ok(Credential::Token {
        id: token_id,
        value,
    })
}

/// Adds or updates the node for an auto-registration; returns its id.
fn register_node(
    s: &AppState,
    t: NodeType,
    host: &str,
    server_name: &str,
    cred: &Credential,
) -> Result<String, ApiError> {
    use crate::nodes::request::{NodeRequest, build};
    let _guard = s.inner.nodes_lock.lock().unwrap_or_else(|p| p.into_inner());
    let nodes = crate::nodes::Nodes::new(s.store());
    let list = nodes.list()?;
    let base_req = NodeRequest {
        kind: Some(t.as_str().into()),
        host: Some(host.into()),
        ..Default::default()
    };
    let req = match *cred {
        Credential::Token { id, value } => NodeRequest {
            token_name: Some(id.into()),
            token_value: Some(value.into()),
            ..base_req
        },
        // An empty token name drops a token stored earlier, so the password is in force.
        Credential::Password { user, password } => NodeRequest {
            user: Some(user.into()),
            password: Some(password.into()),
            token_name: Some(String::new()),
            ..base_req
        },
    };
    let field_error = |errs: Vec<(String, String)>| {
        let mut e = ApiError::bad_request(
            errs.first()
                .map(|(f, m)| format!("{f}: {m}"))
                .unwrap_or_else(|| "Invalid node".into()),
        );
        e.fields = errs;
        e
    };
    let normalized = crate::nodes::request::normalize_host(
        host,
        crate::nodes::request::parse_kind(t.as_str())
            .unwrap_or(crate::poller::scheduler::Kind::Pve),
    )
    .map_err(|e| ApiError::bad_request(format!("host: {e}")))?;
    if let Some(existing) = list
        .iter()
        .find(|n| n.kind.as_str() == t.as_str() && n.host == normalized)
    {
        let secrets = nodes.secrets(&existing.id)?;
        let (node, secrets) = build(req, Some((existing, &secrets))).map_err(field_error)?;
        nodes.update(node, &secrets)?;
        drop(_guard);
        s.nodes_changed();
        return Ok(existing.id.clone());
    }
    // A free name: the server's own name, else its host, suffixed when taken.
    let base = if server_name.is_empty() {
        host.to_string()
    } else {
        server_name.to_string()
    };
    let mut name = base.clone();
    let mut i = 2;
    while list
        .iter()
        .any(|n| n.kind.as_str() == t.as_str() && n.name.eq_ignore_ascii_case(&name))
    {
        name = format!("{base}-{i}");
        i += 1;
    }
    let (node, secrets) = build(
        NodeRequest {
            name: Some(name),
            ..req
        },
        None,
    )
    .map_err(field_error)?;
    let saved = nodes.add(node, &secrets)?;
    drop(_guard);
    s.nodes_changed();
    Ok(saved.id)
}

fn auto_register(s: AppState, p: Principal, c: ClientIp, b: AutoRegister) -> Res {
    let auth = s.auth();
    let ip = c.ip.to_string();
    // Validate everything before spending the code, so bad input never burns it.
    let t = NodeType::parse(&b.node_type)
        .ok_or_else(|| ApiError::bad_request("type must be pve, pbs or pmg"))?;
    if b.host.trim().is_empty() {
        return Err(ApiError::bad_request("Missing required fields: host"));
    }
    let cred = credential_of(t, &b)?;
    let host = setup::normalize_host(t, &b.host)
        .map_err(|e| ApiError::bad_request(format!("host: {e}")))?;
    let name: String = b
        .server_name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(64)
        .collect();

    let credential = b
        .auth_token
        .as_deref()
        .or(b.setup_code.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let by_caller = p.is_authenticated()
        && p.method != Method::Open
        && p.is_admin()
        && p.has_scope("settings:write");
    let authorised = match credential {
        Some(cred) => {
            let as_token = auth
                .tokens
                .validate(cred)
                .is_some_and(|(rec, _)| rec.has_scope("settings:write"));
            if as_token {
                Ok(())
            } else {
                auth.setup_codes.consume(cred, t, &host)
            }
        }
        None if by_caller => Ok(()),
        None => Err(CodeError::Unknown),
    };
    if let Err(e) = authorised {
        let msg = match (credential, e) {
            (None, _) => "Pulse requires authentication: send the setup code as authToken",
            (_, CodeError::Used) => "Setup code already used",
            (_, CodeError::WrongHost | CodeError::WrongType) => {
                "Setup code was issued for another node"
            }
            _ => "Invalid or expired setup code",
        };
        auth.audit.record(
            "auto_register",
            &p.user,
            &ip,
            "/api/auto-register",
            false,
            &format!("host={host} reason={e:?}"),
        );
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, msg));
    }

    // Registered through the same path as `POST /api/config/nodes`: a node with the same
    // type and host gets the new token; otherwise a node is added (its token sealed).
    let node_id = register_node(&s, t, &host, &name, &cred)?;
    auth.audit.record(
        "auto_register",
        &p.user,
        &ip,
        "/api/auto-register",
        true,
        &format!("type={} host={host} {}", t.as_str(), cred.describe()),
    );
    ok_json(json!({
        "status": "success",
        "message": format!("Node {host} auto-registered successfully"),
        "nodeId": node_id,
    }))
}
