//! Bytes-per-second rates from Proxmox's cumulative counters (spec §5.5).

/// `[diskread, diskwrite, netin, netout]` cumulative bytes.
pub type Counters = [u64; 4];

/// A guest's previous counter sample and the rates last worked out (kept by the poller
/// with the guest's other cached readings).
#[derive(Debug, Clone, Copy)]
pub struct RateSample {
    counters: Counters,
    at_ms: i64,
    rates: [u64; 4],
}

/// Rates given a guest's counters now and its previous sample (`last`, updated in place).
/// First sample → zeros. Unchanged counters (Proxmox served a cached value) → the last
/// rates, old sample kept. A counter that went backwards (guest restarted) → 0 for that
/// counter.
pub fn update(last: &mut Option<RateSample>, counters: Counters, now_ms: i64) -> [u64; 4] {
    let Some(prev) = last else {
        *last = Some(RateSample {
            counters,
            at_ms: now_ms,
            rates: [0; 4],
        });
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
    *prev = RateSample {
        counters,
        at_ms: now_ms,
        rates,
    };
    rates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_is_zero_then_delta_per_second() {
        let mut t = None;
        assert_eq!(update(&mut t, [100, 100, 100, 100], 0), [0; 4]);
        assert_eq!(
            update(&mut t, [1100, 100, 2100, 600], 10_000),
            [100, 0, 200, 50]
        );
    }

    #[test]
    fn unchanged_counters_repeat_last_rates() {
        let mut t = None;
        update(&mut t, [0, 0, 0, 0], 0);
        update(&mut t, [1000, 0, 0, 0], 10_000);
        assert_eq!(update(&mut t, [1000, 0, 0, 0], 20_000), [100, 0, 0, 0]);
        // The old sample was kept: the next change is measured from 10 s.
        assert_eq!(update(&mut t, [4000, 0, 0, 0], 30_000), [150, 0, 0, 0]);
    }

    #[test]
    fn counter_going_backwards_gives_zero() {
        let mut t = None;
        update(&mut t, [5000, 5000, 0, 0], 0);
        assert_eq!(update(&mut t, [10, 6000, 0, 0], 10_000), [0, 100, 0, 0]);
    }

    #[test]
    fn clock_going_backwards_gives_zero_and_a_new_sample() {
        let mut t = None;
        update(&mut t, [0, 0, 0, 0], 10_000);
        assert_eq!(update(&mut t, [500, 0, 0, 0], 5_000), [0; 4]);
        assert_eq!(update(&mut t, [1500, 0, 0, 0], 15_000), [100, 0, 0, 0]);
    }
}
