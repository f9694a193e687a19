//! Pulse for Rust: monitors Proxmox VE, PBS, PMG and Docker hosts from one binary.

pub mod alerts;
mod alloc;
pub mod api;
pub mod auth;
pub mod cli;
pub mod crypto;
pub mod demo;
pub mod guest_metadata;
pub mod history;
pub mod logging;
pub mod model;
pub mod monitor;
pub mod nodes;
pub mod notify;
pub mod poller;
pub mod proxmox;
pub mod server;
pub mod settings;
pub mod sim;
pub mod store;
pub mod ui;
pub mod version;
