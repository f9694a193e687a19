//! Apprise delivery (spec §4): the `apprise` CLI with a timeout, or an Apprise API server
//! (`POST <server>/notify[/<key>]`) behind the same URL guard as webhooks.

use super::config::AppriseConfig;
use ipnet::IpNet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Sends one message; returns the payload size in bytes.
pub fn send(
    c: &AppriseConfig,
    title: &str,
    body: &str,
    notify_type: &str,
    allow: &[IpNet],
) -> Result<u64, String> {
    let timeout = Duration::from_secs(c.timeout_seconds.clamp(5, 120) as u64);
    if c.mode == "http" {
        send_http(c, title, body, notify_type, allow, timeout)
    } else {
        send_cli(c, title, body, timeout)
    }
}

fn send_cli(c: &AppriseConfig, title: &str, body: &str, timeout: Duration) -> Result<u64, String> {
    if c.targets.is_empty() {
        return Err("Apprise CLI mode needs at least one target URL".into());
    }
    let mut cmd = Command::new(&c.cli_path);
    cmd.arg("-t")
        .arg(title)
        .arg("-b")
        .arg(body)
        .args(&c.targets)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", c.cli_path))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("apprise timed out after {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    if !status.success() {
        let out: String = out.trim().chars().take(500).collect();
        return Err(format!("apprise exited with {status}: {out}"));
    }
    Ok((title.len() + body.len()) as u64)
}

fn send_http(
    c: &AppriseConfig,
    title: &str,
    body: &str,
    notify_type: &str,
    allow: &[IpNet],
    timeout: Duration,
) -> Result<u64, String> {
    if c.server_url.is_empty() {
        return Err("Apprise API mode needs a server URL".into());
    }
    let url = if c.config_key.is_empty() {
        format!("{}/notify", c.server_url)
    } else {
        let key: String = percent_encoding::utf8_percent_encode(
            &c.config_key,
            percent_encoding::NON_ALPHANUMERIC,
        )
        .collect();
        format!("{}/notify/{key}", c.server_url)
    };
    let mut payload = serde_json::json!({"body": body, "title": title, "type": notify_type});
    if !c.targets.is_empty() {
        payload["urls"] = c.targets.clone().into();
    }
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Accept".to_string(), "application/json".to_string()),
    ];
    if !c.api_key.is_empty() {
        headers.push((c.api_key_header.clone(), c.api_key.clone()));
    }
    if c.skip_tls_verify && url.starts_with("https://") {
        return send_insecure(&url, &headers, &bytes, allow, timeout);
    }
    super::webhook::send("POST", &url, &headers, &bytes, allow, timeout)
        .map(|_| bytes.len() as u64)
        .map_err(|e| e.message.replace("webhook", "Apprise API"))
}

/// `skipTlsVerify`: one request without certificate checks (no redirects followed).
fn send_insecure(
    url: &str,
    headers: &[(String, String)],
    bytes: &[u8],
    allow: &[IpNet],
    timeout: Duration,
) -> Result<u64, String> {
    super::ssrf::check(url, allow).map_err(|e| format!("Apprise URL refused: {e}"))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .build()
        .into();
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let mut resp = req
        .send(bytes)
        .map_err(|e| format!("Apprise API request failed: {e}"))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(bytes.len() as u64)
    } else {
        let t = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        Err(format!("Apprise API returned HTTP {status}: {}", t.trim()))
    }
}
