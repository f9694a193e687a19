//! Black-box harness: starts the real `pulse` binary on a free loopback port with a temp
//! data dir and speaks HTTP to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.body, self.status))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `name=value` of every Set-Cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.clone())
            .find(|v| v.starts_with(&format!("{name}=")))
    }
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    agent: ureq::Agent,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A cheap bcrypt hash (cost 4) so tests do not spend a quarter second per login.
pub fn cheap_hash(pw: &str) -> String {
    bcrypt::hash(pw, 4).unwrap()
}

impl Server {
    pub fn start(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Server::start_in(&dir, env);
        s._tmp = Some(tmp);
        s
    }

    pub fn start_in(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pulse"));
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .env_clear()
        .env("LOG_LEVEL", "info")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let s = Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            _tmp: None,
            agent: agent(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = s.agent.get(format!("{}/api/health", s.base)).call()
                && r.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM, then wait) and keeps the data dir.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    #[track_caller]
    pub fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let url = format!("{}{}", self.base, path);
        let r = match method {
            "GET" | "HEAD" | "DELETE" => {
                let mut b = match method {
                    "GET" => self.agent.get(&url),
                    "HEAD" => self.agent.head(&url),
                    _ => self.agent.delete(&url),
                };
                for (k, v) in headers {
                    b = b.header(*k, *v);
                }
                b.call()
            }
            _ => {
                let mut b = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.patch(&url),
                };
                for (k, v) in headers {
                    b = b.header(*k, *v);
                }
                match body {
                    Some(body) => b.header("content-type", "application/json").send(body),
                    None => b.send_empty(),
                }
            }
        };
        let mut r = match r {
            Ok(r) => r,
            Err(e) => panic!(
                "{method} {path}: {e} (at {})",
                std::panic::Location::caller()
            ),
        };
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends raw bytes on a fresh connection and returns what comes back (until close or
    /// 3 s), for requests an HTTP client will not build.
    pub fn raw(&self, request: &str) -> String {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        // The server may answer and close before everything is written.
        let _ = c.write_all(request.as_bytes());
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") && out.len() > 12 {
                        // Headers are in; that is all the tests look at.
                        break;
                    }
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[track_caller]
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.req("GET", path, headers, None)
    }
    #[track_caller]
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.req("POST", path, headers, Some(body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
