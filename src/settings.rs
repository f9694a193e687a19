//! Settings: built-in defaults < persisted settings (redb `settings/system`) < environment <
//! command-line flags. Every bad value is reported with its name; nothing here panics.

pub mod system;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub const DEFAULT_PORT: u16 = 7655;
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
pub use system::SystemSettings;

/// Where environment values come from (the process, or a map in tests).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Flags of `pulse serve`; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct ServeFlags {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// A bad value, named as the user wrote it (`FRONTEND_PORT`, `--listen`, `logLevel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

pub(crate) fn bad(name: &str, message: impl Into<String>) -> SettingError {
    SettingError {
        name: name.into(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Console,
    /// Console on a terminal, JSON otherwise (journald, docker logs).
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// An origin for CSP `frame-ancestors`: scheme://host[:port], no path, no spaces or quotes
/// (anything else could inject directives into the header).
pub(crate) fn valid_origin(o: &str) -> bool {
    let Some(rest) = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '*'))
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
    pub tls: Option<TlsFiles>,
    pub max_body_bytes: usize,
    /// How and how often instances are polled (applied live when settings change).
    pub polling: Polling,
    pub allow_embedding: bool,
    pub allowed_embed_origins: Vec<String>,
    /// Origins allowed to call the API from a browser (CORS), or `*`: `ALLOWED_ORIGINS`
    /// when set, else the persisted `allowedOrigins`.
    pub allowed_origins: Vec<String>,
    /// Names of persisted keys that the environment currently overrides.
    pub env_overrides: Vec<&'static str>,
    pub security: SecurityEnv,
}

/// Polling settings, resolved from persisted settings and the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Polling {
    /// Poll intervals (ms) of PVE, PBS and PMG instances.
    pub intervals_ms: [i64; 3],
    /// Adaptive intervals (ms): base, min, max; `None` = fixed intervals.
    pub adaptive: Option<[i64; 3]>,
    /// Whole-request timeout of every Proxmox call.
    pub connection_timeout: std::time::Duration,
    pub backup_enabled: bool,
    /// 0 = refresh backups every `backup_cycles` polls.
    pub backup_interval_ms: i64,
    pub backup_cycles: u32,
    pub temperature_monitoring: bool,
    /// How long a Proxmox host name's addresses are reused (`proxmox::resolver`).
    pub dns_cache_ttl: std::time::Duration,
}

impl Polling {
    /// Polls between backup refreshes for an instance polled every `interval_ms`.
    pub fn backup_cycles_for(&self, interval_ms: i64) -> u32 {
        if self.backup_interval_ms > 0 {
            let n = (self.backup_interval_ms + interval_ms - 1) / interval_ms.max(1);
            n.clamp(1, u32::MAX as i64) as u32
        } else {
            self.backup_cycles.max(1)
        }
    }
}

/// A secret from the environment: compared and used, never printed (`Debug` is redacted,
/// so a logged `Settings` cannot leak it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reverse-proxy authentication (`PROXY_AUTH_*`): the proxy proves itself with a shared
/// secret header and names the user (and roles) in headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAuthEnv {
    pub secret: Secret,
    pub user_header: Option<String>,
    pub role_header: Option<String>,
    pub role_separator: String,
    pub admin_role: String,
    pub logout_url: Option<String>,
}

/// Security settings, all from the environment (spec/security.md §2, §4.2, §7.2, §12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityEnv {
    pub auth_user: Option<String>,
    /// Plain text or a bcrypt hash (`$2a$`/`$2b$`/`$2y$`, 60 chars).
    pub auth_pass: Option<Secret>,
    /// `API_TOKENS` (comma list) then `API_TOKEN`, de-duplicated.
    pub api_tokens: Vec<Secret>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub proxy_auth: Option<ProxyAuthEnv>,
    pub audit_log: bool,
    pub allow_unprotected_export: bool,
    pub public_url: Option<String>,
    /// `PULSE_DOCKER=true`: only changes wording and the bootstrap-token hints.
    pub docker: bool,
    /// `ALLOWED_ORIGINS` as parsed; what applies is `Settings::allowed_origins`.
    pub allowed_origins: Vec<String>,
}

/// Parses a comma list of CIDRs or bare IPs (a bare IP is a /32 or /128).
pub fn parse_cidrs(v: &str) -> Result<Vec<ipnet::IpNet>, String> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Ok(net) = part.parse::<ipnet::IpNet>() {
            out.push(net.trunc());
        } else if let Ok(ip) = part.trim_matches(['[', ']']).parse::<IpAddr>() {
            out.push(ipnet::IpNet::from(ip));
        } else {
            return Err(format!("{part:?} is not a CIDR (10.0.0.0/8) or IP address"));
        }
    }
    Ok(out)
}

fn http_url_ok(v: &str) -> bool {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !r
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '\'')
    })
}

fn resolve_security(env: &dyn Env, errs: &mut Vec<SettingError>) -> SecurityEnv {
    let mut sec = SecurityEnv {
        auth_user: env.var("PULSE_AUTH_USER").map(|u| u.trim().to_string()),
        ..Default::default()
    };
    if let Some(p) = env.var("PULSE_AUTH_PASS") {
        // A value that starts like a bcrypt hash but has the wrong length is almost always
        // a hash whose `$` parts the shell expanded away: refuse it rather than treat it as
        // a plain-text password nobody can type.
        if p.starts_with("$2") && !crate::auth::password::is_bcrypt_hash(&p) {
            errs.push(bad(
                "PULSE_AUTH_PASS",
                "looks like a damaged bcrypt hash (60 chars expected); quote it in single quotes so the shell keeps the $ signs",
            ));
        } else {
            sec.auth_pass = Some(Secret(p));
        }
    }
    if let Some(u) = &sec.auth_user
        && (u.is_empty() || u.len() > 128 || u.chars().any(char::is_control))
    {
        errs.push(bad(
            "PULSE_AUTH_USER",
            "must be 1-128 characters without control characters",
        ));
    }
    match (&sec.auth_user, &sec.auth_pass) {
        (Some(_), None) if !errs.iter().any(|e| e.name == "PULSE_AUTH_PASS") => errs.push(bad(
            "PULSE_AUTH_PASS",
            "required when PULSE_AUTH_USER is set",
        )),
        (None, Some(_)) => errs.push(bad(
            "PULSE_AUTH_USER",
            "required when PULSE_AUTH_PASS is set",
        )),
        _ => {}
    }
    let mut tokens: Vec<Secret> = Vec::new();
    for name in ["API_TOKENS", "API_TOKEN"] {
        if let Some(v) = env.var(name) {
            for t in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if t.len() > 512 || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    errs.push(bad(name, "tokens must be at most 512 characters without spaces or control characters"));
                } else if !tokens.iter().any(|x| x.0 == t) {
                    tokens.push(Secret(t.to_string()));
                }
            }
        }
    }
    sec.api_tokens = tokens;
    if let Some(v) = env.var("PULSE_TRUSTED_PROXY_CIDRS") {
        match parse_cidrs(&v) {
            Ok(n) => sec.trusted_proxies = n,
            Err(m) => errs.push(bad("PULSE_TRUSTED_PROXY_CIDRS", m)),
        }
    }
    if let Some(secret) = env.var("PROXY_AUTH_SECRET") {
        if secret.len() < 16 {
            errs.push(bad(
                "PROXY_AUTH_SECRET",
                "must be at least 16 characters (it is the only proof a request came through your proxy)",
            ));
        }
        let header_name = |name: &str, errs: &mut Vec<SettingError>| {
            env.var(name).and_then(|h| {
                let h = h.trim().to_ascii_lowercase();
                if warp::http::HeaderName::from_bytes(h.as_bytes()).is_ok() {
                    Some(h)
                } else {
                    errs.push(bad(name, "not a valid HTTP header name"));
                    None
                }
            })
        };
        let user_header = header_name("PROXY_AUTH_USER_HEADER", errs);
        let role_header = header_name("PROXY_AUTH_ROLE_HEADER", errs);
        let logout_url = env.var("PROXY_AUTH_LOGOUT_URL");
        if let Some(u) = &logout_url
            && !u.starts_with('/')
            && !http_url_ok(u)
        {
            errs.push(bad(
                "PROXY_AUTH_LOGOUT_URL",
                "must be an http(s) URL or a path",
            ));
        }
        sec.proxy_auth = Some(ProxyAuthEnv {
            secret: Secret(secret),
            user_header,
            role_header,
            role_separator: env
                .var("PROXY_AUTH_ROLE_SEPARATOR")
                .unwrap_or_else(|| "|".into()),
            admin_role: env
                .var("PROXY_AUTH_ADMIN_ROLE")
                .unwrap_or_else(|| "admin".into()),
            logout_url,
        });
    }
    for (name, slot) in [
        ("PULSE_AUDIT_LOG", &mut sec.audit_log),
        (
            "ALLOW_UNPROTECTED_EXPORT",
            &mut sec.allow_unprotected_export,
        ),
        ("PULSE_DOCKER", &mut sec.docker),
    ] {
        if let Some(v) = env.var(name) {
            match parse_bool(name, &v) {
                Ok(b) => *slot = b,
                Err(e) => errs.push(e),
            }
        }
    }
    if let Some(v) = env.var("ALLOWED_ORIGINS") {
        for o in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if o == "*" || valid_origin(o) {
                sec.allowed_origins
                    .push(o.trim_end_matches('/').to_string());
            } else {
                errs.push(bad(
                    "ALLOWED_ORIGINS",
                    format!("{o:?} is not an origin like https://host[:port] (or *)"),
                ));
            }
        }
    }
    if let Some(u) = env.var("PULSE_PUBLIC_URL") {
        let u = u.trim().trim_end_matches('/').to_string();
        if http_url_ok(&u) {
            sec.public_url = Some(u);
        } else {
            errs.push(bad("PULSE_PUBLIC_URL", "must be an http(s) URL"));
        }
    }
    sec
}

/// The data dir: `--data-dir` > `PULSE_DATA_DIR` > `/etc/pulse` if it is a writable dir >
/// `./data`. Resolved before anything else because the persisted layer lives in it.
pub fn data_dir(flags: &ServeFlags, env: &dyn Env) -> PathBuf {
    if let Some(d) = &flags.data_dir {
        return d.clone();
    }
    if let Some(d) = env.var("PULSE_DATA_DIR") {
        return PathBuf::from(d);
    }
    let etc = Path::new("/etc/pulse");
    if dir_is_writable(etc) {
        etc.to_path_buf()
    } else {
        PathBuf::from("./data")
    }
}

fn dir_is_writable(dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    let probe = dir.join(format!(".pulse-write-probe-{}", std::process::id()));
    let ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

fn parse_bool(name: &str, v: &str) -> Result<bool, SettingError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(bad(name, "not a boolean (true/false)")),
    }
}

fn parse_port(name: &str, v: &str) -> Result<u16, SettingError> {
    match v.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad(name, "not a port number")),
    }
}

/// Seconds, optionally with a unit (`90`, `90s`, `5m`, `1h`), as the reference's env
/// variables accept Go durations.
fn parse_secs(v: &str) -> Option<i64> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        (i, 'h') => (&v[..i], 3600),
        _ => (v, 1),
    };
    num.trim().parse::<i64>().ok()?.checked_mul(mult)
}

/// Polling: defaults < persisted settings < environment. Each env variable that is set
/// names the persisted key it overrides (the settings view shows them).
fn resolve_polling(
    env: &dyn Env,
    p: &SystemSettings,
    errs: &mut Vec<SettingError>,
    overrides: &mut Vec<&'static str>,
) -> Polling {
    use system::*;
    let mut secs_var = |name: &str, key: &'static str, lo: i64, hi: i64, slot: &mut i64| {
        if let Some(v) = env.var(name) {
            overrides.push(key);
            match parse_secs(&v) {
                Some(s) if (lo..=hi).contains(&s) => *slot = s,
                _ => errs.push(bad(
                    name,
                    format!("must be whole seconds from {lo} to {hi}"),
                )),
            }
        }
    };
    // Each product on its own interval (the reference polls all on the PVE one).
    let (lo, hi) = (*POLL_INTERVAL_SECS.start(), *POLL_INTERVAL_SECS.end());
    let mut iv = [
        p.pve_polling_interval.unwrap_or(DEFAULT_PVE_SECS),
        p.pbs_polling_interval.unwrap_or(DEFAULT_PBS_SECS),
        p.pmg_polling_interval.unwrap_or(DEFAULT_PMG_SECS),
    ];
    let [pve, pbs, pmg] = &mut iv;
    secs_var("PVE_POLLING_INTERVAL", "pvePollingInterval", lo, hi, pve);
    secs_var("PBS_POLLING_INTERVAL", "pbsPollingInterval", lo, hi, pbs);
    secs_var("PMG_POLLING_INTERVAL", "pmgPollingInterval", lo, hi, pmg);
    let mut timeout = p
        .connection_timeout
        .unwrap_or(DEFAULT_CONNECTION_TIMEOUT_SECS);
    secs_var(
        "CONNECTION_TIMEOUT",
        "connectionTimeout",
        1,
        600,
        &mut timeout,
    );
    let mut dns_cache = p
        .dns_cache_timeout
        .unwrap_or(crate::proxmox::resolver::DEFAULT_TTL.as_secs() as i64);
    secs_var(
        "DNS_CACHE_TIMEOUT",
        "dnsCacheTimeout",
        0,
        86_400,
        &mut dns_cache,
    );
    let mut adaptive = p.adaptive_secs();
    let [base, min, max] = &mut adaptive;
    secs_var(
        "ADAPTIVE_POLLING_BASE_INTERVAL",
        "adaptivePollingBaseInterval",
        lo,
        hi,
        base,
    );
    secs_var(
        "ADAPTIVE_POLLING_MIN_INTERVAL",
        "adaptivePollingMinInterval",
        lo,
        hi,
        min,
    );
    secs_var(
        "ADAPTIVE_POLLING_MAX_INTERVAL",
        "adaptivePollingMaxInterval",
        lo,
        hi,
        max,
    );
    let mut backup_interval = p.backup_polling_interval.unwrap_or(0);
    secs_var(
        "BACKUP_POLLING_INTERVAL",
        "backupPollingInterval",
        0,
        604_800,
        &mut backup_interval,
    );

    let mut bool_var = |name: &str, key: &'static str, slot: &mut bool| {
        if let Some(v) = env.var(name) {
            overrides.push(key);
            match parse_bool(name, &v) {
                Ok(b) => *slot = b,
                Err(e) => errs.push(e),
            }
        }
    };
    let mut adaptive_on = p.adaptive_polling_enabled.unwrap_or(false);
    bool_var(
        "ADAPTIVE_POLLING_ENABLED",
        "adaptivePollingEnabled",
        &mut adaptive_on,
    );
    let mut backup_enabled = p.backup_polling_enabled.unwrap_or(true);
    bool_var(
        "ENABLE_BACKUP_POLLING",
        "backupPollingEnabled",
        &mut backup_enabled,
    );
    let mut temperature = p.temperature_monitoring_enabled.unwrap_or(true);
    bool_var(
        "ENABLE_TEMPERATURE_MONITORING",
        "temperatureMonitoringEnabled",
        &mut temperature,
    );
    if adaptive_on && !(adaptive[1] <= adaptive[0] && adaptive[0] <= adaptive[2]) {
        errs.push(bad(
            "ADAPTIVE_POLLING_BASE_INTERVAL",
            "adaptive intervals must satisfy min <= base <= max",
        ));
    }
    let mut backup_cycles = 10;
    if let Some(v) = env.var("BACKUP_POLLING_CYCLES") {
        match v.trim().parse::<u32>() {
            Ok(n) if n >= 1 => backup_cycles = n,
            _ => errs.push(bad(
                "BACKUP_POLLING_CYCLES",
                "must be a whole number, at least 1",
            )),
        }
    }
    Polling {
        intervals_ms: iv.map(|s| s * 1000),
        adaptive: adaptive_on.then(|| adaptive.map(|s| s * 1000)),
        connection_timeout: std::time::Duration::from_secs(timeout as u64),
        backup_enabled,
        backup_interval_ms: backup_interval * 1000,
        backup_cycles,
        temperature_monitoring: temperature,
        dns_cache_ttl: std::time::Duration::from_secs(dns_cache as u64),
    }
}

/// Resolves everything but the data dir (already chosen) from the four layers.
/// Returns every bad value at once, so one run tells the user all that is wrong.
pub fn resolve(
    flags: &ServeFlags,
    env: &dyn Env,
    data_dir: PathBuf,
    persisted: &SystemSettings,
) -> Result<Settings, Vec<SettingError>> {
    let mut errs = Vec::new();
    let mut env_overrides = Vec::new();

    // Listen address: default 0.0.0.0:7655; env gives port and bind address; --listen both.
    let mut port = DEFAULT_PORT;
    for name in ["PORT", "FRONTEND_PORT"] {
        // FRONTEND_PORT is read last so it wins over the legacy PORT.
        if let Some(v) = env.var(name) {
            match parse_port(name, &v) {
                Ok(p) => port = p,
                Err(e) => errs.push(e),
            }
        }
    }
    let mut ip: IpAddr = Ipv4Addr::UNSPECIFIED.into();
    if let Some(v) = env.var("PULSE_BIND_ADDRESS") {
        match v.trim().trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(a) => ip = a,
            Err(_) => errs.push(bad("PULSE_BIND_ADDRESS", "not an IP address")),
        }
    }
    let mut listen = SocketAddr::new(ip, port);
    if let Some(l) = &flags.listen {
        match l.trim().parse::<SocketAddr>() {
            Ok(a) => listen = a,
            Err(_) => errs.push(bad(
                "--listen",
                "not an ADDR:PORT address (e.g. 127.0.0.1:7655)",
            )),
        }
    }

    for e in persisted.validate() {
        errs.push(SettingError {
            name: format!("persisted setting {}", e.name),
            message: e.message,
        });
    }
    let mut log_level = persisted
        .log_level
        .as_deref()
        .and_then(LogLevel::parse)
        .unwrap_or(LogLevel::Info);
    if let Some(v) = env.var("LOG_LEVEL") {
        env_overrides.push("logLevel");
        match LogLevel::parse(&v) {
            Some(l) => log_level = l,
            None => errs.push(bad(
                "LOG_LEVEL",
                "must be one of trace, debug, info, warn, error",
            )),
        }
    }
    let mut log_format = LogFormat::Auto;
    if let Some(v) = env.var("LOG_FORMAT") {
        match v.trim().to_ascii_lowercase().as_str() {
            "json" => log_format = LogFormat::Json,
            "console" | "text" => log_format = LogFormat::Console,
            "auto" => log_format = LogFormat::Auto,
            _ => errs.push(bad("LOG_FORMAT", "must be one of json, console, auto")),
        }
    }

    let mut tls = None;
    let https = match env
        .var("HTTPS_ENABLED")
        .map(|v| parse_bool("HTTPS_ENABLED", &v))
    {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            errs.push(e);
            false
        }
        None => false,
    };
    if https {
        let mut file = |name: &str| match env.var(name) {
            None => {
                errs.push(bad(name, "required when HTTPS_ENABLED=true"));
                None
            }
            Some(p) if !Path::new(&p).is_file() => {
                errs.push(bad(name, format!("{p}: no such file")));
                None
            }
            Some(p) => Some(PathBuf::from(p)),
        };
        let cert = file("TLS_CERT_FILE");
        let key = file("TLS_KEY_FILE");
        if let (Some(cert), Some(key)) = (cert, key) {
            tls = Some(TlsFiles { cert, key });
        }
    }

    let polling = resolve_polling(env, persisted, &mut errs, &mut env_overrides);
    if env.var("ALLOWED_ORIGINS").is_some() {
        env_overrides.push("allowedOrigins");
    }
    if env.var("DISCOVERY_ENABLED").is_some() {
        env_overrides.push("discoveryEnabled");
    }

    let mut max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    if let Some(v) = env.var("PULSE_MAX_BODY_BYTES") {
        match v.trim().parse::<usize>() {
            Ok(n) if n >= 1024 => max_body_bytes = n,
            _ => errs.push(bad(
                "PULSE_MAX_BODY_BYTES",
                "must be a whole number of bytes, at least 1024",
            )),
        }
    }

    let allowed_embed_origins = comma_list(persisted.allowed_embed_origins.as_deref());

    let security = resolve_security(env, &mut errs);
    // CORS origins: `ALLOWED_ORIGINS` when set (already checked there), else the persisted
    // `allowedOrigins` (checked by `SystemSettings::validate`), so a settings write applies
    // without a restart.
    let allowed_origins = if env.var("ALLOWED_ORIGINS").is_some() {
        security.allowed_origins.clone()
    } else {
        comma_list(persisted.allowed_origins.as_deref())
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_string())
            .collect()
    };

    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Settings {
        listen,
        data_dir,
        log_level,
        log_format,
        tls,
        max_body_bytes,
        polling,
        allow_embedding: persisted.allow_embedding,
        allowed_embed_origins,
        allowed_origins,
        env_overrides,
        security,
    })
}

/// The non-empty, trimmed items of a persisted comma list.
fn comma_list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        env: &[(&'static str, &'static str)],
        flags: ServeFlags,
    ) -> Result<Settings, Vec<SettingError>> {
        let env: HashMap<&str, &str> = env.iter().copied().collect();
        resolve(
            &flags,
            &env,
            PathBuf::from("/tmp/x"),
            &SystemSettings::default(),
        )
    }

    #[test]
    fn defaults() {
        let s = run(&[], ServeFlags::default()).unwrap();
        assert_eq!(s.listen, "0.0.0.0:7655".parse().unwrap());
        assert_eq!(s.log_level, LogLevel::Info);
        assert_eq!(s.max_body_bytes, 1 << 20);
        assert!(s.tls.is_none());
    }

    #[test]
    fn env_then_flags_win() {
        let s = run(
            &[
                ("PORT", "8000"),
                ("FRONTEND_PORT", "9000"),
                ("PULSE_BIND_ADDRESS", "127.0.0.1"),
            ],
            ServeFlags::default(),
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:9000".parse().unwrap());
        let s = run(&[("PORT", "8000")], ServeFlags::default()).unwrap();
        assert_eq!(s.listen.port(), 8000);
        let flags = ServeFlags {
            listen: Some("[::1]:1234".into()),
            ..Default::default()
        };
        let s = run(&[("FRONTEND_PORT", "9000")], flags).unwrap();
        assert_eq!(s.listen, "[::1]:1234".parse().unwrap());
    }

    #[test]
    fn every_bad_value_is_named() {
        let flags = ServeFlags {
            listen: Some("nonsense".into()),
            ..Default::default()
        };
        let errs = run(
            &[
                ("FRONTEND_PORT", "abc"),
                ("PORT", "70000"),
                ("LOG_LEVEL", "loud"),
                ("LOG_FORMAT", "xml"),
                ("HTTPS_ENABLED", "true"),
                ("TLS_KEY_FILE", "/definitely/not/here.pem"),
                ("PULSE_BIND_ADDRESS", "host.example"),
                ("PULSE_MAX_BODY_BYTES", "-1"),
            ],
            flags,
        )
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for want in [
            "FRONTEND_PORT: not a port number",
            "PORT: not a port number",
            "LOG_LEVEL:",
            "LOG_FORMAT:",
            "TLS_CERT_FILE: required when HTTPS_ENABLED=true",
            "TLS_KEY_FILE: /definitely/not/here.pem: no such file",
            "PULSE_BIND_ADDRESS: not an IP address",
            "PULSE_MAX_BODY_BYTES:",
            "--listen:",
        ] {
            assert!(
                text.iter().any(|t| t.starts_with(want)),
                "missing {want:?} in {text:?}"
            );
        }
    }

    #[test]
    fn persisted_layer_sits_under_env() {
        let env: HashMap<&str, &str> = HashMap::new();
        let persisted = SystemSettings {
            log_level: Some("debug".into()),
            allow_embedding: true,
            allowed_embed_origins: Some("https://a.example, https://b.example:8443".into()),
            ..Default::default()
        };
        let s = resolve(&ServeFlags::default(), &env, "/x".into(), &persisted).unwrap();
        assert_eq!(s.log_level, LogLevel::Debug);
        assert_eq!(
            s.allowed_embed_origins,
            vec!["https://a.example", "https://b.example:8443"]
        );
        let env: HashMap<&str, &str> = [("LOG_LEVEL", "error")].into_iter().collect();
        let s = resolve(&ServeFlags::default(), &env, "/x".into(), &persisted).unwrap();
        assert_eq!(s.log_level, LogLevel::Error);
        assert_eq!(s.env_overrides, vec!["logLevel"]);
    }

    #[test]
    fn allowed_origins_persisted_unless_env_set() {
        let persisted = SystemSettings {
            allowed_origins: Some(" https://a.example , ,https://b.example:8443".into()),
            ..Default::default()
        };
        let none: HashMap<&str, &str> = HashMap::new();
        let s = resolve(&ServeFlags::default(), &none, "/x".into(), &persisted).unwrap();
        assert_eq!(
            s.allowed_origins,
            vec!["https://a.example", "https://b.example:8443"]
        );
        assert!(s.env_overrides.is_empty());
        let env: HashMap<&str, &str> = [("ALLOWED_ORIGINS", "https://env.example")]
            .into_iter()
            .collect();
        let s = resolve(&ServeFlags::default(), &env, "/x".into(), &persisted).unwrap();
        assert_eq!(s.allowed_origins, vec!["https://env.example"]);
        assert_eq!(s.env_overrides, vec!["allowedOrigins"]);
        // An empty variable is "not set": the persisted list applies.
        let empty: HashMap<&str, &str> = [("ALLOWED_ORIGINS", "")].into_iter().collect();
        let s = resolve(&ServeFlags::default(), &empty, "/x".into(), &persisted).unwrap();
        assert_eq!(s.allowed_origins.len(), 2);
        let s = resolve(
            &ServeFlags::default(),
            &none,
            "/x".into(),
            &SystemSettings::default(),
        )
        .unwrap();
        assert!(s.allowed_origins.is_empty());
    }

    #[test]
    fn security_env_parses_and_names_bad_values() {
        let s = run(
            &[
                ("PULSE_AUTH_USER", "admin"),
                ("PULSE_AUTH_PASS", "correct horse battery"),
                ("API_TOKENS", "tok-a, tok-b,,tok-a"),
                ("API_TOKEN", "tok-c"),
                ("PULSE_TRUSTED_PROXY_CIDRS", "10.0.0.0/8, 192.168.1.7"),
                ("PROXY_AUTH_SECRET", "0123456789abcdef0123"),
                ("PROXY_AUTH_USER_HEADER", "X-Remote-User"),
            ],
            ServeFlags::default(),
        )
        .unwrap();
        let sec = &s.security;
        assert_eq!(sec.auth_user.as_deref(), Some("admin"));
        let toks: Vec<&str> = sec.api_tokens.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(toks, ["tok-a", "tok-b", "tok-c"]);
        assert_eq!(sec.trusted_proxies.len(), 2);
        let proxy = sec.proxy_auth.as_ref().unwrap();
        assert_eq!(proxy.user_header.as_deref(), Some("x-remote-user"));
        assert_eq!(proxy.admin_role, "admin");
        assert!(
            !format!("{s:?}").contains("correct horse"),
            "Debug must redact"
        );

        let errs = run(
            &[
                ("PULSE_AUTH_USER", "admin"),
                ("PULSE_AUTH_PASS", "$2a$12$truncated"),
                ("PULSE_TRUSTED_PROXY_CIDRS", "10.0.0.0/8, not-a-net"),
                ("PROXY_AUTH_SECRET", "short"),
                ("PULSE_AUDIT_LOG", "maybe"),
                ("PULSE_PUBLIC_URL", "ftp://x"),
                ("ALLOWED_ORIGINS", "https://ok.example, bad origin"),
            ],
            ServeFlags::default(),
        )
        .unwrap_err();
        let names: Vec<&str> = errs.iter().map(|e| e.name.as_str()).collect();
        for want in [
            "PULSE_AUTH_PASS",
            "PULSE_TRUSTED_PROXY_CIDRS",
            "PROXY_AUTH_SECRET",
            "PULSE_AUDIT_LOG",
            "PULSE_PUBLIC_URL",
            "ALLOWED_ORIGINS",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let errs = run(&[("PULSE_AUTH_PASS", "x")], ServeFlags::default()).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "PULSE_AUTH_USER: required when PULSE_AUTH_PASS is set"
        );
    }

    #[test]
    fn polling_layers_and_env_names() {
        let persisted = SystemSettings {
            pve_polling_interval: Some(20),
            pmg_polling_interval: Some(120),
            adaptive_polling_enabled: Some(true),
            backup_polling_interval: Some(60),
            ..Default::default()
        };
        let env: HashMap<&str, &str> = [
            ("PVE_POLLING_INTERVAL", "5s"),
            ("CONNECTION_TIMEOUT", "2m"),
            ("ADAPTIVE_POLLING_MAX_INTERVAL", "10m"),
        ]
        .into_iter()
        .collect();
        let s = resolve(&ServeFlags::default(), &env, "/x".into(), &persisted).unwrap();
        let p = &s.polling;
        assert_eq!(p.intervals_ms, [5_000, 60_000, 120_000]);
        assert_eq!(p.connection_timeout, std::time::Duration::from_secs(120));
        assert_eq!(p.adaptive, Some([10_000, 5_000, 600_000]));
        assert!(p.backup_enabled && p.temperature_monitoring);
        // A 60 s backup interval at a 5 s poll interval: every 12th poll.
        assert_eq!(p.backup_cycles_for(p.intervals_ms[0]), 12);
        for k in [
            "pvePollingInterval",
            "connectionTimeout",
            "adaptivePollingMaxInterval",
        ] {
            assert!(s.env_overrides.contains(&k), "{k}");
        }
        assert!(!s.env_overrides.contains(&"pmgPollingInterval"));

        let bad: HashMap<&str, &str> = [
            ("PBS_POLLING_INTERVAL", "0"),
            ("CONNECTION_TIMEOUT", "soon"),
            ("ENABLE_BACKUP_POLLING", "perhaps"),
            ("BACKUP_POLLING_CYCLES", "0"),
        ]
        .into_iter()
        .collect();
        let errs = resolve(&ServeFlags::default(), &bad, "/x".into(), &persisted).unwrap_err();
        let names: Vec<&str> = errs.iter().map(|e| e.name.as_str()).collect();
        for want in [
            "PBS_POLLING_INTERVAL",
            "CONNECTION_TIMEOUT",
            "ENABLE_BACKUP_POLLING",
            "BACKUP_POLLING_CYCLES",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
    }

    /// `CONNECTION_TIMEOUT` is read here only (the pollers take `Polling::connection_timeout`):
    /// whole seconds or with a unit, 1 s to 600 s, anything else a named error.
    #[test]
    fn connection_timeout_env_bounds() {
        let timeout = |v: &'static str| {
            let env: HashMap<&str, &str> = [("CONNECTION_TIMEOUT", v)].into_iter().collect();
            resolve(
                &ServeFlags::default(),
                &env,
                "/x".into(),
                &SystemSettings::default(),
            )
            .map(|s| s.polling.connection_timeout.as_secs())
            .map_err(|e| e[0].name.clone())
        };
        for (v, secs) in [("1", 1), (" 600 ", 600), ("30s", 30), ("2m", 120)] {
            assert_eq!(timeout(v), Ok(secs), "{v}");
        }
        for v in ["0", "601", "-1", "1.5", "11m", "abc"] {
            assert_eq!(timeout(v), Err("CONNECTION_TIMEOUT".into()), "{v}");
        }
        // Unset (or empty): the Proxmox client's default.
        assert_eq!(
            timeout(""),
            Ok(crate::proxmox::http::DEFAULT_TIMEOUT.as_secs())
        );
    }

    /// The DNS cache TTL: the stored setting, overridden by `DNS_CACHE_TIMEOUT`; 0 is allowed
    /// (no caching), out-of-range or malformed values are named errors.
    #[test]
    fn dns_cache_ttl_from_setting_and_env() {
        let ttl = |env_value: Option<&'static str>, stored: Option<i64>| {
            let env: HashMap<&str, &str> = env_value
                .map(|v| ("DNS_CACHE_TIMEOUT", v))
                .into_iter()
                .collect();
            let sys = SystemSettings {
                dns_cache_timeout: stored,
                ..Default::default()
            };
            resolve(&ServeFlags::default(), &env, "/x".into(), &sys)
                .map(|s| s.polling.dns_cache_ttl.as_secs())
                .map_err(|e| e[0].name.clone())
        };
        assert_eq!(ttl(None, None), Ok(300));
        assert_eq!(ttl(None, Some(60)), Ok(60));
        assert_eq!(ttl(Some("0"), Some(60)), Ok(0));
        assert_eq!(ttl(Some("10m"), None), Ok(600));
        for v in ["-1", "86401", "soon"] {
            assert_eq!(ttl(Some(v), None), Err("DNS_CACHE_TIMEOUT".into()), "{v}");
        }
    }

    #[test]
    fn header_injection_via_origins_is_refused() {
        let p = SystemSettings {
            allowed_embed_origins: Some("https://ok.example, https://x; script-src *".into()),
            ..Default::default()
        };
        assert_eq!(p.validate().len(), 1);
    }

    #[test]
    fn data_dir_precedence() {
        let env: HashMap<&str, &str> = [("PULSE_DATA_DIR", "/from/env")].into_iter().collect();
        assert_eq!(
            data_dir(&ServeFlags::default(), &env),
            PathBuf::from("/from/env")
        );
        let flags = ServeFlags {
            data_dir: Some("/from/flag".into()),
            ..Default::default()
        };
        assert_eq!(data_dir(&flags, &env), PathBuf::from("/from/flag"));
    }
}
