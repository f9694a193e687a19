//! Typed calls to the Proxmox Backup Server API (spec §6).

use super::Product;
use super::client::{ApiClient, seg};
use super::error::ProxmoxError;
use super::types::pbs::*;
use std::time::Duration;

/// Client for one PBS endpoint.
#[derive(Debug)]
pub struct PbsClient {
    api: ApiClient,
}

impl PbsClient {
    pub fn new(api: ApiClient) -> Result<Self, ProxmoxError> {
        Ok(PbsClient {
            api: api.expect_product(Product::Pbs)?,
        })
    }

    /// Builds the client and logs in: see [`ApiClient::connect`].
    pub fn connect(opts: super::ClientOptions) -> Result<Self, ProxmoxError> {
        Ok(PbsClient {
            api: ApiClient::connect(opts, Product::Pbs)?,
        })
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// `GET /nodes/localhost/tasks?limit=N`: the newest `limit` tasks, newest first.
    pub fn tasks(&self, limit: u32) -> Result<Vec<PbsTask>, ProxmoxError> {
        let limit = limit.to_string();
        self.api
            .get_list("/nodes/localhost/tasks", &[("limit", &limit)], None)
    }

    /// `GET /version`
    pub fn version(&self) -> Result<PbsVersion, ProxmoxError> {
        self.api.get_with("/version", &[], None)
    }

    /// `GET /nodes/localhost/status`
    pub fn node_status(&self) -> Result<PbsNodeStatus, ProxmoxError> {
        self.api.get_with("/nodes/localhost/status", &[], None)
    }

    /// `GET /nodes/localhost/subscription`
    pub fn subscription(&self) -> Result<Subscription, ProxmoxError> {
        self.api
            .get_with("/nodes/localhost/subscription", &[], None)
    }

    /// `GET /admin/datastore`
    pub fn datastores(&self, timeout: Option<Duration>) -> Result<Vec<Datastore>, ProxmoxError> {
        self.api.get_list("/admin/datastore", &[], timeout)
    }

    /// `GET /status/datastore-usage` (all stores in one call)
    pub fn datastore_usage(&self) -> Result<Vec<DatastoreUsage>, ProxmoxError> {
        self.api.get_list("/status/datastore-usage", &[], None)
    }

    /// `GET /admin/datastore/{store}/status`
    pub fn datastore_status(&self, store: &str) -> Result<DatastoreStatus, ProxmoxError> {
        self.api.get_with(
            &format!("/admin/datastore/{}/status", seg(store)),
            &[],
            None,
        )
    }

    /// `GET /admin/datastore/{store}/rrd?cf=AVERAGE&timeframe=..`
    pub fn datastore_rrd(
        &self,
        store: &str,
        timeframe: &str,
    ) -> Result<Vec<DatastoreRrdPoint>, ProxmoxError> {
        let q = [("cf", "AVERAGE"), ("timeframe", timeframe)];
        self.api
            .get_list(&format!("/admin/datastore/{}/rrd", seg(store)), &q, None)
    }

    /// `GET /admin/datastore/{store}/gc`
    pub fn datastore_gc(&self, store: &str) -> Result<GcStatus, ProxmoxError> {
        self.api
            .get_with(&format!("/admin/datastore/{}/gc", seg(store)), &[], None)
    }

    /// `GET /admin/datastore/{store}/namespace`. A 404 (PBS before 2.2) means "only the root
    /// namespace" and returns an empty list.
    pub fn namespaces(&self, store: &str) -> Result<Vec<Namespace>, ProxmoxError> {
        match self.api.get_list(
            &format!("/admin/datastore/{}/namespace", seg(store)),
            &[],
            None,
        ) {
            Err(e) if e.status() == Some(404) => Ok(Vec::new()),
            other => other,
        }
    }

    /// `GET /admin/datastore/{store}/groups[?ns=..]` (root namespace: `ns` = `""` → omitted)
    pub fn groups(&self, store: &str, ns: &str) -> Result<Vec<BackupGroup>, ProxmoxError> {
        let q: Vec<(&str, &str)> = if ns.is_empty() {
            vec![]
        } else {
            vec![("ns", ns)]
        };
        self.api
            .get_list(&format!("/admin/datastore/{}/groups", seg(store)), &q, None)
    }

    /// `GET /admin/datastore/{store}/snapshots[?ns=..][&backup-type=..&backup-id=..]`
    pub fn snapshots(
        &self,
        store: &str,
        ns: &str,
        group: Option<(&str, &str)>,
        timeout: Option<Duration>,
    ) -> Result<Vec<BackupSnapshot>, ProxmoxError> {
        let mut q: Vec<(&str, &str)> = Vec::new();
        if !ns.is_empty() {
            q.push(("ns", ns));
        }
        if let Some((t, id)) = group {
            q.push(("backup-type", t));
            q.push(("backup-id", id));
        }
        self.api.get_list(
            &format!("/admin/datastore/{}/snapshots", seg(store)),
            &q,
            timeout,
        )
    }
}
