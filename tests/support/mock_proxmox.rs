//! A tiny HTTPS server on 127.0.0.1 for black-box tests of the Proxmox clients. It records
//! every request and answers through a replaceable handler (status, body, optional gzip and
//! delay). Built on `pulse::server::run` with a self-signed rcgen certificate.
#![allow(dead_code)]

use http_body_util::BodyExt;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the mock answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub gzip: bool,
    pub delay: Duration,
    /// Extra response headers, sent verbatim.
    pub headers: Vec<(&'static str, &'static str)>,
    /// Custom reason phrase (Proxmox puts its error text there).
    pub reason: Option<&'static str>,
}

impl Reply {
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            body: body.into(),
            content_type: "application/json;charset=UTF-8",
            gzip: false,
            delay: Duration::ZERO,
            headers: Vec::new(),
            reason: None,
        }
    }

    /// `{"data": <data>}` with status 200.
    pub fn data(data: serde_json::Value) -> Self {
        Reply::raw(200, serde_json::json!({ "data": data }).to_string())
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn gzipped(mut self) -> Self {
        self.gzip = true;
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// One request as the mock saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

pub struct MockServer {
    pub port: u16,
    /// The loopback address listened on (`127.0.0.1` or `[::1]`).
    pub host: String,
    pub cert_der: Vec<u8>,
    log: Arc<Mutex<Vec<Seen>>>,
    handler: Arc<Mutex<Handler>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Self-signed certificate for `localhost` / `127.0.0.1`.
pub fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("rcgen");
    (ck.cert.der().to_vec(), ck.signing_key.serialize_der())
}

/// A CA and a leaf for `names` signed by it: (ca_der, leaf_der, leaf_key_der).
pub fn ca_signed(names: &[&str]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Pulse Test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf_params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");
    (
        ca.der().to_vec(),
        leaf.der().to_vec(),
        leaf_key.serialize_der(),
    )
}

impl MockServer {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let (cert, key) = self_signed();
        Self::start_with(cert, key, handler)
    }

    pub fn start_with(
        cert_der: Vec<u8>,
        key_der: Vec<u8>,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_at("127.0.0.1:0", cert_der, key_der, handler)
    }

    /// Listens on `bind` (a loopback address: `127.0.0.1:PORT` or `[::1]:PORT`).
    pub fn start_at(
        bind: &str,
        cert_der: Vec<u8>,
        key_der: Vec<u8>,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let bind = bind.to_string();
        let host = bind
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .expect("address with port");
        let tls = pulse::server::server_config(
            vec![rustls::pki_types::CertificateDer::from(cert_der.clone())],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
        )
        .expect("server tls");
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Arc::new(handler)));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (log2, handler2) = (log.clone(), handler.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(bind.as_str())
                    .await
                    .expect("bind");
                port_tx
                    .send(listener.local_addr().expect("addr").port())
                    .expect("port");
                let serve = move |req: hyper::Request<hyper::body::Incoming>, _peer: SocketAddr| {
                    let log = log2.clone();
                    let handler = handler2.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let seen = Seen {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            query: parts.uri.query().unwrap_or("").to_owned(),
                            headers: parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                                })
                                .collect(),
                            body: String::from_utf8_lossy(&body).into(),
                        };
                        log.lock().unwrap().push(seen.clone());
                        let h = handler.lock().unwrap().clone();
                        let reply = h(&seen);
                        if !reply.delay.is_zero() {
                            tokio::time::sleep(reply.delay).await;
                        }
                        let mut resp = warp::reply::Response::new(if reply.gzip {
                            let mut enc = flate2::write::GzEncoder::new(
                                Vec::new(),
                                flate2::Compression::default(),
                            );
                            enc.write_all(&reply.body).unwrap();
                            enc.finish().unwrap().into()
                        } else {
                            reply.body.clone().into()
                        });
                        *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap();
                        if let Some(r) = reply.reason {
                            resp.extensions_mut()
                                .insert(hyper::ext::ReasonPhrase::from_static(r.as_bytes()));
                        }
                        let h = resp.headers_mut();
                        h.insert("content-type", reply.content_type.parse().unwrap());
                        if reply.gzip {
                            h.insert("content-encoding", "gzip".parse().unwrap());
                        }
                        for (k, v) in &reply.headers {
                            h.insert(*k, v.parse().unwrap());
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                };
                pulse::server::run(listener, Some(tls), serve, async {
                    let _ = rx.await;
                })
                .await;
            });
        });
        let port = port_rx.recv().expect("mock server port");
        MockServer {
            port,
            host,
            cert_der,
            log,
            handler,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }

    /// SHA-256 of the server certificate, lower-case hex.
    pub fn fingerprint(&self) -> String {
        pulse::proxmox::tls::sha256_hex(&self.cert_der)
    }

    pub fn set_handler(&self, h: impl Fn(&Seen) -> Reply + Send + Sync + 'static) {
        *self.handler.lock().unwrap() = Arc::new(h);
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // The server thread finishes on its own (in-flight delayed replies may keep it a
        // little longer); the test does not wait for it.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
