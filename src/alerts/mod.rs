//! Alerts: what to check (`rules`), the pure clock-injected engine (`engine`), its config
//! (`config`), quiet hours (`quiet`), the alert object and events (`alert`), persistence in
//! redb (`persist`) and the server-side glue (`service`). spec/alerts.md has the facts.

pub mod alert;
pub mod config;
pub mod custom;
pub mod engine;
pub mod persist;
pub mod quiet;
pub mod rules;
pub mod service;

pub use alert::{Alert, AlertEvent, Level, ResolvedBy};
pub use config::AlertConfig;
pub use engine::Engine;
pub use service::Alerts;

#[cfg(test)]
mod tests;
