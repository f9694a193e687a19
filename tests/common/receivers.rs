//! Real receivers on 127.0.0.1 for notification tests: an HTTP endpoint that records every
//! request and answers per a scripted behaviour, and a minimal SMTP server (with AUTH PLAIN
//! and LOGIN) that records envelopes and message data.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
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

/// How the HTTP receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Ok,
    /// Answer 500 to the next n requests, then 200.
    FailFirst(u32),
    AlwaysFail,
    /// Read the request, then never answer (the connection stays open).
    Stall,
}

pub struct HttpReceiver {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub mode: Arc<Mutex<Mode>>,
}

impl HttpReceiver {
    pub fn start(mode: Mode) -> HttpReceiver {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(mode));
        let (r, m) = (requests.clone(), mode.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let (r, m) = (r.clone(), m.clone());
                std::thread::spawn(move || serve_http(conn, r, m));
            }
        });
        HttpReceiver {
            port,
            requests,
            mode,
        }
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
    pub fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
    pub fn all(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
    /// Waits until `pred` holds for the recorded requests (panics after `secs`).
    pub fn wait_for(&self, secs: u64, what: &str, pred: impl Fn(&[Request]) -> bool) {
        let end = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if pred(&self.requests.lock().unwrap()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "timed out waiting for {what}; got {} requests",
            self.count()
        );
    }
}

fn serve_http(conn: TcpStream, reqs: Arc<Mutex<Vec<Request>>>, mode: Arc<Mutex<Mode>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut rd = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    {
        let mut line = String::new();
        if rd.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if rd.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if rd.read_exact(&mut body).is_err() {
            return;
        }
        let m = *mode.lock().unwrap();
        reqs.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
        });
        let status = match m {
            Mode::Ok => 200,
            Mode::AlwaysFail => 500,
            Mode::FailFirst(n) if n > 0 => {
                *mode.lock().unwrap() = Mode::FailFirst(n - 1);
                500
            }
            Mode::FailFirst(_) => 200,
            Mode::Stall => {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
        };
        let body = if status == 200 {
            "ok"
        } else {
            "receiver says no"
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = out.write_all(resp.as_bytes());
    }
}

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub auth: Option<String>,
    pub from: String,
    pub rcpt: Vec<String>,
    pub data: String,
}

pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// When set, MAIL FROM is answered with this (e.g. a 5xx) and the session ends.
    pub reject: Arc<Mutex<Option<String>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = l.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let reject = Arc::new(Mutex::new(None));
        let (m, r) = (mails.clone(), reject.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let (m, r) = (m.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = smtp_session(conn, m, r);
                });
            }
        });
        SmtpSink {
            port,
            mails,
            reject,
        }
    }
    pub fn all(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

fn smtp_session(
    conn: TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
    reject: Arc<Mutex<Option<String>>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut rd = BufReader::new(conn.try_clone()?);
    let mut w = conn;
    let mut mail = Mail::default();
    w.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            w.write_all(b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("AUTH PLAIN") {
            mail.auth = Some(cmd[10..].trim().to_string());
            w.write_all(b"235 2.7.0 Authentication successful\r\n")?;
        } else if upper.starts_with("AUTH LOGIN") {
            w.write_all(b"334 VXNlcm5hbWU6\r\n")?;
            let mut u = String::new();
            rd.read_line(&mut u)?;
            w.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
            let mut p = String::new();
            rd.read_line(&mut p)?;
            mail.auth = Some(format!("LOGIN {} {}", u.trim(), p.trim()));
            w.write_all(b"235 2.7.0 Authentication successful\r\n")?;
        } else if upper.starts_with("MAIL FROM") {
            if let Some(r) = reject.lock().unwrap().clone() {
                w.write_all(format!("{r}\r\n").as_bytes())?;
                continue;
            }
            mail.from = cmd[10..].trim().to_string();
            w.write_all(b"250 2.1.0 Ok\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            mail.rcpt.push(cmd[8..].trim().to_string());
            w.write_all(b"250 2.1.5 Ok\r\n")?;
        } else if upper == "DATA" {
            w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if rd.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mail.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            w.write_all(b"250 2.0.0 Ok: queued\r\n")?;
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 Ok\r\n")?;
        } else {
            w.write_all(b"502 5.5.2 Command not recognized\r\n")?;
        }
    }
}
