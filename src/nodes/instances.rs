//! From configured nodes to monitored instances: the poller for each node, keyed as the
//! scheduler and `connectionHealth` name it.

use super::{NodeConfig, NodeSecrets};
use crate::monitor::Instance;
use crate::poller::clock::Clock;
use crate::poller::scheduler::{Key, Kind};
use crate::poller::{
    PbsInstanceConfig, PbsPoller, PmgInstanceConfig, PmgPoller, PveInstanceConfig, PvePoller,
};
use crate::settings::Polling;
use std::sync::Arc;

fn flag(node: &NodeConfig, name: &str, default: bool) -> bool {
    node.monitor.get(name).copied().unwrap_or(default)
}

/// `polling` carries the global settings every poller honours (timeout, backup cadence,
/// temperature switch); a settings change rebuilds the instances with the new values.
pub fn instance(
    node: &NodeConfig,
    secrets: &NodeSecrets,
    polling: &Polling,
    clock: Arc<dyn Clock>,
) -> Instance {
    // The global switch turns temperatures off everywhere; on, each node's own choice holds.
    let temperature = if polling.temperature_monitoring {
        node.temperature_monitoring_enabled
    } else {
        Some(false)
    };
    let poller: Arc<dyn crate::monitor::InstancePoller> = match node.kind {
        Kind::Pve => Arc::new(PvePoller::new(
            PveInstanceConfig {
                name: node.name.clone(),
                host: node.host.clone(),
                guest_url: node.guest_url.clone(),
                user: node.user.clone(),
                password: secrets.password.clone(),
                token_name: node.token_name.clone(),
                token_value: secrets.token_value.clone(),
                fingerprint: node.fingerprint.clone(),
                verify_ssl: node.verify_ssl,
                monitor_vms: flag(node, "monitorVMs", true),
                monitor_containers: flag(node, "monitorContainers", true),
                monitor_storage: flag(node, "monitorStorage", true),
                monitor_backups: polling.backup_enabled && flag(node, "monitorBackups", true),
                backup_polling_cycles: polling.backup_cycles_for(polling.intervals_ms[0]),
                monitor_physical_disks: node.monitor.get("monitorPhysicalDisks").copied(),
                temperature_monitoring_enabled: temperature,
                timeout: polling.connection_timeout,
                ..Default::default()
            },
            clock,
        )),
        Kind::Pbs => Arc::new(PbsPoller::new(
            PbsInstanceConfig {
                name: node.name.clone(),
                host: node.host.clone(),
                user: node.user.clone(),
                password: secrets.password.clone(),
                token_name: node.token_name.clone(),
                token_value: secrets.token_value.clone(),
                fingerprint: node.fingerprint.clone(),
                verify_ssl: node.verify_ssl,
                monitor_backups: polling.backup_enabled && flag(node, "monitorBackups", true),
                monitor_datastores: flag(node, "monitorDatastores", true),
                monitor_sync_jobs: flag(node, "monitorSyncJobs", true),
                monitor_verify_jobs: flag(node, "monitorVerifyJobs", true),
                monitor_prune_jobs: flag(node, "monitorPruneJobs", true),
                monitor_garbage_jobs: flag(node, "monitorGarbageJobs", true),
                temperature_monitoring_enabled: temperature,
                timeout: polling.connection_timeout,
                ..Default::default()
            },
            clock,
        )),
        Kind::Pmg => Arc::new(PmgPoller::new(
            PmgInstanceConfig {
                name: node.name.clone(),
                host: node.host.clone(),
                user: node.user.clone(),
                password: secrets.password.clone(),
                token_name: node.token_name.clone(),
                token_value: secrets.token_value.clone(),
                fingerprint: node.fingerprint.clone(),
                verify_ssl: node.verify_ssl,
                monitor_mail_stats: flag(node, "monitorMailStats", true),
                monitor_queues: flag(node, "monitorQueues", true),
                monitor_quarantine: flag(node, "monitorQuarantine", true),
                monitor_domain_stats: flag(node, "monitorDomainStats", false),
                temperature_monitoring_enabled: temperature,
                timeout: polling.connection_timeout,
            },
            clock,
        )),
    };
    Instance {
        key: Key::new(node.kind, node.name.clone()),
        display_name: node.name.clone(),
        connection: node.host.clone(),
        identity: crate::crypto::sha3_hex(
            format!(
                "{}\0{}\0{}\0{}\0{}\0{}\0{}",
                node.host,
                node.user,
                node.token_name,
                secrets.password,
                secrets.token_value,
                node.fingerprint,
                node.verify_ssl
            )
            .as_bytes(),
        ),
        poller,
    }
}
