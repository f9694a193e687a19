//! The command line. Scripts rely on it: keep subcommands, flags and exit codes stable.
//! Exit codes: 0 ok, 1 runtime failure (data dir in use, cannot bind, bad TLS files),
//! 2 bad configuration or usage.

use crate::api::AppState;
use crate::settings::{self, ProcessEnv, ServeFlags, SystemSettings};
use crate::store::Store;
use crate::version::{self, HostFacts, VersionInfo};
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Blocking poll threads (DESIGN.md: a small fixed pool).
const POLLER_THREADS: usize = 4;

#[derive(Parser, Debug)]
#[command(name = "pulse", version = version::VERSION, about = "Monitors Proxmox VE, PBS, PMG and Docker hosts")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `serve`'s flags also work without the subcommand (`pulse --demo`).
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Print version, build kind and commit.
    Version,
    /// Read a password on stdin and print its bcrypt (cost 12) hash.
    HashPassword,
    /// Run the Proxmox simulator (PVE clusters, PBS, PMG over HTTPS); prints one JSON document
    /// describing the instances once every listener is up. See docs/simulator.md.
    Simulate(SimulateArgs),
    /// Print the first-run bootstrap token (needed by quick setup until auth is configured).
    BootstrapToken {
        /// Data directory (default $PULSE_DATA_DIR, else /etc/pulse when writable, else ./data).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
struct SimulateArgs {
    /// First ADDR:PORT; instance i listens on PORT+i, the admin endpoint after the last one.
    /// Port 0 gives every listener a free port.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8006")]
    listen: std::net::SocketAddr,
    /// PVE clusters (one instance each).
    #[arg(long, default_value_t = 1)]
    clusters: usize,
    /// Nodes per cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Guests (VMs and containers) per cluster.
    #[arg(long, default_value_t = 30)]
    guests: usize,
    /// Extra standalone PVE nodes (one instance each).
    #[arg(long, default_value_t = 1)]
    standalone: usize,
    /// Proxmox Backup Servers.
    #[arg(long, default_value_t = 1)]
    pbs: usize,
    /// Proxmox Mail Gateways.
    #[arg(long, default_value_t = 1)]
    pmg: usize,
    /// Seed of the fleet and of every random value.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Faults from the start, e.g. `latency=200,cluster1:offline=c1-pve2,pbs1:error-rate=0.1`.
    #[arg(long, value_name = "LIST")]
    faults: Option<String>,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Freeze the clock at this Unix time (it then only moves through the admin endpoint), for
    /// runs that must answer identically every time.
    #[arg(long, value_name = "UNIX_SECONDS")]
    frozen_clock: Option<i64>,
}

#[derive(clap::Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on, ADDR:PORT (default 0.0.0.0:$FRONTEND_PORT, port 7655).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Data directory (default $PULSE_DATA_DIR, else /etc/pulse when writable, else ./data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Demo mode: also monitor a simulated fleet (the built-in Proxmox simulator on loopback).
    /// Same as PULSE_MOCK_MODE=true.
    #[arg(long)]
    demo: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => serve(args),
        Command::Version => {
            println!(
                "pulse {} (build {}, commit {})",
                version::VERSION,
                version::build_kind(),
                version::COMMIT
            );
            ExitCode::SUCCESS
        }
        Command::HashPassword => hash_password(),
        Command::Simulate(args) => simulate(args),
        Command::BootstrapToken { data_dir } => bootstrap_token(data_dir),
    }
}

fn simulate(a: SimulateArgs) -> ExitCode {
    use crate::sim;
    if a.clusters + a.standalone + a.pbs + a.pmg == 0 {
        eprintln!("pulse: nothing to simulate (all counts are 0)");
        return ExitCode::from(2);
    }
    if a.frozen_clock
        .is_some_and(|t| !(0..=253_402_300_799).contains(&t))
    {
        eprintln!("pulse: --frozen-clock must be a Unix time between 0 and 253402300799");
        return ExitCode::from(2);
    }
    if a.nodes == 0 || a.nodes > 1000 || a.guests > 1_000_000 {
        eprintln!("pulse: --nodes must be 1..=1000 and --guests at most 1000000");
        return ExitCode::from(2);
    }
    let faults = match a.faults.as_deref().map(sim::faults::FaultPatch::parse_cli) {
        None => Vec::new(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            eprintln!("pulse: --faults: {e}");
            return ExitCode::from(2);
        }
    };
    let _log = crate::logging::init(
        crate::settings::LogLevel::Warn,
        crate::settings::LogFormat::Console,
    );
    let clock: std::sync::Arc<dyn sim::clock::Clock> = match a.frozen_clock {
        Some(t) => sim::clock::ManualClock::new(t.saturating_mul(1000)),
        None => std::sync::Arc::new(sim::clock::SystemClock::default()),
    };
    let genesis = clock.now_secs();
    let cfg = sim::SimConfig {
        listen: a.listen,
        spec: sim::fleet::FleetSpec {
            seed: a.seed,
            clusters: a.clusters,
            nodes: a.nodes,
            guests: a.guests,
            standalone: a.standalone,
            pbs: a.pbs,
            pmg: a.pmg,
            genesis,
        },
        plain_http: a.plain_http,
        faults,
        clock: Some(clock),
        fleet: None,
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let handle = match sim::start(cfg).await {
            Ok(h) => h,
            Err(sim::SimError::Fault(e)) => {
                eprintln!("pulse: --faults: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("pulse: {e}");
                return ExitCode::from(1);
            }
        };
        match serde_json::to_string(&handle.doc()) {
            Ok(doc) => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{doc}");
                let _ = out.flush();
            }
            Err(e) => {
                eprintln!("pulse: {e}");
                return ExitCode::from(1);
            }
        }
        shutdown_signal().await;
        handle.stop().await;
        ExitCode::SUCCESS
    })
}

fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
        eprintln!("pulse: cannot read stdin: {e}");
        return ExitCode::from(1);
    }
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        eprintln!("pulse: empty password");
        return ExitCode::from(2);
    }
    match bcrypt::hash(pw, 12) {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pulse: {e}");
            ExitCode::from(1)
        }
    }
}

fn bootstrap_token(data_dir: Option<PathBuf>) -> ExitCode {
    let flags = ServeFlags {
        data_dir,
        ..Default::default()
    };
    let path = settings::data_dir(&flags, &ProcessEnv).join(crate::auth::BOOTSTRAP_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            println!("{}", t.trim());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "pulse: {}: {e} (the token exists only while no authentication is configured)",
                path.display()
            );
            ExitCode::from(1)
        }
    }
}

fn config_errors(errs: &[settings::SettingError]) -> ExitCode {
    for e in errs {
        eprintln!("{e}");
    }
    eprintln!("pulse: {} invalid setting(s); not starting", errs.len());
    ExitCode::from(2)
}

fn serve(args: ServeArgs) -> ExitCode {
    let demo = args.demo
        || std::env::var("PULSE_MOCK_MODE").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
    let flags = ServeFlags {
        listen: args.listen,
        data_dir: args.data_dir,
    };
    let env = ProcessEnv;
    let data_dir = settings::data_dir(&flags, &env);
    // Check flags and environment before touching the data dir, so a typo never
    // creates or locks anything.
    let early = match settings::resolve(&flags, &env, data_dir.clone(), &SystemSettings::default())
    {
        Ok(s) => s,
        Err(errs) => return config_errors(&errs),
    };
    let log = crate::logging::init(early.log_level, early.log_format);

    let store = match Store::open(&data_dir) {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => {
            eprintln!("pulse: {e}");
            return ExitCode::from(1);
        }
    };
    let persisted = match store.get_setting::<SystemSettings>(crate::api::system::SYSTEM_KEY) {
        Ok(Some(p)) => p,
        Ok(None) => {
            let p = SystemSettings::default();
            if let Err(e) = store.put_setting(crate::api::system::SYSTEM_KEY, &p) {
                eprintln!("pulse: {e}");
                return ExitCode::from(1);
            }
            p
        }
        Err(e) => {
            eprintln!("pulse: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = match settings::resolve(&flags, &env, data_dir, &persisted) {
        Ok(s) => s,
        Err(errs) => return config_errors(&errs),
    };
    log.set_level(settings.log_level);

    let tls = match &settings.tls {
        Some(files) => match crate::server::load_tls(&files.cert, &files.key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("pulse: HTTPS: {e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };

    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let listen = settings.listen;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let data = settings.data_dir.display().to_string();
    let version = VersionInfo::from_facts(&HostFacts::gather());
    // Hashes a plain-text PULSE_AUTH_PASS here, before the runtime serves anything.
    let auth = match crate::auth::Auth::new(
        store.clone(),
        &settings,
        std::sync::Arc::new(crate::auth::clock::SystemClock),
        crate::auth::password::COST,
    ) {
        Ok(a) => std::sync::Arc::new(a),
        Err(e) => {
            eprintln!("pulse: {e}");
            return ExitCode::from(1);
        }
    };
    let state = AppState::with_auth(
        store,
        auth,
        settings,
        flags,
        Box::new(ProcessEnv),
        version,
        Some(log),
    );

    // The monitor owns live state on its own thread; pollers run on their own pool.
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = match state.attach_history() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pulse: metric history: {e}");
            return ExitCode::from(1);
        }
    };
    state.apply_polling(crate::model::time::now_ms());
    let mut monitor = crate::monitor::Monitor::new(
        state.inner.scheduler.clone(),
        crate::poller::pool::Pool::new(POLLER_THREADS, "poller"),
        Arc::new(crate::poller::clock::SystemClock),
        state.inner.live.clone(),
    );
    monitor.temperature_monitoring_enabled = state.inner.temperature_monitoring.clone();
    monitor.on_publish(move |s| {
        recorder.offer(s);
    });
    // Notifications: delivery threads and the alert-event subscription.
    if let Err(e) = state
        .inner
        .notify
        .start()
        .and_then(|()| state.inner.notify.attach_alerts(state.inner.alerts.clone()))
    {
        eprintln!("pulse: notifications: {e}");
        return ExitCode::from(1);
    }
    {
        // Every tick goes through the alert engine before it is published.
        let st = state.clone();
        monitor.set_publisher(Arc::new(move |s| st.publish_state(s)));
    }
    // Node list changes (API, auto-register, demo mode) reach the monitor as a new list.
    {
        let updater = std::sync::Mutex::new(monitor.updater());
        let st = state.clone();
        let clock: Arc<dyn crate::poller::clock::Clock> =
            Arc::new(crate::poller::clock::SystemClock);
        let reload = move || match st.monitored_nodes() {
            Ok(list) => {
                let polling = st.settings().polling.clone();
                let instances = list
                    .iter()
                    .map(|(n, s)| crate::nodes::instances::instance(n, s, &polling, clock.clone()))
                    .collect();
                let _ = updater
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .send(instances);
            }
            Err(e) => tracing::error!(error = %e, "cannot read the node list"),
        };
        let _ = state.inner.on_nodes_changed.set(Box::new(reload));
    }
    if demo {
        match runtime.block_on(state.inner.demo.enable()) {
            Ok(()) => tracing::info!(
                instances = runtime.block_on(state.inner.demo.instance_count()),
                "demo mode: monitoring the built-in simulator"
            ),
            Err(e) => {
                eprintln!("pulse: demo mode: cannot start the simulator: {e}");
                return ExitCode::from(1);
            }
        }
    }
    state.nodes_changed();
    let monitor_thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || monitor.run(stop))
    };
    let monitor_thread = match monitor_thread {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pulse: cannot start the monitor: {e}");
            return ExitCode::from(1);
        }
    };

    let code = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("pulse: cannot listen on {listen}: {e}");
                return ExitCode::from(1);
            }
        };
        let bound = listener.local_addr().unwrap_or(listen);
        tracing::info!(address = %bound, %scheme, data_dir = %data, version = version::VERSION, "pulse listening");
        // Expired sessions leave memory and the database every five minutes.
        let pruner = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
            loop {
                tick.tick().await;
                let s = pruner.clone();
                let _ = tokio::task::spawn_blocking(move || s.auth().sessions.prune()).await;
            }
        });
        crate::server::run(listener, tls, crate::server::handler(state.clone()), shutdown_signal()).await;
        tracing::info!("shut down cleanly");
        ExitCode::SUCCESS
    });
    stop.store(true, Ordering::Relaxed);
    let _ = monitor_thread.join();
    // Dropping the runtime and then the state closes redb and releases the lock.
    drop(runtime);
    code
}

/// The tokio runtime for the web server or the simulator (two workers: blocking work runs
/// elsewhere).
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("pulse: cannot start runtime: {e}");
            ExitCode::from(1)
        })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}
