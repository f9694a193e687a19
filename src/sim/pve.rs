//! Proxmox VE routes under `/api2/json`. Shapes follow the captured responses in
//! fixtures/proxmox/pve (string-typed numbers where real servers send strings, keys omitted where
//! real servers omit them) and the PVE 9.1 API schema for everything newer.

use super::api::{ApiError, ApiResult, Req, fmt2, parse_vmid, rfc3339, vzdump_stamp, with_total};
use super::dynamics::{self as dy, Ctx, DAY, GuestNow};
use super::faults::FaultSet;
use super::fleet::{Agent, Guest, Kind, OS_LIST, PbsServer, PveCluster};
use super::noise::{hash, unit};
use super::pbs;
use serde_json::{Map, Value, json};

/// One guest of `/cluster/resources`, serialised directly (no `Value` tree).
#[derive(serde::Serialize)]
struct ResGuest<'a> {
    id: String,
    #[serde(rename = "type")]
    ty: &'static str,
    vmid: u32,
    name: &'a str,
    node: &'a str,
    status: &'static str,
    template: u8,
    maxcpu: u32,
    maxmem: u64,
    maxdisk: u64,
    cpu: f64,
    mem: u64,
    disk: u64,
    netin: u64,
    netout: u64,
    diskread: u64,
    diskwrite: u64,
    uptime: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    memhost: Option<u64>,
    #[serde(skip_serializing_if = "str::is_empty")]
    tags: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hastate: Option<&'static str>,
}

pub struct PveView<'a> {
    pub c: &'a PveCluster,
    pub ctx: Ctx,
    /// Faults in effect for this instance (offline nodes, hot guests, full storages).
    pub faults: &'a FaultSet,
    pub pbs: &'a [PbsServer],
    pub fingerprint: &'a str,
    pub ip: &'a str,
}

/// PVE's cluster-wide lists (`/cluster/resources`, `/nodes`) come from pvestatd, which
/// broadcasts every 10 s: between two broadcasts they repeat the same values.
pub const STATUS_INTERVAL_MS: i64 = 10_000;

fn status_tick(now_ms: i64) -> i64 {
    now_ms.div_euclid(STATUS_INTERVAL_MS) * STATUS_INTERVAL_MS
}

fn data(v: Value) -> ApiResult {
    Ok(v)
}

fn upid(node: &str, pid: u32, pstart: u32, start: i64, ty: &str, id: &str, user: &str) -> String {
    format!("UPID:{node}:{pid:08X}:{pstart:08X}:{start:08X}:{ty}:{id}:{user}:")
}

impl<'a> PveView<'a> {
    fn online(&self, node: usize) -> bool {
        !self.faults.offline_nodes.contains(&self.c.nodes[node].name)
    }

    /// Resolves `{node}` the way PVE does: unknown names fail name resolution, offline members
    /// answer 595 from the proxying node.
    fn node(&self, name: &str) -> Result<usize, ApiError> {
        let Some(i) = self.c.node_index(name) else {
            return Err(ApiError::new(
                500,
                format!(
                    "hostname lookup '{name}' failed - failed to get address info for: {name}: Name or service not known"
                ),
            ));
        };
        if !self.online(i) {
            return Err(ApiError::new(595, "No route to host"));
        }
        Ok(i)
    }

    fn guest(&self, req: &Req, node: usize, kind: Kind, vmid: &str) -> Result<&Guest, ApiError> {
        let vmid = parse_vmid(vmid)?;
        if req.principal.limited() {
            return Err(ApiError::new(
                403,
                format!("Permission check failed (/vms/{vmid}, VM.Audit)"),
            ));
        }
        let dir = if kind == Kind::Qemu {
            "qemu-server"
        } else {
            "lxc"
        };
        match self.c.guest(vmid) {
            Some(g) if g.node == node && g.kind == kind && !g.vanished => Ok(g),
            _ => Err(ApiError::new(
                500,
                format!(
                    "Configuration file 'nodes/{}/{dir}/{vmid}.conf' does not exist",
                    self.c.nodes[node].name
                ),
            )),
        }
    }

    fn now(&self, g: &Guest, t_ms: i64) -> GuestNow {
        let mut n = dy::guest_now(&self.ctx, g, t_ms);
        if n.running && self.faults.hot_guests.contains(&g.vmid) {
            n.cpu = super::faults::HOT_GUEST_CPU;
        }
        n
    }

    pub fn route(&self, req: &Req) -> ApiResult {
        let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
        if req.method != "GET" {
            return Err(ApiError::not_implemented(
                req.method,
                &format!("/{}", s.join("/")),
            ));
        }
        match s.as_slice() {
            ["version"] => data(
                json!({"version": self.c.pveversion, "release": self.c.release, "repoid": "9d436f37"}),
            ),
            ["nodes"] => self.nodes(req),
            ["storage"] => self.storage_cfg(),
            ["cluster", "status"] => self.cluster_status(),
            ["cluster", "resources"] => self.resources(req),
            ["cluster", "backup"] => self.backup_jobs(req),
            ["cluster", "replication"] => self.replication_cfg(),
            ["cluster", "tasks"] => self.cluster_tasks(req),
            ["cluster", "ceph", "status"] => self.ceph_status(),
            ["nodes", n, rest @ ..] => {
                let ni = self.node(n)?;
                self.node_route(req, ni, rest)
            }
            _ => Err(ApiError::not_implemented(
                req.method,
                &format!("/{}", s.join("/")),
            )),
        }
    }

    fn node_route(&self, req: &Req, ni: usize, rest: &[&str]) -> ApiResult {
        match rest {
            ["status"] => self.node_status(req, ni),
            ["rrddata"] => self.node_rrd(req, ni),
            ["version"] => data(
                json!({"version": self.c.pveversion, "release": self.c.release, "repoid": "9d436f37"}),
            ),
            ["qemu"] => self.guest_list(req, ni, Kind::Qemu),
            ["lxc"] => self.guest_list(req, ni, Kind::Lxc),
            [k @ ("qemu" | "lxc"), id, more @ ..] => {
                let kind = if *k == "qemu" { Kind::Qemu } else { Kind::Lxc };
                let g = self.guest(req, ni, kind, id)?;
                match (kind, more) {
                    (_, ["status", "current"]) => self.guest_status(req, g),
                    (_, ["rrddata"]) => self.guest_rrd(req, g),
                    (_, ["snapshot"]) => self.snapshots(req, g),
                    (_, ["config"]) => self.guest_config(g),
                    (Kind::Lxc, ["interfaces"]) => self.lxc_interfaces(req, g),
                    (Kind::Qemu, ["agent", cmd]) => self.agent(req, g, cmd),
                    _ => Err(ApiError::not_implemented(
                        "GET",
                        &format!(
                            "/nodes/{}/{k}/{id}/{}",
                            self.c.nodes[ni].name,
                            more.join("/")
                        ),
                    )),
                }
            }
            ["storage"] => self.node_storage(req, ni),
            ["storage", st, "status"] => {
                let list = self.node_storage(req, ni)?;
                list.as_array()
                    .and_then(|a| a.iter().find(|x| x["storage"] == *st).cloned())
                    .ok_or_else(|| ApiError::new(500, format!("storage '{st}' does not exist")))
            }
            ["storage", st, "content"] => self.storage_content(req, ni, st),
            ["tasks"] => self.tasks(req, ni),
            ["tasks", upid, "status"] => self.task_status(req, ni, upid),
            ["disks", "list"] => self.disks(ni),
            ["disks", "smart"] => self.smart(req, ni),
            ["disks", "zfs"] => self.zfs_list(req, ni),
            ["disks", "zfs", pool] => self.zfs_detail(req, ni, pool),
            ["replication"] => self.replication_status(req, ni),
            ["ceph", "pool"] => self.ceph_pools(req),
            ["ceph", "osd"] => self.ceph_osd(),
            _ => Err(ApiError::not_implemented(
                "GET",
                &format!("/nodes/{}/{}", self.c.nodes[ni].name, rest.join("/")),
            )),
        }
    }

    fn nodes(&self, req: &Req) -> ApiResult {
        let t_ms = status_tick(req.now_ms);
        let out: Vec<Value> = self
            .c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if !self.online(i) {
                    return json!({"id": format!("node/{}", n.name), "node": n.name, "type": "node",
                        "status": "offline", "level": n.level, "ssl_fingerprint": self.fingerprint});
                }
                let d = dy::node_now(&self.ctx, n, t_ms);
                json!({"id": format!("node/{}", n.name), "node": n.name, "type": "node", "status": "online",
                    "cpu": d.cpu, "maxcpu": n.maxcpu, "mem": d.mem_used, "maxmem": n.mem_total,
                    "disk": d.rootfs_used, "maxdisk": n.rootfs_total, "uptime": d.uptime,
                    "level": n.level, "ssl_fingerprint": self.fingerprint})
            })
            .collect();
        data(Value::Array(out))
    }

    fn node_status(&self, req: &Req, ni: usize) -> ApiResult {
        let n = &self.c.nodes[ni];
        let d = dy::node_now(&self.ctx, n, req.now_ms);
        let (rel, ver) = n
            .kversion
            .trim_start_matches("Linux ")
            .split_once(' ')
            .unwrap_or(("", ""));
        let avail = n.mem_total - d.mem_used;
        data(json!({
            "uptime": d.uptime, "idle": 0, "cpu": d.cpu, "wait": d.iowait,
            "loadavg": [fmt2(d.load[0]), fmt2(d.load[1]), fmt2(d.load[2])],
            "kversion": n.kversion,
            "pveversion": format!("pve-manager/{}/9d436f37a0ac4172", self.c.pveversion),
            "current-kernel": {"sysname": "Linux", "release": rel, "version": ver, "machine": "x86_64"},
            "boot-info": {"mode": "efi", "secureboot": 0},
            "ksm": {"shared": 0},
            "memory": {"total": n.mem_total, "used": d.mem_used, "free": avail / 3, "available": avail},
            "swap": {"total": n.swap_total, "used": d.swap_used, "free": n.swap_total - d.swap_used},
            "rootfs": {"total": n.rootfs_total, "used": d.rootfs_used, "avail": n.rootfs_total - d.rootfs_used,
                "free": n.rootfs_total - d.rootfs_used},
            "cpuinfo": {"model": n.model, "sockets": n.sockets, "cores": n.cores, "cpus": n.maxcpu,
                "mhz": n.mhz, "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl pni vmx ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm avx2"},
        }))
    }

    /// RRD points as PVE 9 serialises them: one per step, keys omitted where there is no data.
    fn rrd_points(req: &Req, mut point: impl FnMut(i64) -> Option<Value>) -> ApiResult {
        let step = match req.q("timeframe").unwrap_or("hour") {
            "hour" => 60,
            "day" => 1800,
            "week" => 10800,
            "month" => 43200,
            "year" => 604800,
            "decade" => 6048000,
            v => {
                return Err(ApiError::param(
                    "timeframe",
                    format!(
                        "value '{v}' does not have a value in the enumeration 'hour, day, week, month, year, decade'"
                    ),
                ));
            }
        };
        match req.q("cf") {
            None | Some("AVERAGE" | "MAX") => {}
            Some(v) => {
                return Err(ApiError::param(
                    "cf",
                    format!("value '{v}' does not have a value in the enumeration 'AVERAGE, MAX'"),
                ));
            }
        }
        if req.q("ds").is_some() {
            // PVE validates parameters against its schema; rrddata has no "ds"
            return Err(ApiError::param(
                "ds",
                "property is not defined in schema and the schema does not allow additional properties",
            ));
        }
        let last = req.now().div_euclid(step) * step;
        let out: Vec<Value> = (0..70)
            .rev()
            .map(|i| {
                let t = last - i * step;
                point(t).unwrap_or_else(|| json!({"time": t}))
            })
            .collect();
        data(Value::Array(out))
    }

    fn node_rrd(&self, req: &Req, ni: usize) -> ApiResult {
        let n = &self.c.nodes[ni];
        Self::rrd_points(req, |t| {
            let d = dy::node_now(&self.ctx, n, t * 1000);
            Some(
                json!({"time": t, "cpu": d.cpu, "maxcpu": n.maxcpu, "iowait": d.iowait, "loadavg": d.load[0],
                "memtotal": n.mem_total, "memused": d.mem_used, "memavailable": n.mem_total - d.mem_used,
                "swaptotal": n.swap_total, "swapused": d.swap_used, "roottotal": n.rootfs_total, "rootused": d.rootfs_used,
                "netin": 50_000.0 + d.cpu * 2.0e6, "netout": 80_000.0 + d.cpu * 1.0e6,
                "arcsize": if n.zfs { n.mem_total as f64 * 0.1 } else { 0.0 },
                "pressurecpusome": d.cpu * 5.0, "pressureiosome": d.iowait * 100.0, "pressureiofull": d.iowait * 50.0,
                "pressurememorysome": 0, "pressurememoryfull": 0}),
            )
        })
    }

    fn guest_rrd(&self, req: &Req, g: &Guest) -> ApiResult {
        Self::rrd_points(req, |t| {
            let d = self.now(g, t * 1000);
            let mut p = json!({"time": t, "maxcpu": g.maxcpu, "maxmem": g.maxmem, "maxdisk": g.maxdisk, "disk": d.disk});
            if d.running {
                // rates over the step, as RRD stores them
                let prev = self.now(g, (t - 60) * 1000);
                let rate = |a: u64, b: u64| {
                    if prev.running && prev.start == d.start {
                        (a.saturating_sub(b)) as f64 / 60.0
                    } else {
                        0.0
                    }
                };
                let m = p.as_object_mut()?;
                m.insert("cpu".into(), json!(d.cpu));
                m.insert("mem".into(), json!(d.mem as f64));
                m.insert("netin".into(), json!(rate(d.netin, prev.netin)));
                m.insert("netout".into(), json!(rate(d.netout, prev.netout)));
                m.insert("diskread".into(), json!(rate(d.diskread, prev.diskread)));
                m.insert("diskwrite".into(), json!(rate(d.diskwrite, prev.diskwrite)));
                for k in [
                    "pressurecpufull",
                    "pressurecpusome",
                    "pressureiofull",
                    "pressureiosome",
                    "pressurememoryfull",
                    "pressurememorysome",
                ] {
                    m.insert(k.into(), json!(d.cpu * 0.1));
                }
                if g.kind == Kind::Qemu {
                    m.insert("memhost".into(), json!(d.mem as f64 * 1.05));
                }
            }
            Some(p)
        })
    }

    fn resources(&self, req: &Req) -> ApiResult {
        let ty = req.q("type");
        match ty {
            None | Some("vm" | "storage" | "node" | "sdn" | "pool") => {}
            Some(v) => {
                return Err(ApiError::param(
                    "type",
                    format!(
                        "value '{v}' does not have a value in the enumeration 'vm, storage, node, sdn'"
                    ),
                ));
            }
        }
        let limited = req.principal.limited();
        let now_ms = status_tick(req.now_ms);
        let mut out: Vec<Value> = Vec::with_capacity(self.c.nodes.len() * 8);
        if ty.is_none() || ty == Some("node") {
            for (i, n) in self.c.nodes.iter().enumerate() {
                let mut v = json!({"id": format!("node/{}", n.name), "type": "node", "node": n.name, "level": n.level,
                    "status": if self.online(i) { "online" } else { "offline" }, "cgroup-mode": 2,
                    "maxcpu": n.maxcpu, "maxmem": n.mem_total, "maxdisk": n.rootfs_total});
                if self.online(i) {
                    let d = dy::node_now(&self.ctx, n, now_ms);
                    if let Some(m) = v.as_object_mut() {
                        m.insert("cpu".into(), json!(d.cpu));
                        m.insert("mem".into(), json!(d.mem_used));
                        m.insert("disk".into(), json!(d.rootfs_used));
                        m.insert("uptime".into(), json!(d.uptime));
                    }
                }
                out.push(v);
            }
        }
        if (ty.is_none() || ty == Some("storage")) && !limited {
            for (i, n) in self.c.nodes.iter().enumerate() {
                for s in self
                    .c
                    .storages
                    .iter()
                    .filter(|s| self.c.storage_on(s, i) && !s.disabled)
                {
                    let (total, used) = self.storage_numbers(s, now_ms);
                    let online = self.online(i);
                    out.push(json!({"id": format!("storage/{}/{}", n.name, s.name), "type": "storage",
                        "storage": s.name, "node": n.name, "status": if online { "available" } else { "unknown" },
                        "shared": s.shared as u8, "content": s.content, "plugintype": s.stype,
                        "disk": used, "maxdisk": total}));
                }
            }
        }
        if (ty.is_none() || ty == Some("pool")) && self.c.guests.iter().any(|g| g.pool.is_some()) {
            out.push(json!({"id": "/pool/production", "type": "pool", "pool": "production"}));
        }
        // guests are the bulk: serialise them straight into the output buffer
        let with_guests = (ty.is_none() || ty == Some("vm")) && !limited;
        let mut buf: Vec<u8> = Vec::with_capacity(
            64 * 1024
                + if with_guests {
                    self.c.guests.len() * 400
                } else {
                    0
                },
        );
        buf.push(b'[');
        let mut first = true;
        let mut sep = |buf: &mut Vec<u8>| {
            if !first {
                buf.push(b',');
            }
            first = false;
        };
        let fail = |_| ApiError::new(500, "serialisation failed");
        for v in &out {
            sep(&mut buf);
            serde_json::to_writer(&mut buf, v).map_err(fail)?;
        }
        if with_guests {
            for g in self.c.guests.iter().filter(|g| !g.vanished) {
                sep(&mut buf);
                serde_json::to_writer(&mut buf, &self.resource_guest(g, now_ms)).map_err(fail)?;
            }
        }
        buf.push(b']');
        Ok(super::api::raw(
            String::from_utf8(buf).map_err(|_| ApiError::new(500, "serialisation failed"))?,
        ))
    }

    fn resource_guest(&self, g: &'a Guest, t_ms: i64) -> ResGuest<'a> {
        let online = self.online(g.node);
        let d = self.now(g, t_ms);
        let status = if !online {
            "unknown"
        } else if d.running {
            "running"
        } else {
            "stopped"
        };
        ResGuest {
            id: format!("{}/{}", g.kind.as_str(), g.vmid),
            ty: g.kind.as_str(),
            vmid: g.vmid,
            name: &g.name,
            node: &self.c.nodes[g.node].name,
            status,
            template: g.template as u8,
            maxcpu: g.maxcpu,
            maxmem: g.maxmem,
            maxdisk: g.maxdisk,
            cpu: d.cpu,
            mem: d.mem,
            disk: d.disk,
            netin: d.netin,
            netout: d.netout,
            diskread: d.diskread,
            diskwrite: d.diskwrite,
            uptime: d.uptime,
            memhost: (g.kind == Kind::Qemu && d.running).then_some(d.mem + d.mem / 20),
            tags: &g.tags,
            lock: d.lock,
            pool: g.pool.as_deref(),
            hastate: g
                .ha
                .then_some(if d.running { "started" } else { "stopped" }),
        }
    }

    fn guest_list(&self, req: &Req, ni: usize, kind: Kind) -> ApiResult {
        if req.principal.limited() {
            // PVE filters the list by VM.Audit instead of refusing
            return data(json!([]));
        }
        let out: Vec<Value> = self
            .c
            .guests
            .iter()
            .filter(|g| g.node == ni && g.kind == kind && !g.vanished)
            .map(|g| {
                let d = self.now(g, req.now_ms);
                let mut v = json!({"name": g.name, "status": if d.running { "running" } else { "stopped" },
                    "cpu": d.cpu, "cpus": g.maxcpu, "mem": d.mem, "maxmem": g.maxmem, "disk": d.disk, "maxdisk": g.maxdisk,
                    "netin": d.netin, "netout": d.netout, "diskread": d.diskread, "diskwrite": d.diskwrite, "uptime": d.uptime});
                if let Some(m) = v.as_object_mut() {
                    match kind {
                        // qemu lists carry integer vmids (PVE >= 7); container lists still send strings
                        Kind::Qemu => {
                            m.insert("vmid".into(), json!(g.vmid));
                            if d.running {
                                m.insert("pid".into(), json!(dy::pid_for(&self.ctx, g.vmid as u64, d.start as u64)));
                                m.insert("qmpstatus".into(), json!(if g.paused { "paused" } else { "running" }));
                            }
                        }
                        Kind::Lxc => {
                            m.insert("vmid".into(), json!(g.vmid.to_string()));
                            m.insert("type".into(), json!("lxc"));
                            m.insert("maxswap".into(), json!(g.maxswap));
                            m.insert("swap".into(), json!(if d.running { g.maxswap / 10 } else { 0 }));
                            if d.running {
                                m.insert("pid".into(), json!(dy::pid_for(&self.ctx, g.vmid as u64, d.start as u64)));
                            }
                        }
                    }
                    if g.template {
                        m.insert("template".into(), json!(1));
                    }
                    if !g.tags.is_empty() {
                        m.insert("tags".into(), json!(g.tags));
                    }
                    if let Some(l) = d.lock {
                        m.insert("lock".into(), json!(l));
                    }
                }
                v
            })
            .collect();
        data(Value::Array(out))
    }

    fn guest_status(&self, req: &Req, g: &Guest) -> ApiResult {
        let d = self.now(g, req.now_ms);
        let status = if d.running { "running" } else { "stopped" };
        let ha = if g.ha {
            json!({"managed": 1, "state": if d.running { "started" } else { "stopped" }, "group": null})
        } else {
            json!({"managed": 0})
        };
        let pid = dy::pid_for(&self.ctx, g.vmid as u64, d.start as u64);
        match g.kind {
            Kind::Qemu => {
                let mut v = json!({"vmid": g.vmid, "name": g.name, "status": status,
                    "qmpstatus": if !d.running { "stopped" } else if g.paused { "paused" } else { "running" },
                    "cpus": g.maxcpu, "cpu": d.cpu, "mem": d.mem, "maxmem": g.maxmem, "disk": 0, "maxdisk": g.maxdisk,
                    "netin": d.netin, "netout": d.netout, "diskread": d.diskread, "diskwrite": d.diskwrite,
                    "uptime": d.uptime, "ha": ha});
                let m = v
                    .as_object_mut()
                    .ok_or_else(|| ApiError::new(500, "internal"))?;
                if g.agent != Agent::Off {
                    m.insert("agent".into(), json!(1));
                }
                if !g.tags.is_empty() {
                    m.insert("tags".into(), json!(g.tags));
                }
                if let Some(l) = d.lock {
                    m.insert("lock".into(), json!(l));
                }
                if g.template {
                    m.insert("template".into(), json!(1));
                }
                if d.running {
                    let actual = g
                        .balloon_min
                        .map(|min| (g.maxmem + min) / 2)
                        .unwrap_or(g.maxmem);
                    let free = actual.saturating_sub(d.mem);
                    m.insert("pid".into(), json!(pid));
                    m.insert("running-machine".into(), json!("pc-i440fx-10.0+pve0"));
                    m.insert("running-qemu".into(), json!("10.0.2"));
                    m.insert("balloon".into(), json!(actual));
                    m.insert("freemem".into(), json!(free));
                    m.insert(
                        "balloon_min".into(),
                        json!(g.balloon_min.unwrap_or(g.maxmem)),
                    );
                    m.insert("shares".into(), json!(1000));
                    m.insert("ballooninfo".into(), json!({"actual": actual, "max_mem": g.maxmem, "free_mem": free,
                        "total_mem": actual, "major_page_faults": d.uptime / 3, "minor_page_faults": d.uptime * 40,
                        "mem_swapped_in": 0, "mem_swapped_out": 0, "last_update": req.now()}));
                    m.insert(
                        "nics".into(),
                        json!({format!("tap{}i0", g.vmid): {"netin": d.netin, "netout": d.netout}}),
                    );
                    m.insert(
                        "blockstat".into(),
                        json!({"scsi0": blockstat(d.diskread, d.diskwrite)}),
                    );
                    m.insert("proxmox-support".into(), json!({"pbs-dirty-bitmap": true, "pbs-dirty-bitmap-migration": true,
                        "pbs-dirty-bitmap-savevm": true, "pbs-library-version": "1.4.1 (UNKNOWN)", "pbs-masterkey": true,
                        "query-bitmap-info": true, "backup-max-workers": true}));
                    m.insert("spice".into(), json!(0));
                }
                data(v)
            }
            Kind::Lxc => {
                // matches the captured PVE container status: several numbers as strings
                let mut v = json!({"vmid": g.vmid.to_string(), "name": g.name, "status": status, "type": "lxc",
                    "cpus": g.maxcpu, "cpu": d.cpu, "mem": d.mem, "maxmem": g.maxmem, "swap": 0, "maxswap": g.maxswap,
                    "netin": d.netin, "netout": d.netout, "diskread": d.diskread, "diskwrite": d.diskwrite,
                    "uptime": d.uptime, "ha": ha, "lock": d.lock.unwrap_or(""),
                    "template": if g.template { json!(1) } else { json!("") }});
                let m = v
                    .as_object_mut()
                    .ok_or_else(|| ApiError::new(500, "internal"))?;
                if d.running {
                    m.insert("disk".into(), json!(d.disk.to_string()));
                    m.insert("maxdisk".into(), json!(g.maxdisk.to_string()));
                    m.insert("pid".into(), json!(pid.to_string()));
                } else {
                    m.insert("disk".into(), json!(0));
                    m.insert("maxdisk".into(), json!(g.maxdisk));
                }
                if !g.tags.is_empty() {
                    m.insert("tags".into(), json!(g.tags));
                }
                data(v)
            }
        }
    }

    fn guest_config(&self, g: &Guest) -> ApiResult {
        let storage = if self.c.nodes[g.node].zfs {
            "local-zfs"
        } else {
            "local-lvm"
        };
        let gib = g.maxdisk >> 30;
        match g.kind {
            Kind::Qemu => data(
                json!({"name": g.name, "cores": g.maxcpu, "sockets": 1, "memory": (g.maxmem >> 20).to_string(),
                "scsi0": format!("{storage}:vm-{}-disk-0,size={gib}G", g.vmid), "ostype": if OS_LIST[g.os].0 == "mswindows" { "win11" } else { "l26" },
                "net0": format!("virtio={},bridge=vmbr0", g.mac), "agent": if g.agent == Agent::Off { "0" } else { "1" },
                "digest": format!("{:040x}", hash(&[self.ctx.seed, g.vmid as u64]) as u128), "tags": g.tags}),
            ),
            Kind::Lxc => data(
                json!({"hostname": g.name, "cores": g.maxcpu, "memory": g.maxmem >> 20, "swap": g.maxswap >> 20,
                "rootfs": format!("{storage}:subvol-{}-disk-0,size={gib}G", g.vmid), "ostype": match OS_LIST[g.os].0 { "rocky" => "centos", o => o },
                "net0": format!("name=eth0,bridge=vmbr0,hwaddr={},ip={}/24,type=veth", g.mac, g.ip), "arch": "amd64",
                "digest": format!("{:040x}", hash(&[self.ctx.seed, g.vmid as u64]) as u128), "tags": g.tags}),
            ),
        }
    }

    fn lxc_interfaces(&self, req: &Req, g: &Guest) -> ApiResult {
        if !self.now(g, req.now_ms).running {
            return Err(ApiError::new(500, format!("CT {} not running", g.vmid)));
        }
        // PVE 9 sends both the old (hwaddr/inet) and the agent-style keys
        let mac = g.mac.to_lowercase();
        data(json!([
            {"name": "lo", "hwaddr": "00:00:00:00:00:00", "hardware-address": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128",
             "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "inet", "prefix": 8}, {"ip-address": "::1", "ip-address-type": "inet6", "prefix": 128}]},
            {"name": "eth0", "hwaddr": mac, "hardware-address": mac, "inet": format!("{}/24", g.ip),
             "ip-addresses": [{"ip-address": g.ip, "ip-address-type": "inet", "prefix": 24}]},
        ]))
    }

    fn agent(&self, req: &Req, g: &Guest, cmd: &str) -> ApiResult {
        let d = self.now(g, req.now_ms);
        match g.agent {
            Agent::Off => return Err(ApiError::new(500, "No QEMU guest agent configured")),
            _ if !d.running => {
                return Err(ApiError::new(500, format!("VM {} is not running", g.vmid)));
            }
            Agent::NotRunning => return Err(ApiError::new(500, "QEMU guest agent is not running")),
            Agent::Error => {
                return data(
                    json!({"error": {"class": "GenericError", "desc": format!("Command {cmd} failed: guest agent reported an internal error")}}),
                );
            }
            Agent::Ok => {}
        }
        let (osid, osname, osver) = OS_LIST[g.os];
        let windows = osid == "mswindows";
        match cmd {
            "get-fsinfo" => {
                let used = (g.maxdisk as f64 * g.disk_frac) as u64;
                let mut fs = vec![
                    json!({"name": if windows { "\\\\?\\Volume{5ab1}" } else { "sda1" },
                    "mountpoint": if windows { "C:\\" } else { "/" }, "type": if windows { "NTFS" } else { "ext4" },
                    "total-bytes": g.maxdisk - (1 << 30), "used-bytes": used,
                    "disk": [{"serial": "drive-scsi0", "bus-type": "scsi", "bus": 0, "unit": 0, "target": 0, "dev": "/dev/sda1",
                        "pci-controller": {"domain": 0, "bus": 0, "slot": 5, "function": 0}}]}),
                ];
                if !windows {
                    fs.push(json!({"name": "sda15", "mountpoint": "/boot/efi", "type": "vfat", "total-bytes": 129_718_272u64,
                        "used-bytes": 6_308_864u64, "disk": [{"serial": "drive-scsi0", "bus-type": "scsi", "bus": 0, "unit": 0, "target": 0,
                        "dev": "/dev/sda15", "pci-controller": {"domain": 0, "bus": 0, "slot": 5, "function": 0}}]}));
                }
                data(json!({"result": fs}))
            }
            "network-get-interfaces" => data(json!({"result": [
                {"name": "lo", "hardware-address": "00:00:00:00:00:00",
                 "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                                  {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}],
                 "statistics": {"rx-bytes": 1000, "rx-packets": 10, "rx-errs": 0, "rx-dropped": 0, "tx-bytes": 1000, "tx-packets": 10, "tx-errs": 0, "tx-dropped": 0}},
                {"name": if windows { "Ethernet" } else { "eth0" }, "hardware-address": g.mac.to_lowercase(),
                 "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": g.ip, "prefix": 24},
                                  {"ip-address-type": "ipv6", "ip-address": format!("fe80::be24:11ff:fe00:{:x}", g.vmid), "prefix": 64}],
                 "statistics": {"rx-bytes": d.netin, "rx-packets": d.netin / 900, "rx-errs": 0, "rx-dropped": 0,
                                "tx-bytes": d.netout, "tx-packets": d.netout / 900, "tx-errs": 0, "tx-dropped": 0}}]})),
            "get-osinfo" => data(
                json!({"result": {"id": osid, "name": osname, "pretty-name": format!("{osname} {osver}"),
                "version": osver, "version-id": osver, "kernel-release": if windows { "20348" } else { "6.1.0-28-amd64" },
                "kernel-version": if windows { "10.0" } else { "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1" }, "machine": "x86_64"}}),
            ),
            "info" => data(
                json!({"result": {"version": "9.2.0", "supported_commands": [
                {"name": "guest-get-fsinfo", "enabled": true, "success-response": true},
                {"name": "guest-network-get-interfaces", "enabled": true, "success-response": true}]}}),
            ),
            "get-host-name" => data(json!({"result": {"host-name": g.name}})),
            "ping" => data(json!({})),
            _ => Err(ApiError::not_implemented(
                "GET",
                &format!(
                    "/nodes/{}/qemu/{}/agent/{cmd}",
                    self.c.nodes[g.node].name, g.vmid
                ),
            )),
        }
    }

    fn snapshots(&self, req: &Req, g: &Guest) -> ApiResult {
        let mut out: Vec<Value> = g
            .snapshots
            .iter()
            .map(|s| {
                let mut v =
                    json!({"name": s.name, "description": s.description, "snaptime": s.snaptime});
                if let Some(m) = v.as_object_mut() {
                    if g.kind == Kind::Qemu {
                        m.insert("vmstate".into(), json!(s.vmstate as u8));
                    }
                    if let Some(p) = &s.parent {
                        m.insert("parent".into(), json!(p));
                    }
                }
                v
            })
            .collect();
        let mut current = json!({"name": "current", "description": "You are here!", "digest": format!("{:040x}", hash(&[g.vmid as u64, 3]) as u128)});
        if let Some(m) = current.as_object_mut() {
            if g.kind == Kind::Qemu {
                m.insert(
                    "running".into(),
                    json!(self.now(g, req.now_ms).running as u8),
                );
            }
            if let Some(last) = g.snapshots.last() {
                m.insert("parent".into(), json!(last.name));
            }
        }
        out.push(current);
        data(Value::Array(out))
    }

    fn storage_numbers(&self, s: &super::fleet::Storage, t_ms: i64) -> (u64, u64) {
        if let Some(ceph) = &self.c.ceph
            && (s.stype == "rbd" || s.stype == "cephfs")
        {
            let raw: u64 = ceph.osds.iter().map(|o| o.size).sum::<u64>() / 3;
            let pool = ceph
                .pools
                .iter()
                .find(|p| (s.stype == "rbd") == (p.name == "ceph-vm"));
            let frac = pool.map(|p| p.used_frac).unwrap_or(0.1);
            return (raw, dy::storage_used(&self.ctx, &s.name, raw, frac, t_ms));
        }
        if self.faults.full_storages.contains(&s.name) {
            return (
                s.total,
                (s.total as f64 * super::faults::FULL_STORAGE_USED) as u64,
            );
        }
        (
            s.total,
            dy::storage_used(&self.ctx, &s.name, s.total, s.used_frac, t_ms),
        )
    }

    fn storage_cfg(&self) -> ApiResult {
        let out: Vec<Value> = self
            .c
            .storages
            .iter()
            .map(|s| {
                let mut v = json!({"storage": s.name, "type": s.stype, "content": s.content,
                    "digest": "6b907c7fee9a470a2b0d52bf736f5f1a0c75c47c"});
                if let Some(m) = v.as_object_mut() {
                    match s.stype {
                        "dir" => {
                            m.insert(
                                "path".into(),
                                json!(if s.name == "local" {
                                    "/var/lib/vz".to_string()
                                } else {
                                    format!("/mnt/{}", s.name)
                                }),
                            );
                            m.insert("shared".into(), json!(0));
                        }
                        "lvmthin" => {
                            m.insert("thinpool".into(), json!("data"));
                            m.insert("vgname".into(), json!("pve"));
                        }
                        "zfspool" => {
                            m.insert("pool".into(), json!("rpool/data"));
                            m.insert("sparse".into(), json!(1));
                            m.insert("mountpoint".into(), json!("/rpool/data"));
                        }
                        "nfs" => {
                            m.insert("server".into(), json!("10.0.0.50"));
                            m.insert("export".into(), json!("/export/backup"));
                            m.insert("path".into(), json!(format!("/mnt/pve/{}", s.name)));
                            m.insert("prune-backups".into(), json!("keep-daily=7"));
                        }
                        "rbd" => {
                            m.insert("pool".into(), json!("ceph-vm"));
                            m.insert("krbd".into(), json!(0));
                        }
                        "cephfs" => {
                            m.insert("path".into(), json!("/mnt/pve/cephfs"));
                            m.insert("fs-name".into(), json!("cephfs"));
                        }
                        "pbs" => {
                            if let Some((server, store)) = &s.pbs {
                                m.insert("server".into(), json!(self.ip));
                                m.insert("datastore".into(), json!(store));
                                m.insert("username".into(), json!("root@pam"));
                                m.insert(
                                    "fingerprint".into(),
                                    json!(format!("(see simulator output for {server})")),
                                );
                            }
                        }
                        _ => {}
                    }
                    if let Some(nodes) = &s.nodes {
                        let names: Vec<&str> = nodes
                            .iter()
                            .map(|i| self.c.nodes[*i].name.as_str())
                            .collect();
                        m.insert("nodes".into(), json!(names.join(",")));
                    }
                    if s.disabled {
                        m.insert("disable".into(), json!(1));
                        // a USB disk that used to be mounted here; real storage.cfg sends "1"
                        m.insert("is_mountpoint".into(), json!("1"));
                    }
                }
                v
            })
            .collect();
        data(Value::Array(out))
    }

    fn node_storage(&self, req: &Req, ni: usize) -> ApiResult {
        let out: Vec<Value> = self
            .c
            .storages
            .iter()
            .filter(|s| self.c.storage_on(s, ni))
            .filter(|_| !req.principal.limited())
            .map(|s| {
                if s.disabled {
                    return json!({"storage": s.name, "type": s.stype, "content": s.content, "shared": s.shared as u8,
                        "enabled": 0, "active": 0, "total": 0, "used": 0, "avail": 0});
                }
                let (total, used) = self.storage_numbers(s, req.now_ms);
                json!({"storage": s.name, "type": s.stype, "content": s.content, "shared": s.shared as u8,
                    "enabled": 1, "active": 1, "total": total, "used": used, "avail": total - used,
                    "used_fraction": if total > 0 { used as f64 / total as f64 } else { 0.0 }})
            })
            .collect();
        data(Value::Array(out))
    }

    fn storage_content(&self, req: &Req, ni: usize, st: &str) -> ApiResult {
        let Some(s) = self
            .c
            .storages
            .iter()
            .find(|s| s.name == st && self.c.storage_on(s, ni))
        else {
            return Err(ApiError::new(500, format!("storage '{st}' does not exist")));
        };
        if req.principal.limited() {
            return Err(ApiError::new(
                403,
                format!("Permission check failed (/storage/{st}, Datastore.Audit)"),
            ));
        }
        if s.disabled {
            return Err(ApiError::new(500, format!("storage '{st}' is disabled")));
        }
        let want_vmid = req.q_int("vmid")?;
        let content = req.q("content");
        let now = req.now();
        let mut out = Vec::new();
        if s.stype == "pbs" {
            if let Some((server, store)) = &s.pbs
                && let Some(p) = self.pbs.iter().find(|p| &p.name == server)
                && let Some(ds) = p.datastores.iter().find(|d| &d.name == store)
                && content.is_none_or(|c| c == "backup")
            {
                let pctx = Ctx::new(self.ctx.seed, self.ctx.genesis, &p.name);
                for g in ds
                    .groups
                    .iter()
                    .filter(|g| g.ns.is_empty() && g.btype != "host")
                {
                    let vmid: u32 = g.id.parse().unwrap_or(0);
                    if want_vmid.is_some_and(|w| w != vmid as i64) {
                        continue;
                    }
                    for snap in pbs::snapshots(&pctx, &p.name, &ds.name, g, now) {
                        let iso = rfc3339(snap.time);
                        let mut v = json!({"volid": format!("{st}:backup/{}/{}/{}", g.btype, g.id, iso), "content": "backup",
                            "format": format!("pbs-{}", g.btype), "ctime": snap.time, "size": snap.size, "vmid": vmid,
                            "notes": g.comment,
                            "encrypted": if g.encrypted { json!("ab:cd:ef:01:23:45:67:89") } else { Value::Null }});
                        if let Some(m) = v.as_object_mut() {
                            if !g.encrypted {
                                m.remove("encrypted");
                            }
                            if let Some(vs) = snap.verify {
                                m.insert(
                                    "verification".into(),
                                    json!({"state": vs, "upid": snap.verify_upid}),
                                );
                            }
                            if snap.protected {
                                m.insert("protected".into(), json!(1));
                            }
                        }
                        out.push(v);
                    }
                }
            }
            return data(Value::Array(out));
        }
        if s.content.contains("iso") && content.is_none_or(|c| c == "iso") && want_vmid.is_none() {
            out.push(json!({"volid": format!("{st}:iso/debian-13.1.0-amd64-netinst.iso"), "content": "iso", "format": "iso",
                "size": 784_334_848u64, "ctime": self.ctx.genesis - 40 * DAY}));
        }
        if s.content.contains("vztmpl")
            && content.is_none_or(|c| c == "vztmpl")
            && want_vmid.is_none()
        {
            out.push(json!({"volid": format!("{st}:vztmpl/debian-13-standard_13.1-1_amd64.tar.zst"), "content": "vztmpl",
                "format": "tzst", "size": 130_523_136u64, "ctime": self.ctx.genesis - 30 * DAY}));
        }
        if s.content.contains("backup")
            && st == self.c.backup_storage()
            && content.is_none_or(|c| c == "backup")
        {
            let today = now.div_euclid(DAY);
            for g in self.c.guests.iter().filter(|g| g.backup && !g.template) {
                if want_vmid.is_some_and(|w| w != g.vmid as i64) || (!s.shared && g.node != ni) {
                    continue;
                }
                for day in (today - 7)..=today {
                    let start = dy::backup_start(&self.ctx, g, day);
                    let end = start + dy::backup_duration(&self.ctx, g);
                    if end > now || dy::backup_failed(&self.ctx, g, day) {
                        continue;
                    }
                    let ts = vzdump_stamp(start);
                    let (kind, fmt) = if g.kind == Kind::Qemu {
                        ("qemu", "vma.zst")
                    } else {
                        ("lxc", "tar.zst")
                    };
                    let mut v = json!({"volid": format!("{st}:backup/vzdump-{kind}-{}-{ts}.{fmt}", g.vmid), "content": "backup",
                        "format": fmt, "ctime": end, "size": dy::backup_size(&self.ctx, g, day), "vmid": g.vmid,
                        "notes": g.name});
                    if day == today - 7
                        && let Some(m) = v.as_object_mut()
                    {
                        m.insert("protected".into(), json!(1));
                    }
                    out.push(v);
                }
            }
        }
        if s.content.contains("images") && content.is_none_or(|c| c == "images" || c == "rootdir") {
            for g in self.c.guests.iter().filter(|g| s.shared || g.node == ni) {
                if want_vmid.is_some_and(|w| w != g.vmid as i64) {
                    continue;
                }
                let local = if self.c.nodes[g.node].zfs {
                    "local-zfs"
                } else {
                    "local-lvm"
                };
                if st != local {
                    continue;
                }
                let (name, ct) = match g.kind {
                    Kind::Qemu => (format!("vm-{}-disk-0", g.vmid), "images"),
                    Kind::Lxc => (format!("subvol-{}-disk-0", g.vmid), "rootdir"),
                };
                out.push(json!({"volid": format!("{st}:{name}"), "content": ct, "format": if ct == "images" { "raw" } else { "subvol" },
                    "size": g.maxdisk, "used": (g.maxdisk as f64 * g.disk_frac) as u64, "vmid": g.vmid, "ctime": self.ctx.genesis - 200 * DAY}));
            }
        }
        data(Value::Array(out))
    }

    /// Tasks of a node, newest first: nightly vzdump runs (ok, failed, running) plus the
    /// background chatter of a real node (VNC consoles, starts, config edits).
    fn task_list(&self, ni: usize, now: i64) -> Vec<Value> {
        let node = &self.c.nodes[ni].name;
        let today = now.div_euclid(DAY);
        let mut out = Vec::new();
        for g in self
            .c
            .guests
            .iter()
            .filter(|g| g.node == ni && g.backup && !g.template)
        {
            for day in (today - 1)..=today {
                let start = dy::backup_start(&self.ctx, g, day);
                if start > now {
                    continue;
                }
                let end = start + dy::backup_duration(&self.ctx, g);
                let pid = dy::pid_for(&self.ctx, g.vmid as u64, start as u64);
                let id = g.vmid.to_string();
                let u = upid(
                    node,
                    pid,
                    (start as u32).wrapping_mul(7) & 0xFFFFFF,
                    start,
                    "vzdump",
                    &id,
                    "root@pam",
                );
                let mut v = json!({"upid": u, "node": node, "pid": pid, "pstart": (start as u32).wrapping_mul(7) & 0xFFFFFF,
                    "starttime": start, "type": "vzdump", "id": id, "user": "root@pam"});
                if end <= now
                    && let Some(m) = v.as_object_mut()
                {
                    m.insert("endtime".into(), json!(end));
                    m.insert(
                        "status".into(),
                        json!(if dy::backup_failed(&self.ctx, g, day) {
                            "job errors"
                        } else {
                            "OK"
                        }),
                    );
                }
                out.push(v);
            }
        }
        // a few unrelated tasks per hour
        let hour = now.div_euclid(3600);
        for h in (hour - 24)..=hour {
            let r = hash(&[self.ctx.seed, self.ctx.salt, ni as u64, h as u64]);
            let start = h * 3600 + (r % 3000) as i64;
            if start > now {
                continue;
            }
            let (ty, status) = match r % 4 {
                0 => ("vncproxy", "OK"),
                1 => ("qmstart", "OK"),
                2 => (
                    "srvreload",
                    if unit(r) < 0.2 {
                        "command 'ifreload -a' failed: exit code 1"
                    } else {
                        "OK"
                    },
                ),
                _ => ("aptupdate", "OK"),
            };
            let id = if ty == "srvreload" {
                "networking".into()
            } else if ty == "aptupdate" {
                String::new()
            } else {
                (100 + r % 50).to_string()
            };
            let pid = (r % 900_000) as u32 + 1000;
            out.push(json!({"upid": upid(node, pid, (r >> 20) as u32 & 0xFFFFFF, start, ty, &id, "root@pam"), "node": node,
                "pid": pid, "pstart": (r >> 20) as u32 & 0xFFFFFF, "starttime": start, "endtime": start + 1 + (r % 20) as i64,
                "type": ty, "id": id, "user": "root@pam", "status": status}));
        }
        out.sort_by(|a, b| b["starttime"].as_i64().cmp(&a["starttime"].as_i64()));
        out
    }

    fn tasks(&self, req: &Req, ni: usize) -> ApiResult {
        let limit = req.q_int("limit")?.unwrap_or(50).clamp(0, 10_000) as usize;
        let start = req.q_int("start")?.unwrap_or(0).max(0) as usize;
        let typefilter = req.q("typefilter");
        let vmid = req.q_int("vmid")?;
        let errors = req.q_bool("errors")?;
        let all: Vec<Value> = self
            .task_list(ni, req.now())
            .into_iter()
            .filter(|t| typefilter.is_none_or(|f| t["type"] == f))
            .filter(|t| {
                vmid.is_none_or(|v| t["id"].as_str().and_then(|s| s.parse::<i64>().ok()) == Some(v))
            })
            .filter(|t| !errors || t.get("status").is_some_and(|s| s != "OK"))
            .collect();
        let total = all.len();
        let out: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
        Ok(with_total(Value::Array(out), total))
    }

    /// `/cluster/tasks`: like PVE, the recent tasks each node shares with the cluster (its
    /// newest `CLUSTER_TASKS_PER_NODE`), newest first.
    fn cluster_tasks(&self, req: &Req) -> ApiResult {
        const CLUSTER_TASKS_PER_NODE: usize = 50;
        let now = req.now();
        let mut all: Vec<Value> = Vec::new();
        for ni in 0..self.c.nodes.len() {
            let mut list = self.task_list(ni, now);
            list.sort_by_key(|t| std::cmp::Reverse(t["starttime"].as_i64().unwrap_or(0)));
            all.extend(list.into_iter().take(CLUSTER_TASKS_PER_NODE));
        }
        all.sort_by_key(|t| std::cmp::Reverse(t["starttime"].as_i64().unwrap_or(0)));
        data(Value::Array(all))
    }

    fn task_status(&self, req: &Req, ni: usize, upid: &str) -> ApiResult {
        let parts: Vec<&str> = upid.split(':').collect();
        if parts.len() != 9 || parts[0] != "UPID" {
            return Err(ApiError::param("upid", "unable to parse worker upid"));
        }
        let found = self
            .task_list(ni, req.now())
            .into_iter()
            .find(|t| t["upid"] == upid);
        let Some(mut t) = found else {
            return Err(ApiError::new(500, format!("no such task '{upid}'")));
        };
        if let Some(m) = t.as_object_mut() {
            m.remove("endtime");
            match m.remove("status") {
                Some(s) => {
                    m.insert("status".into(), json!("stopped"));
                    m.insert("exitstatus".into(), s);
                }
                None => {
                    m.insert("status".into(), json!("running"));
                }
            }
        }
        data(t)
    }

    fn disks(&self, ni: usize) -> ApiResult {
        let out: Vec<Value> = self.c.nodes[ni]
            .disks
            .iter()
            .map(|d| {
                json!({"devpath": d.devpath, "model": d.model, "vendor": d.vendor, "serial": d.serial, "wwn": d.wwn,
                    "type": d.dtype, "size": d.size, "rpm": d.rpm, "health": d.health, "gpt": 1,
                    "wearout": d.wearout.map(|w| w.to_string()).unwrap_or_else(|| "N/A".into()),
                    "used": d.used, "mounted": (d.used == "ext4") as u8, "osdid": d.osd.map(|o| o as i64).unwrap_or(-1),
                    "osdid-list": d.osd.map(|o| json!([o])).unwrap_or(Value::Null)})
            })
            .collect();
        data(Value::Array(out))
    }

    fn smart(&self, req: &Req, ni: usize) -> ApiResult {
        let Some(dev) = req.q("disk") else {
            return Err(ApiError::param(
                "disk",
                "property is missing and it is not optional",
            ));
        };
        let Some(d) = self.c.nodes[ni].disks.iter().find(|d| d.devpath == dev) else {
            return Err(ApiError::param(
                "disk",
                format!("invalid format - invalid disk path '{dev}'"),
            ));
        };
        let hours = (req.now() - self.c.nodes[ni].boot + 20_000 * 3600) / 3600;
        let attr = |id: &str,
                    name: &str,
                    val: u32,
                    worst: u32,
                    thr: u32,
                    raw: String,
                    flags: &str| {
            json!({"id": id, "name": name, "value": val, "normalized": val, "worst": worst, "threshold": thr,
                "raw": raw, "flags": flags, "fail": if val <= thr && thr > 0 { "FAILING_NOW" } else { "-" }})
        };
        if d.dtype == "nvme" {
            let text = format!(
                "\nSMART/Health Information (NVMe Log 0x02)\nCritical Warning:                   0x00\nTemperature:                        38 Celsius\nAvailable Spare:                    100%\nPercentage Used:                    {}%\nPower On Hours:                     {hours}\n",
                100 - d.wearout.unwrap_or(100)
            );
            return data(
                json!({"health": d.health, "type": "text", "text": text, "wearout": d.wearout.unwrap_or(100)}),
            );
        }
        let realloc = if d.health == "FAILED" { 2000 } else { 0 };
        let mut attrs = vec![
            attr(
                "  5",
                "Reallocated_Sector_Ct",
                if realloc > 0 { 5 } else { 100 },
                100,
                10,
                realloc.to_string(),
                "PO--CK",
            ),
            attr(
                "  9",
                "Power_On_Hours",
                99,
                99,
                0,
                hours.to_string(),
                "-O--CK",
            ),
            attr(
                " 12",
                "Power_Cycle_Count",
                100,
                100,
                0,
                "42".into(),
                "-O--CK",
            ),
            attr(
                "194",
                "Temperature_Celsius",
                64,
                55,
                0,
                "36 (Min/Max 18/45)".into(),
                "-O---K",
            ),
        ];
        if let Some(w) = d.wearout {
            attrs.push(attr(
                "177",
                "Wear_Leveling_Count",
                w,
                w,
                0,
                ((100 - w) * 30).to_string(),
                "PO--C-",
            ));
        }
        let mut v = json!({"health": d.health, "type": "ata", "attributes": attrs});
        if let (Some(w), Some(m)) = (d.wearout, v.as_object_mut()) {
            m.insert("wearout".into(), json!(w));
        }
        data(v)
    }

    fn zfs_list(&self, req: &Req, ni: usize) -> ApiResult {
        let n = &self.c.nodes[ni];
        if !n.zfs {
            return data(json!([]));
        }
        let total = self
            .c
            .storages
            .iter()
            .find(|s| s.stype == "zfspool")
            .map(|s| s.total)
            .unwrap_or(1 << 40);
        let used = dy::storage_used(&self.ctx, "rpool", total, 0.4, req.now_ms);
        let degraded = unit(hash(&[self.ctx.seed, self.ctx.salt, ni as u64, 0x2f5])) < 0.25;
        data(
            json!([{"name": "rpool", "size": total, "alloc": used, "free": total - used, "frag": 12, "dedup": 1.0,
            "health": if degraded { "DEGRADED" } else { "ONLINE" }}]),
        )
    }

    fn zfs_detail(&self, req: &Req, ni: usize, pool: &str) -> ApiResult {
        let list = self.zfs_list(req, ni)?;
        let Some(p) = list
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == pool))
            .cloned()
        else {
            return Err(ApiError::new(500, format!("zpool '{pool}' not found")));
        };
        let degraded = p["health"] == "DEGRADED";
        let leaf = |name: &str, state: &str, cksum: u32| json!({"name": name, "state": state, "read": 0, "write": 0, "cksum": cksum, "msg": "", "leaf": 1});
        data(
            json!({"name": pool, "state": p["health"], "errors": "No known data errors",
            "scan": "scrub repaired 0B in 00:12:44 with 0 errors on Sun Nov  9 00:36:45 2025",
            "status": if degraded { "One or more devices could not be used because the label is missing or\ninvalid.  Sufficient replicas exist for the pool to continue\nfunctioning in a degraded state." } else { "" },
            "action": if degraded { "Replace the device using 'zpool replace'." } else { "" },
            "children": [{"name": "mirror-0", "state": p["health"], "read": 0, "write": 0, "cksum": 0, "msg": "",
                "children": [leaf("sda3", "ONLINE", 0), leaf("sdb3", if degraded { "FAULTED" } else { "ONLINE" }, if degraded { 7 } else { 0 })]}]}),
        )
    }

    fn cluster_status(&self) -> ApiResult {
        let mut out = Vec::new();
        let online = (0..self.c.nodes.len()).filter(|i| self.online(*i)).count();
        if !self.c.standalone {
            out.push(json!({"type": "cluster", "id": "cluster", "name": self.c.name, "nodes": self.c.nodes.len(),
                "quorate": (online * 2 > self.c.nodes.len()) as u8, "version": 4 + self.c.nodes.len()}));
        }
        for (i, n) in self.c.nodes.iter().enumerate() {
            out.push(json!({"type": "node", "id": format!("node/{}", n.name), "name": n.name,
                "nodeid": if self.c.standalone { 0 } else { n.nodeid }, "ip": self.ip, "local": (i == 0) as u8,
                "online": self.online(i) as u8, "level": n.level}));
        }
        data(Value::Array(out))
    }

    fn backup_jobs(&self, req: &Req) -> ApiResult {
        let vmids: Vec<String> = self
            .c
            .guests
            .iter()
            .filter(|g| g.backup && !g.template)
            .map(|g| g.vmid.to_string())
            .collect();
        let next = |hour: i64| {
            let t = req.now().div_euclid(DAY) * DAY + hour * 3600;
            if t > req.now() { t } else { t + DAY }
        };
        let mut jobs = vec![
            json!({"id": "backup-nightly", "type": "vzdump", "schedule": "01:00", "storage": self.c.backup_storage(),
            "mode": "snapshot", "compress": "zstd", "enabled": 1, "vmid": vmids.join(","), "notes-template": "{{guestname}}",
            "prune-backups": {"keep-daily": 7}, "mailnotification": "failure", "next-run": next(1)}),
        ];
        if let Some(pbs) = self.c.storages.iter().find(|s| s.stype == "pbs") {
            // weekly full run of everything to PBS, currently switched off
            jobs.push(json!({"id": "backup-weekly-pbs", "type": "vzdump", "schedule": "sat 02:00", "storage": pbs.name,
                "mode": "snapshot", "enabled": 0, "all": 1, "mailto": "ops@example.com", "prune-backups": {"keep-weekly": 8}}));
        }
        data(Value::Array(jobs))
    }

    fn replication_cfg(&self) -> ApiResult {
        let out: Vec<Value> = self
            .c
            .replication
            .iter()
            .map(|r| {
                let mut v = json!({"id": format!("{}-{}", r.guest, r.jobnum), "guest": r.guest, "jobnum": r.jobnum,
                    "type": "local", "source": self.c.nodes[r.source].name, "target": self.c.nodes[r.target].name,
                    "schedule": r.schedule, "digest": "0e4b5b7b9c5b1b9e1b1e0a4c1b6c9d8e7f6a5b4c"});
                if let (Some(rate), Some(m)) = (r.rate, v.as_object_mut()) {
                    m.insert("rate".into(), json!(rate));
                }
                v
            })
            .collect();
        data(Value::Array(out))
    }

    fn replication_status(&self, req: &Req, ni: usize) -> ApiResult {
        let now = req.now();
        let out: Vec<Value> = self
            .c
            .replication
            .iter()
            .filter(|r| r.source == ni)
            .map(|r| {
                let every = if r.schedule == "*/15" { 900 } else { 1800 };
                let last = now.div_euclid(every) * every;
                let dur = 5.0 + (hash(&[r.guest as u64, last as u64]) % 40) as f64 + 0.25;
                let mut v = json!({"id": format!("{}-{}", r.guest, r.jobnum), "guest": r.guest, "jobnum": r.jobnum, "type": "local",
                    "source": self.c.nodes[r.source].name, "target": self.c.nodes[r.target].name, "schedule": r.schedule,
                    "vmtype": "qemu", "next_sync": last + every, "duration": dur, "last_try": last, "fail_count": 0});
                if let Some(m) = v.as_object_mut() {
                    if r.failing {
                        m.insert("fail_count".into(), json!(3));
                        m.insert("error".into(), json!("command 'zfs snapshot' failed: got timeout"));
                        m.insert("last_sync".into(), json!(last - 3 * every));
                    } else {
                        m.insert("last_sync".into(), json!(last));
                    }
                }
                v
            })
            .collect();
        data(Value::Array(out))
    }

    fn ceph_status(&self) -> ApiResult {
        let Some(ceph) = &self.c.ceph else {
            return Err(ApiError::new(
                500,
                "binary not installed: /usr/bin/ceph-mon",
            ));
        };
        let up = ceph.osds.iter().filter(|o| o.up).count();
        let inn = ceph.osds.iter().filter(|o| o.inn).count();
        let total: u64 = ceph.osds.iter().map(|o| o.size).sum();
        let used = (total as f64 * 0.3) as u64;
        let mut checks = Map::new();
        if ceph.health != "HEALTH_OK" {
            checks.insert("OSD_DOWN".into(), json!({"severity": "HEALTH_WARN", "muted": false,
                "summary": {"message": "1 osds down", "count": 1}, "detail": [{"message": format!("osd.{} is down", ceph.osds.first().map(|o| o.id).unwrap_or(0))}]}));
        }
        if ceph.health == "HEALTH_ERR" {
            checks.insert("PG_DAMAGED".into(), json!({"severity": "HEALTH_ERR", "muted": false,
                "summary": {"message": "Possible data damage: 1 pg inconsistent", "count": 1}, "detail": [{"message": "pg 2.1f is active+clean+inconsistent, acting [0,3,5]"}]}));
        }
        let mons: Vec<String> = ceph
            .mons
            .iter()
            .map(|i| self.c.nodes[*i].name.clone())
            .collect();
        let daemons = |names: &[String]| -> Value {
            let mut m = Map::new();
            for n in names {
                m.insert(n.clone(), json!({"hostname": n, "status": "running"}));
            }
            Value::Object(m)
        };
        data(json!({
            "fsid": ceph.fsid,
            "health": {"status": ceph.health, "checks": checks, "mutes": []},
            "election_epoch": 42, "quorum": (0..mons.len()).collect::<Vec<_>>(), "quorum_names": mons,
            "monmap": {"epoch": 3, "fsid": ceph.fsid, "num_mons": mons.len()},
            "osdmap": {"epoch": 1200, "num_osds": ceph.osds.len(), "num_up_osds": up, "osd_up_since": 0,
                "num_in_osds": inn, "osd_in_since": 0, "num_remapped_pgs": 0},
            "pgmap": {"pgs_by_state": [{"state_name": "active+clean", "count": ceph.pgs}], "num_pgs": ceph.pgs,
                "num_pools": ceph.pools.len(), "num_objects": used / 4_194_304, "data_bytes": used / 3,
                "bytes_used": used, "bytes_avail": total - used, "bytes_total": total},
            "servicemap": {"epoch": 10, "modified": "2025-11-01T00:00:00.000000+0000", "services": {
                "mon": {"daemons": daemons(&mons)}, "mgr": {"daemons": daemons(&mons[..1.min(mons.len())])}}},
            "fsmap": {"epoch": 5, "up": 1, "in": 1, "max": 1, "by_rank": []},
            "mgrmap": {"available": true, "num_standbys": mons.len().saturating_sub(1)},
        }))
    }

    fn ceph_pools(&self, req: &Req) -> ApiResult {
        let Some(ceph) = &self.c.ceph else {
            return Err(ApiError::new(
                500,
                "binary not installed: /usr/bin/ceph-mon",
            ));
        };
        let total: u64 = ceph.osds.iter().map(|o| o.size).sum::<u64>() / 3;
        let out: Vec<Value> = ceph
            .pools
            .iter()
            .map(|p| {
                let used = dy::storage_used(&self.ctx, &p.name, total, p.used_frac, req.now_ms);
                json!({"pool": p.id, "pool_name": p.name, "size": p.size, "min_size": p.min_size, "pg_num": p.pg_num,
                    "pg_autoscale_mode": "on", "crush_rule": 0, "crush_rule_name": "replicated_rule", "type": "replicated",
                    "bytes_used": used, "percent_used": used as f64 / total.max(1) as f64, "application_metadata": {"rbd": {}}})
            })
            .collect();
        data(Value::Array(out))
    }

    fn ceph_osd(&self) -> ApiResult {
        let Some(ceph) = &self.c.ceph else {
            return Err(ApiError::new(
                500,
                "binary not installed: /usr/bin/ceph-mon",
            ));
        };
        let hosts: Vec<Value> = self
            .c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let osds: Vec<Value> = ceph.osds.iter().filter(|o| o.node == i).map(|o| json!({
                    "id": o.id, "name": format!("osd.{}", o.id), "type": "osd", "status": if o.up { "up" } else { "down" },
                    "in": o.inn as u8, "crush_weight": o.size as f64 / 1e12, "device_class": "ssd", "host": n.name,
                    "leaf": 1, "total_space": o.size, "bytes_used": o.size / 3, "percent_used": 33.3, "osdtype": "bluestore"})).collect();
                json!({"id": -(i as i64) - 2, "name": n.name, "type": "host", "children": osds})
            })
            .collect();
        data(
            json!({"root": {"name": "default", "type": "root", "id": -1, "children": hosts}, "flags": ""}),
        )
    }
}

fn blockstat(rd: u64, wr: u64) -> Value {
    json!({"rd_bytes": rd, "wr_bytes": wr, "rd_operations": rd / 4096, "wr_operations": wr / 4096,
        "flush_operations": wr / 65536, "rd_total_time_ns": rd * 3, "wr_total_time_ns": wr * 5, "flush_total_time_ns": wr,
        "rd_merged": 0, "wr_merged": 0, "unmap_operations": 0, "unmap_bytes": 0, "unmap_merged": 0, "unmap_total_time_ns": 0,
        "failed_rd_operations": 0, "failed_wr_operations": 0, "failed_flush_operations": 0, "failed_unmap_operations": 0,
        "invalid_rd_operations": 0, "invalid_wr_operations": 0, "invalid_flush_operations": 0, "invalid_unmap_operations": 0,
        "account_failed": true, "account_invalid": true, "idle_time_ns": 1_000_000, "wr_highest_offset": wr, "timed_stats": []})
}
