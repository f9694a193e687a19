//! The persisted system settings (redb `settings/system`, the reference's `system.json`,
//! spec/config-and-updates.md §4): every key with its JSON name, type and range. A write is
//! checked as a whole — JSON types first (so a wrong type is named by its key, not by a
//! serde position), then ranges and cross-field rules — and nothing is stored unless all of
//! it is valid.

use super::{SettingError, bad, parse_cidrs, valid_origin};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Poll intervals (seconds). The reference refuses < 10 s through the API but the
/// environment here has always accepted 1 s (tests, labs); both paths share one range.
pub const POLL_INTERVAL_SECS: std::ops::RangeInclusive<i64> = 1..=3600;
pub const DEFAULT_PVE_SECS: i64 = 10;
pub const DEFAULT_PBS_SECS: i64 = 60;
pub const DEFAULT_PMG_SECS: i64 = 60;
pub const DEFAULT_ADAPTIVE_SECS: [i64; 3] = [10, 5, 300]; // base, min, max
/// The Proxmox client's own default, so the library and the server agree.
pub const DEFAULT_CONNECTION_TIMEOUT_SECS: i64 =
    crate::proxmox::http::DEFAULT_TIMEOUT.as_secs() as i64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pve_polling_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbs_polling_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmg_polling_interval: Option<i64>,
    /// Seconds between backup/snapshot refreshes; 0 = every `BACKUP_POLLING_CYCLES` polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_polling_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_polling_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_polling_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_polling_base_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_polling_min_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_polling_max_interval: Option<i64>,
    /// Stored for compatibility and ignored on load, as in the reference: the listen
    /// port comes from the environment or `--listen` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_channel: Option<String>,
    #[serde(default)]
    pub auto_update_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_update_check_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(default)]
    pub discovery_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_subnet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_config: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    #[serde(default)]
    pub allow_embedding: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_embed_origins: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_monitoring_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_cache_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<i64>,
    #[serde(
        default,
        rename = "webhookAllowedPrivateCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_allowed_private_cidrs: Option<String>,
    /// Unknown keys are kept so a settings write never drops what a newer build stored.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Copy)]
enum Ty {
    Int,
    Bool,
    Str,
    Obj,
}

/// The JSON type of every known key.
const KEYS: &[(&str, Ty)] = &[
    ("pvePollingInterval", Ty::Int),
    ("pbsPollingInterval", Ty::Int),
    ("pmgPollingInterval", Ty::Int),
    ("backupPollingInterval", Ty::Int),
    ("backupPollingEnabled", Ty::Bool),
    ("adaptivePollingEnabled", Ty::Bool),
    ("adaptivePollingBaseInterval", Ty::Int),
    ("adaptivePollingMinInterval", Ty::Int),
    ("adaptivePollingMaxInterval", Ty::Int),
    ("backendPort", Ty::Int),
    ("frontendPort", Ty::Int),
    ("allowedOrigins", Ty::Str),
    ("connectionTimeout", Ty::Int),
    ("updateChannel", Ty::Str),
    ("autoUpdateEnabled", Ty::Bool),
    ("autoUpdateCheckInterval", Ty::Int),
    ("autoUpdateTime", Ty::Str),
    ("logLevel", Ty::Str),
    ("discoveryEnabled", Ty::Bool),
    ("discoverySubnet", Ty::Str),
    ("discoveryConfig", Ty::Obj),
    ("theme", Ty::Str),
    ("allowEmbedding", Ty::Bool),
    ("allowedEmbedOrigins", Ty::Str),
    ("temperatureMonitoringEnabled", Ty::Bool),
    ("dnsCacheTimeout", Ty::Int),
    ("sshPort", Ty::Int),
    ("webhookAllowedPrivateCIDRs", Ty::Str),
];

/// Read-only keys of the GET view; a client that echoes the whole GET body back must not
/// store them as settings.
pub const VIEW_ONLY_KEYS: &[&str] = &["envOverrides", "effective"];

/// Checks the JSON type of every known key of `map` (unknown keys pass through untouched).
pub fn check_types(map: &Map<String, Value>) -> Vec<SettingError> {
    let mut errs = Vec::new();
    for (key, ty) in KEYS {
        // null resets a key to its default.
        let Some(v) = map.get(*key).filter(|v| !v.is_null()) else {
            continue;
        };
        let ok = match ty {
            Ty::Int => v.as_i64().is_some(),
            Ty::Bool => v.is_boolean(),
            Ty::Str => v.is_string(),
            Ty::Obj => v.is_object(),
        };
        if !ok {
            let want = match ty {
                Ty::Int => "a whole number",
                Ty::Bool => "a boolean",
                Ty::Str => "a string",
                Ty::Obj => "an object",
            };
            errs.push(bad(key, format!("must be {want}")));
        }
    }
    errs
}

fn range(errs: &mut Vec<SettingError>, key: &str, v: Option<i64>, lo: i64, hi: i64, unit: &str) {
    if let Some(v) = v
        && !(lo..=hi).contains(&v)
    {
        errs.push(bad(key, format!("must be from {lo} to {hi} {unit}")));
    }
}

impl SystemSettings {
    /// Checks ranges, enumerations and cross-field rules; errors are named by JSON key.
    pub fn validate(&self) -> Vec<SettingError> {
        let mut errs = Vec::new();
        let (lo, hi) = (*POLL_INTERVAL_SECS.start(), *POLL_INTERVAL_SECS.end());
        range(
            &mut errs,
            "pvePollingInterval",
            self.pve_polling_interval,
            lo,
            hi,
            "seconds",
        );
        range(
            &mut errs,
            "pbsPollingInterval",
            self.pbs_polling_interval,
            lo,
            hi,
            "seconds",
        );
        range(
            &mut errs,
            "pmgPollingInterval",
            self.pmg_polling_interval,
            lo,
            hi,
            "seconds",
        );
        if let Some(v) = self.backup_polling_interval
            && v != 0
            && !(10..=604_800).contains(&v)
        {
            errs.push(bad(
                "backupPollingInterval",
                "must be 0 (every few poll cycles) or from 10 to 604800 seconds",
            ));
        }
        let adaptive = [
            (
                "adaptivePollingBaseInterval",
                self.adaptive_polling_base_interval,
            ),
            (
                "adaptivePollingMinInterval",
                self.adaptive_polling_min_interval,
            ),
            (
                "adaptivePollingMaxInterval",
                self.adaptive_polling_max_interval,
            ),
        ];
        for (k, v) in adaptive {
            range(&mut errs, k, v, lo, hi, "seconds");
        }
        if errs.iter().all(|e| !e.name.starts_with("adaptive")) {
            let [base, min, max] = self.adaptive_secs();
            if min > max {
                errs.push(bad(
                    "adaptivePollingMinInterval",
                    format!("must not exceed adaptivePollingMaxInterval ({max})"),
                ));
            } else if !(min..=max).contains(&base) {
                errs.push(bad(
                    "adaptivePollingBaseInterval",
                    format!("must lie between the min ({min}) and max ({max}) intervals"),
                ));
            }
        }
        range(&mut errs, "backendPort", self.backend_port, 0, 65535, "");
        range(&mut errs, "frontendPort", self.frontend_port, 0, 65535, "");
        range(
            &mut errs,
            "connectionTimeout",
            self.connection_timeout,
            1,
            600,
            "seconds",
        );
        if let Some(c) = &self.update_channel
            && !matches!(c.as_str(), "" | "stable" | "rc")
        {
            errs.push(bad("updateChannel", "must be stable or rc"));
        }
        range(
            &mut errs,
            "autoUpdateCheckInterval",
            self.auto_update_check_interval,
            0,
            168,
            "hours",
        );
        if let Some(t) = &self.auto_update_time
            && !valid_hhmm(t)
        {
            errs.push(bad("autoUpdateTime", "must be a time of day like 03:00"));
        }
        if let Some(l) = &self.log_level
            && super::LogLevel::parse(l).is_none()
        {
            errs.push(bad(
                "logLevel",
                "must be one of trace, debug, info, warn, error",
            ));
        }
        if let Some(s) = &self.discovery_subnet
            && s != "auto"
            && !s.trim().is_empty()
            && parse_cidrs(s).is_err()
        {
            errs.push(bad(
                "discoverySubnet",
                "must be auto or a comma list of CIDRs",
            ));
        }
        if let Some(c) = &self.discovery_config {
            errs.extend(check_discovery_config(c));
        }
        if let Some(t) = &self.theme
            && !matches!(t.as_str(), "" | "light" | "dark")
        {
            errs.push(bad("theme", "must be light, dark or empty"));
        }
        for (key, list) in [
            ("allowedEmbedOrigins", &self.allowed_embed_origins),
            ("allowedOrigins", &self.allowed_origins),
        ] {
            let Some(o) = list else { continue };
            for origin in o.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let star_ok = key == "allowedOrigins" && origin == "*";
                if !star_ok && !valid_origin(origin) {
                    errs.push(bad(
                        key,
                        format!("{origin:?} is not an origin like https://host[:port]"),
                    ));
                }
            }
        }
        range(
            &mut errs,
            "dnsCacheTimeout",
            self.dns_cache_timeout,
            0,
            86_400,
            "seconds",
        );
        range(&mut errs, "sshPort", self.ssh_port, 1, 65535, "");
        if let Some(c) = &self.webhook_allowed_private_cidrs
            && let Err(e) = parse_cidrs(c)
        {
            errs.push(bad("webhookAllowedPrivateCIDRs", e));
        }
        errs
    }

    /// Adaptive polling (base, min, max) in seconds, defaults filled in.
    pub fn adaptive_secs(&self) -> [i64; 3] {
        let d = DEFAULT_ADAPTIVE_SECS;
        [
            self.adaptive_polling_base_interval.unwrap_or(d[0]),
            self.adaptive_polling_min_interval.unwrap_or(d[1]),
            self.adaptive_polling_max_interval.unwrap_or(d[2]),
        ]
    }
}

fn valid_hhmm(t: &str) -> bool {
    let Some((h, m)) = t.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

/// `discoveryConfig` (snake_case, camelCase legacy names accepted): types and ranges.
fn check_discovery_config(c: &Map<String, Value>) -> Vec<SettingError> {
    let mut errs = Vec::new();
    let get = |a: &str, b: &str| c.get(a).or_else(|| c.get(b));
    let name = |k: &str| format!("discoveryConfig.{k}");
    if let Some(v) = get("environment_override", "environmentOverride")
        && !v.as_str().is_some_and(|s| {
            matches!(
                s,
                "auto"
                    | "native"
                    | "docker_host"
                    | "docker_bridge"
                    | "lxc_privileged"
                    | "lxc_unprivileged"
            )
        })
    {
        errs.push(bad(
            &name("environment_override"),
            "must be auto, native, docker_host, docker_bridge, lxc_privileged or lxc_unprivileged",
        ));
    }
    for (a, b) in [
        ("subnet_allowlist", "subnetAllowlist"),
        ("subnet_blocklist", "subnetBlocklist"),
    ] {
        if let Some(v) = get(a, b) {
            let ok = v.as_array().is_some_and(|items| {
                items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| parse_cidrs(s).is_ok()))
            });
            if !ok {
                errs.push(bad(&name(a), "must be an array of CIDR strings"));
            }
        }
    }
    for (a, b, lo, hi) in [
        ("max_hosts_per_scan", "maxHostsPerScan", 1, 65_536),
        ("max_concurrent", "maxConcurrent", 1, 1000),
        ("dial_timeout_ms", "dialTimeoutMs", 1, 60_000),
        ("http_timeout_ms", "httpTimeoutMs", 1, 60_000),
    ] {
        if let Some(v) = get(a, b)
            && !v.as_i64().is_some_and(|n| (lo..=hi).contains(&n))
        {
            errs.push(bad(
                &name(a),
                format!("must be a whole number from {lo} to {hi}"),
            ));
        }
    }
    for (a, b) in [
        ("enable_reverse_dns", "enableReverseDns"),
        ("scan_gateways", "scanGateways"),
    ] {
        if let Some(v) = get(a, b)
            && !v.is_boolean()
        {
            errs.push(bad(&name(a), "must be a boolean"));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errs_of(v: Value) -> Vec<String> {
        let map = v.as_object().unwrap().clone();
        let mut e = check_types(&map);
        if e.is_empty() {
            let s: SystemSettings = serde_json::from_value(Value::Object(map)).unwrap();
            e = s.validate();
        }
        e.into_iter().map(|e| e.name).collect()
    }

    #[test]
    fn wrong_types_are_named_by_key() {
        assert_eq!(
            errs_of(json!({"pvePollingInterval": "10"})),
            ["pvePollingInterval"]
        );
        assert_eq!(
            errs_of(json!({"pvePollingInterval": 10.5})),
            ["pvePollingInterval"]
        );
        assert_eq!(
            errs_of(json!({"autoUpdateEnabled": 1})),
            ["autoUpdateEnabled"]
        );
        assert_eq!(errs_of(json!({"discoveryConfig": []})), ["discoveryConfig"]);
    }

    #[test]
    fn ranges_and_cross_field_rules() {
        assert!(errs_of(json!({"pvePollingInterval": 5, "connectionTimeout": 30})).is_empty());
        assert_eq!(
            errs_of(json!({"pvePollingInterval": 0})),
            ["pvePollingInterval"]
        );
        assert_eq!(
            errs_of(json!({"pbsPollingInterval": 3601})),
            ["pbsPollingInterval"]
        );
        assert_eq!(
            errs_of(json!({"backupPollingInterval": 5})),
            ["backupPollingInterval"]
        );
        assert!(errs_of(json!({"backupPollingInterval": 0})).is_empty());
        assert_eq!(
            errs_of(json!({"adaptivePollingMinInterval": 400})),
            ["adaptivePollingMinInterval"]
        );
        assert_eq!(
            errs_of(json!({"adaptivePollingBaseInterval": 2})),
            ["adaptivePollingBaseInterval"]
        );
        assert_eq!(
            errs_of(json!({"updateChannel": "nightly"})),
            ["updateChannel"]
        );
        assert_eq!(
            errs_of(json!({"autoUpdateTime": "25:00"})),
            ["autoUpdateTime"]
        );
        assert_eq!(errs_of(json!({"theme": "neon"})), ["theme"]);
        assert_eq!(errs_of(json!({"sshPort": 0})), ["sshPort"]);
        assert_eq!(
            errs_of(json!({"webhookAllowedPrivateCIDRs": "10.0.0.0/8, nope"})),
            ["webhookAllowedPrivateCIDRs"]
        );
        assert_eq!(
            errs_of(json!({"discoveryConfig": {"max_concurrent": 0, "subnetBlocklist": ["x"]}})),
            [
                "discoveryConfig.subnet_blocklist",
                "discoveryConfig.max_concurrent"
            ]
        );
        assert!(errs_of(json!({"allowedOrigins": "*"})).is_empty());
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let s: SystemSettings =
            serde_json::from_value(json!({"futureKey": [1, 2], "theme": "dark"})).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["futureKey"], json!([1, 2]));
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["autoUpdateEnabled"], false);
    }
}
