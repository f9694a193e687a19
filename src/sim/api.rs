//! What the product route handlers share: the request as they see it, errors shaped the way
//! Proxmox sends them (message in the HTTP status line, `{"data":null}` body, parameter errors
//! under `errors`), and parameter parsing with Proxmox-style messages.

use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// Proxmox puts the message in the HTTP reason phrase, not the body.
    pub reason: String,
    /// Parameter errors: `{"param": "message"}` next to `"data": null` (HTTP 400).
    pub errors: Option<Value>,
}

impl ApiError {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            errors: None,
        }
    }
    pub fn param(name: &str, msg: impl Into<String>) -> Self {
        Self {
            status: 400,
            reason: "Parameter verification failed.".into(),
            errors: Some(json!({ name: msg.into() })),
        }
    }
    pub fn not_implemented(method: &str, path: &str) -> Self {
        Self::new(501, format!("Method '{method} {path}' not implemented"))
    }
    pub fn forbidden() -> Self {
        Self::new(403, "Permission check failed")
    }
    pub fn body(&self) -> Value {
        match &self.errors {
            Some(e) => json!({"data": null, "errors": e}),
            None => json!({"data": null}),
        }
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// Key marking a result that carries envelope members next to `data` (task lists send
/// `"total"`). Not valid in any real answer, so it cannot collide.
pub const ENVELOPE: &str = "\u{1}envelope";

/// Key marking a result whose `data` is already serialised JSON (the big lists, built without
/// an intermediate `Value` tree so `/cluster/resources` stays fast at 10,000 guests).
pub const RAW: &str = "\u{1}raw";

pub fn raw(json: String) -> Value {
    json!({ RAW: json })
}

/// For in-process consumers (truth side channel, tests): the plain `data` value of a result.
pub fn materialize(v: Value) -> Value {
    if let Some(s) = v.get(RAW).and_then(Value::as_str) {
        return serde_json::from_str(s).unwrap_or(Value::Null);
    }
    if let Some(env) = v.get(ENVELOPE) {
        return env["data"].clone();
    }
    v
}

/// `{"data": data, "total": total}` as the task lists send it.
pub fn with_total(data: Value, total: usize) -> Value {
    json!({ ENVELOPE: {"data": data, "total": total} })
}

/// Who is asking, after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Ticket { user: String },
    Token { id: String, limited: bool },
}

impl Principal {
    /// A token holding only audit rights on nodes (no VM.Audit, no Datastore.Audit).
    pub fn limited(&self) -> bool {
        matches!(self, Principal::Token { limited: true, .. })
    }
}

#[derive(Debug)]
pub struct Req<'a> {
    pub method: &'a str,
    /// Path below `/api2/json`, percent-decoded, split on `/`.
    pub segs: Vec<String>,
    pub query: HashMap<String, String>,
    pub now_ms: i64,
    pub principal: &'a Principal,
}

impl Req<'_> {
    pub fn now(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }
    pub fn seg(&self, i: usize) -> &str {
        self.segs.get(i).map(String::as_str).unwrap_or("")
    }
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }
    /// An optional integer query parameter, with PVE's type-check message when malformed.
    pub fn q_int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.q(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::param(k, format!("type check ('integer') failed - got '{v}'"))
            }),
        }
    }
    /// A boolean query parameter in Proxmox's spellings.
    pub fn q_bool(&self, k: &str) -> Result<bool, ApiError> {
        match self.q(k) {
            None | Some("") => Ok(false),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(ApiError::param(
                k,
                format!("type check ('boolean') failed - got '{v}'"),
            )),
        }
    }
}

pub fn parse_vmid(s: &str) -> Result<u32, ApiError> {
    match s.parse::<u32>() {
        Ok(v) if (100..=999_999_999).contains(&v) => Ok(v),
        Ok(v) => Err(ApiError::param(
            "vmid",
            format!("value must have a minimum value of 100 - got '{v}'"),
        )),
        Err(_) => Err(ApiError::param(
            "vmid",
            format!("type check ('integer') failed - got '{s}'"),
        )),
    }
}

/// Parses `a=b&c=d` with percent- and plus-decoding; repeated keys keep the last value.
pub fn parse_query(q: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        out.insert(dec(k), dec(v));
    }
    out
}

/// `1.74` -> `"1.74"`: PVE sends load averages as strings with two decimals.
pub fn fmt2(v: f64) -> String {
    format!("{v:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("type=vm&ds=a%2Cb&x=1+2&flag");
        assert_eq!(q["type"], "vm");
        assert_eq!(q["ds"], "a,b");
        assert_eq!(q["x"], "1 2");
        assert_eq!(q["flag"], "");
    }

    #[test]
    fn vmid_errors_are_parameter_errors() {
        assert_eq!(parse_vmid("105"), Ok(105));
        let e = parse_vmid("abc").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.body()["errors"]["vmid"],
            "type check ('integer') failed - got 'abc'"
        );
        assert_eq!(parse_vmid("5").unwrap_err().status, 400);
    }
}

/// Unix seconds to (year, month, day, hour, minute, second) in UTC (Howard Hinnant's algorithm).
pub fn civil(ts: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

pub fn rfc3339(ts: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(ts);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// vzdump's file-name stamp: `2025_11_27-01_03_15`.
pub fn vzdump_stamp(ts: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(ts);
    format!("{y:04}_{mo:02}_{d:02}-{h:02}_{mi:02}_{s:02}")
}

#[cfg(test)]
mod civil_tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_742_890_730), "2025-03-25T08:18:50Z");
        assert_eq!(vzdump_stamp(1_606_311_551), "2020_11_25-13_39_11");
    }
}
