//! Shared helpers for black-box tests: start the real `pulse` binary on a free loopback port
//! with a temp data dir, wait for health, speak HTTP.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_pulse");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Sends SIGTERM and waits for the exit status (the data dir stays until drop).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        terminate(&self.child);
        let status = wait_timeout(&mut self.child, Duration::from_secs(10))
            .expect("server exits after SIGTERM");
        // Defuse Drop.
        self.port = 0;
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

pub fn command(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .env_remove("FRONTEND_PORT")
        .env_remove("PORT")
        .env_remove("PULSE_DATA_DIR")
        .env_remove("HTTPS_ENABLED")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts a server with extra env vars in a fresh temp data dir.
pub fn start_with(envs: &[(&str, &str)]) -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let mut s = start_in(&dir, envs);
    s._tmp = Some(tmp);
    s
}

pub fn start() -> Server {
    start_with(&[])
}

/// Starts a server on `dir` (which the caller owns) and waits until it is healthy.
pub fn start_in(dir: &Path, envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut cmd = command(dir, port);
    cmd.stderr(server_log(port));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn pulse");
    let server = Server {
        child,
        port,
        dir: dir.to_path_buf(),
        _tmp: None,
    };
    wait_healthy(&server.url("/api/health"), Duration::from_secs(10));
    server
}

/// The server's log: discarded, or kept as `<dir>/pulse-<port>.log` when the environment
/// names a directory in `PULSE_TEST_LOG_DIR` (for reading a failed timing test afterwards).
fn server_log(port: u16) -> Stdio {
    let Some(dir) = std::env::var_os("PULSE_TEST_LOG_DIR") else {
        return Stdio::null();
    };
    let path = Path::new(&dir).join(format!("pulse-{port}.log"));
    std::fs::File::create(path).map_or_else(|_| Stdio::null(), Stdio::from)
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

pub fn wait_healthy(url: &str, limit: Duration) {
    let a = agent();
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(r) = a.get(url).call()
            && r.status() == 200
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{url} not healthy within {limit:?}");
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn collect(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.call().expect("request"))
}

pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.to_vec()).expect("request");
    collect(agent().run(req).expect("request"))
}

/// Writes raw bytes to the server and returns the raw response head+body as text; for
/// requests an HTTP client library would refuse to send (traversal, NUL, bad framing).
pub fn raw(port: u16, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn status_of(raw: &str) -> u16 {
    raw.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The server in-process on a loopback port (`AppState` in the test's hands).
pub mod inprocess;
/// The simulator's test harness (`pulse simulate` as a child process over HTTPS).
pub mod sim;
