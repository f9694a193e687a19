//! The HTTP(S) listener: an accept loop over hyper (optionally through rustls), the outer
//! middleware every response passes (request id, security headers, path safety, body-size
//! pre-check, one log line), and graceful shutdown. The simulator reuses `run`.

use crate::api::AppState;
use crate::api::error::ApiError;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower_service::Service;
use warp::http::{HeaderMap, HeaderValue, Request, header};
use warp::reply::{Reply, Response};

/// How long in-flight requests get to finish after SIGTERM before connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The peer address, for handlers (`warp::ext::get::<ClientAddr>()`).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// The request id, for handlers that log.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Loads a PEM certificate chain and private key into a rustls server config (ring provider,
/// HTTP/1.1 via ALPN so WebSocket upgrades work for every browser).
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let file_err = |p: &Path, e: &dyn std::fmt::Display| TlsError::File {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(cert, &e))?;
    if certs.is_empty() {
        return Err(file_err(cert, &"no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, &e))?;
    server_config(certs, key)
}

pub fn server_config(
    certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Config(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Serves `handler` on `listener` (through TLS when `tls` is given) until `shutdown`
/// resolves, then lets in-flight requests finish (bounded by `SHUTDOWN_GRACE`).
pub async fn run<H, Fut>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: H,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Infallible>> + Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let handler = handler.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handler(req, peer));
            let mut conn = ConnBuilder::new(TokioExecutor::new());
            conn.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let result = match acceptor {
                None => {
                    let c = conn.serve_connection_with_upgrades(TokioIo::new(tcp), svc);
                    watcher.watch(c.into_owned()).await
                }
                Some(acc) => {
                    let stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acc.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let c = conn.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    watcher.watch(c.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

fn status_is_error(s: warp::http::StatusCode) -> bool {
    s.is_client_error() || s.is_server_error()
}

/// A sane incoming request id is echoed; anything else is replaced, so ids are safe to log.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Refuses traversal and smuggling in the raw path: `..`/`.` segments (plain or
/// percent-encoded), encoded slashes or backslashes, NUL, invalid UTF-8, empty segments.
pub fn path_is_safe(raw: &str) -> bool {
    if !raw.starts_with('/') || raw.contains('\\') {
        return false;
    }
    let lower = raw.to_ascii_lowercase();
    // Alert ids contain `/` and clients URL-encode them (`%2F`); the decoded path is still
    // checked for traversal segments below.
    let encoded_slash_ok = lower.starts_with("/api/alerts/");
    if (lower.contains("%2f") && !encoded_slash_ok)
        || lower.contains("%5c")
        || lower.contains("%00")
    {
        return false;
    }
    let Ok(decoded) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
        return false;
    };
    if decoded.contains('\0') || decoded.contains('\\') {
        return false;
    }
    let segments: Vec<&str> = decoded[1..].split('/').collect();
    let last = segments.len() - 1;
    segments
        .iter()
        .enumerate()
        .all(|(i, s)| *s != ".." && *s != "." && (!s.is_empty() || i == last))
}

/// The security headers of spec/security.md §8, with embedding as the settings allow.
fn security_headers(h: &mut HeaderMap, allow_embedding: bool, origins: &[String]) {
    let frame_ancestors = if !allow_embedding {
        "'none'".to_string()
    } else if origins.is_empty() {
        "*".to_string()
    } else {
        format!("'self' {}", origins.join(" "))
    };
    let csp = format!(
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; frame-ancestors {frame_ancestors}"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if !allow_embedding {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "x-xss-protection",
        HeaderValue::from_static("1; mode=block"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(), microphone=(), camera=()"),
    );
}

/// A boxed response future, as `run` handlers return.
pub type ResponseFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Builds the request handler for `run`: outer middleware around the warp routes.
pub fn handler(
    state: AppState,
) -> impl Fn(Request<Incoming>, SocketAddr) -> ResponseFuture + Clone + Send + Sync + 'static {
    let svc = warp::service(crate::api::routes(state.clone()));
    move |mut req: Request<Incoming>, peer: SocketAddr| {
        let mut svc = svc.clone();
        let state = state.clone();
        Box::pin(async move {
            let start = Instant::now();
            let rid = request_id(req.headers());
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let settings = state.settings();
            let declared_len = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let is_ws = req.headers().contains_key(header::UPGRADE);
            let has_body = declared_len.is_some_and(|l| l > 0)
                || req.headers().contains_key(header::TRANSFER_ENCODING);

            let mut gate_headers = Vec::new();
            // The live list (env or persisted setting), so a settings write applies at once.
            let cors = crate::auth::gate::cors_headers(&settings.allowed_origins, req.headers());
            let mut resp = if !path_is_safe(&path) {
                ApiError::bad_request("Invalid path").into_response()
            } else if cors.is_some() && method == warp::http::Method::OPTIONS {
                // A CORS preflight from an allowed origin: answered before auth, as
                // browsers send it without credentials.
                warp::reply::with_status(warp::reply(), warp::http::StatusCode::NO_CONTENT)
                    .into_response()
            } else if declared_len.is_some_and(|l| l > settings.max_body_bytes as u64) {
                ApiError::payload_too_large(settings.max_body_bytes).into_response()
            } else {
                // The security gate: rate limit, authenticate, authorise against the route
                // table, CSRF. Nothing reaches a route handler without passing it.
                let query = req.uri().query().map(str::to_string);
                let gate = crate::auth::gate::check(
                    state.auth(),
                    &crate::auth::gate::Req {
                        method: method.as_str(),
                        path: &path,
                        query: query.as_deref(),
                        headers: req.headers(),
                        peer,
                        tls: settings.tls.is_some(),
                    },
                )
                .await;
                gate_headers = gate.headers;
                match gate.outcome {
                    Err(refusal) => refusal,
                    Ok((principal, client)) => {
                        req.extensions_mut().insert(ClientAddr(peer));
                        req.extensions_mut().insert(RequestId(rid.clone()));
                        req.extensions_mut().insert(principal);
                        req.extensions_mut().insert(client);
                        if crate::api::ws::is_ws_path(&path) {
                            crate::api::ws::upgrade(req, state.clone())
                        } else {
                            match svc.call(req).await {
                                Ok(r) => r,
                                Err(never) => match never {},
                            }
                        }
                    }
                }
            };

            let h = resp.headers_mut();
            for (k, v) in gate_headers.into_iter().chain(cors.into_iter().flatten()) {
                h.append(k, v);
            }
            // A refused request's body may be unread; hyper then drops the connection, so
            // say so rather than let a client reuse it and fail its next request.
            if (status_is_error(resp.status())) && has_body {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&rid) {
                h.insert("x-request-id", v);
            }
            if !is_ws {
                security_headers(h, settings.allow_embedding, &settings.allowed_embed_origins);
            }
            let status = resp.status();
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            // The path only: query strings may carry secrets.
            if status.is_server_error() {
                tracing::warn!(request_id = %rid, %method, path = %path, status = status.as_u16(), duration_ms = ms, "request");
            } else {
                tracing::info!(request_id = %rid, %method, path = %path, status = status.as_u16(), duration_ms = ms, "request");
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_safety() {
        for ok in [
            "/",
            "/api/health",
            "/assets/a-b.js",
            "/nodes/pve1/",
            "/a%20b",
            "/api/alerts/docker%3Ah1%2Fc1-cpu/acknowledge",
        ] {
            assert!(path_is_safe(ok), "{ok}");
        }
        for bad in [
            "/../etc/passwd",
            "/assets/../../x",
            "/%2e%2e/x",
            "/%2E%2e/x",
            "/a/./b",
            "/a%2fb",
            "/api/alerts/%2e%2e%2fx/clear",
            "/api/alerts/a%2F..%2Fb/clear",
            "/a%5cb",
            "/a\\b",
            "/a%00b",
            "/a//b",
            "/%ff",
            "relative",
        ] {
            assert!(!path_is_safe(bad), "{bad}");
        }
    }

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123_x.y:z"));
        assert_eq!(request_id(&h), "abc-123_x.y:z");
        h.insert("x-request-id", HeaderValue::from_static("bad id\"<script>"));
        let generated = request_id(&h);
        assert_eq!(generated.len(), 36);
        h.remove("x-request-id");
        assert_ne!(request_id(&h), generated);
    }

    #[test]
    fn csp_follows_embedding() {
        let mut h = HeaderMap::new();
        security_headers(&mut h, false, &[]);
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .ends_with("frame-ancestors 'none'")
        );
        assert_eq!(h["x-frame-options"], "DENY");
        let mut h = HeaderMap::new();
        security_headers(&mut h, true, &["https://dash.example".into()]);
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .ends_with("frame-ancestors 'self' https://dash.example")
        );
        assert!(!h.contains_key("x-frame-options"));
    }
}
