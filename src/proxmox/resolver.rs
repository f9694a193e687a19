//! Host-name resolution for the Proxmox clients, cached process-wide.
//!
//! ureq 3 resolves the URL's host before *every* request, even when a kept-alive connection
//! is reused, and with a resolve timeout set it spawns a thread per lookup. A 5,000-guest
//! fleet makes ~900 requests per 10 s cycle, so that was ~900 threads and, for a host name,
//! ~900 DNS queries to the user's resolver per cycle. Here:
//! * an IP-literal host (`10.0.0.5`, `[fd00::5]`) is parsed, never looked up;
//! * a name is looked up once and reused for the DNS cache TTL (`dnsCacheTimeout` /
//!   `DNS_CACHE_TIMEOUT`, default 5 minutes as the reference; 0 = look up every time);
//! * a failed lookup is not cached, and a lookup that fails while an expired entry exists
//!   keeps using the expired addresses (a DNS hiccup must not take a cluster offline).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Default DNS cache TTL (the reference's `DNS_CACHE_TIMEOUT` default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

static TTL_MS: AtomicU64 = AtomicU64::new(DEFAULT_TTL.as_millis() as u64);

/// `host:port` → when it was looked up, and the addresses.
type Cache = HashMap<String, (Instant, ResolvedSocketAddrs)>;

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// Sets the TTL of every client's lookups (settings apply this at start and on change).
pub fn set_ttl(ttl: Duration) {
    TTL_MS.store(ttl.as_millis() as u64, Ordering::Relaxed);
}

fn ttl() -> Duration {
    Duration::from_millis(TTL_MS.load(Ordering::Relaxed))
}

fn cache() -> MutexGuard<'static, Option<Cache>> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Entries kept at most; beyond it the cache is cleared (hosts are the configured nodes, so
/// this only matters if something resolves an unbounded set of names).
const MAX_ENTRIES: usize = 1024;

type Lookup =
    dyn Fn(&Uri, &Config, NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> + Send + Sync;

pub struct CachingResolver {
    /// The real lookup (ureq's: the system resolver, bounded by the resolve timeout).
    lookup: Box<Lookup>,
}

impl Default for CachingResolver {
    fn default() -> Self {
        let system = DefaultResolver::default();
        CachingResolver {
            lookup: Box::new(move |uri, config, timeout| system.resolve(uri, config, timeout)),
        }
    }
}

impl std::fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachingResolver")
    }
}

impl CachingResolver {
    /// `host:port` of a full URL (the port defaulted from the scheme).
    fn key(uri: &Uri) -> Option<String> {
        DefaultResolver::host_and_port(uri.scheme()?, uri.authority()?)
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(key) = Self::key(uri) else {
            // Not a full URL: let ureq report it.
            return (self.lookup)(uri, config, timeout);
        };
        if let Ok(addr) = key.parse::<SocketAddr>() {
            let mut out = self.empty();
            out.push(addr);
            return Ok(out);
        }
        let ttl = ttl();
        let stale = match cache().as_ref().and_then(|c| c.get(&key)) {
            Some((at, addrs)) if at.elapsed() < ttl => return Ok(addrs.clone()),
            Some((_, addrs)) => Some(addrs.clone()),
            None => None,
        };
        match (self.lookup)(uri, config, timeout) {
            Ok(addrs) => {
                if !ttl.is_zero() {
                    let mut guard = cache();
                    let c = guard.get_or_insert_with(HashMap::new);
                    if c.len() >= MAX_ENTRIES {
                        c.clear();
                    }
                    c.insert(key, (Instant::now(), addrs.clone()));
                }
                Ok(addrs)
            }
            Err(e) => match stale {
                Some(addrs) => {
                    tracing::warn!(host = %key, error = %e, "host name lookup failed; using the last known addresses");
                    Ok(addrs)
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(r: &CachingResolver, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        r.resolve(&uri, &Config::default(), NextTimeout::default())
            .map(|a| a.iter().copied().collect())
    }

    fn resolve(url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        resolve_with(&CachingResolver::default(), url)
    }

    /// A resolver whose lookups answer `127.0.0.7` or fail, and count themselves.
    fn scripted(fail: bool, calls: std::sync::Arc<AtomicU64>) -> CachingResolver {
        CachingResolver {
            lookup: Box::new(move |uri, _, _| {
                calls.fetch_add(1, Ordering::Relaxed);
                if fail {
                    return Err(ureq::Error::HostNotFound);
                }
                let port = uri.port_u16().unwrap_or(443);
                let mut out = DefaultResolver::default().empty();
                out.push(SocketAddr::from(([127, 0, 0, 7], port)));
                Ok(out)
            }),
        }
    }

    #[test]
    fn ip_literals_are_parsed_not_looked_up() {
        assert_eq!(
            resolve("https://127.0.0.1:8006/api2/json").unwrap(),
            ["127.0.0.1:8006".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("https://[::1]/api2/json").unwrap(),
            ["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        // Nothing was cached for literals.
        let cached = cache()
            .as_ref()
            .is_some_and(|c| c.contains_key("127.0.0.1:8006"));
        assert!(!cached);
    }

    #[test]
    fn names_are_looked_up_once_per_ttl() {
        let calls = std::sync::Arc::new(AtomicU64::new(0));
        let r = scripted(false, calls.clone());
        let want: SocketAddr = "127.0.0.7:8006".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(
                resolve_with(&r, "https://pve-cached.test:8006/api2/json").unwrap(),
                [want]
            );
        }
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "one lookup, then the cache"
        );
        // Once the entry is older than the TTL it is looked up again.
        let long_ago = Instant::now() - DEFAULT_TTL - Duration::from_secs(1);
        cache()
            .as_mut()
            .unwrap()
            .get_mut("pve-cached.test:8006")
            .unwrap()
            .0 = long_ago;
        resolve_with(&r, "https://pve-cached.test:8006/").unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_expired_entry_is_used_when_the_lookup_fails() {
        let calls = std::sync::Arc::new(AtomicU64::new(0));
        let good = scripted(false, calls.clone());
        let bad = scripted(true, calls.clone());
        resolve_with(&good, "https://pve-flaky.test:8006/").unwrap();
        let long_ago = Instant::now() - DEFAULT_TTL - Duration::from_secs(1);
        cache()
            .as_mut()
            .unwrap()
            .get_mut("pve-flaky.test:8006")
            .unwrap()
            .0 = long_ago;
        assert_eq!(
            resolve_with(&bad, "https://pve-flaky.test:8006/").unwrap(),
            ["127.0.0.7:8006".parse::<SocketAddr>().unwrap()]
        );
        // A name never resolved has nothing to fall back on; failures are not cached.
        assert!(resolve_with(&bad, "https://pve-never.test:8006/").is_err());
        assert!(
            !cache()
                .as_ref()
                .unwrap()
                .contains_key("pve-never.test:8006")
        );
    }
}
