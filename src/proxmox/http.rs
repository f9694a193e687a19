//! A small blocking HTTP transport on ureq 3: base URL normalisation, our TLS connector,
//! per-request timeouts, gzip, bounded body size and classified transport errors. It knows
//! nothing about authentication or JSON shapes (see `client.rs`).

use super::Product;
use super::connector::TlsConnector;
use super::error::{ProxmoxError, from_transport};
use super::resolver::CachingResolver;
use super::tls::{self, TlsMode};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};

/// Largest response body accepted (a 10,000-guest `/cluster/resources` is ~5 MB).
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;
/// Default whole-request timeout (`CONNECTION_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default TCP connect + TLS handshake timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Normalises a user-entered host into the API base URL `scheme://host[:port]/api2/json`.
///
/// No scheme → `https://` plus the product's default port when none was typed. Any path, query
/// or fragment (e.g. a pasted GUI URL `https://pve:8006/#v1:0:18`) is dropped. A bare IPv6
/// address is bracketed.
pub fn normalize_base_url(input: &str, product: Product) -> Result<String, ProxmoxError> {
    let bad = |why: &str| ProxmoxError::Config(format!("host {input:?}: {why}"));
    let s = input.trim();
    if s.is_empty() {
        return Err(bad("is empty"));
    }
    let (scheme, rest, typed_scheme) = match s.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest, true),
        None => ("https".to_owned(), s, false),
    };
    if scheme != "https" && scheme != "http" {
        return Err(bad("scheme must be https:// or http://"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut authority = rest[..end].to_owned();
    if let Some((_, after_at)) = authority.rsplit_once('@') {
        // user:pass@host would leak credentials into logs; credentials go in their own fields.
        authority = after_at.to_owned();
    }
    if authority.is_empty() {
        return Err(bad("has no host name"));
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("contains spaces"));
    }
    // A bare IPv6 literal has more than one ':' and no brackets.
    if !authority.starts_with('[') && authority.matches(':').count() > 1 {
        authority = format!("[{authority}]");
    }
    let port_at = authority
        .rfind(':')
        .filter(|i| !authority[*i..].contains(']'));
    if let Some(i) = port_at
        && authority[i + 1..]
            .parse::<u16>()
            .map(|p| p == 0)
            .unwrap_or(true)
    {
        return Err(bad("port must be a number between 1 and 65535"));
    }
    let host_part = &authority[..port_at.unwrap_or(authority.len())];
    if host_part.is_empty() || host_part == "[]" {
        return Err(bad("has no host name"));
    }
    let has_port = port_at.is_some();
    if !has_port && !typed_scheme {
        authority = format!("{authority}:{}", product.default_port());
    }
    Ok(format!("{scheme}://{authority}/api2/json"))
}

/// The host part of a base URL, for messages (`pve1:8006`).
fn host_label(base: &str) -> String {
    base.split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(r))
        .unwrap_or(base)
        .to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A request body: JSON or `application/x-www-form-urlencoded`.
#[derive(Debug, Clone)]
pub enum Body {
    Json(String),
    Form(String),
}

/// One request relative to the base URL (`path` starts with `/`, already percent-encoded).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Body>,
    /// Overrides the client's whole-request timeout for this call.
    pub timeout: Option<Duration>,
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str) -> Self {
        Request {
            method: Method::Get,
            path,
            query: &[],
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }
}

/// A response with any status; the body is fully read (and gunzipped).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Non-standard reason phrase of the status line (Proxmox's error text), https only.
    pub reason: Option<String>,
    pub body: Vec<u8>,
    pub content_type: String,
}

/// A response body's buffer goes back to the thread that dropped it and the next request
/// of that thread reads into it: a poll reads the same big lists every cycle, and a fresh,
/// growing buffer each time cost page faults and copies (with jemalloc handing freed pages
/// back at once, `src/alloc.rs`). Buffers above this size are not kept.
const SPARE_BODY_MAX: usize = 2 * 1024 * 1024;

thread_local! {
    static SPARE_BODY: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for RawResponse {
    fn drop(&mut self) {
        if self.body.capacity() <= SPARE_BODY_MAX {
            let body = std::mem::take(&mut self.body);
            // During thread teardown the slot may be gone; the buffer is then just freed.
            let _ = SPARE_BODY.try_with(|s| {
                let spare = s.take();
                s.set(if body.capacity() >= spare.capacity() {
                    body
                } else {
                    spare
                });
            });
        }
    }
}

/// Kept-alive connections per endpoint: the PVE poller's guest workers plus the cycle itself,
/// with room to spare.
const IDLE_CONNECTIONS_PER_HOST: usize = 8;

/// Input and output buffer size of each connection (see `Http::build`).
const IO_BUFFER_BYTES: usize = 32 * 1024;

/// Settings for [`Http::new`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub product: Product,
    pub host: String,
    pub tls: TlsMode,
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl HttpOptions {
    pub fn new(product: Product, host: &str, tls: TlsMode) -> Self {
        HttpOptions {
            product,
            host: host.to_owned(),
            tls,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Blocking transport to one Proxmox API endpoint. Cheap to share between threads (`&self`).
#[derive(Debug)]
pub struct Http {
    agent: ureq::Agent,
    base: String,
    host: String,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Http {
    pub fn new(opts: &HttpOptions) -> Result<Self, ProxmoxError> {
        Self::build(opts, None)
    }

    fn build(
        opts: &HttpOptions,
        seen_leaf: Option<Arc<Mutex<Option<Vec<u8>>>>>,
    ) -> Result<Self, ProxmoxError> {
        let base = normalize_base_url(&opts.host, opts.product)?;
        let tls_config = tls::client_config(&opts.tls, seen_leaf).map_err(ProxmoxError::Config)?;
        let config = ureq::Agent::config_builder()
            // We classify statuses ourselves and need the body of error answers.
            .http_status_as_error(false)
            // Proxmox APIs never redirect; a redirect means a wrong URL, report it.
            .max_redirects(0)
            .timeout_global(Some(opts.timeout))
            .timeout_resolve(Some(opts.connect_timeout))
            .timeout_connect(Some(opts.connect_timeout))
            .user_agent(concat!("pulse/", env!("CARGO_PKG_VERSION")))
            // A PVE cycle asks per-guest details from several threads at once; with ureq's
            // default of 3 idle connections per host the others were closed after each
            // cycle and the next cycle paid a TLS handshake for each again.
            .max_idle_connections_per_host(IDLE_CONNECTIONS_PER_HOST)
            .max_idle_connections(4 * IDLE_CONNECTIONS_PER_HOST)
            // Each kept-alive connection holds two buffer pairs (ours for plaintext, the TCP
            // transport's for TLS records). ureq's default of 128 KiB each made a 5-cluster
            // fleet hold ~10 MB in idle buffers; a response head is a few hundred bytes, a
            // request head under 2 KiB, and bodies stream through in TLS records (16 KiB).
            .input_buffer_size(IO_BUFFER_BYTES)
            .output_buffer_size(IO_BUFFER_BYTES)
            // A response head must fit the input buffer (ureq reports a larger one only
            // when it is larger than this limit, else as a disconnect).
            .max_response_header_size(IO_BUFFER_BYTES / 2)
            .build();
        // Same chain as ureq's default minus SOCKS, with our TLS connector at the end.
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(TlsConnector { config: tls_config });
        let agent = ureq::Agent::with_parts(config, connector, CachingResolver::default());
        Ok(Http {
            agent,
            host: host_label(&base),
            base,
            timeout: opts.timeout,
            connect_timeout: opts.connect_timeout,
        })
    }

    /// `https://host:port/api2/json`
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `host:port`, as used in error messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one request and reads the whole body. Every status is returned as a response;
    /// only transport failures are errors.
    pub fn send(&self, req: &Request<'_>) -> Result<RawResponse, ProxmoxError> {
        let url = format!("{}{}", self.base, req.path);
        let timeout = req.timeout.unwrap_or(self.timeout);
        super::connector::clear_reason();
        let fail =
            |e: ureq::Error| from_transport(e, &self.host, req.path, timeout, self.connect_timeout);
        let result = match (&req.method, &req.body) {
            (Method::Get, _) => {
                let mut b = self.agent.get(&url);
                for (k, v) in req.query {
                    b = b.query(*k, *v);
                }
                for (k, v) in &req.headers {
                    b = b.header(*k, v);
                }
                if req.timeout.is_some() {
                    b = b.config().timeout_global(Some(timeout)).build();
                }
                b.call()
            }
            (Method::Post, body) => {
                let mut b = self.agent.post(&url);
                for (k, v) in req.query {
                    b = b.query(*k, *v);
                }
                for (k, v) in &req.headers {
                    b = b.header(*k, v);
                }
                if req.timeout.is_some() {
                    b = b.config().timeout_global(Some(timeout)).build();
                }
                match body {
                    Some(Body::Json(s)) => b
                        .header("Content-Type", "application/json")
                        .send(s.as_bytes()),
                    Some(Body::Form(s)) => b
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .send(s.as_bytes()),
                    None => b.send_empty(),
                }
            }
        };
        let mut resp = result.map_err(fail)?;
        let status = resp.status().as_u16();
        let reason = super::connector::take_reason();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        // The length is of the compressed body when gzipped: a first size, not a limit. It
        // is only what the server claims, so no more than a kept buffer is reserved up front;
        // a bigger body grows the buffer as its bytes arrive.
        let hint = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .unwrap_or(0)
            .min(SPARE_BODY_MAX);
        let mut body = SPARE_BODY.try_with(|s| s.take()).unwrap_or_default();
        body.clear();
        body.reserve(hint);
        std::io::Read::read_to_end(
            &mut resp.body_mut().with_config().limit(MAX_BODY_BYTES).reader(),
            &mut body,
        )
        .map_err(|e| fail(ureq::Error::from(e)))?;
        Ok(RawResponse {
            status,
            reason,
            body,
            content_type,
        })
    }
}

/// Connects to `host` without verifying its certificate and returns the SHA-256 fingerprint of
/// the leaf certificate it presents, formatted `AB:CD:...` (for "test connection" / "trust this
/// certificate" screens). Any HTTP answer, even 401, counts as success.
pub fn fetch_fingerprint(
    product: Product,
    host: &str,
    timeout: Duration,
) -> Result<String, ProxmoxError> {
    let slot = Arc::new(Mutex::new(None));
    let mut opts = HttpOptions::new(product, host, TlsMode::NoVerify);
    opts.timeout = timeout;
    opts.connect_timeout = timeout;
    let http = Http::build(&opts, Some(slot.clone()))?;
    if !http.base.starts_with("https://") {
        return Err(ProxmoxError::Config(
            "the URL uses http://, so there is no certificate to fingerprint".into(),
        ));
    }
    // Only the handshake matters: a certificate seen before a later failure (an HTTP error,
    // a slow answer) is still the server's certificate.
    let sent = http.send(&Request::get("/version"));
    let der = slot.lock().ok().and_then(|g| g.clone());
    match (der, sent) {
        (Some(der), _) => Ok(tls::colon_hex(&tls::sha256_hex(&der))),
        (None, Err(e)) => Err(e),
        (None, Ok(_)) => Err(ProxmoxError::Tls {
            host: http.host.clone(),
            detail: "no certificate was presented".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str, p: Product) -> String {
        normalize_base_url(s, p).unwrap()
    }

    #[test]
    fn base_urls() {
        assert_eq!(n("pve1", Product::Pve), "https://pve1:8006/api2/json");
        assert_eq!(n("pbs1", Product::Pbs), "https://pbs1:8007/api2/json");
        assert_eq!(n("pmg1", Product::Pmg), "https://pmg1:8006/api2/json");
        assert_eq!(n("https://pve1", Product::Pve), "https://pve1/api2/json");
        assert_eq!(
            n("https://pve1:8006/", Product::Pve),
            "https://pve1:8006/api2/json"
        );
        assert_eq!(
            n("https://pve1:8006/api2/json", Product::Pve),
            "https://pve1:8006/api2/json"
        );
        assert_eq!(
            n(" HTTPS://10.0.0.1:8006/#v1:0:18 ", Product::Pve),
            "https://10.0.0.1:8006/api2/json"
        );
        assert_eq!(
            n("fe80::1", Product::Pve),
            "https://[fe80::1]:8006/api2/json"
        );
        assert_eq!(
            n("[fe80::1]:9000", Product::Pve),
            "https://[fe80::1]:9000/api2/json"
        );
        assert_eq!(
            n("http://pve1:80", Product::Pve),
            "http://pve1:80/api2/json"
        );
        assert_eq!(
            n("https://u:p@pve1:8006", Product::Pve),
            "https://pve1:8006/api2/json"
        );
    }

    #[test]
    fn bad_base_urls() {
        for bad in [
            "",
            "   ",
            "ftp://x",
            "https://",
            "pve1:99999",
            "pve1:0",
            "pve 1",
            "https://:8006",
        ] {
            let e = normalize_base_url(bad, Product::Pve).unwrap_err();
            assert_eq!(e.kind(), super::super::ErrorKind::Config, "{bad}");
        }
    }
}
