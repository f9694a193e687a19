//! The one error type of the Proxmox clients, classified so the poller can decide (retry, back
//! off, mark the instance degraded) and the UI can tell the user what to fix.

use super::tls::FingerprintMismatch;
use std::time::Duration;

/// Coarse class of a [`ProxmoxError`], stable for matching and for JSON (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Config,
    Auth,
    Tls,
    Timeout,
    Refused,
    Unreachable,
    Dns,
    NodeUnavailable,
    Http,
    Agent,
    BadBody,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Refused => "refused",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Dns => "dns",
            ErrorKind::NodeUnavailable => "node_unavailable",
            ErrorKind::Http => "http",
            ErrorKind::Agent => "agent",
            ErrorKind::BadBody => "bad_body",
        }
    }
}

impl serde::Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProxmoxError {
    /// The node settings cannot work (bad URL, malformed token id, bad fingerprint, ...).
    #[error("invalid connection settings: {0}")]
    Config(String),

    /// 401/403 or a failed login. `message` already says what to check.
    #[error("{message}")]
    Auth {
        status: Option<u16>,
        path: String,
        message: String,
    },

    /// Certificate or handshake problem other than a pin mismatch.
    #[error("TLS error with {host}: {detail}")]
    Tls { host: String, detail: String },

    #[error(
        "TLS error with {host}: {mismatch}. If the server's certificate was renewed on purpose, \
         update the fingerprint in the node settings; otherwise something else is answering at this address"
    )]
    FingerprintMismatch {
        host: String,
        mismatch: FingerprintMismatch,
    },

    #[error("{host} did not answer {path} within {after:?} ({phase})")]
    Timeout {
        host: String,
        path: String,
        phase: &'static str,
        after: Duration,
    },

    #[error(
        "connection refused by {host}: check that the Proxmox service is running and the port is \
         right (PVE/PMG 8006, PBS 8007)"
    )]
    Refused { host: String },

    #[error("cannot reach {host}: {detail}")]
    Unreachable { host: String, detail: String },

    #[error("cannot resolve host name {host}: check the spelling, or use an IP address")]
    Dns { host: String },

    /// PVE's proxy could not reach the node that owns the resource (HTTP 595).
    #[error("HTTP 595 for {path} on {host}: {detail}")]
    NodeUnavailable {
        host: String,
        path: String,
        detail: String,
    },

    /// Any other non-2xx answer.
    #[error("HTTP {status} from {host} for {path}{hint}{excerpt}")]
    Http {
        status: u16,
        host: String,
        path: String,
        hint: String,
        excerpt: String,
    },

    /// The QEMU guest agent answered with an error (inside an HTTP 200).
    #[error("guest agent error for {path}: {message}")]
    Agent { path: String, message: String },

    /// 2xx but not the JSON we expect (invalid JSON, HTML, wrong shape, failed decompression).
    #[error("unexpected response from {host} for {path}: {detail}")]
    BadBody {
        host: String,
        path: String,
        detail: String,
    },
}

impl ProxmoxError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProxmoxError::Config(_) => ErrorKind::Config,
            ProxmoxError::Auth { .. } => ErrorKind::Auth,
            ProxmoxError::Tls { .. } | ProxmoxError::FingerprintMismatch { .. } => ErrorKind::Tls,
            ProxmoxError::Timeout { .. } => ErrorKind::Timeout,
            ProxmoxError::Refused { .. } => ErrorKind::Refused,
            ProxmoxError::Unreachable { .. } => ErrorKind::Unreachable,
            ProxmoxError::Dns { .. } => ErrorKind::Dns,
            ProxmoxError::NodeUnavailable { .. } => ErrorKind::NodeUnavailable,
            ProxmoxError::Http { .. } => ErrorKind::Http,
            ProxmoxError::Agent { .. } => ErrorKind::Agent,
            ProxmoxError::BadBody { .. } => ErrorKind::BadBody,
        }
    }

    /// HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProxmoxError::Auth { status, .. } => *status,
            ProxmoxError::NodeUnavailable { .. } => Some(595),
            ProxmoxError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_auth(&self) -> bool {
        self.kind() == ErrorKind::Auth
    }

    /// Worth retrying soon on the same endpoint (network blips, overload, rate limits).
    pub fn is_transient(&self) -> bool {
        match self {
            ProxmoxError::Timeout { .. }
            | ProxmoxError::Refused { .. }
            | ProxmoxError::Unreachable { .. } => true,
            ProxmoxError::Http { status, .. } => {
                matches!(status, 408 | 425 | 429 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// The endpoint works but one resource behind it does not (offline node, guest agent, a
    /// missing VM, a permission on one storage): don't fail over to another cluster endpoint.
    pub fn is_resource_specific(&self) -> bool {
        match self {
            ProxmoxError::NodeUnavailable { .. } | ProxmoxError::Agent { .. } => true,
            // No permission on one storage/datastore: the endpoint and credentials are fine.
            ProxmoxError::Auth {
                status: Some(403),
                path,
                ..
            } => path.contains("/storage") || path.contains("/datastore"),
            ProxmoxError::Http { status, .. } => matches!(status, 400 | 404 | 500 | 501),
            ProxmoxError::BadBody { .. } => true,
            _ => false,
        }
    }
}

/// Maps a ureq transport error to a classified error. `connect_timeout`/`timeout` are the
/// limits that were in force, so the message can say which one fired.
pub(crate) fn from_transport(
    err: ureq::Error,
    host: &str,
    path: &str,
    timeout: Duration,
    connect_timeout: Duration,
) -> ProxmoxError {
    use ureq::Error as U;
    let host_s = host.to_owned();
    let unreachable = |detail: String| ProxmoxError::Unreachable {
        host: host.to_owned(),
        detail,
    };
    match err {
        U::Timeout(t) => {
            let (phase, after) = match t {
                ureq::Timeout::Resolve => ("while resolving the host name", connect_timeout),
                ureq::Timeout::Connect => ("while connecting", connect_timeout),
                ureq::Timeout::RecvResponse => ("waiting for the response", timeout),
                ureq::Timeout::RecvBody => ("while reading the response body", timeout),
                _ => ("whole request", timeout),
            };
            ProxmoxError::Timeout {
                host: host_s,
                path: path.to_owned(),
                phase,
                after,
            }
        }
        U::HostNotFound => ProxmoxError::Dns { host: host_s },
        U::Io(e) => from_io(e, host, path, timeout),
        U::Rustls(e) => from_rustls(e, host),
        U::Tls(msg) => ProxmoxError::Tls {
            host: host_s,
            detail: msg.to_owned(),
        },
        U::ConnectionFailed => unreachable("connection failed".into()),
        U::BodyExceedsLimit(n) => ProxmoxError::BadBody {
            host: host_s,
            path: path.to_owned(),
            detail: format!("response body larger than the {n}-byte limit"),
        },
        U::LargeResponseHeader(_, max) => ProxmoxError::BadBody {
            host: host_s,
            path: path.to_owned(),
            detail: format!(
                "response headers larger than {max} bytes; is this the Proxmox API address?"
            ),
        },
        U::Decompress(kind, e) => ProxmoxError::BadBody {
            host: host_s,
            path: path.to_owned(),
            detail: format!("{kind} decompression failed: {e}"),
        },
        U::BadUri(u) => ProxmoxError::Config(format!("bad URL {u}")),
        U::Http(e) => ProxmoxError::Config(format!("cannot build the request: {e}")),
        U::Protocol(e) => unreachable(format!(
            "the server did not answer with valid HTTP ({e}); is this the Proxmox API port?"
        )),
        other => unreachable(other.to_string()),
    }
}

fn from_io(e: std::io::Error, host: &str, path: &str, timeout: Duration) -> ProxmoxError {
    use std::io::ErrorKind as K;
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        if let Some(inner) = e.into_inner()
            && let Ok(tls) = inner.downcast::<rustls::Error>()
        {
            return from_rustls(*tls, host);
        }
        return ProxmoxError::Tls {
            host: host.to_owned(),
            detail: "TLS error".into(),
        };
    }
    match e.kind() {
        K::ConnectionRefused => ProxmoxError::Refused {
            host: host.to_owned(),
        },
        K::TimedOut | K::WouldBlock => ProxmoxError::Timeout {
            host: host.to_owned(),
            path: path.to_owned(),
            phase: "network timeout",
            after: timeout,
        },
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable | K::NetworkDown => {
            ProxmoxError::Unreachable {
                host: host.to_owned(),
                detail: format!("{e} (check the address, routing and firewall)"),
            }
        }
        K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            ProxmoxError::Unreachable {
                host: host.to_owned(),
                detail: format!(
                    "the connection was closed by the server ({e}); if this is a TLS port, check \
                     the scheme (https) and port"
                ),
            }
        }
        _ => ProxmoxError::Unreachable {
            host: host.to_owned(),
            detail: e.to_string(),
        },
    }
}

fn from_rustls(e: rustls::Error, host: &str) -> ProxmoxError {
    use rustls::CertificateError as C;
    let host_s = host.to_owned();
    let detail = match &e {
        rustls::Error::InvalidCertificate(C::Other(other)) => {
            if let Some(m) = other.0.downcast_ref::<FingerprintMismatch>() {
                return ProxmoxError::FingerprintMismatch {
                    host: host_s,
                    mismatch: m.clone(),
                };
            }
            format!("certificate rejected: {other}")
        }
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => "the certificate is not signed \
             by a trusted authority (Proxmox uses a self-signed certificate by default): pin its \
             fingerprint or turn off SSL verification for this node"
            .to_owned(),
        rustls::Error::InvalidCertificate(C::NotValidForName)
        | rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => format!(
            "the certificate is not valid for the name {host}: connect using a name the \
             certificate lists, pin its fingerprint, or turn off SSL verification"
        ),
        rustls::Error::InvalidCertificate(C::Expired)
        | rustls::Error::InvalidCertificate(C::ExpiredContext { .. }) => {
            "the server certificate has expired: renew it, or pin its fingerprint".to_owned()
        }
        rustls::Error::InvalidCertificate(c) => format!("certificate rejected: {c:?}"),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => format!(
            "TLS handshake failed ({e}); is the URL's scheme right (https) and is this the \
             Proxmox port?"
        ),
        other => other.to_string(),
    };
    ProxmoxError::Tls {
        host: host_s,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(e: ureq::Error) -> ProxmoxError {
        from_transport(
            e,
            "pve1:8006",
            "/nodes",
            Duration::from_secs(60),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn transport_errors_are_classified() {
        let e = map(ureq::Error::HostNotFound);
        assert_eq!(e.kind(), ErrorKind::Dns);
        assert!(e.to_string().contains("cannot resolve host name pve1:8006"));
        let e = map(ureq::Error::Timeout(ureq::Timeout::Connect));
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.to_string().contains("10s (while connecting)"), "{e}");
        let e = map(ureq::Error::Timeout(ureq::Timeout::Global));
        assert!(e.to_string().contains("60s (whole request)"), "{e}");
        let io = |k| ureq::Error::Io(std::io::Error::new(k, "x"));
        assert_eq!(
            map(io(std::io::ErrorKind::ConnectionRefused)).kind(),
            ErrorKind::Refused
        );
        assert_eq!(
            map(io(std::io::ErrorKind::HostUnreachable)).kind(),
            ErrorKind::Unreachable
        );
        assert_eq!(
            map(io(std::io::ErrorKind::NetworkUnreachable)).kind(),
            ErrorKind::Unreachable
        );
        assert_eq!(
            map(io(std::io::ErrorKind::TimedOut)).kind(),
            ErrorKind::Timeout
        );
        assert_eq!(
            map(io(std::io::ErrorKind::ConnectionReset)).kind(),
            ErrorKind::Unreachable
        );
        let e = map(ureq::Error::Rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        )));
        assert!(e.to_string().contains("expired"), "{e}");
        let e = map(ureq::Error::BodyExceedsLimit(10));
        assert_eq!(e.kind(), ErrorKind::BadBody);
    }

    #[test]
    fn retry_classes() {
        let http = |status| ProxmoxError::Http {
            status,
            host: "h".into(),
            path: "/p".into(),
            hint: String::new(),
            excerpt: String::new(),
        };
        for s in [408, 425, 429, 502, 503, 504] {
            assert!(http(s).is_transient(), "{s}");
        }
        assert!(!http(500).is_transient() && http(500).is_resource_specific());
        assert!(!http(400).is_transient());
        assert_eq!(ErrorKind::NodeUnavailable.as_str(), "node_unavailable");
        assert_eq!(
            serde_json::to_string(&ErrorKind::BadBody).unwrap(),
            "\"bad_body\""
        );
        let forbidden = |path: &str| ProxmoxError::Auth {
            status: Some(403),
            path: path.into(),
            message: String::new(),
        };
        assert!(forbidden("/nodes/pve/storage/nas/content").is_resource_specific());
        assert!(!forbidden("/nodes").is_resource_specific());
    }
}
