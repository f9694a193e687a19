//! Notification delivery throughput to a local HTTP receiver on 127.0.0.1.
//! `cargo bench --bench notify_throughput` — enqueues `ITEMS` webhook notifications (default
//! 300) spread over `DESTS` webhooks (default runs 1 and 8), starts the delivery pool, and
//! times until every item is `completed`. Every state change is a durable redb commit
//! (fsync on the real disk under target/), which dominates the cost. Prints the median of
//! 3 runs per setting.

use pulse::notify::payload::{Kind, sample_alert};
use pulse::notify::{Channels, Notifier, Tuning, config};
use pulse::store::Store;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn receiver() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut rd = BufReader::new(c.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if rd.read_line(&mut h).unwrap_or(0) == 0 {
                        return;
                    }
                    let t = h.trim_end().to_ascii_lowercase();
                    if t.is_empty() {
                        break;
                    }
                    if let Some(v) = t.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut b = vec![0; len];
                let _ = rd.read_exact(&mut b);
                let mut w = c;
                let _ = w.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    port
}

fn run(items: usize, dests: usize, port: u16) -> f64 {
    let base = std::env::var("BENCH_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    store
        .put_setting(
            "system",
            &serde_json::json!({"webhookAllowedPrivateCIDRs": "127.0.0.1"}),
        )
        .unwrap();
    let hooks: Vec<config::Webhook> = (0..dests)
        .map(|i| config::Webhook {
            id: format!("w{i}"),
            name: format!("w{i}"),
            url: format!("http://127.0.0.1:{port}/h{i}"),
            enabled: true,
            ..Default::default()
        })
        .collect();
    config::save_webhooks(&store, &hooks).unwrap();
    let n = Notifier::new(store, Tuning::default(), None);
    let now = pulse::model::time::now_ms();
    for i in 0..items {
        let w = format!("w{}", i % dests);
        n.enqueue(vec![sample_alert(now)], Kind::Alert, &Channels::Webhook(w))
            .unwrap();
    }
    let t = Instant::now();
    n.start().unwrap();
    loop {
        let s = n.queue().stats(pulse::model::time::now_ms()).unwrap();
        if s["completed"].as_u64() == Some(items as u64) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let secs = t.elapsed().as_secs_f64();
    n.shutdown();
    items as f64 / secs
}

fn main() {
    let items: usize = std::env::var("ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let port = receiver();
    let dests: Vec<usize> = match std::env::var("DESTS").ok().and_then(|v| v.parse().ok()) {
        Some(d) => vec![d],
        None => vec![1, 8],
    };
    for d in dests {
        let mut r: Vec<f64> = (0..3).map(|_| run(items, d, port)).collect();
        r.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "notify_throughput: {items} webhook notifications over {d} destination(s), 4 workers: median {:.0}/s (runs {:.0}, {:.0}, {:.0})",
            r[1], r[0], r[1], r[2]
        );
    }
}
