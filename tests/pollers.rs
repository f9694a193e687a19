//! The PVE/PBS/PMG pollers against a loopback HTTPS mock serving the real captured fixtures
//! (`tests/fixtures/proxmox`): the resulting `State` fragments, rates over two polls with a
//! manual clock, storage merge, template exclusion, stopped-guest zeroing, request economy
//! and failure categories. Only 127.0.0.1 is contacted.

#[path = "support/mock_proxmox.rs"]
mod mock;

use mock::{MockServer, Reply, Seen};
use pulse::model::State;
use pulse::monitor::InstancePoller;
use pulse::poller::clock::ManualClock;
use pulse::poller::scheduler::Category;
use pulse::poller::{
    PbsInstanceConfig, PbsPoller, PmgInstanceConfig, PmgPoller, PveInstanceConfig, PvePoller,
};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

fn fx(rel: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proxmox")
        .join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: Value = serde_json::from_str(&text).expect("fixture JSON");
    v["data"].clone()
}

fn not_found() -> Reply {
    Reply::raw(404, r#"{"data":null}"#).with_reason("Not Found")
}

fn api_path(s: &Seen) -> &str {
    s.path.strip_prefix("/api2/json").unwrap_or(&s.path)
}

/// Two online nodes `pve` (PVE 8, `available` memory) and `pve2` (PVE 7, no `available`),
/// guests from the real `/cluster/resources` capture plus a template, a shared NFS storage.
/// `round` bumps the VM's network and the CT's disk counters between polls.
fn pve_cluster(round: &AtomicU64, s: &Seen) -> Reply {
    let r = round.load(Ordering::SeqCst);
    let nas = |used: u64| {
        json!({"storage":"nas","type":"nfs","content":"images,backup","shared":1,"active":1,
               "enabled":1,"total":1_000_000u64,"used":used,"avail":1_000_000u64 - used})
    };
    let path = api_path(s);
    let data = match path {
        "/nodes" => {
            let mut a = fx("pve/nodes.2.json")[0].clone();
            a["node"] = json!("pve");
            let mut b = fx("pve/nodes.1.json")[0].clone();
            b["node"] = json!("pve2");
            json!([a, b])
        }
        "/nodes/pve/status" => fx("pve/nodes-node-status.2.json"),
        "/nodes/pve2/status" => fx("pve/nodes-node-status.1.json"),
        "/storage" => {
            let mut v = fx("pve/storage.1.json");
            v.as_array_mut()
                .unwrap()
                .push(json!({"storage":"nas","type":"nfs","content":"images,backup","shared":1}));
            v
        }
        "/nodes/pve/storage" | "/nodes/pve2/storage" => {
            let mut v = fx("pve/nodes-node-storage.1.json");
            let used = if path.contains("pve2") {
                310_000
            } else {
                300_000
            };
            v.as_array_mut().unwrap().push(nas(used));
            v
        }
        "/cluster/resources" => {
            assert_eq!(s.query, "type=vm", "one bulk guest query");
            let mut v = fx("pve/cluster-resources.2.json");
            // The rate counters are read here every cycle (status/current only about once
            // a minute): the same bumps as the status answers below.
            for g in v.as_array_mut().unwrap() {
                if g["id"] == "qemu/100" {
                    g["netin"] = json!(g["netin"].as_u64().unwrap() + r * 5_000_000);
                }
                if g["id"] == "lxc/102" {
                    g["diskread"] = json!(g["diskread"].as_u64().unwrap() + r * 10_000_000);
                }
            }
            v.as_array_mut()
                .unwrap()
                .push(json!({"id":"qemu/9000","type":"qemu","vmid":9000,
                "node":"pve","status":"stopped","name":"debian-template","template":1,
                "maxmem":1024,"maxdisk":2048}));
            v
        }
        "/nodes/pve/qemu/100/status/current" => {
            let mut v = fx("pve/nodes-node-qemu-vmid-status-current.1.json");
            let netin = v["netin"].as_u64().unwrap() + r * 5_000_000;
            v["netin"] = json!(netin);
            v
        }
        "/nodes/pve/qemu/100/agent/get-fsinfo" => {
            fx("pve/nodes-node-qemu-vmid-agent-get-fsinfo.handwritten.1.json")
        }
        "/nodes/pve/qemu/100/agent/network-get-interfaces" => {
            fx("pve/nodes-node-qemu-vmid-agent-network-get-interfaces.1.json")
        }
        "/nodes/pve/qemu/100/agent/get-osinfo" => {
            json!({"result":{"name":"Debian GNU/Linux","pretty-name":"Debian GNU/Linux 12 (bookworm)","version-id":"12"}})
        }
        "/nodes/pve/qemu/100/agent/info" => json!({"result":{"version":"7.2.0"}}),
        "/nodes/pve/lxc/102/status/current" => {
            let mut v = fx("pve/nodes-node-lxc-vmid-status-current.2.json");
            v["diskread"] = json!(6_017_024 + r * 10_000_000);
            v
        }
        "/nodes/pve/lxc/102/config" => json!({"hostname":"test-lxc",
            "rootfs":"local-lvm:vm-102-disk-0,size=10G",
            "net0":"name=eth0,bridge=vmbr0,hwaddr=bc:24:11:00:00:01,ip=192.168.1.50/24"}),
        "/nodes/pve/disks/list" | "/nodes/pve2/disks/list" => {
            fx("pve/nodes-node-disks-list.1.json")
        }
        "/cluster/replication" => json!([]),
        "/nodes/pve/tasks" | "/nodes/pve2/tasks" => {
            let mut v = fx("pve/nodes-node-tasks.1.json");
            if path == "/nodes/pve/tasks" {
                v.as_array_mut().unwrap().push(
                    json!({"upid":"UPID:pve:0001:0002:5FBE6000:vzdump:100:root@pam:",
                    "node":"pve","type":"vzdump","id":"100","starttime":1_606_312_000,
                    "endtime":1_606_312_100,"status":"OK","user":"root@pam"}),
                );
            }
            v
        }
        "/nodes/pve/storage/local/content" | "/nodes/pve2/storage/local/content" => {
            fx("pve/nodes-node-storage-storage-content.1.json")
        }
        "/nodes/pve/storage/nas/content" | "/nodes/pve2/storage/nas/content" => json!([]),
        "/nodes/pve/qemu/100/snapshot" => fx("pve/nodes-node-qemu-vmid-snapshot.1.json"),
        p if p.ends_with("/snapshot") => json!([]),
        _ => return not_found(),
    };
    Reply::data(data)
}

fn pve_config(url: &str) -> PveInstanceConfig {
    PveInstanceConfig {
        name: "home".into(),
        host: url.into(),
        token_name: "pulse@pve!mon".into(),
        token_value: "s3cr3t".into(),
        is_cluster: true,
        cluster_name: "lab".into(),
        timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

struct Pve {
    server: MockServer,
    round: Arc<AtomicU64>,
    clock: ManualClock,
    poller: PvePoller,
}

fn pve() -> Pve {
    let round = Arc::new(AtomicU64::new(0));
    let r = round.clone();
    let server = MockServer::start(move |s| pve_cluster(&r, s));
    let clock = ManualClock::at(T0);
    let poller = PvePoller::new(pve_config(&server.url()), Arc::new(clock.clone()));
    Pve {
        server,
        round,
        clock,
        poller,
    }
}

fn paths(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|s| api_path(s).to_owned())
        .collect()
}

#[test]
fn pve_nodes_memory_and_disk_follow_the_rules() {
    let t = pve();
    let s = t.poller.poll(None).expect("poll");
    let ids: Vec<&str> = s.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["home-pve", "home-pve2"]);
    let pve = &s.nodes[0];
    assert_eq!((pve.status.as_str(), pve.kind), ("online", "node"));
    // PVE 8: used = total − available.
    let m = pve.memory.as_ref().unwrap();
    assert_eq!(
        (m.total, m.used),
        (16_540_520_448, 16_540_520_448 - 3_868_946_432)
    );
    assert_eq!((pve.mem, pve.maxmem), (m.used, m.total));
    // Root disk from status rootfs.
    let d = pve.disk.as_ref().unwrap();
    assert_eq!(
        (d.total, d.used, d.free),
        (100_861_726_720, 24_372_563_968, 71_318_425_600)
    );
    assert_eq!(pve.cpu_info.cores, 16, "logical CPUs from /nodes maxcpu");
    assert_eq!(pve.last_seen, T0);
    assert!(pve.is_cluster_member && pve.cluster_name == "lab");
    // PVE 7 without `available`: free + buffers + cached vs total − used.
    let m2 = s.nodes[1].memory.as_ref().unwrap();
    assert_eq!((m2.total, m2.used), (65_919_459_328, 8_095_399_936));
    assert_eq!(s.nodes[1].load_average, [0.0, 0.0, 0.0]);
    assert_eq!(s.nodes[1].cpu_info.mhz, "3400.000");
    assert!(s.nodes[1].kernel_version.starts_with("Linux 5.15"));
    assert!(
        !t.server.requests().iter().any(|r| r.query.contains("ds=")),
        "rrddata never gets ds="
    );
}

#[test]
fn pve_guests_templates_zeroing_agent_and_ct_details() {
    let t = pve();
    let s = t.poller.poll(None).expect("poll");
    let vm_ids: Vec<&str> = s.vms.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(
        vm_ids,
        ["home-pve-100", "home-pve2-101"],
        "template 9000 dropped"
    );
    let ct_ids: Vec<u32> = s.containers.iter().map(|g| g.vmid).collect();
    assert_eq!(ct_ids, [102, 103, 104, 105]);

    let vm = &s.vms[0];
    assert_eq!(
        (vm.kind, &*vm.status, vm.template),
        ("qemu", "running", false)
    );
    // status/current: total = maxmem (balloon not below it), used = total − freemem.
    let m = vm.memory.as_ref().unwrap();
    assert_eq!(
        (m.total, m.used),
        (2_097_152_000, 2_097_152_000 - 887_222_272)
    );
    assert_eq!(m.balloon, Some(2_097_152_000));
    // Guest agent filesystems.
    let d = vm.disk.as_ref().unwrap();
    assert_eq!((d.total, d.used), (53_687_091_200, 1_234_567_890));
    assert_eq!(vm.disks.len(), 1);
    assert_eq!(vm.disks[0].device.as_deref(), Some("/dev/sda1"));
    assert_eq!(
        *vm.ip_addresses,
        [
            "10.1.2.3",
            "10.10.2.3",
            "fd8c:4687:e88d:1be3:5b70:7b88:c79c:293"
        ]
    );
    assert!(vm.network_interfaces.iter().all(|n| n.name != "lo"));
    assert_eq!(vm.os_name.as_deref(), Some("Debian GNU/Linux"));
    assert_eq!(vm.os_version.as_deref(), Some("12"));
    assert_eq!(vm.agent_version.as_deref(), Some("7.2.0"));
    assert_eq!((vm.network_in, vm.disk_read), (0, 0), "first sample");

    assert_eq!(vm.disk_status_reason, None, "agent reported usage");
    let stopped = &s.vms[1];
    assert_eq!(&*stopped.status, "stopped");
    assert_eq!(stopped.disk_status_reason, Some("vm-stopped"));
    assert_eq!(stopped.cpu, 0.0);
    assert_eq!(stopped.memory.as_ref().unwrap().usage, 0.0);

    let ct = &s.containers[0];
    assert_eq!((ct.id.as_str(), ct.kind), ("home-pve-102", "lxc"));
    let cm = ct.memory.as_ref().unwrap();
    assert_eq!((cm.total, cm.used), (536_870_912, 28_192_768));
    let cd = ct.disk.as_ref().unwrap();
    assert_eq!((cd.total, cd.used), (10_737_418_240, 352_190_464));
    assert_eq!(ct.disks.len(), 1);
    assert_eq!(ct.disks[0].mountpoint.as_deref(), Some("/"));
    assert_eq!(
        ct.disks[0].device.as_deref(),
        Some("local-lvm:vm-102-disk-0")
    );
    assert_eq!(*ct.ip_addresses, ["192.168.1.50"]);
    assert_eq!(
        ct.network_interfaces[0].mac.as_deref(),
        Some("BC:24:11:00:00:01")
    );
    // Stopped CTs: synthetic root disk, no addresses.
    assert!(
        s.containers[1..]
            .iter()
            .all(|c| c.disks.len() == 1 && c.ip_addresses.is_empty())
    );

    // No per-guest call for stopped guests or templates.
    let p = paths(&t.server);
    assert!(
        !p.iter()
            .any(|p| p.contains("/qemu/101/status") || p.contains("/qemu/9000/"))
    );
    assert!(!p.iter().any(|p| p.contains("/lxc/103/status")));
    assert_eq!(p.iter().filter(|p| *p == "/cluster/resources").count(), 1);
}

#[test]
fn pve_rates_over_two_polls_with_injected_clock() {
    let t = pve();
    let first = t.poller.poll(None).expect("poll 1");
    t.clock.advance(10_000);
    t.round.store(1, Ordering::SeqCst);
    let second = t.poller.poll(Some(&first)).expect("poll 2");
    let vm = &second.vms[0];
    assert_eq!(vm.network_in, 500_000, "5 MB over 10 s");
    assert_eq!((vm.network_out, vm.disk_read), (0, 0), "unchanged counters");
    assert_eq!(second.containers[0].disk_read, 1_000_000);
    assert_eq!(second.nodes[0].last_seen, T0 + 10_000);
    // Counters unchanged in a third poll → the last rates are repeated.
    t.clock.advance(10_000);
    let third = t.poller.poll(Some(&second)).expect("poll 3");
    assert_eq!(third.vms[0].network_in, 500_000);
    // Counters going backwards (guest restart) → 0.
    t.round.store(0, Ordering::SeqCst);
    t.clock.advance(10_000);
    let fourth = t.poller.poll(Some(&third)).expect("poll 4");
    assert_eq!(fourth.vms[0].network_in, 0);
}

#[test]
fn pve_storage_merges_shared_under_a_stable_id() {
    let t = pve();
    let s = t.poller.poll(None).expect("poll");
    let ids: Vec<&str> = s.storage.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "home-pve-local",
            "home-pve2-local",
            "home-pve-local-lvm",
            "home-pve2-local-lvm",
            "home-cluster-nas"
        ]
    );
    let nas = s.storage.iter().find(|x| x.name == "nas").unwrap();
    assert_eq!(
        (nas.node.as_str(), nas.used, nas.node_count),
        ("cluster", 310_000, Some(2))
    );
    assert_eq!(nas.nodes, ["pve", "pve2"]);
    assert_eq!(nas.node_ids, ["home-pve", "home-pve2"]);
    assert!(nas.shared);
    let local = &s.storage[0];
    assert_eq!(local.content, "backup,iso,vztmpl", "content sorted");
    assert_eq!(
        (local.total, local.used, local.free),
        (2_839_314_432, 1_987_850_240, 687_050_752)
    );
    t.clock.advance(10_000);
    let again = t.poller.poll(Some(&s)).expect("poll 2");
    let ids2: Vec<&str> = again.storage.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ids2, "ids stable between polls");
}

#[test]
fn pve_slow_cadence_backups_snapshots_disks() {
    let t = pve();
    let s = t.poller.poll(None).expect("poll");
    let tasks = &s.pve_backups.backup_tasks;
    assert_eq!(tasks.len(), 2, "only vzdump tasks, each once");
    assert_eq!(
        tasks[0].id,
        "home-UPID:pve:0001:0002:5FBE6000:vzdump:100:root@pam:"
    );
    assert_eq!((tasks[0].vmid, tasks[0].status.as_str()), (100, "OK"));
    assert!(tasks[0].start_time > tasks[1].start_time, "newest first");
    let sb = &s.pve_backups.storage_backups;
    assert_eq!(sb.len(), 1, "same volid reported by two nodes counted once");
    assert_eq!(
        sb[0].id(),
        "home-local:backup/vzdump-lxc-100-2020_11_25-14_39_11.tar.lzo"
    );
    assert_eq!(
        (sb[0].kind, sb[0].ctime, sb[0].size),
        ("lxc", 1_606_311_551, 4_504_446)
    );
    let snaps = &s.pve_backups.guest_snapshots;
    assert_eq!(snaps.len(), 1, "`current` is not a snapshot");
    assert_eq!(snaps[0].id, "home-pve-100-snapshot1");
    // lastBackup: newest OK vzdump task or backup volume of that VMID (the reference never
    // fills it). VM 100 has the task ending 1606312100; CT 102 has none.
    assert_eq!(s.vms[0].last_backup, Some(1_606_312_100_000));
    assert_eq!(s.containers[0].last_backup, None);
    assert_eq!(s.physical_disks.len(), 10);
    assert!(s.physical_disks.iter().any(|d| d.id == "home-pve--dev-sda"));
    assert!(
        s.physical_disks
            .iter()
            .all(|d| d.wearout >= 0 && d.last_checked == T0)
    );

    // The next cycles carry them over without asking again.
    t.server.clear();
    t.clock.advance(10_000);
    let s2 = t.poller.poll(Some(&s)).expect("poll 2");
    assert_eq!(s2.pve_backups, s.pve_backups);
    assert_eq!(s2.physical_disks, s.physical_disks);
    let p = paths(&t.server);
    assert!(!p.iter().any(|p| p.contains("/tasks")
        || p.contains("/snapshot")
        || p.contains("/disks/list")
        || p.contains("/content")));
}

#[test]
fn pve_request_count_per_cycle_is_bounded() {
    // N = 2 online nodes, V = 1 running VM (agent on), C = 1 running CT.
    let (n, v, c) = (2usize, 1usize, 1usize);
    let t = pve();
    let s1 = t.poller.poll(None).expect("poll");
    let first = t.server.requests().len();
    // First (slow) cycle adds: agent fsinfo + 3 metadata calls per VM, CT config, disks per
    // node, replication, tasks per node, backup storages (local×2, nas once), the cluster's
    // task list (snapshot tasks), snapshots of all 6 guests, and one cluster membership read
    // (/cluster/status, every 5 min).
    let steady = 3 + 2 * n + v + c;
    assert_eq!(
        first,
        steady + 4 * v + c + n + 1 + n + 3 + 1 + 6 + 1,
        "{:?}",
        paths(&t.server)
    );
    t.server.clear();
    t.clock.advance(10_000);
    let s2 = t.poller.poll(Some(&s1)).expect("poll 2");
    // Regular cycle: 2 + N, no per-guest call at all (status/current is cached) and no
    // storage call (read once a minute).
    let regular = 2 + n;
    assert_eq!(t.server.requests().len(), regular, "{:?}", paths(&t.server));
    assert_eq!(
        s2.vms[0].memory, s1.vms[0].memory,
        "cached status, same memory"
    );
    // After 60 s the VM's fsinfo comes back (a first reading has no trend yet) and the
    // storage configuration and lists are read again (1 + N); the statuses wait, as the
    // guests' memory has not moved; metadata and CT config wait too.
    t.server.clear();
    t.clock.advance(60_000);
    let s3 = t.poller.poll(Some(&s2)).expect("poll 3");
    let p = paths(&t.server);
    assert_eq!(t.server.requests().len(), regular + 1 + n + v, "{p:?}");
    assert_eq!(
        p.iter()
            .filter(|p| p.ends_with("/agent/get-fsinfo"))
            .count(),
        v
    );
    // On the steady cadence (≤ STEADY_TTL_MS) the roomy disks' fsinfo comes back; a VM
    // whose memory held steady and a CT whose status has no mount usage (`diskinfo`, which
    // real PVE leaves out) wait for the inventory TTL.
    t.server.clear();
    t.clock.advance(pulse::poller::pve::STEADY_TTL_MS);
    let s4 = t.poller.poll(Some(&s3)).expect("poll 4");
    let p = paths(&t.server);
    let count = |p: &[String], kind: &str, suffix: &str| {
        p.iter()
            .filter(|p| p.contains(kind) && p.ends_with(suffix))
            .count()
    };
    assert_eq!(count(&p, "/lxc/", "/status/current"), 0, "{p:?}");
    assert_eq!(count(&p, "/qemu/", "/status/current"), 0, "{p:?}");
    assert_eq!(count(&p, "/qemu/", "/agent/get-fsinfo"), v);
    // On the inventory cadence (≤ INVENTORY_TTL_MS) both statuses come back.
    t.server.clear();
    t.clock.advance(pulse::poller::pve::INVENTORY_TTL_MS);
    t.poller.poll(Some(&s4)).expect("poll 5");
    let p = paths(&t.server);
    assert_eq!(count(&p, "/", "/status/current"), v + c, "{p:?}");
}

/// A PVE poller that asks only for nodes and guests (no storage, backups or disks), on a
/// manual clock.
fn guests_only_poller(server: &MockServer) -> (PvePoller, Arc<ManualClock>) {
    let mut cfg = pve_config(&server.url());
    cfg.monitor_storage = false;
    cfg.monitor_backups = false;
    cfg.monitor_physical_disks = Some(false);
    let clock = Arc::new(ManualClock::at(T0));
    (PvePoller::new(cfg, clock.clone()), clock)
}

#[test]
fn agent_identity_is_read_rarely_and_again_after_a_reboot() {
    // One running VM with an agent. Interfaces every 15 min; OS and agent version every
    // 30 min, and both at once when the resources' uptime shows the guest booted again.
    use std::sync::atomic::{AtomicU64, Ordering};
    let gib = 1u64 << 30;
    let uptime = Arc::new(AtomicU64::new(3_600));
    let up = uptime.clone();
    let server = MockServer::start(move |s| {
        let p = api_path(s);
        let data = match p {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":gib,"mem":10}]),
            "/cluster/resources" => json!([{"id":"qemu/100","type":"qemu","vmid":100,
                "node":"pve","status":"running","maxmem":gib,"mem":gib / 4,
                "uptime": up.load(Ordering::Relaxed)}]),
            p if p.ends_with("/status/current") => {
                json!({"status":"running","agent":1,"maxmem":gib,"balloon":gib})
            }
            p if p.ends_with("/agent/get-fsinfo") => json!({"result":[]}),
            p if p.ends_with("/agent/network-get-interfaces") => json!({"result":[
                {"name":"eth0","hardware-address":"bc:24:11:00:00:01",
                 "ip-addresses":[{"ip-address-type":"ipv4","ip-address":"10.0.0.5","prefix":24}]}]}),
            p if p.ends_with("/agent/get-osinfo") => {
                json!({"result":{"id":"debian","name":"Debian GNU/Linux","version-id":"12"}})
            }
            p if p.ends_with("/agent/info") => json!({"result":{"version":"7.2.0"}}),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let (p, clock) = guests_only_poller(&server);
    let count = |server: &MockServer, suffix: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .count()
    };
    let mut prev = p.poll(None).expect("poll 0");
    assert_eq!(count(&server, "/agent/network-get-interfaces"), 1);
    assert_eq!(count(&server, "/agent/get-osinfo"), 1);
    assert_eq!(count(&server, "/agent/info"), 1);
    assert_eq!(prev.vms[0].os_name.as_deref(), Some("Debian GNU/Linux"));
    assert_eq!(prev.vms[0].agent_version.as_deref(), Some("7.2.0"));
    assert_eq!(*prev.vms[0].ip_addresses, ["10.0.0.5"]);
    // 29 minutes of 10 s cycles: interfaces every 15 min less VM 100's spread (13 min
    // 20 s), identity not again.
    server.clear();
    for _ in 0..(29 * 6) {
        clock.advance(10_000);
        uptime.fetch_add(10, Ordering::Relaxed);
        prev = p.poll(Some(&prev)).expect("poll");
    }
    assert_eq!(count(&server, "/agent/network-get-interfaces"), 2);
    assert_eq!(count(&server, "/agent/get-osinfo"), 0);
    assert_eq!(count(&server, "/agent/info"), 0);
    assert_eq!(
        prev.vms[0].os_name.as_deref(),
        Some("Debian GNU/Linux"),
        "kept between readings"
    );
    assert_eq!(prev.vms[0].agent_version.as_deref(), Some("7.2.0"));
    // The guest rebooted (uptime back to 20 s) without ever being seen stopped.
    server.clear();
    clock.advance(10_000);
    uptime.store(20, Ordering::Relaxed);
    prev = p.poll(Some(&prev)).expect("poll after reboot");
    assert_eq!(
        count(&server, "/agent/get-osinfo"),
        1,
        "reboot: identity read"
    );
    assert_eq!(count(&server, "/agent/info"), 1);
    assert_eq!(count(&server, "/agent/network-get-interfaces"), 1);
    // ...and not again on the next cycles.
    server.clear();
    for _ in 0..6 {
        clock.advance(10_000);
        uptime.fetch_add(10, Ordering::Relaxed);
        prev = p.poll(Some(&prev)).expect("poll");
    }
    assert_eq!(count(&server, "/agent/get-osinfo"), 0);
    assert_eq!(count(&server, "/agent/network-get-interfaces"), 0);
    assert_eq!(*prev.vms[0].ip_addresses, ["10.0.0.5"]);
    // A PVE that reports no uptime says nothing about reboots: no refresh every cycle.
    uptime.store(0, Ordering::Relaxed);
    server.clear();
    for _ in 0..6 {
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll");
    }
    assert_eq!(count(&server, "/agent/get-osinfo"), 0);
    assert_eq!(count(&server, "/agent/network-get-interfaces"), 0);
}

/// One online node running the VMs `listed()` names (agent off, memory steady).
fn steady_vms_server(listed: impl Fn() -> Vec<u64> + Send + Sync + 'static) -> MockServer {
    MockServer::start(move |s| {
        let p = api_path(s);
        let data = if p == "/nodes" {
            json!([{"node":"pve","status":"online","maxmem":1000,"mem":10}])
        } else if p == "/cluster/resources" {
            json!(
                listed()
                    .into_iter()
                    .map(
                        |vmid| json!({"id":format!("qemu/{vmid}"),"type":"qemu","vmid":vmid,
                                   "node":"pve","status":"running","maxmem":1_000_000,
                                   "mem":1000,"maxdisk":0})
                    )
                    .collect::<Vec<_>>()
            )
        } else if p.ends_with("/status/current") {
            json!({"status":"running","maxmem":1_000_000,"freemem":999_000,"agent":0})
        } else {
            return not_found();
        };
        Reply::data(data)
    })
}

#[test]
fn pve_status_refreshes_rotate_in_batches() {
    // 120 running VMs (agent off): every status on the first cycle; then, for VMs whose
    // memory holds steady, once the inventory TTL (15 min less a per-VMID spread of up to
    // 3 min) has passed, at most max(STATUS_BATCH_MIN, V/6) per cycle, oldest first.
    let vms = 120u64;
    let server = steady_vms_server(move || (100..100 + vms).collect());
    let (p, clock) = guests_only_poller(&server);
    let status_calls = |server: &MockServer| {
        server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/status/current"))
            .count()
    };
    let mut prev = p.poll(None).expect("poll 1");
    assert_eq!(
        status_calls(&server),
        vms as usize,
        "all on the first cycle"
    );
    let batch = pulse::poller::pve::STATUS_BATCH_MIN.max((vms as usize).div_ceil(6));
    let mut refreshed = 0;
    let earliest =
        (pulse::poller::pve::INVENTORY_TTL_MS - pulse::poller::pve::INVENTORY_SPREAD_MS) / 10_000;
    for cycle in 1..=100 {
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll");
        let n = status_calls(&server);
        if cycle < earliest {
            assert_eq!(n, 0, "cycle {cycle}: nothing aged yet");
        } else {
            assert!(n <= batch, "cycle {cycle}: {n} > batch {batch}");
        }
        refreshed += n;
        // Memory stays the status algorithm's figure whichever cycle refreshed it.
        assert!(
            prev.vms
                .iter()
                .all(|g| g.memory.as_ref().unwrap().used == 1000)
        );
    }
    assert!(
        refreshed >= vms as usize,
        "every guest refreshed within TTL + a few batches: {refreshed}"
    );
}

#[test]
fn pve_guest_caches_forget_guests_that_left() {
    // Three running VMs; then VM 102 leaves and VM 103 arrives (same count), then 102 comes
    // back. A guest that left is forgotten: when it is listed again its status is read at
    // once, as for any new guest, instead of reusing the reading from before it left.
    use std::sync::atomic::{AtomicU64, Ordering};
    let listed = Arc::new(AtomicU64::new(0b0111)); // bit i = VM 100 + i listed
    let l = listed.clone();
    let server = steady_vms_server(move || {
        let bits = l.load(Ordering::SeqCst);
        (0..4u64)
            .filter(|i| bits & (1 << i) != 0)
            .map(|i| 100 + i)
            .collect()
    });
    let (p, clock) = guests_only_poller(&server);
    let status_of = |server: &MockServer| {
        let mut v: Vec<String> = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/status/current"))
            .map(|r| r.path.split('/').nth(6).unwrap_or_default().to_owned())
            .collect();
        v.sort();
        v
    };
    let mut prev = p.poll(None).expect("poll 1");
    assert_eq!(status_of(&server), ["100", "101", "102"]);
    let mut step = |bits: u64, want: &[&str]| {
        server.clear();
        listed.store(bits, Ordering::SeqCst);
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll");
        assert_eq!(status_of(&server), want, "listed {bits:#06b}");
    };
    step(0b0111, &[]);
    step(0b1011, &["103"]);
    step(0b1011, &[]);
    step(0b1111, &["102"]);
    step(0b1111, &[]);
}

#[test]
fn pve_detail_refreshes_follow_what_changes() {
    // VM 100: memory moves between polls, roomy steady disk (50 %).
    // VM 101: steady memory, disk 90 % full.
    // VM 102: steady memory, roomy disk that grows by 2 points per poll.
    use std::sync::atomic::{AtomicU64, Ordering};
    let gib = 1u64 << 30;
    let poll_no = Arc::new(AtomicU64::new(0));
    let n = poll_no.clone();
    let server =
        MockServer::start(move |s| {
            let p = api_path(s);
            let k = n.load(Ordering::Relaxed);
            let fs = |used_pct: u64| {
                json!({"result":[{"mountpoint":"/","type":"ext4","total-bytes":100 * gib,
                              "used-bytes":used_pct * gib,"disk":[{"dev":"/dev/sda"}]}]})
            };
            let data =
                match p {
                    "/nodes" => json!([{"node":"pve","status":"online","maxmem":gib,"mem":10}]),
                    "/cluster/resources" => json!([100u64, 101, 102].iter().map(|&id| {
                // VM 100's memory grows by 3 % of maxmem every poll.
                let mem = if id == 100 { (10 + 3 * k) * gib / 100 } else { gib / 4 };
                json!({"id":format!("qemu/{id}"),"type":"qemu","vmid":id,"node":"pve",
                       "status":"running","maxmem":gib,"mem":mem})
            }).collect::<Vec<_>>()),
                    p if p.ends_with("/status/current") => {
                        json!({"status":"running","agent":1,"maxmem":gib,"balloon":gib})
                    }
                    "/nodes/pve/qemu/100/agent/get-fsinfo" => fs(50),
                    "/nodes/pve/qemu/101/agent/get-fsinfo" => fs(90),
                    "/nodes/pve/qemu/102/agent/get-fsinfo" => fs(10 + 2 * k),
                    _ => return not_found(),
                };
            Reply::data(data)
        });
    let (p, clock) = guests_only_poller(&server);
    let asked = |server: &MockServer, suffix: &str| -> Vec<u64> {
        let mut ids: Vec<u64> = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .filter_map(|r| r.path.split('/').nth(6).and_then(|v| v.parse().ok()))
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut prev = p.poll(None).expect("poll 0");
    // Cycles of 10 s over 4 minutes: VM 100's status (moving memory) and the fsinfo of
    // VM 101 (90 % full) and VM 102 (growing) are refreshed every minute; VM 100's roomy,
    // steady disk and the other statuses wait for the steady cadence.
    let mut status = std::collections::BTreeMap::<u64, usize>::new();
    let mut fsinfo = std::collections::BTreeMap::<u64, usize>::new();
    for k in 1..=24 {
        poll_no.store(k, Ordering::Relaxed);
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll");
        for id in asked(&server, "/status/current") {
            *status.entry(id).or_default() += 1;
        }
        for id in asked(&server, "/agent/get-fsinfo") {
            *fsinfo.entry(id).or_default() += 1;
        }
    }
    assert_eq!(
        status.get(&100),
        Some(&4),
        "moving memory: every minute ({status:?})"
    );
    assert_eq!(status.get(&101), None, "steady memory waits ({status:?})");
    assert_eq!(
        fsinfo.get(&101),
        Some(&4),
        "a full disk: every minute ({fsinfo:?})"
    );
    assert_eq!(
        fsinfo.get(&102),
        Some(&4),
        "a growing disk: every minute ({fsinfo:?})"
    );
    // VM 100's disk: the second reading (1 min) showed it steady, then nothing for 4 min.
    assert_eq!(fsinfo.get(&100), Some(&1), "{fsinfo:?}");
    let vm = |id: u32| prev.vms.iter().find(|g| g.vmid == id).unwrap().clone();
    assert!((vm(101).disk.as_ref().unwrap().usage - 90.0).abs() < 0.01);
    assert!(
        vm(102).disk.as_ref().unwrap().usage > 20.0,
        "growth is seen"
    );
}

#[test]
fn pve_failing_sub_calls_degrade_only_their_part() {
    let t = pve();
    let first = t.poller.poll(None).expect("poll");
    let round = t.round.clone();
    t.server.set_handler(move |s| match api_path(s) {
        "/nodes/pve2/storage" => Reply::raw(500, r#"{"data":null}"#).with_reason("storage error"),
        "/cluster/resources" => Reply::raw(200, r#"{"data":"garbage"}"#),
        "/nodes/pve/status" => Reply::raw(200, "<html>oops</html>"),
        _ => pve_cluster(&round, s),
    });
    t.clock.advance(10_000);
    let s = t
        .poller
        .poll(Some(&first))
        .expect("sub-call failures never fail the poll");
    assert_eq!(s.vms, first.vms, "guests kept as last seen");
    assert_eq!(s.containers, first.containers);
    assert!(
        s.storage.iter().any(|x| x.id == "home-pve2-local"),
        "pve2 storage carried"
    );
    let pve = &s.nodes[0];
    assert_eq!(pve.status, "online");
    // Status failed: previous used with the list's maxmem as total.
    let m = pve.memory.as_ref().unwrap();
    assert_eq!(
        (m.total, m.used),
        (75_980_378_112, first.nodes[0].memory.as_ref().unwrap().used)
    );
    assert!(pve.load_average.is_empty());
}

#[test]
fn pve_offline_grace_and_vanishing_nodes() {
    let t = pve();
    let first = t.poller.poll(None).expect("poll");
    let round = t.round.clone();
    t.server.set_handler(move |s| match api_path(s) {
        "/nodes" => {
            let mut a = fx("pve/nodes.2.json")[0].clone();
            a["node"] = json!("pve");
            let mut b = fx("pve/nodes.1.json")[0].clone();
            b["node"] = json!("pve2");
            b["status"] = json!("offline");
            Reply::data(json!([a, b]))
        }
        _ => pve_cluster(&round, s),
    });
    t.clock.advance(30_000);
    let s = t.poller.poll(Some(&first)).expect("poll");
    assert_eq!(s.nodes[1].status, "online", "within the 60 s grace");
    t.clock.advance(40_000);
    let s2 = t.poller.poll(Some(&s)).expect("poll");
    assert_eq!(s2.nodes[1].status, "offline");
    assert_eq!((s2.nodes[1].cpu, s2.nodes[1].uptime), (0.0, 0));
    t.server.set_handler(|s| match api_path(s) {
        "/nodes" => Reply::data(json!([])),
        _ => not_found(),
    });
    let s3 = t.poller.poll(Some(&s2)).expect("poll");
    assert_eq!(s3.nodes.len(), 2, "known nodes kept, shown offline");
    assert_eq!(
        (s3.vms.len(), s3.storage.len()),
        (s2.vms.len(), s2.storage.len())
    );
    assert!(
        s3.nodes
            .iter()
            .all(|n| n.status == "offline" && n.connection_health == "error")
    );
}

/// A server that stops answering in the middle of a cycle: the first call that times out is
/// followed by one `GET /version` probe; when that times out too, every later call fails at
/// once and the cycle is reported failed (not "successful" with stale guests after one
/// timeout per remaining call).
#[test]
fn pve_server_that_stops_answering_mid_cycle_fails_fast() {
    let round = Arc::new(AtomicU64::new(0));
    let r = round.clone();
    let server = MockServer::start(move |s| match api_path(s) {
        "/nodes" => pve_cluster(&r, s),
        _ => pve_cluster(&r, s).delayed(Duration::from_secs(3)),
    });
    let mut cfg = pve_config(&server.url());
    cfg.timeout = Duration::from_secs(1);
    let poller = PvePoller::new(cfg, Arc::new(ManualClock::at(T0)));
    let started = std::time::Instant::now();
    let e = poller.poll(None).expect_err("stopped answering");
    let took = started.elapsed();
    assert_eq!(e.category, Category::Transient);
    assert!(e.message.contains("did not answer"), "{}", e.message);
    // One timed-out call + the probe (+ scheduling slack); the cycle has > 8 calls after /nodes.
    assert!(took < Duration::from_millis(3_500), "took {took:?}");
    let slow: Vec<String> = paths(&server)
        .into_iter()
        .filter(|p| p != "/nodes")
        .collect();
    assert_eq!(slow.len(), 2, "one call and the probe: {slow:?}");
    assert_eq!(slow[1], "/version");

    // Answering again: the next cycle starts afresh and succeeds.
    let r = round.clone();
    server.set_handler(move |s| pve_cluster(&r, s));
    let s = poller.poll(None).expect("answering again");
    assert_eq!(s.nodes.len(), 2);
}

/// One slow call on a server that still answers (`/version` is quick) is that call's
/// problem only: the cycle goes on and succeeds.
#[test]
fn pve_one_slow_call_on_a_live_server_is_not_an_outage() {
    let round = Arc::new(AtomicU64::new(0));
    let r = round.clone();
    let server = MockServer::start(move |s| match api_path(s) {
        "/nodes/pve/status" => pve_cluster(&r, s).delayed(Duration::from_secs(3)),
        "/version" => Reply::data(json!({"version": "8.2.4", "release": "8.2"})),
        _ => pve_cluster(&r, s),
    });
    let mut cfg = pve_config(&server.url());
    cfg.timeout = Duration::from_secs(1);
    let poller = PvePoller::new(cfg, Arc::new(ManualClock::at(T0)));
    let s = poller.poll(None).expect("one slow call is not an outage");
    assert_eq!(s.nodes.len(), 2);
    assert!(!s.vms.is_empty());
    assert!(paths(&server).iter().any(|p| p == "/version"), "probed");
}

#[test]
fn pve_failures_are_classified() {
    let t = pve();
    t.server.set_handler(|s| match api_path(s) {
        "/nodes" => Reply::raw(401, r#"{"data":null}"#).with_reason("authentication failure"),
        _ => not_found(),
    });
    let e = t.poller.poll(None).expect_err("401");
    assert_eq!(e.category, Category::Permanent);
    assert!(
        e.message.starts_with("home: listing nodes"),
        "{}",
        e.message
    );
    assert!(e.message.contains("token"), "{}", e.message);

    t.server.set_handler(|s| match api_path(s) {
        "/nodes" => Reply::raw(503, r#"{"data":null}"#),
        _ => not_found(),
    });
    assert_eq!(
        t.poller.poll(None).expect_err("503").category,
        Category::Transient
    );

    t.server
        .set_handler(|_| Reply::raw(200, "<!DOCTYPE html><html></html>"));
    let e = t.poller.poll(None).expect_err("html");
    assert!(e.message.contains("HTML"), "{}", e.message);

    // Nothing listening: refused → transient.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = PvePoller::new(
        pve_config(&format!("https://127.0.0.1:{port}")),
        Arc::new(ManualClock::at(T0)),
    );
    assert_eq!(
        p.poll(None).expect_err("refused").category,
        Category::Transient
    );

    // A pinned fingerprint that does not match: permanent, with the TLS explanation.
    let mut cfg = pve_config(&t.server.url());
    cfg.fingerprint = "AB".repeat(32);
    let e = PvePoller::new(cfg, Arc::new(ManualClock::at(T0)))
        .poll(None)
        .expect_err("pin mismatch");
    assert_eq!(e.category, Category::Permanent);
    assert!(e.message.contains("fingerprint"), "{}", e.message);
    // The right pin works.
    let mut cfg = pve_config(&t.server.url());
    cfg.fingerprint = t.server.fingerprint();
    cfg.verify_ssl = true;
    t.server.set_handler(|s| match api_path(s) {
        "/nodes" => Reply::data(fx("pve/nodes.1.json")),
        _ => not_found(),
    });
    PvePoller::new(cfg, Arc::new(ManualClock::at(T0)))
        .poll(None)
        .expect("pinned");

    // Bad settings never reach the network.
    let mut cfg = pve_config("https://127.0.0.1:1");
    cfg.token_name = "justaname".into();
    let e = PvePoller::new(cfg, Arc::new(ManualClock::at(T0)))
        .poll(None)
        .expect_err("config");
    assert_eq!(e.category, Category::Permanent);
}

#[test]
fn pve_garbage_everywhere_never_panics() {
    let t = pve();
    let bodies = [
        r#"{"data":[1,2,3]}"#,
        r#"{"data":{"x":[]}}"#,
        "null",
        r#"{"data":"zz"}"#,
        "\u{0}\u{1}",
    ];
    for (i, b) in bodies.iter().enumerate() {
        let body = b.to_string();
        t.server.set_handler(move |s| {
            if api_path(s) == "/nodes" {
                Reply::data(json!([{"node":"pve","status":"online","maxmem":"x"}]))
            } else {
                Reply::raw(200, body.clone())
            }
        });
        t.clock.advance(10_000 * (i as i64 + 1));
        let s = t.poller.poll(None).expect("only /nodes decides");
        assert_eq!(s.nodes.len(), 1);
    }
}

#[test]
fn pve_extreme_numbers_never_overflow() {
    let t = pve();
    let big = json!(1e30);
    t.server.set_handler(move |s| {
        let data = match api_path(s) {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":big,"mem":big,"maxdisk":big,"disk":big}]),
            "/nodes/pve/status" => json!({"memory":{"total":big,"free":big,"buffers":big,"cached":big},
                                         "rootfs":{"total":big,"used":big,"avail":big}}),
            "/nodes/pve/storage" => json!([{"storage":"local","type":"dir","total":big,"used":big,"avail":big,
                                           "content":"backup","active":1,"enabled":1}]),
            "/cluster/resources" => json!([
                {"id":"qemu/1","type":"qemu","vmid":1,"node":"pve","status":"running","maxmem":big,"mem":big,
                 "maxdisk":big,"disk":big,"netin":big},
                {"id":"lxc/2","type":"lxc","vmid":2,"node":"pve","status":"running","maxmem":big,"mem":big}]),
            "/nodes/pve/qemu/1/status/current" => json!({"status":"running","agent":1,"maxmem":big,"balloon":big,
                "meminfo":{"free":big,"buffers":big,"cached":big},"netin":big}),
            "/nodes/pve/qemu/1/agent/get-fsinfo" => json!({"result":[
                {"mountpoint":"/","type":"ext4","total-bytes":big,"used-bytes":big,"disk":[{"dev":"/dev/a"}]},
                {"mountpoint":"/b","type":"ext4","total-bytes":big,"used-bytes":big,"disk":[{"dev":"/dev/b"}]}]}),
            "/nodes/pve/lxc/2/status/current" => json!({"status":"running","diskinfo":{"rootfs":{"total":big,"used":big}}}),
            "/nodes/pve/tasks" => json!([{"upid":"UPID:x","type":"vzdump","starttime":big,"endtime":big,"node":"pve"}]),
            "/nodes/pve/storage/local/content" => json!([{"volid":"local:backup/x","content":"backup","ctime":big,"vmid":1}]),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let s = t.poller.poll(None).expect("poll");
    assert_eq!(s.vms.len(), 1);
    assert!(s.vms[0].disk.as_ref().unwrap().usage <= 100.0);
    assert!(s.pve_backups.backup_tasks[0].start_time > 0);
}

#[test]
fn pve_standalone_ids_and_password_login() {
    // Instance named like its only node: ids drop the instance prefix (state-model.md §6).
    let logins = Arc::new(AtomicU64::new(0));
    let l = logins.clone();
    let round = Arc::new(AtomicU64::new(0));
    let server = MockServer::start(move |s| match api_path(s) {
        "/access/ticket" => {
            l.fetch_add(1, Ordering::SeqCst);
            Reply::data(fx("pve/access-ticket.1.json"))
        }
        "/nodes" => Reply::data(fx("pve/nodes.1.json")),
        _ => pve_cluster(&round, s),
    });
    let cfg = PveInstanceConfig {
        name: "pve".into(),
        host: server.url(),
        user: "root@pam".into(),
        password: "secret".into(),
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let p = PvePoller::new(cfg, Arc::new(ManualClock::at(T0)));
    let s = p.poll(None).expect("poll");
    assert_eq!(s.nodes[0].id, "pve-pve");
    assert_eq!(
        s.nodes[0].display_name, "pve",
        "standalone: the instance name"
    );
    assert!(!s.nodes[0].is_cluster_member);
    assert!(s.vms.iter().any(|g| g.id == "pve-100"));
    assert!(s.vms.iter().any(|g| g.id == "pve-pve2-101"));
    assert!(s.storage.iter().any(|x| x.id == "pve-local"));
    assert_eq!(logins.load(Ordering::SeqCst), 1);
    let cookie = server
        .requests()
        .into_iter()
        .find(|r| api_path(r) == "/nodes")
        .and_then(|r| r.header("cookie").map(str::to_owned))
        .unwrap_or_default();
    assert!(cookie.starts_with("PVEAuthCookie="), "{cookie}");
    p.poll(Some(&s)).expect("poll 2");
    assert_eq!(logins.load(Ordering::SeqCst), 1, "session reused");
    // After a failed poll the session is dropped and the next poll logs in again.
    server.set_handler(|_| Reply::raw(500, r#"{"data":null}"#));
    p.poll(Some(&s)).expect_err("500");
    let l = logins.clone();
    let round = Arc::new(AtomicU64::new(0));
    server.set_handler(move |s| match api_path(s) {
        "/access/ticket" => {
            l.fetch_add(1, Ordering::SeqCst);
            Reply::data(fx("pve/access-ticket.1.json"))
        }
        "/nodes" => Reply::data(fx("pve/nodes.1.json")),
        _ => pve_cluster(&round, s),
    });
    p.poll(Some(&s)).expect("poll 3");
    assert_eq!(logins.load(Ordering::SeqCst), 2);
}

#[test]
fn pve_ceph_pools_and_replication_state() {
    let t = pve();
    let round = t.round.clone();
    t.server.set_handler(move |s| {
        let data = match api_path(s) {
            "/storage" => {
                json!([{"storage":"ceph-vm","type":"rbd","content":"images","shared":1}])
            }
            "/cluster/ceph/status" => json!({"fsid":"f00d","health":{"status":"HEALTH_OK"},
                "osdmap":{"num_osds":3,"num_up_osds":3,"num_in_osds":3},
                "pgmap":{"num_pgs":64,"bytes_total":3000,"bytes_used":600,"bytes_avail":2400},
                "servicemap":{"services":{"mon":{"daemons":{"pve":{"status":"running","hostname":"pve"}}}}}}),
            "/nodes/pve/ceph/pool" => json!([{"pool":2,"pool_name":"vm-pool","bytes_used":500,
                "percent_used":0.5,"size":3,"min_size":2,"pg_num":32}]),
            "/cluster/replication" => json!([{"id":"100-0","guest":100,"jobnum":0,"target":"pve2",
                "schedule":"*/15","type":"local","source":"pve"}]),
            "/nodes/pve/replication" => json!([{"id":"100-0","guest":100,"jobnum":0,
                "last_sync":1_700_000_000,"next_sync":1_700_000_900,"duration":12.5,"fail_count":0}]),
            _ => return pve_cluster(&round, s),
        };
        Reply::data(data)
    });
    let s = t.poller.poll(None).expect("poll");
    let c = &s.ceph_clusters[0];
    assert_eq!(
        (c.id.as_str(), c.health.as_str(), c.num_osds, c.num_pgs),
        ("home-f00d", "HEALTH_OK", 3, 64)
    );
    assert_eq!(c.usage_percent, 20.0);
    assert_eq!(
        c.pools.len(),
        1,
        "pools filled (the reference leaves them empty)"
    );
    assert_eq!(
        (
            c.pools[0].name.as_str(),
            c.pools[0].stored_bytes,
            c.pools[0].percent_used
        ),
        ("vm-pool", 500, 50.0)
    );
    let r = &s.replication_jobs[0];
    assert_eq!(
        (r.id.as_str(), r.guest_name.as_deref()),
        ("home-100-0", Some("pxe.home.arpa"))
    );
    assert_eq!(
        (r.last_sync_unix, r.last_sync_duration_seconds),
        (Some(1_700_000_000), Some(12))
    );
    assert_eq!(r.target_node.as_deref(), Some("pve2"));
    // Ceph gone from the storage config → no Ceph entry, no Ceph calls (once the storage
    // configuration is read again).
    let round = t.round.clone();
    t.server.set_handler(move |s| pve_cluster(&round, s));
    t.server.clear();
    t.clock.advance(pulse::poller::pve::STORAGE_TTL_MS);
    let s2 = t.poller.poll(Some(&s)).expect("poll 2");
    assert!(s2.ceph_clusters.is_empty());
    assert!(!paths(&t.server).iter().any(|p| p.contains("ceph")));
    assert_eq!(
        s2.replication_jobs, s.replication_jobs,
        "replication carried between slow cycles"
    );
}

#[test]
fn pve_fallback_per_node_lists_keep_ids() {
    let t = pve();
    let first = t.poller.poll(None).expect("poll");
    let round = t.round.clone();
    t.server.set_handler(move |s| match api_path(s) {
        "/cluster/resources" => Reply::raw(500, r#"{"data":null}"#).with_reason("cfs lock"),
        // pve: real per-node lists (VM 100 now stopped; CT 101 is a template).
        "/nodes/pve/qemu" => Reply::data(fx("pve/nodes-node-qemu.1.json")),
        "/nodes/pve/lxc" => Reply::data(fx("pve/nodes-node-lxc.1.json")),
        // pve2 fails as well: its guests stay as last seen.
        "/nodes/pve2/qemu" | "/nodes/pve2/lxc" => Reply::raw(500, r#"{"data":null}"#),
        "/nodes/pve/lxc/106/status/current" | "/nodes/pve/lxc/105/status/current" => {
            Reply::data(json!({"status":"running"}))
        }
        _ => pve_cluster(&round, s),
    });
    t.clock.advance(10_000);
    let s = t.poller.poll(Some(&first)).expect("poll");
    let vms: Vec<(&str, &str)> = s.vms.iter().map(|g| (g.id.as_str(), &*g.status)).collect();
    assert_eq!(
        vms,
        [("home-pve-100", "stopped"), ("home-pve2-101", "stopped")]
    );
    let cts: Vec<&str> = s.containers.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(
        cts,
        [
            "home-pve2-103",
            "home-pve2-104",
            "home-pve-105",
            "home-pve2-105",
            "home-pve-106"
        ],
        "template 101 dropped; pve2's CTs carried"
    );
}

#[test]
fn pve_agent_not_running_gives_unknown_disk_and_a_reason() {
    let t = pve();
    let round = t.round.clone();
    t.server.set_handler(move |s| match api_path(s) {
        p if p.starts_with("/nodes/pve/qemu/100/agent/") => {
            Reply::raw(500, r#"{"data":null}"#).with_reason("QEMU guest agent is not running")
        }
        _ => pve_cluster(&round, s),
    });
    let s = t
        .poller
        .poll(None)
        .expect("agent failures never fail the poll");
    let vm = &s.vms[0];
    assert_eq!(vm.disk_status_reason, Some("agent-not-running"));
    let d = vm.disk.as_ref().unwrap();
    assert_eq!(
        (d.total, d.usage),
        (34_359_738_368, -1.0),
        "allocated size, usage unknown"
    );
    assert!(vm.ip_addresses.is_empty() && vm.os_name.is_none());
    assert_eq!(
        vm.memory.as_ref().unwrap().total,
        2_097_152_000,
        "status still used"
    );
}

#[test]
fn pve_backups_survive_an_offline_node_and_work_without_storage_monitoring() {
    let round = Arc::new(AtomicU64::new(0));
    let r = round.clone();
    let server = MockServer::start(move |s| pve_cluster(&r, s));
    let clock = ManualClock::at(T0);
    let mut cfg = pve_config(&server.url());
    cfg.monitor_storage = false;
    cfg.backup_polling_cycles = 1;
    let p = PvePoller::new(cfg, Arc::new(clock.clone()));
    let first = p.poll(None).expect("poll");
    assert!(first.storage.is_empty());
    assert_eq!(
        first.pve_backups.storage_backups.len(),
        1,
        "storage lists fetched for backups"
    );
    // pve (where the backed-up guest lives) goes offline: its local backups stay listed.
    let r = round.clone();
    server.set_handler(move |s| match api_path(s) {
        "/nodes" => {
            let mut a = fx("pve/nodes.2.json")[0].clone();
            a["node"] = json!("pve");
            a["status"] = json!("offline");
            let mut b = fx("pve/nodes.1.json")[0].clone();
            b["node"] = json!("pve2");
            Reply::data(json!([a, b]))
        }
        "/nodes/pve2/storage/local/content" => Reply::data(json!([])),
        _ => pve_cluster(&r, s),
    });
    clock.advance(120_000);
    let s = p.poll(Some(&first)).expect("poll 2");
    assert_eq!(s.nodes[0].status, "offline");
    assert_eq!(
        s.pve_backups.storage_backups,
        first.pve_backups.storage_backups
    );
}

/// A PVE poller that runs its backup work (tasks, volumes, snapshots) every cycle, without
/// storage monitoring, on a manual clock.
fn backups_every_cycle_poller(server: &MockServer) -> (PvePoller, ManualClock) {
    let clock = ManualClock::at(T0);
    let mut cfg = pve_config(&server.url());
    cfg.backup_polling_cycles = 1;
    cfg.monitor_storage = false;
    (PvePoller::new(cfg, Arc::new(clock.clone())), clock)
}

/// `/cluster/resources` for `n` stopped CTs, VMIDs 1000 on.
fn stopped_cts(n: u64) -> Value {
    json!(
        (0..n)
            .map(
                |i| json!({"id":format!("lxc/{}", 1000 + i),"type":"lxc","vmid":1000 + i,
                        "node":"pve","status":"stopped","maxmem":1,"maxdisk":1})
            )
            .collect::<Vec<_>>()
    )
}

#[test]
fn pve_snapshots_of_big_clusters_are_refreshed_in_batches() {
    let guests = 450u64;
    let server = MockServer::start(move |s| {
        let data = match api_path(s) {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":1000,"mem":10}]),
            "/cluster/resources" => stopped_cts(guests),
            p if p.ends_with("/snapshot") => json!([{"name":"s1","snaptime":1},{"name":"current"}]),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let (p, clock) = backups_every_cycle_poller(&server);
    let mut prev: Option<State> = None;
    let mut asked = std::collections::BTreeSet::new();
    for _ in 0..3 {
        server.clear();
        clock.advance(10_000);
        let s = p.poll(prev.as_ref()).expect("poll");
        let snaps: Vec<String> = paths(&server)
            .into_iter()
            .filter(|p| p.ends_with("/snapshot"))
            .collect();
        assert_eq!(snaps.len(), pulse::poller::pve::SNAPSHOT_BATCH);
        asked.extend(snaps);
        prev = Some(s);
    }
    assert_eq!(
        asked.len(),
        guests as usize,
        "every guest refreshed within 3 cycles"
    );
    let last = prev.unwrap();
    assert_eq!(
        last.pve_backups.guest_snapshots.len(),
        guests as usize,
        "others carried"
    );
}

#[test]
fn pve_snapshot_lists_are_read_after_snapshot_tasks() {
    // 30 CTs. `/cluster/tasks` is read each backup cycle; a list is read when never read,
    // after a snapshot task for its guest, or once it is past its age limit.
    use std::sync::Mutex;
    let tasks = Arc::new(Mutex::new(json!([])));
    let snaps_of_1005 = Arc::new(AtomicU64::new(1));
    let (t, n) = (tasks.clone(), snaps_of_1005.clone());
    let server = MockServer::start(move |s| {
        let data = match api_path(s) {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":1000,"mem":10}]),
            "/cluster/resources" => stopped_cts(30),
            "/cluster/tasks" => t.lock().unwrap().clone(),
            "/nodes/pve/lxc/1005/snapshot" => {
                let mut l: Vec<_> = (0..n.load(Ordering::Relaxed))
                    .map(|k| json!({"name":format!("s{k}"),"snaptime":1 + k}))
                    .collect();
                l.push(json!({"name":"current"}));
                json!(l)
            }
            p if p.ends_with("/snapshot") => json!([{"name":"s0","snaptime":1},{"name":"current"}]),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let (p, clock) = backups_every_cycle_poller(&server);
    let read = |server: &MockServer| -> Vec<String> {
        paths(server)
            .into_iter()
            .filter(|p| p.ends_with("/snapshot"))
            .collect()
    };
    let mut prev = p.poll(None).expect("poll 1");
    assert_eq!(read(&server).len(), 30, "every list is read once");
    assert_eq!(prev.pve_backups.guest_snapshots.len(), 30);
    // No task, nothing aged: nothing is read, every list is kept.
    for _ in 0..3 {
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll");
        assert!(read(&server).is_empty(), "{:?}", read(&server));
        assert!(paths(&server).iter().any(|p| p == "/cluster/tasks"));
    }
    assert_eq!(prev.pve_backups.guest_snapshots.len(), 30);
    // A snapshot of CT 1005 is taken: the next cycle reads that one list.
    let now_s = pulse::poller::clock::Clock::now_ms(&clock) / 1000;
    snaps_of_1005.store(2, Ordering::Relaxed);
    *tasks.lock().unwrap() = json!([
        {"upid":"UPID:pve:1:1:1:vzsnapshot:1005:root@pam:","node":"pve","type":"vzsnapshot",
         "id":"1005","user":"root@pam","starttime":now_s,"endtime":now_s + 2,"status":"OK"},
        {"upid":"UPID:pve:1:1:1:vzdump:1007:root@pam:","node":"pve","type":"vzdump",
         "id":"1007","user":"root@pam","starttime":now_s,"endtime":now_s + 2,"status":"OK"}]);
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("poll after the snapshot");
    assert_eq!(read(&server), ["/nodes/pve/lxc/1005/snapshot"]);
    let of = |s: &State, vmid: u32| {
        s.pve_backups
            .guest_snapshots
            .iter()
            .filter(|x| x.vmid == vmid)
            .count()
    };
    assert_eq!(of(&prev, 1005), 2, "the new snapshot is there");
    assert_eq!(prev.pve_backups.guest_snapshots.len(), 31);
    // The same task is not acted on again once it is older than the last check.
    clock.advance(200_000);
    server.clear();
    prev = p.poll(Some(&prev)).expect("poll");
    assert!(read(&server).is_empty(), "{:?}", read(&server));
    // After the age limit every list is read again.
    clock.advance(pulse::poller::pve::SNAPSHOT_MAX_AGE_MS);
    server.clear();
    prev = p.poll(Some(&prev)).expect("poll");
    assert_eq!(read(&server).len(), 30);
    assert_eq!(prev.pve_backups.guest_snapshots.len(), 31);
}

#[test]
fn pve_parallel_per_guest_calls_land_on_the_right_guest() {
    let vms = 40u64;
    let server = MockServer::start(move |s| {
        let p = api_path(s);
        let data =
            if p == "/nodes" {
                json!([{"node":"pve","status":"online","maxmem":1000,"mem":10}])
            } else if p == "/cluster/resources" {
                json!((0..vms)
                .map(|i| json!({"id":format!("qemu/{}", 100 + i),"type":"qemu","vmid":100 + i,
                                "node":"pve","status":"running","maxmem":1_000_000,"maxdisk":0}))
                .collect::<Vec<_>>())
            } else if let Some(rest) = p.strip_prefix("/nodes/pve/qemu/")
                && let Some(id) = rest.strip_suffix("/status/current")
            {
                // Each VM reports a total derived from its own id.
                let vmid: u64 = id.parse().unwrap();
                json!({"status":"running","maxmem":vmid * 1000,"mem":vmid,"agent":0})
            } else {
                return not_found();
            };
        Reply::data(data)
    });
    let mut cfg = pve_config(&server.url());
    cfg.monitor_storage = false;
    cfg.monitor_backups = false;
    cfg.monitor_physical_disks = Some(false);
    let p = PvePoller::new(cfg, Arc::new(ManualClock::at(T0)));
    let s = p.poll(None).expect("poll");
    assert_eq!(s.vms.len(), vms as usize);
    for g in &s.vms {
        let m = g.memory.as_ref().unwrap();
        assert_eq!(
            (m.total, m.used),
            (u64::from(g.vmid) * 1000, u64::from(g.vmid)),
            "{}",
            g.id
        );
        assert_eq!(g.disk_status_reason, Some("agent-disabled"));
    }
    // 1 + N + 1 + V (+1 replication and +1 membership read on the first cycle) with
    // storage/backups/disks off.
    assert_eq!(
        server.requests().len(),
        1 + 1 + 1 + vms as usize + 1 + 1,
        "{:?}",
        paths(&server)
    );
}

// ---------------------------------------------------------------------------- PBS

fn pbs_routes(s: &Seen) -> Reply {
    let data = match api_path(s) {
        "/version" => fx("pbs/version.1.json"),
        "/nodes/localhost/status" => {
            json!({"cpu":0.25,"memory":{"total":8000,"used":2000,"free":6000},
                                            "uptime":3600,"loadavg":[0.1,0.2,0.3]})
        }
        "/admin/datastore" => json!([{"store":"slow-xfs","comment":""}]),
        "/status/datastore-usage" => fx("pbs/status-datastore-usage.1.json"),
        // Hand-written in PBS's task-list shape (no real body in the fixtures): a running
        // verification, the one before it failed, an older one passed; a GC with warnings.
        "/nodes/localhost/tasks" => json!([
            {"upid":"UPID:localhost:1:2:3:verificationjob:slow-xfs\\x3av-1:root@pam:","node":"localhost",
             "worker_type":"verificationjob","worker_id":"slow-xfs:v-1","starttime":1742900000,"user":"root@pam"},
            {"upid":"UPID:localhost:1:2:4:verificationjob:slow-xfs\\x3av-1:root@pam:","node":"localhost",
             "worker_type":"verificationjob","worker_id":"slow-xfs:v-1","starttime":1742800000,
             "endtime":1742802400,"status":"TASK ERROR: verification failed - please check the log for details","user":"root@pam"},
            {"upid":"UPID:localhost:1:2:5:verificationjob:slow-xfs\\x3av-1:root@pam:","node":"localhost",
             "worker_type":"verificationjob","worker_id":"slow-xfs:v-1","starttime":1742700000,
             "endtime":1742702400,"status":"OK","user":"root@pam"},
            {"upid":"UPID:localhost:1:2:6:garbage_collection:slow-xfs:root@pam:","node":"localhost",
             "worker_type":"garbage_collection","worker_id":"slow-xfs","starttime":1742750000,
             "endtime":1742751000,"status":"WARNINGS: 2","user":"root@pam"}
        ]),
        "/admin/datastore/slow-xfs/namespace" => fx("pbs/admin-datastore-store-namespace.1.json"),
        "/admin/datastore/slow-xfs/gc" => {
            json!({"store":"slow-xfs","index-data-bytes":3000,"disk-bytes":1000})
        }
        "/admin/datastore/slow-xfs/snapshots" => {
            if s.query.contains("ns=proxmox-v2") {
                json!([])
            } else {
                fx("pbs/admin-datastore-store-snapshots.1.json")
            }
        }
        _ => return not_found(),
    };
    Reply::data(data)
}

fn pbs_poller(url: &str, clock: &ManualClock) -> PbsPoller {
    PbsPoller::new(
        PbsInstanceConfig {
            name: "backup1".into(),
            host: url.into(),
            token_name: "pulse@pbs!mon".into(),
            token_value: "s3cr3t".into(),
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
        Arc::new(clock.clone()),
    )
}

#[test]
fn pbs_instance_datastores_and_backups() {
    let server = MockServer::start(pbs_routes);
    let clock = ManualClock::at(T0);
    let p = pbs_poller(&server.url(), &clock);
    let s = p.poll(None).expect("poll");
    let i = &s.pbs[0];
    assert_eq!(
        (i.id.as_str(), i.status.as_str(), i.version.as_str()),
        ("pbs-backup1", "online", "4.2")
    );
    assert_eq!(i.cpu, 25.0, "fraction shown as percent");
    assert_eq!(
        (i.memory, i.memory_used, i.memory_total, i.uptime),
        (25.0, 2000, 8000, 3600)
    );
    let ds = &i.datastores.as_ref().unwrap()[0];
    assert_eq!(
        (ds.name.as_str(), ds.total, ds.used, ds.free),
        (
            "slow-xfs",
            7_999_425_155_072,
            409_493_594_112,
            7_589_931_560_960
        )
    );
    assert_eq!(ds.deduplication_factor, Some(3.0));
    let ns: Vec<&str> = ds.namespaces.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(ns, ["", "proxmox-v2"]);
    assert_eq!(s.pbs_backups.len(), 2);
    assert_eq!(
        s.pbs_backups[0].id,
        "pbs-backup1-slow-xfs--vm-103-1742890730"
    );
    assert_eq!(s.pbs_backups[0].vmid, "103");
    assert!(
        s.pbs_backups[0].backup_time > s.pbs_backups[1].backup_time,
        "newest first"
    );

    // Job results: the newest finished run per job.
    let v = i
        .verify_jobs
        .as_ref()
        .expect("verify jobs monitored by default");
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (&v[0]["id"], &v[0]["status"]),
        (&json!("slow-xfs:v-1"), &json!("error"))
    );
    assert_eq!(v[0]["lastRunStart"], 1742800000);
    let g = i.garbage_jobs.as_ref().unwrap();
    assert_eq!(
        (&g[0]["status"], &g[0]["warnings"]),
        (&json!("ok"), &json!("WARNINGS: 2"))
    );
    assert_eq!(i.sync_jobs.as_deref(), Some(&[][..]));

    // Regular cycle: 5 requests whatever the number of datastores (the fifth is the task
    // list behind the job results); backups carried.
    server.clear();
    clock.advance(10_000);
    let s2 = p.poll(Some(&s)).expect("poll 2");
    assert_eq!(server.requests().len(), 5, "{:?}", paths(&server));
    assert!(paths(&server).iter().any(|p| p == "/nodes/localhost/tasks"));
    assert_eq!(s2.pbs_backups, s.pbs_backups);
    assert_eq!(
        s2.pbs[0].datastores.as_ref().unwrap()[0].deduplication_factor,
        Some(3.0)
    );
}

/// A task list that fails or answers garbage keeps the previous job results; nothing panics.
#[test]
fn pbs_bad_task_list_keeps_previous_job_results() {
    let server = MockServer::start(pbs_routes);
    let clock = ManualClock::at(T0);
    let p = pbs_poller(&server.url(), &clock);
    let s = p.poll(None).expect("poll 1");
    let jobs = s.pbs[0].verify_jobs.clone();
    assert_eq!(jobs.as_ref().map(Vec::len), Some(1));
    for bad in [
        Reply::raw(500, "boom"),
        Reply::raw(200, "<html>login</html>"),
        Reply::data(json!({"not": "a list"})),
    ] {
        let bad = std::sync::Arc::new(std::sync::Mutex::new(Some(bad)));
        server.set_handler(move |s| {
            if api_path(s) == "/nodes/localhost/tasks"
                && let Some(r) = bad.lock().unwrap().take()
            {
                return r;
            }
            pbs_routes(s)
        });
        clock.advance(10_000);
        let s2 = p
            .poll(Some(&s))
            .expect("a bad task list does not fail the poll");
        assert_eq!(s2.pbs[0].verify_jobs, jobs);
        assert_eq!(s2.pbs[0].status, "online");
    }
    // A list whose entries are no job runs is an answer: no job results (not the old ones).
    server.set_handler(|s| match api_path(s) {
        "/nodes/localhost/tasks" => Reply::data(json!([{"worker_type": 7, "starttime": "x"}])),
        _ => pbs_routes(s),
    });
    clock.advance(10_000);
    let s3 = p.poll(Some(&s)).expect("poll");
    assert_eq!(s3.pbs[0].verify_jobs.as_deref(), Some(&[][..]));
}

#[test]
fn pbs_failures() {
    let server = MockServer::start(|s| match api_path(s) {
        "/version" => Reply::raw(401, r#"{"data":null}"#),
        "/admin/datastore" => Reply::raw(401, r#"{"data":null}"#),
        _ => not_found(),
    });
    let clock = ManualClock::at(T0);
    let p = pbs_poller(&server.url(), &clock);
    let e = p.poll(None).expect_err("401");
    assert_eq!(e.category, Category::Permanent);
    assert!(e.message.contains("backup1"), "{}", e.message);
    // /version refused for the token but datastores readable → online, "connected".
    server.set_handler(|s| match api_path(s) {
        "/version" => Reply::raw(403, r#"{"data":null}"#),
        _ => pbs_routes(s),
    });
    let s = p.poll(None).expect("datastore liveness");
    assert_eq!(s.pbs[0].version, "connected");
    server.set_handler(|_| Reply::raw(502, "bad gateway"));
    assert_eq!(p.poll(None).expect_err("502").category, Category::Transient);
}

// ---------------------------------------------------------------------------- PMG

fn pmg_routes(s: &Seen) -> Reply {
    let data = match api_path(s) {
        "/version" => json!({"version":"8.1.2 ","release":"8.1"}),
        "/config/cluster/status" => {
            json!([{"cid":1,"name":"pmg1","type":"master","ip":"10.0.0.1"}])
        }
        // Real PMG lists queues here; the counters come from qshape.
        "/nodes/pmg1/postfix/queue" => json!([{"queue":"active"},{"queue":"deferred"}]),
        "/nodes/pmg1/postfix/qshape" => {
            let n = if s.query.contains("deferred") { 7 } else { 1 };
            json!([{"domain":"TOTAL","total":n},{"domain":"example.com","total":n}])
        }
        "/statistics/mail" => fx("pmg/statistics-mail.handwritten.1.json"),
        "/statistics/mailcount" => {
            assert_eq!(s.query, "timespan=3600", "hourly buckets");
            fx("pmg/statistics-mailcount.handwritten.1.json")
        }
        "/statistics/spamscores" => fx("pmg/statistics-spamscores.handwritten.1.json"),
        "/quarantine/spamstatus" => fx("pmg/quarantine-spamstatus.handwritten.1.json"),
        "/quarantine/virusstatus" => fx("pmg/quarantine-virusstatus.handwritten.1.json"),
        "/nodes/pmg1/backup" => {
            json!([{"filename":"pmg-backup_2024_01_01.tgz","size":1234,"timestamp":1_704_067_200}])
        }
        _ => return not_found(),
    };
    Reply::data(data)
}

#[test]
fn pmg_instance_queues_stats_and_quarantine() {
    let server = MockServer::start(pmg_routes);
    let clock = ManualClock::at(T0);
    let p = PmgPoller::new(
        PmgInstanceConfig {
            name: "mail".into(),
            host: server.url(),
            token_name: "pulse@pmg!mon".into(),
            token_value: "s3cr3t".into(),
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
        Arc::new(clock.clone()),
    );
    let s: State = p.poll(None).expect("poll");
    let i = &s.pmg[0];
    assert_eq!(
        (i.id.as_str(), i.version.as_str(), i.status.as_str()),
        ("pmg-mail", "8.1.2", "online")
    );
    let n = &i.nodes[0];
    assert_eq!((n.name.as_str(), n.status.as_str()), ("pmg1", "master"));
    let q = n.queue_status.as_ref().unwrap();
    assert_eq!((q.active, q.deferred, q.total), (1, 7, 10));
    let m = i.mail_stats.as_ref().unwrap();
    assert_eq!(
        (m.count_in, m.count_out, m.spam_in, m.bytes_in),
        (25.0, 5.0, 7.0, 1024.0)
    );
    assert_eq!(m.average_process_time_ms, 750.0);
    assert_eq!(i.mail_count.len(), 1);
    assert_eq!(i.mail_count[0].window_start, 1_713_724_800_000);
    assert_eq!(i.spam_distribution[0].score, "high");
    let qu = i.quarantine.as_ref().unwrap();
    assert_eq!((qu.spam, qu.virus), (0, 4));
    assert_eq!(s.pmg_backups[0].id, "pmg-mail-pmg1-1704067200");

    server.set_handler(|s| match api_path(s) {
        "/version" => Reply::raw(504, r#"{"data":null}"#),
        _ => pmg_routes(s),
    });
    let e = p.poll(Some(&s)).expect_err("504");
    assert_eq!(e.category, Category::Transient);
    assert!(e.message.contains("mail"), "{}", e.message);
}

// ---------------------------------------------------------------------------- Monitor

#[test]
fn all_three_pollers_plug_into_the_monitor() {
    use pulse::model::published::StateCell;
    use pulse::monitor::{Instance, Monitor};
    use pulse::poller::pool::Pool;
    use pulse::poller::scheduler::{Key, Kind, Scheduler, SchedulerConfig};
    use std::sync::Mutex;

    let t = pve();
    let pbs_server = MockServer::start(pbs_routes);
    let pmg_server = MockServer::start(pmg_routes);
    let clock = ManualClock::at(T0);
    let pbs: Arc<dyn InstancePoller> = Arc::new(pbs_poller(&pbs_server.url(), &clock));
    let pmg: Arc<dyn InstancePoller> = Arc::new(PmgPoller::new(
        PmgInstanceConfig {
            name: "mail".into(),
            host: pmg_server.url(),
            token_name: "pulse@pmg!mon".into(),
            token_value: "s3cr3t".into(),
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
        Arc::new(clock.clone()),
    ));
    let pve: Arc<dyn InstancePoller> = Arc::new(t.poller);
    let cell = Arc::new(StateCell::default());
    let sched = Arc::new(Mutex::new(Scheduler::new(SchedulerConfig::default(), 1)));
    let mut m = Monitor::new(
        sched,
        Pool::new(2, "pollers-test"),
        Arc::new(clock.clone()),
        cell.clone(),
    );
    let inst = |kind, name: &str, url: String, poller: &Arc<dyn InstancePoller>| Instance {
        key: Key::new(kind, name),
        display_name: name.into(),
        connection: url,
        identity: String::new(),
        poller: poller.clone(),
    };
    m.set_instances(vec![
        inst(Kind::Pve, "home", t.server.url(), &pve),
        inst(Kind::Pbs, "backup1", pbs_server.url(), &pbs),
        inst(Kind::Pmg, "mail", pmg_server.url(), &pmg),
    ]);
    let started = m.dispatch();
    assert_eq!(started, 3);
    let mut got = 0;
    while got < started {
        got += m.collect(Duration::from_secs(10));
    }
    let st = cell.current().state.clone();
    assert_eq!(st.nodes.len(), 2);
    assert_eq!(st.vms.len(), 2);
    assert_eq!(st.pbs[0].id, "pbs-backup1");
    assert_eq!(st.pmg[0].id, "pmg-mail");
    for k in ["home", "pbs-backup1", "pmg-mail"] {
        assert_eq!(st.connection_health.get(k), Some(&true), "{k}");
    }
    let json = serde_json::to_value(&*st).unwrap();
    assert_eq!(json["vms"][0]["id"], "home-pve-100");
    assert_eq!(json["storage"].as_array().unwrap().len(), 5);
}

#[test]
fn pve_backup_volumes_are_read_after_volume_tasks() {
    // Two CTs, one backup storage. `/cluster/tasks` (read each backup cycle) tells when
    // volumes may have changed: after a backup, a volume deleted, a prune; else the content
    // list is read again only once it is past its age limit, or when the storages or the
    // guests' nodes change.
    use std::sync::Mutex;
    let tasks = Arc::new(Mutex::new(json!([])));
    let volumes = Arc::new(AtomicU64::new(1));
    let resources = Arc::new(Mutex::new(stopped_cts(2)));
    let (t, v, r) = (tasks.clone(), volumes.clone(), resources.clone());
    let server = MockServer::start(move |s| {
        let data = match api_path(s) {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":1000,"mem":10}]),
            "/cluster/resources" => r.lock().unwrap().clone(),
            "/cluster/tasks" => t.lock().unwrap().clone(),
            "/nodes/pve/storage" => json!([{"storage":"nas","type":"nfs","content":"backup",
                "shared":1,"active":1,"enabled":1,"total":100,"used":10,"avail":90}]),
            "/nodes/pve/storage/nas/content" => json!(
                (0..v.load(Ordering::Relaxed))
                    .map(
                        |k| json!({"volid":format!("nas:backup/vzdump-lxc-1000-{k}.tar.zst"),
                        "content":"backup","ctime":1_700_000_000 + k,"vmid":1000,"size":5})
                    )
                    .collect::<Vec<_>>()
            ),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let (p, clock) = backups_every_cycle_poller(&server);
    let reads = |server: &MockServer| {
        paths(server)
            .iter()
            .filter(|p| p.ends_with("/content"))
            .count()
    };
    let now_s = |clock: &ManualClock| pulse::poller::clock::Clock::now_ms(clock) / 1000;
    let mut prev = p.poll(None).expect("poll 1");
    assert_eq!(reads(&server), 1);
    assert_eq!(prev.pve_backups.storage_backups.len(), 1);
    // Nothing happened: the volumes are kept, not read.
    for _ in 0..3 {
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll");
        assert_eq!(reads(&server), 0, "{:?}", paths(&server));
    }
    // A volume appears without a task (another cluster's backup to a shared store): not
    // seen yet; a backup task of this cluster ends: read at the next backup cycle.
    volumes.store(2, Ordering::Relaxed);
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("poll");
    assert_eq!(prev.pve_backups.storage_backups.len(), 1);
    for kind in ["vzdump", "imgdel", "prunebackups"] {
        let at = now_s(&clock);
        *tasks.lock().unwrap() = json!([{"upid":format!("UPID:pve:1:1:1:{kind}:1000:root@pam:"),
            "node":"pve","type":kind,"id":"1000","user":"root@pam","starttime":at,
            "endtime":at + 1,"status":"OK"}]);
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll after the task");
        assert_eq!(reads(&server), 1, "{kind}");
        // The same task is not acted on again once it is older than the last read.
        clock.advance(200_000);
        server.clear();
        prev = p.poll(Some(&prev)).expect("poll");
        assert_eq!(reads(&server), 0, "{kind} once");
    }
    assert_eq!(prev.pve_backups.storage_backups.len(), 2);
    // A running backup counts as ending now: read every backup cycle while it runs.
    let at = now_s(&clock);
    *tasks.lock().unwrap() = json!([{"upid":"UPID:pve:1:1:1:vzdump::root@pam:","node":"pve",
        "type":"vzdump","id":"","user":"root@pam","starttime":at}]);
    for _ in 0..2 {
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll while a backup runs");
        assert_eq!(reads(&server), 1);
    }
    // It ends after the last of those reads: one more read.
    *tasks.lock().unwrap() = json!([{"upid":"UPID:pve:1:1:1:vzdump::root@pam:","node":"pve",
        "type":"vzdump","id":"","user":"root@pam","starttime":at,
        "endtime":now_s(&clock) + 5,"status":"OK"}]);
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("poll");
    assert_eq!(reads(&server), 1, "the last read was during the backup");
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("poll");
    assert_eq!(reads(&server), 0);
    // A guest moves to another node: read again (the volumes name the guest's node).
    *resources.lock().unwrap() = {
        let mut v = stopped_cts(2);
        v[1]["node"] = json!("pve2");
        v
    };
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("poll after a move");
    assert_eq!(reads(&server), 1);
    // Past the age limit: read again, and a change made without a task shows.
    volumes.store(3, Ordering::Relaxed);
    clock.advance(pulse::poller::pve::VOLUMES_MAX_AGE_MS);
    server.clear();
    prev = p.poll(Some(&prev)).expect("poll after the age limit");
    assert_eq!(reads(&server), 1);
    assert_eq!(prev.pve_backups.storage_backups.len(), 3);
    // Without the cluster's task list (older PVE, no permission) every backup cycle reads.
    *tasks.lock().unwrap() = json!({"not":"a list"});
    for _ in 0..2 {
        server.clear();
        clock.advance(10_000);
        prev = p.poll(Some(&prev)).expect("poll without tasks");
        assert_eq!(reads(&server), 1);
    }
}

#[test]
fn ct_status_is_read_as_often_as_what_it_carries_moves() {
    // CT 200 reports its mount points' usage (`diskinfo`, which moves): its status is read
    // on the steady cadence. CT 201 reports none (real PVE: the root disk comes with the
    // resources every cycle): its status holds addresses only, read on the inventory one.
    let gib = 1u64 << 30;
    let server = MockServer::start(move |s| {
        let data = match api_path(s) {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":gib,"mem":10}]),
            "/cluster/resources" => json!([
                {"id":"lxc/200","type":"lxc","vmid":200,"node":"pve","status":"running",
                 "maxmem":gib,"mem":gib / 4,"maxdisk":gib,"disk":gib / 8,"uptime":100},
                {"id":"lxc/201","type":"lxc","vmid":201,"node":"pve","status":"running",
                 "maxmem":gib,"mem":gib / 4,"maxdisk":gib,"disk":gib / 8,"uptime":100}]),
            "/nodes/pve/lxc/200/status/current" => json!({"status":"running",
                "diskinfo":{"rootfs":{"total":gib,"used":gib / 8},"mp0":{"total":gib,"used":1}}}),
            "/nodes/pve/lxc/201/status/current" => json!({"status":"running"}),
            p if p.ends_with("/config") => json!({"hostname":"ct"}),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let (p, clock) = guests_only_poller(&server);
    let statuses = |server: &MockServer| {
        let mut v: Vec<String> = paths(server)
            .into_iter()
            .filter(|p| p.ends_with("/status/current"))
            .collect();
        v.sort();
        v
    };
    let mut prev = p.poll(None).expect("poll 1");
    assert_eq!(statuses(&server).len(), 2);
    assert_eq!(
        prev.containers[0].disks.len(),
        2,
        "rootfs and mp0 from diskinfo"
    );
    server.clear();
    clock.advance(pulse::poller::pve::STEADY_TTL_MS);
    prev = p.poll(Some(&prev)).expect("poll on the steady cadence");
    assert_eq!(statuses(&server), ["/nodes/pve/lxc/200/status/current"]);
    server.clear();
    clock.advance(pulse::poller::pve::INVENTORY_TTL_MS - pulse::poller::pve::STEADY_TTL_MS);
    p.poll(Some(&prev)).expect("poll on the inventory cadence");
    assert!(statuses(&server).contains(&"/nodes/pve/lxc/201/status/current".to_owned()));
}

#[test]
fn a_guest_started_again_is_read_afresh() {
    // CT 300 runs, stops, and runs again within the inventory period: its status and config
    // (mount points may have been changed while it was stopped) are read again at once.
    let gib = 1u64 << 30;
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let r = running.clone();
    let server = MockServer::start(move |s| {
        let status = if r.load(Ordering::Relaxed) {
            "running"
        } else {
            "stopped"
        };
        let data = match api_path(s) {
            "/nodes" => json!([{"node":"pve","status":"online","maxmem":gib,"mem":10}]),
            "/cluster/resources" => json!([{"id":"lxc/300","type":"lxc","vmid":300,
                "node":"pve","status":status,"maxmem":gib,"mem":gib / 4,"maxdisk":gib,
                "disk":gib / 8,"uptime":100}]),
            "/nodes/pve/lxc/300/status/current" => json!({"status":status}),
            "/nodes/pve/lxc/300/config" => json!({"hostname":"ct","rootfs":"local:300/d,size=8G",
                "net0":"name=eth0,bridge=vmbr0,ip=10.0.0.9/24"}),
            _ => return not_found(),
        };
        Reply::data(data)
    });
    let (p, clock) = guests_only_poller(&server);
    let reads = |server: &MockServer| {
        let mut v: Vec<String> = paths(server)
            .into_iter()
            .filter(|p| p.starts_with("/nodes/pve/lxc/"))
            .collect();
        v.sort();
        v
    };
    let mut prev = p.poll(None).expect("poll 1");
    assert_eq!(reads(&server).len(), 2, "status and config");
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("poll 2");
    assert!(reads(&server).is_empty());
    running.store(false, Ordering::Relaxed);
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("stopped");
    assert_eq!(&*prev.containers[0].status, "stopped");
    running.store(true, Ordering::Relaxed);
    server.clear();
    clock.advance(10_000);
    prev = p.poll(Some(&prev)).expect("running again");
    assert_eq!(
        reads(&server),
        [
            "/nodes/pve/lxc/300/config",
            "/nodes/pve/lxc/300/status/current"
        ]
    );
    assert_eq!(
        prev.containers[0].disks[0].device.as_deref(),
        Some("local:300/d")
    );
}
