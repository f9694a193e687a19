//! Webhook delivery over blocking ureq (runs on the notification pool, never on async
//! workers): URL templating, Telegram `chat_id` handling, the SSRF guard before the first
//! request and on each redirect hop (at most 3), headers, and a 2xx-or-error verdict.

use super::config::Webhook;
use super::ssrf;
use super::template::{self, Escape};
use ipnet::IpNet;
use serde_json::Value;
use std::time::Duration;

pub const USER_AGENT: &str = "Pulse-Monitoring/2.0";
const MAX_REDIRECTS: usize = 3;
const MAX_BODY: u64 = 1 << 20;

/// What the target answered.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct SendError {
    pub status: Option<u16>,
    pub body: String,
    pub message: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn plain(message: impl Into<String>) -> SendError {
    SendError {
        status: None,
        body: String::new(),
        message: message.into(),
    }
}

/// Renders a templated URL (`{{` inside) and, for Telegram, takes `chat_id` out of the query.
/// Returns (url to call, chat id).
pub fn prepare_url(w: &Webhook, data: &Value) -> Result<(String, String), String> {
    let mut url = w.url.trim().to_string();
    if url.contains("{{") {
        url = template::render(&url, data, Escape::None)
            .map_err(|e| format!("URL template: {e}"))?
            .trim()
            .to_string();
    }
    let mut chat_id = String::new();
    if w.service == "telegram" {
        let (base, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("chat_id", v)) => chat_id = v.to_string(),
                _ => rest.push(pair),
            }
        }
        let digits = chat_id.strip_prefix('-').unwrap_or(&chat_id);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                "Telegram webhooks need a numeric chat_id query parameter in the URL".into(),
            );
        }
        url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
    }
    Ok((url, chat_id))
}

/// Redacts secrets in a URL for history and logs: Telegram bot tokens and the values of
/// token-like query parameters.
pub fn redact_url(url: &str) -> String {
    let mut u = url.to_string();
    if let Some(i) = u.find("/bot")
        && let Some(j) = u[i + 4..].find('/')
    {
        u.replace_range(i + 4..i + 4 + j, "REDACTED");
    }
    let Some((base, q)) = u.split_once('?') else {
        return u;
    };
    let q: Vec<String> = q
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _))
                if ["token", "apikey", "api_key", "key", "secret", "password"]
                    .contains(&k.to_ascii_lowercase().as_str()) =>
            {
                format!("{k}=REDACTED")
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{base}?{}", q.join("&"))
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Redirects are followed by hand so every hop passes the URL guard.
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .user_agent(USER_AGENT)
        .build()
        .into()
}

/// Sends `body` to `url` with `headers`; success is a 2xx answer.
pub fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    allow: &[IpNet],
    timeout: Duration,
) -> Result<Outcome, SendError> {
    let agent = agent(timeout);
    let mut url = url.to_string();
    let mut method = method.to_ascii_uppercase();
    for hop in 0..=MAX_REDIRECTS {
        ssrf::check(&url, allow).map_err(|e| plain(format!("webhook URL refused: {e}")))?;
        let mut req = http::Request::builder().method(method.as_str()).uri(&url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let with_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
        let result = if with_body {
            let r = req
                .body(body.to_vec())
                .map_err(|e| plain(format!("invalid request: {e}")))?;
            agent.run(r)
        } else {
            let r = req
                .body(())
                .map_err(|e| plain(format!("invalid request: {e}")))?;
            agent.run(r)
        };
        let mut resp = result.map_err(|e| plain(format!("webhook request failed: {e}")))?;
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            if hop == MAX_REDIRECTS {
                return Err(plain("too many redirects"));
            }
            let Some(loc) = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
            else {
                return Err(plain(format!("HTTP {status} without Location")));
            };
            url = resolve(&url, &loc);
            if matches!(status, 301..=303) {
                method = "GET".into();
            }
            continue;
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(Outcome { status, body: text });
        }
        return Err(SendError {
            status: Some(status),
            message: format!("webhook returned HTTP {status}: {}", text.trim()),
            body: text,
        });
    }
    Err(plain("too many redirects"))
}

/// Resolves a Location header against the current URL.
fn resolve(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let Ok(u) = base.parse::<http::Uri>() else {
        return loc.to_string();
    };
    let origin = format!(
        "{}://{}",
        u.scheme_str().unwrap_or("http"),
        u.authority().map(|a| a.as_str()).unwrap_or("")
    );
    if loc.starts_with('/') {
        format!("{origin}{loc}")
    } else {
        let path = u.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{origin}{dir}{loc}")
    }
}

/// The request headers for a live send: content type, user agent, idempotency key, then
/// the webhook's own headers (which win; templated values are skipped).
pub fn headers(w: &Webhook, content_type: &str, idempotency_key: &str) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = vec![
        ("Content-Type".into(), content_type.into()),
        ("User-Agent".into(), USER_AGENT.into()),
    ];
    if !idempotency_key.is_empty() {
        h.push(("Idempotency-Key".into(), idempotency_key.into()));
        h.push(("X-Pulse-Notification-Id".into(), idempotency_key.into()));
    }
    for (k, v) in &w.headers {
        if v.contains("{{") || k == "routing_key" {
            continue;
        }
        h.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
        h.push((k.clone(), v.clone()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_chat_id_moves_out_of_the_url() {
        let w = Webhook {
            service: "telegram".into(),
            url: "https://api.telegram.org/botTOKEN/sendMessage?chat_id=-100123&x=1".into(),
            ..Default::default()
        };
        let (u, c) = prepare_url(&w, &Value::Null).unwrap();
        assert_eq!(c, "-100123");
        assert_eq!(u, "https://api.telegram.org/botTOKEN/sendMessage?x=1");
        let bad = Webhook {
            url: "https://api.telegram.org/botT/sendMessage?chat_id=abc".into(),
            ..w
        };
        assert!(prepare_url(&bad, &Value::Null).is_err());
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://api.telegram.org/bot123:abc/sendMessage?token=x&b=2"),
            "https://api.telegram.org/botREDACTED/sendMessage?token=REDACTED&b=2"
        );
        assert_eq!(resolve("http://a:1/x/y", "/z"), "http://a:1/z");
        assert_eq!(resolve("http://a:1/x/y", "z"), "http://a:1/x/z");
    }
}
