//! Alert engine benchmark: one evaluation tick for 10,000 running guests × 7 metrics (cpu,
//! memory, disk, disk read/write, network in/out — every threshold enabled), healthy and with
//! 1,000 guests above their CPU trigger (1,000 active alerts held from tick to tick).
//! `cargo bench --bench alerts` — prints median and p95 per tick. Env: `GUESTS` (default
//! 10000), `TICKS` (default 60).

use pulse::alerts::Engine;
use pulse::alerts::config::{AlertConfig, Hysteresis};
use pulse::model::*;
use std::time::Instant;

const T0: i64 = 1_764_000_000_000;
const MB: u64 = 1024 * 1024;

fn guest(vmid: u32, cpu: f64) -> Guest {
    let mem = 40.0 + (vmid % 30) as f64;
    Guest {
        id: format!("pve-n{}-{vmid}", vmid % 20),
        vmid,
        name: format!("vm{vmid}"),
        node: format!("n{}", vmid % 20).into(),
        instance: "pve".into(),
        status: "running".into(),
        kind: if vmid.is_multiple_of(3) {
            "lxc"
        } else {
            "qemu"
        },
        cpu,
        cpus: 4,
        memory: Some(Memory {
            total: 8 << 30,
            used: ((8u64 << 30) as f64 * mem / 100.0) as u64,
            usage: mem,
            ..Default::default()
        }),
        disk: Some(Disk {
            total: 100 << 30,
            used: 40 << 30,
            free: 60 << 30,
            usage: 40.0,
            ..Default::default()
        }),
        network_in: 5 * MB,
        network_out: 3 * MB,
        disk_read: 20 * MB,
        disk_write: 10 * MB,
        uptime: 86_400,
        ..Default::default()
    }
}

fn state(guests: usize, hot_every: usize) -> State {
    State {
        vms: (0..guests as u32)
            .map(|i| {
                let hot = hot_every > 0 && (i as usize).is_multiple_of(hot_every);
                std::sync::Arc::new(guest(100 + i, if hot { 0.9 } else { 0.3 }))
            })
            .collect(),
        connection_health: [("pve".to_string(), true)].into(),
        ..Default::default()
    }
}

fn config() -> AlertConfig {
    let mut c = AlertConfig {
        activation_state: "active".into(),
        ..Default::default()
    };
    // All seven guest metrics on (the I/O ones are off by default), no grace period.
    let g = &mut c.guest_defaults;
    g.disk_read = Some(Hysteresis::new(200.0, 150.0));
    g.disk_write = Some(Hysteresis::new(200.0, 150.0));
    g.network_in = Some(Hysteresis::new(100.0, 80.0));
    g.network_out = Some(Hysteresis::new(100.0, 80.0));
    c.time_thresholds.insert("guest".into(), 0);
    c
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs `ticks` evaluations 10 s apart after two warm-up ticks; returns per-tick ms.
fn run(s: &State, c: &AlertConfig, ticks: usize, expect_active: usize) -> Vec<f64> {
    let mut e = Engine::default();
    e.evaluate(s, c, T0);
    e.evaluate(s, c, T0 + 10_000);
    assert_eq!(e.active().count(), expect_active, "alerts held");
    (0..ticks as i64)
        .map(|i| {
            let t = Instant::now();
            std::hint::black_box(e.evaluate(s, c, T0 + (i + 2) * 10_000));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn main() {
    let n: usize = std::env::var("GUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let ticks: usize = std::env::var("TICKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let c = config();
    println!("guests: {n} × 7 metrics, {ticks} ticks");
    let mut healthy = run(&state(n, 0), &c, ticks, 0);
    println!(
        "healthy fleet:              median {:.2} ms, p95 {:.2} ms per tick",
        pct(&mut healthy.clone(), 0.5),
        pct(&mut healthy, 0.95)
    );
    let mut hot = run(&state(n, 10), &c, ticks, n.div_ceil(10));
    println!(
        "{} active alerts:         median {:.2} ms, p95 {:.2} ms per tick",
        n.div_ceil(10),
        pct(&mut hot.clone(), 0.5),
        pct(&mut hot, 0.95)
    );
}
