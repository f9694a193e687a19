//! Per-client-IP rate limits by endpoint category (API.md "Rate Limiting"). Fixed windows:
//! each (category, IP) gets `limit` requests per window, counted from its first request.
//! Every limited response carries `X-RateLimit-*`; a refusal adds `Retry-After`.

use super::clock::Clock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Auth,
    Recovery,
    Export,
    ConfigWrite,
    Updates,
    WebSocket,
    Public,
    General,
}

impl Category {
    /// (requests, window seconds) — API.md's numbers.
    pub fn limit(self) -> (u32, u64) {
        match self {
            Category::Auth => (10, 60),
            Category::Recovery => (3, 600),
            Category::Export => (5, 300),
            Category::ConfigWrite => (30, 60),
            Category::Updates => (20, 60),
            Category::WebSocket => (5, 60),
            Category::Public => (1000, 60),
            Category::General => (500, 60),
        }
    }
}

/// The category of a request, or `None` when it is not rate limited (not API/WebSocket,
/// or an exempt high-frequency read).
pub fn categorize(method: &str, path: &str) -> Option<Category> {
    let p = path.to_ascii_lowercase();
    let ws = p == "/ws" || p.starts_with("/ws/") || p.starts_with("/socket.io");
    if !(p == "/api" || p.starts_with("/api/") || ws) {
        return None;
    }
    if p == "/api/state" || p.starts_with("/api/state/") || p.starts_with("/api/guests/metadata") {
        return None;
    }
    if ws {
        return Some(Category::WebSocket);
    }
    let is_get = method == "GET" || method == "HEAD";
    let auth_paths = [
        "/api/login",
        "/api/logout",
        "/api/security/change-password",
        "/api/security/quick-setup",
        "/api/security/regenerate-token",
        "/api/security/validate-token",
        "/api/auto-register",
        "/api/auth",
    ];
    if auth_paths
        .iter()
        .any(|a| p == *a || p.starts_with(&format!("{a}/")))
    {
        return Some(Category::Auth);
    }
    if p.starts_with("/api/security/recovery") && !is_get {
        return Some(Category::Recovery);
    }
    if p.starts_with("/api/config/export") || p.starts_with("/api/config/import") {
        return Some(Category::Export);
    }
    let config_write = [
        "/api/config/nodes",
        "/api/config/system",
        "/api/config/webhooks",
        "/api/config/alerts",
        "/api/system/settings",
        "/api/security/tokens",
        "/api/setup-script-url",
    ];
    if !is_get && config_write.iter().any(|c| p.starts_with(c)) {
        return Some(Category::ConfigWrite);
    }
    if p.starts_with("/api/updates") {
        return Some(Category::Updates);
    }
    let public = [
        "/api/health",
        "/api/version",
        "/api/security/status",
        "/api/security/validate-bootstrap-token",
        "/api/setup-script",
    ];
    if public.contains(&p.as_str()) || (is_get && p.starts_with("/api/config/")) {
        return Some(Category::Public);
    }
    Some(Category::General)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset_unix: u64,
    /// Seconds until the window resets (at least 1), for `Retry-After`.
    pub retry_after: u64,
}

struct Window {
    start_ms: u64,
    count: u32,
}

pub struct RateLimiter {
    clock: Arc<dyn Clock>,
    windows: Mutex<HashMap<(Category, IpAddr), Window>>,
}

/// Above this many tracked windows, finished ones are swept before adding another.
const SWEEP_AT: usize = 50_000;

impl RateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter {
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, cat: Category, ip: IpAddr) -> Decision {
        let (limit, window_s) = cat.limit();
        let window_ms = window_s * 1000;
        let now = self.clock.now_ms();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|(c, _), w| now.saturating_sub(w.start_ms) < c.limit().1 * 1000);
        }
        let w = map.entry((cat, ip)).or_insert(Window {
            start_ms: now,
            count: 0,
        });
        if now.saturating_sub(w.start_ms) >= window_ms {
            *w = Window {
                start_ms: now,
                count: 0,
            };
        }
        let allowed = w.count < limit;
        if allowed {
            w.count += 1;
        }
        let reset_ms = w.start_ms + window_ms;
        Decision {
            allowed,
            limit,
            remaining: limit - w.count,
            reset_unix: reset_ms.div_ceil(1000),
            retry_after: reset_ms.saturating_sub(now).div_ceil(1000).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::ManualClock;

    #[test]
    fn categories() {
        use Category::*;
        let c = |m, p| categorize(m, p);
        assert_eq!(c("POST", "/api/login"), Some(Auth));
        assert_eq!(c("POST", "/api/LOGIN"), Some(Auth));
        assert_eq!(c("GET", "/api/state"), None);
        assert_eq!(c("GET", "/api/guests/metadata/x"), None);
        assert_eq!(c("GET", "/"), None);
        assert_eq!(c("GET", "/assets/app.js"), None);
        assert_eq!(c("POST", "/api/security/recovery"), Some(Recovery));
        assert_eq!(c("GET", "/api/security/recovery"), Some(General));
        assert_eq!(c("POST", "/api/config/export"), Some(Export));
        assert_eq!(c("POST", "/api/config/nodes"), Some(ConfigWrite));
        assert_eq!(c("GET", "/api/config/nodes"), Some(Public));
        assert_eq!(c("POST", "/api/updates/apply"), Some(Updates));
        assert_eq!(c("GET", "/ws"), Some(WebSocket));
        assert_eq!(c("GET", "/api/health"), Some(Public));
        assert_eq!(c("GET", "/api/charts"), Some(General));
    }

    #[test]
    fn exhaustion_and_reset() {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let rl = RateLimiter::new(clock.clone());
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        for i in 0..10 {
            let d = rl.check(Category::Auth, ip);
            assert!(d.allowed);
            assert_eq!(d.remaining, 9 - i);
            assert_eq!(d.limit, 10);
            assert_eq!(d.reset_unix, 1_060);
        }
        let d = rl.check(Category::Auth, ip);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.retry_after, 60);
        assert!(rl.check(Category::Auth, other).allowed, "per IP");
        assert!(rl.check(Category::General, ip).allowed, "per category");
        clock.advance_secs(59);
        let d = rl.check(Category::Auth, ip);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, 1);
        clock.advance_secs(1);
        let d = rl.check(Category::Auth, ip);
        assert!(d.allowed, "a new window");
        assert_eq!(d.remaining, 9);
    }
}
