//! Shared harness for the black-box simulator tests: starts the real `pulse simulate` binary on
//! free loopback ports and talks HTTPS to it.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Start of a frozen test clock: Tue 2027-01-19 01:30:00 UTC (nightly backups in progress).
pub const T0: i64 = 1_800_322_200;

pub fn fixtures_dir() -> PathBuf {
    if let Ok(d) = std::env::var("PULSE_FIXTURES_DIR") {
        return PathBuf::from(d);
    }
    let shared = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/proxmox"
    ));
    if shared.is_dir() {
        return shared;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/proxmox"
    ))
}

/// Path -> GET `returns` schema of one product's official API schema.
pub fn load_schema(product: &str) -> BTreeMap<String, Value> {
    let text =
        std::fs::read_to_string(fixtures_dir().join(format!("schema/{product}-api-schema.json")))
            .expect("schema file");
    let tree: Value = serde_json::from_str(&text).expect("schema JSON");
    let mut idx = BTreeMap::new();
    fn walk(n: &Value, idx: &mut BTreeMap<String, Value>) {
        if let Some(p) = n["path"].as_str()
            && let Some(r) = n["info"]["GET"].get("returns")
        {
            let mut r = r.clone();
            // config index endpoints (e.g. /storage) echo what POST on the same path accepts;
            // closed item schemas (additionalProperties false) stay as published
            let closed = r["items"]["additionalProperties"] == false
                || r["items"]["additionalProperties"] == 0;
            if let (false, Some(props), Some(post)) = (
                closed,
                r.pointer_mut("/items/properties")
                    .and_then(Value::as_object_mut),
                n["info"]["POST"]["parameters"]["properties"].as_object(),
            ) {
                for (k, v) in post {
                    // echoed only when set: never required in an answer
                    let mut v = v.clone();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("optional".into(), Value::from(1));
                    }
                    props.entry(k.clone()).or_insert(v);
                }
            }
            idx.insert(p.to_string(), r);
        }
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, idx);
        }
    }
    for n in tree.as_array().into_iter().flatten() {
        walk(n, &mut idx);
    }
    idx
}

pub struct Sim {
    child: Child,
    pub doc: Value,
    pub agent: ureq::Agent,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Token,
    Limited,
    Cookie(String),
    Header(String),
}

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "invalid JSON ({e}): {}",
                &self.body[..self.body.len().min(300)]
            )
        })
    }
}

pub fn agent(timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(true)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

impl Sim {
    /// Starts `pulse simulate` with a frozen clock at `T0` plus `extra` arguments.
    pub fn start(extra: &[&str]) -> Sim {
        Self::start_raw(
            &[
                &["--listen", "127.0.0.1:0", "--frozen-clock", &T0.to_string()],
                extra,
            ]
            .concat(),
        )
    }

    pub fn start_raw(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pulse"))
            .arg("simulate")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pulse simulate");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut r = BufReader::new(stdout);
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // keep draining so the child never blocks on a full pipe
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("simulator printed its document");
        let doc: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {line}"));
        Sim {
            child,
            doc,
            agent: agent(Duration::from_secs(20)),
        }
    }

    pub fn inst(&self, name: &str) -> &Value {
        self.doc["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == name))
            .unwrap_or_else(|| panic!("no instance {name}"))
    }

    pub fn url(&self, name: &str) -> String {
        self.inst(name)["url"].as_str().unwrap().to_string()
    }

    fn auth_header(&self, name: &str, auth: &Auth) -> Option<(&'static str, String)> {
        let i = self.inst(name);
        let scheme = if i["kind"] == "pbs" {
            "PBSAPIToken"
        } else {
            "PVEAPIToken"
        };
        let sep = if i["kind"] == "pbs" { ":" } else { "=" };
        match auth {
            Auth::None => None,
            Auth::Token => Some((
                "Authorization",
                format!(
                    "{scheme}={}{sep}{}",
                    i["tokenId"].as_str()?,
                    i["tokenValue"].as_str()?
                ),
            )),
            Auth::Limited => Some((
                "Authorization",
                format!(
                    "{scheme}={}{sep}{}",
                    i["limitedTokenId"].as_str()?,
                    i["limitedTokenValue"].as_str()?
                ),
            )),
            Auth::Cookie(c) => Some(("Cookie", c.clone())),
            Auth::Header(h) => Some(("Authorization", h.clone())),
        }
    }

    pub fn try_get(&self, name: &str, path: &str, auth: Auth) -> Result<Reply, ureq::Error> {
        let url = format!("{}/api2/json{path}", self.url(name));
        let mut req = self.agent.get(&url);
        if let Some((k, v)) = self.auth_header(name, &auth) {
            req = req.header(k, &v);
        }
        let mut resp = req.call()?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string()?;
        Ok(Reply { status, body })
    }

    pub fn get(&self, name: &str, path: &str, auth: Auth) -> Reply {
        self.try_get(name, path, auth)
            .unwrap_or_else(|e| panic!("GET {name} {path}: {e}"))
    }

    /// GET with the instance's full token (or a ticket for PMG), expecting 200; returns the body.
    pub fn ok(&self, name: &str, path: &str) -> Value {
        let auth = if self.inst(name)["kind"] == "pmg" {
            Auth::Cookie(self.login_cookie(name))
        } else {
            Auth::Token
        };
        let r = self.get(name, path, auth);
        assert_eq!(r.status, 200, "GET {name} {path}: {}", r.body);
        r.json()
    }

    pub fn post_form(&self, name: &str, path: &str, form: &str) -> Reply {
        let url = format!("{}/api2/json{path}", self.url(name));
        let mut resp = self
            .agent
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        Reply {
            status,
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn login_cookie(&self, name: &str) -> String {
        let i = self.inst(name);
        let form = format!(
            "username={}&password={}",
            i["user"].as_str().unwrap(),
            i["password"].as_str().unwrap()
        );
        let r = self.post_form(name, "/access/ticket", &form);
        assert_eq!(r.status, 200, "login: {}", r.body);
        let ticket = r.json()["data"]["ticket"].as_str().unwrap().to_string();
        let prefix = match i["kind"].as_str().unwrap() {
            "pbs" => "PBS",
            "pmg" => "PMG",
            _ => "PVE",
        };
        format!("{prefix}AuthCookie={ticket}")
    }

    pub fn admin_url(&self) -> String {
        self.doc["admin"].as_str().unwrap().to_string()
    }

    pub fn admin_get(&self, path: &str) -> (u16, Value) {
        let mut resp = self
            .agent
            .get(&format!("{}{path}", self.admin_url()))
            .call()
            .expect("admin GET");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub fn admin_send(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.admin_url());
        let req = match method {
            "POST" => self.agent.post(&url),
            "PUT" => self.agent.put(&url),
            _ => panic!("method"),
        };
        let mut resp = req
            .header("Content-Type", "application/json")
            .send(body)
            .expect("admin send");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn admin_delete(&self, path: &str) -> u16 {
        let resp = self
            .agent
            .delete(&format!("{}{path}", self.admin_url()))
            .call()
            .expect("admin DELETE");
        resp.status().as_u16()
    }

    pub fn truth(&self, name: &str) -> Value {
        let (s, v) = self.admin_get(&format!("/truth?instance={name}"));
        assert_eq!(s, 200);
        v
    }
}
