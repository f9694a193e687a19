//! Simulated-time tests of the engine: hours of alert behaviour driven by plain `now` values.

use super::alert::{AlertEvent, Level, ResolvedBy};
use super::config::{AlertConfig, Hysteresis, ThresholdConfig};
use super::engine::Engine;
use crate::model::*;

const T0: i64 = 1_764_000_000_000; // 2025-11-24T16:00:00Z, a Monday
const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;

fn guest(vmid: u32, cpu: f64, mem: f64) -> Guest {
    Guest {
        id: format!("pve-n1-{vmid}"),
        vmid,
        name: format!("vm{vmid}"),
        node: "n1".into(),
        instance: "pve".into(),
        status: "running".into(),
        kind: "qemu",
        cpu,
        cpus: 2,
        memory: Some(Memory {
            total: 1000,
            used: (mem * 10.0) as u64,
            free: 0,
            usage: mem,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn state(vms: Vec<Guest>) -> State {
    State {
        vms: vms.into_iter().map(std::sync::Arc::new).collect(),
        connection_health: [("pve".to_string(), true)].into(),
        ..Default::default()
    }
}

fn cfg() -> AlertConfig {
    AlertConfig {
        activation_state: "active".into(),
        ..Default::default()
    }
}

fn raised(ev: &[AlertEvent]) -> Vec<(String, Level, bool)> {
    ev.iter()
        .filter_map(|e| match e {
            AlertEvent::Raised { alert, notify } => Some((alert.id.clone(), alert.level, *notify)),
            _ => None,
        })
        .collect()
}

fn resolved(ev: &[AlertEvent]) -> Vec<(String, ResolvedBy)> {
    ev.iter()
        .filter_map(|e| match e {
            AlertEvent::Resolved { alert, by, .. } => Some((alert.id.clone(), *by)),
            _ => None,
        })
        .collect()
}

fn suppressed(ev: &[AlertEvent]) -> Vec<&'static str> {
    ev.iter()
        .filter_map(|e| match e {
            AlertEvent::Suppressed { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn hysteresis_fires_at_trigger_after_grace_and_clears_at_clear() {
    let c = cfg(); // guest cpu 80/75, grace 5 s
    let mut e = Engine::default();
    let mut t = T0;
    // 79.9 % never fires.
    for _ in 0..10 {
        assert!(raised(&e.evaluate(&state(vec![guest(101, 0.799, 10.0)]), &c, t)).is_empty());
        t += 10 * SEC;
    }
    // 80 % (inclusive): first breach is pending, the second (10 s later) fires.
    let first = t;
    assert!(raised(&e.evaluate(&state(vec![guest(101, 0.80, 10.0)]), &c, t)).is_empty());
    t += 10 * SEC;
    let ev = e.evaluate(&state(vec![guest(101, 0.81, 10.0)]), &c, t);
    assert_eq!(
        raised(&ev),
        vec![("pve-101-cpu".to_string(), Level::Warning, true)]
    );
    let a = e.get("pve-101-cpu").unwrap();
    assert_eq!(a.start_time, first, "start = first breach");
    assert_eq!(a.metadata["clearThreshold"], 75.0);
    assert_eq!(a.metadata["resourceType"], "VM");
    assert_eq!(a.message, "VM cpu at 81.0%");
    // Between clear and trigger: stays active, value follows.
    for v in [0.78, 0.76, 0.751] {
        t += 10 * SEC;
        let ev = e.evaluate(&state(vec![guest(101, v, 10.0)]), &c, t);
        assert!(resolved(&ev).is_empty());
    }
    assert!((e.get("pve-101-cpu").unwrap().value - 75.1).abs() < 1e-9);
    // At clear (inclusive) it resolves.
    t += 10 * SEC;
    let ev = e.evaluate(&state(vec![guest(101, 0.75, 10.0)]), &c, t);
    assert_eq!(
        resolved(&ev),
        vec![("pve-101-cpu".to_string(), ResolvedBy::Recovered)]
    );
    assert!(e.get("pve-101-cpu").is_none());
}

#[test]
fn critical_at_trigger_plus_ten_and_cpu_is_clamped() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    let mut e = Engine::default();
    let ev = e.evaluate(&state(vec![guest(101, 0.85, 10.0)]), &c, T0);
    assert_eq!(raised(&ev)[0].1, Level::Warning);
    let ev = e.evaluate(&state(vec![guest(101, 1.4, 10.0)]), &c, T0 + 10 * SEC);
    assert!(
        ev.iter()
            .any(|e| matches!(e, AlertEvent::LevelRaised { alert, notify: true } if alert.level == Level::Critical))
    );
    let a = e.get("pve-101-cpu").unwrap();
    assert_eq!(a.value, 100.0, "CPU never shows above 100 %");
}

#[test]
fn grace_period_swallows_short_spikes() {
    let mut c = cfg();
    c.metric_time_thresholds = Some(
        [(
            "guest".to_string(),
            [("cpu".to_string(), 120i64)].into_iter().collect(),
        )]
        .into_iter()
        .collect(),
    );
    let mut e = Engine::default();
    let mut t = T0;
    // A 60 s backup-like spike: never fires.
    for i in 0..30 {
        let cpu = if (5..11).contains(&i) { 0.99 } else { 0.2 };
        let ev = e.evaluate(&state(vec![guest(101, cpu, 10.0)]), &c, t);
        assert!(raised(&ev).is_empty(), "tick {i}");
        t += 10 * SEC;
    }
    // Sustained: fires once 120 s have passed since the first breach.
    let start = t;
    let mut fired_at = None;
    for _ in 0..30 {
        let ev = e.evaluate(&state(vec![guest(101, 0.99, 10.0)]), &c, t);
        if !raised(&ev).is_empty() {
            fired_at = Some(t);
            break;
        }
        t += 10 * SEC;
    }
    assert_eq!(fired_at, Some(start + 120 * SEC));
    assert_eq!(e.get("pve-101-cpu").unwrap().start_time, start);
}

#[test]
fn stopped_and_template_guests_never_alert_on_usage() {
    let c = cfg();
    let mut e = Engine::default();
    let mut stopped = guest(101, 1.0, 99.0);
    stopped.status = "stopped".into();
    let mut template = guest(102, 1.0, 99.0);
    template.template = true;
    let mut t = T0;
    for _ in 0..360 {
        let ev = e.evaluate(&state(vec![stopped.clone(), template.clone()]), &c, t);
        assert!(raised(&ev).is_empty());
        t += 10 * SEC;
    }
    assert_eq!(
        e.active().count(),
        0,
        "one hour of a stopped guest: nothing"
    );
    // A running guest with an alert that then stops: its usage alerts end at once.
    let hot = guest(103, 0.95, 10.0);
    e.evaluate(&state(vec![hot.clone()]), &c, t);
    e.evaluate(&state(vec![hot.clone()]), &c, t + 10 * SEC);
    assert!(e.get("pve-103-cpu").is_some());
    let mut off = hot.clone();
    off.status = "stopped".into();
    let ev = e.evaluate(&state(vec![off.clone()]), &c, t + 20 * SEC);
    assert_eq!(
        resolved(&ev),
        vec![("pve-103-cpu".to_string(), ResolvedBy::Recovered)]
    );
    // …and because Pulse saw it running, stopping it raises powered-off after 2 checks.
    let ev = e.evaluate(&state(vec![off.clone()]), &c, t + 30 * SEC);
    assert_eq!(
        raised(&ev),
        vec![(
            "guest-powered-off-pve-103".to_string(),
            Level::Warning,
            true
        )]
    );
    // Guest 101 was never seen running: no powered-off alert for it.
    assert!(e.get("guest-powered-off-pve-101").is_none());
    // Back up: resolved.
    let ev = e.evaluate(&state(vec![guest(103, 0.1, 10.0)]), &c, t + 40 * SEC);
    assert_eq!(resolved(&ev)[0].0, "guest-powered-off-pve-103");
}

#[test]
fn flapping_is_detected_and_silenced() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.minimum_delta = 0.5;
    // Isolate flapping from the per-alert cooldown (which alone would allow 1 notification).
    c.schedule.cooldown = 0;
    let mut e = Engine::default();
    let mut t = T0;
    let mut notified = 0;
    let mut created = 0;
    // Oscillates every 10 s for 15 minutes, each breach at a slightly different value.
    for i in 0..90 {
        let cpu = if i % 2 == 0 {
            0.85 + (i % 10) as f64 / 100.0
        } else {
            0.5
        };
        let ev = e.evaluate(&state(vec![guest(101, cpu, 10.0)]), &c, t);
        for (_, _, n) in raised(&ev) {
            created += 1;
            notified += n as usize;
        }
        t += 10 * SEC;
    }
    // Threshold 5 in 300 s: the 5th raise within the window is flagged as flapping and not
    // notified, and for the 15 min cooldown no alert is even created.
    assert_eq!(notified, 4);
    assert_eq!(created, 5);
}

#[test]
fn duplicate_within_suppression_window_is_not_recreated() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.flapping_enabled = false;
    let mut e = Engine::default();
    assert_eq!(
        raised(&e.evaluate(&state(vec![guest(101, 0.90, 10.0)]), &c, T0)).len(),
        1
    );
    e.evaluate(&state(vec![guest(101, 0.10, 10.0)]), &c, T0 + 10 * SEC);
    let ev = e.evaluate(&state(vec![guest(101, 0.905, 10.0)]), &c, T0 + 20 * SEC);
    assert!(raised(&ev).is_empty());
    assert_eq!(suppressed(&ev), vec!["duplicate"]);
    // After the window, it may come back.
    e.evaluate(&state(vec![guest(101, 0.1, 10.0)]), &c, T0 + 6 * MIN);
    let ev = e.evaluate(
        &state(vec![guest(101, 0.90, 10.0)]),
        &c,
        T0 + 6 * MIN + 10 * SEC,
    );
    assert_eq!(raised(&ev).len(), 1);
}

#[test]
fn cooldown_holds_back_a_quick_re_raise() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.flapping_enabled = false;
    c.schedule.cooldown = 30;
    let mut e = Engine::default();
    assert!(raised(&e.evaluate(&state(vec![guest(101, 0.90, 10.0)]), &c, T0))[0].2);
    e.evaluate(&state(vec![guest(101, 0.1, 10.0)]), &c, T0 + MIN);
    let ev = e.evaluate(&state(vec![guest(101, 0.87, 10.0)]), &c, T0 + 10 * MIN);
    assert_eq!(
        raised(&ev),
        vec![("pve-101-cpu".to_string(), Level::Warning, false)]
    );
    assert_eq!(suppressed(&ev), vec!["cooldown"]);
    e.evaluate(&state(vec![guest(101, 0.1, 10.0)]), &c, T0 + 11 * MIN);
    let ev = e.evaluate(&state(vec![guest(101, 0.93, 10.0)]), &c, T0 + 45 * MIN);
    assert!(raised(&ev)[0].2, "after the cooldown it notifies again");
}

#[test]
fn rate_limit_per_alert_per_hour() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.flapping_enabled = false;
    c.schedule.cooldown = 0;
    c.schedule.max_alerts_hour = 2;
    c.suppression_window = 1;
    let mut e = Engine::default();
    let mut notes = 0;
    for i in 0..6 {
        let t = T0 + i * 4 * MIN;
        let ev = e.evaluate(&state(vec![guest(101, 0.9, 10.0)]), &c, t);
        notes += raised(&ev).iter().filter(|r| r.2).count();
        e.evaluate(&state(vec![guest(101, 0.1, 10.0)]), &c, t + 2 * MIN);
    }
    assert_eq!(notes, 2);
}

#[test]
fn quiet_hours_suppress_only_configured_categories() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.time_thresholds.insert("node".into(), 0);
    let q = &mut c.schedule.quiet_hours;
    q.enabled = true;
    q.start = "15:00".into();
    q.end = "17:00".into();
    q.timezone = "UTC".into();
    q.suppress.performance = false;
    q.suppress.offline = false;
    let mut e = Engine::default();
    // T0 is Monday 16:00 UTC: inside. Warning → held; critical cpu → sent (performance
    // not suppressed).
    let ev = e.evaluate(
        &state(vec![guest(101, 0.85, 10.0), guest(102, 0.99, 10.0)]),
        &c,
        T0,
    );
    let r = raised(&ev);
    assert!(r.contains(&("pve-101-cpu".into(), Level::Warning, false)));
    assert!(r.contains(&("pve-102-cpu".into(), Level::Critical, true)));
    assert!(suppressed(&ev).contains(&"quiet_hours"));
    // With performance suppressed, a critical cpu alert is held too.
    c.schedule.quiet_hours.suppress.performance = true;
    let mut e2 = Engine::default();
    let ev = e2.evaluate(&state(vec![guest(102, 0.99, 10.0)]), &c, T0);
    assert!(!raised(&ev)[0].2);
    // Once quiet hours are over, the warning still going on is notified (deferred).
    let ev = e.evaluate(
        &state(vec![guest(101, 0.85, 10.0), guest(102, 0.99, 10.0)]),
        &c,
        T0 + 61 * MIN,
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, AlertEvent::Deferred { alert } if alert.id == "pve-101-cpu"))
    );
    assert!(e.get("pve-101-cpu").unwrap().last_notified.is_some());
}

#[test]
fn escalation_levels_fire_on_time_until_acknowledged() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.schedule.escalation.enabled = true;
    let mut e = Engine::default();
    let s = state(vec![guest(101, 0.9, 10.0), guest(102, 0.9, 10.0)]);
    e.evaluate(&s, &c, T0);
    let mut t = T0;
    let mut escalations = Vec::new();
    while t <= T0 + 2 * 60 * MIN {
        if t == T0 + 20 * MIN {
            e.acknowledge("pve-102-cpu", "admin", t).unwrap();
        }
        for ev in e.evaluate(&s, &c, t) {
            if let AlertEvent::Escalated { alert, level, .. } = ev {
                escalations.push((alert.id, level, (t - T0) / MIN));
            }
        }
        t += MIN;
    }
    assert_eq!(
        escalations,
        vec![
            ("pve-101-cpu".into(), 1, 15),
            ("pve-102-cpu".into(), 1, 15),
            ("pve-101-cpu".into(), 2, 30),
            ("pve-101-cpu".into(), 3, 60),
        ]
    );
    let a = e.get("pve-101-cpu").unwrap();
    assert_eq!(a.last_escalation, Some(3));
    assert_eq!(a.escalation_times.len(), 3);
}

fn node(id: &str, status: &str, health: &str) -> Node {
    Node {
        id: format!("pve-{id}"),
        node: id.into(),
        name: id.into(),
        instance: "pve".into(),
        status: status.into(),
        kind: "node",
        connection_health: health.into(),
        ..Default::default()
    }
}

#[test]
fn node_offline_needs_three_checks_and_clears_when_back() {
    let c = cfg();
    let mut e = Engine::default();
    let on = State {
        nodes: vec![node("n1", "online", "healthy")],
        ..Default::default()
    };
    let off = State {
        nodes: vec![node("n1", "offline", "error")],
        ..Default::default()
    };
    e.evaluate(&on, &c, T0);
    assert!(raised(&e.evaluate(&off, &c, T0 + 10 * SEC)).is_empty());
    assert!(raised(&e.evaluate(&off, &c, T0 + 20 * SEC)).is_empty());
    let ev = e.evaluate(&off, &c, T0 + 30 * SEC);
    assert_eq!(
        raised(&ev),
        vec![("node-offline-pve-n1".into(), Level::Critical, true)]
    );
    assert_eq!(e.get("node-offline-pve-n1").unwrap().kind, "connectivity");
    let ev = e.evaluate(&on, &c, T0 + 40 * SEC);
    assert_eq!(resolved(&ev)[0].0, "node-offline-pve-n1");
    // Reports of other instances in quick succession do not count as separate checks.
    let mut e3 = Engine::default();
    for i in 0..10 {
        assert!(raised(&e3.evaluate(&off, &c, T0 + i * 500)).is_empty());
    }
    assert!(raised(&e3.evaluate(&off, &c, T0 + 5 * SEC)).is_empty());
    assert_eq!(raised(&e3.evaluate(&off, &c, T0 + 10 * SEC)).len(), 1);
    // Override with disableConnectivity: never.
    let mut c2 = c.clone();
    c2.overrides.insert(
        "pve-n1".into(),
        ThresholdConfig {
            disable_connectivity: true,
            ..Default::default()
        },
    );
    let mut e2 = Engine::default();
    for i in 0..10 {
        assert!(raised(&e2.evaluate(&off, &c2, T0 + i * 10 * SEC)).is_empty());
    }
}

#[test]
fn storage_ceph_pbs_pmg_alerts() {
    let mut c = cfg();
    for k in ["storage", "node", "pbs"] {
        c.time_thresholds.insert(k.into(), 0);
    }
    let s = State {
        storage: vec![
            Storage {
                id: "pve-n1-local".into(),
                name: "local".into(),
                node: "n1".into(),
                instance: "pve".into(),
                status: "available".into(),
                usage: 97.5,
                total: 100,
                ..Default::default()
            },
            Storage {
                id: "pve-n1-nfs".into(),
                name: "nfs".into(),
                node: "n1".into(),
                instance: "pve".into(),
                status: "unavailable".into(),
                ..Default::default()
            },
        ],
        ceph_clusters: vec![CephCluster {
            id: "pve-fsid".into(),
            instance: "pve".into(),
            name: "Ceph".into(),
            health: "HEALTH_ERR".into(),
            health_message: "1 osds down".into(),
            ..Default::default()
        }],
        pbs: vec![PbsInstance {
            id: "pbs-main".into(),
            name: "main".into(),
            status: "online".into(),
            connection_health: "healthy".into(),
            verify_jobs: Some(vec![serde_json::json!({
                "id": "v-1", "store": "ds1", "status": "failed", "error": "chunk missing"
            })]),
            datastores: Some(vec![PbsDatastore {
                name: "ds1".into(),
                total: 100,
                usage: 91.0,
                ..Default::default()
            }]),
            ..Default::default()
        }],
        pmg: vec![PmgInstance {
            id: "pmg-mail".into(),
            name: "mail".into(),
            status: "online".into(),
            connection_health: "healthy".into(),
            nodes: vec![PmgNode {
                name: "m1".into(),
                queue_status: Some(PmgQueueStatus {
                    total: 1200,
                    deferred: 10,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut e = Engine::default();
    e.evaluate(&s, &c, T0);
    e.evaluate(&s, &c, T0 + 10 * SEC);
    let mut ids: Vec<(String, Level)> = e.active().map(|a| (a.id.clone(), a.level)).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("ceph-health-pve-fsid".into(), Level::Critical),
            ("pbs-job-pbs-main-verify-v-1".into(), Level::Critical),
            ("pbs-main-datastore-ds1-usage".into(), Level::Warning),
            ("pmg-mail-queue-total".into(), Level::Critical),
            ("pve-n1-local-usage".into(), Level::Critical),
            ("storage-offline-pve-n1-nfs".into(), Level::Warning),
        ]
    );
    assert_eq!(
        e.get("pve-n1-local-usage").unwrap().message,
        "Storage at 97.5%"
    );
    // Faults lifted: everything resolves.
    let mut ok = s.clone();
    ok.storage[0].usage = 40.0;
    ok.storage[1].status = "available".into();
    ok.ceph_clusters[0].health = "HEALTH_OK".into();
    ok.pbs[0].verify_jobs = Some(vec![serde_json::json!({"id": "v-1", "status": "ok"})]);
    if let Some(d) = ok.pbs[0].datastores.as_mut() {
        d[0].usage = 50.0;
    }
    ok.pmg[0].nodes[0].queue_status = Some(PmgQueueStatus::default());
    let ev = e.evaluate(&ok, &c, T0 + 20 * SEC);
    assert_eq!(resolved(&ev).len(), 6);
    assert_eq!(e.active().count(), 0);
}

#[test]
fn overrides_tags_and_config_changes() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    let mut e = Engine::default();
    let s = state(vec![guest(101, 0.9, 10.0)]);
    e.evaluate(&s, &c, T0);
    assert!(e.get("pve-101-cpu").is_some());
    // −1 disables the metric for this guest: the alert resolves at once.
    c.overrides.insert(
        "pve-101".into(),
        ThresholdConfig {
            cpu: Some(Hysteresis::new(-1.0, 0.0)),
            ..Default::default()
        },
    );
    let ev = e.evaluate(&s, &c, T0 + 10 * SEC);
    assert_eq!(
        resolved(&ev),
        vec![("pve-101-cpu".into(), ResolvedBy::Config)]
    );
    // Fractional trigger on an override.
    c.overrides.insert(
        "pve-101".into(),
        ThresholdConfig {
            cpu: Some(Hysteresis::new(92.5, 90.0)),
            ..Default::default()
        },
    );
    assert!(raised(&e.evaluate(&state(vec![guest(101, 0.92, 10.0)]), &c, T0 + 6 * MIN)).is_empty());
    assert_eq!(
        raised(&e.evaluate(&state(vec![guest(101, 0.926, 10.0)]), &c, T0 + 7 * MIN)).len(),
        1
    );
    c.overrides.clear();
    // pulse-relaxed raises cpu to 95; pulse-no-alerts silences everything.
    let mut relaxed = guest(102, 0.93, 10.0);
    relaxed.tags = "prod,Pulse-Relaxed".into();
    let mut quiet = guest(103, 1.0, 99.0);
    quiet.tags = "pulse-no-alerts".into();
    let mut monitor_only = guest(104, 0.85, 10.0);
    monitor_only.tags = "pulse-monitor-only".into();
    let ev = e.evaluate(&state(vec![relaxed, quiet, monitor_only]), &c, T0 + 8 * MIN);
    assert_eq!(
        raised(&ev),
        vec![("pve-104-cpu".into(), Level::Warning, false)]
    );
    assert_eq!(e.get("pve-104-cpu").unwrap().metadata["monitorOnly"], true);
    assert!(suppressed(&ev).contains(&"monitor_only"));
    // Master switch off: everything resolves.
    c.enabled = false;
    let ev = e.evaluate(&state(vec![]), &c, T0 + 9 * MIN);
    assert!(!resolved(&ev).is_empty());
    assert_eq!(e.active().count(), 0);
}

#[test]
fn backup_jobs_hold_io_alerts_and_backup_age_fires() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.guest_defaults.disk_read = Some(Hysteresis::new(100.0, 80.0));
    c.backup_defaults.enabled = true;
    let mut g = guest(101, 0.1, 10.0);
    g.disk_read = 300 * 1024 * 1024;
    let mut s = state(vec![g.clone()]);
    std::sync::Arc::make_mut(&mut s.pve_backups)
        .backup_tasks
        .push(BackupTask {
            id: "pve-UPID".into(),
            node: "n1".into(),
            vmid: 101,
            ..Default::default()
        });
    std::sync::Arc::make_mut(&mut s.pve_backups)
        .storage_backups
        .push(StorageBackup {
            instance: "pve".into(),
            vmid: 101,
            time: T0 - 10 * 86_400_000,
            ..Default::default()
        });
    let mut e = Engine::default();
    let ev = e.evaluate(&s, &c, T0);
    assert!(e.get("pve-101-diskRead").is_none(), "vzdump running: held");
    assert_eq!(
        raised(&ev),
        vec![("backup-age-pve-101".into(), Level::Warning, true)]
    );
    // Backup done: the I/O rule applies again.
    std::sync::Arc::make_mut(&mut s.pve_backups).backup_tasks[0].status = "OK".into();
    std::sync::Arc::make_mut(&mut s.pve_backups).backup_tasks[0].end_time = T0;
    e.evaluate(&s, &c, T0 + 10 * SEC);
    let a = e.get("pve-101-diskRead").unwrap();
    assert_eq!(a.message, "VM diskRead at 300.0 MB/s");
    assert_eq!(a.metadata["unit"], "MB/s");
    assert!(e.get("backup-age-pve-101").is_some());
    // A fresh backup: the tracked guest is still observed, and its age alert clears.
    std::sync::Arc::make_mut(&mut s.pve_backups).storage_backups[0].time = T0 + 15 * SEC;
    e.evaluate(&s, &c, T0 + 20 * SEC);
    assert!(e.get("backup-age-pve-101").is_none(), "cleared");
}

#[test]
fn gone_resources_resolve_but_wait_for_a_slow_first_poll() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    let mut e = Engine::default();
    e.evaluate(&state(vec![guest(101, 0.9, 10.0)]), &c, T0);
    e.acknowledge("pve-101-cpu", "admin", T0).unwrap();
    let saved: Vec<_> = e.tracked().cloned().collect();
    // "Restart": the stored alerts come back; the first state lacks instance `pve`.
    let mut e =
        Engine::restore(serde_json::from_value(serde_json::to_value(&saved).unwrap()).unwrap());
    let empty = State::default();
    assert!(resolved(&e.evaluate(&empty, &c, T0 + MIN)).is_empty());
    // Instance reports and the guest is still hot: the same alert, still acknowledged.
    e.evaluate(&state(vec![guest(101, 0.9, 10.0)]), &c, T0 + 2 * MIN);
    let a = e.get("pve-101-cpu").unwrap();
    assert!(a.acknowledged && a.start_time == T0);
    // The instance reports without the guest (deleted): resolved as gone.
    let ev = e.evaluate(&state(vec![]), &c, T0 + 3 * MIN);
    assert_eq!(
        resolved(&ev),
        vec![("pve-101-cpu".into(), ResolvedBy::Gone)]
    );
}

#[test]
fn housekeeping_auto_ack_and_age_limits() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.auto_acknowledge_after_hours = 2;
    c.max_acknowledged_age_days = 1;
    let mut e = Engine::default();
    let s = state(vec![guest(101, 0.9, 10.0)]);
    e.evaluate(&s, &c, T0);
    e.evaluate(&s, &c, T0 + 119 * MIN);
    assert!(!e.get("pve-101-cpu").unwrap().acknowledged);
    let ev = e.evaluate(&s, &c, T0 + 120 * MIN);
    assert!(
        ev.iter()
            .any(|e| matches!(e, AlertEvent::Acknowledged { .. }))
    );
    assert_eq!(
        e.get("pve-101-cpu").unwrap().ack_user.as_deref(),
        Some("system-auto")
    );
    let ev = e.evaluate(&s, &c, T0 + 120 * MIN + 24 * 60 * MIN);
    assert!(resolved(&ev).contains(&("pve-101-cpu".into(), ResolvedBy::Expired)));
}

#[test]
fn ack_unack_clear() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    let mut e = Engine::default();
    let s = state(vec![guest(101, 0.9, 10.0)]);
    e.evaluate(&s, &c, T0);
    assert!(e.acknowledge("nope", "admin", T0).is_err());
    let a = e.acknowledge("pve-101-cpu", "bob", T0 + 1).unwrap();
    assert_eq!((a.acknowledged, a.ack_user.as_deref()), (true, Some("bob")));
    let a = e.unacknowledge("pve-101-cpu").unwrap();
    assert!(!a.acknowledged && a.ack_time.is_none());
    assert!(matches!(
        e.clear("pve-101-cpu", T0 + 2).unwrap(),
        AlertEvent::Resolved {
            by: ResolvedBy::Manual,
            ..
        }
    ));
    assert!(e.clear("pve-101-cpu", T0 + 3).is_err());
    // Clearing is not silencing: still hot, so it comes back.
    let ev = e.evaluate(&s, &c, T0 + 10 * SEC);
    assert_eq!(raised(&ev).len(), 1);
}

#[test]
fn pending_review_holds_notifications_but_alerts_show() {
    let mut c = AlertConfig::default();
    c.time_thresholds.insert("guest".into(), 0);
    assert_eq!(c.activation_state, "pending_review");
    let mut e = Engine::default();
    let ev = e.evaluate(&state(vec![guest(101, 0.9, 10.0)]), &c, T0);
    assert!(!raised(&ev)[0].2);
    assert_eq!(suppressed(&ev), vec!["not_activated"]);
    c.activation_state = "active".into();
    let ev = e.evaluate(&state(vec![guest(101, 0.9, 10.0)]), &c, T0 + 10 * SEC);
    assert!(matches!(ev.as_slice(), [AlertEvent::Deferred { .. }]));
}

// The 10,000-guest evaluation benchmark lives in benches/alerts.rs.

#[test]
fn per_filesystem_disk_alerts() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    let mut g = guest(101, 0.1, 10.0);
    let fs = |mp: &str, dev: &str, usage: f64| Disk {
        total: 100,
        used: usage as u64,
        free: 100 - usage as u64,
        usage,
        mountpoint: Some(mp.into()),
        kind: Some("ext4".into()),
        device: Some(dev.into()),
    };
    g.disk = Some(fs("", "", 40.0));
    g.disks = vec![
        fs("/", "/dev/sda1", 50.0),
        fs("/var/Log Data", "/dev/sdb1", 96.0),
    ]
    .into();
    let mut e = Engine::default();
    let ev = e.evaluate(&state(vec![g.clone()]), &c, T0);
    assert_eq!(
        raised(&ev),
        vec![(
            "pve-101-disk-var-log-data-dev-sdb1".into(),
            Level::Warning,
            true
        )]
    );
    let a = e.get("pve-101-disk-var-log-data-dev-sdb1").unwrap();
    assert_eq!(a.message, "VM disk (/var/Log Data) at 96.0%");
    assert_eq!(a.metadata["mountpoint"], "/var/Log Data");
    assert_eq!(a.metadata["diskIndex"], 1);
    assert_eq!(a.metadata["totalBytes"], 100);
    assert_eq!(super::rules::disk_key("/", 0), "root");
    assert_eq!(super::rules::disk_key("--", 3), "disk-3");
    // Without per-filesystem data the aggregate applies.
    g.disks = Default::default();
    g.disk = Some(fs("", "", 93.0));
    let ev = e.evaluate(&state(vec![g]), &c, T0 + 10 * SEC);
    assert_eq!(raised(&ev)[0].0, "pve-101-disk");
    assert_eq!(resolved(&ev)[0].0, "pve-101-disk-var-log-data-dev-sdb1");
}

#[test]
fn config_reevaluation_resolves_but_never_counts_as_a_poll() {
    let c = cfg();
    let mut e = Engine::default();
    let off = State {
        nodes: vec![node("n1", "offline", "error")],
        ..Default::default()
    };
    e.evaluate(&off, &c, T0);
    e.evaluate(&off, &c, T0 + 10 * SEC);
    // Two config saves in a row: no third "confirmation".
    assert!(raised(&e.reevaluate(&off, &c, T0 + 11 * SEC)).is_empty());
    assert!(raised(&e.reevaluate(&off, &c, T0 + 12 * SEC)).is_empty());
    // The real third poll raises, with the start of the first detection.
    let ev = e.evaluate(&off, &c, T0 + 20 * SEC);
    assert_eq!(raised(&ev)[0].0, "node-offline-pve-n1");
    assert_eq!(e.get("node-offline-pve-n1").unwrap().start_time, T0);
    // Switching the family off resolves at once.
    let mut c2 = c.clone();
    c2.disable_all_nodes_offline = true;
    let ev = e.reevaluate(&off, &c2, T0 + 21 * SEC);
    assert_eq!(
        resolved(&ev),
        vec![("node-offline-pve-n1".into(), ResolvedBy::Config)]
    );
}

#[test]
fn smart_health_and_wearout() {
    let c = cfg();
    let disk = |dev: &str, model: &str, health: &str, wear: i32| PhysicalDisk {
        id: format!("pve-n1-{}", dev.replace('/', "-")),
        node: "n1".into(),
        instance: "pve".into(),
        dev_path: dev.into(),
        model: model.into(),
        health: health.into(),
        wearout: wear,
        ..Default::default()
    };
    let s = State {
        physical_disks: vec![
            disk("/dev/sda", "WDC", "FAILED", 100),
            disk("/dev/sdb", "Samsung SSD 980 PRO", "FAILED", 100),
            disk("/dev/nvme0n1", "Intel", "PASSED", 5),
            disk("/dev/sdc", "Seagate", "unknown", -1),
        ],
        ..Default::default()
    };
    let mut e = Engine::default();
    e.evaluate(&s, &c, T0);
    let mut ids: Vec<_> = e.active().map(|a| (a.id.clone(), a.level)).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("disk-health-pve-n1-/dev/sda".into(), Level::Critical),
            ("disk-wearout-pve-n1-/dev/nvme0n1".into(), Level::Warning),
        ]
    );
}

#[test]
fn trigger_changes_apply_to_active_alerts() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    let mut e = Engine::default();
    let s = state(vec![guest(101, 0.85, 10.0)]);
    e.evaluate(&s, &c, T0);
    assert_eq!(e.get("pve-101-cpu").unwrap().threshold, 80.0);
    // Lowering the trigger while active updates the recorded thresholds (and the level).
    c.guest_defaults.cpu = Some(Hysteresis::new(70.0, 60.0));
    e.reevaluate(&s, &c, T0 + SEC);
    let a = e.get("pve-101-cpu").unwrap();
    assert_eq!(a.threshold, 70.0);
    assert_eq!(a.metadata["clearThreshold"], 60.0);
    assert_eq!(a.level, Level::Critical, "85 >= 70 + 10");
    // Raising it above the value resolves, even though the value is above the new clear.
    c.guest_defaults.cpu = Some(Hysteresis::new(90.0, 80.0));
    let ev = e.reevaluate(&s, &c, T0 + 2 * SEC);
    assert_eq!(
        resolved(&ev),
        vec![("pve-101-cpu".into(), ResolvedBy::Config)]
    );
}

#[test]
fn custom_rules_pick_thresholds_before_overrides() {
    let mut c = cfg();
    c.time_thresholds.insert("guest".into(), 0);
    c.custom_rules = vec![serde_json::json!({
        "id": "db", "name": "databases", "priority": 5, "enabled": true,
        "filterConditions": {"filters": [{"type": "text", "field": "name", "value": "db"}],
                             "logicalOperator": "AND"},
        "thresholds": {"cpu": {"trigger": 50, "clear": 40}}
    })];
    c.normalize(&|_| true).unwrap();
    let mut db = guest(101, 0.55, 10.0);
    db.name = "pg-db".into();
    let web = guest(102, 0.55, 10.0);
    let mut e = Engine::default();
    let ev = e.evaluate(&state(vec![db.clone(), web]), &c, T0);
    assert_eq!(
        raised(&ev),
        vec![("pve-101-cpu".into(), Level::Warning, true)]
    );
    assert_eq!(e.get("pve-101-cpu").unwrap().threshold, 50.0);
    // A per-guest override still wins over the rule.
    c.overrides.insert(
        "pve-101".into(),
        ThresholdConfig {
            cpu: Some(Hysteresis::new(90.0, 85.0)),
            ..Default::default()
        },
    );
    let ev = e.evaluate(&state(vec![db]), &c, T0 + 10 * SEC);
    assert_eq!(resolved(&ev)[0].0, "pve-101-cpu");
}
