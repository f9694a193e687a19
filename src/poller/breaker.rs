//! Per-instance circuit breaker (closed → open → half-open), spec/polling-scheduler.md §5.2,
//! with the intended semantics where the reference is buggy: a success while closed resets
//! the failure count, and the retry interval starts over after the breaker closes.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub open_threshold: u32,
    pub base_retry_ms: i64,
    pub max_retry_ms: i64,
    pub half_open_window_ms: i64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            open_threshold: 3,
            base_retry_ms: 5_000,
            max_retry_ms: 300_000,
            half_open_window_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Breaker {
    pub state: BreakerState,
    pub failures: u32,
    retry_ms: i64,
    opened_at: i64,
    last_attempt: i64,
    /// Time of the last state change (creation time at first).
    pub since: i64,
}

impl Breaker {
    pub fn new(now: i64) -> Breaker {
        Breaker {
            state: BreakerState::Closed,
            failures: 0,
            retry_ms: 0,
            opened_at: 0,
            last_attempt: 0,
            since: now,
        }
    }

    /// May a poll run now? Moves open → half-open once the retry time has come.
    pub fn allow(&mut self, cfg: &BreakerConfig, now: i64) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                if now - self.opened_at >= self.retry_ms {
                    self.transition(BreakerState::HalfOpen, now);
                    self.last_attempt = now;
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => {
                if now - self.last_attempt >= cfg.half_open_window_ms {
                    self.last_attempt = now;
                    true
                } else {
                    false
                }
            }
        }
    }

    pub fn success(&mut self, now: i64) {
        self.failures = 0;
        self.retry_ms = 0;
        if self.state != BreakerState::Closed {
            self.transition(BreakerState::Closed, now);
        }
    }

    pub fn failure(&mut self, cfg: &BreakerConfig, now: i64) {
        self.failures = self.failures.saturating_add(1);
        let trip = match self.state {
            BreakerState::Closed => self.failures >= cfg.open_threshold,
            BreakerState::HalfOpen => true,
            BreakerState::Open => false,
        };
        if trip {
            // Doubles with each trip: base, 2×base, 4×base, … capped.
            self.retry_ms = if self.retry_ms == 0 {
                cfg.base_retry_ms
            } else {
                (self.retry_ms.saturating_mul(2)).min(cfg.max_retry_ms)
            };
            self.retry_ms = self.retry_ms.min(cfg.max_retry_ms);
            self.opened_at = now;
            self.transition(BreakerState::Open, now);
        }
    }

    /// When the next attempt may happen; `None` while closed.
    pub fn retry_at(&self, cfg: &BreakerConfig) -> Option<i64> {
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open => Some(self.opened_at + self.retry_ms),
            BreakerState::HalfOpen => Some(self.last_attempt + cfg.half_open_window_ms),
        }
    }

    fn transition(&mut self, to: BreakerState, now: i64) {
        self.state = to;
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers() {
        let cfg = BreakerConfig::default();
        let mut b = Breaker::new(0);
        b.failure(&cfg, 1);
        b.failure(&cfg, 2);
        assert_eq!(b.state, BreakerState::Closed);
        b.failure(&cfg, 3);
        assert_eq!(b.state, BreakerState::Open);
        assert_eq!(b.retry_at(&cfg), Some(3 + 5_000));
        assert!(!b.allow(&cfg, 4_000));
        assert!(b.allow(&cfg, 5_003));
        assert_eq!(b.state, BreakerState::HalfOpen);
        // One probe per window.
        assert!(!b.allow(&cfg, 5_004));
        b.failure(&cfg, 5_100);
        assert_eq!(b.state, BreakerState::Open);
        assert_eq!(b.retry_at(&cfg), Some(5_100 + 10_000), "retry doubles");
        assert!(b.allow(&cfg, 15_100));
        b.success(15_200);
        assert_eq!((b.state, b.failures), (BreakerState::Closed, 0));
        assert_eq!(b.since, 15_200);
        // After closing, a new trip starts from the base interval again.
        for t in 0..3 {
            b.failure(&cfg, 20_000 + t);
        }
        assert_eq!(b.retry_at(&cfg), Some(20_002 + 5_000));
    }

    #[test]
    fn success_resets_failures_while_closed() {
        let cfg = BreakerConfig::default();
        let mut b = Breaker::new(0);
        b.failure(&cfg, 1);
        b.failure(&cfg, 2);
        b.success(3);
        b.failure(&cfg, 4);
        assert_eq!(
            b.state,
            BreakerState::Closed,
            "spread-out failures never trip"
        );
    }

    #[test]
    fn retry_interval_is_capped() {
        let cfg = BreakerConfig::default();
        let mut b = Breaker::new(0);
        let mut now = 0;
        for _ in 0..3 {
            b.failure(&cfg, now);
        }
        for _ in 0..20 {
            now = b.retry_at(&cfg).unwrap();
            assert!(b.allow(&cfg, now));
            b.failure(&cfg, now);
        }
        assert_eq!(b.retry_at(&cfg), Some(now + cfg.max_retry_ms));
    }
}
