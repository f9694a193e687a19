//! Physical disks: `/nodes/{node}/disks/list` (spec §5.9).

use crate::model::PhysicalDisk;
use crate::proxmox::types::pve::DiskListItem;

pub fn disk_id(instance: &str, node: &str, devpath: &str) -> String {
    format!("{instance}-{node}-{}", devpath.replace('/', "-"))
}

/// Percent of life remaining, −1 when PVE does not know (`N/A` decodes to `None`).
pub fn wearout(raw: Option<f64>) -> i32 {
    match raw {
        Some(v) if v.is_finite() => v.clamp(0.0, 100.0) as i32,
        _ => -1,
    }
}

pub fn map_disk(instance: &str, node: &str, d: &DiskListItem, now_ms: i64) -> PhysicalDisk {
    PhysicalDisk {
        id: disk_id(instance, node, &d.devpath),
        node: node.to_owned(),
        instance: instance.to_owned(),
        dev_path: d.devpath.clone(),
        model: d.model.clone(),
        serial: d.serial.clone(),
        wwn: d.wwn.clone(),
        kind: d.kind.clone(),
        size: d.size,
        health: d.health.clone(),
        wearout: wearout(d.wearout),
        temperature: 0,
        rpm: d.rpm as u32,
        used: d.used.clone(),
        last_checked: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_wearout() {
        assert_eq!(disk_id("pve", "pve1", "/dev/sda"), "pve-pve1--dev-sda");
        assert_eq!(wearout(None), -1);
        assert_eq!(wearout(Some(81.0)), 81);
        assert_eq!(wearout(Some(140.0)), 100);
        assert_eq!(wearout(Some(f64::NAN)), -1);
        let d = DiskListItem {
            devpath: "/dev/nvme0n1".into(),
            wearout: Some(97.0),
            rpm: 0,
            health: "PASSED".into(),
            ..Default::default()
        };
        let p = map_disk("home", "pve1", &d, 7);
        assert_eq!(
            (p.id.as_str(), p.wearout, p.last_checked),
            ("home-pve1--dev-nvme0n1", 97, 7)
        );
    }
}
