//! The library API `pulse serve --demo` will use: start the simulator in-process with an
//! injected clock and an edited fleet, read the instance list, poll it, step time, stop it.

use pulse::sim::clock::{Clock, ManualClock};
use pulse::sim::fleet::{Fleet, FleetSpec};
use pulse::sim::{self, SimConfig};
use std::net::SocketAddr;
use std::time::Duration;

fn get(agent: &ureq::Agent, url: &str, auth: &str) -> serde_json::Value {
    let mut r = agent
        .get(url)
        .header("Authorization", auth)
        .call()
        .expect("GET");
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_poll_step_stop_in_process() {
    let t0 = 1_800_000_000;
    let clock = ManualClock::new(t0 * 1000);
    let spec = FleetSpec {
        seed: 99,
        clusters: 1,
        nodes: 2,
        guests: 12,
        standalone: 0,
        pbs: 0,
        pmg: 0,
        genesis: t0,
    };
    let mut fleet = Fleet::generate(&spec);
    fleet.pve[0].guests[0].name = "edited-by-test".into();
    let cfg = SimConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        spec,
        plain_http: false,
        faults: vec![],
        clock: Some(clock.clone()),
        fleet: Some(fleet),
    };
    let handle = sim::start(cfg).await.expect("start");
    let inst = handle.instances();
    assert_eq!(inst.len(), 1);
    let i = inst[0].clone();
    assert_eq!(i.name, "cluster1");
    assert!(i.url.starts_with("https://127.0.0.1:"));
    assert_eq!(i.nodes, vec!["c1-pve1", "c1-pve2"]);
    let auth = format!(
        "PVEAPIToken={}={}",
        i.token_id.clone().unwrap(),
        i.token_value.clone().unwrap()
    );
    let url = format!("{}/api2/json/cluster/resources?type=vm", i.url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let (a, u, au) = (agent.clone(), url.clone(), auth.clone());
    let first = tokio::task::spawn_blocking(move || get(&a, &u, &au))
        .await
        .unwrap();
    assert!(
        first["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "edited-by-test")
    );
    // same clock, same answer; stepped clock, moved answer
    let (a, u, au) = (agent.clone(), url.clone(), auth.clone());
    let again = tokio::task::spawn_blocking(move || get(&a, &u, &au))
        .await
        .unwrap();
    assert_eq!(first, again);
    clock.advance_ms(60_000);
    let (a, u, au) = (agent.clone(), url.clone(), auth.clone());
    let later = tokio::task::spawn_blocking(move || get(&a, &u, &au))
        .await
        .unwrap();
    assert_ne!(first, later);
    let port: u16 = i.url.rsplit(':').next().unwrap().parse().unwrap();
    handle.stop().await;
    // the listener is closed after stop
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn fleet_is_deterministic_and_rich() {
    let spec = FleetSpec {
        seed: 5,
        clusters: 2,
        nodes: 5,
        guests: 400,
        standalone: 1,
        pbs: 2,
        pmg: 2,
        genesis: 1_800_000_000,
    };
    let a = Fleet::generate(&spec);
    let b = Fleet::generate(&spec);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    use sim::fleet::{Agent, Kind};
    let c = &a.pve[0];
    let g = &c.guests;
    assert!(g.iter().any(|g| g.kind == Kind::Qemu) && g.iter().any(|g| g.kind == Kind::Lxc));
    assert!(g.iter().any(|g| g.template));
    assert!(g.iter().any(|g| g.paused));
    assert!(g.iter().any(|g| g.lock.is_some()));
    assert!(g.iter().any(|g| g.ha));
    assert!(g.iter().any(|g| g.balloon_min.is_some()));
    assert!(g.iter().any(|g| !g.tags.is_empty()));
    assert!(g.iter().any(|g| !g.snapshots.is_empty()));
    for m in [Agent::Off, Agent::Ok, Agent::NotRunning, Agent::Error] {
        assert!(g.iter().any(|g| g.agent == m), "{m:?}");
    }
    let types: std::collections::BTreeSet<&str> = c.storages.iter().map(|s| s.stype).collect();
    for t in ["dir", "lvmthin", "zfspool", "nfs", "cephfs", "rbd", "pbs"] {
        assert!(types.contains(t), "{t}");
    }
    assert!(c.ceph.is_some() && !c.replication.is_empty());
    assert!(a.pve.iter().any(|c| c.standalone));
    assert_eq!(a.pve.len(), 3);
    assert!(a.pbs[0].datastores.iter().any(|d| d.namespaces.len() > 1));
    assert!(
        a.pbs[0]
            .datastores
            .iter()
            .flat_map(|d| &d.groups)
            .any(|g| g.encrypted)
    );
    assert!(a.pmg[0].nodes.len() > 1);
    // PBS groups are unique per namespace and belong to real guests of the same type
    for d in &a.pbs[0].datastores {
        let mut seen = std::collections::HashSet::new();
        for grp in &d.groups {
            assert!(
                seen.insert((grp.ns.clone(), grp.btype, grp.id.clone())),
                "duplicate group {}/{}",
                grp.btype,
                grp.id
            );
            if grp.btype != "host" {
                let vmid: u32 = grp.id.parse().unwrap();
                let guest = a.pve[0].guest(vmid).expect("group of a real guest");
                assert_eq!(grp.btype == "vm", guest.kind == Kind::Qemu);
            }
        }
    }
    let disks: Vec<_> = a
        .pve
        .iter()
        .flat_map(|c| &c.nodes)
        .flat_map(|n| &n.disks)
        .collect();
    assert!(disks.iter().any(|d| d.wearout.is_some()) && disks.iter().any(|d| d.wearout.is_none()));
}
