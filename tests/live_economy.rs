//! Request economy against the simulator's request accounting: a real `pulse serve` polls
//! a 3-node cluster every second; over a window of regular cycles it sends exactly one
//! `/cluster/resources` per cluster per cycle, per-guest agent and container-config calls
//! at most once per guest (their TTLs are minutes), backup-side listings only on backup
//! cycles, and stays within the documented per-cycle bound (docs/polling.md).

mod common;
#[path = "support/live_harness.rs"]
mod harness;

use harness::*;
use serde_json::Value;
use std::time::Duration;

fn n(acc: &Value, path: &str) -> u64 {
    acc["cluster1"]["byPath"][path].as_u64().unwrap_or(0)
}

#[test]
fn requests_per_cycle_stay_within_the_documented_bound() {
    let sim = sim(&[
        "--clusters",
        "1",
        "--nodes",
        "3",
        "--guests",
        "30",
        "--standalone",
        "0",
        "--pbs",
        "0",
        "--pmg",
        "0",
        "--seed",
        "9",
    ]);
    let s = server(&[]);
    let names = add_all(&s, &sim);
    wait_all_healthy(&s, &sim, &names, Duration::from_secs(30));
    // Past the first (slow-cadence) cycle: agent metadata, backups and disks are cached.
    std::thread::sleep(Duration::from_secs(2 * CYCLE_S));
    let truth = sim.truth("cluster1");
    let running = |kind: &str| {
        truth["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == kind && r["status"] == "running" && r["template"] != 1)
            .count() as u64
    };
    let (v, c) = (running("qemu"), running("lxc"));
    let nodes = truth["nodes"].as_array().unwrap().len() as u64;
    let guests = truth["guestFacts"].as_array().unwrap().len() as u64;
    assert!(
        v > 3 && c > 2,
        "a fleet with running guests: {v} VMs, {c} CTs"
    );

    assert_eq!(sim.admin_send("POST", "/accounting/reset", "").0, 200);
    std::thread::sleep(Duration::from_secs(8 * CYCLE_S));
    let (code, acc) = sim.admin_get("/accounting");
    assert_eq!(code, 200);
    let polls = n(&acc, "/nodes");
    assert!(polls >= 4, "polled every cycle: {polls} polls in 8 s");

    // One bulk guest listing per cluster per cycle. (The window's edges may cut one poll in
    // two: its /nodes before the reset, its /cluster/resources after, or the reverse.)
    let resources = n(&acc, "/cluster/resources");
    assert!(
        (polls - 1..=polls + 1).contains(&resources),
        "{resources} /cluster/resources for {polls} polls: {acc}"
    );
    let polls = polls + 1; // bounds below count a cut poll in full
    // Per-node status and storage once per cycle each.
    assert!(n(&acc, "/nodes/{node}/status") <= polls * nodes);
    // Agent data: each running VM's filesystems at most once per 60 s, metadata and CT
    // config once per 15 min, so at most once per VM in this window (and none for VMs without an agent).
    for p in [
        "/nodes/{node}/qemu/{vmid}/agent/get-fsinfo",
        "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces",
        "/nodes/{node}/qemu/{vmid}/agent/get-osinfo",
        "/nodes/{node}/lxc/{vmid}/config",
    ] {
        assert!(
            n(&acc, p) <= v.max(c),
            "{p}: {} > once per guest",
            n(&acc, p)
        );
    }
    // Guest status details about once per 60 s per running guest: at most once each in this
    // window (they were all asked on the first cycle, before it).
    let status = n(&acc, "/nodes/{node}/qemu/{vmid}/status/current")
        + n(&acc, "/nodes/{node}/lxc/{vmid}/status/current");
    assert!(
        status <= v + c,
        "{status} status/current > once per running guest: {acc}"
    );
    // Backup-side listings only every 10th cycle: at most one round in 8 cycles.
    let backup_rounds = polls.div_ceil(10);
    assert!(
        n(&acc, "/nodes/{node}/tasks") <= backup_rounds * nodes,
        "{acc}"
    );
    assert!(
        n(&acc, "/nodes/{node}/{type}/{vmid}/snapshot")
            + n(&acc, "/nodes/{node}/qemu/{vmid}/snapshot")
            + n(&acc, "/nodes/{node}/lxc/{vmid}/snapshot")
            <= backup_rounds * guests.min(200),
        "{acc}"
    );
    // The whole window within the documented bound: 3 + 2N per regular cycle (+2 Ceph),
    // plus the slow-cadence extras (status/current and agent/config refreshes, one backup
    // round).
    let total = acc["cluster1"]["total"].as_u64().unwrap();
    let regular = 3 + 2 * nodes + 2;
    let extras = 5 * v + 3 * c + backup_rounds * (1 + 2 * nodes + 4 + guests.min(200)) + 1;
    assert!(
        total <= polls * regular + extras,
        "{total} requests for {polls} cycles > {} (per cycle {regular}): {acc}",
        polls * regular + extras
    );
    eprintln!(
        "cluster of {nodes} nodes, {v} running VMs, {c} running CTs: {total} requests in {polls} cycles ({:.1} per cycle)",
        total as f64 / polls as f64
    );
}
