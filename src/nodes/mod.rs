//! Configured Proxmox instances ("nodes" in the API): validation, persistence with sealed
//! credentials, and the views the API returns (secrets never leave this module unmasked).

pub mod instances;
pub mod probe;
pub mod request;

use crate::poller::scheduler::Kind;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Settings key of the node list; credentials live in sealed secrets `node/<id>/...`.
pub const NODES_KEY: &str = "nodes";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfig {
    /// `<type>-<n>`; n is never reused, so ids stay stable when other nodes are deleted
    /// (the reference numbers by list position, which renames nodes after a delete).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub name: String,
    /// Normalised `scheme://host:port`.
    pub host: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub guest_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    #[serde(default)]
    pub verify_ssl: bool,
    /// `monitorVMs`, `monitorDatastores`, … as the request named them; defaults applied.
    #[serde(default)]
    pub monitor: std::collections::BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_monitoring_enabled: Option<bool>,
}

/// The decrypted credentials of one node.
#[derive(Clone, Default, PartialEq)]
pub struct NodeSecrets {
    pub password: String,
    pub token_value: String,
}

impl std::fmt::Debug for NodeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeSecrets(<hidden>)")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodesDoc {
    next_id: u64,
    nodes: Vec<NodeConfig>,
}

fn secret_name(id: &str, field: &str) -> String {
    format!("node/{id}/{field}")
}

/// The monitor flags each type has, with their defaults when a node is added.
pub fn monitor_defaults(kind: Kind) -> &'static [(&'static str, bool)] {
    match kind {
        Kind::Pve => &[
            ("monitorVMs", true),
            ("monitorContainers", true),
            ("monitorStorage", true),
            ("monitorBackups", true),
            ("monitorPhysicalDisks", true),
        ],
        Kind::Pbs => &[
            ("monitorBackups", true),
            ("monitorDatastores", true),
            ("monitorSyncJobs", true),
            ("monitorVerifyJobs", true),
            ("monitorPruneJobs", true),
            ("monitorGarbageJobs", true),
        ],
        Kind::Pmg => &[
            ("monitorMailStats", true),
            ("monitorQueues", true),
            ("monitorQuarantine", true),
            ("monitorDomainStats", false),
        ],
    }
}

/// The node list as stored.
pub struct Nodes<'a> {
    store: &'a Store,
}

impl<'a> Nodes<'a> {
    pub fn new(store: &'a Store) -> Self {
        Nodes { store }
    }

    fn doc(&self) -> Result<NodesDoc, StoreError> {
        Ok(self.store.get_setting(NODES_KEY)?.unwrap_or_default())
    }

    pub fn list(&self) -> Result<Vec<NodeConfig>, StoreError> {
        Ok(self.doc()?.nodes)
    }

    pub fn get(&self, id: &str) -> Result<Option<NodeConfig>, StoreError> {
        Ok(self.doc()?.nodes.into_iter().find(|n| n.id == id))
    }

    pub fn secrets(&self, id: &str) -> Result<NodeSecrets, StoreError> {
        Ok(NodeSecrets {
            password: self
                .store
                .get_secret(&secret_name(id, "password"))?
                .unwrap_or_default(),
            token_value: self
                .store
                .get_secret(&secret_name(id, "tokenValue"))?
                .unwrap_or_default(),
        })
    }

    /// Adds a node (its id is assigned here) with its credentials, in one commit.
    pub fn add(
        &self,
        mut node: NodeConfig,
        secrets: &NodeSecrets,
    ) -> Result<NodeConfig, StoreError> {
        let mut doc = self.doc()?;
        node.id = format!("{}-{}", node.kind.as_str(), doc.next_id);
        doc.next_id += 1;
        doc.nodes.push(node.clone());
        self.save(&doc, &node.id, secrets)?;
        Ok(node)
    }

    /// Replaces a node's settings; empty secrets keep the stored ones.
    pub fn update(&self, node: NodeConfig, secrets: &NodeSecrets) -> Result<bool, StoreError> {
        let mut doc = self.doc()?;
        let Some(slot) = doc.nodes.iter_mut().find(|n| n.id == node.id) else {
            return Ok(false);
        };
        *slot = node.clone();
        self.save(&doc, &node.id, secrets)?;
        Ok(true)
    }

    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut doc = self.doc()?;
        let before = doc.nodes.len();
        doc.nodes.retain(|n| n.id != id);
        if doc.nodes.len() == before {
            return Ok(false);
        }
        let value = serde_json::to_value(&doc).map_err(|e| StoreError::BadValue {
            key: NODES_KEY.into(),
            reason: e.to_string(),
        })?;
        let (p, t) = (secret_name(id, "password"), secret_name(id, "tokenValue"));
        self.store
            .write_batch(&[(NODES_KEY, &value)], &[], &[&p, &t])?;
        Ok(true)
    }

    fn save(&self, doc: &NodesDoc, id: &str, secrets: &NodeSecrets) -> Result<(), StoreError> {
        let value = serde_json::to_value(doc).map_err(|e| StoreError::BadValue {
            key: NODES_KEY.into(),
            reason: e.to_string(),
        })?;
        let (p, t) = (secret_name(id, "password"), secret_name(id, "tokenValue"));
        let mut puts = Vec::new();
        if !secrets.password.is_empty() {
            puts.push((p.as_str(), secrets.password.as_str()));
        }
        if !secrets.token_value.is_empty() {
            puts.push((t.as_str(), secrets.token_value.as_str()));
        }
        self.store.write_batch(&[(NODES_KEY, &value)], &puts, &[])
    }
}

/// What `GET /api/config/nodes` shows of a node: never a secret, only whether one is set.
pub fn view(node: &NodeConfig, secrets: &NodeSecrets, status: &str) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": node.id,
        "type": node.kind.as_str(),
        "name": node.name,
        "host": node.host,
        "hasPassword": !secrets.password.is_empty(),
        "hasToken": !secrets.token_value.is_empty(),
        "verifySSL": node.verify_ssl,
        "status": status,
    });
    let obj = v.as_object_mut().expect("a JSON object literal");
    for (k, val) in [
        ("guestURL", &node.guest_url),
        ("user", &node.user),
        ("tokenName", &node.token_name),
        ("fingerprint", &node.fingerprint),
    ] {
        if !val.is_empty() {
            obj.insert(k.into(), val.clone().into());
        }
    }
    for (k, val) in &node.monitor {
        obj.insert(k.clone(), (*val).into());
    }
    if let Some(t) = node.temperature_monitoring_enabled {
        obj.insert("temperatureMonitoringEnabled".into(), t.into());
    }
    v
}
