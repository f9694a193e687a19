//! Raw Proxmox API values → `/api/state` model (spec/proxmox-api.md §5–§7). Pure functions,
//! one concern per module, so each rule is unit-tested with small hand-built inputs.

pub mod backups;
pub mod ceph;
pub mod disks;
pub mod fs;
pub mod guest;
pub mod node;
pub mod pbs;
pub mod pbs_jobs;
pub mod pmg;
pub mod rates;
pub mod replication;
pub mod storage;

/// Finite, non-negative or 0 (Proxmox sometimes reports NaN/negative for idle counters).
pub fn finite(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// Unix seconds → the model's Unix milliseconds; negative → 0, never overflows on garbage.
pub fn secs_to_ms(secs: i64) -> i64 {
    secs.max(0).saturating_mul(1000)
}

/// `used / total × 100`, 0 when total is 0.
pub fn pct(used: u64, total: u64) -> f64 {
    crate::model::percent(used, total)
}
