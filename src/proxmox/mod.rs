//! Blocking API clients for Proxmox VE, Proxmox Backup Server and Proxmox Mail Gateway.
//!
//! Layers, bottom up: `tls` (certificate modes) + `connector` (ureq glue) → `http` (transport,
//! timeouts, base URL) → `client` (auth, status mapping, envelope) → `pve`/`pbs`/`pmg` (typed
//! calls returning the raw API types of `types`). See `docs/proxmox-clients.md`.

pub mod auth;
pub mod client;
mod connector;
pub mod de;
pub mod error;
pub mod http;
mod list;
pub mod pbs;
pub mod pmg;
pub mod pve;
pub mod resolver;
pub mod tls;
pub mod types;

pub use auth::{Clock, Credentials, ManualClock, SystemClock, TokenId};
pub use client::{ApiClient, CallOptions, ClientOptions};
pub use error::{ErrorKind, ProxmoxError};
pub use pbs::PbsClient;
pub use pmg::PmgClient;
pub use pve::PveClient;
pub use tls::TlsMode;

/// Which Proxmox product an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    Pve,
    Pbs,
    Pmg,
}

impl Product {
    /// Port added when the user typed a bare host name.
    pub fn default_port(self) -> u16 {
        match self {
            Product::Pve | Product::Pmg => 8006,
            Product::Pbs => 8007,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Product::Pve => "pve",
            Product::Pbs => "pbs",
            Product::Pmg => "pmg",
        }
    }
}
