//! "Test connection": log in to a node with the given settings and read one cheap endpoint,
//! within a bounded time, answering with a classified reason on failure. Blocking: run it
//! off the async workers.

use super::request::product;
use super::{NodeConfig, NodeSecrets};
use crate::poller::scheduler::Kind;
use crate::proxmox::{ClientOptions, PbsClient, PmgClient, ProxmoxError, PveClient};
use serde_json::{Value, json};
use std::time::Duration;

/// Whole-test budget per request: a dead host answers "timeout" rather than hanging the UI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ProbeError {
    pub kind: &'static str,
    pub message: String,
}

impl From<ProxmoxError> for ProbeError {
    fn from(e: ProxmoxError) -> Self {
        ProbeError {
            kind: e.kind().as_str(),
            message: e.to_string(),
        }
    }
}

pub fn options(
    node: &NodeConfig,
    secrets: &NodeSecrets,
    timeout: Duration,
) -> Result<ClientOptions, ProxmoxError> {
    crate::poller::config::Conn {
        product: product(node.kind),
        host: &node.host,
        user: &node.user,
        password: &secrets.password,
        token_name: &node.token_name,
        token_value: &secrets.token_value,
        fingerprint: &node.fingerprint,
        verify_ssl: node.verify_ssl,
        timeout,
    }
    .options()
    .map(|mut o| {
        // Half the budget for connecting: a dead host is reported well inside the test's time.
        o.connect_timeout = timeout.min(Duration::from_secs(5));
        o
    })
}

/// Connects and reads: PVE `/nodes` (+ cluster size), PBS datastores, PMG version.
pub fn test(node: &NodeConfig, secrets: &NodeSecrets) -> Result<Value, ProbeError> {
    let o = options(node, secrets, TEST_TIMEOUT)?;
    match node.kind {
        Kind::Pve => {
            let c = PveClient::connect(o)?;
            let nodes = c.nodes()?;
            let members = c
                .cluster_status(Some(Duration::from_secs(5)))
                .map(|items| items.iter().filter(|i| i.kind == "node").count())
                .unwrap_or(0);
            let mut v = json!({
                "status": "success",
                "message": format!("Successfully connected to {} node(s)", nodes.len()),
                "isCluster": members > 1,
                "nodeCount": nodes.len(),
            });
            if members > 1 {
                v["clusterNodeCount"] = members.into();
            }
            Ok(v)
        }
        Kind::Pbs => {
            let c = PbsClient::connect(o)?;
            let ds = c.datastores(None)?;
            Ok(json!({
                "status": "success",
                "message": format!("Successfully connected. Found {} datastore(s)", ds.len()),
                "datastoreCount": ds.len(),
            }))
        }
        Kind::Pmg => {
            let c = PmgClient::connect(o)?;
            let v = c.version()?;
            Ok(json!({
                "status": "success",
                "message": "Successfully connected to Proxmox Mail Gateway",
                "version": v.version.trim(),
                "release": v.release.trim(),
            }))
        }
    }
}
