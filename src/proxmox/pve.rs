//! Typed calls to the Proxmox VE API (spec §4/§5). Each method is one HTTP request and returns
//! raw API types; list endpoints treat `"data": null` as empty.

use super::Product;
use super::client::{ApiClient, seg};
use super::error::ProxmoxError;
use super::types::pve::*;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Which `/cluster/resources` entries to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Vm,
    Storage,
    Node,
    Sdn,
    All,
}

/// `qemu` or `lxc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    Qemu,
    Lxc,
}

impl GuestKind {
    fn path(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

/// Client for one PVE endpoint.
#[derive(Debug)]
pub struct PveClient {
    api: ApiClient,
}

impl PveClient {
    /// Wraps an [`ApiClient`] built for [`Product::Pve`].
    pub fn new(api: ApiClient) -> Result<Self, ProxmoxError> {
        Ok(PveClient {
            api: api.expect_product(Product::Pve)?,
        })
    }

    /// Builds the client and logs in: see [`ApiClient::connect`].
    pub fn connect(opts: super::ClientOptions) -> Result<Self, ProxmoxError> {
        Ok(PveClient {
            api: ApiClient::connect(opts, Product::Pve)?,
        })
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// A guest-agent call: unwraps `{"result": ...}` and turns `{"error": ...}` into
    /// [`ProxmoxError::Agent`].
    fn agent<T: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<T>, ProxmoxError> {
        let reply: Option<AgentReply<T>> = self.api.get_with(path, &[], timeout)?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        if let Some(err) = reply.error {
            let message = match (err.class.is_empty(), err.desc.is_empty()) {
                (_, false) if !err.class.is_empty() => format!("{}: {}", err.class, err.desc),
                (_, false) => err.desc,
                (false, true) => err.class,
                (true, true) => "unknown error".to_owned(),
            };
            return Err(ProxmoxError::Agent {
                path: path.to_owned(),
                message,
            });
        }
        Ok(reply.result)
    }

    /// `GET /version`
    pub fn version(&self) -> Result<Version, ProxmoxError> {
        self.api.get_with("/version", &[], None)
    }

    /// `GET /nodes`
    pub fn nodes(&self) -> Result<Vec<NodeListItem>, ProxmoxError> {
        self.api.get_list("/nodes", &[], None)
    }

    /// `GET /nodes/{node}/status`
    pub fn node_status(&self, node: &str) -> Result<NodeStatus, ProxmoxError> {
        self.api
            .get_with(&format!("/nodes/{}/status", seg(node)), &[], None)
    }

    /// `GET /nodes/{node}/rrddata?timeframe=..&cf=AVERAGE` (no `ds`: PVE rejects it).
    pub fn node_rrddata(
        &self,
        node: &str,
        timeframe: &str,
        timeout: Option<Duration>,
    ) -> Result<Vec<RrdPoint>, ProxmoxError> {
        let q = [("timeframe", timeframe), ("cf", "AVERAGE")];
        self.api
            .get_list(&format!("/nodes/{}/rrddata", seg(node)), &q, timeout)
    }

    /// `GET /nodes/{node}/{qemu|lxc}/{vmid}/rrddata?timeframe=..&cf=AVERAGE`
    pub fn guest_rrddata(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u64,
        timeframe: &str,
        timeout: Option<Duration>,
    ) -> Result<Vec<RrdPoint>, ProxmoxError> {
        let q = [("timeframe", timeframe), ("cf", "AVERAGE")];
        let path = format!("/nodes/{}/{}/{vmid}/rrddata", seg(node), kind.path());
        self.api.get_list(&path, &q, timeout)
    }

    /// `GET /storage` (cluster storage configuration)
    pub fn storage_config(&self) -> Result<Vec<StorageConfig>, ProxmoxError> {
        self.api.get_list("/storage", &[], None)
    }

    /// `GET /nodes/{node}/storage`
    pub fn node_storage(
        &self,
        node: &str,
        timeout: Option<Duration>,
    ) -> Result<Vec<NodeStorage>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/storage", seg(node)), &[], timeout)
    }

    /// `GET /nodes/{node}/storage/{storage}/content[?content=..][&vmid=..]`
    pub fn storage_content(
        &self,
        node: &str,
        storage: &str,
        content: Option<&str>,
        vmid: Option<u64>,
        timeout: Option<Duration>,
    ) -> Result<Vec<StorageContentItem>, ProxmoxError> {
        let vmid_s = vmid.map(|v| v.to_string());
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(c) = content {
            q.push(("content", c));
        }
        if let Some(v) = vmid_s.as_deref() {
            q.push(("vmid", v));
        }
        let path = format!("/nodes/{}/storage/{}/content", seg(node), seg(storage));
        self.api.get_list(&path, &q, timeout)
    }

    /// `GET /nodes/{node}/disks/list`
    pub fn disks(&self, node: &str) -> Result<Vec<DiskListItem>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/disks/list", seg(node)), &[], None)
    }

    /// `GET /nodes/{node}/disks/smart?disk=/dev/sdX`
    pub fn disk_smart(&self, node: &str, disk: &str) -> Result<SmartData, ProxmoxError> {
        self.api.get_with(
            &format!("/nodes/{}/disks/smart", seg(node)),
            &[("disk", disk)],
            None,
        )
    }

    /// `GET /cluster/status`
    pub fn cluster_status(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Vec<ClusterStatusItem>, ProxmoxError> {
        self.api.get_list("/cluster/status", &[], timeout)
    }

    /// `GET /cluster/resources[?type=..]`
    pub fn cluster_resources(
        &self,
        kind: ResourceType,
    ) -> Result<Vec<ClusterResource>, ProxmoxError> {
        let t = match kind {
            ResourceType::Vm => Some("vm"),
            ResourceType::Storage => Some("storage"),
            ResourceType::Node => Some("node"),
            ResourceType::Sdn => Some("sdn"),
            ResourceType::All => None,
        };
        match t {
            Some(t) => self
                .api
                .get_list("/cluster/resources", &[("type", t)], None),
            None => self.api.get_list("/cluster/resources", &[], None),
        }
    }

    /// `GET /nodes/{node}/qemu` (fallback guest path)
    pub fn qemu_list(&self, node: &str) -> Result<Vec<GuestListItem>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/qemu", seg(node)), &[], None)
    }

    /// `GET /nodes/{node}/lxc` (fallback guest path)
    pub fn lxc_list(&self, node: &str) -> Result<Vec<GuestListItem>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/lxc", seg(node)), &[], None)
    }

    /// `GET /nodes/{node}/qemu/{vmid}/status/current`
    pub fn qemu_status(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<QemuStatus, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/status/current", seg(node));
        self.api.get_with(&path, &[], timeout)
    }

    /// `GET /nodes/{node}/qemu/{vmid}/agent/get-fsinfo`. A `result` that is not a list counts
    /// as "no filesystems" (empty).
    pub fn agent_fsinfo(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<Vec<FsInfo>, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/agent/get-fsinfo", seg(node));
        let raw: Option<serde_json::Value> = self.agent(&path, timeout)?;
        match raw {
            Some(v @ serde_json::Value::Array(_)) => {
                serde_json::from_value(v).map_err(|e| ProxmoxError::BadBody {
                    host: self.api.host().to_owned(),
                    path: path.clone(),
                    detail: format!("unexpected JSON shape ({e})"),
                })
            }
            _ => Ok(Vec::new()),
        }
    }

    /// `GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces`
    pub fn agent_network_interfaces(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<Vec<AgentInterface>, ProxmoxError> {
        let path = format!(
            "/nodes/{}/qemu/{vmid}/agent/network-get-interfaces",
            seg(node)
        );
        Ok(self
            .agent::<Option<Vec<AgentInterface>>>(&path, timeout)?
            .flatten()
            .unwrap_or_default())
    }

    /// `GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo`
    pub fn agent_osinfo(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<OsInfo, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/agent/get-osinfo", seg(node));
        Ok(self.agent(&path, timeout)?.unwrap_or_default())
    }

    /// `GET /nodes/{node}/qemu/{vmid}/agent/info`
    pub fn agent_info(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<AgentInfo, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/agent/info", seg(node));
        Ok(self.agent(&path, timeout)?.unwrap_or_default())
    }

    /// `GET /nodes/{node}/lxc/{vmid}/status/current`
    pub fn lxc_status(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<LxcStatus, ProxmoxError> {
        let path = format!("/nodes/{}/lxc/{vmid}/status/current", seg(node));
        self.api.get_with(&path, &[], timeout)
    }

    /// `GET /nodes/{node}/lxc/{vmid}/config`
    pub fn lxc_config(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<LxcConfig, ProxmoxError> {
        let path = format!("/nodes/{}/lxc/{vmid}/config", seg(node));
        Ok(self
            .api
            .get_with::<Option<LxcConfig>>(&path, &[], timeout)?
            .unwrap_or_default())
    }

    /// `GET /nodes/{node}/lxc/{vmid}/interfaces`
    pub fn lxc_interfaces(
        &self,
        node: &str,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<Vec<LxcInterface>, ProxmoxError> {
        let path = format!("/nodes/{}/lxc/{vmid}/interfaces", seg(node));
        self.api.get_list(&path, &[], timeout)
    }

    /// `GET /nodes/{node}/{qemu|lxc}/{vmid}/snapshot` (includes the `current` pseudo-entry).
    pub fn snapshots(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u64,
        timeout: Option<Duration>,
    ) -> Result<Vec<Snapshot>, ProxmoxError> {
        let path = format!("/nodes/{}/{}/{vmid}/snapshot", seg(node), kind.path());
        self.api.get_list(&path, &[], timeout)
    }

    /// `GET /cluster/replication` (job configuration)
    pub fn replication_jobs(&self) -> Result<Vec<ReplicationJob>, ProxmoxError> {
        self.api.get_list("/cluster/replication", &[], None)
    }

    /// `GET /nodes/{node}/replication` (last/next sync, failures: per source node)
    pub fn replication_status(&self, node: &str) -> Result<Vec<ReplicationState>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/replication", seg(node)), &[], None)
    }

    /// `GET /nodes/{node}/disks/zfs`
    pub fn zfs_pools(&self, node: &str) -> Result<Vec<ZfsPoolListItem>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/disks/zfs", seg(node)), &[], None)
    }

    /// `GET /nodes/{node}/disks/zfs/{pool}`
    pub fn zfs_pool(&self, node: &str, pool: &str) -> Result<ZfsPoolDetail, ProxmoxError> {
        self.api.get_with(
            &format!("/nodes/{}/disks/zfs/{}", seg(node), seg(pool)),
            &[],
            None,
        )
    }

    /// `GET /cluster/ceph/status`
    pub fn ceph_status(&self, timeout: Option<Duration>) -> Result<CephStatus, ProxmoxError> {
        self.api.get_with("/cluster/ceph/status", &[], timeout)
    }

    /// `GET /nodes/{node}/ceph/pool` (per-pool usage; PVE has no `/cluster/ceph/df`).
    pub fn ceph_pools(
        &self,
        node: &str,
        timeout: Option<Duration>,
    ) -> Result<Vec<CephPool>, ProxmoxError> {
        self.api
            .get_list(&format!("/nodes/{}/ceph/pool", seg(node)), &[], timeout)
    }

    /// `GET /nodes/{node}/tasks[?typefilter=..][&limit=..]`
    pub fn tasks(
        &self,
        node: &str,
        typefilter: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<TaskListItem>, ProxmoxError> {
        let limit_s = limit.map(|l| l.to_string());
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(t) = typefilter {
            q.push(("typefilter", t));
        }
        if let Some(l) = limit_s.as_deref() {
            q.push(("limit", l));
        }
        self.api
            .get_list(&format!("/nodes/{}/tasks", seg(node)), &q, None)
    }

    /// `GET /cluster/tasks`: the cluster's recent tasks, all nodes in one list.
    pub fn cluster_tasks(&self) -> Result<Vec<TaskListItem>, ProxmoxError> {
        self.api.get_list("/cluster/tasks", &[], None)
    }

    /// `GET /nodes/{node}/tasks/{upid}/status`
    pub fn task_status(&self, node: &str, upid: &str) -> Result<TaskStatus, ProxmoxError> {
        let path = format!("/nodes/{}/tasks/{}/status", seg(node), seg(upid));
        self.api.get_with(&path, &[], None)
    }

    /// `GET /cluster/backup` (scheduled backup jobs)
    pub fn backup_jobs(&self) -> Result<Vec<BackupJob>, ProxmoxError> {
        self.api.get_list("/cluster/backup", &[], None)
    }
}
