//! Metric-history benchmark at 10,000 series (a fleet of ~1,400 guests × 7 metrics).
//! `cargo bench --bench history` — prints tick write wall and CPU time (p50/p95, fsync on the
//! real disk), bytes per tick, file size once every ring is full, and chart query latency.
//! Options via env: `SERIES` (default 10000), `BENCH_DIR` (default: a temp dir under target/).

use pulse::history::History;
use pulse::store::Store;
use std::sync::Arc;
use std::time::Instant;

/// CPU time of this thread in ns (scheduler accounting: includes the kernel's share, e.g. the
/// page writes, but not the time spent waiting for fsync).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let n: usize = std::env::var("SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let base = std::env::var("BENCH_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let t0: i64 = 1_800_000_000_000;
    let mut h = History::open(store, t0).unwrap();
    let names: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "g|{}|guest-{}",
                [
                    "cpu",
                    "memory",
                    "disk",
                    "netin",
                    "netout",
                    "diskread",
                    "diskwrite"
                ][i % 7],
                i / 7
            )
        })
        .collect();
    let sample = |tick: i64| -> Vec<(String, f64)> {
        names
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), ((tick + i as i64) % 100) as f64))
            .collect()
    };
    let file = |d: &std::path::Path| std::fs::metadata(d.join("pulse.redb")).unwrap().len();

    // Fill every ring: 24 h at 1-minute ticks, 7 d at 5 minutes, 31 d at 30 minutes.
    let mut now = t0;
    let fill_start = Instant::now();
    let mut ticks = 0;
    for (step, count) in [(60_000i64, 1_440), (300_000, 2_016), (1_800_000, 1_488)] {
        for _ in 0..count {
            h.record(now, &sample(ticks)).unwrap();
            now += step;
            ticks += 1;
        }
    }
    let full = file(dir.path());
    eprintln!(
        "filled {ticks} ticks in {:.1} s",
        fill_start.elapsed().as_secs_f64()
    );

    // Steady state at the 10-second poll interval.
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let before = file(dir.path());
    for i in 0..300 {
        let s = sample(ticks + i);
        let c = thread_cpu_ns();
        let t = Instant::now();
        h.record(now, &s).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push((thread_cpu_ns() - c) as f64 / 1e6);
        now += 10_000;
    }
    let after = file(dir.path());
    let p50 = pct(&mut times.clone(), 0.5);
    let p95 = pct(&mut times, 0.95);

    let mut one = Vec::new();
    for i in 0..50 {
        let name = names[(i * 37) % n].as_str();
        let t = Instant::now();
        let q = h.query(&[name], 24 * 3_600_000, now).unwrap();
        one.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!q.is_empty());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut all = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let q = h.query(&refs, 24 * 3_600_000, now).unwrap();
        all.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(q.len(), n);
    }
    println!("series:                         {n}");
    println!(
        "tick write (10 s cadence):      p50 {p50:.2} ms, p95 {:.2} ms (n=300, fsync per tick)",
        p95
    );
    println!(
        "tick CPU time:                  p50 {:.2} ms, p95 {:.2} ms",
        pct(&mut cpu.clone(), 0.5),
        pct(&mut cpu, 0.95)
    );
    let groups = n.div_ceil(pulse::history::GROUP as usize);
    println!(
        "bytes per tick (values):        {} raw tier; +{} when a 1/5/30-minute slot closes",
        groups * 8 + n * 4,
        groups * 8 + n * 8
    );
    println!(
        "file size, every ring full:     {:.1} MiB",
        full as f64 / 1048576.0
    );
    println!(
        "file growth over 300 more ticks: {} bytes",
        after as i64 - before as i64
    );
    println!(
        "24h query, one series:          median {:.3} ms",
        pct(&mut one, 0.5)
    );
    println!(
        "24h query, all {n} series:    median {:.1} ms",
        pct(&mut all, 0.5)
    );
}
