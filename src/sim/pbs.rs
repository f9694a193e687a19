//! Proxmox Backup Server routes. Datastores, namespaces, backup groups and snapshots
//! (verified, unverified, failed verify, encrypted, protected) and the GC / prune / verify / sync
//! task history are pure functions of the server's facts and the clock: snapshots appear on
//! their nightly schedule and age out by the group's keep-last.

use super::api::{ApiError, ApiResult, Req};
use super::dynamics::{Ctx, DAY, pid_for};
use super::fleet::{BackupGroup, PbsServer};
use super::noise::{hash, unit, wave};
use serde_json::{Value, json};

pub struct PbsView<'a> {
    pub s: &'a PbsServer,
    pub ctx: Ctx,
    pub faults: &'a super::faults::FaultSet,
    pub fingerprint: &'a str,
}

#[derive(Debug, Clone)]
pub struct SnapInfo {
    pub time: i64,
    pub size: u64,
    /// "ok" / "failed" / None (not verified yet or never)
    pub verify: Option<&'static str>,
    pub verify_upid: String,
    pub protected: bool,
}

/// systemd-style escaping PBS uses inside UPID worker ids (`:` -> `\x3a`, `-` -> `\x2d`,
/// `/` -> `-`).
pub fn systemd_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '/' => out.push('-'),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => out.push(c),
            c => out.push_str(&format!("\\x{:02x}", c as u32)),
        }
    }
    out
}

pub fn pbs_upid(ctx: &Ctx, node: &str, start: i64, wtype: &str, wid: &str, user: &str) -> String {
    let pid = pid_for(ctx, start as u64, wtype.len() as u64);
    format!(
        "UPID:{node}:{pid:08X}:{:08X}:{:08X}:{start:08X}:{wtype}:{}:{user}:",
        (start as u32).wrapping_mul(13) & 0xFFFFFF,
        (start as u32) & 0xFF,
        systemd_escape(wid)
    )
}

fn verify_time(day: i64) -> i64 {
    day * DAY + 6 * 3600
}

/// The snapshots of a group that exist at `now`, newest first.
pub fn snapshots(ctx: &Ctx, server: &str, store: &str, g: &BackupGroup, now: i64) -> Vec<SnapInfo> {
    let today = now.div_euclid(DAY);
    let gid = hash(&[
        ctx.salt,
        super::noise::key(store),
        super::noise::key(&g.ns),
        super::noise::key(&g.id),
        g.btype.len() as u64,
    ]);
    let never_verified = !g.verify_job;
    let mut out = Vec::new();
    let mut day = today;
    while out.len() < g.keep as usize && day > today - g.keep - 2 {
        let t = day * DAY + g.at;
        day -= 1;
        if t > now {
            continue;
        }
        let r = hash(&[ctx.seed, gid, t as u64]);
        let vday = t.div_euclid(DAY)
            + if t < verify_time(t.div_euclid(DAY)) {
                0
            } else {
                1
            };
        let vt = verify_time(vday);
        let verify = if never_verified || vt > now {
            None
        } else if unit(r) < 0.06 {
            Some("failed")
        } else {
            Some("ok")
        };
        out.push(SnapInfo {
            time: t,
            size: (g.size as f64 * (0.95 + 0.1 * unit(r >> 7))) as u64,
            verify,
            verify_upid: pbs_upid(
                ctx,
                server,
                vt,
                "verificationjob",
                &format!("{store}:v-{:08x}", gid as u32),
                "root@pam",
            ),
            protected: out.is_empty() && unit(r >> 3) < 0.15,
        });
    }
    out
}

impl PbsView<'_> {
    fn store(&self, name: &str) -> Result<&super::fleet::Datastore, ApiError> {
        self.s
            .datastores
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| ApiError::new(400, format!("datastore '{name}' does not exist")))
    }

    fn ns_param(req: &Req, store: &super::fleet::Datastore) -> Result<String, ApiError> {
        let ns = req.q("ns").unwrap_or("").to_string();
        if !ns.is_empty() && !store.namespaces.contains(&ns) {
            return Err(ApiError::new(
                400,
                format!("namespace '{ns}' does not exist"),
            ));
        }
        Ok(ns)
    }

    fn usage(&self, d: &super::fleet::Datastore, now_ms: i64) -> (u64, u64) {
        let t = now_ms as f64 / 1000.0;
        let days = (t - self.ctx.genesis as f64).max(0.0) / 86_400.0;
        let f = (d.used_frac
            + 0.002 * days
            + 0.005 * wave(self.ctx.seed, super::noise::key(&d.name), t, 3600.0))
        .clamp(0.0, 0.995);
        (d.total, (d.total as f64 * f) as u64)
    }

    /// The job view `/admin/datastore/{store}/gc` gives; status and usage embed only the
    /// plain GC counters (their schema is closed).
    fn gc_counters(&self, d: &super::fleet::Datastore, now: i64) -> Value {
        let mut v = self.gc_status(d, now);
        if let Some(m) = v.as_object_mut() {
            for k in [
                "store",
                "last-run-state",
                "last-run-endtime",
                "next-run",
                "schedule",
                "duration",
            ] {
                m.remove(k);
            }
        }
        v
    }

    fn gc_status(&self, d: &super::fleet::Datastore, now: i64) -> Value {
        let (_, used) = self.usage(d, now * 1000);
        let last = now.div_euclid(DAY) * DAY + d.gc_hour * 3600;
        let last = if last > now { last - DAY } else { last };
        json!({"store": d.name, "upid": pbs_upid(&self.ctx, "localhost", last, "garbage_collection", &d.name, "root@pam"),
            "index-file-count": d.groups.len() as u64 * 10, "index-data-bytes": used * 3, "disk-bytes": used,
            "disk-chunks": used / 2_500_000, "removed-bytes": used / 200, "removed-chunks": used / 500_000_000,
            "pending-bytes": 0, "pending-chunks": 0, "removed-bad": 0, "still-bad": 0,
            "last-run-state": "ok", "last-run-endtime": last + 1800, "next-run": last + DAY, "schedule": format!("{:02}:00", d.gc_hour), "duration": 1800})
    }

    pub fn route(&self, req: &Req) -> ApiResult {
        let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
        if req.method != "GET" {
            return Err(ApiError::new(405, "Method Not Allowed"));
        }
        let limited = req.principal.limited();
        let now = req.now();
        match s.as_slice() {
            ["version"] => Ok(
                json!({"version": self.s.version, "release": self.s.release, "repoid": "04249710f076bea8966c4e60ce32198d626ad9d6"}),
            ),
            ["nodes"] => Ok(json!([{"node": "localhost"}])),
            ["nodes", _, "status"] => {
                let t = req.now_ms as f64 / 1000.0;
                let cpu = (self.s.cpu_base
                    * (1.0 + 0.7 * wave(self.ctx.seed, self.ctx.salt, t, 240.0)))
                .clamp(0.001, 1.0);
                let used = (self.s.mem_total as f64
                    * (self.s.mem_frac + 0.05 * wave(self.ctx.seed, self.ctx.salt ^ 1, t, 900.0)))
                    as u64;
                Ok(
                    json!({"cpu": cpu, "wait": 0.001, "uptime": now - self.s.boot, "loadavg": [cpu * 8.0, cpu * 7.0, cpu * 6.0],
                    "kversion": "Linux 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)",
                    "current-kernel": {"sysname": "Linux", "release": "6.14.11-4-pve", "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)", "machine": "x86_64"},
                    "boot-info": {"mode": "efi", "secureboot": false},
                    "cpuinfo": {"model": "AMD EPYC 7313P 16-Core Processor", "sockets": 1, "cpus": 32},
                    "memory": {"total": self.s.mem_total, "used": used, "free": self.s.mem_total - used},
                    "swap": {"total": 8u64 << 30, "used": 0, "free": 8u64 << 30},
                    "root": {"total": 100u64 << 30, "used": 12u64 << 30, "avail": 88u64 << 30},
                    "info": {"fingerprint": self.fingerprint}}),
                )
            }
            ["nodes", _, "subscription"] => Ok(
                json!({"status": "notfound", "message": "There is no subscription key",
                "serverid": format!("{:032X}", hash(&[self.ctx.seed, self.ctx.salt]) as u128), "url": "https://www.proxmox.com/en/proxmox-backup-server/pricing"}),
            ),
            ["nodes", _, "tasks"] => self.tasks(req),
            ["admin", "datastore"] => Ok(Value::Array(if limited {
                vec![]
            } else {
                self.s
                    .datastores
                    .iter()
                    .map(|d| {
                        json!({"store": d.name, "comment": format!("{} datastore", d.name),
                    "backend-type": "filesystem", "mount-status": "nonremovable"})
                    })
                    .collect()
            })),
            ["status", "datastore-usage"] => Ok(Value::Array(if limited {
                vec![]
            } else {
                self.s.datastores.iter().map(|d| {
                    let (total, used) = self.usage(d, req.now_ms);
                    let history: Vec<f64> = (0..30).map(|i| { let (_, u) = self.usage(d, (now - (29 - i) * DAY) * 1000); u as f64 / total as f64 }).collect();
                    json!({"store": d.name, "total": total, "used": used, "avail": total - used, "backend-type": "filesystem",
                        "mount-status": "nonremovable", "history": history, "history-start": now - 29 * DAY, "history-delta": DAY,
                        "estimated-full-date": now + ((total - used) / (total / 500).max(1)) as i64 * DAY, "gc-status": self.gc_counters(d, now)})
                }).collect()
            })),
            ["admin", "datastore", st, rest @ ..] => {
                if limited {
                    return Err(ApiError::new(
                        403,
                        format!(
                            "permission check failed - missing Datastore.Audit|Datastore.Backup on /datastore/{st}"
                        ),
                    ));
                }
                let d = self.store(st)?;
                match rest {
                    ["status"] => {
                        let (total, used) = self.usage(d, req.now_ms);
                        let mut counts = serde_json::Map::new();
                        for ty in ["vm", "ct", "host"] {
                            let groups: Vec<&BackupGroup> =
                                d.groups.iter().filter(|g| g.btype == ty).collect();
                            let snaps: usize = groups
                                .iter()
                                .map(|g| snapshots(&self.ctx, &self.s.name, &d.name, g, now).len())
                                .sum();
                            counts.insert(
                                ty.into(),
                                json!({"groups": groups.len(), "snapshots": snaps}),
                            );
                        }
                        Ok(
                            json!({"total": total, "used": used, "avail": total - used, "backend-type": "filesystem",
                            "counts": counts, "gc-status": self.gc_counters(d, now)}),
                        )
                    }
                    ["gc"] => Ok(self.gc_status(d, now)),
                    ["namespace"] => Ok(Value::Array(
                        d.namespaces.iter().map(|n| json!({"ns": n})).collect(),
                    )),
                    ["groups"] => {
                        let ns = Self::ns_param(req, d)?;
                        Ok(Value::Array(d.groups.iter().filter(|g| g.ns == ns).filter_map(|g| {
                            let snaps = snapshots(&self.ctx, &self.s.name, &d.name, g, now);
                            let last = snaps.first()?;
                            Some(json!({"backup-type": g.btype, "backup-id": g.id, "last-backup": last.time,
                                "backup-count": snaps.len(), "owner": g.owner, "comment": g.comment, "files": file_names(g)}))
                        }).collect()))
                    }
                    ["snapshots"] => {
                        let ns = Self::ns_param(req, d)?;
                        let bt = req.q("backup-type");
                        if let Some(t) = bt
                            && !["vm", "ct", "host"].contains(&t)
                        {
                            return Err(ApiError::param(
                                "backup-type",
                                format!("value '{t}' is not defined in the enumeration."),
                            ));
                        }
                        let bid = req.q("backup-id");
                        let mut out = Vec::new();
                        for g in d.groups.iter().filter(|g| {
                            g.ns == ns
                                && bt.is_none_or(|t| t == g.btype)
                                && bid.is_none_or(|i| i == g.id)
                        }) {
                            for sn in snapshots(&self.ctx, &self.s.name, &d.name, g, now) {
                                let mut v = json!({"backup-type": g.btype, "backup-id": g.id, "backup-time": sn.time,
                                    "files": files(g, sn.size), "size": sn.size, "owner": g.owner, "comment": g.comment, "protected": sn.protected});
                                if let Some(m) = v.as_object_mut() {
                                    if let Some(state) = sn.verify {
                                        m.insert(
                                            "verification".into(),
                                            json!({"state": state, "upid": sn.verify_upid}),
                                        );
                                    }
                                    if g.encrypted {
                                        m.insert("fingerprint".into(), json!("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"));
                                    }
                                }
                                out.push(v);
                            }
                        }
                        Ok(Value::Array(out))
                    }
                    ["rrd"] => {
                        let (total, _) = self.usage(d, req.now_ms);
                        Ok(Value::Array((0..70).rev().map(|i| {
                            let t = (now / 60 - i) * 60;
                            let (_, used) = self.usage(d, t * 1000);
                            json!({"time": t, "total": total, "used": used, "available": total - used,
                                "read_bytes": 1.0e6 * (1.0 + wave(self.ctx.seed, 5, t as f64, 300.0)), "write_bytes": 2.0e6 * (1.0 + wave(self.ctx.seed, 6, t as f64, 300.0)),
                                "read_ios": 30.0, "write_ios": 60.0, "io_ticks": 0.01})
                        }).collect()))
                    }
                    _ => Err(ApiError::new(404, "Path not found.")),
                }
            }
            _ => Err(ApiError::new(404, "Path not found.")),
        }
    }

    fn tasks(&self, req: &Req) -> ApiResult {
        let now = req.now();
        let limit = req.q_int("limit")?.unwrap_or(50).clamp(0, 10_000) as usize;
        let start = req.q_int("start")?.unwrap_or(0).max(0) as usize;
        let typefilter = req.q("typefilter");
        let mut out = Vec::new();
        let today = now.div_euclid(DAY);
        for day in (today - 3)..=today {
            for d in &self.s.datastores {
                let mut push = |t: i64,
                                wtype: &str,
                                wid: String,
                                user: &str,
                                dur: i64,
                                ok: bool| {
                    if t > now {
                        return;
                    }
                    let upid = pbs_upid(&self.ctx, "localhost", t, wtype, &wid, user);
                    let mut v = json!({"upid": upid, "node": "localhost", "pid": pid_for(&self.ctx, t as u64, wtype.len() as u64),
                        "pstart": (t as u32).wrapping_mul(13) & 0xFFFFFF, "starttime": t, "worker_type": wtype, "worker_id": wid, "user": user});
                    if t + dur <= now
                        && let Some(m) = v.as_object_mut()
                    {
                        m.insert("endtime".into(), json!(t + dur));
                        m.insert(
                            "status".into(),
                            json!(if ok {
                                "OK".to_string()
                            } else {
                                format!("TASK ERROR: {wtype} failed on {}", d.name)
                            }),
                        );
                    }
                    out.push(v);
                };
                push(
                    day * DAY + d.gc_hour * 3600,
                    "garbage_collection",
                    d.name.clone(),
                    "root@pam",
                    1800,
                    true,
                );
                push(
                    day * DAY + 5 * 3600,
                    "prunejob",
                    format!("{}:p-{}", d.name, "daily"),
                    "root@pam",
                    120,
                    true,
                );
                let vr = hash(&[self.ctx.seed, day as u64, super::noise::key(&d.name)]);
                // One verification job per datastore (a stable job id, as PBS has), whose
                // daily run fails about 10 % of the time, or always under `failedVerifies`.
                let job = hash(&[self.ctx.seed, super::noise::key(&d.name)]);
                push(
                    verify_time(day),
                    "verificationjob",
                    format!("{}:v-{:08x}", d.name, job as u32),
                    "root@pam",
                    2400,
                    unit(vr) > 0.1 && !self.faults.failed_verifies.contains(&d.name),
                );
                if d.name == "offsite" {
                    push(
                        day * DAY + 7 * 3600,
                        "syncjob",
                        format!("pbs1:store1:{}:s-{:08x}", d.name, 0x5eed),
                        "root@pam",
                        3600,
                        unit(vr >> 5) > 0.15,
                    );
                }
                for g in &d.groups {
                    let t = day * DAY + g.at;
                    let wid = if g.ns.is_empty() {
                        format!("{}:{}/{}", d.name, g.btype, g.id)
                    } else {
                        format!("{}:{}/{}/{}", d.name, g.ns, g.btype, g.id)
                    };
                    push(t, "backup", wid, g.owner, 300, true);
                }
            }
        }
        out.sort_by(|a, b| b["starttime"].as_i64().cmp(&a["starttime"].as_i64()));
        Ok(Value::Array(
            out.into_iter()
                .filter(|t| typefilter.is_none_or(|f| t["worker_type"] == f))
                .skip(start)
                .take(limit)
                .collect(),
        ))
    }
}

fn file_names(g: &BackupGroup) -> Vec<&'static str> {
    match g.btype {
        "vm" => vec![
            "qemu-server.conf.blob",
            "drive-scsi0.img.fidx",
            "index.json.blob",
            "client.log.blob",
        ],
        "ct" => vec![
            "pct.conf.blob",
            "root.pxar.didx",
            "catalog.pcat1.didx",
            "index.json.blob",
            "client.log.blob",
        ],
        _ => vec![
            "root.pxar.didx",
            "catalog.pcat1.didx",
            "index.json.blob",
            "client.log.blob",
        ],
    }
}

/// The file list as PBS sends it: objects, the log blob without size or crypt-mode.
fn files(g: &BackupGroup, size: u64) -> Vec<Value> {
    let mode = if g.encrypted { "encrypt" } else { "none" };
    file_names(g)
        .into_iter()
        .map(|f| match f {
            "client.log.blob" => json!({"filename": f}),
            "drive-scsi0.img.fidx" | "root.pxar.didx" => {
                json!({"filename": f, "crypt-mode": mode, "size": size})
            }
            _ => json!({"filename": f, "crypt-mode": mode, "size": 512}),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_systemd() {
        assert_eq!(
            systemd_escape("fs01:v-ee54fa7e-61f0"),
            "fs01\\x3av\\x2dee54fa7e\\x2d61f0"
        );
        assert_eq!(systemd_escape("store1:vm/105"), "store1\\x3avm-105");
    }
}
