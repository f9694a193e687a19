//! The server run in-process on a loopback port, for tests that drive the `AppState`
//! directly (publish monitored states, advance a manual clock) and observe the result over
//! real HTTP and WebSocket connections.
#![allow(dead_code)]

use pulse::api::AppState;
use pulse::poller::clock::Clock;
use pulse::settings::{self, ServeFlags, SystemSettings};
use pulse::store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A running in-process server: its state, its port and the runtime that serves it.
pub struct InProcess {
    pub state: AppState,
    pub port: u16,
    rt: tokio::runtime::Runtime,
    /// A data dir this server owns (`in_temp_dir`), removed with it.
    temp_dir: Option<tempfile::TempDir>,
}

impl InProcess {
    /// Serves a store opened on `dir` with default settings, an empty environment and
    /// `clock` as the alert/poll clock.
    pub fn start(dir: &Path, clock: Arc<dyn Clock>) -> InProcess {
        Self::serve(Store::open(dir).unwrap(), dir, clock)
    }

    /// As `start`, on a fresh temporary data dir that lives as long as the server.
    pub fn in_temp_dir(clock: Arc<dyn Clock>) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let mut srv = Self::start(dir.path(), clock);
        srv.temp_dir = Some(dir);
        srv
    }

    /// As `start`, on a store the caller opened on `dir` (to seed it first).
    pub fn serve(store: Store, dir: &Path, clock: Arc<dyn Clock>) -> InProcess {
        let env: HashMap<&str, &str> = HashMap::new();
        let flags = ServeFlags::default();
        let s = settings::resolve(&flags, &env, dir.into(), &SystemSettings::default()).unwrap();
        let version = pulse::version::VersionInfo::from_facts(&Default::default());
        let state = AppState::with_clock(store, s, flags, Box::new(env), version, None, clock);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        rt.spawn(pulse::server::run(
            listener,
            None,
            pulse::server::handler(state.clone()),
            std::future::pending(),
        ));
        InProcess {
            state,
            port,
            rt,
            temp_dir: None,
        }
    }

    pub fn url(&self, p: &str) -> String {
        format!("http://127.0.0.1:{}{p}", self.port)
    }

    /// GETs `p`, asserting a 200, and returns its JSON.
    pub fn get(&self, p: &str) -> Value {
        let r = super::get(&self.url(p), &[]);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        r.json()
    }

    pub fn send(&self, method: &str, p: &str, body: &str) -> super::Reply {
        super::send(method, &self.url(p), &[], body.as_bytes())
    }

    pub fn post(&self, p: &str, body: &str) -> super::Reply {
        self.send("POST", p, body)
    }

    /// Shuts the server down and releases the data dir (for a restart on it).
    pub fn stop(self) {
        let InProcess {
            state,
            rt,
            temp_dir,
            ..
        } = self;
        rt.shutdown_timeout(Duration::from_secs(5));
        drop(state);
        drop(temp_dir);
    }
}
