//! Login storm: 20 concurrent password logins (bcrypt cost 12) against the real server
//! while one client polls a read endpoint; reports that endpoint's latency percentiles.
//! The target is p99 < 50 ms: bcrypt runs on the blocking pool behind a semaphore, so the
//! async workers keep answering.
//!
//!   cargo bench --profile dev --bench login_storm     (debug build; bcrypt is slower there,
//!                                                       which only makes the storm longer)

#[path = "../tests/sec_harness/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0123456789abcdef";

fn main() {
    let s = Arc::new(common::Server::start(&[
        ("PULSE_AUTH_USER", "admin"),
        // Plain text: hashed at start-up with the production cost (12).
        ("PULSE_AUTH_PASS", "bench password 123"),
        ("API_TOKENS", TOKEN),
        ("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32"),
    ]));
    // /api/state when this build has it, else /api/health: the same gate and runtime.
    let probe = if s.get("/api/state", &[("X-API-Token", TOKEN)]).status == 200 {
        "/api/state"
    } else {
        "/api/health"
    };
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (s, done) = (s.clone(), done.clone());
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            let mut n = 0u32;
            while !done.load(Ordering::SeqCst) {
                // A fresh client address every 100 requests keeps the poller under the
                // per-IP rate limits; the storm, not the limiter, is what is measured.
                n += 1;
                let ip = format!("10.9.{}.{}", n / 100 / 250, n / 100 % 250 + 1);
                let t = Instant::now();
                let r = s.get(probe, &[("X-API-Token", TOKEN), ("X-Forwarded-For", &ip)]);
                lat.push(t.elapsed());
                assert_eq!(r.status, 200);
                std::thread::sleep(Duration::from_millis(5));
            }
            lat
        })
    };
    let start = Instant::now();
    let logins: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                let ip = format!("10.8.0.{}", i + 1);
                let pw = if i % 2 == 0 {
                    "bench password 123"
                } else {
                    "wrong password 123"
                };
                let t = Instant::now();
                let r = s.post(
                    "/api/login",
                    &[("X-Forwarded-For", &ip)],
                    &format!(r#"{{"username":"admin","password":"{pw}"}}"#),
                );
                (r.status, t.elapsed())
            })
        })
        .collect();
    let results: Vec<(u16, Duration)> = logins.into_iter().map(|h| h.join().unwrap()).collect();
    let storm = start.elapsed();
    done.store(true, Ordering::SeqCst);
    let mut lat = poller.join().unwrap();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let slowest_login = results.iter().map(|(_, d)| *d).max().unwrap_or_default();
    println!("login storm: 20 logins ({ok} ok) in {storm:.2?}, slowest login {slowest_login:.2?}");
    println!(
        "{probe} during the storm: n={} p50={:.2?} p99={:.2?} max={:.2?}",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
    let verdict = if pct(0.99) < Duration::from_millis(50) {
        "PASS"
    } else {
        "FAIL"
    };
    println!("p99 < 50 ms: {verdict}");
}
