//! One PMG instance per poller (spec/proxmox-api.md §7). Per cycle: `/version`, the cluster
//! list, each node's queue, mail statistics (totals, hourly counts, spam scores) and the two
//! quarantine counters; node backups every `BACKUP_CYCLES`-th cycle.

use super::clock::Clock;
use super::config::{Conn, LazyClient, PmgInstanceConfig, failure, stopped_answering};
use super::map::pmg as map;
use crate::model::{PmgBackup, PmgInstance, PmgQuarantine, PmgQueueStatus, State};
use crate::monitor::{InstancePoller, PollFailure};
use crate::proxmox::types::pmg::{PmgClusterNode, PostfixQueue, QueueCounts};
use crate::proxmox::{PmgClient, Product};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Configuration backups change daily at most.
pub const BACKUP_CYCLES: u64 = 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct PmgPoller {
    cfg: PmgInstanceConfig,
    clock: Arc<dyn Clock>,
    client: LazyClient<PmgClient>,
    cycle: Mutex<u64>,
}

impl PmgPoller {
    pub fn new(cfg: PmgInstanceConfig, clock: Arc<dyn Clock>) -> PmgPoller {
        PmgPoller {
            cfg,
            clock,
            client: LazyClient::default(),
            cycle: Mutex::new(0),
        }
    }

    pub fn config(&self) -> &PmgInstanceConfig {
        &self.cfg
    }

    /// The client, built and logged in on first use and after a failed cycle.
    fn client(&self) -> Result<Arc<PmgClient>, PollFailure> {
        let c = &self.cfg;
        let conn = Conn {
            product: Product::Pmg,
            host: &c.host,
            user: &c.user,
            password: &c.password,
            token_name: &c.token_name,
            token_value: &c.token_value,
            fingerprint: &c.fingerprint,
            verify_ssl: c.verify_ssl,
            timeout: c.timeout,
        };
        self.client.get(&c.name, conn, PmgClient::connect)
    }

    /// Queue counters. Real PMG answers `/postfix/queue` with a list (not the counters the
    /// reference expects); then the per-queue `qshape` totals are used.
    fn queue(&self, api: &PmgClient, node: &str, now: i64) -> Option<PmgQueueStatus> {
        match api.postfix_queue(node).ok()? {
            PostfixQueue::Counts(c) => Some(map::queue(&c, now)),
            PostfixQueue::List(_) => {
                let total = |q: &str| -> Option<u64> {
                    let rows = api.postfix_qshape(node, Some(q)).ok()?;
                    Some(
                        rows.iter()
                            .find(|r| r.domain.eq_ignore_ascii_case("TOTAL"))
                            .map(|r| r.total)
                            .unwrap_or_else(|| {
                                rows.iter().fold(0u64, |a, r| a.saturating_add(r.total))
                            }),
                    )
                };
                let c = QueueCounts {
                    active: total("active")?,
                    deferred: total("deferred").unwrap_or(0),
                    hold: total("hold").unwrap_or(0),
                    incoming: total("incoming").unwrap_or(0),
                    oldest_age: 0,
                };
                Some(map::queue(&c, now))
            }
        }
    }

    fn cycle(
        &self,
        api: &PmgClient,
        previous: Option<&State>,
        slow: bool,
    ) -> Result<State, PollFailure> {
        let now = self.clock.now_ms();
        let name = &self.cfg.name;
        let version = api
            .version()
            .map_err(|e| failure(name, "asking the version (GET /version)", &e))?;
        let mut inst = PmgInstance {
            id: map::instance_id(name),
            name: name.clone(),
            host: self.cfg.host.clone(),
            version: version.version.trim().to_owned(),
            status: "online".into(),
            connection_health: "healthy".into(),
            last_seen: now,
            last_updated: now,
            ..Default::default()
        };
        let members: Vec<PmgClusterNode> = api.cluster_status().unwrap_or_default();
        for m in &members {
            let q = if self.cfg.monitor_queues {
                self.queue(api, &m.name, now)
            } else {
                None
            };
            inst.nodes.push(map::node(m, q));
        }
        if self.cfg.monitor_mail_stats {
            inst.mail_stats = api.mail_stats().ok().map(|s| map::mail_stats(&s, now));
            inst.mail_count = api
                .mail_count(3600)
                .map(|p| map::mail_count(&p))
                .unwrap_or_default();
            inst.spam_distribution = api.spam_scores().map(|s| map::spam(&s)).unwrap_or_default();
        }
        if self.cfg.monitor_quarantine {
            let spam = api.spam_quarantine().ok();
            let virus = api.virus_quarantine().ok();
            if spam.is_some() || virus.is_some() {
                inst.quarantine = Some(PmgQuarantine {
                    spam: spam.map(|s| s.count).unwrap_or(0),
                    virus: virus.map(|s| s.count).unwrap_or(0),
                    attachment: 0,
                    blacklisted: 0,
                });
            }
        }
        let mut out = State {
            last_update: now,
            ..Default::default()
        };
        out.pmg_backups = if slow {
            let nodes: Vec<String> = if members.is_empty() {
                vec![name.clone()]
            } else {
                members.iter().map(|m| m.name.clone()).collect()
            };
            let prev: &[PmgBackup] = previous.map(|p| p.pmg_backups.as_slice()).unwrap_or(&[]);
            let mut by_id = BTreeMap::new();
            for n in &nodes {
                match api.backups(n) {
                    Ok(list) => {
                        for b in list {
                            let id = format!("pmg-{name}-{n}-{}", b.timestamp);
                            by_id.entry(id.clone()).or_insert(PmgBackup {
                                id,
                                instance: name.clone(),
                                node: n.clone(),
                                filename: b.filename,
                                backup_time: crate::poller::map::secs_to_ms(b.timestamp),
                                size: b.size,
                            });
                        }
                    }
                    Err(_) => {
                        for b in prev.iter().filter(|b| &b.node == n) {
                            by_id.entry(b.id.clone()).or_insert_with(|| b.clone());
                        }
                    }
                }
            }
            let mut v: Vec<PmgBackup> = by_id.into_values().collect();
            v.sort_by_key(|x| std::cmp::Reverse(x.backup_time));
            Arc::new(v)
        } else {
            previous.map(|p| p.pmg_backups.clone()).unwrap_or_default()
        };
        out.pmg.push(inst);
        Ok(out)
    }
}

impl InstancePoller for PmgPoller {
    fn poll(&self, previous: Option<&State>) -> Result<State, PollFailure> {
        let api = self.client()?;
        let mut cycle = lock(&self.cycle);
        let slow = (*cycle).is_multiple_of(BACKUP_CYCLES);
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
