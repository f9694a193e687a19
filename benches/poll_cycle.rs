//! Benchmark (not a test): CPU per PVE poll cycle on simulated time, so A/B runs of the
//! poller compare the same work instead of whatever a wall-clock window happened to catch.
//!
//!     cargo bench --bench poll_cycle
//!     POLL_BENCH_CLUSTERS=1 POLL_BENCH_NODES=20 POLL_BENCH_GUESTS=2000 cargo bench --bench poll_cycle
//!
//! `pulse simulate --frozen-clock` runs as a child process (its CPU is not ours); this process
//! polls every cluster once per simulated 10 s cycle with `PvePoller` on a `ManualClock` kept
//! equal to the simulator's clock, which is advanced through the admin endpoint between
//! cycles. Warm-up (`POLL_BENCH_WARMUP_MIN` simulated minutes, default 10) covers the first
//! readings and the first steady refreshes; the window (`POLL_BENCH_MINUTES`, default 30)
//! reports this process's CPU (`getrusage`, the poller and its guest-detail workers) per
//! cycle as a median over blocks of one minute, plus the requests per cycle from the
//! simulator's accounting. Loopback only.

use pulse::model::State;
use pulse::monitor::InstancePoller;
use pulse::poller::clock::ManualClock;
use pulse::poller::{PveInstanceConfig, PvePoller};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

const CYCLE_S: i64 = 10;
/// The server's poller pool size (`cli::POLLER_THREADS`).
const POOL_THREADS: usize = 4;

fn env(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(u.ru_utime) + ms(u.ru_stime)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn post(url: &str, body: &str) -> serde_json::Value {
    let mut r = ureq::post(url)
        .header("content-type", "application/json")
        .send(body)
        .expect("admin endpoint");
    serde_json::from_str(&r.body_mut().read_to_string().expect("admin body")).expect("admin JSON")
}

fn main() {
    let clusters = env("POLL_BENCH_CLUSTERS", 5);
    let nodes = env("POLL_BENCH_NODES", 10);
    let guests = env("POLL_BENCH_GUESTS", 1000);
    let warmup = env("POLL_BENCH_WARMUP_MIN", 10) as i64 * 60 / CYCLE_S;
    let window = env("POLL_BENCH_MINUTES", 30) as i64 * 60 / CYCLE_S;
    let start = 1_790_000_000i64;
    let mut sim = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--standalone", "0"])
        .args(["--pbs", "0", "--pmg", "0", "--seed", "1"])
        .args([
            "--clusters",
            &clusters.to_string(),
            "--nodes",
            &nodes.to_string(),
        ])
        .args([
            "--guests",
            &guests.to_string(),
            "--frozen-clock",
            &start.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting pulse simulate");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("simulator document");
    let doc: serde_json::Value = serde_json::from_str(&line).expect("simulator document JSON");
    let admin = doc["admin"].as_str().expect("admin url").to_owned();
    let clock = ManualClock::at(start * 1000);
    let pollers: Vec<PvePoller> = doc["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            PvePoller::new(
                PveInstanceConfig {
                    name: s("name"),
                    host: s("url"),
                    token_name: s("tokenId"),
                    token_value: s("tokenValue"),
                    fingerprint: s("fingerprint"),
                    ..Default::default()
                },
                Arc::new(clock.clone()),
            )
        })
        .collect();
    println!(
        "fleet: {clusters} x {nodes} nodes x {guests} guests; {} min warm-up, {} min window \
         (simulated, {CYCLE_S} s cycles)",
        warmup * CYCLE_S / 60,
        window * CYCLE_S / 60
    );
    // As in the server: a fixed pool of 4 threads, alive for the whole run (spawning them
    // per cycle cost thread starts and exits the server does not have), polls every
    // instance once per cycle; the instances are spread over the threads.
    let start_gate = Arc::new(Barrier::new(POOL_THREADS + 1));
    let done_gate = Arc::new(Barrier::new(POOL_THREADS + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut chunks: Vec<Vec<PvePoller>> = (0..POOL_THREADS).map(|_| Vec::new()).collect();
    for (i, p) in pollers.into_iter().enumerate() {
        chunks[i % POOL_THREADS].push(p);
    }
    let pool: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (start_gate, done_gate, stop) =
                (start_gate.clone(), done_gate.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut last: Vec<Option<State>> = vec![None; chunk.len()];
                loop {
                    start_gate.wait();
                    if stop.load(Ordering::Relaxed) {
                        return last;
                    }
                    for (p, prev) in chunk.iter().zip(last.iter_mut()) {
                        match p.poll(prev.as_ref()) {
                            Ok(s) => *prev = Some(s),
                            Err(e) => eprintln!("poll failed: {}", e.message),
                        }
                    }
                    done_gate.wait();
                }
            })
        })
        .collect();
    let mut per_minute = Vec::new();
    let (mut block_cpu, mut requests) = (0.0, 0u64);
    for cycle in 0..warmup + window {
        if cycle == warmup {
            post(&format!("{admin}/accounting/reset"), "{}");
        }
        let before = cpu_ms();
        start_gate.wait();
        done_gate.wait();
        if cycle >= warmup {
            block_cpu += cpu_ms() - before;
            if (cycle - warmup + 1) % (60 / CYCLE_S) == 0 {
                per_minute.push(block_cpu / (60 / CYCLE_S) as f64);
                block_cpu = 0.0;
            }
        }
        clock.advance(CYCLE_S * 1000);
        post(
            &format!("{admin}/clock/advance"),
            &format!("{{\"seconds\":{CYCLE_S}}}"),
        );
    }
    let acc: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("{admin}/accounting"))
            .call()
            .expect("accounting")
            .body_mut()
            .read_to_string()
            .expect("accounting body"),
    )
    .expect("accounting JSON");
    if let Some(m) = acc.as_object() {
        requests = m.values().filter_map(|v| v["total"].as_u64()).sum();
        // Where the requests go (path templates summed over clusters), busiest first.
        let mut paths: std::collections::BTreeMap<String, u64> = Default::default();
        for v in m.values() {
            for (p, n) in v["byPath"].as_object().into_iter().flatten() {
                *paths.entry(p.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        let mut by: Vec<(&String, u64)> = paths.iter().map(|(k, n)| (k, *n)).collect();
        by.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (k, n) in by.iter().take(12) {
            println!("  {:>7.1} per cycle  {k}", *n as f64 / window as f64);
        }
    }
    stop.store(true, Ordering::Relaxed);
    start_gate.wait();
    let last: Vec<Option<State>> = pool
        .into_iter()
        .flat_map(|t| t.join().expect("pool thread"))
        .collect();
    let shown: usize = last
        .iter()
        .flatten()
        .map(|s| s.vms.len() + s.containers.len())
        .sum();
    per_minute.sort_by(f64::total_cmp);
    let q = |f: f64| per_minute[((per_minute.len() - 1) as f64 * f).round() as usize];
    println!(
        "guests shown {shown}; CPU per cycle (all clusters): median {:.1} ms, min {:.1}, max {:.1} \
         (per-minute blocks); requests per cycle {:.1}; RSS {:.1} MB",
        q(0.5),
        q(0.0),
        q(1.0),
        requests as f64 / window as f64,
        rss_mb()
    );
    let _ = sim.kill();
    let _ = sim.wait();
}
