//! `ApiClient`: the authenticated JSON client shared by the PVE, PBS and PMG wrappers.
//!
//! Adds authentication to `Http` (token header, or ticket cookie + CSRF token with renewal
//! before expiry and one re-login on a 401), maps HTTP statuses to classified errors, and
//! unwraps the `{"data": ...}` envelope into typed values.

use super::Product;
use super::auth::{self, Clock, Credentials, SystemClock, Ticket, TicketResponse};
use super::error::{ErrorKind, ProxmoxError};
use super::http::{Body, Http, HttpOptions, Method, RawResponse, Request};
use super::list;
use super::tls::TlsMode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Headers = Vec<(&'static str, String)>;

/// Everything needed to talk to one Proxmox endpoint.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub product: Product,
    /// As the user typed it (`pve1`, `https://10.0.0.5:8006`, ...).
    pub host: String,
    pub credentials: Credentials,
    pub tls: TlsMode,
    /// Whole-request timeout (`CONNECTION_TIMEOUT`).
    pub timeout: Duration,
    /// TCP connect + TLS handshake timeout.
    pub connect_timeout: Duration,
}

impl ClientOptions {
    pub fn new(product: Product, host: &str, credentials: Credentials, tls: TlsMode) -> Self {
        ClientOptions {
            product,
            host: host.to_owned(),
            credentials,
            tls,
            timeout: super::http::DEFAULT_TIMEOUT,
            connect_timeout: super::http::DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Authenticated, blocking client for one endpoint. Share it between poller threads by
/// reference or `Arc`; the ticket is behind a mutex and renewed by whichever thread needs it.
#[derive(Debug)]
pub struct ApiClient {
    http: Http,
    product: Product,
    credentials: Credentials,
    session: Mutex<Option<Ticket>>,
    clock: Arc<dyn Clock>,
    /// Set when the endpoint stopped answering: later requests fail at once with this error
    /// instead of each waiting out its own timeout (see [`ApiClient::start_cycle`]).
    unreachable: Mutex<Option<ProxmoxError>>,
}

/// Per-call knobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    /// Shorter (or longer) whole-request timeout for this call.
    pub timeout: Option<Duration>,
}

/// A call's own timeout (`None`: the client's), the only knob most calls set.
impl From<Option<Duration>> for CallOptions {
    fn from(timeout: Option<Duration>) -> Self {
        CallOptions { timeout }
    }
}

impl ApiClient {
    /// Builds the client; does not touch the network (see [`ApiClient::login`]).
    pub fn new(opts: ClientOptions) -> Result<Self, ProxmoxError> {
        let http = Http::new(&HttpOptions {
            product: opts.product,
            host: opts.host,
            tls: opts.tls,
            timeout: opts.timeout,
            connect_timeout: opts.connect_timeout,
        })?;
        Ok(ApiClient {
            http,
            product: opts.product,
            credentials: opts.credentials,
            session: Mutex::new(None),
            clock: Arc::new(SystemClock),
            unreachable: Mutex::new(None),
        })
    }

    /// `self` if it was built for `product`: a typed client (`PveClient`, …) refuses
    /// another product's, whose paths and token header differ.
    pub fn expect_product(self, product: Product) -> Result<Self, ProxmoxError> {
        if self.product == product {
            return Ok(self);
        }
        let up = |p: Product| p.as_str().to_ascii_uppercase();
        Err(ProxmoxError::Config(format!(
            "a {} client needs a {} ApiClient, not a {} one",
            up(product),
            up(product),
            up(self.product)
        )))
    }

    /// Builds the client for `product` and logs in (password credentials), so bad settings
    /// fail here, with a classified error, rather than on the first poll. The typed clients'
    /// `connect`.
    pub fn connect(opts: ClientOptions, product: Product) -> Result<Self, ProxmoxError> {
        let api = Self::new(opts)?.expect_product(product)?;
        api.login()?;
        Ok(api)
    }

    /// Replaces the clock used for ticket expiry (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn product(&self) -> Product {
        self.product
    }

    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    pub fn host(&self) -> &str {
        self.http.host()
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Logs in now (password credentials; a no-op for tokens). Call once when creating the
    /// client so bad credentials surface immediately; later requests renew on their own.
    pub fn login(&self) -> Result<(), ProxmoxError> {
        if let Credentials::Password { user, password } = &self.credentials {
            let ticket = self.fetch_ticket(user, password)?;
            if let Ok(mut s) = self.session.lock() {
                *s = Some(ticket);
            }
        }
        Ok(())
    }

    /// Forgets that the endpoint stopped answering: a poll cycle calls this first, so each
    /// cycle asks again.
    pub fn start_cycle(&self) {
        if let Ok(mut u) = self.unreachable.lock() {
            *u = None;
        }
    }

    /// The transport error that made this cycle give up on the endpoint, if one did. A cycle
    /// that tolerated the failed calls one by one (each is optional on its own) must still
    /// be reported failed: what it holds is stale.
    pub fn stopped_answering(&self) -> Option<ProxmoxError> {
        self.unreachable.lock().ok().and_then(|u| u.clone())
    }

    /// After a request failed in transport, decides whether the endpoint as a whole is gone:
    /// refused or unreachable is; a timeout is when a cheap `GET /version` (answered by the
    /// API daemon itself, never forwarded to another node) does not answer either. A timeout
    /// on a call with its own, shorter timeout (storage, guest agent: known to hang on their
    /// own) says nothing about the endpoint. Without this, a server that stops answering in
    /// the middle of a cycle costs one full timeout per remaining request before the cycle
    /// fails and the instance is shown down.
    fn note_transport_failure(&self, e: &ProxmoxError, opts: CallOptions) {
        let gone = match e {
            ProxmoxError::Refused { .. } | ProxmoxError::Unreachable { .. } => true,
            ProxmoxError::Timeout { .. } if opts.timeout.is_none() => {
                let probe = self.http.send(&Request::get("/version"));
                probe.is_err_and(|p| {
                    matches!(
                        p.kind(),
                        ErrorKind::Timeout | ErrorKind::Refused | ErrorKind::Unreachable
                    )
                })
            }
            _ => false,
        };
        tracing::debug!(host = %self.http.host(), error = %e, endpoint_gone = gone,
            "request failed in transport");
        if gone && let Ok(mut u) = self.unreachable.lock() {
            *u = Some(e.clone());
        }
    }

    /// The current ticket, if logged in with a password (diagnostics, tests).
    pub fn ticket(&self) -> Option<Ticket> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    /// `POST /access/ticket`, JSON first, then once form-encoded on 400/415 (older servers).
    fn fetch_ticket(&self, user: &str, password: &str) -> Result<Ticket, ProxmoxError> {
        let path = "/access/ticket";
        let json = serde_json::json!({ "username": user, "password": password }).to_string();
        let mut req = Request {
            method: Method::Post,
            path,
            query: &[],
            headers: Vec::new(),
            body: Some(Body::Json(json)),
            timeout: None,
        };
        let mut resp = self.http.send(&req)?;
        if resp.status == 400 || resp.status == 415 {
            req.body = Some(Body::Form(auth::form_encode(&[
                ("username", user),
                ("password", password),
            ])));
            resp = self.http.send(&req)?;
        }
        if resp.status == 401 || resp.status == 403 {
            return Err(ProxmoxError::Auth {
                status: Some(resp.status),
                path: path.into(),
                message: format!(
                    "login failed for {user} on {} (HTTP {}): check the user name, realm \
                     (e.g. @pam, @pve, @pbs) and password",
                    self.http.host(),
                    resp.status
                ),
            });
        }
        if !(200..300).contains(&resp.status) {
            return Err(self.status_error(path, &resp));
        }
        let data: TicketResponse = self.decode(path, &resp)?;
        if data.need_tfa {
            return Err(ProxmoxError::Auth {
                status: Some(resp.status),
                path: path.into(),
                message: format!(
                    "{user} has two-factor authentication enabled, which Pulse cannot complete: \
                     use an API token instead"
                ),
            });
        }
        if data.ticket.is_empty() || data.csrf_prevention_token.is_empty() {
            return Err(self.bad_body(path, "login answer has no ticket or CSRFPreventionToken"));
        }
        // They go into a Cookie and a header verbatim: refuse anything that could break either.
        let header_safe = |s: &str| s.bytes().all(|b| b.is_ascii_graphic() && b != b';');
        if !header_safe(&data.ticket) || !header_safe(&data.csrf_prevention_token) {
            return Err(self.bad_body(
                path,
                "login ticket contains characters not allowed in a cookie",
            ));
        }
        Ok(Ticket {
            ticket: data.ticket,
            csrf_token: data.csrf_prevention_token,
            username: data.username,
            obtained_at: self.clock.now(),
        })
    }

    /// A valid ticket, logging in (or renewing ahead of expiry) when needed. The lock is held
    /// during login so concurrent callers wait for one login instead of each doing their own.
    fn current_ticket(&self, user: &str, password: &str) -> Result<Ticket, ProxmoxError> {
        let mut guard = self
            .session
            .lock()
            .map_err(|_| ProxmoxError::Config("session lock poisoned".into()))?;
        let now = self.clock.now();
        if let Some(t) = guard.as_ref()
            && !t.needs_renewal(self.product, now)
        {
            return Ok(t.clone());
        }
        let fresh = self.fetch_ticket(user, password)?;
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the ticket after a 401, unless another thread already replaced it.
    fn forget_ticket(&self, used: &str) {
        if let Ok(mut s) = self.session.lock()
            && s.as_ref().is_some_and(|t| t.ticket == used)
        {
            *s = None;
        }
    }

    /// The auth headers for one request, and the ticket they carry (ticket auth only).
    fn auth_headers(&self, method: Method) -> Result<(Headers, Option<String>), ProxmoxError> {
        match &self.credentials {
            Credentials::Token { id, secret } => Ok((
                vec![(
                    "Authorization",
                    auth::token_header(self.product, id, secret),
                )],
                None,
            )),
            Credentials::Password { user, password } => {
                let t = self.current_ticket(user, password)?;
                let mut h = vec![(
                    "Cookie",
                    format!("{}={}", self.product.cookie_name(), t.ticket),
                )];
                if method != Method::Get {
                    h.push(("CSRFPreventionToken", t.csrf_token));
                }
                Ok((h, Some(t.ticket)))
            }
        }
    }

    /// Sends an authenticated request and returns the 2xx response; errors are classified.
    /// With a ticket, a 401 triggers one fresh login and one retry (the server may have been
    /// restarted or its auth key rotated).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
        opts: CallOptions,
    ) -> Result<RawResponse, ProxmoxError> {
        if let Some(e) = self.stopped_answering() {
            return Err(e);
        }
        let mut retried = false;
        loop {
            let (headers, ticket) = self.auth_headers(method)?;
            let req = Request {
                method,
                path,
                query,
                headers,
                body: form.map(|f| Body::Form(auth::form_encode(f))),
                timeout: opts.timeout,
            };
            let resp = self
                .http
                .send(&req)
                .inspect_err(|e| self.note_transport_failure(e, opts))?;
            if let (401, Some(used), false) = (resp.status, &ticket, retried) {
                retried = true;
                self.forget_ticket(used);
                continue;
            }
            if (200..300).contains(&resp.status) {
                return Ok(resp);
            }
            return Err(self.status_error(path, &resp));
        }
    }

    /// `GET path` → the envelope's `data` as `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ProxmoxError> {
        self.get_with(path, query, CallOptions::default())
    }

    /// As `get`, with per-call options (or just a timeout: `Some(d)`, `None`).
    pub fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        opts: impl Into<CallOptions>,
    ) -> Result<T, ProxmoxError> {
        let resp = self.request(Method::Get, path, query, None, opts.into())?;
        self.decode(path, &resp)
    }

    /// `GET path` for list endpoints: `"data": null` is an empty list.
    pub fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        opts: impl Into<CallOptions>,
    ) -> Result<Vec<T>, ProxmoxError> {
        let resp = self.request(Method::Get, path, query, None, opts.into())?;
        let body = self.json_body(path, &resp)?;
        // Sized from the body up front: a 1,000-guest `/cluster/resources` grown by doubling
        // copied its items ten times over (a tenth of a poll's CPU with the page faults).
        let seed = list::Envelope::<T>::with_capacity(body.len() / list::MIN_ITEM_BYTES);
        let mut de = serde_json::Deserializer::from_slice(body);
        let data = serde::de::DeserializeSeed::deserialize(seed, &mut de)
            .and_then(|d| de.end().map(|()| d))
            .map_err(|e| self.shape_error(path, &e))?;
        Ok(data.unwrap_or_default())
    }

    /// `POST path` with a form body (sends the CSRF token with ticket auth).
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, ProxmoxError> {
        let resp = self.request(Method::Post, path, &[], Some(form), CallOptions::default())?;
        self.decode(path, &resp)
    }

    /// Decodes `{"data": T}`; errors name the path and say what was wrong.
    pub fn decode<T: DeserializeOwned>(
        &self,
        path: &str,
        resp: &RawResponse,
    ) -> Result<T, ProxmoxError> {
        #[derive(Deserialize)]
        #[serde(bound = "T: Deserialize<'de>")]
        struct Envelope<T> {
            // `deserialize_with` makes `data` required even when `T` is an `Option`, so a body
            // without the envelope is a shape error instead of silently "no data".
            #[serde(deserialize_with = "required")]
            data: T,
        }
        fn required<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
            d: D,
        ) -> Result<T, D::Error> {
            T::deserialize(d)
        }
        let body = self.json_body(path, resp)?;
        serde_json::from_slice::<Envelope<T>>(body)
            .map(|e| e.data)
            .map_err(|e| self.shape_error(path, &e))
    }

    /// The body without a BOM, or a clear error when it cannot be JSON at all.
    fn json_body<'b>(&self, path: &str, resp: &'b RawResponse) -> Result<&'b [u8], ProxmoxError> {
        let body = trim_bom(&resp.body);
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(self.bad_body(path, "empty body, expected JSON"));
        }
        if looks_like_html(body) {
            return Err(self.bad_body(
                path,
                &format!(
                    "got an HTML page instead of JSON: is this the Proxmox API address \
                     (https, port {})?",
                    self.product.default_port()
                ),
            ));
        }
        Ok(body)
    }

    fn shape_error(&self, path: &str, e: &serde_json::Error) -> ProxmoxError {
        let why = if e.is_syntax() || e.is_eof() {
            format!("invalid JSON ({e})")
        } else {
            format!("unexpected JSON shape ({e})")
        };
        self.bad_body(path, &why)
    }

    fn bad_body(&self, path: &str, detail: &str) -> ProxmoxError {
        ProxmoxError::BadBody {
            host: self.http.host().to_owned(),
            path: path.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// Maps a non-2xx answer to an error with advice.
    fn status_error(&self, path: &str, resp: &RawResponse) -> ProxmoxError {
        let host = self.http.host().to_owned();
        // Proxmox's own error text is in the reason phrase; the body adds parameter errors.
        let excerpt = match (&resp.reason, body_excerpt(&resp.body)) {
            (Some(r), b) if b.is_empty() => r.clone(),
            (Some(r), b) => format!("{r}; {b}"),
            (None, b) => b,
        };
        let with_excerpt = |s: String| {
            if excerpt.is_empty() {
                s
            } else {
                format!("{s} (server said: {excerpt})")
            }
        };
        match resp.status {
            401 => {
                let message = match &self.credentials {
                    Credentials::Token { id, .. } => format!(
                        "authentication failed (HTTP 401) on {host}: the API token {id} was \
                         rejected; check the token id and secret and that the token still \
                         exists and has not expired"
                    ),
                    Credentials::Password { user, .. } => format!(
                        "authentication failed (HTTP 401) on {host} for {user}: check the user \
                         name, realm and password"
                    ),
                };
                ProxmoxError::Auth {
                    status: Some(401),
                    path: path.into(),
                    message: with_excerpt(message),
                }
            }
            403 => {
                let who = self.credentials.user();
                let hint = match (&self.credentials, self.product) {
                    (Credentials::Token { id, .. }, Product::Pve) => format!(
                        "an API token's rights are the intersection of its user's and its own: \
                         grant the PVEAuditor role on / to the user {who} and, if the token has \
                         privilege separation, to the token {id} as well"
                    ),
                    (Credentials::Token { .. }, Product::Pbs) => format!(
                        "grant the Audit role (DatastoreAudit for backups) on / to the user {who} \
                         and to the token"
                    ),
                    _ => format!("grant {who} read (audit) permission on /"),
                };
                ProxmoxError::Auth {
                    status: Some(403),
                    path: path.into(),
                    message: with_excerpt(format!(
                        "permission denied (HTTP 403) on {host} for {path}: {hint}"
                    )),
                }
            }
            595 => {
                // 595 is Proxmox's "proxy could not reach the backend": for /nodes/{node}/...
                // that is the owning cluster node; otherwise the local API daemon.
                let what = if path.starts_with("/nodes/") && path.matches('/').count() > 2 {
                    format!(
                        "the Proxmox node that owns this resource is offline or not reachable \
                         from {host}"
                    )
                } else {
                    "the Proxmox proxy could not reach its API daemon (pvedaemon / \
                     proxmox-backup-api); check the services on that host"
                        .to_owned()
                };
                ProxmoxError::NodeUnavailable {
                    host,
                    path: path.into(),
                    detail: with_excerpt(what),
                }
            }
            status => {
                let hint = match status {
                    // The server's own reason says it better than a guess.
                    500 if resp.reason.is_some() => "",
                    300..=399 => ": the server redirected; check the URL (scheme and port)",
                    404 => ": not found (older Proxmox version, or the resource is gone)",
                    500 if path.contains("/agent/") => {
                        ": the QEMU guest agent is probably not running in the guest"
                    }
                    500 => ": the resource may no longer exist, or the server hit an error",
                    501 => ": not implemented by this Proxmox version",
                    502..=504 => ": the server is overloaded or restarting; retrying later",
                    429 => ": rate limited; retrying later",
                    _ => "",
                };
                ProxmoxError::Http {
                    status,
                    host,
                    path: path.into(),
                    hint: hint.into(),
                    excerpt: if excerpt.is_empty() {
                        String::new()
                    } else {
                        format!(" — {excerpt}")
                    },
                }
            }
        }
    }
}

fn trim_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(b)
}

fn looks_like_html(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}

/// A short, printable excerpt of an error body. Proxmox error bodies are usually
/// `{"data":null}` (the reason is only in the status line) or carry `errors`/`message`.
pub fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let mut parts = Vec::new();
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            parts.push(m.trim().to_owned());
        }
        if let Some(errs) = v.get("errors").filter(|e| !e.is_null()) {
            parts.push(format!("errors: {errs}"));
        }
        if parts.is_empty() && v.get("data").is_some_and(|d| d.is_null()) {
            return String::new();
        }
        if !parts.is_empty() {
            return truncate(&parts.join("; "), MAX);
        }
    }
    let text = String::from_utf8_lossy(trim_bom(body));
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(
        clean
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
        MAX,
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Percent-encodes one path segment (node names, storage ids, UPIDs with `\x3a` escapes).
pub fn seg(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b':')
        .remove(b'@');
    utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts() {
        assert_eq!(body_excerpt(br#"{"data":null}"#), "");
        assert_eq!(
            body_excerpt(br#"{"data":null,"errors":{"vmid":"invalid"}}"#),
            r#"errors: {"vmid":"invalid"}"#
        );
        assert_eq!(body_excerpt(b"  line1\n\tline2 "), "line1 line2");
        assert_eq!(body_excerpt(&[b'x'; 500]).chars().count(), 201);
        assert_eq!(body_excerpt(&[0xff, 0xfe]), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn segments() {
        assert_eq!(seg("pve1"), "pve1");
        assert_eq!(
            seg(
                "UPID:pbs:000003F2:00000D3A:00000000:6600A1B0:verificationjob:store1\\x3av\\x2d1:root@pam:"
            ),
            "UPID:pbs:000003F2:00000D3A:00000000:6600A1B0:verificationjob:store1%5Cx3av%5Cx2d1:root@pam:"
        );
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
