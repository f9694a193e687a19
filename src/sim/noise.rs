//! Deterministic randomness as pure functions of (seed, key, time): values do not depend on the
//! order or number of requests, which keeps "same seed + same clock => same answers" true.

/// splitmix64 finaliser: a fast, well-mixed 64-bit hash.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5151_5151_u64, |acc, p| mix(acc ^ mix(*p)))
}

/// Uniform in [0, 1).
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A string as a key component.
pub fn key(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Smooth value noise in [-1, 1]: hashed knots every `period` seconds, smoothstep between them.
/// Two octaves give a bounded walk that wanders like a real CPU graph.
pub fn wave(seed: u64, id: u64, t: f64, period: f64) -> f64 {
    let octave = |p: f64, salt: u64| {
        let x = t / p;
        let k = x.floor();
        let f = x - k;
        let s = f * f * (3.0 - 2.0 * f);
        let a = unit(hash(&[seed, id, salt, k as i64 as u64])) * 2.0 - 1.0;
        let b = unit(hash(&[seed, id, salt, (k as i64 + 1) as u64])) * 2.0 - 1.0;
        a + (b - a) * s
    };
    0.65 * octave(period, 1) + 0.35 * octave(period / 5.0, 2)
}

/// Small seeded generator for building the fleet (order-dependent, used once at start).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(mix(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    pub fn f64(&mut self) -> f64 {
        unit(self.next_u64())
    }
    /// Uniform integer in [lo, hi] (inclusive); returns lo when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    pub fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[(self.next_u64() % items.len().max(1) as u64) as usize]
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len().max(1) as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wave_is_bounded_and_deterministic() {
        for i in 0..2000 {
            let t = i as f64 * 7.3;
            let v = wave(42, 7, t, 300.0);
            assert!((-1.0..=1.0).contains(&v), "{v}");
            assert_eq!(v, wave(42, 7, t, 300.0));
        }
        assert_ne!(wave(42, 7, 100.0, 300.0), wave(43, 7, 100.0, 300.0));
    }

    #[test]
    fn rng_range_inclusive_and_empty_safe() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let v = r.range(3, 5);
            assert!((3..=5).contains(&v));
        }
        assert_eq!(r.range(9, 2), 9);
    }
}
