//! Every table of `pulse.redb`, declared in one place. A table added here needs a migration
//! step in `migrate.rs` (bump `CURRENT_SCHEMA`) so that existing files gain it on open.

use redb::TableDefinition;

/// Bookkeeping: `schema_version` (u32 LE) and `key_check` (a sealed canary proving the key).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Persisted settings, one JSON document per key (`system` holds SystemSettings).
pub const SETTINGS: TableDefinition<&str, &str> = TableDefinition::new("settings");
/// Sealed secrets by name (`nonce ‖ ciphertext ‖ tag`); never stored in plain text.
pub const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// Metric history slots (see `history`): key = tier ‖ ring slot ‖ series group (u64),
/// value = slot start (i64 LE) ‖ per series of the group: avg f32 (raw tier) or avg, max f32 (v6).
pub const HISTORY_SLOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("history_slots");
/// Metric history series registry: name → index (u32 LE) ‖ born (i64 LE, ms).
pub const HISTORY_SERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("history_series");
/// API tokens by id: JSON records holding only the SHA3-256 of each token (v4).
pub const API_TOKENS: TableDefinition<&str, &str> = TableDefinition::new("api_tokens");
/// Browser sessions by SHA3-256 of the cookie value: JSON records (v4).
pub const SESSIONS: TableDefinition<&str, &str> = TableDefinition::new("sessions");
/// Failed-login tracking by `user:<name>` / `ip:<addr>`: JSON records (v4).
pub const LOCKOUT: TableDefinition<&str, &str> = TableDefinition::new("lockout");
/// Security audit events by sequence number: JSON records, bounded (v4).
pub const AUDIT: TableDefinition<u64, &str> = TableDefinition::new("audit");
/// Active alerts by alert id: the engine's durable state (JSON of `alerts::engine::Tracked`, v5),
/// so acknowledgements and start times survive restarts.
pub const ALERTS_ACTIVE: TableDefinition<&str, &str> = TableDefinition::new("alerts_active");
/// Alert history, oldest first: an increasing sequence number → JSON of `alerts::Alert`.
pub const ALERT_HISTORY: TableDefinition<u64, &str> = TableDefinition::new("alert_history");

/// Notification queue by item id: JSON of `notify::queue::Item` (v6). Alerts only; channel
/// secrets stay sealed in `secrets` and are looked up at delivery time.
pub const NOTIFY_QUEUE: TableDefinition<&str, &str> = TableDefinition::new("notify_queue");
/// Notification delivery attempts by sequence number: JSON records, bounded (v6).
pub const NOTIFY_AUDIT: TableDefinition<u64, &str> = TableDefinition::new("notify_audit");

/// Guest metadata (console URL, notes, tags) by guest id: JSON of
/// `guest_metadata::GuestMetadata` (v8).
pub const GUEST_METADATA: TableDefinition<&str, &str> = TableDefinition::new("guest_metadata");

pub const META_SCHEMA_VERSION: &str = "schema_version";
pub const META_KEY_CHECK: &str = "key_check";
