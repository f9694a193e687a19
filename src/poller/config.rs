//! Per-instance settings the pollers are built from (field names per
//! spec/config-and-updates.md §3.3; the lead persists them and builds pollers from them).

use super::scheduler::Category;
use crate::monitor::PollFailure;
use crate::proxmox::{ClientOptions, Credentials, Product, ProxmoxError, TlsMode};
use std::time::Duration;

/// A configured Proxmox VE instance (standalone node or cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct PveInstanceConfig {
    pub name: String,
    pub host: String,
    pub guest_url: String,
    pub user: String,
    pub password: String,
    /// Full token id `user@realm!name`.
    pub token_name: String,
    pub token_value: String,
    pub fingerprint: String,
    pub verify_ssl: bool,
    pub monitor_vms: bool,
    pub monitor_containers: bool,
    pub monitor_storage: bool,
    pub monitor_backups: bool,
    /// `None` = enabled.
    pub monitor_physical_disks: Option<bool>,
    /// 0 = the default of 5 minutes.
    pub physical_disk_polling_minutes: u32,
    pub temperature_monitoring_enabled: Option<bool>,
    pub is_cluster: bool,
    pub cluster_name: String,
    /// Whole-request timeout; the server sets it from `settings::Polling::connection_timeout`.
    pub timeout: Duration,
    /// Backups, snapshots and replication are refreshed every this many cycles (and on the
    /// first); `BACKUP_POLLING_CYCLES`, default 10.
    pub backup_polling_cycles: u32,
}

impl Default for PveInstanceConfig {
    fn default() -> Self {
        PveInstanceConfig {
            name: String::new(),
            host: String::new(),
            guest_url: String::new(),
            user: String::new(),
            password: String::new(),
            token_name: String::new(),
            token_value: String::new(),
            fingerprint: String::new(),
            verify_ssl: false,
            monitor_vms: true,
            monitor_containers: true,
            monitor_storage: true,
            monitor_backups: true,
            monitor_physical_disks: None,
            physical_disk_polling_minutes: 0,
            temperature_monitoring_enabled: None,
            is_cluster: false,
            cluster_name: String::new(),
            timeout: crate::proxmox::http::DEFAULT_TIMEOUT,
            backup_polling_cycles: 10,
        }
    }
}

/// A configured Proxmox Backup Server.
#[derive(Debug, Clone, PartialEq)]
pub struct PbsInstanceConfig {
    pub name: String,
    pub host: String,
    pub user: String,
    pub password: String,
    pub token_name: String,
    pub token_value: String,
    pub fingerprint: String,
    pub verify_ssl: bool,
    pub monitor_backups: bool,
    pub monitor_datastores: bool,
    pub monitor_sync_jobs: bool,
    pub monitor_verify_jobs: bool,
    pub monitor_prune_jobs: bool,
    pub monitor_garbage_jobs: bool,
    pub temperature_monitoring_enabled: Option<bool>,
    pub timeout: Duration,
    /// Backup snapshots are refreshed every this many cycles (and on the first).
    pub backup_polling_cycles: u32,
}

impl Default for PbsInstanceConfig {
    fn default() -> Self {
        PbsInstanceConfig {
            name: String::new(),
            host: String::new(),
            user: String::new(),
            password: String::new(),
            token_name: String::new(),
            token_value: String::new(),
            fingerprint: String::new(),
            verify_ssl: false,
            monitor_backups: true,
            monitor_datastores: true,
            monitor_sync_jobs: true,
            monitor_verify_jobs: true,
            monitor_prune_jobs: true,
            monitor_garbage_jobs: true,
            temperature_monitoring_enabled: None,
            timeout: crate::proxmox::http::DEFAULT_TIMEOUT,
            backup_polling_cycles: 10,
        }
    }
}

/// A configured Proxmox Mail Gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct PmgInstanceConfig {
    pub name: String,
    pub host: String,
    pub user: String,
    pub password: String,
    pub token_name: String,
    pub token_value: String,
    pub fingerprint: String,
    pub verify_ssl: bool,
    pub monitor_mail_stats: bool,
    pub monitor_queues: bool,
    pub monitor_quarantine: bool,
    pub monitor_domain_stats: bool,
    pub temperature_monitoring_enabled: Option<bool>,
    pub timeout: Duration,
}

impl Default for PmgInstanceConfig {
    fn default() -> Self {
        PmgInstanceConfig {
            name: String::new(),
            host: String::new(),
            user: String::new(),
            password: String::new(),
            token_name: String::new(),
            token_value: String::new(),
            fingerprint: String::new(),
            verify_ssl: false,
            monitor_mail_stats: true,
            monitor_queues: true,
            monitor_quarantine: true,
            monitor_domain_stats: false,
            temperature_monitoring_enabled: None,
            timeout: DEFAULT_PMG_TIMEOUT,
        }
    }
}

/// The library default for a PMG poller built without the server's settings: the reference
/// polls PMG with 45 s (proxmox-api.md §1.3). The server always passes the configured
/// `connectionTimeout` (`settings::Polling`), the one place `CONNECTION_TIMEOUT` is read.
pub const DEFAULT_PMG_TIMEOUT: Duration = Duration::from_secs(45);

/// The connection fields shared by all three products.
pub(crate) struct Conn<'a> {
    pub product: Product,
    pub host: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub token_name: &'a str,
    pub token_value: &'a str,
    pub fingerprint: &'a str,
    pub verify_ssl: bool,
    pub timeout: Duration,
}

fn opt(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.trim().is_empty())
}

impl Conn<'_> {
    pub fn options(&self) -> Result<ClientOptions, ProxmoxError> {
        let creds = Credentials::from_settings(
            self.product,
            opt(self.user),
            opt(self.password),
            opt(self.token_name),
            opt(self.token_value),
        )?;
        let tls = TlsMode::from_settings(self.verify_ssl, opt(self.fingerprint))?;
        let mut o = ClientOptions::new(self.product, self.host, creds, tls);
        o.timeout = self.timeout;
        o.connect_timeout = self
            .timeout
            .min(crate::proxmox::http::DEFAULT_CONNECT_TIMEOUT);
        Ok(o)
    }
}

/// A client built and logged in on first use and dropped after a failed cycle, so the next
/// cycle starts with a fresh login (new credentials, renewed certificates).
pub(crate) struct LazyClient<C> {
    slot: std::sync::Mutex<Option<std::sync::Arc<C>>>,
}

impl<C> Default for LazyClient<C> {
    fn default() -> Self {
        LazyClient {
            slot: std::sync::Mutex::new(None),
        }
    }
}

impl<C> LazyClient<C> {
    pub fn get(
        &self,
        instance: &str,
        conn: Conn<'_>,
        connect: fn(ClientOptions) -> Result<C, ProxmoxError>,
    ) -> Result<std::sync::Arc<C>, PollFailure> {
        let mut g = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let opts = conn
            .options()
            .map_err(|e| failure(instance, "checking the connection settings", &e))?;
        let client =
            std::sync::Arc::new(connect(opts).map_err(|e| failure(instance, "connecting", &e))?);
        *g = Some(client.clone());
        Ok(client)
    }

    pub fn reset(&self) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Installs a client built elsewhere (after a failover to another cluster member).
    pub fn set(&self, client: std::sync::Arc<C>) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
    }
}

/// Maps a client error on the poll's liveness call to a failure the scheduler understands:
/// credentials, certificates and settings will not fix themselves; everything else may.
pub fn failure(instance: &str, what: &str, e: &ProxmoxError) -> PollFailure {
    use crate::proxmox::ErrorKind as K;
    let category = match e.kind() {
        K::Auth | K::Config | K::Tls => Category::Permanent,
        _ => Category::Transient,
    };
    PollFailure {
        message: format!("{instance}: {what} failed: {e}"),
        category,
    }
}

/// A cycle that went on past failed calls must not pass as a success when the endpoint
/// stopped answering during it (see `ApiClient::stopped_answering`).
pub fn stopped_answering(
    instance: &str,
    api: &crate::proxmox::client::ApiClient,
) -> Option<PollFailure> {
    api.stopped_answering()
        .map(|e| failure(instance, "polling (the server stopped answering)", &e))
}
