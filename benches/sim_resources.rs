//! Benchmark (not a test): `/cluster/resources` latency of the simulator at 1 cluster × 20 nodes
//! × 10,000 guests, end to end over HTTPS with a keep-alive connection, plus the render time
//! without the network. Run: `cargo bench --bench sim_resources` (reports median and p95).
//! Override the size with SIM_BENCH_GUESTS / SIM_BENCH_NODES, the sample count with
//! SIM_BENCH_SAMPLES.

use pulse::sim::api::{Principal, Req};
use pulse::sim::dynamics::Ctx;
use pulse::sim::fleet::{Fleet, FleetSpec};
use pulse::sim::pve::PveView;
use pulse::sim::{self, SimConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn env(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} min={:.2} ms median={:.2} ms p95={:.2} ms max={:.2} ms",
        v.len(),
        ms(v[0]),
        ms(p(0.5)),
        ms(p(0.95)),
        ms(v[v.len() - 1])
    );
}

fn main() {
    let guests = env("SIM_BENCH_GUESTS", 10_000);
    let nodes = env("SIM_BENCH_NODES", 20);
    let samples = env("SIM_BENCH_SAMPLES", 200);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let spec = FleetSpec {
        seed: 1,
        clusters: 1,
        nodes,
        guests,
        standalone: 0,
        pbs: 0,
        pmg: 0,
        genesis: now,
    };
    println!("fleet: 1 cluster x {nodes} nodes x {guests} guests");

    // render only: the route handler plus JSON serialisation, no network
    let fleet = Fleet::generate(&spec);
    let faults = pulse::sim::faults::FaultSet::default();
    let view = PveView {
        c: &fleet.pve[0],
        ctx: Ctx::new(1, now, "cluster1"),
        faults: &faults,
        pbs: &[],
        fingerprint: "",
        ip: "127.0.0.1",
    };
    let admin = Principal::Token {
        id: "root@pam!pulse".into(),
        limited: false,
    };
    let mut render = Vec::new();
    let mut bytes = 0;
    for i in 0..samples.min(100) {
        let req = Req {
            method: "GET",
            segs: vec!["cluster".into(), "resources".into()],
            query: HashMap::new(),
            now_ms: (now + i as i64) * 1000,
            principal: &admin,
        };
        let t = Instant::now();
        let v = view.route(&req).expect("render");
        bytes = match v.get(pulse::sim::api::RAW).and_then(|r| r.as_str()) {
            Some(r) => r.len(),
            None => serde_json::to_vec(&v).expect("json").len(),
        };
        render.push(t.elapsed());
    }
    stats("render+serialise (no network)", render);

    // end to end over HTTPS through the real listener
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt
        .block_on(sim::start(SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            spec,
            plain_http: false,
            faults: vec![],
            clock: None,
            fleet: None,
        }))
        .expect("start simulator");
    let i = handle.instances()[0].clone();
    let auth = format!(
        "PVEAPIToken={}={}",
        i.token_id.clone().unwrap_or_default(),
        i.token_value.clone().unwrap_or_default()
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}/api2/json/cluster/resources", i.url);
    let fetch = || {
        let mut r = agent
            .get(&url)
            .header("Authorization", &auth)
            .call()
            .expect("GET");
        r.body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .expect("body")
            .len()
    };
    for _ in 0..5 {
        fetch();
    }
    let mut e2e = Vec::new();
    let mut size = 0;
    for _ in 0..samples {
        let t = Instant::now();
        size = fetch();
        e2e.push(t.elapsed());
    }
    stats("GET /cluster/resources over HTTPS (keep-alive)", e2e);
    println!("response: {size} bytes ({bytes} bytes of data)");
    rt.block_on(handle.stop());
}
