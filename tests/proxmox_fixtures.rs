//! Every recorded Proxmox response under `tests/fixtures/proxmox/{pve,pbs,pmg}` is served by a
//! loopback HTTPS mock and fetched through the real typed client call for its endpoint; key
//! fields must come out populated (including the quirky ones: numbers as strings, missing
//! fields, booleans as 0/1/""). A fixture file without a mapping fails the test.

#[path = "support/mock_proxmox.rs"]
mod mock;

use mock::{MockServer, Reply};
use pulse::proxmox::pve::{GuestKind, ResourceType};
use pulse::proxmox::types::pmg::PostfixQueue;
use pulse::proxmox::{
    ApiClient, ClientOptions, Credentials, ErrorKind, PbsClient, PmgClient, Product, ProxmoxError,
    PveClient, TlsMode,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Clients {
    pve: PveClient,
    pbs: PbsClient,
    pmg: PmgClient,
}

fn api(product: Product, url: &str) -> ApiClient {
    let creds =
        Credentials::from_settings(product, None, None, Some("pulse@pam!mon"), Some("secret"))
            .unwrap();
    let mut o = ClientOptions::new(product, url, creds, TlsMode::NoVerify);
    o.timeout = Duration::from_secs(5);
    o.connect_timeout = Duration::from_secs(2);
    ApiClient::new(o).unwrap()
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proxmox")
}

/// `nodes-node-qemu-vmid-status-current.http500.1.json` → `nodes-node-qemu-vmid-status-current`
fn stem(file: &str) -> String {
    file.trim_end_matches(".json")
        .split('.')
        .next()
        .unwrap_or("")
        .to_owned()
}

type R = Result<(), ProxmoxError>;

/// Calls the typed client method for `dir/stem`, asserts key fields, and returns the path the
/// call should have requested (relative to /api2/json).
fn check(c: &Clients, dir: &str, stem: &str, file: &str) -> (R, &'static str) {
    let n = "pve";
    match (dir, stem) {
        ("pve", "access-ticket") => {
            // The login answer: decoded by the same type the login uses.
            let r = c
                .pve
                .api()
                .post::<pulse::proxmox::auth::TicketResponse>("/access/ticket", &[])
                .map(|t| {
                    assert!(t.ticket.starts_with("PVE:"), "{file}");
                    assert!(!t.csrf_prevention_token.is_empty());
                    assert_eq!(t.username, "root@pam");
                });
            (r, "/access/ticket")
        }
        ("pve", "cluster-backup") => (
            c.pve.backup_jobs().map(|v| {
                assert!(!v.is_empty());
                assert!(v.iter().all(|j| !j.id.is_empty() && !j.schedule.is_empty()));
                assert!(v[0].enabled && v[0].all);
                assert!(v[0].next_run.is_some());
            }),
            "/cluster/backup",
        ),
        ("pve", "cluster-resources") => (
            c.pve.cluster_resources(ResourceType::Vm).map(|v| {
                assert!(!v.is_empty(), "{file}");
                for r in &v {
                    assert!(!r.id.is_empty() && !r.kind.is_empty() && !r.node.is_empty());
                    match r.kind.as_str() {
                        "qemu" | "lxc" => {
                            assert!(r.vmid.is_some(), "{file}: {r:?}");
                            assert!(r.maxmem > 0, "{file}: {r:?}");
                        }
                        "node" => assert!(r.maxcpu > 0.0 && r.maxmem > 0),
                        "storage" => assert!(!r.storage.is_empty() && r.maxdisk > 0),
                        other => panic!("{file}: unexpected type {other}"),
                    }
                }
                if file.ends_with(".2.json") {
                    assert!(v.iter().any(|r| r.status == "stopped"));
                    assert!(v.iter().any(|r| !r.pool.is_empty()));
                }
            }),
            "/cluster/resources",
        ),
        ("pve", "cluster-status") => (
            c.pve.cluster_status(None).map(|v| {
                let cluster = v
                    .iter()
                    .find(|i| i.kind == "cluster")
                    .expect("cluster entry");
                assert!(cluster.quorate && cluster.nodes == 4);
                let nodes: Vec<_> = v.iter().filter(|i| i.kind == "node").collect();
                assert_eq!(nodes.len(), 4);
                assert!(nodes.iter().all(|n| !n.ip.is_empty() && n.nodeid > 0));
                assert!(nodes.iter().any(|n| n.local));
                assert!(nodes.iter().any(|n| n.online));
            }),
            "/cluster/status",
        ),
        ("pve", "nodes-node-disks-list") => (
            c.pve.disks(n).map(|v| {
                assert_eq!(v.len(), 5);
                assert!(
                    v.iter()
                        .all(|d| d.devpath.starts_with("/dev/") && d.size > 0)
                );
                assert_eq!(v[0].wearout, Some(100.0));
                // wearout arrives as strings ("97"); "N/A" → None is covered by the de tests.
                assert!(v.iter().all(|d| d.wearout.is_some_and(|w| w > 90.0)));
                assert!(v.iter().all(|d| d.osdid == -1 && d.osdid_list.is_empty()));
                assert!(v.iter().all(|d| d.health == "PASSED" && d.kind == "ssd"));
            }),
            "/nodes/pve/disks/list",
        ),
        ("pve", "nodes-node-disks-smart") => (
            c.pve.disk_smart(n, "/dev/sda").map(|s| {
                assert!(!s.health.is_empty());
                match s.kind.as_str() {
                    "ata" => {
                        assert!(!s.attributes.is_empty());
                        let a = &s.attributes[0];
                        assert!(!a.name.is_empty() && !a.id.trim().is_empty());
                        assert!(a.value > 0 && !a.raw.is_empty());
                    }
                    "text" => assert!(!s.text.is_empty() && s.health == "OK"),
                    other => panic!("{file}: smart type {other}"),
                }
            }),
            "/nodes/pve/disks/smart",
        ),
        ("pve", "nodes-node-lxc-vmid-rrddata") | ("pve", "nodes-node-qemu-vmid-rrddata") => {
            let kind = if stem.contains("lxc") {
                GuestKind::Lxc
            } else {
                GuestKind::Qemu
            };
            let path = if kind == GuestKind::Lxc {
                "/nodes/pve/lxc/100/rrddata"
            } else {
                "/nodes/pve/qemu/100/rrddata"
            };
            (
                c.pve.guest_rrddata(n, kind, 100, "hour", None).map(|v| {
                    assert!(!v.is_empty());
                    assert!(v.iter().all(|p| p.time > 1_000_000_000));
                    assert!(v.iter().any(|p| p.maxmem.unwrap_or(0.0) > 0.0), "{file}");
                    assert!(v.iter().any(|p| p.cpu.is_some()));
                }),
                path,
            )
        }
        ("pve", "nodes-node-lxc-vmid-status-current") => (
            c.pve.lxc_status(n, 100, None).map(|s| {
                assert_eq!(s.vmid, Some(100));
                assert_eq!(s.name, "CT100");
                assert!(s.maxmem > 0 && s.maxdisk > 0);
                assert!(!s.template);
                if s.status == "running" {
                    assert_eq!(s.maxdisk, 1_031_540_736, "string maxdisk");
                    assert_eq!(s.disk, 11_665_408);
                    assert_eq!(s.pid, Some(3578));
                } else {
                    assert_eq!(s.status, "stopped");
                    assert_eq!(s.pid, None);
                }
            }),
            "/nodes/pve/lxc/100/status/current",
        ),
        ("pve", "nodes-node-lxc") => (
            c.pve.lxc_list(n).map(|v| {
                assert!(!v.is_empty());
                assert!(v.iter().all(|g| g.vmid.is_some_and(|id| id >= 100)));
                assert!(v.iter().all(|g| g.maxmem > 0));
                let stopped: Vec<_> = v.iter().filter(|g| g.status == "stopped").collect();
                assert!(!stopped.is_empty() && stopped.iter().all(|g| g.pid.is_none()));
                if file.ends_with(".1.json") {
                    assert!(v.iter().any(|g| g.template));
                }
            }),
            "/nodes/pve/lxc",
        ),
        ("pve", "nodes-node-qemu-vmid-agent-get-fsinfo") => (
            c.pve.agent_fsinfo(n, 100, None).map(|v| {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].mountpoint, "/");
                assert_eq!(v[0].total_bytes, Some(53_687_091_200));
                assert_eq!(v[0].used_bytes, Some(1_234_567_890));
                assert_eq!(v[0].disk[0].dev, "/dev/sda1");
                assert_eq!(v[0].disk[0].bus_type, "scsi");
            }),
            "/nodes/pve/qemu/100/agent/get-fsinfo",
        ),
        ("pve", "nodes-node-qemu-vmid-agent-network-get-interfaces") => (
            c.pve.agent_network_interfaces(n, 100, None).map(|v| {
                assert!(v.len() >= 2);
                assert!(v.iter().all(|i| !i.name.is_empty()));
                let with_ip: Vec<_> = v.iter().filter(|i| !i.ip_addresses.is_empty()).collect();
                assert!(!with_ip.is_empty());
                assert!(
                    with_ip
                        .iter()
                        .all(|i| !i.ip_addresses[0].ip_address.is_empty())
                );
                if file.ends_with(".1.json") {
                    let eth0 = v.iter().find(|i| i.name == "eth0").expect("eth0");
                    assert!(eth0.statistics.as_ref().is_some_and(|s| s.rx_bytes > 0));
                } else {
                    assert!(v.iter().any(|i| i.statistics.is_none()));
                }
            }),
            "/nodes/pve/qemu/100/agent/network-get-interfaces",
        ),
        ("pve", "nodes-node-qemu-vmid-snapshot") => (
            c.pve.snapshots(n, GuestKind::Qemu, 100, None).map(|v| {
                assert_eq!(v.len(), 2);
                let cur = v.iter().find(|s| s.name == "current").expect("current");
                assert!(!cur.running && !cur.digest.is_empty());
                let snap = v.iter().find(|s| s.name != "current").expect("snapshot");
                assert!(snap.snaptime.is_some_and(|t| t > 1_600_000_000));
                assert!(!snap.vmstate);
            }),
            "/nodes/pve/qemu/100/snapshot",
        ),
        ("pve", "nodes-node-qemu-vmid-status-current") if file.contains("http500") => (
            c.pve
                .qemu_status(n, 100, None)
                .map(|_| panic!("HTTP 500 must be an error")),
            "/nodes/pve/qemu/100/status/current",
        ),
        ("pve", "nodes-node-qemu-vmid-status-current") => (
            c.pve.qemu_status(n, 100, None).map(|s| {
                assert!(s.vmid.is_some());
                assert!(!s.name.is_empty() && !s.status.is_empty() && !s.qmpstatus.is_empty());
                assert!(s.maxmem > 0 && s.cpus > 0.0);
                if s.status == "running" {
                    assert!(s.pid.is_some_and(|p| p > 0), "{file}");
                    assert!(s.mem > 0);
                } else {
                    assert_eq!(s.pid, None);
                }
                if file.ends_with(".1.json") {
                    assert!(s.agent.usable() && s.balloon > 0 && s.freemem > 0);
                    assert!(!s.running_qemu.is_empty());
                }
                if file.ends_with(".2.json") {
                    assert_eq!(s.pid, Some(2947), "string pid");
                }
                if file.ends_with(".3.json") {
                    assert_eq!(
                        (s.status.as_str(), s.qmpstatus.as_str()),
                        ("running", "paused")
                    );
                }
            }),
            "/nodes/pve/qemu/100/status/current",
        ),
        ("pve", "nodes-node-qemu") => (
            c.pve.qemu_list(n).map(|v| {
                assert!(!v.is_empty());
                assert!(
                    v.iter()
                        .all(|g| g.vmid.is_some() && g.maxmem > 0 && !g.name.is_empty())
                );
                assert!(v.iter().all(|g| !g.template));
            }),
            "/nodes/pve/qemu",
        ),
        ("pve", "nodes-node-rrddata") => (
            c.pve.node_rrddata(n, "hour", None).map(|v| {
                assert!(!v.is_empty());
                assert!(v.iter().any(|p| p.memtotal.unwrap_or(0.0) > 0.0));
                assert!(v.iter().any(|p| p.memused.unwrap_or(0.0) > 0.0));
                if file.ends_with(".1.json") {
                    assert!(v.iter().any(|p| p.memavailable.is_some()));
                } else {
                    assert!(v.iter().all(|p| p.memavailable.is_none()));
                }
            }),
            "/nodes/pve/rrddata",
        ),
        ("pve", "nodes-node-status") => (
            c.pve.node_status(n).map(|s| {
                assert!(s.memory.total > 0 && s.memory.used > 0);
                assert_eq!(s.loadavg.len(), 3, "loadavg strings");
                assert!(s.kversion.starts_with("Linux"));
                assert!(s.pveversion.starts_with("pve-manager/"));
                assert!(!s.cpuinfo.model.is_empty() && s.cpuinfo.cpus > 0);
                assert!(s.cpuinfo.mhz.parse::<f64>().is_ok_and(|m| m > 0.0));
                assert!(s.rootfs.total > 0 && s.uptime > 0);
                if file.ends_with(".2.json") {
                    assert!(s.memory.available > 0);
                    assert!(s.boot_info.is_object() && s.current_kernel.is_object());
                }
            }),
            "/nodes/pve/status",
        ),
        ("pve", "nodes-node-storage-storage-content") => (
            c.pve
                .storage_content(n, "local", Some("backup"), Some(100), None)
                .map(|v| {
                    if file.ends_with(".2.json") {
                        assert!(v.is_empty());
                    } else {
                        assert_eq!(v.len(), 1);
                        assert!(v[0].volid.contains("vzdump") && v[0].content == "backup");
                        assert!(v[0].ctime > 0 && v[0].size > 0 && v[0].vmid == Some(100));
                    }
                }),
            "/nodes/pve/storage/local/content",
        ),
        ("pve", "nodes-node-storage") => (
            c.pve.node_storage(n, None).map(|v| {
                assert_eq!(v.len(), 2);
                assert!(v.iter().all(|s| s.total > 0 && s.active && s.enabled));
                assert!(
                    v.iter()
                        .all(|s| !s.storage.is_empty() && !s.content.is_empty())
                );
                assert!(v.iter().all(|s| s.used_fraction > 0.0));
            }),
            "/nodes/pve/storage",
        ),
        ("pve", "nodes-node-tasks-upid-status") => (
            c.pve
                .task_status(
                    n,
                    "UPID:pve:00000754:00009421:5FBE5DD2:vzcreate:100:root@pam:",
                )
                .map(|t| {
                    assert!(t.upid.starts_with("UPID:") && t.starttime > 0);
                    if t.status == "stopped" {
                        assert_eq!(t.exitstatus.as_deref(), Some("OK"));
                    } else {
                        assert_eq!(t.status, "running");
                        assert_eq!(t.exitstatus, None);
                    }
                }),
            "/nodes/pve/tasks/UPID:pve:00000754:00009421:5FBE5DD2:vzcreate:100:root@pam:/status",
        ),
        ("pve", "nodes-node-tasks") => (
            c.pve.tasks(n, None, None).map(|v| {
                assert!(!v.is_empty());
                assert!(
                    v.iter()
                        .all(|t| t.upid.starts_with("UPID:") && !t.kind.is_empty())
                );
                assert!(v.iter().all(|t| t.starttime > 0));
                assert!(v.iter().any(|t| t.status.as_deref() == Some("OK")));
                if file.ends_with(".2.json") {
                    assert!(
                        v.iter()
                            .any(|t| t.status.as_deref().is_some_and(|s| s.contains("failed")))
                    );
                }
            }),
            "/nodes/pve/tasks",
        ),
        ("pve", "nodes") => (
            c.pve.nodes().map(|v| {
                assert!(!v.is_empty());
                for nd in &v {
                    assert!(!nd.node.is_empty() && nd.status == "online");
                    assert!(nd.maxcpu > 0 && nd.maxmem > 0 && nd.maxdisk > 0 && nd.uptime > 0);
                    assert!(nd.cpu >= 0.0 && nd.cpu <= 1.0);
                    assert!(!nd.ssl_fingerprint.is_empty());
                }
            }),
            "/nodes",
        ),
        ("pve", "storage") => (
            c.pve.storage_config().map(|v| {
                assert_eq!(v.len(), 3);
                assert!(
                    v.iter()
                        .all(|s| !s.storage.is_empty() && !s.kind.is_empty())
                );
                assert!(v.iter().any(|s| s.disable), "disable=1");
                assert!(v.iter().all(|s| !s.shared));
                assert!(v.iter().any(|s| s.is_mountpoint == "1"));
            }),
            "/storage",
        ),
        ("pve", "version") => (
            c.pve.version().map(|v| {
                assert_eq!(v.version, "6.2-4");
                assert!(!v.release.is_empty() && !v.repoid.is_empty());
            }),
            "/version",
        ),
        ("pbs", "admin-datastore-store-namespace") => (
            c.pbs.namespaces("store1").map(|v| {
                assert_eq!(v.len(), 2);
                assert_eq!(v[0].path(), "");
                assert_eq!(v[1].path(), "proxmox-v2");
            }),
            "/admin/datastore/store1/namespace",
        ),
        ("pbs", "admin-datastore-store-snapshots") => (
            c.pbs.snapshots("store1", "", None, None).map(|v| {
                assert_eq!(v.len(), 2);
                for s in &v {
                    assert_eq!(s.backup_type, "vm");
                    assert_eq!(s.backup_id, "103");
                    assert!(s.backup_time > 1_700_000_000 && s.size.is_some());
                    assert!(s.files.iter().all(|f| !f.filename.is_empty()));
                    assert!(!s.protected);
                }
                let f = &v[0].files;
                assert!(
                    f.iter()
                        .any(|f| f.size.is_none() && f.filename == "client.log.blob")
                );
                let verified: Vec<_> = v.iter().filter_map(|s| s.verification.as_ref()).collect();
                assert_eq!(verified.len(), 1);
                assert_eq!(verified[0].state, "ok");
                assert!(verified[0].upid.contains("\\x3a"), "escapes kept verbatim");
            }),
            "/admin/datastore/store1/snapshots",
        ),
        ("pbs", "nodes-localhost-subscription") => (
            c.pbs.subscription().map(|s| {
                assert_eq!(s.status, "notfound");
                assert!(!s.message.is_empty());
            }),
            "/nodes/localhost/subscription",
        ),
        ("pbs", "status-datastore-usage") => (
            c.pbs.datastore_usage().map(|v| {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].store, "slow-xfs");
                assert!(v[0].total > 0 && v[0].used > 0 && v[0].avail > 0);
                assert_eq!(v[0].backend_type, "filesystem");
            }),
            "/status/datastore-usage",
        ),
        ("pbs", "version") => (
            c.pbs.version().map(|v| {
                assert_eq!((v.version.as_str(), v.release.as_str()), ("4.2", "1"));
            }),
            "/version",
        ),
        ("pmg", "quarantine-spamstatus") => (
            c.pmg.spam_quarantine().map(|q| {
                assert_eq!(q.count, 0, "null count → 0");
                assert_eq!(q.avgbytes, 512.0);
                assert_eq!(q.mbytes, 0.5);
            }),
            "/quarantine/spamstatus",
        ),
        ("pmg", "quarantine-virusstatus") => (
            c.pmg.virus_quarantine().map(|q| {
                assert_eq!(q.count, 4);
                assert_eq!(q.avgbytes, 256.0);
            }),
            "/quarantine/virusstatus",
        ),
        ("pmg", "statistics-mail") => (
            c.pmg.mail_stats().map(|m| {
                assert_eq!(m.count, 0);
                assert_eq!((m.count_in, m.count_out, m.spamcount_in), (25, 5, 7));
                assert_eq!((m.bytes_in, m.bytes_out), (1024.0, 2048.0));
                assert_eq!((m.glcount, m.rbl_rejects, m.junk_in), (2, 1, 0));
                assert_eq!(m.avptime, 0.75);
            }),
            "/statistics/mail",
        ),
        ("pmg", "statistics-mailcount") => (
            c.pmg.mail_count(3600).map(|v| {
                assert_eq!(v.len(), 1);
                assert_eq!(
                    (v[0].time, v[0].count, v[0].count_in),
                    (1_713_724_800, 12, 8)
                );
                assert_eq!(
                    (v[0].spamcount_in, v[0].glcount, v[0].rbl_rejects),
                    (0, 3, 2)
                );
            }),
            "/statistics/mailcount",
        ),
        ("pmg", "statistics-spamscores") => (
            c.pmg.spam_scores().map(|v| {
                assert_eq!(v.len(), 1);
                assert_eq!(
                    (v[0].level.as_str(), v[0].count, v[0].ratio),
                    ("high", 2, 0.5)
                );
            }),
            "/statistics/spamscores",
        ),
        _ => panic!("no parser mapped for fixture {dir}/{file} (stem {stem}): add one"),
    }
}

#[test]
fn every_fixture_parses_through_its_client_call() {
    let server = MockServer::start(|_| Reply::raw(500, "unset"));
    let url = server.url();
    let c = Clients {
        pve: PveClient::new(api(Product::Pve, &url)).unwrap(),
        pbs: PbsClient::new(api(Product::Pbs, &url)).unwrap(),
        pmg: PmgClient::new(api(Product::Pmg, &url)).unwrap(),
    };
    let mut count = 0;
    for dir in ["pve", "pbs", "pmg"] {
        let mut files: Vec<_> = std::fs::read_dir(fixtures_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(&path).unwrap();
            let status = if file.contains(".http500.") { 500 } else { 200 };
            server.set_handler(move |_| Reply::raw(status, body.clone()));
            server.clear();
            let (result, want_path) = check(&c, dir, &stem(&file), &file);
            if status == 500 {
                let e = result.expect_err(&file);
                assert_eq!(
                    (e.kind(), e.status()),
                    (ErrorKind::Http, Some(500)),
                    "{file}"
                );
                assert!(e.to_string().contains("no longer exist"), "{e}");
            } else if let Err(e) = result {
                panic!("{dir}/{file}: {e}");
            }
            let seen = server.requests();
            assert_eq!(seen.len(), 1, "{file}: one request");
            assert_eq!(seen[0].path, format!("/api2/json{want_path}"), "{file}");
            count += 1;
        }
    }
    assert!(count >= 50, "only {count} fixtures found");
}

#[test]
fn postfix_queue_accepts_both_shapes() {
    let server = MockServer::start(|_| {
        Reply::data(
            serde_json::json!({"active":"3","deferred":1,"hold":null,"incoming":0,"oldest_age":"600"}),
        )
    });
    let pmg = PmgClient::new(api(Product::Pmg, &server.url())).unwrap();
    match pmg.postfix_queue("pmg1").unwrap() {
        PostfixQueue::Counts(c) => {
            assert_eq!((c.active, c.deferred, c.hold, c.oldest_age), (3, 1, 0, 600))
        }
        other => panic!("{other:?}"),
    }
    server.set_handler(|_| Reply::data(serde_json::json!([{"name":"deferred"},{"name":"active"}])));
    assert!(matches!(pmg.postfix_queue("pmg1").unwrap(), PostfixQueue::List(l) if l.len() == 2));
}
