//! Plugs our own rustls `ClientConfig` (see `tls.rs`) into ureq 3.
//!
//! ureq's built-in TLS only offers "webpki roots" or "no verification"; fingerprint pinning
//! needs a custom `ServerCertVerifier`, which ureq only accepts through its (unversioned)
//! transport API. This module is that glue: a `Connector` that wraps the TCP transport produced
//! earlier in the chain in a rustls stream, and the `Transport` implementation for that stream.

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// Wraps `https` connections in TLS using a fixed rustls config; `http` passes through.
#[derive(Debug)]
pub struct TlsConnector {
    pub config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // Nothing connected before us (cannot happen with TcpConnector in front): let the
        // chain report it instead of panicking.
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("URL has no host name for TLS"))?;
        // `Uri::host()` keeps IPv6 brackets; rustls wants the bare address.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned())
            .map_err(|_| ureq::Error::Tls("host name is not valid for TLS"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        // The handshake counts against the connect timeout.
        sock.set_timeout(details.timeout);
        if let Err(e) = conn.complete_io(&mut sock) {
            return Err(handshake_error(e));
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
            awaiting_status: false,
        })))
    }
}

/// rustls reports verification failures as `io::Error(InvalidData, rustls::Error)`; surface the
/// rustls error itself so the classifier can tell "bad certificate" from "connection reset".
fn handshake_error(e: std::io::Error) -> ureq::Error {
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        if let Some(inner) = e.into_inner()
            && let Ok(tls) = inner.downcast::<rustls::Error>()
        {
            return ureq::Error::Rustls(*tls);
        }
        return ureq::Error::Tls("TLS handshake failed");
    }
    // Not a rustls error (e.g. a wrapped ureq timeout): let ureq unwrap it as usual.
    ureq::Error::from(e)
}

// Proxmox puts the actual error text in the HTTP reason phrase ("500 VM 100 not running",
// "595 No route to host") and often sends only `{"data":null}` as the body. ureq drops the
// reason phrase, so the transport picks it out of the first bytes of each response. ureq runs
// a request's I/O on the calling thread, so a thread-local ties the phrase to that request.
thread_local! {
    static REASON: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Forgets any remembered reason phrase (call before sending a request).
pub(crate) fn clear_reason() {
    REASON.with(|r| *r.borrow_mut() = None);
}

/// The reason phrase of the last response read on this thread, if any and not just the
/// standard text for its status.
pub(crate) fn take_reason() -> Option<String> {
    REASON.with(|r| r.borrow_mut().take())
}

/// Extracts the reason phrase from `HTTP/1.1 500 Some text\r\n...`.
fn reason_phrase(input: &[u8]) -> Option<String> {
    let line_end = input.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&input[..line_end]).ok()?;
    let rest = line.strip_prefix("HTTP/1.")?;
    let mut parts = rest.splitn(3, ' ');
    let _version = parts.next()?;
    let status: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next()?.trim();
    let standard = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    if reason.is_empty() || Some(reason) == standard {
        return None;
    }
    Some(reason.chars().take(300).collect())
}

/// A TLS stream over the chained transport.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
    /// Set after sending; the next bytes read start a response (no pipelining in ureq).
    awaiting_status: bool,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        self.awaiting_status = true;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        if self.awaiting_status && amount > 0 {
            self.awaiting_status = false;
            let reason = reason_phrase(self.buffers.input());
            REASON.with(|r| *r.borrow_mut() = reason);
        }
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::reason_phrase;

    #[test]
    fn reason_phrases() {
        let r = |s: &str| reason_phrase(s.as_bytes());
        assert_eq!(
            r("HTTP/1.1 500 VM 100 not running\r\n"),
            Some("VM 100 not running".into())
        );
        assert_eq!(
            r("HTTP/1.1 595 No route to host\r\nX: y\r\n"),
            Some("No route to host".into())
        );
        assert_eq!(r("HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(r("HTTP/1.1 500 Internal Server Error\r\n"), None);
        assert_eq!(r("HTTP/1.1 500\r\n"), None);
        assert_eq!(r("HTTP/1.1 500 partial"), None);
        assert_eq!(r("garbage\r\n"), None);
        assert_eq!(reason_phrase(&[0xff, 0xfe, b'\r', b'\n']), None);
    }
}
