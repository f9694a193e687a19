//! Retention tiers. Each tier is a ring of fixed-duration slots; a slot keeps the average and
//! the maximum of the samples that fell into it, so a 10-second spike is still visible as
//! the maximum of its 30-minute slot a month later.
//!
//! | tier | slot | slots | span |
//! |---|---|---|---|
//! | 0 | 10 s | 360 | 1 h |
//! | 1 | 1 min | 1,440 | 24 h |
//! | 2 | 5 min | 2,016 | 7 d |
//! | 3 | 30 min | 1,488 | 31 d |
//!
//! Ring slots are overwritten in place, so disk use stops growing once every ring is full:
//! about 9 bytes per series per slot (5,304 slots) ≈ 48 KB per series.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub id: u8,
    pub slot_ms: i64,
    pub slots: u32,
}

impl Tier {
    pub const fn span_ms(&self) -> i64 {
        self.slot_ms * self.slots as i64
    }
    /// Start of the slot containing `t`.
    pub fn slot_start(&self, t: i64) -> i64 {
        t.div_euclid(self.slot_ms) * self.slot_ms
    }
    /// Ring position of the slot starting at `start`.
    pub fn ring_index(&self, start: i64) -> u32 {
        (start.div_euclid(self.slot_ms) as u64 % self.slots as u64) as u32
    }
}

pub const TIERS: [Tier; 4] = [
    Tier {
        id: 0,
        slot_ms: 10_000,
        slots: 360,
    },
    Tier {
        id: 1,
        slot_ms: 60_000,
        slots: 1_440,
    },
    Tier {
        id: 2,
        slot_ms: 300_000,
        slots: 2_016,
    },
    Tier {
        id: 3,
        slot_ms: 1_800_000,
        slots: 1_488,
    },
];

/// Chart queries return at most this many points per series.
pub const MAX_POINTS: usize = 500;

/// The finest tier that covers `range_ms` within `MAX_POINTS` slots (adjacent slots are
/// merged when even the coarsest tier has more).
pub fn tier_for(range_ms: i64) -> Tier {
    TIERS
        .iter()
        .copied()
        .find(|t| t.span_ms() >= range_ms && range_ms / t.slot_ms <= MAX_POINTS as i64)
        .unwrap_or(TIERS[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_choice() {
        assert_eq!(tier_for(5 * 60_000).id, 0);
        assert_eq!(tier_for(3_600_000).id, 0);
        assert_eq!(tier_for(4 * 3_600_000).id, 1);
        assert_eq!(tier_for(24 * 3_600_000).id, 2);
        assert_eq!(tier_for(7 * 86_400_000).id, 3);
        assert_eq!(tier_for(30 * 86_400_000).id, 3);
    }

    #[test]
    fn ring_positions_wrap() {
        let t = TIERS[0];
        assert_eq!(t.slot_start(12_345), 10_000);
        assert_eq!(t.ring_index(0), 0);
        assert_eq!(t.ring_index(t.span_ms()), 0);
        assert_eq!(t.ring_index(t.span_ms() + 10_000), 1);
    }
}
