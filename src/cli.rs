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
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Print version, build kind and commit.
    Version,
    /// Read a password on stdin and print its bcrypt (cost 12) hash.
    HashPassword,
}

#[derive(clap::Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on, ADDR:PORT (default 0.0.0.0:$FRONTEND_PORT, port 7655).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Data directory (default $PULSE_DATA_DIR, else /etc/pulse when writable, else ./data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
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
    }
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

fn config_errors(errs: &[settings::SettingError]) -> ExitCode {
    for e in errs {
        eprintln!("{e}");
    }
    eprintln!("pulse: {} invalid setting(s); not starting", errs.len());
    ExitCode::from(2)
}

fn serve(args: ServeArgs) -> ExitCode {
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
        Ok(s) => s,
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

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pulse: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let listen = settings.listen;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let data = settings.data_dir.display().to_string();
    let version = VersionInfo::from_facts(&HostFacts::gather());
    let state = AppState::new(
        store,
        settings,
        flags,
        Box::new(ProcessEnv),
        version,
        Some(log),
    );

    // The monitor owns live state on its own thread; pollers run on their own pool.
    let stop = Arc::new(AtomicBool::new(false));
    let mut monitor = crate::monitor::Monitor::new(
        state.inner.scheduler.clone(),
        crate::poller::pool::Pool::new(POLLER_THREADS, "poller"),
        Arc::new(crate::poller::clock::SystemClock),
        state.inner.live.clone(),
    );
    {
        // Every tick goes through the alert engine before it is published.
        let st = state.clone();
        monitor.set_publisher(Arc::new(move |s| st.publish_state(s)));
    }
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
