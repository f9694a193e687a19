//! Fault injection: per-instance settings changed at start (`--faults`) or at run time through
//! the admin endpoint. Random faults are decided by hashing the instance's request counter, so a
//! given request sequence always meets the same faults.

use super::noise::{hash, key, unit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSet {
    /// Added to every response.
    pub latency_ms: u64,
    /// Share of requests answered with `error_status` (500 or 503).
    pub error_rate: f64,
    pub error_status: u16,
    /// Share of requests that never get an answer (held until shutdown).
    pub hang_rate: f64,
    /// Share of requests whose connection is reset instead of answered.
    pub reset_rate: f64,
    /// Share of requests answered 200 with a truncated, invalid JSON body.
    pub invalid_json_rate: f64,
    /// The instance refuses connections.
    pub down: bool,
    /// Nodes (PVE) that are offline.
    pub offline_nodes: BTreeSet<String>,
    /// Guests (PVE, by vmid) whose CPU is pinned at `HOT_GUEST_CPU` while they run.
    pub hot_guests: BTreeSet<u32>,
    /// Storages (PVE, by name) reported `FULL_STORAGE_USED` full on every node.
    pub full_storages: BTreeSet<String>,
    /// Datastores (PBS, by name) whose verification jobs fail.
    pub failed_verifies: BTreeSet<String>,
    /// Bumped to invalidate every ticket issued so far.
    pub ticket_generation: u64,
    /// Tickets issued before this Unix second are expired.
    pub tickets_not_before: i64,
}

/// A partial update, as the admin endpoint and `--faults` accept it. Unknown keys are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPatch {
    /// Instance name; omitted = every instance.
    pub instance: Option<String>,
    pub latency_ms: Option<u64>,
    pub error_rate: Option<f64>,
    pub error_status: Option<u16>,
    pub hang_rate: Option<f64>,
    pub reset_rate: Option<f64>,
    pub invalid_json_rate: Option<f64>,
    pub down: Option<bool>,
    /// Take these nodes offline (PVE).
    pub offline_nodes: Option<Vec<String>>,
    /// Bring these nodes back.
    pub online_nodes: Option<Vec<String>>,
    /// Replaces the set of hot guests (vmids; `[]` cools them all).
    pub hot_guests: Option<Vec<u32>>,
    /// Replaces the set of full storages (names; `[]` empties them all).
    pub full_storages: Option<Vec<String>>,
    /// Replaces the set of datastores whose verification jobs fail (PBS; `[]` heals them).
    pub failed_verifies: Option<Vec<String>>,
    /// true: every ticket issued so far becomes invalid (signature no longer matches).
    pub invalidate_tickets: Option<bool>,
    /// true: every ticket issued so far counts as expired.
    pub expire_tickets: Option<bool>,
    /// true: serve a freshly generated certificate (new fingerprint).
    pub rotate_certificate: Option<bool>,
}

/// CPU share of a hot guest: well above any sane alert threshold, below the 100 % clamp.
pub const HOT_GUEST_CPU: f64 = 0.95;
/// Used share of a full storage.
pub const FULL_STORAGE_USED: f64 = 0.99;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("{0} must be between 0 and 1")]
    Rate(&'static str),
    #[error("errorStatus must be 500 or 503")]
    Status,
    #[error("latencyMs must be at most 600000")]
    Latency,
    #[error("unknown instance '{0}'")]
    Instance(String),
    #[error("unknown node '{0}' in instance '{1}'")]
    Node(String, String),
    #[error("bad fault '{0}': {1}")]
    Syntax(String, String),
}

impl FaultPatch {
    pub fn validate(&self) -> Result<(), FaultError> {
        for (name, v) in [
            ("errorRate", self.error_rate),
            ("hangRate", self.hang_rate),
            ("resetRate", self.reset_rate),
            ("invalidJsonRate", self.invalid_json_rate),
        ] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(FaultError::Rate(name));
            }
        }
        if let Some(s) = self.error_status
            && s != 500
            && s != 503
        {
            return Err(FaultError::Status);
        }
        if self.latency_ms.is_some_and(|l| l > 600_000) {
            return Err(FaultError::Latency);
        }
        Ok(())
    }

    /// Applies to one instance's set (node names already checked by the caller).
    pub fn apply(&self, f: &mut FaultSet, now: i64) {
        if let Some(v) = self.latency_ms {
            f.latency_ms = v;
        }
        if let Some(v) = self.error_rate {
            f.error_rate = v;
        }
        if let Some(v) = self.error_status {
            f.error_status = v;
        }
        if let Some(v) = self.hang_rate {
            f.hang_rate = v;
        }
        if let Some(v) = self.reset_rate {
            f.reset_rate = v;
        }
        if let Some(v) = self.invalid_json_rate {
            f.invalid_json_rate = v;
        }
        if let Some(v) = self.down {
            f.down = v;
        }
        for n in self.offline_nodes.iter().flatten() {
            f.offline_nodes.insert(n.clone());
        }
        for n in self.online_nodes.iter().flatten() {
            f.offline_nodes.remove(n);
        }
        if let Some(v) = &self.hot_guests {
            f.hot_guests = v.iter().copied().collect();
        }
        if let Some(v) = &self.full_storages {
            f.full_storages = v.iter().cloned().collect();
        }
        if let Some(v) = &self.failed_verifies {
            f.failed_verifies = v.iter().cloned().collect();
        }
        if self.invalidate_tickets == Some(true) {
            f.ticket_generation += 1;
        }
        if self.expire_tickets == Some(true) {
            f.tickets_not_before = now + 1;
        }
    }

    /// Parses the `--faults` syntax: `[INSTANCE:]key=value` items separated by `,` or `;`,
    /// e.g. `latency=200,cluster1:error-rate=0.1,cluster1:offline=c1-pve2,pbs1:down`.
    pub fn parse_cli(spec: &str) -> Result<Vec<FaultPatch>, FaultError> {
        let mut out = Vec::new();
        for item in spec
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let syn = |m: &str| FaultError::Syntax(item.to_string(), m.to_string());
            let (inst, kv) = match item.split_once(':') {
                Some((i, rest)) if !i.contains('=') => (Some(i.to_string()), rest),
                _ => (None, item),
            };
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let mut p = FaultPatch {
                instance: inst,
                ..Default::default()
            };
            let rate = |v: &str| {
                v.parse::<f64>()
                    .map_err(|_| syn("expected a number between 0 and 1"))
            };
            match k {
                "latency" => {
                    let ms = v
                        .trim_end_matches("ms")
                        .parse::<u64>()
                        .map_err(|_| syn("expected milliseconds"))?;
                    p.latency_ms = Some(ms);
                }
                "error-rate" => p.error_rate = Some(rate(v)?),
                "error-status" => {
                    p.error_status = Some(v.parse().map_err(|_| syn("expected 500 or 503"))?)
                }
                "hang-rate" | "hang" => {
                    p.hang_rate = Some(if v.is_empty() { 1.0 } else { rate(v)? })
                }
                "reset-rate" | "reset" => {
                    p.reset_rate = Some(if v.is_empty() { 1.0 } else { rate(v)? })
                }
                "invalid-json-rate" | "invalid-json" => {
                    p.invalid_json_rate = Some(if v.is_empty() { 1.0 } else { rate(v)? })
                }
                "down" if v.is_empty() => p.down = Some(true),
                "offline" if !v.is_empty() => p.offline_nodes = Some(vec![v.to_string()]),
                "hot-guest" => {
                    p.hot_guests = Some(vec![v.parse().map_err(|_| syn("expected a vmid"))?])
                }
                "full-storage" if !v.is_empty() => p.full_storages = Some(vec![v.to_string()]),
                "failed-verify" if !v.is_empty() => p.failed_verifies = Some(vec![v.to_string()]),
                "expire-tickets" if v.is_empty() => p.expire_tickets = Some(true),
                "invalidate-tickets" if v.is_empty() => p.invalidate_tickets = Some(true),
                _ => {
                    return Err(syn(
                        "unknown fault (latency, error-rate, error-status, hang-rate, reset-rate, invalid-json-rate, down, offline=NODE, hot-guest=VMID, full-storage=NAME, failed-verify=DATASTORE, expire-tickets, invalidate-tickets)",
                    ));
                }
            }
            p.validate()?;
            out.push(p);
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Error(u16),
    Hang,
    Reset,
    InvalidJson,
}

impl FaultSet {
    /// What happens to request number `n` of `instance`.
    pub fn decide(&self, seed: u64, instance: &str, n: u64) -> Decision {
        let roll = |salt: u64, p: f64| p > 0.0 && unit(hash(&[seed, key(instance), n, salt])) < p;
        if roll(1, self.reset_rate) {
            Decision::Reset
        } else if roll(2, self.hang_rate) {
            Decision::Hang
        } else if roll(3, self.error_rate) {
            Decision::Error(if self.error_status == 503 { 503 } else { 500 })
        } else if roll(4, self.invalid_json_rate) {
            Decision::InvalidJson
        } else {
            Decision::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_syntax() {
        let p = FaultPatch::parse_cli(
            "latency=200ms, cluster1:error-rate=0.25;cluster1:offline=c1-pve2,pbs1:down",
        )
        .unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].latency_ms, Some(200));
        assert_eq!(p[1].instance.as_deref(), Some("cluster1"));
        assert_eq!(p[1].error_rate, Some(0.25));
        assert_eq!(p[2].offline_nodes, Some(vec!["c1-pve2".to_string()]));
        assert_eq!(p[3].down, Some(true));
        assert!(FaultPatch::parse_cli("error-rate=2").is_err());
        assert!(FaultPatch::parse_cli("error-status=404").is_err());
        assert!(FaultPatch::parse_cli("explode").is_err());
        assert!(FaultPatch::parse_cli("latency=abc").is_err());
        let p = FaultPatch::parse_cli("hot-guest=101,cluster1:full-storage=local").unwrap();
        assert_eq!(p[0].hot_guests, Some(vec![101]));
        assert_eq!(p[1].full_storages, Some(vec!["local".to_string()]));
        assert!(FaultPatch::parse_cli("hot-guest=abc").is_err());
        // Lists replace the set; an empty list lifts the fault.
        let mut f = FaultSet::default();
        p[0].apply(&mut f, 0);
        assert!(f.hot_guests.contains(&101));
        FaultPatch {
            hot_guests: Some(vec![]),
            ..Default::default()
        }
        .apply(&mut f, 0);
        assert!(f.hot_guests.is_empty());
    }

    #[test]
    fn rates_are_respected_roughly_and_deterministically() {
        let f = FaultSet {
            error_rate: 0.3,
            error_status: 503,
            ..Default::default()
        };
        let errs = (0..10_000)
            .filter(|n| f.decide(1, "x", *n) == Decision::Error(503))
            .count();
        assert!((2_700..3_300).contains(&errs), "{errs}");
        assert_eq!(f.decide(1, "x", 17), f.decide(1, "x", 17));
        assert_eq!(FaultSet::default().decide(1, "x", 5), Decision::Pass);
    }
}
