//! Every table of `pulse.redb`, declared in one place. A table added here needs a migration
//! step in `migrate.rs` (bump `CURRENT_SCHEMA`) so that existing files gain it on open.

use redb::TableDefinition;

/// Bookkeeping: `schema_version` (u32 LE) and `key_check` (a sealed canary proving the key).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Persisted settings, one JSON document per key (`system` holds SystemSettings).
pub const SETTINGS: TableDefinition<&str, &str> = TableDefinition::new("settings");
/// Sealed secrets by name (`nonce ‖ ciphertext ‖ tag`); never stored in plain text.
pub const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// Active alerts by alert id: the engine's durable state (JSON of `alerts::engine::Tracked`),
/// so acknowledgements and start times survive restarts.
pub const ALERTS_ACTIVE: TableDefinition<&str, &str> = TableDefinition::new("alerts_active");
/// Alert history, oldest first: an increasing sequence number → JSON of `alerts::Alert`.
pub const ALERT_HISTORY: TableDefinition<u64, &str> = TableDefinition::new("alert_history");

pub const META_SCHEMA_VERSION: &str = "schema_version";
pub const META_KEY_CHECK: &str = "key_check";
