//! One PVE instance per poller: a cycle turns the Proxmox VE API into this instance's
//! `State` fragment (spec/proxmox-api.md §4–§5). Requests per regular cycle, for N online
//! nodes: `3 + 2N` (storage monitoring on), plus the per-guest `status/current` refreshes
//! (each running guest about once per `STATUS_TTL_MS`, in rotating batches) and the other
//! slower-cadence refreshes (see `docs/polling.md`).

use super::clock::Clock;
use super::config::{Conn, LazyClient, PveInstanceConfig, failure, stopped_answering};
use super::endpoints::Endpoints;
use super::map::fs::{FsSummary, summarize};
use super::map::{backups, ceph, disks, guest, node, replication, storage};
use super::scheduler::Category;
use super::workers::{self, Items};
use crate::model::{Disk, Guest, GuestNetworkInterface, Node, PveBackups, State, Storage};
use crate::monitor::{InstancePoller, PollFailure};
use crate::proxmox::pve::{GuestKind, ResourceType};
use crate::proxmox::types::pve::{
    ClusterResource, FsInfo, LxcConfig, LxcInterface, LxcStatus, NodeListItem, NodeStorage,
    QemuStatus, ReplicationState, StorageConfig,
};
use crate::proxmox::{Product, ProxmoxError, PveClient};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Inventory that changes only by an admin's hand: a guest's agent-reported interfaces and
/// addresses (read again at once after the guest booted), a CT's config (mount points,
/// `netN`), the status of a VM whose memory holds steady (balloon, agent flag: a balloon
/// change moves the memory, which brings the status forward), and the status of a CT that
/// reports no mount points' usage (`diskinfo`; its addresses only). Read about this often, less a
/// per-VMID spread of up to `INVENTORY_SPREAD_MS`: at 5 min the first three were 60 % of a
/// big fleet's per-guest requests (session 12).
pub const INVENTORY_TTL_MS: i64 = 15 * 60_000;
pub const INVENTORY_SPREAD_MS: i64 = 3 * 60_000;
/// A guest's OS name/version and agent version change with an upgrade, and nearly always a
/// reboot comes with it (which brings the refresh forward): two calls per guest are not
/// worth making every 5 minutes.
pub const AGENT_IDENT_TTL_MS: i64 = 30 * 60_000;
/// A guest whose boot (now − uptime) lies more than this after a reading has rebooted since
/// (the slack absorbs the resources' uptime granularity and age).
const REBOOT_SLACK_MS: i64 = 60_000;
/// Filesystem usage from the agent: refreshed this often per guest while it matters — the
/// fullest filesystem set is at least `FS_WATCH_USAGE` % full, or its usage moved by
/// `FS_WATCH_MOVE` points or more since the reading before, or there is no reading yet...
pub const FSINFO_TTL_MS: i64 = 60_000;
pub const FS_WATCH_USAGE: f64 = 80.0;
pub const FS_WATCH_MOVE: f64 = 1.0;
/// ...and otherwise about this often (a quiet, roomy disk), minus a per-guest spread of up to
/// `STEADY_SPREAD_MS` so that refreshes of a big fleet do not all fall in one cycle.
pub const STEADY_TTL_MS: i64 = 5 * 60_000;
pub const STEADY_SPREAD_MS: i64 = 60_000;
/// Node RRD memory fallback (old PVE only).
pub const NODE_RRD_TTL_MS: i64 = 30_000;
/// Storage configuration and per-node storage lists (usage, active/enabled): storage fills
/// over hours and goes offline rarely, so they are read once a minute, not every cycle
/// (two requests per node per cycle were a third of a big cluster's regular requests). A
/// node that was offline, or whose list failed, is read again at once. With a short poll
/// interval they are read at least every `STORAGE_CYCLES` polls.
pub const STORAGE_TTL_MS: i64 = 60_000;
pub const STORAGE_CYCLES: u64 = 6;
/// Per-guest `status/current` (balloon, free memory, agent flag, CT diskinfo/addresses):
/// refreshed about this often per running VM whose memory is moving (`/cluster/resources`
/// `mem` changed by `MEM_MOVE_SHARE` of `maxmem` or more since the status was read). A
/// container (whose memory comes from `/cluster/resources` itself) whose status reports its
/// mount points' usage (`diskinfo`) is refreshed on the steady cadence (`STEADY_TTL_MS`);
/// other containers and a VM with steady memory on the inventory cadence
/// (`INVENTORY_TTL_MS`). CPU, memory changes, disk and the I/O counters come from the one
/// `/cluster/resources` of every cycle in between.
pub const STATUS_TTL_MS: i64 = 60_000;
pub const MEM_MOVE_SHARE: f64 = 0.02;
/// Status refreshes of aged entries per cycle: a sixth of the running guests (the TTL over
/// the default 10 s interval), at least this many, oldest first — so after the first cycle the
/// refreshes spread over the cycles instead of coming back all at once every minute.
pub const STATUS_BATCH_MIN: usize = 50;
const STATUS_BATCH_SHARE: usize = 6;

/// Most snapshot lists read per backup cycle (one request each).
pub const SNAPSHOT_BATCH: usize = 200;
/// A guest's snapshot list is re-read after a snapshot task (`/cluster/tasks`, checked each
/// backup cycle) and otherwise at least this often, less a per-VMID spread of up to 10 min
/// (`SNAPSHOT_SPREAD_MS`) so a fleet's re-reads do not all land in one backup cycle. The
/// age limit only catches snapshots made without a task; without `/cluster/tasks` (older
/// PVE, missing permission) every list is re-read oldest first, `SNAPSHOT_BATCH` per cycle.
pub const SNAPSHOT_MAX_AGE_MS: i64 = 60 * 60_000;
const SNAPSHOT_SPREAD_MS: i64 = 10 * 60_000;
/// Task types that create, remove or roll back a guest snapshot.
const SNAPSHOT_TASKS: &[&str] = &[
    "qmsnapshot",
    "vzsnapshot",
    "qmdelsnapshot",
    "vzdelsnapshot",
    "qmrollback",
    "vzrollback",
];
/// Tasks that ended this long before the last check are still looked at (clock skew
/// between PVE and us, a task ending during the check).
const TASK_SLACK_S: i64 = 120;
/// Task types that add or remove backup volumes: a backup (which prunes too), a volume
/// deleted through the API or GUI, a prune run from the GUI.
const VOLUME_TASKS: &[&str] = &["vzdump", "imgdel", "prunebackups"];
/// The backup volumes (every storage's content list, the biggest reads of a backup cycle)
/// are read again when a `VOLUME_TASKS` task ended since the last read, when the storages
/// holding backups or the guests' nodes changed, when a storage failed, and otherwise at
/// least this often: volumes that change without a task of this cluster (a PBS datastore's
/// own prune, another cluster's backups) show within this time.
pub const VOLUMES_MAX_AGE_MS: i64 = 10 * 60_000;

const STORAGE_TIMEOUT: Duration = Duration::from_secs(30);
const FSINFO_TIMEOUT: Duration = Duration::from_secs(15);
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);
const LXC_TIMEOUT: Duration = Duration::from_secs(5);
const CEPH_TIMEOUT: Duration = Duration::from_secs(15);
const RRD_TIMEOUT: Duration = Duration::from_secs(2);

/// A VM's agent-reported interfaces and addresses.
#[derive(Debug, Clone, Default)]
struct AgentNet {
    interfaces: Arc<[GuestNetworkInterface]>,
    ips: Arc<[String]>,
}

/// A VM's agent-reported OS and agent version.
#[derive(Debug, Clone, Default)]
struct AgentIdent {
    os_name: Option<Arc<str>>,
    os_version: Option<Arc<str>>,
    agent_version: Option<Arc<str>>,
}

/// What the agent reported besides filesystems, with when each part was read.
#[derive(Default)]
struct AgentMemo {
    net_at: Option<i64>,
    net: AgentNet,
    ident_at: Option<i64>,
    ident: AgentIdent,
}

/// A CT's network and disk entries worked out from its cached status and config, with the
/// sample times they were worked out from (recomputed only when one of those changes).
struct CtDerived {
    from: (Option<i64>, Option<i64>),
    /// From `diskinfo`, or one synthetic root entry whose figures come from the cycle's
    /// aggregate disk (`synthetic_root`).
    disks: Arc<[Disk]>,
    synthetic_root: bool,
    nics: Arc<[GuestNetworkInterface]>,
    ips: Arc<[String]>,
}

/// A VM's last `status/current` with its sample time and the `/cluster/resources` `mem`
/// of the same cycle (memory between refreshes follows the resources' change from there).
#[derive(Clone)]
struct VmStatusEntry {
    at: i64,
    status: Arc<QemuStatus>,
    resources_mem: u64,
}

#[derive(Debug, Clone, Default)]
struct LxcExtra {
    config: Option<LxcConfig>,
    interfaces: Vec<LxcInterface>,
}

/// A VM's last agent filesystem reading (summarized once, when it arrives) and when the
/// next one is due.
struct FsMemo {
    at: i64,
    fs: Result<FsSummary, &'static str>,
    /// Usage (%) of the guest's disk summary from this reading.
    usage: Option<f64>,
    ttl: i64,
}

/// `ttl` less a spread of up to `STEADY_SPREAD_MS` fixed per VMID, so the refreshes of a
/// fleet read together at start-up do not all fall due in the same cycle again.
fn spread(ttl: i64, vmid: u64) -> i64 {
    spread_within(ttl, STEADY_SPREAD_MS, vmid)
}

/// `ttl` less a spread of up to `width` fixed per VMID.
fn spread_within(ttl: i64, width: i64, vmid: u64) -> i64 {
    ttl - (vmid as i64 % (width / 1000)) * 1000
}

/// The inventory TTL of one guest (`INVENTORY_TTL_MS`).
fn inventory_ttl(vmid: u64) -> i64 {
    spread_within(INVENTORY_TTL_MS, INVENTORY_SPREAD_MS, vmid)
}

/// The steady-cadence TTL of one guest.
fn steady_ttl(vmid: u64) -> i64 {
    spread(STEADY_TTL_MS, vmid)
}

/// Next fsinfo TTL after a reading with `usage`, the reading before having `before`.
fn fsinfo_ttl(vmid: u64, before: Option<f64>, usage: Option<f64>) -> i64 {
    match (before, usage) {
        (Some(b), Some(u)) if u < FS_WATCH_USAGE && (u - b).abs() < FS_WATCH_MOVE => {
            steady_ttl(vmid)
        }
        _ => FSINFO_TTL_MS,
    }
}

/// Last backup time (Unix ms) per VMID.
type LastBackups = Arc<HashMap<u32, i64>>;

/// An order-independent digest of a set of guest ids (count and wrapping sum of their
/// hashes): equal digests mean, short of a 64-bit collision, the same set.
#[derive(Default, PartialEq, Eq)]
struct IdSet {
    count: usize,
    sum: u64,
}

impl IdSet {
    fn add(&mut self, id: &str) {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
        self.count += 1;
        self.sum = self.sum.wrapping_add(h.hash_one(id));
    }
}

/// What the poller remembers of one guest between cycles: the slower-cadence readings
/// with their sample times, and the counters the rates are worked out from. One entry per
/// guest, so a cycle finds all of them with one lookup by VMID.
#[derive(Default)]
struct GuestMemo {
    /// Where and what the guest was when these were read: a guest seen on another node
    /// (migrated) or as another kind (VMID reused) starts afresh, as a new guest does. The
    /// node is the cycle's shared text, so the check is a pointer compare.
    node: Arc<str>,
    kind: &'static str,
    /// The last cycle the guest was listed in.
    seen: u64,
    rates: Option<super::map::rates::RateSample>,
    vm_status: Option<VmStatusEntry>,
    ct_status: Option<(i64, Arc<LxcStatus>)>,
    fsinfo: Option<FsMemo>,
    agent: Option<AgentMemo>,
    ct_derived: Option<CtDerived>,
    lxc: Option<(i64, LxcExtra)>,
}

impl GuestMemo {
    fn same_place(&self, node: &Arc<str>, kind: &str) -> bool {
        self.kind == kind && (Arc::ptr_eq(&self.node, node) || self.node == *node)
    }
}

impl Memo {
    /// The memo of a guest, if it is of the same node and kind.
    fn guest(&self, vmid: u32, node: &Arc<str>, kind: &str) -> Option<&GuestMemo> {
        self.guests
            .get(&vmid)
            .map(|m| &**m)
            .filter(|m| m.same_place(node, kind))
    }

    /// The memo of a guest listed this cycle, started afresh when new or moved.
    fn guest_mut(&mut self, vmid: u32, node: &Arc<str>, kind: &'static str) -> &mut GuestMemo {
        let m = self.guests.entry(vmid).or_default();
        if !m.same_place(node, kind) {
            **m = GuestMemo {
                node: node.clone(),
                kind,
                ..Default::default()
            };
        }
        m.seen = self.cycle;
        m
    }
}

/// What the poller remembers between cycles (besides the previous fragment).
#[derive(Default)]
struct Memo {
    cycle: u64,
    /// The guest ids the guest memos were last pruned to.
    guest_ids: IdSet,
    /// Per-guest readings by VMID (unique in a cluster and on a standalone node).
    /// Boxed: the table stays small enough to stay in cache, and a lookup touches only the
    /// entry it finds.
    guests: HashMap<u32, Box<GuestMemo>>,
    texts: guest::SharedTexts,
    last_online: HashMap<String, i64>,
    node_rrd: HashMap<String, (i64, Option<node::RrdMemory>)>,
    /// Storage configuration and node storage lists with the time and cycle of the read.
    storage_config: Option<((i64, u64), Vec<StorageConfig>)>,
    node_storage: HashMap<String, ((i64, u64), Vec<NodeStorage>)>,
    disks_polled_at: Option<i64>,
    /// When each guest's snapshot list (by VMID) was last read.
    snapshots_read: HashMap<u32, i64>,
    /// Unix seconds of the last `/cluster/tasks` check.
    tasks_checked: Option<i64>,
    /// The last full read of the backup volumes.
    volumes_read: Option<VolumesRead>,
    /// Last backup time per VMID, for the backup list it was worked out from.
    last_backups: Option<(Arc<PveBackups>, LastBackups)>,
}

pub struct PvePoller {
    cfg: PveInstanceConfig,
    clock: Arc<dyn Clock>,
    client: LazyClient<PveClient>,
    memo: Mutex<Memo>,
    /// Which cluster member is asked, and which others may answer for the cluster.
    endpoints: Mutex<Endpoints>,
}

/// Members tried per failed cycle (each may cost a request timeout on a pool thread).
const FAILOVER_TRIES: usize = 3;
/// A membership read (`/cluster/status`) is small; it must not hold a cycle up.
const CLUSTER_STATUS_TIMEOUT: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PvePoller {
    pub fn new(cfg: PveInstanceConfig, clock: Arc<dyn Clock>) -> PvePoller {
        PvePoller {
            clock,
            client: LazyClient::default(),
            memo: Mutex::new(Memo::default()),
            endpoints: Mutex::new(Endpoints::new(&cfg.host)),
            cfg,
        }
    }

    /// The address polls go to now (the configured host unless failed over).
    pub fn active_endpoint(&self) -> String {
        lock(&self.endpoints).active().to_string()
    }

    /// Other cluster members known from the last membership read.
    pub fn known_members(&self) -> Vec<String> {
        lock(&self.endpoints).members().to_vec()
    }

    pub fn config(&self) -> &PveInstanceConfig {
        &self.cfg
    }

    /// The client for the active endpoint, built and logged in on first use and after a
    /// failed cycle.
    fn client(&self) -> Result<Arc<PveClient>, PollFailure> {
        let host = self.active_endpoint();
        self.client
            .get(&self.cfg.name, self.conn(&host), PveClient::connect)
    }

    fn conn<'a>(&'a self, host: &'a str) -> Conn<'a> {
        let c = &self.cfg;
        Conn {
            product: Product::Pve,
            host,
            user: &c.user,
            password: &c.password,
            token_name: &c.token_name,
            token_value: &c.token_value,
            fingerprint: &c.fingerprint,
            verify_ssl: c.verify_ssl,
            timeout: c.timeout,
        }
    }

    fn drop_client(&self) {
        self.client.reset();
    }

    /// Reads cluster membership through `client` when due (every 5 min, and after a
    /// failure or failover); a failed read keeps what was known.
    fn refresh_members(&self, client: &PveClient) {
        let now = self.clock.now_ms();
        if !lock(&self.endpoints).detection_due(now) {
            return;
        }
        let items = client.cluster_status(Some(CLUSTER_STATUS_TIMEOUT)).ok();
        lock(&self.endpoints).set_members(items.as_deref(), now);
    }

    /// One cycle through the active endpoint, on failure through the other members.
    fn poll_with_failover(&self, previous: Option<&State>) -> Result<State, PollFailure> {
        let first = self.client().and_then(|c| {
            let r = self.cycle(&c, previous);
            if r.is_ok() {
                self.refresh_members(&c);
            }
            r
        });
        let err = match first {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        // Forget the session: the next attempt logs in again (credentials may have been
        // fixed, or the ticket revoked).
        self.drop_client();
        lock(&self.endpoints).mark_failed();
        if err.category != Category::Transient {
            return Err(err); // another member will not accept bad credentials either
        }
        let alternatives = lock(&self.endpoints).alternatives();
        for host in alternatives.into_iter().take(FAILOVER_TRIES) {
            let Ok(opts) = self.conn(&host).options() else {
                continue;
            };
            let Ok(client) = PveClient::connect(opts) else {
                continue;
            };
            let client = Arc::new(client);
            if let Ok(state) = self.cycle(&client, previous) {
                tracing::warn!(instance = %self.cfg.name, endpoint = %host, error = %err.message,
                    "cluster endpoint failover: polling through another member");
                lock(&self.endpoints).switch_to(&host);
                self.client.set(client.clone());
                self.refresh_members(&client);
                return Ok(state);
            }
        }
        Err(err)
    }

    fn cycle(
        &self,
        client: &Arc<PveClient>,
        previous: Option<&State>,
    ) -> Result<State, PollFailure> {
        client.api().start_cycle();
        let mut memo = lock(&self.memo);
        let result = Cycle {
            cfg: &self.cfg,
            api: client,
            memo: &mut memo,
            previous,
            now: self.clock.now_ms(),
        }
        .run()
        .and_then(|s| stopped_answering(&self.cfg.name, client.api()).map_or(Ok(s), Err));
        if result.is_ok() {
            memo.cycle += 1;
        }
        result
    }
}

impl InstancePoller for PvePoller {
    fn poll(&self, previous: Option<&State>) -> Result<State, PollFailure> {
        self.poll_with_failover(previous)
    }
}

struct Cycle<'a> {
    cfg: &'a PveInstanceConfig,
    api: &'a Arc<PveClient>,
    memo: &'a mut Memo,
    previous: Option<&'a State>,
    now: i64,
}

/// One online node's answers.
struct NodeData {
    item: NodeListItem,
    online: bool,
    storages: Option<Result<Vec<NodeStorage>, ProxmoxError>>,
}

impl Cycle<'_> {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn slow_cycle(&self) -> bool {
        self.memo
            .cycle
            .is_multiple_of(u64::from(self.cfg.backup_polling_cycles.max(1)))
    }

    fn run(mut self) -> Result<State, PollFailure> {
        let list = self
            .api
            .nodes()
            .map_err(|e| failure(self.name(), "listing nodes (GET /nodes)", &e))?;
        let mut out = State {
            last_update: self.now,
            ..Default::default()
        };
        let slow = self.slow_cycle();
        if list.iter().all(|n| n.node.is_empty())
            && let Some(p) = self.previous.filter(|p| !p.nodes.is_empty())
        {
            // An empty node list from a cluster we know is a hiccup of the answering node,
            // not the cluster vanishing: keep everything, with the nodes shown offline.
            let mut kept = p.clone();
            kept.last_update = self.now;
            self.keep_vanished_nodes(&mut kept);
            return Ok(kept);
        }

        let storage_config: Vec<StorageConfig> = if self.cfg.monitor_storage {
            self.storage_config()
        } else {
            Vec::new()
        };

        let mut nodes_data = Vec::new();
        for item in list {
            if item.node.is_empty() {
                continue;
            }
            let online = item.status == "online";
            let node = self.build_node(&item, online);
            let storages = if online && self.cfg.monitor_storage {
                Some(self.node_storage(&item.node))
            } else {
                self.memo.node_storage.remove(&item.node);
                None
            };
            // The root disk falls back to `local`/`local-lvm` when nothing else knows it.
            let mut node = node;
            if node.disk.is_none()
                && let Some(Ok(st)) = &storages
                && let Some(d) = node::node_disk(&item, None, st)
            {
                node.maxdisk = d.total;
                node.disk = Some(d);
            }
            out.nodes.push(node);
            nodes_data.push(NodeData {
                item,
                online,
                storages,
            });
        }
        out.nodes.sort_by(|a, b| a.name.cmp(&b.name));

        if self.cfg.monitor_storage {
            out.storage = self.storages(&nodes_data, &storage_config);
        }
        if self.cfg.monitor_vms || self.cfg.monitor_containers {
            self.guests(&nodes_data, &mut out);
        }
        let ceph_in_use = storage_config.iter().any(|s| ceph::is_ceph_type(&s.kind))
            || out.storage.iter().any(|s| ceph::is_ceph_type(&s.kind));
        if ceph_in_use {
            self.ceph(&nodes_data, &mut out);
        }
        self.physical_disks(&nodes_data, &mut out);
        if slow {
            self.replication(&nodes_data, &mut out);
        } else if let Some(p) = self.previous {
            out.replication_jobs = p.replication_jobs.clone();
        }
        if self.cfg.monitor_backups {
            if slow {
                self.backups(&nodes_data, &mut out);
            } else if let Some(p) = self.previous {
                out.pve_backups = p.pve_backups.clone();
            }
            // Worked out again only when the backup list was re-read (a new Arc).
            let last = match &self.memo.last_backups {
                Some((of, last)) if Arc::ptr_eq(of, &out.pve_backups) => last.clone(),
                _ => {
                    let last = Arc::new(backups::last_backups(
                        &out.pve_backups.backup_tasks,
                        &out.pve_backups.storage_backups,
                    ));
                    self.memo.last_backups = Some((out.pve_backups.clone(), last.clone()));
                    last
                }
            };
            for g in out.vms.iter_mut().chain(out.containers.iter_mut()) {
                let at = last.get(&g.vmid).copied();
                if g.last_backup != at {
                    Arc::make_mut(g).last_backup = at;
                }
            }
        }
        Ok(out)
    }

    /// `/storage`, at most once per `STORAGE_TTL_MS`; a failed read keeps the last one.
    fn storage_config(&mut self) -> Vec<StorageConfig> {
        if let Some((read, c)) = &self.memo.storage_config
            && !self.storage_due(*read)
        {
            return c.clone();
        }
        match self.api.storage_config() {
            Ok(c) => {
                self.memo.storage_config = Some(((self.now, self.memo.cycle), c.clone()));
                c
            }
            Err(_) => self
                .memo
                .storage_config
                .as_ref()
                .map(|(_, c)| c.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether a storage read at (time, cycle) is due again (`STORAGE_TTL_MS`).
    fn storage_due(&self, (at, cycle): (i64, u64)) -> bool {
        self.due(Some(at), STORAGE_TTL_MS) || self.memo.cycle >= cycle + STORAGE_CYCLES
    }

    /// A node's storage list, at most once per `STORAGE_TTL_MS` (see there).
    fn node_storage(&mut self, node: &str) -> Result<Vec<NodeStorage>, ProxmoxError> {
        if let Some((read, list)) = self.memo.node_storage.get(node)
            && !self.storage_due(*read)
        {
            return Ok(list.clone());
        }
        let read = self.api.node_storage(node, Some(STORAGE_TIMEOUT));
        match &read {
            Ok(list) => {
                let read = (self.now, self.memo.cycle);
                self.memo
                    .node_storage
                    .insert(node.to_owned(), (read, list.clone()));
            }
            Err(_) => {
                self.memo.node_storage.remove(node);
            }
        }
        read
    }

    fn prev_node(&self, id: &str) -> Option<&Node> {
        self.previous?.nodes.iter().find(|n| n.id == id)
    }

    fn build_node(&mut self, item: &NodeListItem, online: bool) -> Node {
        let id = node::node_id(&self.cfg.name, &item.node);
        if online {
            self.memo.last_online.insert(item.node.clone(), self.now);
        }
        let shown = node::shown_status(
            &item.status,
            self.memo.last_online.get(&item.node).copied(),
            self.now,
        );
        let status = if online {
            self.api.node_status(&item.node).ok()
        } else {
            None
        };
        let rrd = match &status {
            Some(s) if node::needs_rrd(&s.memory) => self.node_rrd(&item.node),
            _ => None,
        };
        let previous_used = self
            .prev_node(&id)
            .and_then(|n| n.memory.as_ref())
            .map(|m| m.used);
        let memory = node::node_memory(
            item,
            status.as_ref().map(|s| &s.memory),
            rrd,
            if online { previous_used } else { None },
        );
        let disk = node::node_disk(item, status.as_ref().map(|s| &s.rootfs), &[]);
        let ctx = node::NodeContext {
            instance: &self.cfg.name,
            host: &self.cfg.host,
            is_cluster: self.cfg.is_cluster,
            cluster_name: &self.cfg.cluster_name,
            temperature_monitoring_enabled: self.cfg.temperature_monitoring_enabled,
            now_ms: self.now,
        };
        let mut n = node::build_node(&ctx, item, &shown, status.as_ref(), memory, disk);
        // A node shown online during its grace period keeps its last known figures.
        if shown == "online"
            && !online
            && let Some(p) = self.prev_node(&id)
        {
            n = Node {
                last_seen: p.last_seen,
                ..p.clone()
            };
        }
        n
    }

    fn node_rrd(&mut self, node: &str) -> Option<node::RrdMemory> {
        if let Some((at, v)) = self.memo.node_rrd.get(node)
            && self.now - at < NODE_RRD_TTL_MS
        {
            return *v;
        }
        let v = self
            .api
            .node_rrddata(node, "hour", Some(RRD_TIMEOUT))
            .ok()
            .and_then(|p| node::rrd_memory(&p));
        self.memo.node_rrd.insert(node.to_owned(), (self.now, v));
        v
    }

    /// `/nodes` came back empty although nodes were known: show them offline rather than
    /// letting the cluster vanish.
    fn keep_vanished_nodes(&self, out: &mut State) {
        if let Some(p) = self.previous {
            out.nodes = p
                .nodes
                .iter()
                .map(|n| Node {
                    status: "offline".into(),
                    connection_health: "error".into(),
                    uptime: 0,
                    cpu: 0.0,
                    ..n.clone()
                })
                .collect();
        }
    }

    fn storages(&self, nodes: &[NodeData], config: &[StorageConfig]) -> Vec<Storage> {
        let shared: BTreeSet<&str> = config
            .iter()
            .filter(|c| c.shared)
            .map(|c| c.storage.as_str())
            .collect();
        let prev: &[Storage] = self.previous.map(|p| p.storage.as_slice()).unwrap_or(&[]);
        let mut all = Vec::new();
        let mut failed_nodes = BTreeSet::new();
        for n in nodes {
            let name = &n.item.node;
            let fresh = match &n.storages {
                Some(Ok(list)) => {
                    let had = prev
                        .iter()
                        .any(|s| &s.node == name || s.nodes.contains(name));
                    // An empty answer from a node that had storages is a hiccup, not a
                    // deletion of every storage.
                    (!list.is_empty() || !had).then_some(list)
                }
                _ => None,
            };
            match fresh {
                Some(list) => all.extend(list.iter().filter_map(|s| {
                    storage::map_storage(
                        &self.cfg.name,
                        name,
                        s,
                        shared.contains(s.storage.as_str()),
                    )
                })),
                None => {
                    failed_nodes.insert(name.clone());
                    all.extend(
                        prev.iter()
                            .filter(|s| &s.node == name && !s.shared)
                            .cloned(),
                    );
                }
            }
        }
        let mut merged = storage::merge_shared(&self.cfg.name, all);
        // A shared storage no node could report this time: keep its last entry.
        for p in prev.iter().filter(|s| s.shared) {
            let missing = !merged.iter().any(|m| m.shared && m.name == p.name);
            if missing && p.nodes.iter().any(|n| failed_nodes.contains(n)) {
                merged.push(p.clone());
            }
        }
        merged.sort_by(|a, b| a.name.cmp(&b.name).then(a.node.cmp(&b.node)));
        merged
    }

    fn guests(&mut self, nodes: &[NodeData], out: &mut State) {
        let mut carried: Vec<Arc<Guest>> = Vec::new();
        let resources = match self.api.cluster_resources(ResourceType::Vm) {
            Ok(r) => r,
            Err(_) => match self.per_node_guests(nodes) {
                Some((r, failed)) => {
                    // Nodes whose lists failed too keep their guests as last seen.
                    if let Some(p) = self.previous {
                        carried.extend(
                            p.vms
                                .iter()
                                .chain(p.containers.iter())
                                .filter(|g| failed.contains(&*g.node))
                                .cloned(),
                        );
                    }
                    r
                }
                None => {
                    // Guests stay as last seen; the node list is the liveness signal.
                    if let Some(p) = self.previous {
                        out.vms = p.vms.clone();
                        out.containers = p.containers.clone();
                    }
                    return;
                }
            },
        };
        let online: BTreeSet<&str> = nodes
            .iter()
            .filter(|n| n.online)
            .map(|n| n.item.node.as_str())
            .collect();
        let list: Vec<&ClusterResource> = resources
            .iter()
            .filter(|r| guest::is_guest(r, self.cfg.monitor_vms, self.cfg.monitor_containers))
            .collect();
        // Per-guest calls only for running guests on online nodes, decided up front (cache
        // TTLs) and made in parallel; the mapping below is sequential.
        // Each guest's node as the shared text its memo holds.
        let nodes: Vec<Arc<str>> = list.iter().map(|r| self.memo.texts.get(&r.node)).collect();
        let mut jobs: Vec<Job<'_>> = list
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == "running" && online.contains(r.node.as_str()))
            .map(|(at, r)| {
                let vmid = r.vmid.unwrap_or(0);
                let m = self.memo.guest(vmid as u32, &nodes[at], guest::kind(r));
                let (status_at, status_ttl, vm_status, ct_status) = if r.kind == "qemu" {
                    let e = m.and_then(|m| m.vm_status.as_ref());
                    let moving = e.is_some_and(|e| {
                        r.mem.abs_diff(e.resources_mem) as f64 >= MEM_MOVE_SHARE * r.maxmem as f64
                    });
                    let ttl = if moving {
                        STATUS_TTL_MS
                    } else {
                        inventory_ttl(vmid)
                    };
                    (e.map(|e| e.at), ttl, e.map(|e| e.status.clone()), None)
                } else {
                    let e = m.and_then(|m| m.ct_status.as_ref());
                    // Mount points' usage moves; without it (what PVE sends: the
                    // resources carry the root disk) the status holds addresses only.
                    let ttl = if e.is_some_and(|e| !e.1.diskinfo.is_empty()) {
                        steady_ttl(vmid)
                    } else {
                        inventory_ttl(vmid)
                    };
                    (e.map(|e| e.0), ttl, None, e.map(|e| e.1.clone()))
                };
                let fs = m.and_then(|m| m.fsinfo.as_ref());
                let meta = m.and_then(|m| m.agent.as_ref());
                // No uptime (a PVE that leaves it out) tells nothing about a reboot.
                let booted_at = (r.uptime > 0).then(|| self.now - r.uptime as i64 * 1000);
                let stale = |at: Option<i64>, ttl: i64| {
                    self.due(at, ttl)
                        || at
                            .zip(booted_at)
                            .is_some_and(|(at, boot)| boot > at + REBOOT_SLACK_MS)
                };
                Job {
                    r,
                    at,
                    status_due: false,
                    status_at,
                    status_ttl,
                    vm_status,
                    ct_status,
                    fs_due: self.due(fs.map(|e| e.at), fs.map_or(0, |e| e.ttl)),
                    net_due: stale(meta.and_then(|m| m.net_at), inventory_ttl(vmid)),
                    ident_due: stale(meta.and_then(|m| m.ident_at), AGENT_IDENT_TTL_MS),
                    extra_due: self.due(
                        m.and_then(|m| m.lxc.as_ref()).map(|e| e.0),
                        inventory_ttl(vmid),
                    ),
                }
            })
            .collect();
        self.pick_status_refreshes(&mut jobs);
        let mut fetched = fetch_all(self.api, &jobs, list.len());
        let mut ids = IdSet::default();
        for ((r, f), node) in list.iter().zip(fetched.iter_mut()).zip(nodes) {
            let mut g =
                guest::from_resource(&mut self.memo.texts, &self.cfg.name, node, r, self.now);
            let running = r.status == "running" && online.contains(r.node.as_str());
            ids.add(&g.id);
            let f = f.take().map(|f| *f).unwrap_or_default();
            let now = self.now;
            // A guest that is not running (or whose node is offline) keeps no memo: what
            // it held is read again at once when it runs (its config may have changed
            // while it was stopped), and a fleet's stopped guests cost no memory.
            let mut idle = GuestMemo::default();
            let m = if running {
                self.memo.guest_mut(g.vmid, &g.node, g.kind)
            } else {
                if self.memo.guest(g.vmid, &g.node, g.kind).is_some() {
                    self.memo.guests.remove(&g.vmid);
                }
                &mut idle
            };
            if r.kind == "qemu" {
                m.refine_vm(now, r, &mut g, running, f);
                out.vms.push(Arc::new(g));
            } else {
                m.refine_ct(now, r, &mut g, running, f);
                out.containers.push(Arc::new(g));
            }
        }
        if !carried.is_empty() {
            let listed: HashSet<String> = out
                .vms
                .iter()
                .chain(out.containers.iter())
                .map(|g| g.id.clone())
                .collect();
            for g in carried {
                if !listed.contains(&g.id) {
                    ids.add(&g.id);
                    if let Some(m) = self.memo.guests.get_mut(&g.vmid) {
                        m.seen = self.memo.cycle;
                    }
                    if g.kind == "lxc" {
                        out.containers.push(g);
                    } else {
                        out.vms.push(g);
                    }
                }
            }
        }
        // The memos forget guests that are gone. The guest list rarely changes, so the walk
        // over them is made only when the set of ids differs from the last cycle's.
        if self.memo.guest_ids != ids {
            let cycle = self.memo.cycle;
            self.memo.guests.retain(|_, m| m.seen == cycle);
            self.memo.guest_ids = ids;
        }
        out.vms.sort_by_key(|g| g.vmid);
        out.containers.sort_by_key(|g| g.vmid);
    }

    /// Fallback when `/cluster/resources` fails (spec §5.8): the per-node `qemu`/`lxc` lists of
    /// online nodes, turned into resources so the guests keep their normal ids (the
    /// reference's fallback used other ids, so every guest "changed" on each switch).
    /// `None` when no node answered; else the resources and the nodes that failed.
    fn per_node_guests(
        &self,
        nodes: &[NodeData],
    ) -> Option<(Vec<ClusterResource>, BTreeSet<String>)> {
        let mut out = Vec::new();
        let mut failed = BTreeSet::new();
        let mut answered = false;
        for n in nodes.iter().filter(|n| n.online) {
            let name = &n.item.node;
            let mut ok = true;
            for (want, kind) in [
                (self.cfg.monitor_vms, GuestKind::Qemu),
                (self.cfg.monitor_containers, GuestKind::Lxc),
            ] {
                if !want {
                    continue;
                }
                let list = match kind {
                    GuestKind::Qemu => self.api.qemu_list(name),
                    GuestKind::Lxc => self.api.lxc_list(name),
                };
                match list {
                    Ok(items) => out.extend(
                        items
                            .iter()
                            .map(|i| guest::resource_from_list(name, kind, i)),
                    ),
                    Err(_) => ok = false,
                }
            }
            if ok {
                answered = true;
            } else {
                failed.insert(name.clone());
            }
        }
        answered.then_some((out, failed))
    }

    /// Marks whose `status/current` is asked this cycle: every guest without one (new,
    /// just started, moved), and of the aged ones (older than `STATUS_TTL_MS`, or from the
    /// future after a clock jump) the oldest, at most a batch per cycle.
    fn pick_status_refreshes(&self, jobs: &mut [Job<'_>]) {
        let batch = STATUS_BATCH_MIN.max(jobs.len().div_ceil(STATUS_BATCH_SHARE));
        let mut aged: Vec<(i64, usize)> = Vec::new();
        for (i, j) in jobs.iter_mut().enumerate() {
            match j.status_at {
                None => j.status_due = true,
                Some(at) if self.due(Some(at), j.status_ttl) => aged.push((at, i)),
                Some(_) => {}
            }
        }
        aged.sort_unstable();
        for (_, i) in aged.into_iter().take(batch) {
            jobs[i].status_due = true;
        }
    }

    /// A cache entry older than `ttl` (or from the future: clock jump) is due.
    fn due(&self, fetched_at: Option<i64>, ttl: i64) -> bool {
        fetched_at.is_none_or(|at| self.now - at >= ttl || self.now < at)
    }

    fn ceph(&self, nodes: &[NodeData], out: &mut State) {
        let prev = || {
            self.previous
                .map(|p| p.ceph_clusters.clone())
                .unwrap_or_default()
        };
        let Ok(status) = self.api.ceph_status(Some(CEPH_TIMEOUT)) else {
            out.ceph_clusters = prev();
            return;
        };
        // Pools are cluster-wide; any online node can list them.
        let pools = nodes
            .iter()
            .filter(|n| n.online)
            .find_map(|n| self.api.ceph_pools(&n.item.node, Some(CEPH_TIMEOUT)).ok())
            .unwrap_or_default();
        out.ceph_clusters = vec![ceph::map_ceph(&self.cfg.name, &status, &pools, self.now)];
    }

    fn physical_disks(&mut self, nodes: &[NodeData], out: &mut State) {
        let prev: Vec<_> = self
            .previous
            .map(|p| p.physical_disks.clone())
            .unwrap_or_default();
        if self.cfg.monitor_physical_disks == Some(false) {
            return;
        }
        let due = PvePoller::physical_disks_due_at(self.cfg, self.memo.disks_polled_at, self.now);
        if !due {
            out.physical_disks = prev;
            return;
        }
        self.memo.disks_polled_at = Some(self.now);
        for n in nodes {
            let name = &n.item.node;
            let fresh = if n.online {
                self.api.disks(name).ok()
            } else {
                None
            };
            match fresh {
                Some(list) => out.physical_disks.extend(
                    list.iter()
                        .filter(|d| !d.devpath.is_empty())
                        .map(|d| disks::map_disk(&self.cfg.name, name, d, self.now)),
                ),
                // Offline or failing node: its disks stay as last seen.
                None => out
                    .physical_disks
                    .extend(prev.iter().filter(|d| &d.node == name).cloned()),
            }
        }
        out.physical_disks
            .sort_by(|a, b| a.node.cmp(&b.node).then(a.dev_path.cmp(&b.dev_path)));
    }

    fn replication(&self, nodes: &[NodeData], out: &mut State) {
        let jobs = match self.api.replication_jobs() {
            Ok(j) => j,
            Err(e) => {
                // 404/501: the feature is not there → no jobs; otherwise keep the last list.
                let gone = matches!(e.status(), Some(404 | 501));
                if !gone && let Some(p) = self.previous {
                    out.replication_jobs = p.replication_jobs.clone();
                }
                return;
            }
        };
        let online: BTreeSet<&str> = nodes
            .iter()
            .filter(|n| n.online)
            .map(|n| n.item.node.as_str())
            .collect();
        let guests: Vec<&Guest> = out
            .vms
            .iter()
            .chain(out.containers.iter())
            .map(|g| &**g)
            .collect();
        let sources: BTreeSet<String> = jobs
            .iter()
            .map(|j| {
                if j.source.is_empty() {
                    j.guest
                        .and_then(|id| guests.iter().find(|g| u64::from(g.vmid) == id))
                        .map(|g| g.node.to_string())
                        .unwrap_or_default()
                } else {
                    j.source.clone()
                }
            })
            .filter(|s| online.contains(s.as_str()))
            .collect();
        let mut states: HashMap<String, ReplicationState> = HashMap::new();
        for s in &sources {
            if let Ok(list) = self.api.replication_status(s) {
                states.extend(list.into_iter().map(|st| (st.id.clone(), st)));
            }
        }
        out.replication_jobs =
            replication::map_jobs(&self.cfg.name, &jobs, &states, &guests, self.now);
    }

    /// VMIDs with a snapshot task that ended (or runs) since the last check, with the
    /// task's end (Unix ms; now while it runs); `None` when `/cluster/tasks` cannot be read.
    /// The first check finds nothing (every list is unread then anyway).
    /// `/cluster/tasks`, checked each backup cycle: per VMID, the latest end (Unix ms) of a
    /// snapshot task since the last check (`None` on the first check: every list is due
    /// anyway), and the latest end of a task that changes backup volumes (a running one
    /// counts as ending now). `None` when the list cannot be read.
    fn cluster_task_ends(&mut self) -> Option<TaskEnds> {
        let tasks = self.api.cluster_tasks().ok()?;
        let now_s = self.now.div_euclid(1000);
        let since = self
            .memo
            .tasks_checked
            .replace(now_s)
            .map(|s| s - TASK_SLACK_S);
        let mut snapshots: Option<HashMap<u32, i64>> = since.map(|_| HashMap::new());
        let mut volumes = None;
        for t in &tasks {
            let end = t.endtime.unwrap_or(now_s).max(t.starttime);
            if VOLUME_TASKS.contains(&t.kind.as_str()) {
                volumes = volumes.max(Some(end.saturating_mul(1000)));
            }
            if let (Some(out), Some(since)) = (snapshots.as_mut(), since)
                && SNAPSHOT_TASKS.contains(&t.kind.as_str())
                && end >= since
                && let Ok(vmid) = t.id.parse()
            {
                let e = out.entry(vmid).or_insert(i64::MIN);
                *e = (*e).max(end.saturating_mul(1000));
            }
        }
        Some(TaskEnds { snapshots, volumes })
    }

    /// Whether the backup volumes are read this backup cycle (see `VOLUMES_MAX_AGE_MS`):
    /// `digest` stands for the storages and guest nodes they would be read for, `task_end`
    /// is the latest end of a task that changes volumes (`None` without the cluster's task
    /// list). A task counts once: when it ends later than the one the last read covered,
    /// and not long before that read (clock skew between PVE and us).
    fn volumes_due(&self, digest: u64, task_end: Option<Option<i64>>) -> bool {
        let (Some(read), Some(task_end)) = (&self.memo.volumes_read, task_end) else {
            // Without the cluster's task list a removed volume would go unseen.
            return true;
        };
        read.digest != digest
            || self.due(Some(read.at), VOLUMES_MAX_AGE_MS)
            || task_end.is_some_and(|end| {
                Some(end) > read.task_end && end >= read.at - TASK_SLACK_S * 1000
            })
    }

    fn backups(&mut self, nodes: &[NodeData], out: &mut State) {
        let prev = self.previous.map(|p| &*p.pve_backups);
        let mut b = PveBackups::default();
        let online: Vec<&NodeData> = nodes.iter().filter(|n| n.online).collect();

        // vzdump tasks per online node; a node that fails keeps its previous tasks.
        let now_s = self.now.div_euclid(1000);
        let mut node_tasks_end: Option<i64> = None;
        let mut tasks = Vec::new();
        for n in nodes {
            let name = &n.item.node;
            match n
                .online
                .then(|| self.api.tasks(name, Some("vzdump"), Some(50)))
            {
                Some(Ok(list)) => {
                    for t in list.iter() {
                        let end = t.endtime.unwrap_or(now_s).max(t.starttime);
                        node_tasks_end = node_tasks_end.max(Some(end.saturating_mul(1000)));
                    }
                    tasks.extend(
                        list.iter()
                            .filter_map(|t| backups::map_task(&self.cfg.name, t)),
                    )
                }
                _ => {
                    if let Some(p) = prev {
                        tasks.extend(p.backup_tasks.iter().filter(|t| &t.node == name).cloned());
                    }
                }
            }
        }
        // A task is listed once even if two nodes report it.
        let mut ids = BTreeSet::new();
        tasks.retain(|t| ids.insert(t.id.clone()));
        tasks.sort_by_key(|x| std::cmp::Reverse(x.start_time));
        b.backup_tasks = tasks.into();
        let task_ends = self.cluster_task_ends();

        // With storage monitoring off the storage lists were not fetched this cycle.
        let lists: Vec<(&NodeData, Option<Cow<'_, [NodeStorage]>>)> = online
            .iter()
            .map(|n| {
                let list = match &n.storages {
                    Some(Ok(l)) => Some(Cow::Borrowed(l.as_slice())),
                    Some(Err(_)) => None,
                    None => self
                        .api
                        .node_storage(&n.item.node, Some(STORAGE_TIMEOUT))
                        .ok()
                        .map(Cow::Owned),
                };
                (*n, list)
            })
            .collect();
        // Each storage holding backups is listed once (a shared storage from the first
        // online node that has it).
        let mut asked = BTreeSet::new();
        let mut reads: Vec<(&NodeData, &NodeStorage)> = Vec::new();
        let mut unlisted_nodes = false;
        for (n, list) in &lists {
            let Some(list) = list else {
                unlisted_nodes = true;
                continue;
            };
            for s in list.iter() {
                let holds_backups = s.content.split(',').any(|c| c.trim() == "backup");
                let queryable = s.enabled && (s.active || s.kind == "pbs");
                if !holds_backups || !queryable {
                    continue;
                }
                let key = if s.shared {
                    s.storage.clone()
                } else {
                    format!("{}/{}", n.item.node, s.storage)
                };
                if asked.insert(key) {
                    reads.push((n, s));
                }
            }
        }
        let digest = {
            use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
            let mut h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .build_hasher();
            (&asked, unlisted_nodes, nodes.len()).hash(&mut h);
            for g in out.vms.iter().chain(out.containers.iter()) {
                (g.vmid, &*g.node).hash(&mut h);
            }
            h.finish()
        };
        let task_end = task_ends.as_ref().map(|t| t.volumes.max(node_tasks_end));
        match prev {
            Some(p) if !self.volumes_due(digest, task_end) => {
                b.storage_backups = p.storage_backups.clone();
            }
            _ => {
                let (volumes, complete) =
                    self.read_volumes(&reads, &lists, &asked, nodes, out, prev);
                b.storage_backups = volumes.into();
                self.memo.volumes_read = complete.then(|| VolumesRead {
                    at: self.now,
                    digest,
                    task_end: task_end.flatten(),
                });
            }
        }

        // Snapshots: one call per guest, so only the lists that may have changed are read
        // (see `SNAPSHOT_MAX_AGE_MS`); the others keep their last list.
        let online_names: BTreeSet<&str> = online.iter().map(|n| n.item.node.as_str()).collect();
        let guests: Vec<(&str, &'static str, u32)> = out
            .vms
            .iter()
            .chain(out.containers.iter())
            .filter(|g| online_names.contains(&*g.node))
            .map(|g| (&*g.node, g.kind, g.vmid))
            .collect();
        let touched = task_ends.and_then(|t| t.snapshots);
        let due = snapshots_due(
            &guests,
            &self.memo.snapshots_read,
            touched.as_ref(),
            self.now,
        );
        let mut snaps = Vec::new();
        let mut refreshed = HashSet::new();
        for (node, kind, vmid) in due {
            let gk = if kind == "lxc" {
                GuestKind::Lxc
            } else {
                GuestKind::Qemu
            };
            if let Ok(list) = self.api.snapshots(node, gk, u64::from(vmid), None) {
                snaps.extend(list.iter().filter_map(|s| {
                    backups::map_snapshot(&self.cfg.name, node, kind, u64::from(vmid), s, None)
                }));
                self.memo.snapshots_read.insert(vmid, self.now);
                refreshed.insert(vmid);
            }
        }
        let present: HashSet<(&str, u32)> = out
            .vms
            .iter()
            .chain(out.containers.iter())
            .map(|g| (&*g.node, g.vmid))
            .collect();
        let vmids: HashSet<u32> = present.iter().map(|p| p.1).collect();
        self.memo
            .snapshots_read
            .retain(|vmid, _| vmids.contains(vmid));
        if let Some(p) = prev {
            snaps.extend(
                p.guest_snapshots
                    .iter()
                    .filter(|s| {
                        !refreshed.contains(&s.vmid) && present.contains(&(s.node.as_str(), s.vmid))
                    })
                    .cloned(),
            );
        }
        snaps.sort_by_key(|x| std::cmp::Reverse(x.time));
        b.guest_snapshots = snaps.into();
        out.pve_backups = Arc::new(b);
    }

    /// Reads the content lists of the storages holding backups (`reads`), one volume per
    /// volid. Storages not readable this round keep their previous volumes. Also says
    /// whether every storage answered.
    fn read_volumes(
        &self,
        reads: &[(&NodeData, &NodeStorage)],
        lists: &[(&NodeData, Option<Cow<'_, [NodeStorage]>>)],
        asked: &BTreeSet<String>,
        nodes: &[NodeData],
        out: &State,
        prev: Option<&PveBackups>,
    ) -> (Vec<crate::model::StorageBackup>, bool) {
        // Each distinct text once, shared by every volume that names it.
        let instance: Arc<str> = Arc::from(self.cfg.name.as_str());
        let mut node_names: HashSet<Arc<str>> = HashSet::new();
        let mut shared_node = |n: &str| -> Arc<str> {
            if let Some(a) = node_names.get(n) {
                return a.clone();
            }
            let a: Arc<str> = Arc::from(n);
            node_names.insert(a.clone());
            a
        };
        let guest_node: HashMap<u32, Arc<str>> = out
            .vms
            .iter()
            .chain(out.containers.iter())
            .map(|g| (g.vmid, shared_node(&g.node)))
            .collect();
        let mut formats: Vec<Arc<str>> = Vec::new();
        let mut by_volid: BTreeMap<String, crate::model::StorageBackup> = BTreeMap::new();
        let mut failed_storages = BTreeSet::new();
        for (n, s) in reads {
            match self.api.storage_content(
                &n.item.node,
                &s.storage,
                Some("backup"),
                None,
                Some(STORAGE_TIMEOUT),
            ) {
                Ok(items) => {
                    let storage: Arc<str> = Arc::from(s.storage.as_str());
                    let node = shared_node(&n.item.node);
                    let src = backups::VolumeSource {
                        instance: &instance,
                        storage: &storage,
                        storage_type: &s.kind,
                        node: &node,
                    };
                    for c in &items {
                        let gn = c.vmid.and_then(|v| guest_node.get(&(v as u32)));
                        if let Some(b) = backups::map_storage_backup(&src, gn, &mut formats, c) {
                            by_volid.entry(b.volid.clone()).or_insert(b);
                        }
                    }
                }
                Err(_) => {
                    failed_storages.insert(s.storage.clone());
                }
            }
        }
        if let Some(p) = prev {
            // Storages not readable this round keep their previous backups.
            let read: BTreeSet<&str> = lists
                .iter()
                .filter(|(_, l)| l.is_some())
                .map(|(n, _)| n.item.node.as_str())
                .collect();
            let offline: BTreeSet<&str> = nodes
                .iter()
                .map(|n| n.item.node.as_str())
                .filter(|n| !read.contains(n))
                .collect();
            for b in &p.storage_backups {
                // A shared storage read through another node is authoritative; a node-local
                // one of a node we could not read keeps its backups.
                let unread = failed_storages.contains(&*b.storage)
                    || (offline.contains(&*b.node) && !asked.contains(&*b.storage));
                if unread {
                    by_volid.entry(b.volid.clone()).or_insert_with(|| b.clone());
                }
            }
        }
        let mut volumes: Vec<crate::model::StorageBackup> = by_volid.into_values().collect();
        volumes.sort_by_key(|x| std::cmp::Reverse(x.ctime));
        (volumes, failed_storages.is_empty())
    }
}

impl GuestMemo {
    fn rates(&mut self, now: i64, g: &mut Guest, r: &ClusterResource) {
        // Always the resources' counters: one source every cycle, so rates never jump
        // between two differently-timed samples.
        let [dr, dw, ni, no] = super::map::rates::update(&mut self.rates, guest::counters(r), now);
        g.disk_read = dr;
        g.disk_write = dw;
        g.network_in = ni;
        g.network_out = no;
    }

    fn refine_vm(
        &mut self,
        now: i64,
        r: &ClusterResource,
        g: &mut Guest,
        running: bool,
        f: Fetched,
    ) {
        // This cycle's status, else the last one (a failed refresh keeps it and is retried);
        // a guest that is not running forgets it, so a restart is asked at once.
        if let Some(s) = f.vm {
            self.vm_status = Some(VmStatusEntry {
                at: now,
                status: Arc::new(s),
                resources_mem: r.mem,
            });
        } else if !running {
            self.vm_status = None;
        }
        let entry = self.vm_status.as_ref();
        let status = entry.map(|e| e.status.as_ref());
        let mem = guest::vm_memory_since(
            r,
            status,
            entry.map_or(r.mem, |e| e.resources_mem),
            r.status == "running",
        );
        g.mem = mem.used;
        g.maxmem = mem.total;
        g.memory = Some(mem);
        if let Some(s) = status {
            if s.cpus > 0.0 && s.cpus.is_finite() {
                g.cpus = s.cpus as u32;
            }
            // Uptime runs on: the resources' figure is current; the status' only fills a gap.
            if g.uptime == 0 && s.uptime > 0 {
                g.uptime = s.uptime;
            }
        }
        let has_status = status.is_some();
        let agent = status.is_some_and(|s| s.agent.usable());
        let fresh_fs = agent && f.fs.is_some();
        if !agent {
            self.fsinfo = None;
        } else if let Some(v) = f.fs {
            let before = self.fsinfo.as_ref().and_then(|e| e.usage);
            self.fsinfo = Some(FsMemo {
                at: now,
                fs: v.map(|list| summarize(&list)),
                usage: before,
                ttl: FSINFO_TTL_MS,
            });
        }
        let fs: Result<&FsSummary, &'static str> = if agent {
            self.fsinfo
                .as_ref()
                .map_or(Err("agent-error"), |e| e.fs.as_ref().map_err(|r| *r))
        } else {
            Err("agent-disabled")
        };
        let (disk, disks) = guest::vm_disk(r, fs.ok());
        g.disk = disk;
        g.disks = disks;
        g.disk_status_reason = if r.status != "running" {
            Some("vm-stopped")
        } else if !has_status {
            Some("no-status")
        } else {
            match fs {
                Err(reason) => Some(reason),
                Ok(summary) => guest::fs_reason(summary),
            }
        };
        if fresh_fs && let Some(e) = self.fsinfo.as_mut() {
            let usage = g.disk.as_ref().map(|d| d.usage);
            e.ttl = fsinfo_ttl(g.vmid as u64, e.usage, usage);
            e.usage = usage;
        }
        if agent {
            let m = self.agent.get_or_insert_with(AgentMemo::default);
            if let Some(net) = f.net {
                m.net_at = Some(now);
                m.net = net;
            }
            if let Some(ident) = f.ident {
                m.ident_at = Some(now);
                m.ident = ident;
            }
            g.network_interfaces = m.net.interfaces.clone();
            g.ip_addresses = m.net.ips.clone();
            g.os_name = m.ident.os_name.clone();
            g.os_version = m.ident.os_version.clone();
            g.agent_version = m.ident.agent_version.clone();
        } else {
            self.agent = None;
        }
        if running {
            self.rates(now, g, r);
        }
        guest::zero_if_not_running(g);
    }

    fn refine_ct(
        &mut self,
        now: i64,
        r: &ClusterResource,
        g: &mut Guest,
        running: bool,
        f: Fetched,
    ) {
        if let Some(s) = f.ct {
            self.ct_status = Some((now, Arc::new(s)));
        } else if !running {
            // A guest that is not running forgets its status, so a restart is asked at once.
            self.ct_status = None;
        }
        if let Some(e) = f.extra {
            self.lxc = Some((now, e));
        }
        let base = g.disk.clone().unwrap_or_default();
        if !running {
            g.disks = guest::lxc_disks(&base, None, None).into();
            guest::zero_if_not_running(g);
            return;
        }
        let status = self.ct_status.as_ref();
        let extra = self.lxc.as_ref();
        let from = (status.map(|e| e.0), extra.map(|e| e.0));
        if self.ct_derived.as_ref().is_none_or(|d| d.from != from) {
            let status = status.map(|e| e.1.as_ref());
            let config = extra.and_then(|e| e.1.config.as_ref());
            let ifaces = extra.map_or(&[][..], |e| e.1.interfaces.as_slice());
            let synthetic_root = status.is_none_or(|s| s.diskinfo.is_empty());
            let (nics, ips) = guest::lxc_network(status, config, ifaces);
            self.ct_derived = Some(CtDerived {
                from,
                disks: guest::lxc_disks(&Disk::default(), status, config).into(),
                synthetic_root,
                nics: nics.into(),
                ips: ips.into(),
            });
        }
        if let Some(d) = self.ct_derived.as_ref() {
            g.disks = if d.synthetic_root {
                d.disks
                    .iter()
                    .map(|root| Disk {
                        mountpoint: root.mountpoint.clone(),
                        kind: root.kind.clone(),
                        device: root.device.clone(),
                        ..base.clone()
                    })
                    .collect()
            } else {
                d.disks.clone()
            };
            g.network_interfaces = d.nics.clone();
            g.ip_addresses = d.ips.clone();
        }
        self.rates(now, g, r);
        guest::zero_if_not_running(g);
    }
}

/// The guests whose snapshot list is read this backup cycle, at most `SNAPSHOT_BATCH`:
/// first those with a snapshot task that ended after their list was read, then those never
/// read, then those past their age limit, oldest first. Without task data (`touched` =
/// `None`) every list counts as aged, so the lists are re-read in rotation, oldest first.
fn snapshots_due<'g>(
    guests: &[(&'g str, &'static str, u32)],
    read: &HashMap<u32, i64>,
    touched: Option<&HashMap<u32, i64>>,
    now: i64,
) -> Vec<(&'g str, &'static str, u32)> {
    let mut due: Vec<(u8, i64, (&str, &'static str, u32))> = guests
        .iter()
        .filter_map(|&g| {
            let vmid = g.2;
            let at = read.get(&vmid).copied();
            let max_age = SNAPSHOT_MAX_AGE_MS - (i64::from(vmid) * 1000) % SNAPSHOT_SPREAD_MS;
            let rank = match (touched, at) {
                (Some(t), _)
                    if t.get(&vmid)
                        .is_some_and(|end| at.is_none_or(|at| at < *end)) =>
                {
                    0
                }
                (_, None) => 1,
                (None, Some(_)) => 2,
                (Some(_), Some(at)) if now - at >= max_age || now < at => 2,
                _ => return None,
            };
            Some((rank, at.unwrap_or(i64::MIN), g))
        })
        .collect();
    due.sort_by_key(|d| (d.0, d.1));
    due.into_iter().take(SNAPSHOT_BATCH).map(|d| d.2).collect()
}

/// Parallel workers for per-guest calls within one poll (the client is shared; PVE answers
/// per-guest calls independently, so a big cluster is not limited by one round trip at a time).
pub const GUEST_WORKERS: usize = 4;

/// One running guest's per-guest calls, decided before they are made.
struct Job<'r> {
    r: &'r ClusterResource,
    /// Position of `r` in the cycle's guest list (where its answers go).
    at: usize,
    /// Ask `status/current` this cycle (else the cached one below stands).
    status_due: bool,
    status_at: Option<i64>,
    /// How old `status_at` may get (depends on whether the guest's memory is moving).
    status_ttl: i64,
    vm_status: Option<Arc<QemuStatus>>,
    ct_status: Option<Arc<LxcStatus>>,
    fs_due: bool,
    /// Agent interfaces / OS and agent version due this cycle.
    net_due: bool,
    ident_due: bool,
    extra_due: bool,
}

/// When the backup volumes were last read in full, a digest of what they were read for (the
/// storages holding backups, each guest's node), and the latest volume task end then seen.
struct VolumesRead {
    at: i64,
    digest: u64,
    task_end: Option<i64>,
}

/// What `/cluster/tasks` tells a backup cycle (`Cycle::cluster_task_ends`).
struct TaskEnds {
    snapshots: Option<HashMap<u32, i64>>,
    volumes: Option<i64>,
}

/// What the per-guest calls answered (`None` = not asked this cycle or failed).
#[derive(Default)]
struct Fetched {
    vm: Option<QemuStatus>,
    fs: Option<Result<Vec<FsInfo>, &'static str>>,
    net: Option<AgentNet>,
    ident: Option<AgentIdent>,
    ct: Option<LxcStatus>,
    extra: Option<LxcExtra>,
}

/// Below this many running guests the calls are made on the poll's own thread.
const PARALLEL_FROM: usize = 8;

impl Job<'_> {
    /// Whether any call may be made for this guest (the agent ones only if its agent is up).
    fn any_due(&self) -> bool {
        self.status_due || self.fs_due || self.net_due || self.ident_due || self.extra_due
    }
}

/// One guest's due calls, owned so a helper thread can make them.
struct Call {
    at: usize,
    qemu: bool,
    node: String,
    vmid: u64,
    status_due: bool,
    fs_due: bool,
    net_due: bool,
    ident_due: bool,
    extra_due: bool,
    /// The agent flag of the cached VM status (this cycle's, when asked, decides instead).
    cached_agent: bool,
    ct_status: Option<Arc<LxcStatus>>,
}

impl Call {
    fn of(j: &Job<'_>) -> Self {
        Call {
            at: j.at,
            qemu: j.r.kind == "qemu",
            node: j.r.node.clone(),
            vmid: j.r.vmid.unwrap_or(0),
            status_due: j.status_due,
            fs_due: j.fs_due,
            net_due: j.net_due,
            ident_due: j.ident_due,
            extra_due: j.extra_due,
            cached_agent: j.vm_status.as_ref().is_some_and(|s| s.agent.usable()),
            ct_status: j.ct_status.clone(),
        }
    }
}

/// Makes the due calls of `jobs` and returns their answers by list position (`slots`
/// entries; `None` where nothing was due). Answers are boxed: a `Fetched` holds whole status
/// replies (over a kilobyte), and growing vectors of them inline was 6 % of a cycle's CPU.
fn fetch_all(api: &Arc<PveClient>, jobs: &[Job<'_>], slots: usize) -> Vec<Option<Box<Fetched>>> {
    let mut out: Vec<Option<Box<Fetched>>> = Vec::new();
    out.resize_with(slots, || None);
    // Most running guests have nothing due in a given cycle: only the others are handed to
    // the workers (and only they count towards using any).
    let calls: Vec<Call> = jobs.iter().filter(|j| j.any_due()).map(Call::of).collect();
    if calls.len() < PARALLEL_FROM {
        for c in &calls {
            out[c.at] = Some(Box::new(fetch_one(api, c)));
        }
        return out;
    }
    // The poll's thread works too, with up to GUEST_WORKERS - 1 of the shared helpers.
    let helpers = (GUEST_WORKERS.min(calls.len()) - 1).min(workers::HELPERS);
    let batch = Arc::new(Items::new(
        api.clone(),
        calls,
        |api: &Arc<PveClient>, c: &Call| (c.at, Box::new(fetch_one(api, c))),
    ));
    workers::shared().run(&batch, helpers);
    // Every thread is done with the batch once `run` returns; a helper that panicked (it
    // cannot on input: no unwraps) leaves its guests without per-guest data this cycle.
    for (_, (at, f)) in batch.take_results() {
        out[at] = Some(f);
    }
    out
}

fn fetch_one(api: &PveClient, c: &Call) -> Fetched {
    let vmid = c.vmid;
    if c.qemu {
        let vm = if c.status_due {
            api.qemu_status(&c.node, vmid, None).ok()
        } else {
            None
        };
        // The agent flag of this cycle's status, else of the cached one.
        let agent = vm.as_ref().map_or(c.cached_agent, |s| s.agent.usable());
        let fs = (agent && c.fs_due).then(|| {
            api.agent_fsinfo(&c.node, vmid, Some(FSINFO_TIMEOUT))
                .map_err(|e| guest::agent_failure_reason(&e))
        });
        let net = (agent && c.net_due).then(|| fetch_net(api, &c.node, vmid));
        let ident = (agent && c.ident_due).then(|| fetch_ident(api, &c.node, vmid));
        Fetched {
            vm,
            fs,
            net,
            ident,
            ..Default::default()
        }
    } else {
        let ct = if c.status_due {
            api.lxc_status(&c.node, vmid, Some(LXC_TIMEOUT)).ok()
        } else {
            None
        };
        let extra = c
            .extra_due
            .then(|| fetch_lxc_extra(api, &c.node, vmid, ct.as_ref().or(c.ct_status.as_deref())));
        Fetched {
            ct,
            extra,
            ..Default::default()
        }
    }
}

fn fetch_net(api: &PveClient, node: &str, vmid: u64) -> AgentNet {
    let mut m = AgentNet::default();
    if let Ok(ifs) = api.agent_network_interfaces(node, vmid, Some(AGENT_TIMEOUT)) {
        let (interfaces, ips) = guest::agent_network(&ifs);
        (m.interfaces, m.ips) = (interfaces.into(), ips.into());
    }
    m
}

fn fetch_ident(api: &PveClient, node: &str, vmid: u64) -> AgentIdent {
    let mut m = AgentIdent::default();
    if let Ok(os) = api.agent_osinfo(node, vmid, Some(AGENT_TIMEOUT)) {
        let (name, version) = guest::os_name_version(&os);
        (m.os_name, m.os_version) = (name.map(Arc::from), version.map(Arc::from));
    }
    if let Ok(info) = api.agent_info(node, vmid, Some(AGENT_TIMEOUT)) {
        m.agent_version = guest::agent_version(&info).map(Arc::from);
    }
    m
}

/// CT config, and `/interfaces` only when status and config name no address.
fn fetch_lxc_extra(api: &PveClient, node: &str, vmid: u64, status: Option<&LxcStatus>) -> LxcExtra {
    let config = api.lxc_config(node, vmid, Some(LXC_TIMEOUT)).ok();
    let (_, ips) = guest::lxc_network(status, config.as_ref(), &[]);
    let interfaces = if ips.is_empty() {
        api.lxc_interfaces(node, vmid, Some(LXC_TIMEOUT))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    LxcExtra { config, interfaces }
}

impl PvePoller {
    fn physical_disks_due_at(cfg: &PveInstanceConfig, last: Option<i64>, now: i64) -> bool {
        let minutes = match cfg.physical_disk_polling_minutes {
            0 => 5,
            m => m,
        };
        last.is_none_or(|t| now - t >= i64::from(minutes) * 60_000 || now < t)
    }
}
