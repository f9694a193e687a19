//! Injectable time. Every value the simulator serves is a pure function of the fleet, the seed
//! and `Clock::now_ms()`, so tests step a `ManualClock` and get the same answers every run.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch, as the simulated servers see it.
    fn now_ms(&self) -> i64;
    /// Moves simulated time forward (never backward: counters must stay monotonic).
    fn advance_ms(&self, ms: i64);
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// Wall-clock time plus an offset that the admin endpoint can push forward ("time warp").
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_ms: AtomicI64,
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::Relaxed)
    }
    fn advance_ms(&self, ms: i64) {
        if ms > 0 {
            self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

/// Time that only moves when told to: for tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            now: AtomicI64::new(start_ms),
        })
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::Relaxed)
    }
    fn advance_ms(&self, ms: i64) {
        if ms > 0 {
            self.now.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_forward() {
        let c = ManualClock::new(1_000);
        c.advance_ms(500);
        assert_eq!(c.now_ms(), 1_500);
        c.advance_ms(-10_000);
        assert_eq!(c.now_ms(), 1_500);
        assert_eq!(c.now_secs(), 1);
    }

    #[test]
    fn system_clock_offset_applies() {
        let c = SystemClock::default();
        let before = c.now_ms();
        c.advance_ms(3_600_000);
        assert!(c.now_ms() >= before + 3_600_000);
    }
}
