//! PVE backups (spec §5.13–§5.15): vzdump tasks, backup volumes on storages, snapshots.

use crate::model::{BackupTask, GuestSnapshot, StorageBackup};
use crate::proxmox::types::pve::{Snapshot, StorageContentItem, TaskListItem};
use std::sync::Arc;

pub fn map_task(instance: &str, t: &TaskListItem) -> Option<BackupTask> {
    if t.kind != "vzdump" || t.upid.is_empty() {
        return None;
    }
    let status = t.status.clone().unwrap_or_default();
    Some(BackupTask {
        id: format!("{instance}-{}", t.upid),
        node: t.node.clone(),
        kind: t.kind.clone(),
        vmid: t.id.trim().parse().unwrap_or(0),
        error: (!status.is_empty() && status != "OK").then(|| status.clone()),
        status,
        start_time: super::secs_to_ms(t.starttime),
        end_time: super::secs_to_ms(t.endtime.unwrap_or(0)),
        size: None,
    })
}

/// Which guest kind a backup volume belongs to.
pub fn volume_kind(volid: &str, format: &str, vmid: u64) -> &'static str {
    if vmid == 0 {
        "host"
    } else if volid.contains("/vm/") || volid.contains("qemu") {
        "qemu"
    } else if volid.contains("/ct/") || volid.contains("lxc") || format.contains("pbs-ct") {
        "lxc"
    } else if format.contains("pbs-vm") {
        "qemu"
    } else {
        "unknown"
    }
}

/// Where one storage listing came from: the texts every volume of it shares.
pub struct VolumeSource<'a> {
    pub instance: &'a Arc<str>,
    pub storage: &'a Arc<str>,
    pub storage_type: &'a str,
    /// The node the listing was asked from.
    pub node: &'a Arc<str>,
}

/// The shared copy of `s` from `cache` (a handful of distinct values, e.g. backup formats),
/// added when new.
pub fn intern(cache: &mut Vec<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(a) = cache.iter().find(|a| &***a == s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s);
    cache.push(a.clone());
    a
}

/// One backup volume. `guest_node` = the guest's current node when known; `formats` shares
/// the format texts between volumes.
pub fn map_storage_backup(
    src: &VolumeSource<'_>,
    guest_node: Option<&Arc<str>>,
    formats: &mut Vec<Arc<str>>,
    c: &StorageContentItem,
) -> Option<StorageBackup> {
    if c.content != "backup" || c.volid.is_empty() {
        return None;
    }
    let vmid = c.vmid.unwrap_or(0);
    let is_pbs = src.storage_type == "pbs" || src.storage.starts_with("pbs-");
    let verification = c
        .verification
        .as_ref()
        .map(|v| v.state.clone())
        .filter(|s| !s.is_empty());
    Some(StorageBackup {
        storage: src.storage.clone(),
        node: guest_node.unwrap_or(src.node).clone(),
        instance: src.instance.clone(),
        kind: volume_kind(&c.volid, &c.format, vmid),
        vmid: vmid as u32,
        time: super::secs_to_ms(c.ctime),
        ctime: c.ctime,
        size: c.size,
        format: intern(formats, &c.format),
        notes: Some(c.notes.clone()).filter(|n| !n.is_empty()),
        protected: c.protected,
        volid: c.volid.clone(),
        is_pbs,
        verified: is_pbs && verification.as_deref() == Some("ok"),
        verification: if is_pbs { verification } else { None },
    })
}

/// A guest snapshot; `current` (the live state pseudo-entry) is not one. `vmstate` comes from
/// the API (the reference claims RAM state for every VM snapshot).
pub fn map_snapshot(
    instance: &str,
    node: &str,
    kind: &'static str,
    vmid: u64,
    s: &Snapshot,
    size_bytes: Option<u64>,
) -> Option<GuestSnapshot> {
    if s.name == "current" || s.name.is_empty() {
        return None;
    }
    Some(GuestSnapshot {
        id: format!("{instance}-{node}-{vmid}-{}", s.name),
        name: s.name.clone(),
        node: node.to_owned(),
        instance: instance.to_owned(),
        kind: kind.to_owned(),
        vmid: vmid as u32,
        time: super::secs_to_ms(s.snaptime.unwrap_or(0)),
        description: Some(s.description.trim().to_owned()).filter(|d| !d.is_empty()),
        parent: Some(s.parent.clone()).filter(|p| !p.is_empty()),
        vmstate: s.vmstate,
        size_bytes,
    })
}

/// Newest successful backup per VMID (Unix ms): finished `OK` vzdump tasks and backup volumes.
pub fn last_backups<'a>(
    tasks: impl IntoIterator<Item = &'a BackupTask>,
    volumes: impl IntoIterator<Item = &'a StorageBackup>,
) -> std::collections::HashMap<u32, i64> {
    let mut m = std::collections::HashMap::new();
    let done = tasks
        .into_iter()
        .filter(|t| t.vmid > 0 && t.status == "OK" && t.end_time > 0)
        .map(|t| (t.vmid, t.end_time));
    let vols = volumes
        .into_iter()
        .filter(|b| b.vmid > 0 && b.time > 0)
        .map(|b| (b.vmid, b.time));
    for (vmid, at) in done.chain(vols) {
        let e = m.entry(vmid).or_insert(at);
        *e = (*e).max(at);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks() {
        let t = TaskListItem {
            upid: "UPID:pve1:1:2:3:vzdump:101:root@pam:".into(),
            node: "pve1".into(),
            kind: "vzdump".into(),
            id: "101".into(),
            starttime: 10,
            endtime: Some(20),
            status: Some("job errors".into()),
            ..Default::default()
        };
        let b = map_task("home", &t).unwrap();
        assert_eq!((b.vmid, b.start_time, b.end_time), (101, 10_000, 20_000));
        assert_eq!(b.error.as_deref(), Some("job errors"));
        let running = TaskListItem {
            status: None,
            endtime: None,
            id: "".into(),
            ..t.clone()
        };
        let b = map_task("home", &running).unwrap();
        assert_eq!((b.status.as_str(), b.end_time, b.vmid), ("", 0, 0));
        let other = TaskListItem {
            kind: "qmstart".into(),
            ..t
        };
        assert!(map_task("home", &other).is_none());
    }

    #[test]
    fn storage_backups() {
        assert_eq!(
            volume_kind("local:backup/vzdump-qemu-101.vma.zst", "vma.zst", 101),
            "qemu"
        );
        assert_eq!(volume_kind("pbs:backup/ct/102/2024", "pbs-ct", 102), "lxc");
        assert_eq!(volume_kind("x:backup/foo", "tar", 0), "host");
        let c = StorageContentItem {
            volid: "pbs1:backup/vm/101/2024-01-01T00:00:00Z".into(),
            content: "backup".into(),
            ctime: 100,
            format: "pbs-vm".into(),
            vmid: Some(101),
            verification: Some(crate::proxmox::types::Verification {
                state: "ok".into(),
                upid: String::new(),
            }),
            ..Default::default()
        };
        let (home, pbs1, pve1, pve2): (Arc<str>, Arc<str>, Arc<str>, Arc<str>) =
            ("home".into(), "pbs1".into(), "pve1".into(), "pve2".into());
        let src = VolumeSource {
            instance: &home,
            storage: &pbs1,
            storage_type: "pbs",
            node: &pve1,
        };
        let mut formats = Vec::new();
        let b = map_storage_backup(&src, Some(&pve2), &mut formats, &c).unwrap();
        assert_eq!((&*b.node, b.is_pbs, b.verified), ("pve2", true, true));
        assert_eq!((b.time, b.kind), (100_000, "qemu"));
        assert_eq!(b.id(), "home-pbs1:backup/vm/101/2024-01-01T00:00:00Z");
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["id"], "home-pbs1:backup/vm/101/2024-01-01T00:00:00Z");
        assert_eq!(
            (&v["type"], &v["format"], &v["isPBS"]),
            (&"qemu".into(), &"pbs-vm".into(), &true.into())
        );
        assert!(v.get("notes").is_none());
        // Volumes of one listing share their texts.
        let b2 = map_storage_backup(&src, None, &mut formats, &c).unwrap();
        assert!(Arc::ptr_eq(&b.format, &b2.format) && Arc::ptr_eq(&b.storage, &b2.storage));
        assert_eq!(&*b2.node, "pve1");
        let iso = StorageContentItem {
            content: "iso".into(),
            ..c
        };
        assert!(map_storage_backup(&src, None, &mut formats, &iso).is_none());
    }

    #[test]
    fn last_backup_per_guest() {
        let t = |vmid, status: &str, end| BackupTask {
            vmid,
            status: status.into(),
            end_time: end,
            ..Default::default()
        };
        let v = |vmid, time| StorageBackup {
            vmid,
            time,
            ..Default::default()
        };
        let m = last_backups(
            &[
                t(100, "OK", 5_000),
                t(100, "job errors", 9_000),
                t(101, "", 0),
            ],
            &[v(100, 4_000), v(102, 7_000)],
        );
        assert_eq!(m.get(&100), Some(&5_000));
        assert_eq!(m.get(&102), Some(&7_000));
        assert!(!m.contains_key(&101));
    }

    #[test]
    fn snapshots() {
        let s = Snapshot {
            name: "pre-upgrade".into(),
            snaptime: Some(5),
            parent: "base".into(),
            vmstate: false,
            ..Default::default()
        };
        let g = map_snapshot("home", "pve1", "qemu", 100, &s, Some(42)).unwrap();
        assert_eq!(g.id, "home-pve1-100-pre-upgrade");
        assert_eq!((g.time, g.vmstate, g.size_bytes), (5000, false, Some(42)));
        let cur = Snapshot {
            name: "current".into(),
            ..Default::default()
        };
        assert!(map_snapshot("home", "pve1", "qemu", 100, &cur, None).is_none());
    }
}
