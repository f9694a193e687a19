//! The Proxmox simulator (`pulse simulate`): PVE clusters, PBS and PMG served over real HTTPS
//! from a deterministic fleet model, with authentication, fault injection, request accounting
//! and a ground-truth side channel. Usable in-process through [`start`].

pub mod accounting;
pub mod admin;
pub mod api;
pub mod auth;
pub mod clock;
pub mod dynamics;
pub mod faults;
pub mod fleet;
pub mod net;
pub mod noise;
pub mod pbs;
pub mod pmg;
pub mod pve;
pub mod tls;
pub mod truth;

use accounting::Accounting;
use auth::{Credentials, Product};
use clock::Clock;
use faults::{FaultError, FaultPatch, FaultSet};
use fleet::{Fleet, FleetSpec};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// First port; instance i listens on port + i, the admin endpoint after the last instance.
    /// Port 0 gives every listener its own free port.
    pub listen: SocketAddr,
    pub spec: FleetSpec,
    pub plain_http: bool,
    pub faults: Vec<FaultPatch>,
    /// Injected clock (default: wall clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// Injected fleet (default: generated from `spec`).
    pub fleet: Option<Fleet>,
}

/// One line of the stdout document. Key names are a contract with scripts: keep them stable.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub kind: Product,
    pub name: String,
    pub url: String,
    pub user: String,
    pub password: String,
    pub token_id: Option<String>,
    pub token_value: Option<String>,
    pub fingerprint: Option<String>,
    /// A token with audit-only rights (403 on guest and datastore endpoints).
    pub limited_token_id: Option<String>,
    pub limited_token_value: Option<String>,
    /// PVE: node names of the cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimDoc {
    pub instances: Vec<InstanceInfo>,
    pub admin: String,
}

pub struct Instance {
    pub name: String,
    pub product: Product,
    /// Index into the fleet's pve/pbs/pmg list.
    pub index: usize,
    pub creds: Credentials,
    pub addr: SocketAddr,
    pub cert: Option<Arc<tls::SwappableCert>>,
    pub faults: Mutex<FaultSet>,
    pub requests: AtomicU64,
    pub down: watch::Sender<bool>,
}

pub struct SimState {
    pub seed: u64,
    pub fleet: RwLock<Fleet>,
    pub clock: Arc<dyn Clock>,
    pub instances: Vec<Instance>,
    pub accounting: Accounting,
    pub shutdown: watch::Receiver<bool>,
    pub doc: RwLock<SimDoc>,
    pub ip: String,
}

impl SimState {
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    pub fn faults_of(&self, i: &Instance) -> FaultSet {
        i.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Applies a fault patch to one instance or all; node names are checked against the fleet.
    pub fn apply_faults(&self, p: &FaultPatch) -> Result<Vec<String>, FaultError> {
        p.validate()?;
        let targets: Vec<&Instance> = match &p.instance {
            Some(n) => vec![
                self.instance(n)
                    .ok_or_else(|| FaultError::Instance(n.clone()))?,
            ],
            None => self.instances.iter().collect(),
        };
        if let Ok(fleet) = self.fleet.read() {
            for t in &targets {
                for n in p
                    .offline_nodes
                    .iter()
                    .flatten()
                    .chain(p.online_nodes.iter().flatten())
                {
                    let known =
                        t.product == Product::Pve && fleet.pve[t.index].node_index(n).is_some();
                    if !known && p.instance.is_some() {
                        return Err(FaultError::Node(n.clone(), t.name.clone()));
                    }
                }
            }
        }
        let now = self.clock.now_secs();
        let mut changed = Vec::new();
        for t in targets {
            if let Ok(mut f) = t.faults.lock() {
                let mut q = p.clone();
                // without an instance, node names only apply where they exist
                if p.instance.is_none()
                    && let Ok(fleet) = self.fleet.read()
                {
                    let has = |n: &String| {
                        t.product == Product::Pve && fleet.pve[t.index].node_index(n).is_some()
                    };
                    q.offline_nodes = p
                        .offline_nodes
                        .as_ref()
                        .map(|v| v.iter().filter(|n| has(n)).cloned().collect());
                    q.online_nodes = p
                        .online_nodes
                        .as_ref()
                        .map(|v| v.iter().filter(|n| has(n)).cloned().collect());
                }
                q.apply(&mut f, now);
                let _ = t.down.send(f.down);
            }
            if p.rotate_certificate == Some(true)
                && let Some(c) = &t.cert
            {
                match c.rotate() {
                    Ok(fp) => {
                        if let Ok(mut d) = self.doc.write()
                            && let Some(e) = d.instances.iter_mut().find(|e| e.name == t.name)
                        {
                            e.fingerprint = Some(fp);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "certificate rotation failed"),
                }
            }
            changed.push(t.name.clone());
        }
        Ok(changed)
    }

    pub fn clear_faults(&self) {
        for i in &self.instances {
            if let Ok(mut f) = i.faults.lock() {
                // keep ticket state: clearing faults must not resurrect invalidated tickets
                let keep = (f.ticket_generation, f.tickets_not_before);
                *f = FaultSet {
                    ticket_generation: keep.0,
                    tickets_not_before: keep.1,
                    ..Default::default()
                };
            }
            let _ = i.down.send(false);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Cert(#[from] tls::CertError),
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("{0}")]
    Config(String),
}

/// A running simulator. Dropping it does not stop it: call [`SimHandle::stop`].
pub struct SimHandle {
    pub state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// The same document `pulse simulate` prints (fingerprints updated after rotations).
    pub fn doc(&self) -> SimDoc {
        self.state.doc.read().map(|d| d.clone()).unwrap_or(SimDoc {
            instances: vec![],
            admin: String::new(),
        })
    }
    pub fn instances(&self) -> Vec<InstanceInfo> {
        self.doc().instances
    }
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds every listener, then serves until [`SimHandle::stop`]. Must run inside a tokio runtime.
pub async fn start(cfg: SimConfig) -> Result<SimHandle, SimError> {
    let clock: Arc<dyn Clock> = cfg
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(clock::SystemClock::default()));
    let fleet = cfg
        .fleet
        .clone()
        .unwrap_or_else(|| Fleet::generate(&cfg.spec));
    let mut kinds: Vec<(String, Product, usize, Vec<String>)> = Vec::new();
    for (i, c) in fleet.pve.iter().enumerate() {
        kinds.push((
            c.name.clone(),
            Product::Pve,
            i,
            c.nodes.iter().map(|n| n.name.clone()).collect(),
        ));
    }
    for (i, p) in fleet.pbs.iter().enumerate() {
        kinds.push((p.name.clone(), Product::Pbs, i, vec![]));
    }
    for (i, p) in fleet.pmg.iter().enumerate() {
        kinds.push((p.name.clone(), Product::Pmg, i, vec![]));
    }
    let ip = cfg.listen.ip();
    let host = match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let port_for = |i: usize| -> Result<u16, SimError> {
        if cfg.listen.port() == 0 {
            return Ok(0);
        }
        u16::try_from(cfg.listen.port() as usize + i)
            .map_err(|_| SimError::Config("port range exceeds 65535".into()))
    };
    let mut listeners = Vec::new();
    for i in 0..=kinds.len() {
        let addr = SocketAddr::new(ip, port_for(i)?);
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| SimError::Bind(addr, e))?;
        listeners.push(l);
    }
    let scheme = if cfg.plain_http { "http" } else { "https" };
    let mut instances = Vec::new();
    let mut infos = Vec::new();
    for (k, (name, product, index, nodes)) in kinds.into_iter().enumerate() {
        let addr = listeners[k]
            .local_addr()
            .map_err(|e| SimError::Bind(SocketAddr::new(ip, 0), e))?;
        let cert = if cfg.plain_http {
            None
        } else {
            Some(tls::SwappableCert::new(vec![
                "localhost".into(),
                ip.to_string(),
                name.clone(),
            ])?)
        };
        let creds = Credentials::generate(product, fleet.seed, &name);
        infos.push(InstanceInfo {
            kind: product,
            name: name.clone(),
            url: format!("{scheme}://{host}:{}", addr.port()),
            user: creds.user.clone(),
            password: creds.password.clone(),
            token_id: creds.token_id.clone(),
            token_value: creds.token_secret.clone(),
            fingerprint: cert.as_ref().map(|c| c.fingerprint()),
            limited_token_id: creds.limited_token_id.clone(),
            limited_token_value: creds.limited_token_secret.clone(),
            nodes,
        });
        instances.push(Instance {
            name,
            product,
            index,
            creds,
            addr,
            cert,
            faults: Mutex::new(FaultSet::default()),
            requests: AtomicU64::new(0),
            down: watch::channel(false).0,
        });
    }
    let admin_listener = listeners
        .pop()
        .ok_or_else(|| SimError::Config("no admin listener".into()))?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|e| SimError::Bind(SocketAddr::new(ip, 0), e))?;
    let (tx, rx) = watch::channel(false);
    let state = Arc::new(SimState {
        seed: fleet.seed,
        fleet: RwLock::new(fleet),
        clock,
        instances,
        accounting: Accounting::default(),
        shutdown: rx,
        doc: RwLock::new(SimDoc {
            instances: infos,
            admin: format!("http://{host}:{}", admin_addr.port()),
        }),
        ip: ip.to_string(),
    });
    for p in &cfg.faults {
        state.apply_faults(p)?;
    }
    let mut tasks = Vec::new();
    for (k, l) in listeners.into_iter().enumerate() {
        let tls = match &state.instances[k].cert {
            Some(c) => Some(c.server_config()?),
            None => None,
        };
        tasks.push(tokio::spawn(net::serve_instance(state.clone(), k, l, tls)));
    }
    tasks.push(tokio::spawn(net::serve_admin(
        state.clone(),
        admin_listener,
    )));
    Ok(SimHandle {
        state,
        shutdown: tx,
        tasks,
    })
}
