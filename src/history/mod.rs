//! Metric history: every node, guest, storage and PBS datastore series kept in redb rings at
//! four resolutions (see `tiers`), surviving restarts, at a disk cost that stops growing.
//!
//! Layout, chosen for the write path (one write transaction per tick): slots are time-major
//! blobs, key = (tier, ring slot, series group), value = the slot's start time followed by
//! one point per series of the group: (average f32, maximum f32) in the coarse tiers, the
//! average alone in the raw tier (a raw slot holds one sample, so its maximum is its average).
//! A tick writes ⌈series/GROUP⌉ blobs for the finest tier; coarser tiers accumulate in memory
//! and are written when their slot closes. Readers fetch one blob per (slot, group) and take
//! what they need from it.
//!
//! `GROUP` is sized so that a full coarse blob fills one 4 KiB redb leaf page on its own and
//! two raw blobs share one: redb splits leaves in half, and with the old 1 KiB blobs the
//! mostly ascending keys left pages half empty (the file was 2.6× the data).

pub mod charts;
pub mod feed;
pub mod tiers;

use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable};
use std::collections::HashMap;
use std::sync::Arc;
use tiers::{TIERS, Tier};

/// Series per blob: 8 + 500 × 8 = 4,008 bytes (coarse) and 8 + 500 × 4 = 2,008 bytes (raw),
/// so one coarse blob or two raw blobs fill a 4 KiB leaf (redb adds 16 bytes per entry and a
/// 4-byte page header). The last group's blob holds only the series that exist, so a small
/// fleet does not pay for a full group.
pub const GROUP: u32 = 500;
const HEADER: usize = 8;

/// Bytes per point in tier `ti`: the raw tier stores the average only.
const fn point_bytes(ti: usize) -> usize {
    if ti == 0 { 4 } else { 8 }
}

use crate::store::tables::{HISTORY_SERIES as SERIES, HISTORY_SLOTS as SLOTS};

/// A series not reported for this long is dropped and its index reused.
pub const PRUNE_AFTER_MS: i64 = 24 * 3_600_000;

fn slot_key(tier: u8, ring: u32, group: u32) -> u64 {
    ((tier as u64) << 56) | ((ring as u64) << 24) | group as u64
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub timestamp: i64,
    pub avg: f64,
    pub max: f64,
}

#[derive(Debug, Clone)]
struct Meta {
    index: u32,
    born: i64,
}

/// Marks a layout entry whose series has no index yet (its values were never finite).
const NO_INDEX: u32 = u32::MAX;

/// The previous record's series names, back to back, with each one's end and index. A
/// fleet's series are the same from one tick to the next, so a name equal to the one at the
/// same position last time takes that index without a lookup: 35,000 hash lookups per tick
/// (each a few cache misses into a table the size of the fleet) were most of the history
/// thread's time; comparing two sequential buffers is not.
#[derive(Default)]
struct Layout {
    names: String,
    items: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
struct Acc {
    sum: f64,
    count: u32,
    max: f32,
}

const EMPTY_ACC: Acc = Acc {
    sum: 0.0,
    count: 0,
    max: f32::NEG_INFINITY,
};

impl Acc {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        self.max = self.max.max(v as f32);
    }
    fn value(&self) -> Option<(f32, f32)> {
        (self.count > 0).then(|| ((self.sum / self.count as f64) as f32, self.max))
    }
}

pub struct History {
    store: Arc<Store>,
    series: HashMap<String, Meta>,
    /// Last record that carried a finite value, per series index.
    last_seen: Vec<i64>,
    layout: Layout,
    /// Indexes handed out so far (0..indexes); those not in use are in `free`. A name is
    /// held once, as its key in `series`.
    indexes: u32,
    free: Vec<u32>,
    /// Per tier: start of the open slot and one accumulator per series index.
    open: [i64; 4],
    acc: [Vec<Acc>; 4],
}

impl History {
    /// Loads the series registry. Partial coarse slots from before a restart are not
    /// recovered (their finer tiers still hold those points).
    pub fn open(store: Arc<Store>, now: i64) -> Result<History, StoreError> {
        let mut series = HashMap::new();
        let mut taken: Vec<bool> = Vec::new();
        {
            let rx = store.database().begin_read().map_err(StoreError::db)?;
            let t = rx.open_table(SERIES).map_err(StoreError::db)?;
            for row in t.iter().map_err(StoreError::db)? {
                let (k, v) = row.map_err(StoreError::db)?;
                let v = v.value();
                if v.len() != 12 {
                    return Err(StoreError::Corrupt(format!(
                        "history series {} has a bad record",
                        k.value()
                    )));
                }
                let index = u32::from_le_bytes(v[0..4].try_into().unwrap_or_default());
                let born = i64::from_le_bytes(v[4..12].try_into().unwrap_or_default());
                let i = index as usize;
                if taken.len() <= i {
                    taken.resize(i + 1, false);
                }
                taken[i] = true;
                series.insert(k.value().to_string(), Meta { index, born });
            }
        }
        let free = taken
            .iter()
            .enumerate()
            .filter(|(_, t)| !**t)
            .map(|(i, _)| i as u32)
            .rev()
            .collect();
        let n = taken.len();
        let indexes = n as u32;
        Ok(History {
            store,
            series,
            last_seen: vec![now; n],
            layout: Layout::default(),
            indexes,
            free,
            open: [i64::MIN; 4],
            acc: std::array::from_fn(|_| vec![EMPTY_ACC; n]),
        })
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Records one tick of samples at `now` in one write transaction. Non-finite values are
    /// skipped (a NaN never reaches a chart).
    pub fn record<N: AsRef<str>>(
        &mut self,
        now: i64,
        samples: &[(N, f64)],
    ) -> Result<(), StoreError> {
        let db = self.store.clone();
        let tx = db.database().begin_write().map_err(StoreError::db)?;
        {
            let mut series_t = tx.open_table(SERIES).map_err(StoreError::db)?;
            let mut slots_t = tx.open_table(SLOTS).map_err(StoreError::db)?;
            // Close slots that ended: coarse tiers are written only now.
            for (ti, tier) in TIERS.iter().enumerate() {
                let start = tier.slot_start(now);
                if self.open[ti] != start {
                    if self.open[ti] != i64::MIN && ti > 0 {
                        self.write_slot(&mut slots_t, tier, self.open[ti], ti)?;
                    }
                    self.open[ti] = start;
                    self.acc[ti].iter_mut().for_each(|a| *a = EMPTY_ACC);
                }
            }
            // Position in the previous layout while it still matches (`None` after the first
            // difference: from there on the layout is rewritten).
            let mut matching = Some(0usize);
            for (i, (name, value)) in samples.iter().enumerate() {
                let name = name.as_ref();
                let same = matching.and_then(|start| {
                    let end = self.layout.items.get(i)?.0 as usize;
                    (self.layout.names.get(start..end) == Some(name)).then_some(end)
                });
                match same {
                    Some(end) => matching = Some(end),
                    None => {
                        if let Some(start) = matching.take() {
                            self.layout.names.truncate(start);
                            self.layout.items.truncate(i);
                        }
                        self.layout.names.push_str(name);
                        let end = self.layout.names.len() as u32;
                        self.layout.items.push((end, NO_INDEX));
                    }
                }
                if !value.is_finite() {
                    continue;
                }
                let index = match self.layout.items[i].1 {
                    NO_INDEX => {
                        let index = self.index_for(name, now, &mut series_t)?;
                        self.layout.items[i].1 = index;
                        index
                    }
                    index => index,
                } as usize;
                self.last_seen[index] = now;
                for acc in self.acc.iter_mut() {
                    if acc.len() <= index {
                        // Grown by an eighth, not doubled: four tiers of 16-byte entries for
                        // 35,000 series would otherwise hold up to 2 MB unused.
                        acc.reserve_exact((index + 1 - acc.len()).max(acc.len() / 8));
                        acc.resize(index + 1, EMPTY_ACC);
                    }
                    acc[index].add(*value);
                }
            }
            if let Some(end) = matching {
                // Fewer samples than last time, all matching: the rest of the layout goes.
                self.layout.items.truncate(samples.len());
                self.layout.names.truncate(end);
            }
            // The finest tier is written every tick, so raw points are durable at once.
            self.write_slot(&mut slots_t, &TIERS[0], self.open[0], 0)?;
            self.prune(now, &mut series_t)?;
        }
        tx.commit().map_err(StoreError::db)
    }

    fn index_for(
        &mut self,
        name: &str,
        now: i64,
        t: &mut redb::Table<&str, &[u8]>,
    ) -> Result<u32, StoreError> {
        if let Some(m) = self.series.get(name) {
            return Ok(m.index);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.indexes += 1;
                self.indexes - 1
            }
        };
        // Readers ignore slots that ended before `born`, so a reused index never shows the
        // previous owner's values; its accumulators are reset just below.
        let born = now;
        let mut rec = index.to_le_bytes().to_vec();
        rec.extend_from_slice(&born.to_le_bytes());
        t.insert(name, rec.as_slice()).map_err(StoreError::db)?;
        for acc in self.acc.iter_mut() {
            if let Some(a) = acc.get_mut(index as usize) {
                *a = EMPTY_ACC;
            }
        }
        let i = index as usize;
        if self.last_seen.len() <= i {
            self.last_seen.resize(i + 1, now);
        }
        self.last_seen[i] = now;
        self.series.insert(name.to_string(), Meta { index, born });
        Ok(index)
    }

    fn write_slot(
        &self,
        t: &mut redb::Table<u64, &[u8]>,
        tier: &Tier,
        start: i64,
        ti: usize,
    ) -> Result<(), StoreError> {
        let n = self.indexes;
        let groups = n.div_ceil(GROUP);
        let ring = tier.ring_index(start);
        let mut buf = Vec::with_capacity(HEADER + GROUP as usize * point_bytes(ti));
        for g in 0..groups {
            buf.clear();
            buf.extend_from_slice(&start.to_le_bytes());
            for i in (g * GROUP)..((g + 1) * GROUP).min(n) {
                let (avg, max) = self.acc[ti]
                    .get(i as usize)
                    .and_then(Acc::value)
                    .unwrap_or((f32::NAN, f32::NAN));
                buf.extend_from_slice(&avg.to_le_bytes());
                if ti > 0 {
                    buf.extend_from_slice(&max.to_le_bytes());
                }
            }
            t.insert(slot_key(tier.id, ring, g), buf.as_slice())
                .map_err(StoreError::db)?;
        }
        Ok(())
    }

    fn prune(&mut self, now: i64, t: &mut redb::Table<&str, &[u8]>) -> Result<(), StoreError> {
        let stale: Vec<String> = self
            .series
            .iter()
            .filter(|(_, m)| {
                now - self.last_seen.get(m.index as usize).copied().unwrap_or(now) > PRUNE_AFTER_MS
            })
            .map(|(k, _)| k.clone())
            .collect();
        if !stale.is_empty() {
            // A pruned index may be handed to another series: no layout entry may keep it.
            self.layout = Layout::default();
        }
        for name in stale {
            if let Some(m) = self.series.remove(&name) {
                t.remove(name.as_str()).map_err(StoreError::db)?;
                self.free.push(m.index);
            }
        }
        Ok(())
    }

    /// Points of several series over `[now − range, now]`, from the tier that fits, at most
    /// `MAX_POINTS` each. Each (slot, group) blob is read once for all requested series.
    pub fn query(
        &self,
        names: &[&str],
        range_ms: i64,
        now: i64,
    ) -> Result<HashMap<String, Vec<Point>>, StoreError> {
        let tier = tiers::tier_for(range_ms);
        let ti = tier.id as usize;
        let wanted: Vec<(&str, &Meta)> = names
            .iter()
            .filter_map(|n| self.series.get(*n).map(|m| (*n, m)))
            .collect();
        let mut out: HashMap<String, Vec<Point>> = HashMap::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut by_group: HashMap<u32, Vec<(&str, &Meta)>> = HashMap::new();
        for w in &wanted {
            by_group.entry(w.1.index / GROUP).or_default().push(*w);
        }
        let rx = self.store.database().begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(SLOTS).map_err(StoreError::db)?;
        let first = tier.slot_start(now - range_ms);
        let last = tier.slot_start(now);
        let mut start = first.max(last - tier.span_ms() + tier.slot_ms);
        while start <= last {
            let from_memory = start == self.open[ti] && ti > 0;
            for (g, members) in &by_group {
                let blob;
                let values: Box<dyn Fn(u32) -> Option<(f32, f32)>> = if from_memory {
                    let acc = &self.acc[ti];
                    Box::new(move |i: u32| acc.get(i as usize).and_then(Acc::value))
                } else {
                    blob = t
                        .get(slot_key(tier.id, tier.ring_index(start), *g))
                        .map_err(StoreError::db)?;
                    let Some(b) = &blob else { continue };
                    let bytes = b.value();
                    if bytes.len() < HEADER
                        || i64::from_le_bytes(bytes[..HEADER].try_into().unwrap_or_default())
                            != start
                    {
                        continue; // an older lap of the ring: no data for this slot
                    }
                    let base = g * GROUP;
                    let width = point_bytes(ti);
                    Box::new(move |i: u32| {
                        let off = HEADER + ((i - base) as usize) * width;
                        let avg = f32::from_le_bytes(bytes.get(off..off + 4)?.try_into().ok()?);
                        let max = if width == 8 {
                            f32::from_le_bytes(bytes.get(off + 4..off + 8)?.try_into().ok()?)
                        } else {
                            avg
                        };
                        (!avg.is_nan()).then_some((avg, max))
                    })
                };
                for (name, meta) in members {
                    if start + tier.slot_ms <= meta.born {
                        continue;
                    }
                    if let Some((avg, max)) = values(meta.index) {
                        out.entry(name.to_string()).or_default().push(Point {
                            timestamp: start,
                            avg: avg as f64,
                            max: max as f64,
                        });
                    }
                }
            }
            start += tier.slot_ms;
        }
        for pts in out.values_mut() {
            merge_to(pts, tiers::MAX_POINTS);
        }
        Ok(out)
    }
}

/// Merges adjacent points (average of averages, max of maxima) until at most `limit`.
fn merge_to(points: &mut Vec<Point>, limit: usize) {
    if points.len() <= limit {
        return;
    }
    let k = points.len().div_ceil(limit);
    let merged = points
        .chunks(k)
        .map(|c| Point {
            timestamp: c[0].timestamp,
            avg: c.iter().map(|p| p.avg).sum::<f64>() / c.len() as f64,
            max: c.iter().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max),
        })
        .collect();
    *points = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On tmpfs when available: these tests are about ring logic, and thousands of fsyncs
    /// on a real disk would make them slow without testing anything more.
    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap()
    }

    fn open(dir: &std::path::Path, now: i64) -> History {
        let store = Arc::new(Store::open(dir).unwrap());
        History::open(store, now).unwrap()
    }

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn points_land_in_tiers_with_avg_and_max() {
        let dir = tempdir();
        let mut h = open(dir.path(), T0);
        // 20 minutes at 10 s: value 10, except one 10-second spike of 95.
        let mut now = T0;
        for i in 0..120 {
            let v = if i == 37 { 95.0 } else { 10.0 };
            h.record(now, &[("g|cpu|vm1", v)]).unwrap();
            now += 10_000;
        }
        let raw = h.query(&["g|cpu|vm1"], 3_600_000, now).unwrap();
        assert_eq!(raw["g|cpu|vm1"].len(), 120);
        assert!(raw["g|cpu|vm1"].iter().any(|p| p.avg == 95.0));
        let day = h.query(&["g|cpu|vm1"], DAY, now).unwrap();
        let pts = &day["g|cpu|vm1"];
        assert!(pts.len() <= 5, "5-minute tier: {}", pts.len());
        assert!(pts.iter().any(|p| p.max == 95.0), "spike survives as a max");
        assert!(pts.iter().all(|p| p.avg < 30.0), "averages stay averages");
    }

    #[test]
    fn history_survives_restart_and_spike_visible_after_a_week() {
        let dir = tempdir();
        let mut now = T0;
        {
            let mut h = open(dir.path(), now);
            // 8 days at one sample per 5 minutes (fills the 5/30-minute tiers), then the
            // last hour at the 10-second poll interval.
            for i in 0..(8 * 288) {
                let v = if i == 3 * 288 {
                    99.0
                } else {
                    20.0 + (i % 7) as f64
                };
                h.record(now, &[("n|cpu|pve1", v), ("s|used|local", 1e12)])
                    .unwrap();
                now += 300_000;
            }
            for _ in 0..360 {
                h.record(now, &[("n|cpu|pve1", 30.0), ("s|used|local", 1e12)])
                    .unwrap();
                now += 10_000;
            }
        }
        let h = open(dir.path(), now);
        let week = h
            .query(&["n|cpu|pve1", "s|used|local"], 7 * DAY, now)
            .unwrap();
        let pts = &week["n|cpu|pve1"];
        assert!(pts.len() > 300 && pts.len() <= 500, "{}", pts.len());
        assert!(pts.iter().any(|p| p.max == 99.0));
        assert!(pts.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        assert_eq!(week["s|used|local"][0].avg, 1e12_f32 as f64);
        let hour = h.query(&["n|cpu|pve1"], 3_600_000, now).unwrap();
        assert!(hour["n|cpu|pve1"].len() >= 350, "raw points after restart");
    }

    #[test]
    fn file_stops_growing_and_series_are_pruned() {
        let dir = tempdir();
        let mut h = open(dir.path(), T0);
        let names: Vec<String> = (0..300).map(|i| format!("g|cpu|vm{i}")).collect();
        let mut now = T0;
        let size = |dir: &std::path::Path| std::fs::metadata(dir.join("pulse.redb")).unwrap().len();
        let mut at_31 = 0;
        // 40 simulated days at one tick per 15 minutes (every ring laps; coarse tiers fill).
        for i in 0..(40 * 96) {
            let samples: Vec<(String, f64)> = names
                .iter()
                .map(|n| (n.clone(), (i % 100) as f64))
                .collect();
            h.record(now, &samples).unwrap();
            now += 900_000;
            if i == 31 * 96 {
                at_31 = size(dir.path());
            }
        }
        let at_40 = size(dir.path());
        assert!(
            (at_40 as f64) <= at_31 as f64 * 1.05,
            "file grew from {at_31} to {at_40} bytes after the rings were full"
        );
        // A series that stops reporting is dropped after the grace period...
        let keep = vec![("g|cpu|vm0".to_string(), 1.0)];
        for _ in 0..((PRUNE_AFTER_MS / 300_000) + 2) {
            h.record(now, &keep).unwrap();
            now += 300_000;
        }
        assert_eq!(h.series_count(), 1);
        // ...and a new series reusing its index does not inherit its history.
        h.record(now, &[("g|cpu|new", 5.0)]).unwrap();
        let q = h.query(&["g|cpu|new"], 30 * DAY, now + 1).unwrap();
        assert!(
            q["g|cpu|new"].iter().all(|p| p.avg == 5.0),
            "{:?}",
            q["g|cpu|new"]
        );
    }

    #[test]
    fn series_across_several_groups_keep_their_own_values() {
        let dir = tempdir();
        let mut h = open(dir.path(), T0);
        // 1,100 series: two full groups and a partial third one.
        let names: Vec<String> = (0..1_100).map(|i| format!("g|cpu|vm{i}")).collect();
        let mut now = T0;
        for tick in 0..40 {
            let samples: Vec<(String, f64)> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        n.clone(),
                        (i % 97) as f64 + if tick == 7 { 50.0 } else { 0.0 },
                    )
                })
                .collect();
            h.record(now, &samples).unwrap();
            now += 10_000;
        }
        for i in [0usize, 499, 500, 999, 1_000, 1_099] {
            let n = names[i].as_str();
            let raw = h.query(&[n], 3_600_000, now).unwrap();
            assert_eq!(raw[n].len(), 40, "{n}");
            assert!(
                raw[n].iter().all(|p| p.max == p.avg),
                "raw points: max is the value"
            );
            assert_eq!(raw[n][7].avg, (i % 97) as f64 + 50.0, "{n}");
            assert_eq!(raw[n][8].avg, (i % 97) as f64, "{n}");
            // Closed 1-minute slots carry the spike as their maximum.
            let four = h.query(&[n], 4 * 3_600_000, now).unwrap();
            assert!(
                four[n].iter().any(|p| p.max == (i % 97) as f64 + 50.0),
                "{n}: {:?}",
                four[n]
            );
        }
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let dir = tempdir();
        let mut h = open(dir.path(), T0);
        h.record(T0, &[("a", f64::NAN), ("b", f64::INFINITY), ("c", 1.0)])
            .unwrap();
        let q = h.query(&["a", "b", "c"], 3_600_000, T0).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q["c"][0].avg, 1.0);
    }

    /// The previous tick's layout is only a shortcut: series that move, vanish, come back,
    /// turn non-finite for longer than the prune grace, or get a pruned series' index must
    /// each keep their own values.
    #[test]
    fn series_keep_their_values_when_the_layout_changes() {
        let dir = tempdir();
        let mut h = open(dir.path(), T0);
        let at = |h: &History, n: &str, t: i64| -> Option<f64> {
            let q = h.query(&[n], 3_600_000, t).unwrap();
            q.get(n)?.iter().find(|p| p.timestamp == t).map(|p| p.avg)
        };
        let mut now = T0;
        let ticks: [&[(&str, f64)]; 6] = [
            &[("a", 1.0), ("b", 2.0), ("c", 3.0)],
            &[("a", 1.0), ("b", 2.0), ("c", 3.0)],
            // Shifted by one: every name sits where another was.
            &[("b", 12.0), ("c", 13.0)],
            &[("c", 23.0), ("a", 21.0), ("b", 22.0), ("d", 24.0)],
            // Shorter, all matching the start of the last layout.
            &[("c", 33.0), ("a", 31.0)],
            &[("c", 43.0), ("a", f64::NAN), ("b", 42.0)],
        ];
        for tick in ticks {
            h.record(now, tick).unwrap();
            for (n, v) in tick.iter().filter(|(_, v)| v.is_finite()) {
                assert_eq!(at(&h, n, now), Some(*v), "{n} at tick {now}");
            }
            now += 10_000;
        }
        assert_eq!(at(&h, "a", now - 10_000), None, "NaN is not recorded");
        // `x` stays in the layout with non-finite values beyond the prune grace, so its
        // series is dropped and its index may go to another series; when `x` reports again
        // it must not write into that one.
        h.record(now, &[("x", 3.0), ("keep", 1.0)]).unwrap();
        let mut t = now + 300_000;
        while t < now + PRUNE_AFTER_MS + 600_000 {
            h.record(t, &[("x", f64::NAN), ("keep", 1.0)]).unwrap();
            t += 300_000;
        }
        h.record(t, &[("x", f64::NAN), ("keep", 1.0), ("y", 7.0)])
            .unwrap();
        t += 300_000;
        h.record(t, &[("x", 5.0), ("keep", 1.0), ("y", 8.0)])
            .unwrap();
        assert_eq!(at(&h, "x", t), Some(5.0));
        assert_eq!(at(&h, "y", t), Some(8.0));
        assert_eq!(at(&h, "keep", t), Some(1.0));
        assert_eq!(h.series_count(), 3, "a b c d were pruned, x y keep remain");
    }
}
