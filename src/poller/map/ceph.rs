//! Ceph (spec §5.11): `/cluster/ceph/status` for health and capacity, pools from
//! `/nodes/{node}/ceph/pool` (the reference asks a `/cluster/ceph/df` that PVE does not have,
//! so its pool list is always empty).

use super::pct;
use crate::model::{CephCluster, CephPool, CephService};
use crate::proxmox::types::pve::{CephPool as RawPool, CephStatus};

/// Storage types that mean "this cluster uses Ceph".
pub fn is_ceph_type(kind: &str) -> bool {
    matches!(kind, "rbd" | "cephfs" | "ceph")
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m
            .get("message")
            .or_else(|| m.get("summary"))
            .map(text)
            .unwrap_or_default(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    }
}

fn health_message(s: &CephStatus) -> String {
    let mut parts: Vec<String> = s
        .health
        .summary
        .iter()
        .map(text)
        .filter(|t| !t.is_empty())
        .collect();
    for (name, check) in &s.health.checks {
        let mut msg = check.get("summary").map(text).unwrap_or_default();
        if msg.is_empty() {
            msg = check
                .get("detail")
                .and_then(|d| d.as_array())
                .and_then(|d| d.first())
                .map(text)
                .unwrap_or_default();
        }
        parts.push(if msg.is_empty() {
            name.clone()
        } else {
            format!("{name}: {msg}")
        });
    }
    parts.join("; ")
}

fn services(s: &CephStatus) -> (Vec<CephService>, u32, u32) {
    let mut out = Vec::new();
    let (mut mons, mut mgrs) = (0, 0);
    let Some(svcs) = s.servicemap.get("services").and_then(|v| v.as_object()) else {
        return (out, mons, mgrs);
    };
    for (kind, v) in svcs {
        let Some(daemons) = v.get("daemons").and_then(|d| d.as_object()) else {
            continue;
        };
        // `summary` is metadata, not a daemon.
        let list: Vec<(&String, &serde_json::Value)> = daemons
            .iter()
            .filter(|(k, d)| *k != "summary" && d.is_object())
            .collect();
        let mut offline = Vec::new();
        let mut running = 0;
        for (name, d) in &list {
            let st = d.get("status").and_then(|x| x.as_str()).unwrap_or("");
            if st == "running" || st == "active" {
                running += 1;
            } else {
                let host = d.get("hostname").and_then(|x| x.as_str()).unwrap_or("?");
                offline.push(format!("{name}@{host}"));
            }
        }
        match kind.as_str() {
            "mon" => mons = list.len() as u32,
            "mgr" => mgrs = list.len() as u32,
            _ => {}
        }
        out.push(CephService {
            kind: kind.clone(),
            running,
            total: list.len() as u32,
            message: (!offline.is_empty()).then(|| format!("Offline: {}", offline.join(", "))),
        });
    }
    (out, mons, mgrs)
}

pub fn map_ceph(instance: &str, s: &CephStatus, pools: &[RawPool], now_ms: i64) -> CephCluster {
    let osd = s.osdmap.osdmap.as_deref().unwrap_or(&s.osdmap);
    let (services, num_mons, num_mgrs) = services(s);
    let pg = &s.pgmap;
    CephCluster {
        id: if s.fsid.is_empty() {
            instance.to_owned()
        } else {
            format!("{instance}-{}", s.fsid)
        },
        instance: instance.to_owned(),
        name: "Ceph".into(),
        fsid: s.fsid.clone(),
        health: s.health.status.clone(),
        health_message: health_message(s),
        total_bytes: pg.bytes_total,
        used_bytes: pg.bytes_used,
        available_bytes: pg.bytes_avail,
        usage_percent: pct(pg.bytes_used, pg.bytes_total),
        num_mons,
        num_mgrs,
        num_osds: osd.num_osds as u32,
        num_osds_up: osd.num_up_osds as u32,
        num_osds_in: osd.num_in_osds as u32,
        num_pgs: pg.num_pgs as u32,
        pools: pools.iter().map(map_pool).collect(),
        services,
        last_updated: now_ms,
    }
}

/// `percent_used` is a fraction in `/nodes/{node}/ceph/pool`; the model shows percent.
/// Available bytes follow from used and the fraction (`used / (used + avail)`).
fn map_pool(p: &RawPool) -> CephPool {
    let frac = if p.percent_used.is_finite() {
        p.percent_used.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let available = if frac > 0.0 {
        ((p.bytes_used as f64 / frac) - p.bytes_used as f64).max(0.0) as u64
    } else {
        0
    };
    CephPool {
        id: p.pool as u32,
        name: p.pool_name.clone(),
        stored_bytes: p.bytes_used,
        available_bytes: available,
        objects: 0,
        percent_used: frac * 100.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_status_services_and_pools() {
        let s: CephStatus = serde_json::from_value(serde_json::json!({
            "fsid": "abc",
            "health": {"status": "HEALTH_WARN", "checks": {
                "OSD_DOWN": {"severity": "HEALTH_WARN", "summary": {"message": "1 osds down"}}}},
            "osdmap": {"osdmap": {"num_osds": 3, "num_up_osds": 2, "num_in_osds": 3}},
            "pgmap": {"num_pgs": 129, "bytes_total": 1000, "bytes_used": 250, "bytes_avail": 750},
            "servicemap": {"services": {
                "mon": {"daemons": {"summary": "", "a": {"status": "running", "hostname": "pve1"},
                                    "b": {"status": "stopped", "hostname": "pve2"}}},
                "mgr": {"daemons": {"x": {"status": "active", "hostname": "pve1"}}}}}
        }))
        .unwrap();
        let pools = vec![RawPool {
            pool: 1,
            pool_name: "rbd".into(),
            bytes_used: 300,
            percent_used: 0.25,
            ..Default::default()
        }];
        let c = map_ceph("home", &s, &pools, 9);
        assert_eq!(c.id, "home-abc");
        assert_eq!(c.health_message, "OSD_DOWN: 1 osds down");
        assert_eq!((c.num_osds, c.num_osds_up, c.num_pgs), (3, 2, 129));
        assert_eq!((c.num_mons, c.num_mgrs, c.usage_percent), (2, 1, 25.0));
        let mon = c.services.iter().find(|s| s.kind == "mon").unwrap();
        assert_eq!((mon.running, mon.total), (1, 2));
        assert_eq!(mon.message.as_deref(), Some("Offline: b@pve2"));
        assert_eq!(c.pools[0].percent_used, 25.0);
        assert_eq!(c.pools[0].available_bytes, 900);
        assert!(is_ceph_type("rbd") && !is_ceph_type("dir"));
    }
}
