//! Nodes: `/nodes` + `/nodes/{node}/status` (+ RRD memory fallback, storage disk fallback).

use super::{finite, pct};
use crate::model::{CpuInfo, Disk, Memory, Node};
use crate::proxmox::types::pve::{
    NodeListItem, NodeMemory, NodeRootfs, NodeStatus, NodeStorage, RrdPoint,
};

/// How long a node that stopped answering is still shown online (against flapping).
pub const OFFLINE_GRACE_MS: i64 = 60_000;

pub fn node_id(instance: &str, node: &str) -> String {
    format!("{instance}-{node}")
}

/// Memory figures taken from the newest usable RRD point.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RrdMemory {
    pub total: u64,
    pub available: u64,
    pub used: u64,
}

/// Walks points newest → oldest and takes the first positive value of each field; values are
/// capped at `memtotal` (spec §5.1 step 2).
pub fn rrd_memory(points: &[RrdPoint]) -> Option<RrdMemory> {
    let pick = |f: fn(&RrdPoint) -> Option<f64>| {
        points
            .iter()
            .rev()
            .filter_map(f)
            .find(|v| v.is_finite() && *v > 0.0)
            .map(|v| v as u64)
    };
    let total = pick(|p| p.memtotal)?;
    let available = pick(|p| p.memavailable).unwrap_or(0).min(total);
    let used = pick(|p| p.memused).unwrap_or(0).min(total);
    Some(RrdMemory {
        total,
        available,
        used,
    })
}

/// The status call gives no cache-aware figure at all (old PVE): only then is the RRD asked.
pub fn needs_rrd(m: &NodeMemory) -> bool {
    m.total > 0
        && m.available == 0
        && m.avail == 0
        && m.buffers == 0
        && m.cached == 0
        && effective_available(m) == 0
}

fn effective_available(m: &NodeMemory) -> u64 {
    if m.available > 0 {
        m.available
    } else if m.avail > 0 {
        m.avail
    } else {
        let derived = m
            .free
            .saturating_add(m.buffers)
            .saturating_add(m.cached)
            .max(m.total.saturating_sub(m.used));
        derived.min(m.total)
    }
}

/// Node memory (spec §5.1 algorithm). `previous_used` is the last poll's used bytes, kept when
/// the status call failed for an online node.
pub fn node_memory(
    list: &NodeListItem,
    status: Option<&NodeMemory>,
    rrd: Option<RrdMemory>,
    previous_used: Option<u64>,
) -> Memory {
    match status {
        Some(m) if m.total > 0 => {
            let total = m.total;
            let mut available = effective_available(m);
            let mut rrd_used = None;
            if needs_rrd(m)
                && let Some(r) = rrd
            {
                available = r.available.min(total);
                rrd_used = Some(r.used).filter(|u| *u > 0);
            }
            let used = if available > 0 && available <= total {
                total - available
            } else if let Some(u) = rrd_used {
                u.min(total)
            } else {
                m.used.min(total)
            };
            Memory::from_used(total, used)
        }
        None if list.status == "online" && previous_used.is_some() => {
            Memory::from_used(list.maxmem, previous_used.unwrap_or(0))
        }
        _ => Memory::from_used(list.maxmem, list.mem),
    }
}

/// Root disk: status `rootfs`, else `/nodes` disk/maxdisk, else storage `local`/`local-lvm`.
pub fn node_disk(
    list: &NodeListItem,
    rootfs: Option<&NodeRootfs>,
    storages: &[NodeStorage],
) -> Option<Disk> {
    let disk = |total: u64, used: u64, free: u64| Disk {
        total,
        used: used.min(total),
        free,
        usage: pct(used.min(total), total),
        ..Default::default()
    };
    if let Some(r) = rootfs.filter(|r| r.total > 0) {
        return Some(disk(r.total, r.used, r.avail));
    }
    if list.maxdisk > 0 {
        return Some(disk(
            list.maxdisk,
            list.disk,
            list.maxdisk.saturating_sub(list.disk),
        ));
    }
    ["local", "local-lvm"]
        .iter()
        .find_map(|name| storages.iter().find(|s| s.storage == *name && s.total > 0))
        .map(|s| disk(s.total, s.used, s.avail))
}

/// `mhz` arrives as a string (`"3400.000"`) or a number; numbers are shown without decimals.
pub fn cpu_info(list: &NodeListItem, status: Option<&NodeStatus>) -> CpuInfo {
    let ci = status.map(|s| &s.cpuinfo);
    let mhz = ci
        .map(|c| {
            let t = c.mhz.trim();
            // The lenient decoder turns a JSON number into its text; keep strings verbatim
            // but drop a pointless ".0" fraction from numbers.
            match t.parse::<f64>() {
                Ok(v) if !t.contains('.') || t.ends_with(".0") => format!("{v:.0}"),
                _ => t.to_owned(),
            }
        })
        .unwrap_or_default();
    CpuInfo {
        model: ci.map(|c| c.model.clone()).unwrap_or_default(),
        cores: if list.maxcpu > 0 {
            list.maxcpu as u32
        } else {
            ci.map(|c| c.cores as u32).unwrap_or(0)
        },
        sockets: ci.map(|c| c.sockets as u32).unwrap_or(0),
        mhz,
    }
}

/// Where the node is shown and what it is called (spec §3.4).
pub struct NodeContext<'a> {
    pub instance: &'a str,
    pub host: &'a str,
    pub is_cluster: bool,
    pub cluster_name: &'a str,
    pub temperature_monitoring_enabled: Option<bool>,
    pub now_ms: i64,
}

/// Builds the model node. `status_shown` is the status after the offline grace.
pub fn build_node(
    ctx: &NodeContext<'_>,
    list: &NodeListItem,
    status_shown: &str,
    status: Option<&NodeStatus>,
    memory: Memory,
    disk: Option<Disk>,
) -> Node {
    let display_name = if ctx.is_cluster || ctx.instance.is_empty() {
        list.node.clone()
    } else {
        ctx.instance.to_owned()
    };
    let online = status_shown == "online";
    Node {
        id: node_id(ctx.instance, &list.node),
        node: list.node.clone(),
        name: list.node.clone(),
        display_name,
        instance: ctx.instance.to_owned(),
        host: Some(ctx.host.to_owned()).filter(|h| !h.is_empty()),
        status: status_shown.to_owned(),
        kind: "node",
        cpu: if online {
            finite(list.cpu).min(1.0)
        } else {
            0.0
        },
        mem: memory.used,
        maxmem: memory.total,
        memory: Some(memory).filter(|m| m.total > 0),
        maxdisk: disk.as_ref().map(|d| d.total).unwrap_or(0),
        disk: disk.filter(|d| d.total > 0),
        uptime: if online { list.uptime } else { 0 },
        load_average: status
            .map(|s| s.loadavg.iter().map(|v| finite(*v)).collect())
            .unwrap_or_default(),
        kernel_version: status.map(|s| s.kversion.clone()).unwrap_or_default(),
        pve_version: status.map(|s| s.pveversion.clone()).unwrap_or_default(),
        cpu_info: cpu_info(list, status),
        temperature: None,
        last_seen: ctx.now_ms,
        connection_health: "healthy".into(),
        is_cluster_member: ctx.is_cluster,
        cluster_name: if ctx.is_cluster {
            ctx.cluster_name.to_owned()
        } else {
            String::new()
        },
        temperature_monitoring_enabled: ctx.temperature_monitoring_enabled,
    }
}

/// Status after the grace period: a node last seen online less than 60 s ago stays online.
pub fn shown_status(api_status: &str, last_online_ms: Option<i64>, now_ms: i64) -> String {
    if api_status == "online" {
        return "online".into();
    }
    match last_online_ms {
        Some(t) if now_ms - t < OFFLINE_GRACE_MS => "online".into(),
        _ if api_status.is_empty() => "unknown".into(),
        _ => api_status.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(node: &str) -> NodeListItem {
        NodeListItem {
            node: node.into(),
            status: "online".into(),
            maxmem: 1000,
            mem: 900,
            maxcpu: 8,
            cpu: 0.25,
            ..Default::default()
        }
    }

    #[test]
    fn memory_prefers_available_over_used() {
        let m = NodeMemory {
            total: 1000,
            used: 900,
            free: 50,
            available: 600,
            ..Default::default()
        };
        let mem = node_memory(&item("a"), Some(&m), None, None);
        assert_eq!((mem.total, mem.used, mem.free), (1000, 400, 600));
        assert_eq!(mem.usage, 40.0);
    }

    #[test]
    fn memory_derives_available_from_cache_fields() {
        // No `available`/`avail`: free + buffers + cached vs total − used, the larger wins.
        let m = NodeMemory {
            total: 1000,
            used: 900,
            free: 100,
            buffers: 100,
            cached: 300,
            ..Default::default()
        };
        assert_eq!(node_memory(&item("a"), Some(&m), None, None).used, 500);
        let m = NodeMemory {
            total: 1000,
            used: 900,
            avail: 250,
            ..Default::default()
        };
        assert_eq!(node_memory(&item("a"), Some(&m), None, None).used, 750);
    }

    #[test]
    fn memory_old_pve_without_cache_figures() {
        // Only total/used/free given: total − used is the derived available → used as is.
        let m = NodeMemory {
            total: 1000,
            used: 700,
            free: 300,
            ..Default::default()
        };
        assert!(!needs_rrd(&m));
        assert_eq!(node_memory(&item("a"), Some(&m), None, None).used, 700);
        // used == total and nothing else → RRD consulted.
        let m = NodeMemory {
            total: 1000,
            used: 1000,
            ..Default::default()
        };
        assert!(needs_rrd(&m));
        let rrd = RrdMemory {
            total: 1000,
            available: 650,
            used: 0,
        };
        assert_eq!(node_memory(&item("a"), Some(&m), Some(rrd), None).used, 350);
        let rrd = RrdMemory {
            total: 1000,
            available: 0,
            used: 420,
        };
        assert_eq!(node_memory(&item("a"), Some(&m), Some(rrd), None).used, 420);
        assert_eq!(node_memory(&item("a"), Some(&m), None, None).used, 1000);
    }

    #[test]
    fn memory_falls_back_to_list_or_previous() {
        let mem = node_memory(&item("a"), None, None, None);
        assert_eq!((mem.total, mem.used), (1000, 900));
        let mem = node_memory(&item("a"), None, None, Some(123));
        assert_eq!((mem.total, mem.used), (1000, 123));
    }

    #[test]
    fn rrd_takes_newest_positive_values() {
        let p = |t, total: Option<f64>, avail: Option<f64>, used: Option<f64>| RrdPoint {
            time: t,
            memtotal: total,
            memavailable: avail,
            memused: used,
            ..Default::default()
        };
        let pts = vec![
            p(1, Some(1000.0), Some(100.0), Some(900.0)),
            p(2, Some(1000.0), Some(300.0), Some(f64::NAN)),
            p(3, None, Some(0.0), None),
        ];
        let r = rrd_memory(&pts).unwrap();
        assert_eq!((r.total, r.available, r.used), (1000, 300, 900));
        assert!(rrd_memory(&[]).is_none());
    }

    #[test]
    fn disk_fallback_chain() {
        let mut l = item("a");
        let root = NodeRootfs {
            total: 100,
            used: 40,
            avail: 55,
            ..Default::default()
        };
        let d = node_disk(&l, Some(&root), &[]).unwrap();
        assert_eq!((d.total, d.used, d.free, d.usage), (100, 40, 55, 40.0));
        l.maxdisk = 200;
        l.disk = 50;
        let d = node_disk(&l, None, &[]).unwrap();
        assert_eq!((d.total, d.used, d.free), (200, 50, 150));
        l.maxdisk = 0;
        let st = |n: &str, t| NodeStorage {
            storage: n.into(),
            total: t,
            used: 10,
            avail: t - 10,
            ..Default::default()
        };
        let d = node_disk(&l, None, &[st("local-lvm", 500), st("local", 300)]).unwrap();
        assert_eq!(d.total, 300);
        let d = node_disk(&l, None, &[st("local-lvm", 500)]).unwrap();
        assert_eq!(d.total, 500);
        assert!(node_disk(&l, None, &[]).is_none());
    }

    #[test]
    fn cpu_info_rules() {
        let mut s = NodeStatus::default();
        s.cpuinfo.model = "Xeon".into();
        s.cpuinfo.cores = 4;
        s.cpuinfo.sockets = 2;
        s.cpuinfo.mhz = "3400.000".into();
        let c = cpu_info(&item("a"), Some(&s));
        assert_eq!((c.cores, c.sockets, c.mhz.as_str()), (8, 2, "3400.000"));
        s.cpuinfo.mhz = "2400".into();
        let mut l = item("a");
        l.maxcpu = 0;
        let c = cpu_info(&l, Some(&s));
        assert_eq!((c.cores, c.mhz.as_str()), (4, "2400"));
    }

    #[test]
    fn grace_keeps_recently_online_nodes() {
        assert_eq!(shown_status("online", None, 0), "online");
        assert_eq!(shown_status("offline", Some(1_000), 50_000), "online");
        assert_eq!(shown_status("offline", Some(1_000), 61_000), "offline");
        assert_eq!(shown_status("", None, 0), "unknown");
    }

    #[test]
    fn offline_node_shows_no_cpu_or_uptime() {
        let ctx = NodeContext {
            instance: "home",
            host: "https://pve:8006",
            is_cluster: true,
            cluster_name: "c1",
            temperature_monitoring_enabled: None,
            now_ms: 5,
        };
        let mut l = item("pve1");
        l.uptime = 99;
        l.cpu = f64::NAN;
        let n = build_node(&ctx, &l, "online", None, Memory::from_used(10, 5), None);
        assert_eq!((n.id.as_str(), n.cpu, n.uptime), ("home-pve1", 0.0, 99));
        assert_eq!(n.display_name, "pve1");
        assert!(n.load_average.is_empty() && n.disk.is_none());
        let n = build_node(
            &ctx,
            &item("pve1"),
            "offline",
            None,
            Memory::default(),
            None,
        );
        assert_eq!((n.cpu, n.uptime), (0.0, 0));
        assert!(n.memory.is_none());
    }
}
