//! Cluster endpoint failover for one PVE instance: which address the poller talks to, and
//! which other members of the same cluster it may fall back to when that address stops
//! answering. Members come from `GET /cluster/status` (their `ip`), reached with the
//! configured scheme and port; membership is re-read every `REDETECT_MS` and after any
//! failover. Pure bookkeeping driven by the caller's clock, so it is tested without a network.

use crate::proxmox::Product;
use crate::proxmox::http::normalize_base_url;
use crate::proxmox::types::pve::ClusterStatusItem;

/// Cluster membership is read again after this long (and after a failure).
pub const REDETECT_MS: i64 = 5 * 60_000;

#[derive(Debug, Clone)]
pub struct Endpoints {
    configured: String,
    active: String,
    /// Other members' base addresses (online ones first), never the active one.
    members: Vec<String>,
    checked_at: Option<i64>,
    /// A failure happened since the last membership read: read it again on the next success.
    stale: bool,
}

impl Endpoints {
    pub fn new(configured: &str) -> Endpoints {
        Endpoints {
            configured: configured.to_string(),
            active: configured.to_string(),
            members: Vec::new(),
            checked_at: None,
            stale: true,
        }
    }

    /// The address polls go to now.
    pub fn active(&self) -> &str {
        &self.active
    }

    pub fn is_failed_over(&self) -> bool {
        self.active != self.configured
    }

    /// Where to try next after the active address failed: the configured address first
    /// (it may be back), then the other known members, in order.
    pub fn alternatives(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_failed_over() {
            out.push(self.configured.clone());
        }
        for m in &self.members {
            if *m != self.active && !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }

    pub fn mark_failed(&mut self) {
        self.stale = true;
    }

    pub fn switch_to(&mut self, host: &str) {
        self.active = host.to_string();
        self.stale = true;
    }

    pub fn detection_due(&self, now: i64) -> bool {
        self.stale || self.checked_at.is_none_or(|t| now - t >= REDETECT_MS)
    }

    /// Records a membership read (`None` = the read failed: keep what was known, try again
    /// after the usual interval rather than on every cycle).
    pub fn set_members(&mut self, items: Option<&[ClusterStatusItem]>, now: i64) {
        self.checked_at = Some(now);
        self.stale = false;
        let Some(items) = items else {
            return;
        };
        let mut nodes: Vec<&ClusterStatusItem> = items
            .iter()
            .filter(|i| i.kind == "node" && !i.ip.trim().is_empty())
            .collect();
        // Online members first; stable order by name otherwise.
        nodes.sort_by(|a, b| b.online.cmp(&a.online).then(a.name.cmp(&b.name)));
        let active_key = authority_host(&self.active);
        self.members = nodes
            .into_iter()
            .filter_map(|n| member_url(&self.configured, &n.ip))
            .filter(|m| Some(authority_host(m)) != Some(active_key.clone()))
            .fold(Vec::new(), |mut v, m| {
                if !v.contains(&m) {
                    v.push(m);
                }
                v
            });
    }

    pub fn members(&self) -> &[String] {
        &self.members
    }
}

/// `scheme://host[:port]` of another cluster member: the configured address with its host
/// replaced by the member's IP (IPv6 bracketed). `None` when the configured address is unusable.
pub fn member_url(configured: &str, ip: &str) -> Option<String> {
    let base = normalize_base_url(configured, Product::Pve).ok()?;
    let (scheme, rest) = base.split_once("://")?;
    let authority = rest.split('/').next()?;
    let port = authority
        .rfind(':')
        .filter(|i| !authority[*i..].contains(']'))
        .map(|i| &authority[i..])
        .unwrap_or("");
    let ip = ip.trim();
    let host = if ip.contains(':') && !ip.starts_with('[') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    Some(format!("{scheme}://{host}{port}"))
}

/// The host and port of an address, normalised (for comparing addresses typed differently).
fn authority_host(addr: &str) -> String {
    normalize_base_url(addr, Product::Pve).unwrap_or_else(|_| addr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, ip: &str, online: bool) -> ClusterStatusItem {
        serde_json::from_value(serde_json::json!({
            "type": "node", "id": format!("node/{name}"), "name": name, "ip": ip,
            "online": u8::from(online), "local": 0, "nodeid": 1
        }))
        .unwrap()
    }

    #[test]
    fn member_urls_keep_scheme_and_port() {
        assert_eq!(
            member_url("https://pve1.lan:8006", "10.0.0.2").as_deref(),
            Some("https://10.0.0.2:8006")
        );
        assert_eq!(
            member_url("pve1", "fd00::2").as_deref(),
            Some("https://[fd00::2]:8006")
        );
        assert_eq!(member_url("", "10.0.0.2"), None);
    }

    #[test]
    fn membership_is_read_every_five_minutes_and_after_failures() {
        let mut e = Endpoints::new("https://127.0.0.1:8006");
        assert!(e.detection_due(0), "never read");
        e.set_members(
            Some(&[
                item("a", "127.0.0.1", true),
                item("c", "10.0.0.3", false),
                item("b", "10.0.0.2", true),
            ]),
            1_000,
        );
        // The active address itself is not an alternative; online members come first.
        assert_eq!(
            e.alternatives(),
            vec!["https://10.0.0.2:8006", "https://10.0.0.3:8006"]
        );
        assert!(!e.detection_due(1_000 + REDETECT_MS - 1));
        assert!(e.detection_due(1_000 + REDETECT_MS));
        e.mark_failed();
        assert!(e.detection_due(2_000), "a failure asks for a new read");
        e.switch_to("https://10.0.0.2:8006");
        assert!(e.is_failed_over());
        // The configured address is tried first once failed over.
        assert_eq!(
            e.alternatives(),
            vec!["https://127.0.0.1:8006", "https://10.0.0.3:8006"]
        );
        // A failed membership read keeps the known members.
        e.set_members(None, 3_000);
        assert!(!e.detection_due(3_000));
        assert_eq!(e.alternatives().len(), 2);
    }
}
