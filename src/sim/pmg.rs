//! Proxmox Mail Gateway routes. Mail counts are hourly buckets derived from the clock (a daily
//! rhythm plus noise), so "today so far" statistics grow through the day and reset at midnight;
//! numbers are JSON numbers as the PMG 6.3 schema says (the only PMG fixtures are hand-written).

use super::api::{ApiError, ApiResult, Req};
use super::dynamics::{Ctx, DAY};
use super::fleet::PmgServer;
use super::noise::{hash, unit};
use serde_json::{Value, json};
use std::f64::consts::TAU;

pub struct PmgView<'a> {
    pub s: &'a PmgServer,
    pub ctx: Ctx,
    pub fingerprint: &'a str,
    pub ip: &'a str,
}

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    count_in: f64,
    count_out: f64,
    spam_in: f64,
    spam_out: f64,
    virus_in: f64,
    virus_out: f64,
    bounces_in: f64,
    bounces_out: f64,
    bytes_in: f64,
    bytes_out: f64,
    gl: f64,
    junk: f64,
    rbl: f64,
    pregreet: f64,
}

impl Bucket {
    fn add(&mut self, o: &Bucket, f: f64) {
        self.count_in += o.count_in * f;
        self.count_out += o.count_out * f;
        self.spam_in += o.spam_in * f;
        self.spam_out += o.spam_out * f;
        self.virus_in += o.virus_in * f;
        self.virus_out += o.virus_out * f;
        self.bounces_in += o.bounces_in * f;
        self.bounces_out += o.bounces_out * f;
        self.bytes_in += o.bytes_in * f;
        self.bytes_out += o.bytes_out * f;
        self.gl += o.gl * f;
        self.junk += o.junk * f;
        self.rbl += o.rbl * f;
        self.pregreet += o.pregreet * f;
    }
}

impl PmgView<'_> {
    fn hour(&self, h: i64) -> Bucket {
        let r = hash(&[self.ctx.seed, self.ctx.salt, h as u64]);
        let tod = (h.rem_euclid(24)) as f64 / 24.0;
        let rhythm = 0.55 + 0.45 * (TAU * (tod - 0.35)).sin().max(-0.8);
        let n = (self.s.mail_rate * rhythm * (0.8 + 0.4 * unit(r))).round();
        let inn = (n * 0.65).round();
        let out = n - inn;
        let p = |salt: u64, frac: f64, v: f64| (v * frac * (0.7 + 0.6 * unit(r ^ salt))).round();
        Bucket {
            count_in: inn,
            count_out: out,
            spam_in: p(1, 0.12, inn),
            spam_out: p(2, 0.01, out),
            virus_in: p(3, 0.004, inn),
            virus_out: 0.0,
            bounces_in: p(4, 0.01, inn),
            bounces_out: p(5, 0.004, out),
            bytes_in: inn * 48_000.0,
            bytes_out: out * 31_000.0,
            gl: p(6, 0.08, inn),
            junk: p(7, 0.04, inn),
            rbl: p(8, 0.05, inn),
            pregreet: p(9, 0.02, inn),
        }
    }

    /// Sum over [from, to): whole hours plus the elapsed part of the current hour.
    fn range(&self, from: i64, to: i64) -> Bucket {
        let mut b = Bucket::default();
        let mut t = from;
        while t < to {
            let h = t.div_euclid(3600);
            let end = ((h + 1) * 3600).min(to);
            b.add(&self.hour(h), (end - t) as f64 / 3600.0);
            t = end;
        }
        b
    }

    fn check_node(&self, n: &str) -> Result<(), ApiError> {
        if self.s.nodes.iter().any(|x| x == n) {
            Ok(())
        } else {
            Err(ApiError::new(500, format!("no such node '{n}'")))
        }
    }

    pub fn route(&self, req: &Req) -> ApiResult {
        let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
        if req.method != "GET" {
            return Err(ApiError::not_implemented(
                req.method,
                &format!("/{}", s.join("/")),
            ));
        }
        let now = req.now();
        let day0 = now.div_euclid(DAY) * DAY;
        // time ranges: PMG requires non-negative epochs; the simulator also bounds the span it
        // sums (hour by hour) to about a year so a request cannot keep it busy
        let range = |req: &Req, default_end: i64| -> Result<(i64, i64), ApiError> {
            let start = req.q_int("starttime")?.unwrap_or(day0);
            let end = req.q_int("endtime")?.unwrap_or(default_end);
            if start < 0 {
                return Err(ApiError::param(
                    "starttime",
                    format!("value must have a minimum value of 0 - got '{start}'"),
                ));
            }
            if end < start {
                return Err(ApiError::param("endtime", "endtime is before starttime"));
            }
            if end - start > 400 * DAY {
                return Err(ApiError::param(
                    "endtime",
                    "time range longer than 400 days (simulator limit)",
                ));
            }
            Ok((start, end))
        };
        match s.as_slice() {
            ["version"] => Ok(
                json!({"version": self.s.version, "release": self.s.release, "repoid": "c6a2b0a7"}),
            ),
            ["nodes"] => Ok(Value::Array(
                self.s.nodes.iter().map(|n| json!({"node": n})).collect(),
            )),
            ["config", "cluster", "status"] => {
                let single = req.q_bool("list_single_node")?;
                if self.s.nodes.len() == 1 && !single {
                    return Ok(json!([]));
                }
                Ok(Value::Array(self.s.nodes.iter().enumerate().map(|(i, n)| json!({
                    "cid": i + 1, "name": n, "type": if i == 0 { "master" } else { "node" }, "ip": self.ip,
                    "fingerprint": self.fingerprint, "hostrsapubkey": "AAAAB3NzaC1yc2EAAAADAQABAAABAQC", "rootrsapubkey": "AAAAB3NzaC1yc2EAAAADAQABAAABAQD"})).collect()))
            }
            ["nodes", n, rest @ ..] => {
                self.check_node(n)?;
                let ni = self.s.nodes.iter().position(|x| x == n).unwrap_or(0) as u64;
                match rest {
                    ["status"] => Ok(
                        json!({"time": now, "uptime": now - self.s.boot, "insync": 1,
                        "cpu": 0.03 + 0.02 * unit(hash(&[ni, (now / 60) as u64])), "loadavg": ["0.21", "0.18", "0.15"],
                        "memory": {"total": 8u64 << 30, "used": 3u64 << 30, "free": 5u64 << 30},
                        "kversion": "Linux 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)"}),
                    ),
                    ["postfix", "queue"] => Ok(
                        json!([{"name": "active"}, {"name": "deferred"}, {"name": "hold"}, {"name": "incoming"}]),
                    ),
                    ["postfix", "queue", q] => {
                        if !["active", "deferred", "hold", "incoming"].contains(q) {
                            return Err(ApiError::param(
                                "queue",
                                format!(
                                    "value '{q}' does not have a value in the enumeration 'deferred, active, incoming, hold'"
                                ),
                            ));
                        }
                        let n_items =
                            hash(&[self.ctx.seed, ni, super::noise::key(q), (now / 300) as u64])
                                % if *q == "deferred" { 12 } else { 4 };
                        Ok(Value::Array((0..n_items).map(|i| json!({"queue_id": format!("4B{:X}{:04X}", ni, i), "queue_name": q,
                            "arrival_time": now - 60 * (i as i64 + 1) * 7, "message_size": 12_000 + i * 900, "sender": "newsletter@example.net",
                            "receiver": format!("user{i}@example.com"), "reason": if *q == "deferred" { "connect to mx.example.com[203.0.113.5]:25: Connection timed out" } else { "" }})).collect()))
                    }
                    ["postfix", "qshape"] => {
                        let d = hash(&[self.ctx.seed, ni, (now / 300) as u64]) % 12;
                        Ok(
                            json!([{"domain": "TOTAL", "total": d, "5s": 0, "10s": 0, "20s": 0, "40s": 0, "80s": 0, "160s": 0, "320s": d / 2, "640s": 0, "1280s": d - d / 2, "1280s+": 0},
                                  {"domain": "example.com", "total": d, "5s": 0, "10s": 0, "20s": 0, "40s": 0, "80s": 0, "160s": 0, "320s": d / 2, "640s": 0, "1280s": d - d / 2, "1280s+": 0}]),
                        )
                    }
                    ["backup"] => {
                        let today = now.div_euclid(DAY);
                        Ok(Value::Array((0..5).filter_map(|k| {
                            let t = (today - k) * DAY + 2 * 3600;
                            (t <= now).then(|| {
                                let (y, mo, d, ..) = super::api::civil(t);
                                json!({"filename": format!("pmg-backup_{y:04}_{mo:02}_{d:02}_{t:X}.tgz"), "size": 180_000 + (t % 7000) as u64, "timestamp": t})
                            })
                        }).collect()))
                    }
                    _ => Err(ApiError::not_implemented(
                        "GET",
                        &format!("/nodes/{n}/{}", rest.join("/")),
                    )),
                }
            }
            ["statistics", "mail"] => {
                let (start, end) = range(req, now)?;
                let b = self.range(start, end.min(now));
                let count = b.count_in + b.count_out;
                Ok(
                    json!({"count": count, "count_in": b.count_in.round(), "count_out": b.count_out.round(),
                    "spamcount_in": b.spam_in.round(), "spamcount_out": b.spam_out.round(), "viruscount_in": b.virus_in.round(),
                    "viruscount_out": b.virus_out.round(), "bounces_in": b.bounces_in.round(), "bounces_out": b.bounces_out.round(),
                    "bytes_in": b.bytes_in.round(), "bytes_out": b.bytes_out.round(), "glcount": b.gl.round(), "junk_in": b.junk.round(),
                    "junk_out": 0, "rbl_rejects": b.rbl.round(), "pregreet_rejects": b.pregreet.round(), "spfcount": (b.count_in * 0.01).round(),
                    "avptime": 0.45 + 0.2 * unit(hash(&[self.ctx.seed, (now / 600) as u64]))}),
                )
            }
            ["statistics", "mailcount"] => {
                let span = req.q_int("timespan")?.unwrap_or(3600);
                if !(3600..=31_622_400).contains(&span) {
                    return Err(ApiError::param(
                        "timespan",
                        format!("value must have a minimum value of 3600 - got '{span}'"),
                    ));
                }
                let default_end = req.q_int("starttime")?.unwrap_or(day0).saturating_add(DAY);
                let (start, end) = range(req, default_end)?;
                let mut out = Vec::new();
                let mut t = start;
                let mut i = 0;
                while t < end && out.len() < 10_000 {
                    let b = self.range(t, t.saturating_add(span).min(now).max(t));
                    out.push(json!({"index": i, "time": t, "count": (b.count_in + b.count_out).round(), "count_in": b.count_in.round(),
                        "count_out": b.count_out.round(), "spamcount_in": b.spam_in.round(), "spamcount_out": b.spam_out.round(),
                        "viruscount_in": b.virus_in.round(), "viruscount_out": b.virus_out.round(), "bounces_in": b.bounces_in.round(),
                        "bounces_out": b.bounces_out.round(), "rbl_rejects": b.rbl.round() as u64, "pregreet_rejects": b.pregreet.round() as u64,
                        "glcount": b.gl.round()}));
                    t = t.saturating_add(span);
                    i += 1;
                }
                Ok(Value::Array(out))
            }
            ["statistics", "spamscores"] => {
                let b = self.range(day0, now);
                let total = (b.count_in).max(1.0);
                let weights = [
                    0.55, 0.12, 0.07, 0.05, 0.04, 0.03, 0.03, 0.03, 0.03, 0.02, 0.03,
                ];
                Ok(Value::Array(
                    weights
                        .iter()
                        .enumerate()
                        .map(|(lvl, w)| {
                            let c = (total * w).round();
                            json!({"level": lvl.to_string(), "count": c as u64, "ratio": c / total})
                        })
                        .collect(),
                ))
            }
            ["quarantine", "spamstatus"] => {
                let b = self.range(now - 14 * DAY, now);
                Ok(
                    json!({"count": b.spam_in.round() as u64, "avgbytes": 38_500.0, "avgspam": 7.4, "mbytes": (b.spam_in * 38_500.0 / 1_048_576.0 * 100.0).round() / 100.0}),
                )
            }
            ["quarantine", "virusstatus"] => {
                let b = self.range(now - 14 * DAY, now);
                Ok(
                    json!({"count": b.virus_in.round() as u64, "avgbytes": 120_000.0, "mbytes": (b.virus_in * 120_000.0 / 1_048_576.0 * 100.0).round() / 100.0}),
                )
            }
            _ => Err(ApiError::not_implemented(
                "GET",
                &format!("/{}", s.join("/")),
            )),
        }
    }
}
