//! Demo (mock) mode: the Proxmox simulator runs in-process on loopback and is monitored
//! through the real clients and pollers — the same path as a real cluster. While it is on,
//! it replaces the configured nodes in monitoring; the stored node configuration is never
//! touched, so switching it off brings the real nodes back.

use crate::nodes::{NodeConfig, NodeSecrets};
use crate::poller::scheduler::Kind;
use crate::sim;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// The size of the simulated fleet (`config` of `/api/system/mock-mode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DemoConfig {
    /// Nodes per cluster.
    pub node_count: usize,
    pub vms_per_node: usize,
    pub lxcs_per_node: usize,
    pub clusters: usize,
    pub standalone: usize,
    pub pbs: usize,
    pub pmg: usize,
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            node_count: 3,
            vms_per_node: 5,
            lxcs_per_node: 5,
            clusters: 1,
            standalone: 1,
            pbs: 1,
            pmg: 1,
            seed: 1,
        }
    }
}

impl DemoConfig {
    /// Bounds keep a typo from asking the simulator for millions of guests.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        if !(1..=50).contains(&self.node_count) {
            return bad("nodeCount", "must be 1 to 50");
        }
        if self.vms_per_node > 500 || self.lxcs_per_node > 500 {
            return bad(
                "vmsPerNode",
                "vmsPerNode and lxcsPerNode must be at most 500",
            );
        }
        if self.clusters > 10 || self.standalone > 10 || self.pbs > 10 || self.pmg > 10 {
            return bad(
                "clusters",
                "clusters, standalone, pbs and pmg must be at most 10 each",
            );
        }
        if self.clusters + self.standalone + self.pbs + self.pmg == 0 {
            return bad("clusters", "the fleet would be empty");
        }
        Ok(())
    }
}

struct Running {
    handle: sim::SimHandle,
    nodes: Vec<(NodeConfig, NodeSecrets)>,
}

#[derive(Default)]
pub struct Demo {
    config: Mutex<DemoConfig>,
    running: tokio::sync::Mutex<Option<Running>>,
    /// The demo's instances, readable without awaiting (the monitor reload is sync).
    nodes: Mutex<Option<Vec<(NodeConfig, NodeSecrets)>>>,
}

impl Demo {
    pub fn config(&self) -> DemoConfig {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_config(&self, c: DemoConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = c;
    }

    pub fn enabled(&self) -> bool {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The nodes to monitor instead of the configured ones, while enabled.
    pub fn nodes(&self) -> Option<Vec<(NodeConfig, NodeSecrets)>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts the simulator (a restart when it already runs, so a new config applies).
    pub async fn enable(&self) -> Result<(), String> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.take() {
            r.handle.stop().await;
        }
        let c = self.config();
        let spec = sim::fleet::FleetSpec {
            seed: c.seed,
            clusters: c.clusters,
            nodes: c.node_count,
            guests: c.node_count * (c.vms_per_node + c.lxcs_per_node),
            standalone: c.standalone,
            pbs: c.pbs,
            pmg: c.pmg,
            genesis: crate::model::time::now_ms() / 1000,
        };
        let cfg = sim::SimConfig {
            listen: "127.0.0.1:0"
                .parse()
                .map_err(|_| "bad listen address".to_string())?,
            spec,
            plain_http: false,
            faults: Vec::new(),
            clock: None,
            fleet: None,
        };
        let handle = sim::start(cfg).await.map_err(|e| e.to_string())?;
        let nodes: Vec<(NodeConfig, NodeSecrets)> =
            handle.instances().iter().map(node_of).collect();
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = Some(nodes.clone());
        *running = Some(Running { handle, nodes });
        Ok(())
    }

    pub async fn disable(&self) {
        let mut running = self.running.lock().await;
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(r) = running.take() {
            r.handle.stop().await;
        }
    }

    /// `GET /api/system/mock-mode`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({"enabled": self.enabled(), "config": self.config()})
    }

    /// How many simulated instances run (for logs).
    pub async fn instance_count(&self) -> usize {
        self.running
            .lock()
            .await
            .as_ref()
            .map_or(0, |r| r.nodes.len())
    }
}

/// A simulated instance as a node configuration: API token where the product has one,
/// the certificate pinned by fingerprint (so demo mode exercises the pinning path).
fn node_of(i: &sim::InstanceInfo) -> (NodeConfig, NodeSecrets) {
    let kind = match i.kind {
        sim::auth::Product::Pve => Kind::Pve,
        sim::auth::Product::Pbs => Kind::Pbs,
        sim::auth::Product::Pmg => Kind::Pmg,
    };
    let (user, token_name, password, token_value) = match (&i.token_id, &i.token_value) {
        (Some(id), Some(v)) => (String::new(), id.clone(), String::new(), v.clone()),
        _ => (
            i.user.clone(),
            String::new(),
            i.password.clone(),
            String::new(),
        ),
    };
    let node = NodeConfig {
        id: format!("demo-{}", i.name),
        kind,
        name: i.name.clone(),
        host: i.url.clone(),
        guest_url: String::new(),
        user,
        token_name,
        fingerprint: i.fingerprint.clone().unwrap_or_default(),
        verify_ssl: false,
        monitor: crate::nodes::monitor_defaults(kind)
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        temperature_monitoring_enabled: None,
    };
    (
        node,
        NodeSecrets {
            password,
            token_value,
        },
    )
}
