//! Listeners and the per-request pipeline of a simulated instance. The simulator has its own
//! accept loop instead of `server::run` because its faults live below HTTP: a downed instance
//! must refuse connections, a reset must abort the TCP connection (RST), and the certificate
//! must be swappable per handshake.

use super::api::{ApiError, Principal, Req, parse_query};
use super::auth::{Product, claimed_credential};
use super::dynamics::Ctx;
use super::faults::Decision;
use super::{SimState, pbs::PbsView, pmg::PmgView, pve::PveView};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper drop the connection without answering.
#[derive(Debug)]
pub struct Abort;
impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated connection reset")
    }
}
impl std::error::Error for Abort {}

const MAX_BODY: usize = 64 * 1024;

pub fn respond(status: u16, reason: Option<&str>, body: Bytes, content_type: &str) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(reason) = reason
        && let Ok(rp) =
            hyper::ext::ReasonPhrase::try_from(reason.replace(['\r', '\n'], " ").into_bytes())
    {
        r.extensions_mut().insert(rp);
    }
    let h = r.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("max-age=0"),
    );
    h.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    r
}

fn json_resp(status: u16, reason: Option<&str>, v: &Value) -> Resp {
    respond(
        status,
        reason,
        Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        "application/json;charset=UTF-8",
    )
}

fn api_error(e: &ApiError) -> Resp {
    json_resp(e.status, Some(&e.reason), &e.body())
}

async fn wait_shutdown(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

pub async fn serve_instance(
    state: Arc<SimState>,
    idx: usize,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let addr = state.instances[idx].addr;
    let mut down_rx = state.instances[idx].down.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut listener = Some(listener);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let down = *down_rx.borrow_and_update();
        if down {
            // a downed instance refuses connections: close the socket until it comes back
            listener = None;
        } else if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "rebinding after down fault failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(l) = &listener else {
            tokio::select! {
                _ = down_rx.changed() => continue,
                _ = shutdown.changed() => continue,
            }
        };
        let (tcp, _peer) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = down_rx.changed() => continue,
            _ = shutdown.changed() => continue,
        };
        let _ = tcp.set_nodelay(true);
        // with resets armed, closing an aborted connection sends RST instead of FIN
        if state.faults_of(&state.instances[idx]).reset_rate > 0.0 {
            let _ = tcp.set_zero_linger();
        }
        let st = state.clone();
        let acceptor = acceptor.clone();
        let shut = state.shutdown.clone();
        tokio::spawn(async move {
            let svc_state = st.clone();
            let svc = hyper::service::service_fn(move |req| handle(svc_state.clone(), idx, req));
            let mut conn = ConnBuilder::new(TokioExecutor::new());
            conn.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(15));
            let fut = async {
                match acceptor {
                    None => {
                        let _ = conn.serve_connection(TokioIo::new(tcp), svc).await;
                    }
                    Some(acc) => {
                        if let Ok(Ok(s)) =
                            tokio::time::timeout(Duration::from_secs(10), acc.accept(tcp)).await
                        {
                            let _ = conn.serve_connection(TokioIo::new(s), svc).await;
                        }
                    }
                }
            };
            tokio::select! {
                _ = fut => {},
                _ = wait_shutdown(shut) => {},
            }
        });
    }
}

/// How much of an oversized body is read and dropped before the 413. Answering while the
/// client is still sending closes the connection under it: the client then sees a broken
/// pipe instead of the 413 (a flaky `sim_behaviour` test). Bodies declared larger than this
/// are refused without reading.
const DRAIN_MAX: u64 = 4 * 1024 * 1024;

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::new(413, "request body too large");
    let mut body = req.into_body();
    if hyper::body::Body::size_hint(&body).lower() > DRAIN_MAX {
        return Err(too_large());
    }
    let mut kept = Vec::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| too_large())?.into_data() else {
            continue; // trailers
        };
        seen += data.len() as u64;
        if seen <= MAX_BODY as u64 {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN_MAX {
            break;
        }
    }
    if seen > MAX_BODY as u64 {
        return Err(too_large());
    }
    Ok(Bytes::from(kept))
}

async fn handle(state: Arc<SimState>, idx: usize, req: Request<Incoming>) -> Result<Resp, Abort> {
    let inst = &state.instances[idx];
    let n = inst.requests.fetch_add(1, Ordering::Relaxed);
    let faults = state.faults_of(inst);
    let path = req.uri().path().to_string();
    let hdr = |k: header::HeaderName| {
        req.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = hdr(header::AUTHORIZATION);
    let cookie = hdr(header::COOKIE);
    let api_path = path.strip_prefix("/api2/json").map(str::to_string);
    let cred = claimed_credential(inst.product, authorization.as_deref(), cookie.as_deref());
    state
        .accounting
        .record(&inst.name, api_path.as_deref().unwrap_or(&path), &cred);

    if faults.down {
        // a downed instance also drops connections that were open before it went down
        return Err(Abort);
    }
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let decision = faults.decide(state.seed, &inst.name, n);
    match decision {
        Decision::Reset => return Err(Abort),
        Decision::Hang => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {},
                _ = wait_shutdown(state.shutdown.clone()) => {},
            }
            return Err(Abort);
        }
        Decision::Error(503) => {
            return Ok(json_resp(
                503,
                Some("Service Unavailable"),
                &json!({"data": null}),
            ));
        }
        Decision::Error(s) => {
            return Ok(json_resp(
                s,
                Some("Internal Server Error"),
                &json!({"data": null}),
            ));
        }
        _ => {}
    }
    let Some(api_path) = api_path.filter(|p| p.is_empty() || p.starts_with('/')) else {
        return Ok(respond(
            404,
            None,
            Bytes::from_static(b"Not Found"),
            "text/plain",
        ));
    };
    let method = req.method().as_str().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let now_ms = state.clock.now_ms();
    let now = now_ms.div_euclid(1000);

    let resp = if api_path == "/access/ticket" {
        match method.as_str() {
            "POST" => {
                let ct = hdr(header::CONTENT_TYPE).unwrap_or_default();
                let body = match read_body(req).await {
                    Ok(b) => b,
                    Err(e) => return Ok(api_error(&e)),
                };
                Ok(login(&state, idx, &ct, &body, now, &faults))
            }
            _ => Ok(json_resp(200, None, &json!({"data": null}))),
        }
    } else {
        match inst.creds.authenticate(
            authorization.as_deref(),
            cookie.as_deref(),
            now,
            faults.ticket_generation,
            faults.tickets_not_before,
        ) {
            Err(e) => Ok(api_error(&e)),
            Ok(principal) => Ok(route(
                &state, idx, &method, &api_path, query, now_ms, &principal, &faults,
            )),
        }
    };
    match (decision, resp) {
        (Decision::InvalidJson, Ok(r)) => {
            let (parts, body) = r.into_parts();
            let full = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let cut = full.slice(0..full.len() / 2);
            let mut r = respond(200, None, cut, "application/json;charset=UTF-8");
            *r.headers_mut() = parts.headers;
            r.headers_mut().remove(header::CONTENT_LENGTH);
            Ok(r)
        }
        (_, r) => r,
    }
}

fn login(
    state: &SimState,
    idx: usize,
    content_type: &str,
    body: &[u8],
    now: i64,
    faults: &super::faults::FaultSet,
) -> Resp {
    let inst = &state.instances[idx];
    let (user, pass) = if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => (
                v["username"].as_str().map(str::to_string),
                v["password"].as_str().map(str::to_string),
            ),
            Err(_) => return api_error(&ApiError::new(400, "malformed JSON body")),
        }
    } else {
        let q = parse_query(&String::from_utf8_lossy(body));
        (q.get("username").cloned(), q.get("password").cloned())
    };
    let (Some(user), Some(pass)) = (user, pass) else {
        return api_error(&ApiError::param(
            "username",
            "property is missing and it is not optional",
        ));
    };
    if !inst.creds.login(&user, &pass) {
        return api_error(&ApiError::new(401, "authentication failure"));
    }
    let full = if user.contains('@') {
        user
    } else {
        format!("{user}@pam")
    };
    // real servers return the ticket in the body only; clients set the cookie themselves
    json_resp(
        200,
        None,
        &json!({"data": inst.creds.ticket_response(&full, now, faults.ticket_generation)}),
    )
}

#[allow(clippy::too_many_arguments)]
fn route(
    state: &SimState,
    idx: usize,
    method: &str,
    api_path: &str,
    query: std::collections::HashMap<String, String>,
    now_ms: i64,
    principal: &Principal,
    faults: &super::faults::FaultSet,
) -> Resp {
    let inst = &state.instances[idx];
    let segs: Vec<String> = api_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let req = Req {
        method,
        segs,
        query,
        now_ms,
        principal,
    };
    let Ok(fleet) = state.fleet.read() else {
        return api_error(&ApiError::new(500, "simulator state poisoned"));
    };
    let fp = inst
        .cert
        .as_ref()
        .map(|c| c.fingerprint())
        .unwrap_or_default();
    let ctx = Ctx::new(fleet.seed, fleet.genesis, &inst.name);
    let result = match inst.product {
        Product::Pve => PveView {
            c: &fleet.pve[inst.index],
            ctx,
            faults,
            pbs: &fleet.pbs,
            fingerprint: &fp,
            ip: &state.ip,
        }
        .route(&req),
        Product::Pbs => PbsView {
            s: &fleet.pbs[inst.index],
            ctx,
            faults,
            fingerprint: &fp,
        }
        .route(&req),
        Product::Pmg => PmgView {
            s: &fleet.pmg[inst.index],
            ctx,
            fingerprint: &fp,
            ip: &state.ip,
        }
        .route(&req),
    };
    drop(fleet);
    match result {
        Ok(mut v) => {
            if let Some(s) = v.get(super::api::RAW).and_then(Value::as_str) {
                let mut buf = Vec::with_capacity(s.len() + 10);
                buf.extend_from_slice(b"{\"data\":");
                buf.extend_from_slice(s.as_bytes());
                buf.push(b'}');
                return respond(
                    200,
                    None,
                    Bytes::from(buf),
                    "application/json;charset=UTF-8",
                );
            }
            if let Some(env) = v.get_mut(super::api::ENVELOPE).map(Value::take) {
                return json_resp(200, None, &env);
            }
            let mut buf = Vec::with_capacity(4096);
            buf.extend_from_slice(b"{\"data\":");
            if serde_json::to_writer(&mut buf, &v).is_err() {
                return api_error(&ApiError::new(500, "serialisation failed"));
            }
            buf.push(b'}');
            respond(
                200,
                None,
                Bytes::from(buf),
                "application/json;charset=UTF-8",
            )
        }
        Err(e) => api_error(&e),
    }
}

pub async fn serve_admin(state: Arc<SimState>, listener: TcpListener) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let st = state.clone();
        let shut = state.shutdown.clone();
        tokio::spawn(async move {
            let svc_state = st.clone();
            let svc = hyper::service::service_fn(move |req| {
                let s = svc_state.clone();
                async move { Ok::<_, std::convert::Infallible>(super::admin::handle(&s, req).await) }
            });
            let mut conn = ConnBuilder::new(TokioExecutor::new());
            conn.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(15));
            tokio::select! {
                _ = conn.serve_connection(TokioIo::new(tcp), svc) => {},
                _ = wait_shutdown(shut) => {},
            }
        });
    }
}
