//! Schema versions and the steps between them. A step runs inside the same write transaction
//! that records the new version, so a crash mid-migration leaves the old file untouched.

use super::StoreError;
use super::tables::*;
use redb::{ReadableDatabase, TableError, WriteTransaction};

/// The schema this build writes.
///
/// - 1: `meta`, `settings`.
/// - 2: adds `secrets` (sealed values) and the `key_check` canary (written after migration).
/// - 3: adds `history_slots` and `history_series` (metric history rings).
/// - 4: adds `api_tokens`, `sessions`, `lockout`, `audit` (security).
/// - 5: adds `alerts_active` and `alert_history` (the alert engine's durable state).
/// - 6: new `history_slots` blob layout (500 series per blob, raw tier average-only); the old
///   blobs cannot be read with it, so the slots are emptied (see `v5_to_v6`).
/// - 7: adds `notify_queue` and `notify_audit` (the notification pipeline).
/// - 8: adds `guest_metadata` (console URL / notes per guest).
pub const CURRENT_SCHEMA: u32 = 8;

type Step = fn(&WriteTransaction) -> Result<(), redb::Error>;

/// `STEPS[i]` migrates version `i + 1` to `i + 2`.
const STEPS: &[Step] = &[
    v1_to_v2, v2_to_v3, v3_to_v4, v4_to_v5, v5_to_v6, v6_to_v7, v7_to_v8,
];

fn v1_to_v2(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(SECRETS)?;
    Ok(())
}

fn v2_to_v3(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(HISTORY_SLOTS)?;
    tx.open_table(HISTORY_SERIES)?;
    Ok(())
}

fn v3_to_v4(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(API_TOKENS)?;
    tx.open_table(SESSIONS)?;
    tx.open_table(LOCKOUT)?;
    tx.open_table(AUDIT)?;
    Ok(())
}

/// Self-contained: only creates the two alert tables (empty), touching nothing else.
fn v4_to_v5(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(ALERTS_ACTIVE)?;
    tx.open_table(ALERT_HISTORY)?;
    Ok(())
}

/// History blobs changed layout (128 → 500 series per blob, 8 → 4 bytes per raw point). The
/// old slots are dropped rather than converted: history is a cache of at most 31 days that
/// refills by itself, and a conversion would have to rewrite up to ~1 GiB in one transaction.
/// The series registry (names → indexes) is kept, so ids stay stable. Documented in
/// docs/history.md ("Upgrading").
fn v5_to_v6(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.delete_table(HISTORY_SLOTS)?;
    tx.open_table(HISTORY_SLOTS)?;
    Ok(())
}

/// Only creates the two notification tables (empty).
fn v6_to_v7(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(NOTIFY_QUEUE)?;
    tx.open_table(NOTIFY_AUDIT)?;
    Ok(())
}

/// Only creates the (empty) guest metadata table.
fn v7_to_v8(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(GUEST_METADATA)?;
    Ok(())
}

/// Creates every table of the current schema in a fresh file.
fn create_all(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(META)?;
    tx.open_table(SETTINGS)?;
    tx.open_table(SECRETS)?;
    tx.open_table(HISTORY_SLOTS)?;
    tx.open_table(HISTORY_SERIES)?;
    tx.open_table(API_TOKENS)?;
    tx.open_table(SESSIONS)?;
    tx.open_table(LOCKOUT)?;
    tx.open_table(AUDIT)?;
    tx.open_table(ALERTS_ACTIVE)?;
    tx.open_table(ALERT_HISTORY)?;
    tx.open_table(NOTIFY_QUEUE)?;
    tx.open_table(NOTIFY_AUDIT)?;
    tx.open_table(GUEST_METADATA)?;
    Ok(())
}

/// Reads the recorded schema version; `None` for a file that has never been initialised.
pub fn read_version(db: &redb::Database) -> Result<Option<u32>, StoreError> {
    let rx = db.begin_read().map_err(StoreError::db)?;
    let table = match rx.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(StoreError::db(e)),
    };
    let Some(v) = table.get(META_SCHEMA_VERSION).map_err(StoreError::db)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = v
        .value()
        .try_into()
        .map_err(|_| StoreError::Corrupt("schema_version is not a u32".into()))?;
    Ok(Some(u32::from_le_bytes(bytes)))
}

fn write_version(tx: &WriteTransaction, v: u32) -> Result<(), redb::Error> {
    tx.open_table(META)?
        .insert(META_SCHEMA_VERSION, v.to_le_bytes().as_slice())?;
    Ok(())
}

/// Brings the file to `CURRENT_SCHEMA`: initialises a new file, runs the steps for an older
/// one, refuses a newer one. Returns the version found (0 for a new file).
pub fn migrate(db: &redb::Database) -> Result<u32, StoreError> {
    let found = read_version(db)?;
    match found {
        Some(v) if v > CURRENT_SCHEMA => Err(StoreError::NewerSchema {
            found: v,
            supported: CURRENT_SCHEMA,
        }),
        Some(0) => Err(StoreError::Corrupt("schema_version 0".into())),
        Some(v) if v == CURRENT_SCHEMA => Ok(v),
        Some(v) => {
            let tx = db.begin_write().map_err(StoreError::db)?;
            for step in &STEPS[(v as usize - 1)..] {
                step(&tx).map_err(StoreError::db)?;
            }
            write_version(&tx, CURRENT_SCHEMA).map_err(StoreError::db)?;
            tx.commit().map_err(StoreError::db)?;
            tracing::info!(from = v, to = CURRENT_SCHEMA, "migrated pulse.redb schema");
            Ok(v)
        }
        None => {
            let tx = db.begin_write().map_err(StoreError::db)?;
            create_all(&tx).map_err(StoreError::db)?;
            write_version(&tx, CURRENT_SCHEMA).map_err(StoreError::db)?;
            tx.commit().map_err(StoreError::db)?;
            Ok(0)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a file exactly as schema version 1 did: meta + settings, nothing else.
    pub(crate) fn write_v1_file(path: &std::path::Path, settings: &[(&str, &str)]) {
        let db = redb::Database::create(path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(SETTINGS).unwrap();
            for (k, v) in settings {
                t.insert(*k, *v).unwrap();
            }
        }
        write_version(&tx, 1).unwrap();
        tx.commit().unwrap();
    }

    /// Writes a file exactly as schema version 3 did: meta, settings, secrets, history.
    pub(crate) fn write_v3_file(path: &std::path::Path, secret: (&str, &[u8])) {
        let db = redb::Database::create(path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(SETTINGS).unwrap();
        tx.open_table(HISTORY_SLOTS).unwrap();
        tx.open_table(HISTORY_SERIES).unwrap();
        tx.open_table(SECRETS)
            .unwrap()
            .insert(secret.0, secret.1)
            .unwrap();
        write_version(&tx, 3).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn v3_file_gains_security_tables_and_keeps_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulse.redb");
        write_v3_file(&path, ("node/a", b"sealed-bytes"));
        let db = redb::Database::create(&path).unwrap();
        assert_eq!(migrate(&db).unwrap(), 3);
        assert_eq!(read_version(&db).unwrap(), Some(CURRENT_SCHEMA));
        let rx = db.begin_read().unwrap();
        rx.open_table(API_TOKENS).expect("v4 adds api_tokens");
        rx.open_table(SESSIONS).expect("v4 adds sessions");
        rx.open_table(LOCKOUT).expect("v4 adds lockout");
        rx.open_table(AUDIT).expect("v4 adds audit");
        let s = rx.open_table(SECRETS).unwrap();
        assert_eq!(s.get("node/a").unwrap().unwrap().value(), b"sealed-bytes");
    }

    #[test]
    fn steps_cover_every_version() {
        assert_eq!(STEPS.len() as u32, CURRENT_SCHEMA - 1);
    }

    #[test]
    fn v1_file_migrates_and_keeps_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulse.redb");
        write_v1_file(&path, &[("system", r#"{"logLevel":"debug"}"#)]);
        let db = redb::Database::create(&path).unwrap();
        assert_eq!(migrate(&db).unwrap(), 1);
        assert_eq!(read_version(&db).unwrap(), Some(CURRENT_SCHEMA));
        let rx = db.begin_read().unwrap();
        rx.open_table(SECRETS).expect("v2 adds the secrets table");
        rx.open_table(HISTORY_SLOTS).expect("v3 adds history");
        rx.open_table(HISTORY_SERIES).expect("v3 adds history");
        let s = rx.open_table(SETTINGS).unwrap();
        assert_eq!(
            s.get("system").unwrap().unwrap().value(),
            r#"{"logLevel":"debug"}"#
        );
        drop((s, rx));
        assert_eq!(
            migrate(&db).unwrap(),
            CURRENT_SCHEMA,
            "second open is a no-op"
        );
    }

    #[test]
    fn v2_file_gains_the_alert_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulse.redb");
        // A v2 file: v1 + the secrets table, version 2.
        write_v1_file(&path, &[("system", r#"{"logLevel":"info"}"#)]);
        {
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            v1_to_v2(&tx).unwrap();
            tx.open_table(SECRETS)
                .unwrap()
                .insert("s", b"x".as_slice())
                .unwrap();
            write_version(&tx, 2).unwrap();
            tx.commit().unwrap();
        }
        let db = redb::Database::create(&path).unwrap();
        assert_eq!(migrate(&db).unwrap(), 2);
        assert_eq!(read_version(&db).unwrap(), Some(CURRENT_SCHEMA));
        let rx = db.begin_read().unwrap();
        use redb::ReadableTableMetadata;
        assert_eq!(rx.open_table(ALERTS_ACTIVE).unwrap().len().unwrap(), 0);
        assert_eq!(rx.open_table(ALERT_HISTORY).unwrap().len().unwrap(), 0);
        assert_eq!(rx.open_table(NOTIFY_QUEUE).unwrap().len().unwrap(), 0);
        assert_eq!(rx.open_table(NOTIFY_AUDIT).unwrap().len().unwrap(), 0);
        assert_eq!(rx.open_table(GUEST_METADATA).unwrap().len().unwrap(), 0);
        assert_eq!(rx.open_table(SECRETS).unwrap().len().unwrap(), 1);
        assert_eq!(
            rx.open_table(SETTINGS)
                .unwrap()
                .get("system")
                .unwrap()
                .unwrap()
                .value(),
            r#"{"logLevel":"info"}"#
        );
    }

    #[test]
    fn v5_history_slots_are_reset_and_everything_else_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulse.redb");
        write_v3_file(&path, ("node/a", b"sealed"));
        {
            // Bring it to v5 as that build did, then add old-layout history and an alert.
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            for step in &STEPS[2..4] {
                step(&tx).unwrap();
            }
            tx.open_table(HISTORY_SLOTS)
                .unwrap()
                .insert(7u64, [0u8; 1032].as_slice())
                .unwrap();
            tx.open_table(HISTORY_SERIES)
                .unwrap()
                .insert("g|cpu|vm1", [1u8; 12].as_slice())
                .unwrap();
            tx.open_table(ALERTS_ACTIVE)
                .unwrap()
                .insert("a1", "{}")
                .unwrap();
            write_version(&tx, 5).unwrap();
            tx.commit().unwrap();
        }
        let db = redb::Database::create(&path).unwrap();
        assert_eq!(migrate(&db).unwrap(), 5);
        assert_eq!(read_version(&db).unwrap(), Some(CURRENT_SCHEMA));
        let rx = db.begin_read().unwrap();
        use redb::ReadableTableMetadata;
        assert_eq!(
            rx.open_table(HISTORY_SLOTS).unwrap().len().unwrap(),
            0,
            "old-layout blobs are dropped"
        );
        assert_eq!(rx.open_table(HISTORY_SERIES).unwrap().len().unwrap(), 1);
        assert_eq!(rx.open_table(ALERTS_ACTIVE).unwrap().len().unwrap(), 1);
        assert_eq!(
            rx.open_table(SECRETS)
                .unwrap()
                .get("node/a")
                .unwrap()
                .unwrap()
                .value(),
            b"sealed"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("x.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        write_version(&tx, CURRENT_SCHEMA + 5).unwrap();
        tx.commit().unwrap();
        let err = migrate(&db).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found, .. } if found == CURRENT_SCHEMA + 5)
        );
        assert!(err.to_string().contains("newer"));
    }
}
