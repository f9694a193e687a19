//! Cluster endpoint failover at the poller level, with the clock injected. The simulator
//! serves a whole cluster on one port (every member reports the same IP), so it cannot show
//! one member going away; here two loopback HTTPS servers play two members of one cluster on
//! the same port: `127.0.0.1:P` (the configured node) and `[::1]:P` (the other member, found
//! through `/cluster/status`). Only 127.0.0.1 and ::1 are contacted.

#[path = "support/mock_proxmox.rs"]
mod mock;

use mock::{MockServer, Reply, Seen};
use pulse::monitor::InstancePoller;
use pulse::poller::clock::ManualClock;
use pulse::poller::endpoints::REDETECT_MS;
use pulse::poller::{PveInstanceConfig, PvePoller};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const T0: i64 = 1_800_000_000_000;

/// One member of the `lab` cluster: answers as `me`; `broken` makes it answer 503.
fn member(
    me: &'static str,
    members: Arc<std::sync::Mutex<Vec<(&'static str, &'static str)>>>,
    broken: Arc<AtomicBool>,
) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |s: &Seen| {
        if broken.load(Ordering::SeqCst) {
            return Reply::raw(503, r#"{"data":null}"#);
        }
        let path = s.path.strip_prefix("/api2/json").unwrap_or(&s.path);
        let list = members.lock().unwrap().clone();
        match path {
            "/nodes" => Reply::data(json!(
                list.iter()
                    .map(|(n, _)| json!({"node": n, "status": "online", "cpu": 0.1,
                        "maxcpu": 4, "mem": 1, "maxmem": 2, "uptime": 100, "type": "node"}))
                    .collect::<Vec<_>>()
            )),
            "/cluster/status" => {
                let mut v = vec![json!({"type": "cluster", "id": "cluster", "name": "lab",
                    "nodes": list.len(), "quorate": 1})];
                for (i, (n, ip)) in list.iter().enumerate() {
                    v.push(json!({"type": "node", "id": format!("node/{n}"), "name": n,
                        "ip": ip, "online": 1, "local": u8::from(*n == me), "nodeid": i + 1}));
                }
                Reply::data(json!(v))
            }
            "/cluster/resources" => Reply::data(json!([
                {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "web", "node": "pve1",
                 "status": "stopped", "maxmem": 1024, "maxdisk": 2048, "maxcpu": 2},
            ])),
            p if p.ends_with("/status") => Reply::data(json!({"uptime": 100, "cpu": 0.1,
                "memory": {"total": 2, "used": 1, "free": 1}})),
            _ => Reply::data(json!([])),
        }
    }
}

fn config(url: &str) -> PveInstanceConfig {
    PveInstanceConfig {
        name: "lab".into(),
        host: url.into(),
        token_name: "pulse@pve!mon".into(),
        token_value: "s3cr3t".into(),
        is_cluster: true,
        monitor_storage: false,
        monitor_backups: false,
        monitor_physical_disks: Some(false),
        timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

fn count(server: &MockServer, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|s| s.path.ends_with(path))
        .count()
}

#[test]
fn polling_fails_over_to_another_member_and_membership_is_reread() {
    let (cert, key) = mock::self_signed();
    let members = Arc::new(std::sync::Mutex::new(vec![
        ("pve1", "127.0.0.1"),
        ("pve2", "::1"),
    ]));
    let a_broken = Arc::new(AtomicBool::new(false));
    let b_broken = Arc::new(AtomicBool::new(false));
    let a = MockServer::start_with(
        cert.clone(),
        key.clone(),
        member("pve1", members.clone(), a_broken.clone()),
    );
    let b = MockServer::start_at(
        &format!("[::1]:{}", a.port),
        cert,
        key,
        member("pve2", members.clone(), b_broken.clone()),
    );
    let clock = ManualClock::at(T0);
    let poller = PvePoller::new(config(&a.url()), Arc::new(clock.clone()));

    // First cycle through the configured node; membership read once.
    let s1 = poller.poll(None).expect("poll through pve1");
    assert_eq!(s1.nodes.len(), 2);
    assert_eq!(count(&a, "/cluster/status"), 1);
    assert_eq!(poller.known_members(), vec![b.url()]);
    assert_eq!(poller.active_endpoint(), a.url());

    // Regular cycles do not re-read membership.
    clock.advance(10_000);
    let s2 = poller.poll(Some(&s1)).expect("poll 2");
    assert_eq!(count(&a, "/cluster/status"), 1);
    assert_eq!(count(&b, "/nodes"), 0, "the other member is not asked");

    // The configured node breaks: the same cycle is answered by the other member, with the
    // same ids, and membership is read again through it.
    a_broken.store(true, Ordering::SeqCst);
    clock.advance(10_000);
    let s3 = poller.poll(Some(&s2)).expect("failover poll");
    assert_eq!(poller.active_endpoint(), b.url());
    assert_eq!(count(&b, "/nodes"), 1);
    assert_eq!(count(&b, "/cluster/status"), 1, "re-read after the failure");
    let ids = |s: &pulse::model::State| s.nodes.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&s3), ids(&s1));
    assert_eq!(s3.vms[0].id, s1.vms[0].id);
    // It stays on the working member.
    let a_before = a.requests().len();
    clock.advance(10_000);
    let s4 = poller.poll(Some(&s3)).expect("poll via pve2");
    assert_eq!(
        a.requests().len(),
        a_before,
        "the broken node is left alone"
    );
    assert_eq!(count(&b, "/cluster/status"), 1);

    // Five minutes on, membership is read again and a new member is learnt.
    members.lock().unwrap().push(("pve3", "127.0.0.1"));
    clock.advance(REDETECT_MS);
    let s5 = poller.poll(Some(&s4)).expect("poll after 5 min");
    assert_eq!(count(&b, "/cluster/status"), 2);
    assert_eq!(s5.nodes.len(), 3);
    assert!(poller.known_members().contains(&a.url()));

    // The configured node is back and the member in use breaks: back to the configured one.
    a_broken.store(false, Ordering::SeqCst);
    b_broken.store(true, Ordering::SeqCst);
    clock.advance(10_000);
    poller.poll(Some(&s5)).expect("failover back");
    assert_eq!(poller.active_endpoint(), a.url());

    // Every member broken: the poll fails with the first error, classified transient.
    a_broken.store(true, Ordering::SeqCst);
    clock.advance(10_000);
    let err = poller.poll(None).unwrap_err();
    assert_eq!(
        err.category,
        pulse::poller::scheduler::Category::Transient,
        "{err:?}"
    );
    assert!(err.message.contains("503"), "{}", err.message);
}

#[test]
fn bad_credentials_do_not_fail_over() {
    let (cert, key) = mock::self_signed();
    let members = Arc::new(std::sync::Mutex::new(vec![
        ("pve1", "127.0.0.1"),
        ("pve2", "::1"),
    ]));
    let ok = Arc::new(AtomicBool::new(false));
    let a = MockServer::start_with(
        cert.clone(),
        key.clone(),
        member("pve1", members.clone(), ok.clone()),
    );
    let b = MockServer::start_at(
        &format!("[::1]:{}", a.port),
        cert,
        key,
        member("pve2", members, ok),
    );
    let clock = ManualClock::at(T0);
    let poller = PvePoller::new(config(&a.url()), Arc::new(clock.clone()));
    poller.poll(None).expect("first poll");
    a.set_handler(|_| Reply::raw(401, r#"{"data":null}"#));
    clock.advance(10_000);
    let err = poller.poll(None).unwrap_err();
    assert_eq!(err.category, pulse::poller::scheduler::Category::Permanent);
    assert_eq!(
        count(&b, "/nodes"),
        0,
        "a rejected token is not tried elsewhere"
    );
    assert_eq!(poller.active_endpoint(), a.url());
}
