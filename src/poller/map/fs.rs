//! Guest-agent filesystems (`…/agent/get-fsinfo`, spec §5.4): which ones count towards the
//! VM's disk usage, and de-duplication by device so a Windows guest's `C:\` and `C:\Users`
//! are not counted twice (the reference's normal path double-counts).

use super::pct;
use crate::model::Disk;
use crate::proxmox::types::pve::FsInfo;
use std::collections::BTreeSet;

const READ_ONLY: &[&str] = &[
    "erofs",
    "squashfs",
    "squash-fs",
    "iso9660",
    "cdfs",
    "udf",
    "cramfs",
    "romfs",
];
const SPECIAL: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "cgroup",
    "cgroup2",
    "sysfs",
    "proc",
    "devpts",
    "securityfs",
    "debugfs",
    "tracefs",
    "fusectl",
    "configfs",
    "pstore",
    "hugetlbfs",
    "mqueue",
    "bpf",
];
const NETWORK_OR_FUSE: &[&str] = &["fuse", "9p", "nfs", "cifs", "smb"];
const SKIP_PREFIX: &[&str] = &["/dev", "/proc", "/sys", "/run", "/var/lib/docker", "/snap"];

/// Whether `hay` contains `needle` (lower-case ASCII), ignoring ASCII case. Allocation-free:
/// it runs for every filesystem of every agent reading.
fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Read-only image filesystems (also used to drop such storages).
pub fn is_read_only_type(kind: &str) -> bool {
    READ_ONLY.iter().any(|r| contains_ci(kind, r))
}

/// Whether a filesystem is left out of the VM's disk totals.
pub fn skipped(fs: &FsInfo) -> bool {
    let kind = fs.kind.as_str();
    let total = fs.total_bytes.unwrap_or(0);
    let used = fs.used_bytes.unwrap_or(0);
    let mp = fs.mountpoint.as_str();
    is_read_only_type(kind)
        || (kind.eq_ignore_ascii_case("overlay") && used >= total)
        || SPECIAL.iter().any(|s| kind.eq_ignore_ascii_case(s))
        || NETWORK_OR_FUSE.iter().any(|n| contains_ci(kind, n))
        || SKIP_PREFIX.iter().any(|p| {
            mp.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        || mp == "/boot/efi"
        || mp.contains("System Reserved")
        || total == 0
}

/// Device label: disk dev, else serial, else `<bus>-<target>`, else a name from the mount.
pub fn device_label(fs: &FsInfo) -> String {
    if let Some(d) = fs.disk.first() {
        if !d.dev.is_empty() {
            return d.dev.clone();
        }
        if !d.serial.is_empty() {
            return d.serial.clone();
        }
        if !d.bus_type.is_empty() {
            return format!("{}-{}", d.bus_type, d.target);
        }
    }
    let mp = fs.mountpoint.as_str();
    if mp == "/" {
        return "root-filesystem".into();
    }
    let b = mp.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return format!("{}:", (b[0] as char).to_ascii_uppercase());
    }
    mp.to_owned()
}

/// What get-fsinfo said about the disk.
#[derive(Debug, Clone, PartialEq)]
pub enum FsSummary {
    /// At least one usable filesystem: aggregate and per-filesystem entries.
    Usage {
        total: u64,
        used: u64,
        disks: std::sync::Arc<[Disk]>,
    },
    /// Filesystems were reported but none counts (usage unknown, −1).
    OnlySpecial,
    /// Nothing reported.
    Empty,
}

pub fn summarize(list: &[FsInfo]) -> FsSummary {
    if list.is_empty() {
        return FsSummary::Empty;
    }
    let mut seen = BTreeSet::new();
    let mut disks = Vec::new();
    let (mut total, mut used) = (0u64, 0u64);
    for fs in list.iter().filter(|f| !skipped(f)) {
        let dev = device_label(fs);
        // Several mounts of one device (bind mounts, btrfs subvolumes, Windows folders
        // mounted as volumes) report the same numbers: count the device once.
        if !seen.insert(dev.clone()) {
            continue;
        }
        let t = fs.total_bytes.unwrap_or(0);
        let u = fs.used_bytes.unwrap_or(0).min(t);
        total = total.saturating_add(t);
        used = used.saturating_add(u);
        disks.push(Disk {
            total: t,
            used: u,
            free: t - u,
            usage: pct(u, t),
            mountpoint: Some(fs.mountpoint.clone()),
            kind: Some(fs.kind.clone()),
            device: Some(dev),
        });
    }
    if disks.is_empty() {
        FsSummary::OnlySpecial
    } else {
        FsSummary::Usage {
            total,
            used,
            disks: disks.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxmox::types::pve::FsDisk;

    fn fs(mp: &str, kind: &str, total: u64, used: u64, dev: &str) -> FsInfo {
        FsInfo {
            name: mp.into(),
            kind: kind.into(),
            mountpoint: mp.into(),
            total_bytes: Some(total),
            used_bytes: Some(used),
            disk: if dev.is_empty() {
                vec![]
            } else {
                vec![FsDisk {
                    dev: dev.into(),
                    ..Default::default()
                }]
            },
        }
    }

    #[test]
    fn skip_rules() {
        assert!(skipped(&fs("/media/cd", "iso9660", 10, 10, "")));
        assert!(skipped(&fs("/snap/core/1", "squashfs", 10, 10, "")));
        assert!(skipped(&fs("/tmp", "tmpfs", 10, 1, "")));
        assert!(skipped(&fs("/mnt/share", "nfs4", 10, 1, "")));
        assert!(skipped(&fs("/mnt/x", "fuse.sshfs", 10, 1, "")));
        assert!(skipped(&fs("/run/user/0", "ext4", 10, 1, "")));
        assert!(skipped(&fs(
            "/var/lib/docker/overlay2/x",
            "ext4",
            10,
            1,
            ""
        )));
        assert!(skipped(&fs("/boot/efi", "vfat", 10, 1, "")));
        assert!(skipped(&fs("/data", "ext4", 0, 0, "")));
        assert!(skipped(&fs("/o", "overlay", 10, 10, "")));
        assert!(!skipped(&fs("/o", "overlay", 10, 5, "")));
        assert!(!skipped(&fs("/", "ext4", 10, 5, "")));
        assert!(
            !skipped(&fs("/devices", "ext4", 10, 5, "")),
            "prefix is per path segment"
        );
        assert!(skipped(&fs("E:\\System Reserved", "NTFS", 10, 5, "")));
        // Types match whatever their case.
        assert!(skipped(&fs("/t", "TMPFS", 10, 1, "")));
        assert!(skipped(&fs("/m", "NFS4", 10, 1, "")));
        assert!(skipped(&fs("/c", "ISO9660", 10, 10, "")));
        assert!(skipped(&fs("/o", "Overlay", 10, 10, "")));
        assert!(skipped(&fs("/dev", "ext4", 10, 1, "")));
        assert!(!skipped(&fs("/data", "XFS", 10, 1, "")));
    }

    #[test]
    fn labels() {
        assert_eq!(
            device_label(&fs("/", "ext4", 1, 1, "/dev/sda1")),
            "/dev/sda1"
        );
        assert_eq!(device_label(&fs("/", "ext4", 1, 1, "")), "root-filesystem");
        assert_eq!(device_label(&fs("c:\\", "NTFS", 1, 1, "")), "C:");
        assert_eq!(device_label(&fs("/data", "xfs", 1, 1, "")), "/data");
        let mut f = fs("/x", "xfs", 1, 1, "");
        f.disk = vec![FsDisk {
            bus_type: "scsi".into(),
            target: 2,
            ..Default::default()
        }];
        assert_eq!(device_label(&f), "scsi-2");
    }

    #[test]
    fn summary_dedups_by_device_and_sums() {
        let list = vec![
            fs("/", "ext4", 1000, 400, "/dev/sda1"),
            fs("/home", "ext4", 1000, 400, "/dev/sda1"),
            fs("/data", "xfs", 500, 100, "/dev/sdb1"),
            fs("/dev/shm", "tmpfs", 50, 1, ""),
        ];
        match summarize(&list) {
            FsSummary::Usage { total, used, disks } => {
                assert_eq!((total, used), (1500, 500));
                assert_eq!(disks.len(), 2);
                assert_eq!(disks[1].mountpoint.as_deref(), Some("/data"));
                assert_eq!(disks[1].usage, 20.0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            summarize(&[fs("/cd", "iso9660", 5, 5, "")]),
            FsSummary::OnlySpecial
        );
        assert_eq!(summarize(&[]), FsSummary::Empty);
    }
}
