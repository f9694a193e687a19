//! Guests from one bulk `/cluster/resources?type=vm` (spec §5.2), refined by the per-guest
//! calls made only for running guests: VM `status/current` (§5.3), guest-agent data, CT
//! `status/current` + config (§5.6).

use super::fs::FsSummary;
use super::{finite, pct};
use crate::model::{Disk, Guest, GuestNetworkInterface, Memory};
use crate::proxmox::types::pve::{
    AgentInfo, AgentInterface, ClusterResource, GuestListItem, LxcConfig, LxcInterface, LxcStatus,
    OsInfo, QemuStatus,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// `<node>-<vmid>` when the instance is named like the node, else `<instance>-<node>-<vmid>`.
/// Built by hand: it is made for every guest of every cycle, and `format!` cost several
/// times more.
pub fn guest_id(instance: &str, node: &str, vmid: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = vmid;
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = std::str::from_utf8(&digits[at..]).unwrap_or_default();
    let mut id = String::with_capacity(instance.len() + node.len() + digits.len() + 2);
    if instance != node {
        id.push_str(instance);
        id.push('-');
    }
    id.push_str(node);
    id.push('-');
    id.push_str(digits);
    id
}

/// PVE separates tags with `;` (older versions also accepted `,` and spaces); the model joins
/// them with `,`.
pub fn tags(raw: &str) -> String {
    let mut out = String::new();
    for t in raw
        .split([';', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(t);
    }
    out
}

/// Texts that many guests share (instance, node and status names): one `Arc` each, kept
/// from cycle to cycle, instead of a new string per guest per cycle.
#[derive(Default)]
pub struct SharedTexts(std::collections::HashSet<Arc<str>>);

impl SharedTexts {
    /// More distinct texts than any cluster has nodes and states: a sign of churn (renamed
    /// nodes), so the set starts over.
    const MAX: usize = 4096;

    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(t) = self.0.get(text) {
            return t.clone();
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        let t: Arc<str> = Arc::from(text);
        self.0.insert(t.clone());
        t
    }
}

/// Which resources become guests: VMs/CTs with a vmid, not templates, of a monitored kind.
pub fn is_guest(r: &ClusterResource, vms: bool, cts: bool) -> bool {
    r.vmid.is_some() && !r.template && ((r.kind == "qemu" && vms) || (r.kind == "lxc" && cts))
}

/// The model's kind of a guest resource.
pub fn kind(r: &ClusterResource) -> &'static str {
    if r.kind == "lxc" { "lxc" } else { "qemu" }
}

/// The guest as `/cluster/resources` describes it (before per-guest refinements).
/// `node` is `r.node` as the cycle's shared text (the caller already has it).
pub fn from_resource(
    texts: &mut SharedTexts,
    instance: &str,
    node: Arc<str>,
    r: &ClusterResource,
    now_ms: i64,
) -> Guest {
    let vmid = r.vmid.unwrap_or(0);
    let kind = kind(r);
    let disk_used = r.disk.min(r.maxdisk);
    Guest {
        id: guest_id(instance, &r.node, vmid),
        vmid: vmid as u32,
        name: r.name.clone(),
        node,
        instance: texts.get(instance),
        status: texts.get(&r.status),
        kind,
        cpu: finite(r.cpu),
        cpus: finite(r.maxcpu) as u32,
        memory: Some(Memory::from_used(r.maxmem, r.mem)),
        mem: r.mem.min(r.maxmem),
        maxmem: r.maxmem,
        disk: Some(Disk {
            total: r.maxdisk,
            used: disk_used,
            free: r.maxdisk - disk_used,
            usage: pct(disk_used, r.maxdisk),
            ..Default::default()
        }),
        uptime: r.uptime,
        template: false,
        tags: tags(&r.tags),
        // The reference never shows it; a guest locked for backup/migration/snapshot is
        // exactly what a user wants to see.
        lock: Some(r.lock.trim().to_owned()).filter(|l| !l.is_empty()),
        last_seen: now_ms,
        ..Default::default()
    }
}

/// A per-node `qemu`/`lxc` list entry as the `/cluster/resources` entry it stands for
/// (fallback path; `cpus` there is `maxcpu` here).
pub fn resource_from_list(
    node: &str,
    kind: crate::proxmox::pve::GuestKind,
    i: &GuestListItem,
) -> ClusterResource {
    let kind = match kind {
        crate::proxmox::pve::GuestKind::Qemu => "qemu",
        crate::proxmox::pve::GuestKind::Lxc => "lxc",
    };
    ClusterResource {
        id: format!("{kind}/{}", i.vmid.unwrap_or(0)),
        kind: kind.to_owned(),
        node: node.to_owned(),
        status: i.status.clone(),
        name: i.name.clone(),
        vmid: i.vmid,
        cpu: i.cpu,
        maxcpu: i.cpus,
        mem: i.mem,
        maxmem: i.maxmem,
        disk: i.disk,
        maxdisk: i.maxdisk,
        netin: i.netin,
        netout: i.netout,
        diskread: i.diskread,
        diskwrite: i.diskwrite,
        uptime: i.uptime,
        template: i.template,
        tags: i.tags.clone(),
        lock: i.lock.clone(),
        ..Default::default()
    }
}

/// The four cumulative counters, always from `/cluster/resources` (asked every cycle, while
/// `status/current` is asked about once a minute: one source keeps the rates steady).
pub fn counters(r: &ClusterResource) -> [u64; 4] {
    [r.diskread, r.diskwrite, r.netin, r.netout]
}

/// VM memory from a `status/current` that may be older than this cycle: the §5.3 algorithm
/// on that status, with `used` moved by how much the resources' `mem` changed since the
/// status was sampled (`resources_mem_then`), capped to 0..total. With a fresh status (no
/// change) this is exactly `vm_memory`; between refreshes it follows the current resources
/// figure without switching source, so values do not flip from cycle to cycle.
pub fn vm_memory_since(
    r: &ClusterResource,
    s: Option<&QemuStatus>,
    resources_mem_then: u64,
    running: bool,
) -> Memory {
    let m = vm_memory(r, s, running);
    if !running || s.is_none() || r.mem == resources_mem_then {
        return m;
    }
    let moved = i128::from(m.used) + i128::from(r.mem) - i128::from(resources_mem_then);
    let used = moved.clamp(0, i128::from(m.total)) as u64;
    let mut out = Memory::from_used(m.total, used);
    out.balloon = m.balloon;
    out
}

/// VM memory (spec §5.3): cache-aware `meminfo` first, balloon as the effective total.
pub fn vm_memory(r: &ClusterResource, s: Option<&QemuStatus>, running: bool) -> Memory {
    if !running {
        return Memory::from_used(r.maxmem, 0);
    }
    let Some(s) = s else {
        return Memory::from_used(r.maxmem, r.mem);
    };
    let mi = &s.meminfo;
    let available = if mi.available > 0 {
        mi.available
    } else {
        mi.free.saturating_add(mi.buffers).saturating_add(mi.cached)
    };
    let maxmem = if s.maxmem > 0 { s.maxmem } else { r.maxmem };
    let total = if s.balloon > 0 && s.balloon < maxmem {
        s.balloon
    } else {
        maxmem
    };
    let used = if available > 0 {
        total - available.min(total)
    } else if s.freemem > 0 && s.freemem <= total {
        total - s.freemem
    } else if s.mem > 0 {
        s.mem
    } else {
        r.mem
    };
    let mut m = Memory::from_used(total, used);
    m.balloon = Some(s.balloon).filter(|b| *b > 0);
    m
}

/// VM disk: allocated size, with usage −1 ("unknown") unless the agent reported filesystems.
pub fn vm_disk(r: &ClusterResource, fs: Option<&FsSummary>) -> (Option<Disk>, Arc<[Disk]>) {
    let total = r.maxdisk;
    let used = r.disk.min(total);
    let unknown = Disk {
        total,
        used,
        free: total - used,
        usage: if total > 0 && used == 0 {
            -1.0
        } else {
            pct(used, total)
        },
        ..Default::default()
    };
    let Some(fs) = fs else {
        // Agent off or not answering: only the allocation is known.
        let mut d = unknown;
        if total > 0 {
            d.usage = -1.0;
        }
        return (Some(d), Arc::default());
    };
    match fs {
        &FsSummary::Usage {
            total,
            used,
            ref disks,
        } => (
            Some(Disk {
                total,
                used,
                free: total - used,
                usage: pct(used, total),
                ..Default::default()
            }),
            disks.clone(),
        ),
        FsSummary::OnlySpecial => {
            let mut d = unknown;
            if d.total > 0 {
                d.usage = -1.0;
            }
            (Some(d), Arc::default())
        }
        FsSummary::Empty => (Some(unknown), Arc::default()),
    }
}

/// Why a running VM with an agent has no disk usage (`None` = it has).
pub fn fs_reason(summary: &FsSummary) -> Option<&'static str> {
    match summary {
        FsSummary::Usage { .. } => None,
        FsSummary::OnlySpecial => Some("special-filesystems-only"),
        FsSummary::Empty => Some("no-filesystems"),
    }
}

/// `diskStatusReason` for a failed agent call.
pub fn agent_failure_reason(e: &crate::proxmox::ProxmoxError) -> &'static str {
    use crate::proxmox::ErrorKind as K;
    let text = e.to_string().to_ascii_lowercase();
    match e.kind() {
        K::Timeout => "agent-timeout",
        K::Auth => "permission-denied",
        _ if text.contains("not running") => "agent-not-running",
        _ if text.contains("timeout") || text.contains("timed out") => "agent-timeout",
        _ => "agent-error",
    }
}

/// Not running: no CPU, no usage figures, no rates (memory used/free keep their values).
pub fn zero_if_not_running(g: &mut Guest) {
    if &*g.status == "running" {
        return;
    }
    g.cpu = 0.0;
    if let Some(m) = g.memory.as_mut() {
        m.usage = 0.0;
    }
    if let Some(d) = g.disk.as_mut() {
        d.usage = 0.0;
    }
    g.network_in = 0;
    g.network_out = 0;
    g.disk_read = 0;
    g.disk_write = 0;
}

fn keep_address(ip: &str) -> Option<String> {
    let ip = ip.trim();
    let ip = ip.split('%').next().unwrap_or("");
    let ip = ip.split('/').next().unwrap_or("");
    let lower = ip.to_ascii_lowercase();
    let junk = [
        "", "dhcp", "manual", "static", "auto", "none", "n/a", "unknown", "0.0.0.0", "::", "::1",
    ];
    if junk.contains(&lower.as_str()) || lower.starts_with("127.") || lower.starts_with("fe80") {
        None
    } else {
        Some(ip.to_owned())
    }
}

/// Agent `network-get-interfaces` → interfaces (loopback/link-local dropped, sorted) and
/// the union of their addresses.
pub fn agent_network(list: &[AgentInterface]) -> (Vec<GuestNetworkInterface>, Vec<String>) {
    let mut all = BTreeSet::new();
    let mut out = Vec::new();
    for i in list {
        let addrs: BTreeSet<String> = i
            .ip_addresses
            .iter()
            .filter_map(|a| keep_address(&a.ip_address))
            .collect();
        let (rx, tx) = i
            .statistics
            .as_ref()
            .map(|s| (s.rx_bytes, s.tx_bytes))
            .unwrap_or((0, 0));
        // Loopback is never interesting; an interface without address or traffic neither.
        if i.name == "lo" || (addrs.is_empty() && rx == 0 && tx == 0) {
            continue;
        }
        all.extend(addrs.iter().cloned());
        out.push(GuestNetworkInterface {
            name: i.name.clone(),
            mac: Some(i.hardware_address.clone()).filter(|m| !m.is_empty()),
            addresses: addrs.into_iter().collect(),
            rx_bytes: i.statistics.as_ref().map(|s| s.rx_bytes),
            tx_bytes: i.statistics.as_ref().map(|s| s.tx_bytes),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, all.into_iter().collect())
}

/// `get-osinfo` → (osName, osVersion); the version is dropped when it only repeats the name.
pub fn os_name_version(o: &OsInfo) -> (Option<String>, Option<String>) {
    let first = |c: &[&String]| {
        c.iter()
            .find(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_owned())
    };
    let name = first(&[&o.name, &o.pretty_name, &o.id]);
    let pretty = Some(&o.pretty_name).filter(|p| Some(p.trim()) != name.as_deref());
    let mut cands = vec![&o.version, &o.version_id];
    if let Some(p) = pretty {
        cands.push(p);
    }
    cands.push(&o.kernel_release);
    let version = first(&cands).filter(|v| Some(v) != name.as_ref());
    (name, version)
}

/// `agent/info` → version (a string or `{version}`), else `qemu-ga`.
pub fn agent_version(i: &AgentInfo) -> Option<String> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Object(m) => m
            .get("version")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        _ => None,
    };
    text(&i.version).or_else(|| text(&i.qemu_ga))
}

/// CT disks: `diskinfo` entries when present (rootfs → `/`, mpN → its `mp=`), else one
/// synthetic root entry copied from the aggregate disk.
pub fn lxc_disks(disk: &Disk, status: Option<&LxcStatus>, config: Option<&LxcConfig>) -> Vec<Disk> {
    let root_device = config
        .and_then(|c| c.get("rootfs"))
        .map(|v| v.split(',').next().unwrap_or("").to_owned())
        .filter(|v| !v.is_empty());
    let mps: BTreeMap<String, String> = config
        .map(|c| {
            c.mount_points()
                .into_iter()
                .filter_map(|(k, o)| Some((k, o.get("mp")?.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut out: Vec<Disk> = status
        .map(|s| {
            s.diskinfo
                .iter()
                .map(|(name, d)| {
                    let (mp, kind) = if name == "rootfs" {
                        ("/".to_owned(), "rootfs".to_owned())
                    } else {
                        (
                            mps.get(name).cloned().unwrap_or_else(|| name.clone()),
                            name.to_ascii_lowercase(),
                        )
                    };
                    let used = d.used.min(d.total);
                    Disk {
                        total: d.total,
                        used,
                        free: d.total - used,
                        usage: pct(used, d.total),
                        device: if name == "rootfs" {
                            root_device.clone()
                        } else {
                            None
                        },
                        mountpoint: Some(mp),
                        kind: Some(kind),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        out.push(Disk {
            mountpoint: Some("/".into()),
            kind: Some("rootfs".into()),
            device: root_device,
            ..disk.clone()
        });
    }
    out.sort_by(|a, b| a.mountpoint.cmp(&b.mountpoint));
    out
}

fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.extend(s.split([',', ' ']).map(str::to_owned)),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| json_strings(x, out)),
        _ => {}
    }
}

/// CT addresses and interfaces from status/current, config `netN` and (if still no address)
/// the `/interfaces` call.
pub fn lxc_network(
    status: Option<&LxcStatus>,
    config: Option<&LxcConfig>,
    ifaces: &[LxcInterface],
) -> (Vec<GuestNetworkInterface>, Vec<String>) {
    let mut raw = Vec::new();
    let mut nics: BTreeMap<String, GuestNetworkInterface> = BTreeMap::new();
    if let Some(s) = status {
        for l in [&s.ip, &s.ip6, &s.ipv4, &s.ipv6] {
            raw.extend(l.iter().cloned());
        }
        if let serde_json::Value::Object(m) = &s.network {
            for (name, v) in m {
                let mut addrs = Vec::new();
                for key in ["ip", "ip6", "ipv4", "ipv6", "ip-addresses", "inet", "inet6"] {
                    if let Some(x) = v.get(key) {
                        json_strings(x, &mut addrs);
                    }
                }
                raw.extend(addrs.iter().cloned());
                let e = nics
                    .entry(name.clone())
                    .or_insert_with(|| GuestNetworkInterface {
                        name: name.clone(),
                        ..Default::default()
                    });
                e.addresses
                    .extend(addrs.iter().filter_map(|a| keep_address(a)));
                if let Some(mac) = v.get("hwaddr").and_then(|m| m.as_str()) {
                    e.mac = Some(mac.to_ascii_uppercase());
                }
            }
        }
    }
    if let Some(c) = config {
        for (key, o) in c.nets() {
            let name = o.get("name").cloned().unwrap_or(key);
            let mut addrs = Vec::new();
            for k in ["ip", "ip6"] {
                if let Some(v) = o.get(k) {
                    addrs.push(v.clone());
                }
            }
            raw.extend(addrs.iter().cloned());
            let e = nics
                .entry(name.clone())
                .or_insert_with(|| GuestNetworkInterface {
                    name,
                    ..Default::default()
                });
            e.addresses
                .extend(addrs.iter().filter_map(|a| keep_address(a)));
            if let Some(mac) = o.get("hwaddr") {
                e.mac = Some(mac.to_ascii_uppercase());
            }
        }
    }
    let have_any = raw.iter().any(|a| keep_address(a).is_some());
    if !have_any {
        for i in ifaces {
            let mut addrs: Vec<String> = i
                .ip_addresses
                .iter()
                .map(|a| a.ip_address.clone())
                .collect();
            addrs.extend([i.inet.clone(), i.inet6.clone()]);
            raw.extend(addrs.iter().cloned());
            if i.name == "lo" {
                continue;
            }
            let mac = [&i.hwaddr, &i.hardware_address]
                .into_iter()
                .find(|m| !m.is_empty())
                .map(|m| m.to_ascii_uppercase());
            let e = nics
                .entry(i.name.clone())
                .or_insert_with(|| GuestNetworkInterface {
                    name: i.name.clone(),
                    ..Default::default()
                });
            e.addresses
                .extend(addrs.iter().filter_map(|a| keep_address(a)));
            if e.mac.is_none() {
                e.mac = mac;
            }
        }
    }
    let ips: BTreeSet<String> = raw.iter().filter_map(|a| keep_address(a)).collect();
    let nics = nics
        .into_values()
        .map(|mut n| {
            let set: BTreeSet<String> = n.addresses.drain(..).collect();
            n.addresses = set.into_iter().collect();
            n
        })
        .collect();
    (nics, ips.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poller::map::fs::summarize;
    use crate::proxmox::types::pve::FsInfo;
    use crate::proxmox::types::pve::{AgentIfStats, AgentIpAddress, GuestMemInfo, LxcDiskInfo};

    fn res(kind: &str, vmid: u64, status: &str) -> ClusterResource {
        ClusterResource {
            id: format!("{kind}/{vmid}"),
            kind: kind.into(),
            node: "pve1".into(),
            status: status.into(),
            name: "g".into(),
            vmid: Some(vmid),
            cpu: 0.5,
            maxcpu: 2.0,
            mem: 600,
            maxmem: 1000,
            disk: 0,
            maxdisk: 10_000,
            ..Default::default()
        }
    }

    #[test]
    fn fallback_list_items_keep_normal_ids() {
        let i = GuestListItem {
            vmid: Some(101),
            name: "ct".into(),
            status: "running".into(),
            cpus: 1.5,
            maxmem: 10,
            mem: 4,
            ..Default::default()
        };
        let r = resource_from_list("pve2", crate::proxmox::pve::GuestKind::Lxc, &i);
        assert_eq!(
            (r.kind.as_str(), r.node.as_str(), r.maxcpu),
            ("lxc", "pve2", 1.5)
        );
        let g = from_resource(
            &mut SharedTexts::default(),
            "home",
            r.node.as_str().into(),
            &r,
            0,
        );
        assert_eq!((g.id.as_str(), g.kind, g.cpus), ("home-pve2-101", "lxc", 1));
    }

    #[test]
    fn disk_status_reasons() {
        use crate::proxmox::ProxmoxError;
        let fs = |kind: &str| FsInfo {
            mountpoint: "/x".into(),
            kind: kind.into(),
            total_bytes: Some(10),
            used_bytes: Some(1),
            ..Default::default()
        };
        assert_eq!(fs_reason(&summarize(&[fs("ext4")])), None);
        assert_eq!(
            fs_reason(&summarize(&[fs("tmpfs")])),
            Some("special-filesystems-only")
        );
        assert_eq!(fs_reason(&summarize(&[])), Some("no-filesystems"));
        let agent = ProxmoxError::Agent {
            path: "/a".into(),
            message: "CommandNotFound: x".into(),
        };
        assert_eq!(agent_failure_reason(&agent), "agent-error");
    }

    #[test]
    fn lock_and_last_backup() {
        let mut r = res("qemu", 100, "running");
        assert_eq!(
            from_resource(
                &mut SharedTexts::default(),
                "h",
                r.node.as_str().into(),
                &r,
                0
            )
            .lock,
            None
        );
        r.lock = "backup".into();
        assert_eq!(
            from_resource(
                &mut SharedTexts::default(),
                "h",
                r.node.as_str().into(),
                &r,
                0
            )
            .lock
            .as_deref(),
            Some("backup")
        );
    }

    #[test]
    fn ids_and_tags() {
        assert_eq!(guest_id("home", "pve1", 101), "home-pve1-101");
        assert_eq!(guest_id("pve1", "pve1", 101), "pve1-101");
        assert_eq!(guest_id("a", "b", 0), "a-b-0");
        assert_eq!(guest_id("a", "b", u64::MAX), "a-b-18446744073709551615");
        assert_eq!(guest_id("", "n", 7), "-n-7");
        assert_eq!(tags("prod;web"), "prod,web");
        assert_eq!(tags("a,b c;;d,"), "a,b,c,d");
        assert_eq!(tags(" a ; ;b"), "a,b");
        assert_eq!(tags(""), "");
    }

    #[test]
    fn shared_texts_are_one_allocation_each_and_start_over_on_churn() {
        let mut t = SharedTexts::default();
        let a = t.get("pve1");
        let b = t.get("pve1");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*t.get("running"), "running");
        for i in 0..SharedTexts::MAX + 10 {
            assert_eq!(&*t.get(&format!("n{i}")), format!("n{i}"));
        }
        assert!(t.0.len() <= SharedTexts::MAX);
        assert_eq!(&*t.get("pve1"), "pve1");
    }

    #[test]
    fn templates_and_unmonitored_kinds_are_not_guests() {
        let mut t = res("qemu", 1, "stopped");
        t.template = true;
        assert!(!is_guest(&t, true, true));
        assert!(is_guest(&res("qemu", 1, "running"), true, false));
        assert!(!is_guest(&res("lxc", 1, "running"), true, false));
        let mut n = res("qemu", 1, "running");
        n.vmid = None;
        assert!(!is_guest(&n, true, true));
    }

    #[test]
    fn vm_memory_rules() {
        let r = res("qemu", 100, "running");
        let mut s = QemuStatus {
            maxmem: 1000,
            mem: 900,
            meminfo: GuestMemInfo {
                available: 700,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(vm_memory(&r, Some(&s), true).used, 300);
        s.balloon = 800;
        let m = vm_memory(&r, Some(&s), true);
        assert_eq!((m.total, m.used, m.balloon), (800, 100, Some(800)));
        s.balloon = 0;
        s.meminfo = GuestMemInfo::default();
        s.freemem = 250;
        assert_eq!(vm_memory(&r, Some(&s), true).used, 750);
        s.freemem = 0;
        assert_eq!(vm_memory(&r, Some(&s), true).used, 900);
        assert_eq!(vm_memory(&r, None, true).used, 600);
        let m = vm_memory(&r, Some(&s), false);
        assert_eq!((m.total, m.used, m.free), (1000, 0, 1000));
    }

    #[test]
    fn vm_memory_between_status_refreshes_follows_the_resources_change() {
        let mut r = res("qemu", 100, "running"); // resources mem 600 at the status sample
        let s = QemuStatus {
            maxmem: 1000,
            balloon: 800,
            freemem: 500,
            ..Default::default()
        };
        // Fresh status: exactly the §5.3 algorithm (balloon-capped total − freemem).
        let fresh = vm_memory_since(&r, Some(&s), r.mem, true);
        assert_eq!(fresh, vm_memory(&r, Some(&s), true));
        assert_eq!(
            (fresh.total, fresh.used, fresh.balloon),
            (800, 300, Some(800))
        );
        // Two cycles later the resources say +150 / −400: used moves by as much, same total.
        r.mem = 750;
        let m = vm_memory_since(&r, Some(&s), 600, true);
        assert_eq!(
            (m.total, m.used, m.free, m.balloon),
            (800, 450, 350, Some(800))
        );
        r.mem = 200;
        assert_eq!(
            vm_memory_since(&r, Some(&s), 600, true).used,
            0,
            "never below 0"
        );
        r.mem = 5_000;
        assert_eq!(
            vm_memory_since(&r, Some(&s), 600, true).used,
            800,
            "capped at total"
        );
        // Without a status the resources figures stand; not running → 0 used.
        assert_eq!(
            vm_memory_since(&r, None, 600, true).used,
            r.mem.min(r.maxmem)
        );
        assert_eq!(vm_memory_since(&r, Some(&s), 600, false).used, 0);
    }

    #[test]
    fn vm_disk_unknown_without_agent_and_summed_with_it() {
        let r = res("qemu", 100, "running");
        let (d, disks) = vm_disk(&r, None);
        assert_eq!(
            (d.as_ref().unwrap().total, d.unwrap().usage),
            (10_000, -1.0)
        );
        assert!(disks.is_empty());
        let fs = vec![FsInfo {
            mountpoint: "/".into(),
            kind: "ext4".into(),
            total_bytes: Some(4000),
            used_bytes: Some(1000),
            ..Default::default()
        }];
        let (d, disks) = vm_disk(&r, Some(&summarize(&fs)));
        let d = d.unwrap();
        assert_eq!((d.total, d.used, d.usage), (4000, 1000, 25.0));
        assert_eq!(disks[0].device.as_deref(), Some("root-filesystem"));
    }

    #[test]
    fn stopped_guest_is_zeroed() {
        let r = res("qemu", 100, "stopped");
        let mut g = from_resource(
            &mut SharedTexts::default(),
            "home",
            r.node.as_str().into(),
            &r,
            1,
        );
        g.network_in = 5;
        zero_if_not_running(&mut g);
        assert_eq!((g.cpu, g.network_in), (0.0, 0));
        assert_eq!(g.memory.as_ref().unwrap().usage, 0.0);
        assert_eq!(g.memory.unwrap().used, 600, "used keeps its value");
    }

    #[test]
    fn agent_network_filters_and_sorts() {
        let ip = |s: &str| AgentIpAddress {
            ip_address: s.into(),
            ..Default::default()
        };
        let list = vec![
            AgentInterface {
                name: "lo".into(),
                ip_addresses: vec![ip("127.0.0.1"), ip("::1")],
                statistics: Some(AgentIfStats {
                    rx_bytes: 9,
                    ..Default::default()
                }),
                ..Default::default()
            },
            AgentInterface {
                name: "eth1".into(),
                hardware_address: "aa:bb".into(),
                ip_addresses: vec![ip("10.0.0.9"), ip("fe80::1"), ip("10.0.0.2")],
                statistics: Some(AgentIfStats {
                    rx_bytes: 5,
                    tx_bytes: 6,
                    ..Default::default()
                }),
            },
            AgentInterface {
                name: "eth0".into(),
                ip_addresses: vec![ip("10.0.0.2")],
                ..Default::default()
            },
        ];
        let (nics, ips) = agent_network(&list);
        assert_eq!(
            nics.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["eth0", "eth1"]
        );
        assert_eq!(nics[1].addresses, ["10.0.0.2", "10.0.0.9"]);
        assert_eq!(nics[1].rx_bytes, Some(5));
        assert_eq!(ips, ["10.0.0.2", "10.0.0.9"]);
    }

    #[test]
    fn os_and_agent_version() {
        let o = OsInfo {
            name: "Debian GNU/Linux".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            version_id: "12".into(),
            ..Default::default()
        };
        assert_eq!(
            os_name_version(&o),
            (Some("Debian GNU/Linux".into()), Some("12".into()))
        );
        let o = OsInfo {
            pretty_name: "Windows".into(),
            ..Default::default()
        };
        assert_eq!(os_name_version(&o), (Some("Windows".into()), None));
        let i = AgentInfo {
            version: serde_json::json!({"version": "8.1.3"}),
            ..Default::default()
        };
        assert_eq!(agent_version(&i).as_deref(), Some("8.1.3"));
        let i = AgentInfo {
            qemu_ga: serde_json::json!("7.2"),
            ..Default::default()
        };
        assert_eq!(agent_version(&i).as_deref(), Some("7.2"));
    }

    #[test]
    fn lxc_disks_from_diskinfo_or_synthetic() {
        let d = Disk {
            total: 100,
            used: 10,
            free: 90,
            usage: 10.0,
            ..Default::default()
        };
        let cfg: LxcConfig = serde_json::from_str(
            r#"{"rootfs":"local-lvm:vm-101-disk-0,size=8G","mp0":"local:101/x.raw,mp=/data"}"#,
        )
        .unwrap();
        let only = lxc_disks(&d, None, Some(&cfg));
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].mountpoint.as_deref(), Some("/"));
        assert_eq!(only[0].device.as_deref(), Some("local-lvm:vm-101-disk-0"));
        let mut st = LxcStatus::default();
        st.diskinfo.insert(
            "rootfs".into(),
            LxcDiskInfo {
                total: 80,
                used: 20,
            },
        );
        st.diskinfo.insert(
            "mp0".into(),
            LxcDiskInfo {
                total: 40,
                used: 10,
            },
        );
        let two = lxc_disks(&d, Some(&st), Some(&cfg));
        assert_eq!(two[0].mountpoint.as_deref(), Some("/"));
        assert_eq!(two[1].mountpoint.as_deref(), Some("/data"));
        assert_eq!(two[1].kind.as_deref(), Some("mp0"));
        assert_eq!(two[1].usage, 25.0);
    }

    #[test]
    fn lxc_network_merges_sources() {
        let cfg: LxcConfig = serde_json::from_str(
            r#"{"net0":"name=eth0,bridge=vmbr0,hwaddr=aa:bb:cc:dd:ee:ff,ip=10.0.0.5/24,ip6=dhcp"}"#,
        )
        .unwrap();
        let (nics, ips) = lxc_network(None, Some(&cfg), &[]);
        assert_eq!(ips, ["10.0.0.5"]);
        assert_eq!(nics[0].mac.as_deref(), Some("AA:BB:CC:DD:EE:FF"));
        let ifs = vec![LxcInterface {
            name: "eth0".into(),
            inet: "192.168.1.4/24".into(),
            ..Default::default()
        }];
        let cfg: LxcConfig = serde_json::from_str(r#"{"net0":"name=eth0,ip=dhcp"}"#).unwrap();
        let (_, ips) = lxc_network(None, Some(&cfg), &ifs);
        assert_eq!(ips, ["192.168.1.4"]);
    }
}
