//! The per-request security pipeline, run by `server::handler` before routing:
//! client IP → rate limit → authenticate → authorise against `access::ROUTES` → CSRF.
//! It returns either the caller (for the handlers) or the refusal, plus headers that every
//! response gets (rate-limit counters, refreshed cookies).

// The refusal *is* the HTTP response, built at most once per request; boxing it would
// only add an allocation on the refusal path.
#![allow(clippy::result_large_err)]

use super::access::{self, Access};
use super::lockout;
use super::sessions::SessionStore;
use super::{Auth, ClientIp, Method, Principal};
use base64::Engine;
use serde_json::json;
use std::net::SocketAddr;
use warp::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

pub const SESSION_COOKIE: &str = "pulse_session";
pub const CSRF_COOKIE: &str = "pulse_csrf";

pub struct Gate {
    /// The caller and its address, or the response that ends the request here.
    pub outcome: Result<(Principal, ClientIp), Response>,
    /// Added to whatever response goes out.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn unauthorized(msg: &str) -> Response {
    json_response(StatusCode::UNAUTHORIZED, json!({ "error": msg }))
}

/// Values of a cookie in the `Cookie` header(s); malformed pairs are skipped.
pub fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// Whether cookies should be `Secure`: the request came over TLS or through an HTTPS proxy.
pub fn is_secure(tls: bool, headers: &HeaderMap) -> bool {
    tls || headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
        || headers
            .get("forwarded")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"))
}

/// A `Set-Cookie` value. Values are hex/base64url we generated, so no escaping is needed.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: u64,
    http_only: bool,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age_s}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn has_forwarding_headers(h: &HeaderMap) -> bool {
    ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|n| h.contains_key(*n))
}

/// The raw token from `X-API-Token` or `Authorization: Bearer`.
pub fn presented_token(h: &HeaderMap) -> Option<Result<String, ()>> {
    if let Some(v) = h.get("x-api-token") {
        return Some(v.to_str().map(|s| s.trim().to_string()).map_err(|_| ()));
    }
    let auth = h.get(header::AUTHORIZATION)?;
    let Ok(s) = auth.to_str() else {
        return Some(Err(()));
    };
    let (scheme, rest) = s.trim().split_once(' ').unwrap_or((s.trim(), ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| Ok(rest.trim().to_string()))
}

const QUERY_TOKEN_KEYS: &[&str] = &[
    "token",
    "api_token",
    "apitoken",
    "access_token",
    "x-api-token",
];

fn query_has_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|kv| {
            let k = kv.split('=').next().unwrap_or("");
            QUERY_TOKEN_KEYS.iter().any(|t| k.eq_ignore_ascii_case(t))
        })
    })
}

pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub peer: SocketAddr,
    pub tls: bool,
}

pub async fn check(auth: &Auth, req: &Req<'_>) -> Gate {
    let mut out_headers = Vec::new();
    let ip = auth.client_ip(req.peer.ip(), req.headers);
    let client = ClientIp {
        ip,
        direct_loopback: super::canonical(req.peer.ip()).is_loopback()
            && !has_forwarding_headers(req.headers),
        tls: req.tls,
    };

    // 1. Rate limit (before any expensive work such as bcrypt).
    if let Some(cat) = super::ratelimit::categorize(req.method, req.path) {
        let d = auth.limiter.check(cat, ip);
        for (k, v) in [
            ("x-ratelimit-limit", d.limit.to_string()),
            ("x-ratelimit-remaining", d.remaining.to_string()),
            ("x-ratelimit-reset", d.reset_unix.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                out_headers.push((HeaderName::from_static(k), v));
            }
        }
        if !d.allowed {
            if let Ok(v) = HeaderValue::from_str(&d.retry_after.to_string()) {
                out_headers.push((header::RETRY_AFTER, v));
            }
            let resp = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "error": format!("Rate limit exceeded. Please retry after {} seconds.", d.retry_after),
                    "code": "rate_limit",
                }),
            );
            return Gate {
                outcome: Err(resp),
                headers: out_headers,
            };
        }
    }

    let route = access::lookup(req.method, req.path);
    let outcome = match authenticate(auth, req, &client, route.access).await {
        // A stale token must not break a health check: public routes treat a refused
        // credential as no credential.
        Err(_) if !route.access.is_protected() => Ok((Principal::anonymous(), client)),
        Err(resp) => Err(resp),
        Ok(p) => match authorize(auth, req, &client, route.access, &p) {
            Err(resp) => Err(resp),
            Ok(()) => match csrf(auth, req, &client, &p, &mut out_headers) {
                Err(resp) => Err(resp),
                Ok(()) => Ok((p, client)),
            },
        },
    };
    if let Ok((p, _)) = &outcome {
        if p.method == Method::Recovery {
            out_headers.push((
                HeaderName::from_static("x-auth-recovery"),
                HeaderValue::from_static("true"),
            ));
        }
        if let Method::Proxy { .. } = p.method {
            if let Ok(v) = HeaderValue::from_str(&p.user) {
                out_headers.push((HeaderName::from_static("x-authenticated-user"), v));
            }
            out_headers.push((
                HeaderName::from_static("x-auth-method"),
                HeaderValue::from_static("proxy"),
            ));
        }
    }
    Gate {
        outcome,
        headers: out_headers,
    }
}

/// Who is calling. A credential that is presented but wrong is refused outright rather
/// than ignored, so a typo in a script's token is a clear 401, not a confusing 403.
async fn authenticate(
    auth: &Auth,
    req: &Req<'_>,
    client: &ClientIp,
    access: Access,
) -> Result<Principal, Response> {
    if auth.recovery_mode() && client.direct_loopback {
        return Ok(Principal {
            user: "recovery".into(),
            method: Method::Recovery,
        });
    }
    if !auth.auth_configured() {
        return Ok(Principal {
            user: String::new(),
            method: Method::Open,
        });
    }
    if access.is_protected() && query_has_token(req.query) {
        return Err(unauthorized(
            "API tokens are not accepted in query parameters; send the X-API-Token or Authorization: Bearer header",
        ));
    }
    let h = req.headers;
    if let Some(proxy) = &auth.env.proxy_auth
        && let Some(secret) = h.get("x-proxy-secret")
    {
        if !crate::crypto::ct_eq(secret.as_bytes(), proxy.secret.0.as_bytes()) {
            return Err(unauthorized("Invalid proxy authentication"));
        }
        let user = match &proxy.user_header {
            Some(name) => match h.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                Some(u) if !u.trim().is_empty() => u.trim().to_string(),
                _ => {
                    return Err(unauthorized(
                        "Proxy authentication is missing the user header",
                    ));
                }
            },
            None => "proxy-user".to_string(),
        };
        let admin = match &proxy.role_header {
            None => true,
            Some(name) => match h.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                // No roles sent: the proxy decided access on its own; treated as admin.
                None => true,
                Some(r) if r.trim().is_empty() => true,
                Some(r) => r
                    .split(proxy.role_separator.as_str())
                    .any(|role| role.trim() == proxy.admin_role),
            },
        };
        return Ok(Principal {
            user,
            method: Method::Proxy { admin },
        });
    }
    match presented_token(h) {
        Some(Ok(raw)) => {
            return match auth.tokens.validate(&raw) {
                Some((rec, persist_due)) => {
                    if persist_due {
                        persist_last_used(auth, rec.clone());
                    }
                    Ok(Principal {
                        user: format!("token:{}", rec.name),
                        method: Method::Token {
                            id: rec.id,
                            scopes: rec.scopes,
                        },
                    })
                }
                None => Err(unauthorized("Invalid API token")),
            };
        }
        Some(Err(())) => return Err(unauthorized("Invalid API token")),
        None => {}
    }
    for c in cookies(h, SESSION_COOKIE) {
        if let Some((key, s)) = auth.sessions.get(c) {
            return Ok(Principal {
                user: s.user,
                method: Method::Session { key },
            });
        }
    }
    if let Some(v) = h.get(header::AUTHORIZATION) {
        let s = v.to_str().unwrap_or("");
        let (scheme, rest) = s.trim().split_once(' ').unwrap_or((s, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(unauthorized(
                "Unsupported Authorization scheme; use Bearer <token> or Basic",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some((user, pw)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(unauthorized("Malformed Basic credentials"));
        };
        let keys = [
            lockout::user_key(user),
            lockout::ip_key(&client.ip.to_string()),
        ];
        if auth.lockout.locked_until(&keys).is_some() {
            return Err(json_response(
                StatusCode::FORBIDDEN,
                json!({"error": "account_locked", "message": "Too many failed attempts. Try again later."}),
            ));
        }
        if auth.has_password() && auth.verify_password(user, pw).await {
            let _ = auth.lockout.clear(&keys);
            return Ok(Principal {
                user: user.to_string(),
                method: Method::Basic,
            });
        }
        let _ = auth.lockout.record_failure(&keys);
        auth.audit.record(
            "login",
            user,
            &client.ip.to_string(),
            req.path,
            false,
            "basic auth",
        );
        return Err(unauthorized("Invalid username or password"));
    }
    Ok(Principal::anonymous())
}

/// `lastUsedAt` is persisted at most once a minute per token, off the async workers.
fn persist_last_used(auth: &Auth, rec: super::tokens::TokenRecord) {
    let store = auth.store.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = super::tokens::persist_record(&store, &rec) {
            tracing::warn!(error = %e, "could not persist token lastUsedAt");
        }
    });
}

fn authorize(
    auth: &Auth,
    req: &Req<'_>,
    client: &ClientIp,
    access: Access,
    p: &Principal,
) -> Result<(), Response> {
    if !access.is_protected() {
        return Ok(());
    }
    if p.method == Method::Open {
        // Nothing configured: open, except that claiming the install (credentials,
        // tokens) needs the bootstrap token or a local connection.
        if let Access::Owner(_) = access {
            let setup = req
                .headers
                .get("x-setup-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !client.direct_loopback && !auth.bootstrap_valid(setup) {
                return Err(json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({
                        "error": "Authentication required",
                        "message": "Pulse is not secured yet: send the bootstrap token (see .bootstrap_token in the data directory) in the X-Setup-Token header, or complete quick setup",
                    }),
                ));
            }
        }
        return Ok(());
    }
    if !p.is_authenticated() {
        // API-only mode (tokens, no password): the dashboard stays readable without a
        // token (API.md); admin reads and every change still need one.
        if auth.api_only() && is_safe_method(req.method) && matches!(access, Access::User(_)) {
            return Ok(());
        }
        let mut resp = unauthorized("Authentication required");
        if auth.api_only() {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"API token required; supply via Authorization header or X-API-Token header\"",
                ),
            );
        }
        return Err(resp);
    }
    if matches!(access, Access::Admin(_) | Access::Owner(_)) && !p.is_admin() {
        return Err(json_response(
            StatusCode::FORBIDDEN,
            json!({"error": "Admin privileges required"}),
        ));
    }
    if let Some(scope) = access.scope()
        && !p.has_scope(scope)
    {
        return Err(json_response(
            StatusCode::FORBIDDEN,
            json!({
                "error": "missing_scope",
                "requiredScope": scope,
                "message": format!("This API token lacks the {scope} scope"),
            }),
        ));
    }
    Ok(())
}

/// CORS headers for a request whose `Origin` is in `allowed` (`None` otherwise).
/// Credentials (cookies) are never allowed cross-origin: browsers elsewhere use tokens.
pub fn cors_headers(allowed: &[String], h: &HeaderMap) -> Option<Vec<(HeaderName, HeaderValue)>> {
    let origin = h.get(header::ORIGIN)?.to_str().ok()?;
    let any = allowed.iter().any(|a| a == "*");
    if !any && !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return None;
    }
    let allow = if any { "*" } else { origin };
    Some(vec![
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_str(allow).ok()?,
        ),
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Content-Type, Authorization, X-API-Token, X-CSRF-Token, X-Setup-Token",
            ),
        ),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("X-CSRF-Token, X-Authenticated-User, X-Auth-Method"),
        ),
        (header::VARY, HeaderValue::from_static("Origin")),
    ])
}

/// True when there is no `Origin`, or its host[:port] equals `Host`.
fn same_origin(h: &HeaderMap) -> bool {
    let Some(origin) = h.get(header::ORIGIN) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

fn is_safe_method(m: &str) -> bool {
    matches!(m, "GET" | "HEAD" | "OPTIONS")
}

/// Session-authenticated state changes need `X-CSRF-Token` matching the session's token.
/// Token, Basic and proxy callers are exempt (a browser cannot be tricked into sending
/// those headers cross-site). A failed check mints a fresh token so the client can retry.
fn csrf(
    auth: &Auth,
    req: &Req<'_>,
    client: &ClientIp,
    p: &Principal,
    out: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<(), Response> {
    let Method::Session { key } = &p.method else {
        return Ok(());
    };
    let secure = is_secure(client.tls, req.headers);
    let issue = |out: &mut Vec<(HeaderName, HeaderValue)>| -> Option<String> {
        let fresh = auth.sessions.rotate_csrf(key).ok().flatten()?;
        let ttl_s = auth
            .sessions
            .get_by_key(key)
            .map(|s| s.expires_ms.saturating_sub(auth.clock.now_ms()) / 1000)
            .unwrap_or(0);
        out.push((
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &fresh, ttl_s, false, secure),
        ));
        if let Ok(v) = HeaderValue::from_str(&fresh) {
            out.push((HeaderName::from_static("x-csrf-token"), v));
        }
        Some(fresh)
    };
    if req.headers.contains_key(header::UPGRADE) && !same_origin(req.headers) {
        // Cross-site WebSocket hijacking: a page elsewhere opening our socket with the
        // user's cookie. Browsers always send Origin on WebSocket handshakes.
        auth.audit.record(
            "csrf_failure",
            &p.user,
            &client.ip.to_string(),
            req.path,
            false,
            "cross-origin websocket",
        );
        return Err(json_response(
            StatusCode::FORBIDDEN,
            json!({"error": "Cross-origin WebSocket refused"}),
        ));
    }
    if is_safe_method(req.method) {
        if req.path.starts_with("/api/") && cookies(req.headers, CSRF_COOKIE).next().is_none() {
            issue(out);
        }
        return Ok(());
    }
    let presented = req
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = auth
        .sessions
        .get_by_key(key)
        .is_some_and(|s| SessionStore::csrf_ok(&s, presented.trim()));
    if ok {
        return Ok(());
    }
    auth.audit.record(
        "csrf_failure",
        &p.user,
        &client.ip.to_string(),
        req.path,
        false,
        "",
    );
    let mut resp = json_response(
        StatusCode::FORBIDDEN,
        json!({
            "error": "CSRF token validation failed",
            "code": "csrf_invalid",
            "message": "Send the pulse_csrf cookie's value in the X-CSRF-Token header; a fresh token is in this response",
        }),
    );
    let mut extra = Vec::new();
    issue(&mut extra);
    for (k, v) in extra {
        resp.headers_mut().append(k, v);
    }
    Err(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn cors() {
        let allowed = vec!["https://dash.example".to_string()];
        let req = h(&[("origin", "https://dash.example")]);
        let got = cors_headers(&allowed, &req).unwrap();
        assert_eq!(got[0].1, "https://dash.example");
        assert!(cors_headers(&allowed, &h(&[("origin", "https://evil.example")])).is_none());
        assert!(cors_headers(&allowed, &h(&[])).is_none());
        assert!(cors_headers(&[], &req).is_none());
        assert_eq!(cors_headers(&["*".into()], &req).unwrap()[0].1, "*");
    }

    #[test]
    fn origin_check() {
        assert!(same_origin(&h(&[("host", "pulse:7655")])));
        assert!(same_origin(&h(&[
            ("host", "pulse:7655"),
            ("origin", "http://pulse:7655")
        ])));
        assert!(same_origin(&h(&[
            ("host", "pulse:7655"),
            ("origin", "https://PULSE:7655")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "pulse:7655"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "pulse:7655"),
            ("origin", "null")
        ])));
    }

    #[test]
    fn credential_parsing() {
        assert_eq!(
            presented_token(&h(&[("x-api-token", " abc ")])),
            Some(Ok("abc".into()))
        );
        assert_eq!(
            presented_token(&h(&[("authorization", "bearer xyz")])),
            Some(Ok("xyz".into()))
        );
        assert_eq!(presented_token(&h(&[("authorization", "Basic abc")])), None);
        assert!(query_has_token(Some("a=1&API_TOKEN=x")));
        assert!(!query_has_token(Some("auth_token=abc&type=pve")));
        let c = h(&[("cookie", "a=1; pulse_session=s1; pulse_session=\"s2\"")]);
        assert_eq!(
            cookies(&c, "pulse_session").collect::<Vec<_>>(),
            ["s1", "s2"]
        );
        assert!(is_secure(false, &h(&[("x-forwarded-proto", "HTTPS")])));
        assert!(is_secure(
            false,
            &h(&[("forwarded", "for=1.2.3.4;proto=https")])
        ));
        assert!(!is_secure(false, &h(&[])));
        let line = set_cookie("pulse_session", "v", 60, true, true);
        assert_eq!(
            line,
            "pulse_session=v; Path=/; Max-Age=60; SameSite=Lax; HttpOnly; Secure"
        );
    }
}
