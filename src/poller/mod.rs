//! Polling: when to poll each instance (`scheduler`), when to stop trying (`breaker`), the
//! injected clock they share, and the per-instance pollers that turn Proxmox API answers
//! into state fragments (`pve`, `pbs`, `pmg`, with the mapping rules in `map`).

pub mod breaker;
pub mod clock;
pub mod config;
pub mod endpoints;
pub mod map;
pub mod pbs;
pub mod pmg;
pub mod pool;
pub mod pve;
pub mod scheduler;
pub mod workers;

pub use config::{PbsInstanceConfig, PmgInstanceConfig, PveInstanceConfig};
pub use pbs::PbsPoller;
pub use pmg::PmgPoller;
pub use pve::PvePoller;
