//! Moving values as pure functions of (fleet facts, seed, time): bounded random walks for CPU and
//! memory, monotonic counters, increasing uptimes, guests that start and stop now and then, and
//! backups that appear on schedule. Nothing here mutates state, so any request order gives the
//! same answers for the same clock.

use super::fleet::{Guest, Kind, Node};
use super::noise::{hash, key, unit, wave};
use std::f64::consts::TAU;

/// Length of the slots in which a guest may change run state.
pub const RUN_EPOCH: i64 = 900;
/// Chance per slot that a guest is in the opposite state to its usual one.
const FLIP_CHANCE: f64 = 0.01;
pub const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub seed: u64,
    pub genesis: i64,
    /// Per-instance salt so clusters with the same vmids differ.
    pub salt: u64,
}

impl Ctx {
    pub fn new(seed: u64, genesis: i64, instance: &str) -> Self {
        Self {
            seed,
            genesis,
            salt: key(instance),
        }
    }
    fn gid(&self, vmid: u32) -> u64 {
        self.salt ^ ((vmid as u64) << 20)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuestNow {
    pub running: bool,
    /// Start of the current run (Unix s), meaningful when running.
    pub start: i64,
    pub uptime: i64,
    pub cpu: f64,
    pub mem: u64,
    pub disk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub lock: Option<&'static str>,
}

fn running_in(ctx: &Ctx, g: &Guest, epoch: i64) -> bool {
    if g.template {
        return false;
    }
    if g.paused || epoch <= ctx.genesis.div_euclid(RUN_EPOCH) {
        return g.base_running;
    }
    let flip = unit(hash(&[ctx.seed, ctx.gid(g.vmid), 0x5157, epoch as u64])) < FLIP_CHANCE;
    g.base_running ^ flip
}

/// A cumulative byte counter since `start`: rate·Δt plus a bounded wobble whose derivative never
/// exceeds the base rate, so the counter never goes backwards.
fn counter(ctx: &Ctx, id: u64, rate: f64, start: i64, t: f64) -> u64 {
    if rate <= 0.0 {
        return 0;
    }
    let period = 600.0 + (id % 7) as f64 * 120.0;
    let phase = unit(hash(&[ctx.seed, id, 0xC0])) * TAU;
    let w = |x: f64| (TAU * x / period + phase).sin() * period / TAU;
    let s = start as f64;
    let v = rate * (t - s) + 0.9 * rate * (w(t) - w(s));
    v.max(0.0) as u64
}

pub fn backup_start(ctx: &Ctx, g: &Guest, day: i64) -> i64 {
    // nightly job from 01:00 UTC; guests queue one after another within ~2 h
    day * DAY + 3600 + ((g.vmid as i64 * 37 + (ctx.salt % 97) as i64) % 7200)
}

pub fn backup_duration(ctx: &Ctx, g: &Guest) -> i64 {
    60 + (hash(&[ctx.seed, ctx.gid(g.vmid), 0xB0]) % 540) as i64
}

pub fn backup_failed(ctx: &Ctx, g: &Guest, day: i64) -> bool {
    unit(hash(&[ctx.seed, ctx.gid(g.vmid), 0xBF, day as u64])) < 0.05
}

pub fn backup_size(ctx: &Ctx, g: &Guest, day: i64) -> u64 {
    let f = 0.15 + 0.1 * unit(hash(&[ctx.seed, ctx.gid(g.vmid), 0xB5, day as u64]));
    (g.maxdisk as f64 * g.disk_frac * f) as u64
}

/// Is the guest's nightly backup running at `t`?
fn in_backup(ctx: &Ctx, g: &Guest, t: i64) -> bool {
    if !g.backup {
        return false;
    }
    let day = t.div_euclid(DAY);
    let s = backup_start(ctx, g, day);
    t >= s && t < s + backup_duration(ctx, g)
}

pub fn guest_now(ctx: &Ctx, g: &Guest, t_ms: i64) -> GuestNow {
    let t = t_ms as f64 / 1000.0;
    let now = t_ms.div_euclid(1000);
    let epoch = now.div_euclid(RUN_EPOCH);
    let running = running_in(ctx, g, epoch);
    let lock = if in_backup(ctx, g, now) {
        Some("backup")
    } else {
        g.lock
    };
    if !running {
        return GuestNow {
            running,
            start: 0,
            uptime: 0,
            cpu: 0.0,
            mem: 0,
            disk: 0,
            netin: 0,
            netout: 0,
            diskread: 0,
            diskwrite: 0,
            lock,
        };
    }
    let gen_epoch = ctx.genesis.div_euclid(RUN_EPOCH);
    // walk back to the slot the current run began in; paused guests never change state, and
    // the walk is bounded (~7 months) so far-future clocks stay cheap
    let floor = (epoch - 20_000).max(gen_epoch);
    let mut k = if g.paused { gen_epoch } else { epoch };
    while k > floor && running_in(ctx, g, k - 1) {
        k -= 1;
    }
    let start = if k <= gen_epoch {
        g.base_start
    } else {
        k * RUN_EPOCH + 7
    };
    let start = start.min(now);
    let id = ctx.gid(g.vmid);
    let busy = if g.paused { 0.0 } else { 1.0 };
    let cpu = (g.cpu_base * (1.0 + 0.8 * wave(ctx.seed, id, t, 300.0)) * busy).clamp(0.0, 1.0);
    let memf = (g.mem_frac + 0.1 * wave(ctx.seed, id ^ 1, t, 1800.0)).clamp(0.05, 0.97);
    let disk = match g.kind {
        // PVE reports 0 for VM disks (it cannot see inside); containers report real usage
        Kind::Qemu => 0,
        Kind::Lxc => {
            (g.maxdisk as f64
                * (g.disk_frac + 0.01 * wave(ctx.seed, id ^ 2, t, 7200.0)).clamp(0.01, 0.99))
                as u64
        }
    };
    let io = g.io_rate * busy;
    let net = g.net_rate * busy;
    GuestNow {
        running,
        start,
        uptime: now - start,
        cpu,
        mem: (g.maxmem as f64 * memf) as u64,
        disk,
        netin: counter(ctx, id ^ 0x11, net, start, t),
        netout: counter(ctx, id ^ 0x12, net * 0.4, start, t),
        diskread: counter(ctx, id ^ 0x13, io * 0.7, start, t),
        diskwrite: counter(ctx, id ^ 0x14, io * 0.3, start, t),
        lock,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeNow {
    pub cpu: f64,
    pub mem_used: u64,
    pub swap_used: u64,
    pub rootfs_used: u64,
    pub uptime: i64,
    pub load: [f64; 3],
    pub iowait: f64,
}

pub fn node_now(ctx: &Ctx, n: &Node, t_ms: i64) -> NodeNow {
    let t = t_ms as f64 / 1000.0;
    let id = ctx.salt ^ (n.nodeid as u64) << 40;
    let cpu = (n.cpu_base * (1.0 + 0.7 * wave(ctx.seed, id, t, 240.0))).clamp(0.001, 1.0);
    let memf = (n.mem_frac + 0.08 * wave(ctx.seed, id ^ 1, t, 1200.0)).clamp(0.05, 0.98);
    let l = cpu * n.maxcpu as f64;
    let l5 = n.cpu_base * n.maxcpu as f64 * (1.0 + 0.5 * wave(ctx.seed, id ^ 3, t, 900.0));
    NodeNow {
        cpu,
        mem_used: (n.mem_total as f64 * memf) as u64,
        swap_used: (n.swap_total as f64 * n.swap_frac) as u64,
        rootfs_used: (n.rootfs_total as f64
            * (n.rootfs_frac + (t - ctx.genesis as f64).max(0.0) * 1e-9).min(0.99))
            as u64,
        uptime: (t_ms.div_euclid(1000) - n.boot).max(0),
        load: [l, l5.max(0.0), n.cpu_base * n.maxcpu as f64],
        iowait: (0.002 + 0.002 * wave(ctx.seed, id ^ 4, t, 600.0)).max(0.0),
    }
}

/// Storage fill level, creeping up slowly with time and wobbling a little.
pub fn storage_used(ctx: &Ctx, name: &str, total: u64, frac: f64, t_ms: i64) -> u64 {
    let t = t_ms as f64 / 1000.0;
    let f = (frac + 0.01 * wave(ctx.seed, ctx.salt ^ key(name), t, 3600.0)).clamp(0.0, 0.995);
    (total as f64 * f) as u64
}

/// PVE/PBS-style UPID pieces derived from a task identity.
pub fn pid_for(ctx: &Ctx, a: u64, b: u64) -> u32 {
    (hash(&[ctx.seed, ctx.salt, a, b]) % 4_000_000) as u32 + 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fleet::{Fleet, FleetSpec};

    fn fleet() -> Fleet {
        Fleet::generate(&FleetSpec {
            seed: 7,
            clusters: 1,
            nodes: 3,
            guests: 200,
            standalone: 0,
            pbs: 1,
            pmg: 1,
            genesis: 1_800_000_000,
        })
    }

    #[test]
    fn counters_monotonic_and_uptime_increasing_while_running() {
        let f = fleet();
        let c = &f.pve[0];
        let ctx = Ctx::new(f.seed, f.genesis, &c.name);
        let mut checked = 0;
        for g in &c.guests {
            let mut prev: Option<GuestNow> = None;
            for step in 0..400 {
                let t = (f.genesis + step * 30) * 1000;
                let now = guest_now(&ctx, g, t);
                if let Some(p) = prev
                    && p.running
                    && now.running
                    && p.start == now.start
                {
                    assert!(now.netin >= p.netin && now.netout >= p.netout);
                    assert!(now.diskread >= p.diskread && now.diskwrite >= p.diskwrite);
                    assert_eq!(now.uptime, p.uptime + 30);
                    checked += 1;
                }
                assert!((0.0..=1.0).contains(&now.cpu));
                assert!(now.mem <= g.maxmem);
                prev = Some(now);
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn guests_start_and_stop_now_and_then() {
        let f = fleet();
        let c = &f.pve[0];
        let ctx = Ctx::new(f.seed, f.genesis, &c.name);
        let mut changes = 0;
        for g in &c.guests {
            let mut last = guest_now(&ctx, g, f.genesis * 1000).running;
            assert_eq!(last, g.base_running, "state at genesis is the base state");
            for e in 1..200 {
                let r = guest_now(&ctx, g, (f.genesis + e * RUN_EPOCH) * 1000).running;
                if r != last {
                    changes += 1;
                }
                last = r;
            }
        }
        assert!(changes > 50, "{changes}");
    }
}
