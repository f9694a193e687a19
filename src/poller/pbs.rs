//! One PBS instance per poller (spec/proxmox-api.md §6). Regular cycle: `/version`,
//! `/nodes/localhost/status`, `/admin/datastore`, `/status/datastore-usage`, and
//! `/nodes/localhost/tasks` when job results are monitored (5 requests, whatever the number of
//! datastores). Every `backup_polling_cycles`-th cycle (and the
//! first) also: namespaces and dedup factor per datastore, and one snapshot listing per
//! namespace.

use super::clock::Clock;
use super::config::{Conn, LazyClient, PbsInstanceConfig, failure, stopped_answering};
use super::map::pbs as map;
use super::map::pbs_jobs as map_jobs;
use crate::model::{PbsBackup, PbsDatastore, PbsInstance, PbsNamespace, State};
use crate::monitor::{InstancePoller, PollFailure};
use crate::proxmox::types::pbs::{DatastoreUsage, GcStatus};
use crate::proxmox::{PbsClient, Product};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const LIVENESS_TIMEOUT: Duration = Duration::from_secs(10);
/// Tasks read per cycle: a few days of a busy PBS's job runs (backups included).
const TASK_WINDOW: u32 = 500;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct PbsPoller {
    cfg: PbsInstanceConfig,
    clock: Arc<dyn Clock>,
    client: LazyClient<PbsClient>,
    cycle: Mutex<u64>,
}

fn gc_dedup(gc: Option<&GcStatus>) -> Option<f64> {
    let gc = gc?;
    (gc.disk_bytes > 0 && gc.index_data_bytes > 0)
        .then(|| gc.index_data_bytes as f64 / gc.disk_bytes as f64)
}

impl PbsPoller {
    pub fn new(cfg: PbsInstanceConfig, clock: Arc<dyn Clock>) -> PbsPoller {
        PbsPoller {
            cfg,
            clock,
            client: LazyClient::default(),
            cycle: Mutex::new(0),
        }
    }

    pub fn config(&self) -> &PbsInstanceConfig {
        &self.cfg
    }

    /// The client, built and logged in on first use and after a failed cycle.
    fn client(&self) -> Result<Arc<PbsClient>, PollFailure> {
        let c = &self.cfg;
        let conn = Conn {
            product: Product::Pbs,
            host: &c.host,
            user: &c.user,
            password: &c.password,
            token_name: &c.token_name,
            token_value: &c.token_value,
            fingerprint: &c.fingerprint,
            verify_ssl: c.verify_ssl,
            timeout: c.timeout,
        };
        self.client.get(&c.name, conn, PbsClient::connect)
    }

    fn cycle(
        &self,
        api: &PbsClient,
        previous: Option<&State>,
        slow: bool,
    ) -> Result<State, PollFailure> {
        let now = self.clock.now_ms();
        let name = &self.cfg.name;
        let id = map::instance_id(name);
        let version = match api.version() {
            Ok(v) => Some(v.version)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".into()),
            Err(e) => match api.datastores(Some(LIVENESS_TIMEOUT)) {
                // Some tokens may list datastores but not read /version: still online.
                Ok(_) => "connected".into(),
                Err(_) => return Err(failure(name, "asking the version (GET /version)", &e)),
            },
        };
        let mut inst = PbsInstance {
            id: id.clone(),
            name: name.clone(),
            host: self.cfg.host.clone(),
            status: "online".into(),
            version,
            connection_health: "healthy".into(),
            last_seen: now,
            ..Default::default()
        };
        // A token without Sys.Audit gets 403 here; the rest still works.
        if let Ok(s) = api.node_status() {
            inst.cpu = map::cpu_percent(s.cpu);
            inst.memory_used = s.memory.used.min(s.memory.total);
            inst.memory_total = s.memory.total;
            inst.memory = super::map::pct(inst.memory_used, inst.memory_total);
            inst.uptime = s.uptime;
        }
        let prev_inst = previous.and_then(|p| p.pbs.iter().find(|i| i.id == id));
        self.jobs(api, &mut inst, prev_inst);
        let prev_stores: HashMap<&str, &PbsDatastore> = prev_inst
            .and_then(|i| i.datastores.as_ref())
            .map(|d| d.iter().map(|s| (s.name.as_str(), s)).collect())
            .unwrap_or_default();
        let mut out = State {
            last_update: now,
            ..Default::default()
        };
        if self.cfg.monitor_datastores {
            let stores = match api.datastores(None) {
                Ok(s) => s,
                Err(_) => {
                    inst.datastores = prev_inst.and_then(|i| i.datastores.clone());
                    out.pbs_backups = previous.map(|p| p.pbs_backups.clone()).unwrap_or_default();
                    out.pbs.push(inst);
                    return Ok(out);
                }
            };
            let usage: HashMap<String, DatastoreUsage> = api
                .datastore_usage()
                .map(|u| u.into_iter().map(|u| (u.store.clone(), u)).collect())
                .unwrap_or_default();
            let mut list = Vec::new();
            for ds in &stores {
                let store = ds.store.as_str();
                let prev = prev_stores.get(store).copied();
                let namespaces: Vec<PbsNamespace> = if slow || prev.is_none() {
                    match api.namespaces(store) {
                        Ok(ns) => map::namespaces(&ns),
                        Err(_) => prev
                            .map(|p| p.namespaces.clone())
                            .unwrap_or_else(|| map::namespaces(&[])),
                    }
                } else {
                    prev.map(|p| p.namespaces.clone()).unwrap_or_default()
                };
                let mut dedup = usage
                    .get(store)
                    .and_then(|u| gc_dedup(u.gc_status.as_ref()));
                let mut entry = match usage.get(store).filter(|u| u.error.is_empty()) {
                    Some(u) => {
                        let status = crate::proxmox::types::pbs::DatastoreStatus {
                            total: Some(u.total),
                            used: u.used,
                            avail: u.avail,
                            ..Default::default()
                        };
                        map::datastore(store, Ok(&status), None, namespaces)
                    }
                    None => match api.datastore_status(store) {
                        Ok(s) => {
                            dedup = dedup
                                .or(s.dedup_factor())
                                .or(gc_dedup(s.gc_status.as_ref()));
                            map::datastore(store, Ok(&s), None, namespaces)
                        }
                        Err(e) => map::datastore(store, Err(e.to_string()), None, namespaces),
                    },
                };
                if dedup.is_none() {
                    dedup = if slow || prev.is_none() {
                        api.datastore_gc(store)
                            .ok()
                            .and_then(|g| gc_dedup(Some(&g)))
                            .or(prev.and_then(|p| p.deduplication_factor))
                    } else {
                        prev.and_then(|p| p.deduplication_factor)
                    };
                }
                entry.deduplication_factor = dedup.filter(|d| d.is_finite() && *d > 0.0);
                list.push(entry);
            }
            if self.cfg.monitor_backups {
                out.pbs_backups = if slow {
                    Arc::new(self.backups(api, &list, previous))
                } else {
                    previous.map(|p| p.pbs_backups.clone()).unwrap_or_default()
                };
            }
            inst.datastores = Some(list);
        }
        out.pbs.push(inst);
        Ok(out)
    }

    /// Job results from one task listing per cycle; when it fails the previous results stay.
    fn jobs(&self, api: &PbsClient, inst: &mut PbsInstance, prev: Option<&PbsInstance>) {
        let c = &self.cfg;
        let kinds = map_jobs::JobKinds {
            sync: c.monitor_sync_jobs,
            verify: c.monitor_verify_jobs,
            prune: c.monitor_prune_jobs,
            garbage: c.monitor_garbage_jobs,
        };
        if !(kinds.sync || kinds.verify || kinds.prune || kinds.garbage) {
            return;
        }
        let on = |flag: bool, v: Vec<serde_json::Value>| flag.then_some(v);
        match api.tasks(TASK_WINDOW) {
            Ok(tasks) => {
                let j = map_jobs::jobs(&tasks, kinds);
                inst.sync_jobs = on(kinds.sync, j.sync);
                inst.verify_jobs = on(kinds.verify, j.verify);
                inst.prune_jobs = on(kinds.prune, j.prune);
                inst.garbage_jobs = on(kinds.garbage, j.garbage);
            }
            Err(_) => {
                if let Some(p) = prev {
                    inst.sync_jobs = p.sync_jobs.clone();
                    inst.verify_jobs = p.verify_jobs.clone();
                    inst.prune_jobs = p.prune_jobs.clone();
                    inst.garbage_jobs = p.garbage_jobs.clone();
                }
            }
        }
    }

    /// One listing per namespace; a namespace whose listing fails keeps its previous backups.
    fn backups(
        &self,
        api: &PbsClient,
        stores: &[PbsDatastore],
        previous: Option<&State>,
    ) -> Vec<PbsBackup> {
        let prev: &[PbsBackup] = previous.map(|p| p.pbs_backups.as_slice()).unwrap_or(&[]);
        let mut out = Vec::new();
        for ds in stores {
            for ns in &ds.namespaces {
                match api.snapshots(&ds.name, &ns.path, None, None) {
                    Ok(list) => out.extend(
                        list.iter()
                            .map(|s| map::backup(&self.cfg.name, &ds.name, &ns.path, s)),
                    ),
                    Err(_) => out.extend(
                        prev.iter()
                            .filter(|b| b.datastore == ds.name && b.namespace == ns.path)
                            .cloned(),
                    ),
                }
            }
        }
        out.sort_by_key(|x| std::cmp::Reverse(x.backup_time));
        out
    }
}

impl InstancePoller for PbsPoller {
    fn poll(&self, previous: Option<&State>) -> Result<State, PollFailure> {
        let api = self.client()?;
        let mut cycle = lock(&self.cycle);
        let slow = (*cycle).is_multiple_of(u64::from(self.cfg.backup_polling_cycles.max(1)));
        api.api().start_cycle();
        let r = self
            .cycle(&api, previous, slow)
            .and_then(|s| stopped_answering(&self.cfg.name, api.api()).map_or(Ok(s), Err));
        match r {
            Ok(_) => *cycle += 1,
            Err(_) => self.client.reset(),
        }
        r
    }
}
