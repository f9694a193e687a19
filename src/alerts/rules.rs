//! What to check: turns a monitored `State` plus the configuration into observations — one
//! per alert id that could exist — each carrying the value and the rule that decides it
//! (spec/alerts.md §4). Pure: no memory of earlier ticks except what `Ctx` passes in.

use super::alert::{Level, ResolvedBy};
use super::config::{AlertConfig, Hysteresis, ThresholdConfig};
use crate::model::{Guest, State};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The resource an observation belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource<'a> {
    pub id: String,
    pub name: Cow<'a, str>,
    pub node: Cow<'a, str>,
    pub instance: Cow<'a, str>,
    /// The connection the data comes from (a `connectionHealth` key): alerts of an owner that
    /// has not reported yet are kept, not resolved, right after a restart.
    pub owner: Cow<'a, str>,
    /// `VM`, `Container`, `Node`, `Storage`, `PBS`, `PMG`, `Ceph`, …
    pub resource_type: &'static str,
    pub monitor_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A metric with hysteresis: fires at `>= trigger` after the grace delay, clears at
    /// `<= clear`; critical from `trigger + 10`.
    Threshold {
        th: Hysteresis,
        grace_ms: i64,
        unit: Option<&'static str>,
    },
    /// A state: `level` is `Some` while the condition holds; it fires after `confirmations`
    /// consecutive observations and clears on the first observation without it.
    Condition {
        level: Option<Level>,
        confirmations: u32,
        threshold: f64,
        message: String,
    },
    /// Data is stale or a known disturbance is running: leave the alert as it is.
    Hold,
    /// The check is switched off or does not apply: resolve any alert and forget progress.
    Off(ResolvedBy),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observation<'a> {
    pub id: String,
    pub kind: &'static str,
    pub resource: Arc<Resource<'a>>,
    pub value: f64,
    pub rule: Rule,
    /// One filesystem of a guest, for per-disk alerts.
    pub disk: Option<GuestDisk<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuestDisk<'a> {
    pub index: usize,
    pub label: String,
    pub disk: &'a crate::model::Disk,
}

/// The id part for one guest filesystem: its mountpoint (`/` → `root`), else device, else
/// `disk-N`; lower-case, runs of anything but `[a-z0-9.]` become `-`.
pub fn disk_key(label: &str, index: usize) -> String {
    if label == "/" {
        return "root".into();
    }
    let mut out = String::with_capacity(label.len());
    for c in label.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        format!("disk-{index}")
    } else {
        trimmed.to_string()
    }
}

/// What the rules may know besides the state.
pub struct Ctx<'a> {
    pub now: i64,
    /// Guests (alert resource ids) seen running since the engine started.
    pub seen_running: &'a HashSet<String>,
    /// Resource ids the engine holds an active alert or a pending breach for.
    pub touched: &'a HashSet<String>,
    pub is_active: &'a dyn Fn(&str) -> bool,
}

const MB: f64 = 1024.0 * 1024.0;
const DAY_MS: f64 = 86_400_000.0;

/// Whether the guest carries `tag` (lower-case), whatever the case of its tags. Runs for
/// every guest on every tick, so it compares in place instead of building a tag list.
fn has_tag(g: &Guest, tag: &str) -> bool {
    g.tags
        .split([',', ';'])
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

fn pct(x: f64) -> Option<f64> {
    x.is_finite().then(|| x.clamp(0.0, 100.0))
}

/// CPU as a percentage of the resource's CPUs, from a 0..1 fraction; clamped, since rounding
/// in PVE's figures can exceed 1 and a monitor must never show "CPU at 140 %".
fn cpu_pct(fraction: f64) -> Option<f64> {
    pct(fraction * 100.0)
}

struct Out<'a> {
    cfg: &'a AlertConfig,
    obs: Vec<Observation<'a>>,
    /// Grace delays per (resource type, metric), looked up once per tick.
    grace: HashMap<(&'static str, &'static str), i64>,
    /// A copy of `Ctx::touched` (small: only resources with alerts or pending breaches).
    touched: HashSet<String>,
    /// The last resource id looked up in `touched` and the answer: the rules of one
    /// resource come in a row, so each resource is hashed once, not once per metric.
    touched_cache: std::cell::RefCell<(String, bool)>,
}

impl<'a> Out<'a> {
    /// Whether the engine holds anything for the resource with this id.
    fn touched_id(&self, id: &str) -> bool {
        !self.touched.is_empty() && self.touched.contains(id)
    }

    /// Whether the engine holds anything (an alert, a pending breach) for this resource.
    fn touched(&self, r: &Resource) -> bool {
        if self.touched.is_empty() {
            return false;
        }
        let mut cache = self.touched_cache.borrow_mut();
        if !cache.0.is_empty() && cache.0 == r.id {
            return cache.1;
        }
        let hit = self.touched.contains(r.id.as_str());
        cache.0.clear();
        cache.0.push_str(&r.id);
        cache.1 = hit;
        hit
    }

    /// Whether an observation can change anything: a breach, or any rule for a resource the
    /// engine already tracks. Healthy, untracked resources produce no observation at all,
    /// which keeps a tick over a large fleet cheap.
    fn matters(&self, r: &Resource, rule: &Rule, value: f64) -> bool {
        let breach = match rule {
            Rule::Threshold { th, .. } => value >= th.trigger,
            Rule::Condition { level, .. } => level.is_some(),
            Rule::Hold | Rule::Off(_) => false,
        };
        breach || self.touched(r)
    }

    fn push(
        &mut self,
        r: &Arc<Resource<'a>>,
        id: String,
        kind: &'static str,
        value: f64,
        rule: Rule,
    ) {
        if !self.matters(r, &rule, value) {
            return;
        }
        self.obs.push(Observation {
            id,
            kind,
            resource: r.clone(),
            value,
            rule,
            disk: None,
        });
    }

    /// One hysteresis metric: `Off` when the threshold is missing or disabled.
    fn metric(
        &mut self,
        r: &Arc<Resource<'a>>,
        th: &ThresholdConfig,
        name: &'static str,
        value: Option<f64>,
        unit: Option<&'static str>,
        hold: bool,
    ) {
        let rule = match th.metric(name) {
            _ if hold => Rule::Hold,
            Some(h) if h.enabled() => match value {
                Some(_) => {
                    let cfg = self.cfg;
                    let grace_ms = *self
                        .grace
                        .entry((r.resource_type, name))
                        .or_insert_with(|| cfg.grace_ms(r.resource_type, name));
                    Rule::Threshold {
                        th: h,
                        grace_ms,
                        unit,
                    }
                }
                None => Rule::Off(ResolvedBy::Recovered),
            },
            _ => Rule::Off(ResolvedBy::Config),
        };
        let value = value.unwrap_or(0.0);
        if !self.matters(r, &rule, value) {
            return;
        }
        let mut id = String::with_capacity(r.id.len() + 1 + name.len());
        id.push_str(&r.id);
        id.push('-');
        id.push_str(name);
        self.push(r, id, name, value, rule);
    }

    fn off(&mut self, r: &Arc<Resource<'a>>, id: String, kind: &'static str, by: ResolvedBy) {
        if !self.touched(r) {
            return;
        }
        self.push(r, id, kind, 0.0, Rule::Off(by));
    }

    #[allow(clippy::too_many_arguments)]
    fn condition(
        &mut self,
        r: &Arc<Resource<'a>>,
        id: String,
        kind: &'static str,
        value: f64,
        level: Option<Level>,
        confirmations: u32,
        message: String,
    ) {
        self.push(
            r,
            id,
            kind,
            value,
            Rule::Condition {
                level,
                confirmations,
                threshold: 0.0,
                message,
            },
        );
    }

    /// A condition whose message is only built while it holds.
    #[allow(clippy::too_many_arguments)]
    fn flag(
        &mut self,
        r: &Arc<Resource<'a>>,
        id: String,
        kind: &'static str,
        value: f64,
        level: Option<Level>,
        confirmations: u32,
        message: impl FnOnce() -> String,
    ) {
        let message = if level.is_some() {
            message()
        } else {
            String::new()
        };
        self.condition(r, id, kind, value, level, confirmations, message);
    }

    /// A count checked against warning/critical limits (`> 0`), e.g. PMG queues.
    #[allow(clippy::too_many_arguments)]
    fn limits(
        &mut self,
        r: &Arc<Resource<'a>>,
        id: String,
        kind: &'static str,
        value: f64,
        warn: f64,
        crit: f64,
        what: &str,
        unit: &str,
    ) {
        let level = if crit > 0.0 && value >= crit {
            Some(Level::Critical)
        } else if warn > 0.0 && value >= warn {
            Some(Level::Warning)
        } else {
            None
        };
        let threshold = if level == Some(Level::Critical) {
            crit
        } else {
            warn
        };
        let message = if level.is_some() {
            format!("{} {what} at {value:.0}{unit}", r.name)
        } else {
            String::new()
        };
        self.push(
            r,
            id,
            kind,
            value,
            Rule::Condition {
                level,
                confirmations: 2,
                threshold,
                message,
            },
        );
    }
}

const GUEST_METRICS: [&str; 7] = [
    "cpu",
    "memory",
    "disk",
    "diskRead",
    "diskWrite",
    "networkIn",
    "networkOut",
];

/// Every observation for this tick.
pub fn observe<'a>(state: &'a State, cfg: &'a AlertConfig, ctx: &Ctx) -> Vec<Observation<'a>> {
    let mut out = Out {
        cfg,
        obs: Vec::new(),
        grace: HashMap::new(),
        touched: ctx.touched.clone(),
        touched_cache: std::cell::RefCell::new((String::new(), false)),
    };
    let unhealthy = |owner: &str| state.connection_health.get(owner) == Some(&false);
    let backups_running: HashSet<(&str, u32)> = state
        .pve_backups
        .backup_tasks
        .iter()
        .filter(|t| t.end_time == 0 && t.status.is_empty())
        .map(|t| (t.node.as_str(), t.vmid))
        .collect();

    for g in state.vms.iter().chain(state.containers.iter()) {
        guest(
            &mut out,
            cfg,
            ctx,
            g,
            unhealthy(&g.instance),
            &backups_running,
        );
    }
    for n in &state.nodes {
        node(&mut out, cfg, n);
    }
    for s in &state.storage {
        storage(&mut out, cfg, s, unhealthy(&s.instance));
    }
    for c in &state.ceph_clusters {
        ceph(&mut out, cfg, c, unhealthy(&c.instance));
    }
    for d in &state.physical_disks {
        physical_disk(&mut out, cfg, d, unhealthy(&d.instance));
    }
    for p in &state.pbs {
        pbs(&mut out, cfg, p);
    }
    for p in &state.pmg {
        pmg(&mut out, cfg, p);
    }
    if cfg.backup_defaults.enabled && !cfg.disable_all_guests {
        backup_age(&mut out, cfg, ctx, state);
    }
    if cfg.snapshot_defaults.enabled && !cfg.disable_all_guests {
        snapshot_age(&mut out, cfg, ctx, state);
    }
    out.obs
}

/// The override for a guest: by its alert id, else by the legacy keys.
fn guest_override<'a>(cfg: &'a AlertConfig, rid: &str, g: &Guest) -> Option<&'a ThresholdConfig> {
    if cfg.overrides.is_empty() {
        return None;
    }
    cfg.overrides
        .get(rid)
        .or_else(|| cfg.overrides.get(&g.id))
        .or_else(|| cfg.overrides.get(&format!("{}-{}", g.node, g.vmid)))
}

fn guest_mem(g: &Guest) -> Option<f64> {
    g.memory
        .as_ref()
        .filter(|m| m.total > 0)
        .and_then(|m| pct(m.usage))
}

fn guest_disk(g: &Guest) -> Option<f64> {
    g.disk
        .as_ref()
        .filter(|d| d.total > 0 && d.usage >= 0.0)
        .and_then(|d| pct(d.usage))
}

fn guest<'a>(
    out: &mut Out<'a>,
    cfg: &AlertConfig,
    ctx: &Ctx,
    g: &'a Guest,
    stale: bool,
    backups_running: &HashSet<(&str, u32)>,
) {
    if g.template {
        return;
    }
    let has = |t: &str| has_tag(g, t);
    let rid = format!("{}-{}", g.instance, g.vmid);
    let r = Arc::new(Resource {
        id: rid.clone(),
        name: Cow::Borrowed(&g.name),
        node: Cow::Borrowed(&g.node),
        instance: Cow::Borrowed(&g.instance),
        owner: Cow::Borrowed(&g.instance),
        resource_type: if g.kind == "lxc" { "Container" } else { "VM" },
        monitor_only: has("pulse-monitor-only"),
    });
    let ov = guest_override(cfg, &rid, g);
    let relaxed = has("pulse-relaxed");
    // Defaults → custom rule → override → tags. Borrowed in the common case (no rule, no
    // override, no tag): nothing to copy per guest.
    let mut base: Cow<ThresholdConfig> = Cow::Borrowed(&cfg.guest_defaults);
    if !cfg.parsed_rules.is_empty() {
        let metric = |m: &str| match m {
            "cpu" => cpu_pct(g.cpu),
            "memory" => guest_mem(g),
            "disk" => guest_disk(g),
            "diskread" => Some(g.disk_read as f64 / MB),
            "diskwrite" => Some(g.disk_write as f64 / MB),
            "networkin" => Some(g.network_in as f64 / MB),
            "networkout" => Some(g.network_out as f64 / MB),
            _ => None,
        };
        let facts = super::custom::GuestFacts {
            id: &rid,
            name: &g.name,
            node: &g.node,
            status: &g.status,
            vmid: g.vmid,
            metric: &metric,
        };
        if let Some(t) = super::custom::pick(&cfg.parsed_rules, &facts) {
            base = Cow::Owned(t.merged_over(&cfg.guest_defaults));
        }
    }
    let mut th: Cow<ThresholdConfig> = match ov {
        Some(o) => Cow::Owned(o.merged_over(&base)),
        None => base,
    };
    // Ids are built only where an observation can be made: `off` needs a resource the
    // engine tracks, and most guests on most ticks are neither tracked nor breaching.
    let powered_off_id = || format!("guest-powered-off-{rid}");
    if cfg.disable_all_guests || th.disabled || has("pulse-no-alerts") {
        if out.touched(&r) {
            for m in GUEST_METRICS {
                out.off(&r, format!("{rid}-{m}"), m, ResolvedBy::Config);
            }
            out.off(&r, powered_off_id(), "powered-off", ResolvedBy::Config);
        }
        return;
    }
    if relaxed {
        let th = th.to_mut();
        for (m, min) in [("cpu", 95.0), ("memory", 92.0), ("disk", 95.0)] {
            let slot = match m {
                "cpu" => &mut th.cpu,
                "memory" => &mut th.memory,
                _ => &mut th.disk,
            };
            if let Some(h) = slot
                && h.enabled()
                && h.trigger < min
            {
                h.trigger = min;
                if h.clear >= min || h.clear <= 0.0 {
                    h.clear = min - 5.0;
                }
            }
        }
    }

    let running = &*g.status == "running";
    if running {
        // A running vzdump reads the whole disk and pushes it over the network: the I/O and
        // CPU it causes is expected, so those metrics neither fire nor clear meanwhile.
        let backup =
            g.lock.as_deref() == Some("backup") || backups_running.contains(&(&*g.node, g.vmid));
        let mem = guest_mem(g);
        let disk = guest_disk(g);
        let io = |b: u64| Some(b as f64 / MB);
        out.metric(&r, &th, "cpu", cpu_pct(g.cpu), None, stale || backup);
        out.metric(&r, &th, "memory", mem, None, stale);
        // Per-filesystem usage when the guest reports it (agent / container mounts): a full
        // `/var` matters even when the total looks fine. Otherwise the aggregate figure.
        let mounts: Vec<(usize, &crate::model::Disk)> = g
            .disks
            .iter()
            .enumerate()
            .filter(|(_, d)| d.total > 0 && d.usage >= 0.0)
            .collect();
        if mounts.is_empty() {
            out.metric(&r, &th, "disk", disk, None, stale);
        } else {
            if out.touched(&r) {
                out.off(&r, format!("{rid}-disk"), "disk", ResolvedBy::Recovered);
            }
            for (i, d) in mounts {
                let before = out.obs.len();
                out.metric(&r, &th, "disk", pct(d.usage), None, stale);
                let Some(o) = out.obs.get_mut(before) else {
                    continue;
                };
                let mp = d.mountpoint.as_deref().filter(|m| !m.is_empty());
                let dev = d.device.as_deref().filter(|m| !m.is_empty());
                let label = mp
                    .or(dev)
                    .map(str::to_string)
                    .unwrap_or(format!("Disk {i}"));
                let mut key = disk_key(&label, i);
                if let (Some(m), Some(dv)) = (mp, dev)
                    && m != dv
                {
                    key = format!("{key}-{}", disk_key(dv, i));
                }
                o.id = format!("{rid}-disk-{key}");
                o.disk = Some(GuestDisk {
                    index: i,
                    label,
                    disk: d,
                });
            }
        }
        out.metric(
            &r,
            &th,
            "diskRead",
            io(g.disk_read),
            Some("MB/s"),
            stale || backup,
        );
        out.metric(
            &r,
            &th,
            "diskWrite",
            io(g.disk_write),
            Some("MB/s"),
            stale || backup,
        );
        out.metric(
            &r,
            &th,
            "networkIn",
            io(g.network_in),
            Some("MB/s"),
            stale || backup,
        );
        out.metric(
            &r,
            &th,
            "networkOut",
            io(g.network_out),
            Some("MB/s"),
            stale || backup,
        );
    } else if out.touched(&r) {
        // A guest that is not running has no usage worth alerting on.
        for m in GUEST_METRICS {
            out.off(&r, format!("{rid}-{m}"), m, ResolvedBy::Recovered);
        }
    }

    // Powered off: only a guest Pulse saw running and that then stopped. A guest that has
    // always been off is intentional, not news.
    let blocked = cfg.disable_all_guests_offline || th.disable_connectivity;
    if blocked {
        if out.touched(&r) {
            out.off(&r, powered_off_id(), "powered-off", ResolvedBy::Config);
        }
        return;
    }
    if stale {
        if out.touched(&r) {
            out.push(&r, powered_off_id(), "powered-off", 0.0, Rule::Hold);
        }
        return;
    }
    let stopped = &*g.status == "stopped"
        && (ctx.seen_running.contains(&rid) || (ctx.is_active)(&powered_off_id()));
    let severity = match ov {
        // An override decides the severity wholesale (blank = warning).
        Some(o) => o.powered_off_severity.as_deref().unwrap_or("warning"),
        None => cfg
            .guest_defaults
            .powered_off_severity
            .as_deref()
            .unwrap_or("warning"),
    };
    let level = stopped.then_some(if severity == "critical" {
        Level::Critical
    } else {
        Level::Warning
    });
    if level.is_none() && !out.touched(&r) {
        return; // nothing to raise, nothing tracked to clear
    }
    out.flag(&r, powered_off_id(), "powered-off", 0.0, level, 2, || {
        format!("{} '{}' is powered off", r.resource_type, g.name)
    });
}

fn node<'a>(out: &mut Out<'a>, cfg: &AlertConfig, n: &'a crate::model::Node) {
    let r = Arc::new(Resource {
        id: n.id.clone(),
        name: Cow::Borrowed(if n.display_name.is_empty() {
            &n.name
        } else {
            &n.display_name
        }),
        node: Cow::Borrowed(&n.name),
        instance: Cow::Borrowed(&n.instance),
        owner: Cow::Borrowed(&n.instance),
        resource_type: "Node",
        monitor_only: false,
    });
    let ov = cfg.overrides.get(&n.id);
    let th = match ov {
        Some(o) => o.merged_over(&cfg.node_defaults),
        None => cfg.node_defaults.clone(),
    };
    let offline_id = format!("node-offline-{}", n.id);
    if cfg.disable_all_nodes || th.disabled {
        for m in ["cpu", "memory", "disk", "temperature"] {
            out.off(&r, format!("{}-{m}", n.id), m, ResolvedBy::Config);
        }
        out.off(&r, offline_id, "connectivity", ResolvedBy::Config);
        return;
    }
    let offline =
        n.status == "offline" || n.connection_health == "error" || n.connection_health == "failed";
    // Metrics of an unreachable node are its last known values: keep alerts as they are.
    let mem = n
        .memory
        .as_ref()
        .filter(|m| m.total > 0)
        .and_then(|m| pct(m.usage));
    let disk = n
        .disk
        .as_ref()
        .filter(|d| d.total > 0 && d.usage >= 0.0)
        .and_then(|d| pct(d.usage));
    let temp = n.temperature.as_ref().and_then(|t| {
        if t.get("available").and_then(|v| v.as_bool()) == Some(false) {
            return None;
        }
        ["cpuPackage", "cpuMax"]
            .iter()
            .filter_map(|k| t.get(*k).and_then(|v| v.as_f64()))
            .find(|v| v.is_finite() && *v > 0.0)
    });
    out.metric(&r, &th, "cpu", cpu_pct(n.cpu), None, offline);
    out.metric(&r, &th, "memory", mem, None, offline);
    out.metric(&r, &th, "disk", disk, None, offline);
    out.metric(&r, &th, "temperature", temp, Some("°C"), offline);
    if cfg.disable_all_nodes_offline || th.disable_connectivity {
        out.off(&r, offline_id, "connectivity", ResolvedBy::Config);
    } else {
        out.flag(
            &r,
            offline_id,
            "connectivity",
            0.0,
            offline.then_some(Level::Critical),
            3,
            || format!("Node '{}' is offline", r.name),
        );
    }
}

fn storage<'a>(out: &mut Out<'a>, cfg: &AlertConfig, s: &'a crate::model::Storage, stale: bool) {
    let r = Arc::new(Resource {
        id: s.id.clone(),
        name: Cow::Borrowed(&s.name),
        node: Cow::Borrowed(&s.node),
        instance: Cow::Borrowed(&s.instance),
        owner: Cow::Borrowed(&s.instance),
        resource_type: "Storage",
        monitor_only: false,
    });
    let ov = cfg.overrides.get(&s.id);
    let offline_id = format!("storage-offline-{}", s.id);
    let usage_id = format!("{}-usage", s.id);
    if cfg.disable_all_storage || ov.is_some_and(|o| o.disabled) {
        out.off(&r, usage_id, "usage", ResolvedBy::Config);
        out.off(&r, offline_id, "offline", ResolvedBy::Config);
        return;
    }
    let offline = s.status == "offline" || s.status == "unavailable";
    let th = ThresholdConfig {
        usage: Some(ov.and_then(|o| o.usage).unwrap_or(cfg.storage_default)),
        ..Default::default()
    };
    let usage = (!offline && s.usage > 0.0).then(|| pct(s.usage)).flatten();
    out.metric(&r, &th, "usage", usage, None, stale);
    if stale {
        out.push(&r, offline_id, "offline", 0.0, Rule::Hold);
        return;
    }
    out.flag(
        &r,
        offline_id,
        "offline",
        0.0,
        offline.then_some(Level::Warning),
        2,
        || format!("Storage {} on node {} is unavailable", s.name, s.node),
    );
}

/// SMART health and SSD wear of node disks.
fn physical_disk<'a>(
    out: &mut Out<'a>,
    cfg: &AlertConfig,
    d: &'a crate::model::PhysicalDisk,
    stale: bool,
) {
    let r = Arc::new(Resource {
        id: d.id.clone(),
        name: Cow::Borrowed(if d.model.is_empty() {
            &d.dev_path
        } else {
            &d.model
        }),
        node: Cow::Borrowed(&d.node),
        instance: Cow::Borrowed(&d.instance),
        owner: Cow::Borrowed(&d.instance),
        resource_type: "Disk",
        monitor_only: false,
    });
    let key = format!("{}-{}-{}", d.instance, d.node, d.dev_path);
    let health_id = format!("disk-health-{key}");
    let wear_id = format!("disk-wearout-{key}");
    if cfg.disable_all_storage || cfg.overrides.get(&d.id).is_some_and(|o| o.disabled) {
        out.off(&r, health_id, "disk-health", ResolvedBy::Config);
        out.off(&r, wear_id, "disk-wearout", ResolvedBy::Config);
        return;
    }
    if stale {
        out.push(&r, health_id, "disk-health", 0.0, Rule::Hold);
        out.push(&r, wear_id, "disk-wearout", 0.0, Rule::Hold);
        return;
    }
    let health = d.health.trim().to_ascii_uppercase();
    let model = d.model.to_ascii_uppercase();
    // These models report a spurious SMART status through PVE.
    let unreliable = [
        "SAMSUNG SSD 980",
        "SAMSUNG 980",
        "SAMSUNG SSD 990",
        "SAMSUNG 990",
    ]
    .iter()
    .any(|m| model.contains(m));
    let failed = !unreliable && !matches!(health.as_str(), "" | "UNKNOWN" | "PASSED" | "OK");
    out.flag(
        &r,
        health_id,
        "disk-health",
        0.0,
        failed.then_some(Level::Critical),
        1,
        || {
            format!(
                "Disk {} ({}) on node {} reports SMART health {}",
                d.dev_path, d.model, d.node, health
            )
        },
    );
    let worn = d.wearout > 0 && d.wearout < 10;
    out.flag(
        &r,
        wear_id,
        "disk-wearout",
        d.wearout as f64,
        worn.then_some(Level::Warning),
        1,
        || {
            format!(
                "Disk {} ({}) on node {} has {}% life left",
                d.dev_path, d.model, d.node, d.wearout
            )
        },
    );
}

fn ceph<'a>(out: &mut Out<'a>, cfg: &AlertConfig, c: &'a crate::model::CephCluster, stale: bool) {
    let r = Arc::new(Resource {
        id: c.id.clone(),
        name: Cow::Borrowed(if c.name.is_empty() { "Ceph" } else { &c.name }),
        node: Cow::Borrowed(""),
        instance: Cow::Borrowed(&c.instance),
        owner: Cow::Borrowed(&c.instance),
        resource_type: "Ceph",
        monitor_only: false,
    });
    let ov = cfg.overrides.get(&c.id);
    let health_id = format!("ceph-health-{}", c.id);
    let usage_id = format!("{}-usage", c.id);
    if cfg.disable_all_storage || ov.is_some_and(|o| o.disabled) {
        out.off(&r, health_id, "ceph-health", ResolvedBy::Config);
        out.off(&r, usage_id, "usage", ResolvedBy::Config);
        return;
    }
    let th = ThresholdConfig {
        usage: Some(ov.and_then(|o| o.usage).unwrap_or(cfg.storage_default)),
        ..Default::default()
    };
    let usage = (c.total_bytes > 0).then(|| pct(c.usage_percent)).flatten();
    out.metric(&r, &th, "usage", usage, None, stale);
    if stale {
        out.push(&r, health_id, "ceph-health", 0.0, Rule::Hold);
        return;
    }
    let level = match c.health.as_str() {
        "HEALTH_ERR" => Some(Level::Critical),
        "HEALTH_WARN" => Some(Level::Warning),
        _ => None,
    };
    let message = match level {
        Some(_) if c.health_message.is_empty() => {
            format!("Ceph cluster {} is {}", r.name, c.health)
        }
        Some(_) => format!(
            "Ceph cluster {} is {}: {}",
            r.name, c.health, c.health_message
        ),
        None => String::new(),
    };
    out.condition(&r, health_id, "ceph-health", 0.0, level, 2, message);
}

fn pbs<'a>(out: &mut Out<'a>, cfg: &AlertConfig, p: &'a crate::model::PbsInstance) {
    let owner = format!("pbs-{}", p.name);
    let r = Arc::new(Resource {
        id: p.id.clone(),
        name: Cow::Borrowed(&p.name),
        node: Cow::Borrowed(&p.name),
        instance: Cow::Borrowed(&p.name),
        owner: Cow::Owned(owner.clone()),
        resource_type: "PBS",
        monitor_only: false,
    });
    let ov = cfg.overrides.get(&p.id);
    let th = match ov {
        Some(o) => o.merged_over(&cfg.node_defaults),
        None => cfg.node_defaults.clone(),
    };
    let offline_id = format!("pbs-offline-{}", p.id);
    let datastores = p.datastores.as_deref().unwrap_or(&[]);
    if cfg.disable_all_pbs || th.disabled {
        for m in ["cpu", "memory"] {
            out.off(&r, format!("{}-{m}", p.id), m, ResolvedBy::Config);
        }
        out.off(&r, offline_id, "offline", ResolvedBy::Config);
        for d in datastores {
            out.off(
                &r,
                format!("{}-datastore-{}-usage", p.id, d.name),
                "usage",
                ResolvedBy::Config,
            );
        }
        return;
    }
    let offline = p.status == "offline"
        || p.connection_health == "error"
        || p.connection_health == "unhealthy";
    // PBS reports CPU as a 0..1 fraction and memory as a percentage.
    out.metric(&r, &th, "cpu", cpu_pct(p.cpu), None, offline);
    let mem = (p.memory_total > 0).then(|| pct(p.memory)).flatten();
    out.metric(&r, &th, "memory", mem, None, offline);
    if cfg.disable_all_pbs_offline || th.disable_connectivity {
        out.off(&r, offline_id, "offline", ResolvedBy::Config);
    } else {
        out.flag(
            &r,
            offline_id,
            "offline",
            0.0,
            offline.then_some(Level::Critical),
            3,
            || format!("PBS server '{}' is offline", p.name),
        );
    }
    for d in datastores {
        let dr = Arc::new(Resource {
            id: format!("{}-datastore-{}", p.id, d.name),
            name: Cow::Owned(format!("{}/{}", p.name, d.name)),
            node: Cow::Borrowed(&p.name),
            instance: Cow::Borrowed(&p.name),
            owner: Cow::Owned(owner.clone()),
            resource_type: "PBS Datastore",
            monitor_only: false,
        });
        let dov = cfg.overrides.get(&dr.id);
        let th = ThresholdConfig {
            usage: Some(dov.and_then(|o| o.usage).unwrap_or(cfg.storage_default)),
            ..Default::default()
        };
        let id = format!("{}-usage", dr.id);
        if dov.is_some_and(|o| o.disabled) {
            out.off(&dr, id, "usage", ResolvedBy::Config);
            continue;
        }
        let usage = (d.total > 0).then(|| pct(d.usage)).flatten();
        out.metric(&dr, &th, "usage", usage, None, offline);
    }
    // Job results (backup, sync, verify, prune, garbage collection).
    let jobs = [
        ("backup", &p.backup_jobs),
        ("sync", &p.sync_jobs),
        ("verify", &p.verify_jobs),
        ("prune", &p.prune_jobs),
        ("garbage", &p.garbage_jobs),
    ];
    for (kind, list) in jobs {
        for job in list.as_deref().unwrap_or(&[]) {
            let Some(job_id) = job.get("id").and_then(|v| v.as_str()) else {
                continue;
            };
            let status = job
                .get("status")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .trim();
            let error = job
                .get("error")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .trim();
            let ok_status = matches!(
                status.to_ascii_lowercase().as_str(),
                "" | "ok" | "success" | "running" | "queued" | "pending" | "unknown"
            );
            let failed = !ok_status || !error.is_empty();
            let level = failed.then_some(if kind == "verify" {
                // A failed verification means backup data may be corrupt.
                Level::Critical
            } else {
                Level::Warning
            });
            let why = if error.is_empty() { status } else { error };
            out.flag(
                &r,
                format!("pbs-job-{}-{kind}-{job_id}", p.id),
                "pbs-job-failed",
                0.0,
                level,
                1,
                || format!("PBS {}: {kind} job {job_id} failed: {why}", p.name),
            );
        }
    }
}

fn pmg<'a>(out: &mut Out<'a>, cfg: &AlertConfig, p: &'a crate::model::PmgInstance) {
    let r = Arc::new(Resource {
        id: p.id.clone(),
        name: Cow::Borrowed(&p.name),
        node: Cow::Borrowed(&p.name),
        instance: Cow::Borrowed(&p.name),
        owner: Cow::Owned(format!("pmg-{}", p.name)),
        resource_type: "PMG",
        monitor_only: false,
    });
    let ov = cfg.overrides.get(&p.id);
    let ids = [
        ("queue-total", "queue-depth"),
        ("queue-deferred", "queue-deferred"),
        ("queue-hold", "queue-hold"),
        ("oldest-message", "message-age"),
        ("quarantine-spam", "quarantine-spam"),
        ("quarantine-virus", "quarantine-virus"),
    ];
    let offline_id = format!("pmg-offline-{}", p.id);
    if cfg.disable_all_pmg || ov.is_some_and(|o| o.disabled) {
        for (suffix, kind) in ids {
            out.off(&r, format!("{}-{suffix}", p.id), kind, ResolvedBy::Config);
        }
        out.off(&r, offline_id, "offline", ResolvedBy::Config);
        return;
    }
    let offline = p.status == "offline"
        || p.connection_health == "unhealthy"
        || p.connection_health == "error";
    if cfg.disable_all_pmg_offline || ov.is_some_and(|o| o.disable_connectivity) {
        out.off(&r, offline_id.clone(), "offline", ResolvedBy::Config);
    } else {
        out.flag(
            &r,
            offline_id,
            "offline",
            0.0,
            offline.then_some(Level::Critical),
            3,
            || format!("Mail gateway '{}' is offline", p.name),
        );
    }
    if offline {
        for (suffix, kind) in ids {
            out.push(&r, format!("{}-{suffix}", p.id), kind, 0.0, Rule::Hold);
        }
        return;
    }
    let t = &cfg.pmg_defaults;
    let (mut total, mut deferred, mut hold, mut oldest) = (0u64, 0u64, 0u64, 0u64);
    for q in p.nodes.iter().filter_map(|n| n.queue_status.as_ref()) {
        total += q.total;
        deferred += q.deferred;
        hold += q.hold;
        oldest = oldest.max(q.oldest_age);
    }
    let f = |v: i64| v as f64;
    let id = |s: &str| format!("{}-{s}", p.id);
    out.limits(
        &r,
        id("queue-total"),
        "queue-depth",
        total as f64,
        f(t.queue_total_warning),
        f(t.queue_total_critical),
        "mail queue",
        " messages",
    );
    out.limits(
        &r,
        id("queue-deferred"),
        "queue-deferred",
        deferred as f64,
        f(t.deferred_queue_warn),
        f(t.deferred_queue_critical),
        "deferred queue",
        " messages",
    );
    out.limits(
        &r,
        id("queue-hold"),
        "queue-hold",
        hold as f64,
        f(t.hold_queue_warn),
        f(t.hold_queue_critical),
        "held queue",
        " messages",
    );
    out.limits(
        &r,
        id("oldest-message"),
        "message-age",
        (oldest / 60) as f64,
        f(t.oldest_message_warn_mins),
        f(t.oldest_message_crit_mins),
        "oldest queued message",
        " min",
    );
    let (spam, virus) = p
        .quarantine
        .as_ref()
        .map(|q| (q.spam as f64, q.virus as f64))
        .unwrap_or((0.0, 0.0));
    out.limits(
        &r,
        id("quarantine-spam"),
        "quarantine-spam",
        spam,
        f(t.quarantine_spam_warn),
        f(t.quarantine_spam_critical),
        "spam quarantine",
        " messages",
    );
    out.limits(
        &r,
        id("quarantine-virus"),
        "quarantine-virus",
        virus,
        f(t.quarantine_virus_warn),
        f(t.quarantine_virus_critical),
        "virus quarantine",
        " messages",
    );
}

fn age_level(days: f64, warn: i64, crit: i64) -> Option<(Level, f64)> {
    if crit > 0 && days >= crit as f64 {
        Some((Level::Critical, crit as f64))
    } else if warn > 0 && days >= warn as f64 {
        Some((Level::Warning, warn as f64))
    } else {
        None
    }
}

/// Newest backup per guest (PVE storage backups and PBS snapshots) older than the limits.
/// Guests with no backup at all are not flagged: Pulse cannot tell "never backed up" from
/// "backup storage not visible to Pulse".
fn backup_age<'a>(out: &mut Out<'a>, cfg: &AlertConfig, ctx: &Ctx, state: &'a State) {
    use std::collections::HashMap;
    use std::fmt::Write as _;
    // Runs on every publish over every backup: keys are borrowed, and a guest's resource
    // and ids are built only when it is past a limit or already tracked.
    let mut newest: HashMap<(&str, u32), i64> = HashMap::new();
    for b in &state.pve_backups.storage_backups {
        let e = newest.entry((&*b.instance, b.vmid)).or_insert(0);
        *e = (*e).max(b.time);
    }
    let mut pbs_newest: HashMap<(&str, u32), i64> = HashMap::new();
    for b in state.pbs_backups.iter() {
        let Ok(vmid) = b.vmid.parse::<u32>() else {
            continue;
        };
        if vmid == 0 {
            continue;
        }
        let e = pbs_newest
            .entry((b.backup_type.as_str(), vmid))
            .or_insert(0);
        *e = (*e).max(b.backup_time);
    }
    let d = &cfg.backup_defaults;
    let mut rid = String::new();
    for g in state.vms.iter().chain(state.containers.iter()) {
        if g.template {
            continue;
        }
        let pbs_type = if g.kind == "lxc" { "ct" } else { "vm" };
        let last = newest
            .get(&(&*g.instance, g.vmid))
            .copied()
            .unwrap_or(0)
            .max(pbs_newest.get(&(pbs_type, g.vmid)).copied().unwrap_or(0));
        if last <= 0 {
            continue;
        }
        let days = (ctx.now - last) as f64 / DAY_MS;
        let hit = age_level(days, d.warning_days, d.critical_days);
        rid.clear();
        let _ = write!(rid, "{}-{}", g.instance, g.vmid);
        if hit.is_none() && !out.touched_id(&rid) {
            continue; // nothing to raise, nothing tracked to clear
        }
        if guest_override(cfg, &rid, g).is_some_and(|o| o.disabled) {
            continue;
        }
        let r = Arc::new(Resource {
            id: rid.clone(),
            name: Cow::Borrowed(&g.name),
            node: Cow::Borrowed(&g.node),
            instance: Cow::Borrowed(&g.instance),
            owner: Cow::Borrowed(&g.instance),
            resource_type: if g.kind == "lxc" { "Container" } else { "VM" },
            monitor_only: false,
        });
        let message = match hit {
            Some(_) => format!("Last backup of {} is {days:.1} days old", g.name),
            None => String::new(),
        };
        out.push(
            &r,
            format!("backup-age-{rid}"),
            "backup-age",
            (days * 10.0).round() / 10.0,
            Rule::Condition {
                level: hit.map(|h| h.0),
                confirmations: 1,
                threshold: hit.map(|h| h.1).unwrap_or(0.0),
                message,
            },
        );
    }
}

fn snapshot_age<'a>(out: &mut Out<'a>, cfg: &AlertConfig, ctx: &Ctx, state: &'a State) {
    use std::fmt::Write as _;
    let d = &cfg.snapshot_defaults;
    let mut rid = String::new();
    for s in &state.pve_backups.guest_snapshots {
        if s.time <= 0 {
            continue;
        }
        let days = (ctx.now - s.time) as f64 / DAY_MS;
        let mut hit = age_level(days, d.warning_days, d.critical_days);
        let gib = s.size_bytes.map(|b| b as f64 / (MB * 1024.0));
        if let Some(gib) = gib {
            let by_size = match (d.warning_size_gib, d.critical_size_gib) {
                (_, Some(c)) if c > 0.0 && gib >= c => Some((Level::Critical, c)),
                (Some(w), _) if w > 0.0 && gib >= w => Some((Level::Warning, w)),
                _ => None,
            };
            if by_size.map(|b| b.0) > hit.map(|h| h.0) {
                hit = by_size;
            }
        }
        rid.clear();
        let _ = write!(rid, "{}-{}", s.instance, s.vmid);
        if hit.is_none() && !out.touched_id(&rid) {
            continue; // nothing to raise, nothing tracked to clear
        }
        let r = Arc::new(Resource {
            id: rid.clone(),
            name: Cow::Owned(format!("{}@{}", s.vmid, s.name)),
            node: Cow::Borrowed(&s.node),
            instance: Cow::Borrowed(&s.instance),
            owner: Cow::Borrowed(&s.instance),
            resource_type: if s.kind == "lxc" { "Container" } else { "VM" },
            monitor_only: false,
        });
        let message = match hit {
            Some(_) => format!(
                "Snapshot '{}' of guest {} is {days:.1} days old",
                s.name, s.vmid
            ),
            None => String::new(),
        };
        out.push(
            &r,
            format!("snapshot-age-{}", s.id),
            "snapshot-age",
            (days * 10.0).round() / 10.0,
            Rule::Condition {
                level: hit.map(|h| h.0),
                confirmations: 1,
                threshold: hit.map(|h| h.1).unwrap_or(0.0),
                message,
            },
        );
    }
}
