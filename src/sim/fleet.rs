//! The simulated fleet: static facts generated once from the seed (names, sizes, roles, quirks).
//! Moving values (CPU, memory, counters, uptime, run state, backups) are derived from these
//! facts and the clock in `dynamics.rs`, so the model itself is plain data a test can build or
//! edit directly.

use super::noise::Rng;

#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub seed: u64,
    /// PVE clusters (each one instance, one port).
    pub clusters: usize,
    /// Nodes per cluster.
    pub nodes: usize,
    /// Guests per cluster (VMs and containers together).
    pub guests: usize,
    /// Extra standalone PVE nodes, one instance each.
    pub standalone: usize,
    pub pbs: usize,
    pub pmg: usize,
    /// The simulator's "start of history", Unix seconds. Values before it are steady.
    pub genesis: i64,
}

#[derive(Debug, Clone)]
pub struct Fleet {
    pub seed: u64,
    pub genesis: i64,
    pub pve: Vec<PveCluster>,
    pub pbs: Vec<PbsServer>,
    pub pmg: Vec<PmgServer>,
}

#[derive(Debug, Clone)]
pub struct PveCluster {
    /// Instance name (also the corosync cluster name for real clusters).
    pub name: String,
    pub standalone: bool,
    pub nodes: Vec<Node>,
    pub guests: Vec<Guest>,
    pub storages: Vec<Storage>,
    pub ceph: Option<Ceph>,
    pub replication: Vec<ReplJob>,
    pub pveversion: &'static str,
    pub release: &'static str,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub nodeid: u32,
    pub maxcpu: u32,
    pub sockets: u32,
    pub cores: u32,
    pub model: &'static str,
    pub mhz: String,
    pub mem_total: u64,
    pub swap_total: u64,
    pub rootfs_total: u64,
    pub rootfs_frac: f64,
    /// Boot time, Unix seconds.
    pub boot: i64,
    pub kversion: &'static str,
    pub cpu_base: f64,
    pub mem_frac: f64,
    pub swap_frac: f64,
    pub disks: Vec<PhysDisk>,
    pub zfs: bool,
    /// Subscription level as /nodes shows it ("" none, "c" community).
    pub level: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Qemu,
    Lxc,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Qemu => "qemu",
            Kind::Lxc => "lxc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// agent not configured
    Off,
    Ok,
    /// configured, but the guest does not run it: PVE answers HTTP 500
    NotRunning,
    /// running, but commands fail: the error comes back inside HTTP 200
    Error,
}

#[derive(Debug, Clone)]
pub struct Guest {
    pub vmid: u32,
    pub kind: Kind,
    pub node: usize,
    pub name: String,
    /// `;`-separated as PVE sends them, "" for none.
    pub tags: String,
    pub template: bool,
    pub base_running: bool,
    /// qmpstatus "paused" while status says running.
    pub paused: bool,
    pub lock: Option<&'static str>,
    pub ha: bool,
    pub agent: Agent,
    pub maxcpu: u32,
    pub maxmem: u64,
    pub maxdisk: u64,
    pub maxswap: u64,
    /// Ballooning: the minimum the balloon may shrink to (None = balloon off).
    pub balloon_min: Option<u64>,
    pub disk_frac: f64,
    pub cpu_base: f64,
    pub mem_frac: f64,
    /// Mean bytes/s for net and block I/O.
    pub net_rate: f64,
    pub io_rate: f64,
    pub pool: Option<String>,
    /// When the current run began if it never stopped since genesis (Unix s).
    pub base_start: i64,
    /// Included in the nightly vzdump job.
    pub backup: bool,
    pub os: usize,
    pub snapshots: Vec<Snapshot>,
    pub mac: String,
    pub ip: String,
    /// Deleted: the status endpoint answers HTTP 500 {"data":null}.
    pub vanished: bool,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    pub description: String,
    pub snaptime: i64,
    pub parent: Option<String>,
    pub vmstate: bool,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub name: String,
    pub stype: &'static str,
    pub content: &'static str,
    pub shared: bool,
    /// None = available on every node.
    pub nodes: Option<Vec<usize>>,
    pub total: u64,
    pub used_frac: f64,
    pub disabled: bool,
    /// For type pbs: (server instance name, datastore).
    pub pbs: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct PhysDisk {
    pub devpath: String,
    pub model: &'static str,
    pub vendor: &'static str,
    pub serial: String,
    pub wwn: String,
    pub dtype: &'static str,
    pub size: u64,
    pub rpm: u32,
    pub health: &'static str,
    /// Percent of life left; None = "N/A" (HDDs).
    pub wearout: Option<u32>,
    pub used: &'static str,
    pub osd: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Ceph {
    pub fsid: String,
    pub health: &'static str,
    pub osds: Vec<Osd>,
    pub pools: Vec<CephPool>,
    pub mons: Vec<usize>,
    pub pgs: u32,
}

#[derive(Debug, Clone)]
pub struct Osd {
    pub id: u32,
    pub node: usize,
    pub up: bool,
    pub inn: bool,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct CephPool {
    pub id: u32,
    pub name: String,
    pub size: u32,
    pub min_size: u32,
    pub pg_num: u32,
    pub used_frac: f64,
}

#[derive(Debug, Clone)]
pub struct ReplJob {
    pub guest: u32,
    pub jobnum: u32,
    pub source: usize,
    pub target: usize,
    pub schedule: &'static str,
    pub rate: Option<u32>,
    pub failing: bool,
}

#[derive(Debug, Clone)]
pub struct PbsServer {
    pub name: String,
    pub version: &'static str,
    pub release: &'static str,
    pub cpu_base: f64,
    pub mem_total: u64,
    pub mem_frac: f64,
    pub boot: i64,
    pub datastores: Vec<Datastore>,
}

#[derive(Debug, Clone)]
pub struct Datastore {
    pub name: String,
    pub total: u64,
    pub used_frac: f64,
    pub namespaces: Vec<String>,
    pub groups: Vec<BackupGroup>,
    pub gc_hour: i64,
}

#[derive(Debug, Clone)]
pub struct BackupGroup {
    pub ns: String,
    pub btype: &'static str,
    pub id: String,
    pub owner: &'static str,
    pub comment: String,
    pub encrypted: bool,
    pub size: u64,
    /// Hour of day (UTC) the backup runs, minute offset included as seconds.
    pub at: i64,
    pub keep: i64,
    /// Covered by the datastore's verify job (false: snapshots stay unverified).
    pub verify_job: bool,
}

#[derive(Debug, Clone)]
pub struct PmgServer {
    pub name: String,
    pub version: &'static str,
    pub release: &'static str,
    pub nodes: Vec<String>,
    /// Mean mails per hour.
    pub mail_rate: f64,
    pub boot: i64,
}

const APPS: &[&str] = &[
    "web", "db", "cache", "proxy", "mail", "dns", "git", "ci", "monitor", "backup", "files",
    "media", "vpn", "ldap", "queue", "search", "api", "auth", "build", "docs",
];
const TAGS: &[&str] = &[
    "prod", "staging", "dev", "web", "database", "critical", "linux", "windows",
];
const CPU_MODELS: &[&str] = &[
    "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
    "AMD EPYC 7443P 24-Core Processor",
    "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
    "AMD Ryzen 9 5950X 16-Core Processor",
];
const KERNELS: &[&str] = &[
    "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-10-21T11:55Z)",
    "Linux 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)",
];
const DISK_MODELS: &[(&str, &str, &str, u64, u32)] = &[
    (
        "Samsung SSD 870 EVO 1TB",
        "ATA",
        "ssd",
        1_000_204_886_016,
        0,
    ),
    (
        "WDC WD80EFZZ-68BTXN0",
        "ATA",
        "hdd",
        8_001_563_222_016,
        5400,
    ),
    ("Samsung SSD 980 PRO 2TB", "", "nvme", 2_000_398_934_016, 0),
    ("ST4000NM0035-1V4107", "ATA", "hdd", 4_000_787_030_016, 7200),
    ("INTEL SSDSC2KB960G8", "ATA", "ssd", 960_197_124_096, 0),
];
pub const OS_LIST: &[(&str, &str, &str)] = &[
    ("debian", "Debian GNU/Linux", "12"),
    ("ubuntu", "Ubuntu", "24.04"),
    ("rocky", "Rocky Linux", "9.4"),
    (
        "mswindows",
        "Microsoft Windows Server 2022 Standard",
        "10.0",
    ),
];

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

impl Fleet {
    pub fn generate(spec: &FleetSpec) -> Fleet {
        let mut rng = Rng::new(spec.seed);
        let mut pbs: Vec<PbsServer> = Vec::new();
        for i in 0..spec.pbs {
            pbs.push(gen_pbs(&mut rng, i, spec.genesis));
        }
        let mut pve = Vec::new();
        for c in 0..spec.clusters {
            pve.push(gen_cluster(
                &mut rng,
                format!("cluster{}", c + 1),
                false,
                spec.nodes.max(1),
                spec.guests,
                spec.genesis,
                &pbs,
            ));
        }
        for s in 0..spec.standalone {
            pve.push(gen_cluster(
                &mut rng,
                format!("standalone{}", s + 1),
                true,
                1,
                spec.guests.min(40),
                spec.genesis,
                &pbs,
            ));
        }
        // PBS backup groups belong to real guests of the PVE clusters (same vmid, same type,
        // guest name as comment), so a monitor can match backups to guests
        if !pve.is_empty() {
            for (i, p) in pbs.iter_mut().enumerate() {
                let c: &PveCluster = &pve[i % pve.len()];
                let candidates: Vec<&Guest> = c.guests.iter().filter(|g| !g.template).collect();
                if candidates.is_empty() {
                    continue;
                }
                let mut k = 0;
                for d in &mut p.datastores {
                    for g in d.groups.iter_mut().filter(|g| g.btype != "host") {
                        let guest = candidates[(k * 7 + i) % candidates.len()];
                        k += 1;
                        g.btype = if guest.kind == Kind::Qemu { "vm" } else { "ct" };
                        g.id = guest.vmid.to_string();
                        g.comment = if guest.name.is_empty() {
                            format!("CT{}", guest.vmid)
                        } else {
                            guest.name.clone()
                        };
                    }
                    // a group exists once per namespace
                    let mut seen = std::collections::HashSet::new();
                    d.groups
                        .retain(|g| seen.insert((g.ns.clone(), g.btype, g.id.clone())));
                }
            }
        }
        let pmg = (0..spec.pmg)
            .map(|i| PmgServer {
                name: format!("pmg{}", i + 1),
                version: "9.0.1",
                release: "9.0",
                nodes: if i == 0 {
                    vec![format!("pmg{}-a", i + 1), format!("pmg{}-b", i + 1)]
                } else {
                    vec![format!("pmg{}-a", i + 1)]
                },
                mail_rate: 60.0 + rng.range(0, 140) as f64,
                boot: spec.genesis - rng.range(86_400, 40 * 86_400) as i64,
            })
            .collect();
        Fleet {
            seed: spec.seed,
            genesis: spec.genesis,
            pve,
            pbs,
            pmg,
        }
    }
}

fn gen_pbs(rng: &mut Rng, i: usize, genesis: i64) -> PbsServer {
    let mut datastores = Vec::new();
    let names = ["store1", "offsite", "archive"];
    for (d, name) in names.iter().enumerate().take(if i == 0 { 3 } else { 1 }) {
        let namespaces: Vec<String> = if d == 0 {
            vec!["".into(), "prod".into(), "prod/db".into(), "lab".into()]
        } else {
            vec!["".into()]
        };
        let mut groups = Vec::new();
        let ngroups = rng.range(6, 14);
        for g in 0..ngroups {
            let btype = *rng.pick(&["vm", "vm", "ct", "ct", "host"]);
            let id = if btype == "host" {
                format!("host{}", g)
            } else {
                (100 + rng.range(0, 60)).to_string()
            };
            groups.push(BackupGroup {
                ns: rng.pick(&namespaces).clone(),
                btype,
                id,
                owner: rng.pick_str(&["root@pam", "backup@pbs", "root@pam!pulse", "sync@pbs"]),
                comment: format!("{}-{}", rng.pick(APPS), g),
                encrypted: rng.chance(0.25),
                size: rng.range(2, 120) * GIB,
                at: (rng.range(0, 5) * 3600 + rng.range(0, 59) * 60) as i64,
                keep: rng.range(5, 14) as i64,
                // the second group of every datastore is outside the verify job
                verify_job: g != 1 && rng.chance(0.9),
            });
        }
        datastores.push(Datastore {
            name: name.to_string(),
            total: rng.range(4, 40) * TIB,
            used_frac: 0.2 + rng.f64() * 0.7,
            namespaces,
            groups,
            gc_hour: rng.range(2, 6) as i64,
        });
    }
    PbsServer {
        name: format!("pbs{}", i + 1),
        version: "4.0",
        release: "14",
        cpu_base: 0.05 + rng.f64() * 0.2,
        mem_total: rng.range(16, 64) * GIB,
        mem_frac: 0.3 + rng.f64() * 0.3,
        boot: genesis - rng.range(3 * 86_400, 60 * 86_400) as i64,
        datastores,
    }
}

fn gen_cluster(
    rng: &mut Rng,
    name: String,
    standalone: bool,
    nnodes: usize,
    nguests: usize,
    genesis: i64,
    pbs: &[PbsServer],
) -> PveCluster {
    let mut nodes = Vec::with_capacity(nnodes);
    let prefix = if standalone {
        name.clone()
    } else {
        name.replace("cluster", "c")
    };
    let with_ceph = !standalone && nnodes >= 3;
    let mut osd_id = 0;
    for n in 0..nnodes {
        let threads = *rng.pick(&[8u32, 16, 32, 48, 64, 96]);
        let sockets = if threads >= 64 { 2 } else { 1 };
        let mut disks = Vec::new();
        for d in 0..rng.range(2, 4) {
            let (model, vendor, dtype, size, rpm) = *rng.pick(DISK_MODELS);
            let wearout = match dtype {
                "hdd" => None,
                _ => Some(if rng.chance(0.1) {
                    rng.range(2, 9) as u32
                } else {
                    rng.range(60, 100) as u32
                }),
            };
            let osd = if with_ceph && d > 0 && dtype != "hdd" {
                osd_id += 1;
                Some(osd_id - 1)
            } else {
                None
            };
            let devpath = if dtype == "nvme" {
                format!("/dev/nvme{d}n1")
            } else {
                format!("/dev/sd{}", (b'a' + d as u8) as char)
            };
            disks.push(PhysDisk {
                devpath,
                model,
                vendor,
                serial: format!("S{:012X}", rng.next_u64() & 0xFFFF_FFFF_FFFF),
                wwn: format!("0x5{:015x}", rng.next_u64() & 0x0FFF_FFFF_FFFF_FFFF),
                dtype,
                size,
                rpm,
                health: if rng.chance(0.04) { "FAILED" } else { "PASSED" },
                wearout,
                used: if osd.is_some() {
                    "LVM"
                } else if d == 0 {
                    "BIOS boot"
                } else {
                    rng.pick_str(&["ZFS", "LVM", "ext4"])
                },
                osd,
            });
        }
        nodes.push(Node {
            name: if standalone {
                format!("{prefix}-pve")
            } else {
                format!("{prefix}-pve{}", n + 1)
            },
            nodeid: n as u32 + 1,
            maxcpu: threads,
            sockets,
            cores: threads / 2 / sockets,
            model: rng.pick_str(CPU_MODELS),
            mhz: format!("{}.{:03}", rng.range(2000, 3800), rng.range(0, 999)),
            mem_total: rng.range(64, 512) * GIB,
            swap_total: if rng.chance(0.5) { 8 * GIB } else { 0 },
            rootfs_total: rng.range(60, 200) * GIB,
            rootfs_frac: 0.1 + rng.f64() * 0.5,
            boot: genesis - rng.range(2 * 86_400, 90 * 86_400) as i64,
            kversion: rng.pick_str(KERNELS),
            cpu_base: 0.08 + rng.f64() * 0.35,
            mem_frac: 0.3 + rng.f64() * 0.4,
            swap_frac: rng.f64() * 0.2,
            disks,
            zfs: rng.chance(0.5),
            level: if rng.chance(0.5) { "c" } else { "" },
        });
    }

    let mut storages = vec![
        Storage {
            name: "local".into(),
            stype: "dir",
            content: "backup,iso,vztmpl",
            shared: false,
            nodes: None,
            total: 100 * GIB,
            used_frac: 0.2 + rng.f64() * 0.5,
            disabled: false,
            pbs: None,
        },
        Storage {
            name: "local-lvm".into(),
            stype: "lvmthin",
            content: "images,rootdir",
            shared: false,
            nodes: Some((0..nnodes).filter(|i| !nodes[*i].zfs).collect()),
            total: rng.range(1, 4) * TIB,
            used_frac: 0.1 + rng.f64() * 0.6,
            disabled: false,
            pbs: None,
        },
        Storage {
            name: "local-zfs".into(),
            stype: "zfspool",
            content: "images,rootdir",
            shared: false,
            nodes: Some((0..nnodes).filter(|i| nodes[*i].zfs).collect()),
            total: rng.range(1, 8) * TIB,
            used_frac: 0.1 + rng.f64() * 0.6,
            disabled: false,
            pbs: None,
        },
    ];
    if !standalone {
        storages.push(Storage {
            name: "nfs-backup".into(),
            stype: "nfs",
            content: "backup,iso",
            shared: true,
            nodes: None,
            total: 20 * TIB,
            used_frac: 0.3 + rng.f64() * 0.5,
            disabled: false,
            pbs: None,
        });
    }
    if with_ceph {
        storages.push(Storage {
            name: "ceph-vm".into(),
            stype: "rbd",
            content: "images,rootdir",
            shared: true,
            nodes: None,
            total: 0,
            used_frac: 0.0,
            disabled: false,
            pbs: None,
        });
        storages.push(Storage {
            name: "cephfs".into(),
            stype: "cephfs",
            content: "backup,iso,vztmpl",
            shared: true,
            nodes: None,
            total: 0,
            used_frac: 0.0,
            disabled: false,
            pbs: None,
        });
    }
    if let Some(p) = pbs.first() {
        storages.push(Storage {
            name: format!("pbs-{}", p.name),
            stype: "pbs",
            content: "backup",
            shared: true,
            nodes: None,
            total: p.datastores[0].total,
            used_frac: p.datastores[0].used_frac,
            disabled: false,
            pbs: Some((p.name.clone(), p.datastores[0].name.clone())),
        });
    }
    storages.push(Storage {
        name: "old-iso".into(),
        stype: "dir",
        content: "iso",
        shared: false,
        nodes: None,
        total: 50 * GIB,
        used_frac: 0.5,
        disabled: true,
        pbs: None,
    });

    let ceph = if with_ceph {
        let mut osds = Vec::new();
        for (ni, n) in nodes.iter().enumerate() {
            for d in &n.disks {
                if let Some(id) = d.osd {
                    osds.push(Osd {
                        id,
                        node: ni,
                        up: true,
                        inn: true,
                        size: d.size,
                    });
                }
            }
        }
        let health = *rng.pick(&["HEALTH_OK", "HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR"]);
        if health != "HEALTH_OK"
            && let Some(o) = osds.first_mut()
        {
            o.up = false;
            o.inn = health == "HEALTH_WARN";
        }
        Some(Ceph {
            fsid: format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                rng.next_u64() as u32,
                rng.next_u64() as u16,
                rng.next_u64() & 0xfff,
                rng.next_u64() & 0xfff,
                rng.next_u64() & 0xFFFF_FFFF_FFFF
            ),
            health,
            osds,
            pools: vec![
                CephPool {
                    id: 1,
                    name: ".mgr".into(),
                    size: 3,
                    min_size: 2,
                    pg_num: 1,
                    used_frac: 0.0001,
                },
                CephPool {
                    id: 2,
                    name: "ceph-vm".into(),
                    size: 3,
                    min_size: 2,
                    pg_num: 128,
                    used_frac: 0.2 + rng.f64() * 0.4,
                },
                CephPool {
                    id: 3,
                    name: "cephfs_data".into(),
                    size: 3,
                    min_size: 2,
                    pg_num: 64,
                    used_frac: 0.1 + rng.f64() * 0.3,
                },
            ],
            mons: (0..nnodes.min(3)).collect(),
            pgs: 193,
        })
    } else {
        None
    };

    let mut guests = Vec::with_capacity(nguests);
    for i in 0..nguests {
        let vmid = 100 + i as u32;
        let kind = if rng.chance(0.6) {
            Kind::Qemu
        } else {
            Kind::Lxc
        };
        let template = rng.chance(0.02);
        let base_running = !template && rng.chance(0.82);
        let node = (rng.next_u64() % nnodes as u64) as usize;
        let app = rng.pick(APPS);
        let mut tags = Vec::new();
        if rng.chance(0.6) {
            for _ in 0..rng.range(1, 3) {
                let t = *rng.pick(TAGS);
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        tags.sort_unstable();
        let maxmem = match kind {
            Kind::Qemu => rng.range(1, 32) * GIB,
            Kind::Lxc => rng.range(1, 16) * 512 * 1024 * 1024,
        };
        let agent = if kind == Kind::Qemu && rng.chance(0.7) {
            let r = rng.f64();
            if r < 0.1 {
                Agent::NotRunning
            } else if r < 0.15 {
                Agent::Error
            } else {
                Agent::Ok
            }
        } else {
            Agent::Off
        };
        let paused = kind == Kind::Qemu && base_running && rng.chance(0.03);
        let lock = if template {
            None
        } else if rng.chance(0.02) {
            Some(*rng.pick(&["snapshot", "migrate", "backup"]))
        } else if kind == Kind::Qemu && !base_running && rng.chance(0.05) {
            Some("suspended")
        } else {
            None
        };
        let mut snapshots = Vec::new();
        if !template && rng.chance(0.3) {
            let mut parent: Option<String> = None;
            let mut t = genesis - rng.range(30, 120) as i64 * 86_400;
            for s in 0..rng.range(1, 3) {
                let name = format!(
                    "{}-{}",
                    rng.pick(&["pre-upgrade", "weekly", "before-change"]),
                    s
                );
                snapshots.push(Snapshot {
                    name: name.clone(),
                    description: format!("snapshot {s} of {app}"),
                    snaptime: t,
                    parent: parent.clone(),
                    vmstate: kind == Kind::Qemu && rng.chance(0.4),
                });
                parent = Some(name);
                t += rng.range(1, 20) as i64 * 86_400;
            }
        }
        guests.push(Guest {
            vmid,
            kind,
            node,
            name: if rng.chance(0.01) && kind == Kind::Lxc {
                String::new()
            } else {
                format!(
                    "{}-{}-{}",
                    app,
                    if kind == Kind::Qemu { "vm" } else { "ct" },
                    vmid
                )
            },
            tags: tags.join(";"),
            template,
            base_running,
            paused,
            lock,
            ha: !standalone && rng.chance(0.1),
            agent,
            maxcpu: rng.range(1, 8) as u32,
            maxmem,
            maxdisk: rng.range(8, 256) * GIB,
            maxswap: if kind == Kind::Lxc {
                512 * 1024 * 1024
            } else {
                0
            },
            balloon_min: if kind == Kind::Qemu && rng.chance(0.3) {
                Some(maxmem / 2)
            } else {
                None
            },
            disk_frac: 0.1 + rng.f64() * 0.75,
            cpu_base: 0.02 + rng.f64() * rng.f64() * 0.6,
            mem_frac: 0.25 + rng.f64() * 0.55,
            net_rate: rng.f64() * rng.f64() * 4.0e6,
            io_rate: rng.f64() * rng.f64() * 8.0e6,
            pool: if rng.chance(0.1) {
                Some("production".into())
            } else {
                None
            },
            base_start: genesis - rng.range(600, 60 * 86_400) as i64,
            backup: !template && rng.chance(0.7),
            // containers share the host kernel: Linux distributions only (the first three)
            os: (rng.next_u64()
                % if kind == Kind::Lxc {
                    3
                } else {
                    OS_LIST.len() as u64
                }) as usize,
            snapshots,
            mac: format!(
                "BC:24:11:{:02X}:{:02X}:{:02X}",
                (vmid >> 16) & 0xff,
                (vmid >> 8) & 0xff,
                vmid & 0xff
            ),
            ip: format!(
                "10.{}.{}.{}",
                10 + (vmid >> 16) % 200,
                (vmid >> 8) & 0xff,
                (vmid & 0xff).max(2)
            ),
            vanished: false,
        });
    }
    // Templates and stopped guests cannot be "running with a lock" the wrong way round.
    let replication = if !standalone && nnodes >= 2 {
        guests
            .iter()
            .filter(|g| g.kind == Kind::Qemu && !g.template)
            .take(6)
            .enumerate()
            .map(|(i, g)| ReplJob {
                guest: g.vmid,
                jobnum: 0,
                source: g.node,
                target: (g.node + 1) % nnodes,
                schedule: if i % 2 == 0 { "*/15" } else { "*/30" },
                rate: if i % 3 == 0 { Some(100) } else { None },
                failing: i == 4,
            })
            .collect()
    } else {
        Vec::new()
    };
    PveCluster {
        name,
        standalone,
        nodes,
        guests,
        storages,
        ceph,
        replication,
        pveversion: "9.1.2",
        release: "9.1",
    }
}

impl PveCluster {
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
    pub fn guest(&self, vmid: u32) -> Option<&Guest> {
        // vmids are dense from 100 in generated fleets; fall back to a scan for edited ones
        let i = vmid.checked_sub(100)? as usize;
        match self.guests.get(i) {
            Some(g) if g.vmid == vmid => Some(g),
            _ => self.guests.iter().find(|g| g.vmid == vmid),
        }
    }
    pub fn storage_on(&self, s: &Storage, node: usize) -> bool {
        s.nodes.as_ref().is_none_or(|n| n.contains(&node))
    }
    /// The storage nightly backups of this cluster go to.
    pub fn backup_storage(&self) -> &str {
        if self.standalone {
            "local"
        } else {
            "nfs-backup"
        }
    }
}
