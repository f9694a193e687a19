//! The alert configuration document (`GET/PUT /api/alerts/config`, spec/alerts.md §2): its
//! types, the defaults of a new install, and the normalisation + validation that every write
//! goes through. Parsing never half-applies: a document either normalises completely or is
//! refused with the offending field named.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `{trigger, clear}`; a metric is off when `trigger <= 0`. A bare number (as the docs show,
/// e.g. `"networkOut": -1`) is accepted too and means `{trigger: n, clear: n - 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Hysteresis {
    pub trigger: f64,
    pub clear: f64,
}

impl Hysteresis {
    pub const fn new(trigger: f64, clear: f64) -> Hysteresis {
        Hysteresis { trigger, clear }
    }
    pub fn enabled(&self) -> bool {
        self.trigger > 0.0
    }
    /// The clear level actually used: a missing clear means `trigger - 5`.
    pub fn effective_clear(&self) -> f64 {
        if self.clear <= 0.0 {
            (self.trigger - 5.0).max(0.0)
        } else {
            self.clear
        }
    }
}

impl<'de> Deserialize<'de> for Hysteresis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        let num = |v: &serde_json::Value, what: &str| -> Result<f64, D::Error> {
            match v {
                serde_json::Value::Null => Ok(0.0),
                serde_json::Value::Number(n) => n
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| D::Error::custom(format!("{what} is not a finite number"))),
                _ => Err(D::Error::custom(format!("{what} must be a number"))),
            }
        };
        match &v {
            serde_json::Value::Number(_) => {
                let t = num(&v, "threshold")?;
                Ok(Hysteresis::new(t, if t > 0.0 { t - 5.0 } else { 0.0 }))
            }
            serde_json::Value::Object(m) => Ok(Hysteresis {
                trigger: num(
                    m.get("trigger").unwrap_or(&serde_json::Value::Null),
                    "trigger",
                )?,
                clear: num(m.get("clear").unwrap_or(&serde_json::Value::Null), "clear")?,
            }),
            _ => Err(D::Error::custom(
                "expected {\"trigger\": number, \"clear\": number}",
            )),
        }
    }
}

/// Thresholds for one family (guest/node/host defaults) or one resource (an override).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ThresholdConfig {
    #[serde(skip_serializing_if = "is_false")]
    pub disabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disable_connectivity: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub powered_off_severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_read: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_in: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_out: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Hysteresis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    // Legacy single-number thresholds: folded into the object form on write, never emitted.
    #[serde(skip_serializing)]
    pub cpu_legacy: Option<f64>,
    #[serde(skip_serializing)]
    pub memory_legacy: Option<f64>,
    #[serde(skip_serializing)]
    pub disk_legacy: Option<f64>,
    #[serde(skip_serializing)]
    pub disk_read_legacy: Option<f64>,
    #[serde(skip_serializing)]
    pub disk_write_legacy: Option<f64>,
    #[serde(skip_serializing)]
    pub network_in_legacy: Option<f64>,
    #[serde(skip_serializing)]
    pub network_out_legacy: Option<f64>,
}

/// The metrics a `ThresholdConfig` can carry, by their JSON names.
pub const METRICS: [&str; 9] = [
    "cpu",
    "memory",
    "disk",
    "diskRead",
    "diskWrite",
    "networkIn",
    "networkOut",
    "usage",
    "temperature",
];

impl ThresholdConfig {
    pub fn metric(&self, name: &str) -> Option<Hysteresis> {
        match name {
            "cpu" => self.cpu,
            "memory" => self.memory,
            "disk" => self.disk,
            "diskRead" => self.disk_read,
            "diskWrite" => self.disk_write,
            "networkIn" => self.network_in,
            "networkOut" => self.network_out,
            "usage" => self.usage,
            "temperature" => self.temperature,
            _ => None,
        }
    }

    fn metric_mut(&mut self, name: &str) -> Option<&mut Option<Hysteresis>> {
        Some(match name {
            "cpu" => &mut self.cpu,
            "memory" => &mut self.memory,
            "disk" => &mut self.disk,
            "diskRead" => &mut self.disk_read,
            "diskWrite" => &mut self.disk_write,
            "networkIn" => &mut self.network_in,
            "networkOut" => &mut self.network_out,
            "usage" => &mut self.usage,
            "temperature" => &mut self.temperature,
            _ => return None,
        })
    }

    /// `base` with this override applied: present fields replace, the two switches are OR-ed.
    pub fn merged_over(&self, base: &ThresholdConfig) -> ThresholdConfig {
        let mut out = base.clone();
        out.disabled |= self.disabled;
        out.disable_connectivity |= self.disable_connectivity;
        if self.powered_off_severity.is_some() {
            out.powered_off_severity = self.powered_off_severity.clone();
        }
        for m in METRICS {
            if let (Some(v), Some(slot)) = (self.metric(m), out.metric_mut(m)) {
                *slot = Some(v);
            }
        }
        out
    }

    /// Folds legacy numbers into objects, trims the note, checks every threshold.
    pub(super) fn normalize(&mut self, path: &str, margin: f64, errs: &mut Errors) {
        let legacy = [
            ("cpu", self.cpu_legacy.take()),
            ("memory", self.memory_legacy.take()),
            ("disk", self.disk_legacy.take()),
            ("diskRead", self.disk_read_legacy.take()),
            ("diskWrite", self.disk_write_legacy.take()),
            ("networkIn", self.network_in_legacy.take()),
            ("networkOut", self.network_out_legacy.take()),
        ];
        for (m, v) in legacy {
            if let (Some(v), Some(slot)) = (v, self.metric_mut(m))
                && slot.is_none()
                && v.is_finite()
            {
                *slot = Some(Hysteresis::new(v, (v - margin).max(0.0)));
            }
        }
        for m in METRICS {
            if let Some(h) = self.metric(m) {
                check_hysteresis(&format!("{path}.{m}"), h, errs);
            }
        }
        if let Some(s) = &self.powered_off_severity {
            self.powered_off_severity = Some(normalize_severity(s));
        }
        self.note = self
            .note
            .take()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
    }
}

fn normalize_severity(s: &str) -> String {
    if s.trim().eq_ignore_ascii_case("critical") {
        "critical".into()
    } else {
        "warning".into()
    }
}

fn check_hysteresis(path: &str, h: Hysteresis, errs: &mut Errors) {
    if !h.trigger.is_finite() || !h.clear.is_finite() {
        errs.push((path.into(), "thresholds must be finite numbers".into()));
    } else if h.enabled() && h.clear > h.trigger {
        errs.push((
            format!("{path}.clear"),
            format!(
                "clear ({}) must not be above trigger ({})",
                h.clear, h.trigger
            ),
        ));
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerThresholds {
    pub cpu: Hysteresis,
    pub memory: Hysteresis,
    pub disk: Hysteresis,
    pub restart_count: i64,
    pub restart_window: i64,
    pub memory_warn_pct: i64,
    pub memory_critical_pct: i64,
    pub service_warn_gap_percent: i64,
    pub service_critical_gap_percent: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub state_disable_connectivity: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_powered_off_severity: Option<String>,
}

impl Default for DockerThresholds {
    fn default() -> Self {
        DockerThresholds {
            cpu: Hysteresis::new(80.0, 75.0),
            memory: Hysteresis::new(85.0, 80.0),
            disk: Hysteresis::new(85.0, 80.0),
            restart_count: 3,
            restart_window: 300,
            memory_warn_pct: 90,
            memory_critical_pct: 95,
            service_warn_gap_percent: 10,
            service_critical_gap_percent: 50,
            state_disable_connectivity: false,
            state_powered_off_severity: None,
        }
    }
}

impl DockerThresholds {
    fn normalize(&mut self, errs: &mut Errors) {
        let d = DockerThresholds::default();
        for (name, slot, def) in [
            ("cpu", &mut self.cpu, d.cpu),
            ("memory", &mut self.memory, d.memory),
            ("disk", &mut self.disk, d.disk),
        ] {
            if !slot.enabled() {
                *slot = def;
            }
            check_hysteresis(&format!("dockerDefaults.{name}"), *slot, errs);
        }
        for (slot, def) in [
            (&mut self.restart_count, d.restart_count),
            (&mut self.restart_window, d.restart_window),
            (&mut self.memory_warn_pct, d.memory_warn_pct),
            (&mut self.memory_critical_pct, d.memory_critical_pct),
            (
                &mut self.service_warn_gap_percent,
                d.service_warn_gap_percent,
            ),
            (
                &mut self.service_critical_gap_percent,
                d.service_critical_gap_percent,
            ),
        ] {
            if *slot <= 0 {
                *slot = def;
            }
        }
        if self.service_critical_gap_percent < self.service_warn_gap_percent {
            self.service_critical_gap_percent = self.service_warn_gap_percent;
        }
        if let Some(s) = &self.state_powered_off_severity {
            self.state_powered_off_severity = Some(normalize_severity(s));
        }
    }
}

/// Declares the PMG thresholds once: field, JSON name, default.
macro_rules! pmg_thresholds {
    ($($field:ident $json:literal $def:literal),* $(,)?) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct PmgThresholds {
            $( #[serde(rename = $json)] pub $field: i64, )*
        }
        impl Default for PmgThresholds {
            fn default() -> Self {
                PmgThresholds { $( $field: $def, )* }
            }
        }
        impl PmgThresholds {
            /// Every value `<= 0` means "unset": the default applies.
            fn normalize(&mut self) {
                $( if self.$field <= 0 { self.$field = $def; } )*
            }
        }
    };
}

pmg_thresholds! {
    queue_total_warning "queueTotalWarning" 500,
    queue_total_critical "queueTotalCritical" 1000,
    oldest_message_warn_mins "oldestMessageWarnMins" 30,
    oldest_message_crit_mins "oldestMessageCritMins" 60,
    deferred_queue_warn "deferredQueueWarn" 200,
    deferred_queue_critical "deferredQueueCritical" 500,
    hold_queue_warn "holdQueueWarn" 100,
    hold_queue_critical "holdQueueCritical" 300,
    quarantine_spam_warn "quarantineSpamWarn" 2000,
    quarantine_spam_critical "quarantineSpamCritical" 5000,
    quarantine_virus_warn "quarantineVirusWarn" 2000,
    quarantine_virus_critical "quarantineVirusCritical" 5000,
    quarantine_growth_warn_pct "quarantineGrowthWarnPct" 25,
    quarantine_growth_warn_min "quarantineGrowthWarnMin" 250,
    quarantine_growth_crit_pct "quarantineGrowthCritPct" 50,
    quarantine_growth_crit_min "quarantineGrowthCritMin" 500,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotDefaults {
    pub enabled: bool,
    pub warning_days: i64,
    pub critical_days: i64,
    #[serde(rename = "warningSizeGiB", skip_serializing_if = "Option::is_none")]
    pub warning_size_gib: Option<f64>,
    #[serde(rename = "criticalSizeGiB", skip_serializing_if = "Option::is_none")]
    pub critical_size_gib: Option<f64>,
}

impl Default for SnapshotDefaults {
    fn default() -> Self {
        SnapshotDefaults {
            enabled: false,
            warning_days: 30,
            critical_days: 45,
            warning_size_gib: None,
            critical_size_gib: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupDefaults {
    pub enabled: bool,
    pub warning_days: i64,
    pub critical_days: i64,
}

impl Default for BackupDefaults {
    fn default() -> Self {
        BackupDefaults {
            enabled: false,
            warning_days: 7,
            critical_days: 14,
        }
    }
}

/// Orders warning/critical day (or size) limits: negatives off, warning never above critical,
/// a missing critical takes the warning value.
fn order_limits(warn: &mut f64, crit: &mut f64) {
    if *warn < 0.0 || !warn.is_finite() {
        *warn = 0.0;
    }
    if *crit < 0.0 || !crit.is_finite() {
        *crit = 0.0;
    }
    if *crit == 0.0 && *warn > 0.0 {
        *crit = *warn;
    }
    if *crit > 0.0 && *warn > *crit {
        *warn = *crit;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct QuietSuppress {
    pub performance: bool,
    pub storage: bool,
    pub offline: bool,
}

pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuietHours {
    pub enabled: bool,
    pub start: String,
    pub end: String,
    pub timezone: String,
    #[serde(deserialize_with = "days_map")]
    pub days: BTreeMap<String, bool>,
    pub suppress: QuietSuppress,
}

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours {
            enabled: false,
            start: "22:00".into(),
            end: "08:00".into(),
            timezone: "America/New_York".into(),
            days: WEEKDAYS
                .iter()
                .enumerate()
                .map(|(i, d)| (d.to_string(), i < 5))
                .collect(),
            suppress: QuietSuppress::default(),
        }
    }
}

/// `days` as the backend stores it (`{"monday": true, ...}`), also accepting the UI's
/// alternative form: an array of weekday numbers (0 = Sunday … 6 = Saturday).
fn days_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, bool>, D::Error> {
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    match v {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let day = k.trim().to_ascii_lowercase();
                if !WEEKDAYS.contains(&day.as_str()) {
                    return Err(D::Error::custom(format!("unknown weekday {k:?}")));
                }
                let b = v
                    .as_bool()
                    .ok_or_else(|| D::Error::custom(format!("{k} must be true or false")))?;
                out.insert(day, b);
            }
            Ok(out)
        }
        serde_json::Value::Array(a) => {
            let mut out: BTreeMap<String, bool> =
                WEEKDAYS.iter().map(|d| (d.to_string(), false)).collect();
            for v in a {
                let n = v
                    .as_u64()
                    .filter(|n| *n < 7)
                    .ok_or_else(|| D::Error::custom("weekday numbers must be 0..6"))?;
                // 0 = Sunday in the UI's numbering.
                let idx = (n as usize + 6) % 7;
                out.insert(WEEKDAYS[idx].to_string(), true);
            }
            Ok(out)
        }
        _ => Err(D::Error::custom(
            "expected an object of weekday booleans or an array of weekday numbers",
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EscalationLevel {
    /// Minutes after the alert started.
    pub after: i64,
    /// `email`, `webhook` or `all`.
    pub notify: String,
}

impl Default for EscalationLevel {
    fn default() -> Self {
        EscalationLevel {
            after: 15,
            notify: "all".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Escalation {
    pub enabled: bool,
    pub levels: Vec<EscalationLevel>,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            enabled: false,
            levels: vec![
                EscalationLevel {
                    after: 15,
                    notify: "email".into(),
                },
                EscalationLevel {
                    after: 30,
                    notify: "webhook".into(),
                },
                EscalationLevel {
                    after: 60,
                    notify: "all".into(),
                },
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Grouping {
    pub enabled: bool,
    pub window: i64,
    pub by_node: bool,
    pub by_guest: bool,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            enabled: true,
            window: 30,
            by_node: true,
            by_guest: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Schedule {
    pub quiet_hours: QuietHours,
    /// Minutes between two notifications of the same alert.
    pub cooldown: i64,
    /// Seconds; deprecated, used when `grouping.window` is 0.
    pub grouping_window: i64,
    /// New-alert notifications per alert id per rolling hour; 0 = unlimited.
    pub max_alerts_hour: i64,
    pub escalation: Escalation,
    pub grouping: Grouping,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            quiet_hours: QuietHours::default(),
            cooldown: 5,
            grouping_window: 30,
            max_alerts_hour: 10,
            escalation: Escalation::default(),
            grouping: Grouping::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertConfig {
    pub enabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub activation_state: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub observation_window_hours: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_time: Option<String>,
    pub guest_defaults: ThresholdConfig,
    pub node_defaults: ThresholdConfig,
    pub host_defaults: ThresholdConfig,
    pub storage_default: Hysteresis,
    pub docker_defaults: DockerThresholds,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub docker_ignored_container_prefixes: Vec<String>,
    pub pmg_defaults: PmgThresholds,
    pub snapshot_defaults: SnapshotDefaults,
    pub backup_defaults: BackupDefaults,
    pub overrides: BTreeMap<String, ThresholdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_rules: Vec<serde_json::Value>,
    /// `custom_rules`, parsed on every write: enabled ones, highest priority first.
    #[serde(skip)]
    pub parsed_rules: Vec<super::custom::CustomRule>,
    pub schedule: Schedule,
    pub disable_all_nodes: bool,
    pub disable_all_guests: bool,
    pub disable_all_hosts: bool,
    pub disable_all_storage: bool,
    #[serde(rename = "disableAllPBS")]
    pub disable_all_pbs: bool,
    #[serde(rename = "disableAllPMG")]
    pub disable_all_pmg: bool,
    pub disable_all_docker_hosts: bool,
    pub disable_all_docker_containers: bool,
    pub disable_all_docker_services: bool,
    pub disable_all_nodes_offline: bool,
    pub disable_all_guests_offline: bool,
    pub disable_all_hosts_offline: bool,
    #[serde(rename = "disableAllPBSOffline")]
    pub disable_all_pbs_offline: bool,
    #[serde(rename = "disableAllPMGOffline")]
    pub disable_all_pmg_offline: bool,
    pub disable_all_docker_hosts_offline: bool,
    pub minimum_delta: f64,
    /// Minutes.
    pub suppression_window: i64,
    pub hysteresis_margin: f64,
    /// Seconds; the global grace delay.
    pub time_threshold: i64,
    pub time_thresholds: BTreeMap<String, i64>,
    pub metric_time_thresholds: Option<BTreeMap<String, BTreeMap<String, i64>>>,
    pub max_alert_age_days: i64,
    pub max_acknowledged_age_days: i64,
    pub auto_acknowledge_after_hours: i64,
    pub flapping_enabled: bool,
    pub flapping_window_seconds: i64,
    pub flapping_threshold: i64,
    pub flapping_cooldown_minutes: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl Default for AlertConfig {
    /// A new install: the reference's thresholds, with the protective features (flapping
    /// detection, cooldown, rate limit) on. TTL housekeeping is off: an alert that still holds
    /// should stay visible, not vanish and re-fire.
    fn default() -> Self {
        let guest = ThresholdConfig {
            cpu: Some(Hysteresis::new(80.0, 75.0)),
            memory: Some(Hysteresis::new(85.0, 80.0)),
            disk: Some(Hysteresis::new(90.0, 85.0)),
            disk_read: Some(Hysteresis::new(0.0, 0.0)),
            disk_write: Some(Hysteresis::new(0.0, 0.0)),
            network_in: Some(Hysteresis::new(0.0, 0.0)),
            network_out: Some(Hysteresis::new(0.0, 0.0)),
            powered_off_severity: Some("warning".into()),
            ..Default::default()
        };
        let node = ThresholdConfig {
            cpu: Some(Hysteresis::new(80.0, 75.0)),
            memory: Some(Hysteresis::new(85.0, 80.0)),
            disk: Some(Hysteresis::new(90.0, 85.0)),
            temperature: Some(Hysteresis::new(80.0, 75.0)),
            ..Default::default()
        };
        let host = ThresholdConfig {
            cpu: Some(Hysteresis::new(80.0, 75.0)),
            memory: Some(Hysteresis::new(85.0, 80.0)),
            disk: Some(Hysteresis::new(90.0, 85.0)),
            ..Default::default()
        };
        AlertConfig {
            enabled: true,
            activation_state: "pending_review".into(),
            observation_window_hours: 24,
            activation_time: None,
            guest_defaults: guest,
            node_defaults: node,
            host_defaults: host,
            storage_default: Hysteresis::new(85.0, 80.0),
            docker_defaults: DockerThresholds::default(),
            docker_ignored_container_prefixes: Vec::new(),
            pmg_defaults: PmgThresholds::default(),
            snapshot_defaults: SnapshotDefaults::default(),
            backup_defaults: BackupDefaults::default(),
            overrides: BTreeMap::new(),
            custom_rules: Vec::new(),
            parsed_rules: Vec::new(),
            schedule: Schedule::default(),
            disable_all_nodes: false,
            disable_all_guests: false,
            disable_all_hosts: false,
            disable_all_storage: false,
            disable_all_pbs: false,
            disable_all_pmg: false,
            disable_all_docker_hosts: false,
            disable_all_docker_containers: false,
            disable_all_docker_services: false,
            disable_all_nodes_offline: false,
            disable_all_guests_offline: false,
            disable_all_hosts_offline: false,
            disable_all_pbs_offline: false,
            disable_all_pmg_offline: false,
            disable_all_docker_hosts_offline: false,
            minimum_delta: 2.0,
            suppression_window: 5,
            hysteresis_margin: 5.0,
            time_threshold: 5,
            time_thresholds: ["guest", "node", "storage", "pbs"]
                .iter()
                .map(|k| (k.to_string(), 5))
                .collect(),
            metric_time_thresholds: None,
            max_alert_age_days: 0,
            max_acknowledged_age_days: 0,
            auto_acknowledge_after_hours: 0,
            flapping_enabled: true,
            flapping_window_seconds: 300,
            flapping_threshold: 5,
            flapping_cooldown_minutes: 15,
        }
    }
}

/// Validation problems: `(field path, message)`.
pub type Errors = Vec<(String, String)>;

/// Parses `HH:MM` (24 h) into minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl AlertConfig {
    /// Brings a parsed document into canonical form (spec/alerts.md §2.8) and reports every
    /// value that cannot be made sense of. `known_resource` says whether an override key
    /// names a resource Pulse knows.
    pub fn normalize(&mut self, known_resource: &dyn Fn(&str) -> bool) -> Result<(), Errors> {
        let mut errs = Errors::new();
        if self.hysteresis_margin <= 0.0 || !self.hysteresis_margin.is_finite() {
            self.hysteresis_margin = 5.0;
        }
        if self.minimum_delta <= 0.0 || !self.minimum_delta.is_finite() {
            self.minimum_delta = 2.0;
        }
        if self.suppression_window <= 0 {
            self.suppression_window = 5;
        }
        if self.observation_window_hours <= 0 {
            self.observation_window_hours = 24;
        }
        let margin = self.hysteresis_margin;
        self.guest_defaults
            .normalize("guestDefaults", margin, &mut errs);
        self.node_defaults
            .normalize("nodeDefaults", margin, &mut errs);
        self.host_defaults
            .normalize("hostDefaults", margin, &mut errs);
        if self.guest_defaults.powered_off_severity.is_none() {
            self.guest_defaults.powered_off_severity = Some("warning".into());
        }
        let temp = self.node_defaults.temperature.get_or_insert_default();
        if !temp.enabled() {
            *temp = Hysteresis::new(80.0, 75.0);
        }
        for (m, def) in [
            ("cpu", Hysteresis::new(80.0, 75.0)),
            ("memory", Hysteresis::new(85.0, 80.0)),
            ("disk", Hysteresis::new(90.0, 85.0)),
        ] {
            if let Some(slot) = self.host_defaults.metric_mut(m)
                && !slot.is_some_and(|h| h.enabled())
            {
                *slot = Some(def);
            }
        }
        if !self.storage_default.enabled() {
            self.storage_default = Hysteresis::new(85.0, 80.0);
        }
        check_hysteresis("storageDefault", self.storage_default, &mut errs);
        self.docker_defaults.normalize(&mut errs);
        self.pmg_defaults.normalize();

        let mut seen = std::collections::HashSet::new();
        self.docker_ignored_container_prefixes =
            std::mem::take(&mut self.docker_ignored_container_prefixes)
                .into_iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty() && seen.insert(p.to_lowercase()))
                .collect();

        let mut overrides = BTreeMap::new();
        for (key, mut o) in std::mem::take(&mut self.overrides) {
            let k = key.trim().to_string();
            let path = format!("overrides.{k}");
            if k.is_empty() || k.len() > 500 || k.chars().any(|c| c.is_control()) {
                errs.push((path, "not a valid resource id".into()));
                continue;
            }
            if !known_resource(&k) {
                errs.push((path, "no monitored resource has this id".into()));
                continue;
            }
            o.normalize(&path, margin, &mut errs);
            overrides.insert(k, o);
        }
        self.overrides = overrides;

        // Snapshot and backup limits.
        let s = &mut self.snapshot_defaults;
        let (mut w, mut c) = (s.warning_days as f64, s.critical_days as f64);
        order_limits(&mut w, &mut c);
        (s.warning_days, s.critical_days) = (w as i64, c as i64);
        if s.warning_size_gib.is_some() || s.critical_size_gib.is_some() {
            let (mut w, mut c) = (
                s.warning_size_gib.unwrap_or(0.0),
                s.critical_size_gib.unwrap_or(0.0),
            );
            order_limits(&mut w, &mut c);
            s.warning_size_gib = Some(w);
            s.critical_size_gib = Some(c);
        }
        let b = &mut self.backup_defaults;
        let (mut w, mut c) = (b.warning_days as f64, b.critical_days as f64);
        order_limits(&mut w, &mut c);
        (b.warning_days, b.critical_days) = (w as i64, c as i64);

        // Grace delays.
        if self.time_threshold <= 0 {
            self.time_threshold = 5;
        }
        let mut tt = BTreeMap::new();
        for (k, v) in std::mem::take(&mut self.time_thresholds) {
            let k = k.trim().to_ascii_lowercase();
            if k.is_empty() {
                continue;
            }
            tt.insert(k, if v < 0 { self.time_threshold } else { v });
        }
        for k in ["guest", "node", "storage", "pbs"] {
            tt.entry(k.to_string()).or_insert(self.time_threshold);
        }
        self.time_thresholds = tt;
        self.metric_time_thresholds = self.metric_time_thresholds.take().and_then(|m| {
            let out: BTreeMap<String, BTreeMap<String, i64>> = m
                .into_iter()
                .map(|(k, inner)| {
                    let inner: BTreeMap<String, i64> = inner
                        .into_iter()
                        .filter(|(_, v)| *v >= 0)
                        .map(|(mk, v)| (mk.trim().to_ascii_lowercase(), v))
                        .filter(|(mk, _)| !mk.is_empty())
                        .collect();
                    (k.trim().to_ascii_lowercase(), inner)
                })
                .filter(|(k, inner)| !k.is_empty() && !inner.is_empty())
                .collect();
            (!out.is_empty()).then_some(out)
        });

        for (field, v) in [
            ("maxAlertAgeDays", &mut self.max_alert_age_days),
            (
                "maxAcknowledgedAgeDays",
                &mut self.max_acknowledged_age_days,
            ),
            (
                "autoAcknowledgeAfterHours",
                &mut self.auto_acknowledge_after_hours,
            ),
        ] {
            if *v < 0 {
                errs.push((field.into(), "must not be negative".into()));
            }
        }
        if self.flapping_window_seconds <= 0 {
            self.flapping_window_seconds = 300;
        }
        if self.flapping_threshold <= 0 {
            self.flapping_threshold = 5;
        }
        if self.flapping_cooldown_minutes <= 0 {
            self.flapping_cooldown_minutes = 15;
        }

        self.normalize_schedule(&mut errs);
        self.parsed_rules = super::custom::parse(&self.custom_rules, margin, &mut errs);

        match self.activation_state.as_str() {
            "active" | "pending_review" | "snoozed" => {}
            "" => self.activation_state = "pending_review".into(),
            other => errs.push((
                "activationState".into(),
                format!("{other:?} is not one of active, pending_review, snoozed"),
            )),
        }
        if let Some(t) = &self.activation_time
            && crate::alerts::alert::parse_rfc3339(t).is_none()
        {
            errs.push(("activationTime".into(), "not an RFC3339 time".into()));
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    fn normalize_schedule(&mut self, errs: &mut Errors) {
        let s = &mut self.schedule;
        for (field, v) in [
            ("schedule.cooldown", &mut s.cooldown),
            ("schedule.groupingWindow", &mut s.grouping_window),
            ("schedule.maxAlertsHour", &mut s.max_alerts_hour),
            ("schedule.grouping.window", &mut s.grouping.window),
        ] {
            if *v < 0 {
                errs.push((field.into(), "must not be negative".into()));
            }
        }
        let q = &mut s.quiet_hours;
        for (field, v) in [("start", &mut q.start), ("end", &mut q.end)] {
            *v = v.trim().to_string();
            if v.is_empty() && !q.enabled {
                continue;
            }
            if parse_hhmm(v).is_none() {
                errs.push((
                    format!("schedule.quietHours.{field}"),
                    format!("{v:?} is not a time of day as HH:MM (24 h)"),
                ));
            }
        }
        q.timezone = q.timezone.trim().to_string();
        if q.timezone.is_empty() {
            if q.enabled {
                q.timezone = "UTC".into();
            }
        } else if jiff::tz::TimeZone::get(&q.timezone).is_err() {
            errs.push((
                "schedule.quietHours.timezone".into(),
                format!("{:?} is not a known IANA time zone", q.timezone),
            ));
        }
        for d in WEEKDAYS {
            q.days.entry(d.to_string()).or_insert(false);
        }
        for (i, l) in s.escalation.levels.iter_mut().enumerate() {
            if l.after < 0 {
                errs.push((
                    format!("schedule.escalation.levels[{i}].after"),
                    "must not be negative".into(),
                ));
            }
            l.notify = l.notify.trim().to_ascii_lowercase();
            if !["email", "webhook", "all"].contains(&l.notify.as_str()) {
                errs.push((
                    format!("schedule.escalation.levels[{i}].notify"),
                    format!("{:?} is not one of email, webhook, all", l.notify),
                ));
            }
        }
        s.escalation.levels.sort_by_key(|l| l.after);
    }

    /// Grace delay in milliseconds before a breach of `metric` on a resource of
    /// `resource_type` becomes an alert (spec/alerts.md §5.3).
    pub fn grace_ms(&self, resource_type: &str, metric: &str) -> i64 {
        let rt = resource_type.to_ascii_lowercase();
        let keys: &[&str] = match rt.as_str() {
            "guest" | "qemu" | "vm" | "ct" | "container" | "lxc" => &["guest"],
            "docker" | "docker container" | "dockercontainer" => &["docker", "guest"],
            "docker host" | "dockerhost" => &["dockerhost", "docker", "node"],
            "node" => &["node"],
            "pbs" | "pbs server" | "pbsserver" => &["pbs", "node"],
            "storage" => &["storage"],
            _ => &[],
        };
        let own = [rt.as_str()];
        let keys = if keys.is_empty() { &own[..] } else { keys };
        let metric = metric.to_ascii_lowercase();
        let lookup = |m: &BTreeMap<String, i64>| -> Option<i64> {
            [metric.as_str(), "default", "_default", "*"]
                .iter()
                .find_map(|k| m.get(*k).copied())
        };
        let secs = (|| {
            if let Some(mt) = &self.metric_time_thresholds {
                for k in keys {
                    if let Some(v) = mt.get(*k).and_then(lookup) {
                        return v;
                    }
                }
            }
            for k in keys {
                if let Some(v) = self.time_thresholds.get(*k) {
                    return *v;
                }
            }
            if let Some(v) = self
                .metric_time_thresholds
                .as_ref()
                .and_then(|mt| mt.get("all"))
                .and_then(lookup)
            {
                return v;
            }
            if let Some(v) = self.time_thresholds.get("all") {
                return *v;
            }
            self.time_threshold
        })();
        secs.max(0).saturating_mul(1000)
    }
}

/// Parses a config write: the body's top-level keys are laid over `current` (so a client
/// that sends only part of the document — as the reference UI does with the flapping and TTL
/// keys — does not reset the rest), then the result is normalised and validated.
pub fn parse_update(
    body: &[u8],
    current: &AlertConfig,
    known_resource: &dyn Fn(&str) -> bool,
) -> Result<AlertConfig, Errors> {
    let incoming: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| vec![("body".to_string(), format!("invalid JSON: {e}"))])?;
    let serde_json::Value::Object(mut incoming) = incoming else {
        return Err(vec![(
            "body".into(),
            "the configuration must be a JSON object".into(),
        )]);
    };
    // API.md calls the PMG block `pmgThresholds`; the reference stores `pmgDefaults`.
    if let Some(v) = incoming.remove("pmgThresholds") {
        incoming.entry("pmgDefaults").or_insert(v);
    }
    let mut merged = match serde_json::to_value(current) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in incoming {
        merged.insert(k, v);
    }
    let doc = serde_json::Value::Object(merged);
    let mut cfg: AlertConfig = serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        vec![(path, e.into_inner().to_string())]
    })?;
    cfg.normalize(known_resource)?;
    Ok(cfg)
}

/// The config as served: the stored document plus `pmgThresholds`, the name API.md uses.
pub fn to_api_json(cfg: &AlertConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null);
    if let Some(m) = v.as_object_mut()
        && let Some(p) = m.get("pmgDefaults").cloned()
    {
        m.insert("pmgThresholds".into(), p);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn defaults_normalise_to_themselves() {
        let mut c = AlertConfig::default();
        c.normalize(&any).unwrap();
        assert_eq!(c, AlertConfig::default());
    }

    #[test]
    fn partial_update_keeps_the_rest_and_normalises() {
        let cur = AlertConfig::default();
        let body = br#"{"guestDefaults":{"cpu":{"trigger":12.5,"clear":10}},
            "pmgThresholds":{"queueTotalWarning":0,"holdQueueWarn":7},
            "timeThresholds":{"guest":-3,"ALL":10},
            "dockerIgnoredContainerPrefixes":[" runner-","Runner-","x"],
            "schedule":{"quietHours":{"enabled":true,"start":"23:00","end":"06:30","timezone":"Europe/Berlin","days":[0,6]}},
            "cpuLegacy": 3}"#;
        let c = parse_update(body, &cur, &any).unwrap();
        assert_eq!(c.guest_defaults.cpu, Some(Hysteresis::new(12.5, 10.0)));
        assert_eq!(
            c.guest_defaults.memory, None,
            "guestDefaults replaced whole"
        );
        assert_eq!(c.pmg_defaults.queue_total_warning, 500);
        assert_eq!(c.pmg_defaults.hold_queue_warn, 7);
        assert_eq!(c.time_thresholds["guest"], 5);
        assert_eq!(c.time_thresholds["all"], 10);
        assert_eq!(c.docker_ignored_container_prefixes, vec!["runner-", "x"]);
        assert!(c.flapping_enabled, "absent keys keep their values");
        let q = &c.schedule.quiet_hours;
        assert!(q.days["sunday"] && q.days["saturday"] && !q.days["monday"]);
        let v = to_api_json(&c);
        assert_eq!(v["pmgThresholds"], v["pmgDefaults"]);
    }

    #[test]
    fn bad_values_name_the_field() {
        let cur = AlertConfig::default();
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"guestDefaults":{"cpu":{"trigger":70,"clear":90}}}"#,
                "guestDefaults.cpu.clear",
            ),
            (
                br#"{"nodeDefaults":{"memory":{"trigger":"high"}}}"#,
                "nodeDefaults.memory",
            ),
            (br#"{"flappingThreshold":"x"}"#, "flappingThreshold"),
            (
                br#"{"schedule":{"quietHours":{"enabled":true,"start":"25:00","end":"06:00"}}}"#,
                "schedule.quietHours.start",
            ),
            (
                br#"{"schedule":{"quietHours":{"timezone":"Mars/Olympus"}}}"#,
                "schedule.quietHours.timezone",
            ),
            (
                br#"{"schedule":{"escalation":{"levels":[{"after":5,"notify":"pager"}]}}}"#,
                "schedule.escalation.levels[0].notify",
            ),
            (br#"{"activationState":"sometimes"}"#, "activationState"),
            (br#"[1,2]"#, "body"),
            (br#"{"enabled":"#, "body"),
        ];
        for (body, field) in cases {
            let errs = parse_update(body, &cur, &any).unwrap_err();
            assert!(
                errs.iter().any(|(f, _)| f == field),
                "{}: {errs:?}",
                String::from_utf8_lossy(body)
            );
        }
        let errs = parse_update(
            br#"{"overrides":{"nope-1":{"cpu":{"trigger":50,"clear":40}}}}"#,
            &cur,
            &|k| k == "known",
        )
        .unwrap_err();
        assert_eq!(errs[0].0, "overrides.nope-1");
    }

    #[test]
    fn overrides_and_bare_numbers() {
        let cur = AlertConfig::default();
        let c = parse_update(
            br#"{"overrides":{"pve-101":{"networkOut":-1,"cpu":95,"poweredOffSeverity":"CRITICAL","note":"  "}}}"#,
            &cur,
            &any,
        )
        .unwrap();
        let o = &c.overrides["pve-101"];
        assert!(!o.network_out.unwrap().enabled());
        assert_eq!(o.cpu, Some(Hysteresis::new(95.0, 90.0)));
        assert_eq!(o.powered_off_severity.as_deref(), Some("critical"));
        assert_eq!(o.note, None);
        let eff = o.merged_over(&c.guest_defaults);
        assert_eq!(eff.memory, c.guest_defaults.memory);
        assert_eq!(eff.cpu.unwrap().trigger, 95.0);
    }

    #[test]
    fn grace_lookup_order() {
        let mut c = AlertConfig::default();
        c.time_thresholds.insert("guest".into(), 30);
        let mut mt = BTreeMap::new();
        mt.insert("guest".to_string(), [("cpu".to_string(), 120)].into());
        mt.insert("all".to_string(), [("memory".to_string(), 7)].into());
        c.metric_time_thresholds = Some(mt);
        assert_eq!(c.grace_ms("VM", "cpu"), 120_000);
        assert_eq!(c.grace_ms("Container", "memory"), 30_000);
        assert_eq!(c.grace_ms("Host", "memory"), 7_000);
        assert_eq!(c.grace_ms("PBS", "cpu"), 5_000);
        c.metric_time_thresholds = None;
        assert_eq!(c.grace_ms("Host", "cpu"), 5_000);
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("08:30"), Some(510));
        assert_eq!(parse_hhmm("8:05"), Some(485));
        for bad in ["24:00", "12:60", "x", "12:5", "", "-1:00"] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
    }
}
