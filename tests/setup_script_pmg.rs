//! Settings → Nodes "Set up with a script" for Proxmox Mail Gateway, black-box: the real
//! server serves the PMG script, and the script itself runs under bash on a stand-in PMG host
//! (fake `pmgsh`/`pmgversion`/`id`/`hostname` on PATH that record what they were asked) and
//! registers with the server through the real `curl` over 127.0.0.1.

#[path = "sec_harness/mod.rs"]
mod common;

use common::{Server, cheap_hash};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ADMIN_TOKEN: &str = "env-admin-token-0123456789abcdef";

fn secured() -> Server {
    Server::start(&[
        ("PULSE_AUTH_USER", "admin"),
        ("PULSE_AUTH_PASS", &cheap_hash("correct horse battery")),
        ("API_TOKENS", ADMIN_TOKEN),
        ("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32"),
    ])
}

fn admin() -> (&'static str, &'static str) {
    ("X-API-Token", ADMIN_TOKEN)
}

/// A one-time code and the script URL path for a PMG bound to `host`.
fn code_for(s: &Server, host: &str) -> (String, String) {
    let r = s.post(
        "/api/setup-script-url",
        &[admin()],
        &json!({"type": "pmg", "host": host}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let url = j["url"].as_str().unwrap();
    assert!(url.contains("type=pmg"), "{url}");
    let path = url.strip_prefix(&s.base).unwrap_or(url).to_string();
    (j["setupToken"].as_str().unwrap().to_string(), path)
}

/// A stand-in PMG host: `pmgsh` logs its arguments; `get` on the user fails until `create`
/// has run (then a marker file says the user exists); `delete` removes the marker. Like real
/// PMG it refuses a password outside 5-32 characters.
fn fake_pmg(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("pmgsh.log");
    let marker = dir.join("user-exists");
    let scripts = [
        ("id", "#!/bin/sh\necho 0\n".to_string()),
        ("hostname", "#!/bin/sh\necho pmg1\n".to_string()),
        ("pmgversion", "#!/bin/sh\necho pmg/8.1.2\n".to_string()),
        (
            "pmgsh",
            format!(
                "#!/bin/sh\necho \"$*\" >> '{log}'\nprev=\nfor a in \"$@\"; do\n  if [ \"$prev\" = --password ] && {{ [ ${{#a}} -lt 5 ] || [ ${{#a}} -gt 32 ]; }}; then echo 'password: too long' >&2; exit 1; fi\n  prev=\"$a\"\ndone\ncase \"$1\" in\n  get) [ -e '{m}' ] ;;\n  create) touch '{m}' ;;\n  delete) [ -e '{m}' ] && rm '{m}' ;;\n  *) true ;;\nesac\n",
                log = log.display(),
                m = marker.display()
            ),
        ),
    ];
    for (name, text) in scripts {
        let p = bin.join(name);
        std::fs::write(&p, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// Runs the script with bash on the stand-in host; returns (exit ok, stdout + stderr).
fn run(script: &str, bin: &Path, code: &str, args: &[&str]) -> (bool, String) {
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let file = bin.parent().unwrap().join("setup.sh");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("bash")
        .arg(&file)
        .args(args)
        .env("PATH", path)
        .env("PULSE_SETUP_TOKEN", code)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The password the script gave `pmgsh` last (`--password <hex>`).
fn last_password(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("pmgsh.log")).unwrap();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("--password"))
        .unwrap();
    line.split("--password ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn pmg_nodes(s: &Server) -> (String, Vec<serde_json::Value>) {
    let list = s.get("/api/config/nodes", &[admin()]);
    assert_eq!(list.status, 200, "{}", list.body);
    let nodes = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "pmg")
        .cloned()
        .collect();
    (list.body, nodes)
}

/// True when `needle` occurs in any file under `dir` (the data dir: stores, logs).
fn found_in_files(dir: &Path, needle: &str) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            found_in_files(&p, needle)
        } else {
            std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        }
    })
}

#[test]
fn pmg_script_is_served_and_is_valid_bash() {
    let s = secured();
    let (code, path) = code_for(&s, "pmg1.lan");
    let sc = s.get(&path, &[]);
    assert_eq!(sc.status, 200, "{path}: {}", sc.body);
    assert_eq!(sc.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        sc.header("content-disposition"),
        Some("inline; filename=pulse-setup-pmg.sh")
    );
    assert_eq!(sc.header("cache-control"), Some("no-store"));
    let b = &sc.body;
    assert!(b.starts_with("#!/usr/bin/env bash"));
    assert!(b.contains("NODE_URL='https://pmg1.lan:8006'"), "{b}");
    assert!(b.contains("USER_ID='pulse-monitor@pmg'"));
    assert!(b.contains("pmgsh create /access/users --userid \"$USER_ID\" --role audit"));
    assert!(b.contains("pmgsh set \"/access/users/$USER_ID\" --role audit --enable 1 --password"));
    assert!(b.contains("pmgsh delete \"/access/users/$USER_ID\""));
    assert!(b.contains("register pmg \"$USER_ID\" \"$PASSWORD\""));
    assert!(b.contains("/api/auto-register"));
    assert!(!b.contains("proxmox-backup-manager"), "not the PBS script");
    assert!(!b.contains(&code), "the code is not in the script");
    // Without a host the placeholder names a PMG.
    let plain = s.get("/api/setup-script?type=pmg", &[]);
    assert!(plain.body.contains("https://YOUR_PMG_HOST:8006"));

    // Every served script parses as bash (syntax only, nothing runs).
    for t in ["pve", "pbs", "pmg"] {
        let r = s.get(&format!("/api/setup-script?type={t}"), &[]);
        assert_eq!(r.status, 200);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.sh");
        std::fs::write(&f, &r.body).unwrap();
        let out = Command::new("bash").arg("-n").arg(&f).output().unwrap();
        assert!(
            out.status.success(),
            "{t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // An unknown or missing type is refused, naming the field (the reference served the PBS
    // script for any type but pve).
    for q in ["?type=pmgx", "?type=vmware", "", "?type="] {
        let r = s.get(&format!("/api/setup-script{q}"), &[]);
        assert_eq!(r.status, 400, "{q}");
        assert!(r.body.contains("type"), "{q}: {}", r.body);
    }
}

#[test]
fn pmg_script_registers_rotates_and_removes() {
    let s = secured();
    let host_dir = tempfile::tempdir().unwrap();
    let bin = fake_pmg(host_dir.path());

    // Not a PMG host: refuses before touching anything.
    let (code, path) = code_for(&s, "pmg1.lan");
    let script = s.get(&path, &[]).body;
    std::fs::remove_file(bin.join("pmgversion")).unwrap();
    let (ok, out) = run(&script, &bin, &code, &[]);
    assert!(!ok && out.contains("Proxmox Mail Gateway"), "{out}");
    assert!(!host_dir.path().join("pmgsh.log").exists());
    std::fs::write(bin.join("pmgversion"), "#!/bin/sh\necho pmg/8.1.2\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        bin.join("pmgversion"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    // First run: creates the user with role audit and registers it.
    let (ok, out) = run(&script, &bin, &code, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("Created pulse-monitor@pmg"), "{out}");
    assert!(out.contains("Registered with Pulse"), "{out}");
    let pw1 = last_password(host_dir.path());
    assert_eq!(pw1.len(), 32, "{pw1}"); // PMG's maximum
    assert!(pw1.bytes().all(|b| b.is_ascii_hexdigit()));
    let log = std::fs::read_to_string(host_dir.path().join("pmgsh.log")).unwrap();
    assert!(
        log.contains("create /access/users --userid pulse-monitor@pmg --role audit --enable 1")
    );

    let (body, nodes) = pmg_nodes(&s);
    assert_eq!(nodes.len(), 1, "{body}");
    let n = &nodes[0];
    assert_eq!(n["host"], "https://pmg1.lan:8006");
    assert_eq!(n["name"], "pmg1");
    assert_eq!(n["user"], "pulse-monitor@pmg");
    assert_eq!(n["hasPassword"], true);
    assert_eq!(n["hasToken"], false);
    assert!(!body.contains(&pw1), "password masked in the node list");
    assert!(!found_in_files(&s.dir, &pw1), "sealed at rest, not logged");

    // Re-run: the user exists, so its password is replaced; still one node, new secret.
    let (code2, path2) = code_for(&s, "pmg1.lan");
    let script2 = s.get(&path2, &[]).body;
    let (ok, out) = run(&script2, &bin, &code2, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("Updated pulse-monitor@pmg"), "{out}");
    let pw2 = last_password(host_dir.path());
    assert_ne!(pw1, pw2);
    let log = std::fs::read_to_string(host_dir.path().join("pmgsh.log")).unwrap();
    assert_eq!(log.matches("create /access/users").count(), 1);
    assert!(log.contains("set /access/users/pulse-monitor@pmg --role audit --enable 1 --password"));
    let (body, nodes) = pmg_nodes(&s);
    assert_eq!(nodes.len(), 1, "{body}");
    assert!(!body.contains(&pw2));
    assert!(!found_in_files(&s.dir, &pw2));

    // A spent code is refused: the script says so and fails.
    let (ok, out) = run(&script2, &bin, &code2, &[]);
    assert!(!ok && out.contains("Registration failed"), "{out}");

    // Remove.
    let (ok, out) = run(&script2, &bin, "", &["remove"]);
    assert!(ok, "{out}");
    assert!(out.contains("Removed pulse-monitor@pmg"), "{out}");
    let log = std::fs::read_to_string(host_dir.path().join("pmgsh.log")).unwrap();
    assert!(log.contains("delete /access/users/pulse-monitor@pmg"));
}

#[test]
fn pmg_auto_register_refuses_bad_data_and_stores_nothing() {
    let s = secured();
    let (code, _) = code_for(&s, "pmg2.lan");
    // A client address per request: auto-register is rate limited per address.
    let n = std::cell::Cell::new(0u8);
    let post = |body: serde_json::Value| {
        n.set(n.get() + 1);
        s.post(
            "/api/auto-register",
            &[("X-Forwarded-For", &format!("203.0.113.{}", n.get()))],
            &body.to_string(),
        )
    };
    let good = json!({"type": "pmg", "host": "pmg2.lan", "serverName": "pmg2",
        "user": "pulse-monitor@pmg", "password": "0123456789abcdef", "authToken": code});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases = [
        (without("password"), 400, "password"),
        (with("password", json!("")), 400, "password"),
        (with("password", json!("a\nb")), 400, "password"),
        (with("password", json!("x".repeat(300))), 400, "password"),
        (without("user"), 400, "user"),
        (with("user", json!("no-realm")), 400, "user"),
        (with("user", json!("a b@pmg")), 400, "user"),
        (with("host", json!("https://pmg2.lan/x;rm")), 400, "host"),
        (with("host", json!("")), 400, "host"),
        (with("type", json!("mail")), 400, "type"),
        (with("authToken", json!("0".repeat(32))), 401, "setup code"),
        (without("authToken"), 401, "authentication"),
        // A code made for this host does not register another one.
        (with("host", json!("pmg3.lan")), 401, "another node"),
    ];
    for (body, status, word) in cases {
        let r = post(body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(word), "{body}: {}", r.body);
        assert!(
            !r.body.contains("0123456789abcdef"),
            "no echo of the secret"
        );
    }
    let (_, nodes) = pmg_nodes(&s);
    assert!(nodes.is_empty(), "{nodes:?}");
    // A PMG code does not register a PVE node.
    let r = post(
        json!({"type": "pve", "host": "pmg2.lan", "tokenId": "a@pam!t",
        "tokenValue": "v", "authToken": code}),
    );
    assert_eq!(r.status, 401, "{}", r.body);

    // None of that spent the code: the good body registers with it, the user given under
    // the reference's field name `username`.
    let mut b = without("user");
    b["username"] = json!("pulse-monitor@pmg");
    b["authToken"] = json!(code);
    let r = post(b);
    assert_eq!(r.status, 200, "{}", r.body);
    let (body, nodes) = pmg_nodes(&s);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["user"], "pulse-monitor@pmg");
    assert!(!body.contains("0123456789abcdef"));
    assert!(!s.log().contains("0123456789abcdef"), "password not logged");
}
