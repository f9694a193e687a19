//! Bytes-per-second rates from Proxmox's cumulative counters (spec §5.5).

use std::collections::HashMap;

/// `[diskread, diskwrite, netin, netout]` cumulative bytes.
pub type Counters = [u64; 4];

#[derive(Debug, Clone, Copy)]
struct Sample {
    counters: Counters,
    at_ms: i64,
    rates: [u64; 4],
}

/// Previous sample and rates per guest id.
#[derive(Debug, Default)]
pub struct RateTracker {
    last: HashMap<String, Sample>,
}

impl RateTracker {
    /// Rates for `id` given its counters now. First sample → zeros. Unchanged counters
    /// (Proxmox served a cached value) → the last rates, old sample kept. A counter that went
    /// backwards (guest restarted) → 0 for that counter.
    pub fn update(&mut self, id: &str, counters: Counters, now_ms: i64) -> [u64; 4] {
        let Some(prev) = self.last.get(id).copied() else {
            self.last.insert(
                id.to_owned(),
                Sample {
                    counters,
                    at_ms: now_ms,
                    rates: [0; 4],
                },
            );
            return [0; 4];
        };
        if prev.counters == counters {
            return prev.rates;
        }
        let secs = (now_ms - prev.at_ms) as f64 / 1000.0;
        let mut rates = [0u64; 4];
        if secs > 0.0 {
            for i in 0..4 {
                if counters[i] >= prev.counters[i] {
                    rates[i] = ((counters[i] - prev.counters[i]) as f64 / secs) as u64;
                }
            }
        }
        self.last.insert(
            id.to_owned(),
            Sample {
                counters,
                at_ms: now_ms,
                rates,
            },
        );
        rates
    }

    /// Forgets guests that are gone, so the map does not grow with churn.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.last.retain(|k, _| keep(k));
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_is_zero_then_delta_per_second() {
        let mut t = RateTracker::default();
        assert_eq!(t.update("a", [100, 100, 100, 100], 0), [0; 4]);
        assert_eq!(
            t.update("a", [1100, 100, 2100, 600], 10_000),
            [100, 0, 200, 50]
        );
    }

    #[test]
    fn unchanged_counters_repeat_last_rates() {
        let mut t = RateTracker::default();
        t.update("a", [0, 0, 0, 0], 0);
        t.update("a", [1000, 0, 0, 0], 10_000);
        assert_eq!(t.update("a", [1000, 0, 0, 0], 20_000), [100, 0, 0, 0]);
        // The old sample was kept: the next change is measured from 10 s.
        assert_eq!(t.update("a", [4000, 0, 0, 0], 30_000), [150, 0, 0, 0]);
    }

    #[test]
    fn counter_going_backwards_gives_zero() {
        let mut t = RateTracker::default();
        t.update("a", [5000, 5000, 0, 0], 0);
        assert_eq!(t.update("a", [10, 6000, 0, 0], 10_000), [0, 100, 0, 0]);
        t.retain(|k| k != "a");
        assert!(t.is_empty());
    }
}
