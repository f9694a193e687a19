//! The one redb file, `<data>/pulse.redb`: opening (lock, key, migrations), typed access to
//! settings, and sealed secrets. Everything durable goes through here.

mod lock;
pub mod migrate;
pub mod tables;

use crate::crypto::{self, Sealer};
use redb::{Database, ReadableDatabase, ReadableTableMetadata};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use tables::*;

pub use lock::DirLock;

pub const DB_FILE: &str = "pulse.redb";
/// redb's page cache cap. Its default is large enough to dominate our RSS; settings and
/// queues are small, and metric writes are sequential, so a few MiB is plenty.
const CACHE_BYTES: usize = 4 << 20;
const KEY_CHECK_PLAIN: &[u8] = b"pulse-key-check-v1";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("data dir {dir} is in use by {holder}; stop it or choose another --data-dir")]
    InUse { dir: String, holder: String },
    #[error(
        "pulse.redb was written by a newer Pulse (schema {found}, this build supports up to {supported}); upgrade Pulse or restore a backup"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error(
        "encrypted data exists in {dir} but the key file .encryption.key is missing; restore it from backup (refusing to start rather than lose secrets)"
    )]
    KeyMissing { dir: String },
    #[error(
        "the key in {dir}/.encryption.key does not open the secrets in pulse.redb; restore the matching key file"
    )]
    KeyWrong { dir: String },
    #[error("{0}")]
    Crypto(#[from] crypto::CryptoError),
    #[error("database: {0}")]
    Db(String),
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(String),
    #[error("stored value {key} is not valid: {reason}")]
    BadValue { key: String, reason: String },
}

impl StoreError {
    pub(crate) fn db<E: Into<redb::Error>>(e: E) -> Self {
        let e: redb::Error = e.into();
        match e {
            redb::Error::DatabaseAlreadyOpen => StoreError::InUse {
                dir: "the data dir".into(),
                holder: "another process".into(),
            },
            redb::Error::Corrupted(m) => StoreError::Corrupt(m),
            other => StoreError::Db(other.to_string()),
        }
    }
}

#[derive(Debug)]
pub struct Store {
    db: Database,
    sealer: Sealer,
    dir: PathBuf,
    // Dropped last: the lock outlives the database handle.
    _lock: DirLock,
}

impl Store {
    /// Opens (creating when new) the store in `dir`: takes the dir lock, opens the file,
    /// migrates it, and loads or creates the sealing key.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        let lock = DirLock::acquire(dir)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join(DB_FILE))
            .map_err(StoreError::db)?;
        migrate::migrate(&db)?;
        let dir_s = dir.display().to_string();
        let has_sealed = has_sealed_data(&db)?;
        let key = match crypto::read_key(dir)? {
            Some(k) => k,
            None if has_sealed => return Err(StoreError::KeyMissing { dir: dir_s }),
            None => crypto::create_key(dir)?,
        };
        let sealer = Sealer::new(&key);
        let store = Store {
            db,
            sealer,
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        store.check_key()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Proves the key opens what is sealed (via the canary), writing the canary on first use.
    fn check_key(&self) -> Result<(), StoreError> {
        let canary = {
            let rx = self.db.begin_read().map_err(StoreError::db)?;
            let t = rx.open_table(META).map_err(StoreError::db)?;
            t.get(META_KEY_CHECK)
                .map_err(StoreError::db)?
                .map(|v| v.value().to_vec())
        };
        match canary {
            Some(c) => match self.sealer.open(&c) {
                Ok(p) if p == KEY_CHECK_PLAIN => Ok(()),
                _ => Err(StoreError::KeyWrong {
                    dir: self.dir.display().to_string(),
                }),
            },
            None => {
                let sealed = self.sealer.seal(KEY_CHECK_PLAIN);
                let tx = self.db.begin_write().map_err(StoreError::db)?;
                tx.open_table(META)
                    .map_err(StoreError::db)?
                    .insert(META_KEY_CHECK, sealed.as_slice())
                    .map_err(StoreError::db)?;
                tx.commit().map_err(StoreError::db)
            }
        }
    }

    pub fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let rx = self.db.begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(SETTINGS).map_err(StoreError::db)?;
        let Some(v) = t.get(key).map_err(StoreError::db)? else {
            return Ok(None);
        };
        serde_json::from_str(v.value())
            .map(Some)
            .map_err(|e| StoreError::BadValue {
                key: key.into(),
                reason: e.to_string(),
            })
    }

    pub fn put_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let json = serde_json::to_string(value).map_err(|e| StoreError::BadValue {
            key: key.into(),
            reason: e.to_string(),
        })?;
        let tx = self.db.begin_write().map_err(StoreError::db)?;
        tx.open_table(SETTINGS)
            .map_err(StoreError::db)?
            .insert(key, json.as_str())
            .map_err(StoreError::db)?;
        tx.commit().map_err(StoreError::db)
    }

    /// Seals `plain` and stores it under `name` (replacing any earlier value).
    pub fn put_secret(&self, name: &str, plain: &str) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(plain.as_bytes());
        let tx = self.db.begin_write().map_err(StoreError::db)?;
        tx.open_table(SECRETS)
            .map_err(StoreError::db)?
            .insert(name, sealed.as_slice())
            .map_err(StoreError::db)?;
        tx.commit().map_err(StoreError::db)
    }

    pub fn get_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let rx = self.db.begin_read().map_err(StoreError::db)?;
        let t = rx.open_table(SECRETS).map_err(StoreError::db)?;
        let Some(v) = t.get(name).map_err(StoreError::db)? else {
            return Ok(None);
        };
        let plain = self.sealer.open(v.value())?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::BadValue {
                key: name.into(),
                reason: "sealed secret is not UTF-8".into(),
            })
    }

    /// Writes settings documents and sealed secrets in one transaction: either all of it is
    /// committed or none (a node and its credentials never get out of step).
    pub fn write_batch(
        &self,
        settings: &[(&str, &serde_json::Value)],
        put_secrets: &[(&str, &str)],
        delete_secrets: &[&str],
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(StoreError::db)?;
        {
            let mut st = tx.open_table(SETTINGS).map_err(StoreError::db)?;
            for (k, v) in settings {
                let json = serde_json::to_string(v).map_err(|e| StoreError::BadValue {
                    key: k.to_string(),
                    reason: e.to_string(),
                })?;
                st.insert(*k, json.as_str()).map_err(StoreError::db)?;
            }
            let mut sec = tx.open_table(SECRETS).map_err(StoreError::db)?;
            for (name, plain) in put_secrets {
                let sealed = self.sealer.seal(plain.as_bytes());
                sec.insert(*name, sealed.as_slice())
                    .map_err(StoreError::db)?;
            }
            for name in delete_secrets {
                sec.remove(*name).map_err(StoreError::db)?;
            }
        }
        tx.commit().map_err(StoreError::db)
    }

    /// The sealer, for modules that seal values inside their own records.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// True when the file holds anything sealed, i.e. losing the key would lose data.
fn has_sealed_data(db: &Database) -> Result<bool, StoreError> {
    let rx = db.begin_read().map_err(StoreError::db)?;
    let meta = rx.open_table(META).map_err(StoreError::db)?;
    if meta.get(META_KEY_CHECK).map_err(StoreError::db)?.is_some() {
        return Ok(true);
    }
    let secrets = rx.open_table(SECRETS).map_err(StoreError::db)?;
    Ok(secrets.len().map_err(StoreError::db)? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_lands_in_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "PVEAPIToken-very-secret-value-1234567890";
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_secret("pve/main/token", secret).unwrap();
            assert_eq!(
                store.get_secret("pve/main/token").unwrap().as_deref(),
                Some(secret)
            );
        }
        let bytes = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        let hit = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!hit, "plain secret found in pulse.redb");
        // ...and it survives a reopen with the same key.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.get_secret("pve/main/token").unwrap().as_deref(),
            Some(secret)
        );
    }

    #[test]
    fn missing_or_wrong_key_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path())
            .unwrap()
            .put_secret("a", "b")
            .unwrap();
        let key_path = dir.path().join(crypto::KEY_FILE);
        let key = std::fs::read(&key_path).unwrap();
        std::fs::remove_file(&key_path).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::KeyMissing { .. }), "{err}");
        assert!(
            !key_path.exists(),
            "must not mint a new key over sealed data"
        );
        crypto::create_key(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::KeyWrong { .. }), "{err}");
        std::fs::write(&key_path, key).unwrap();
        assert_eq!(
            Store::open(dir.path())
                .unwrap()
                .get_secret("a")
                .unwrap()
                .as_deref(),
            Some("b")
        );
    }

    #[test]
    fn second_open_in_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
    }

    #[test]
    fn v1_file_opens_through_store() {
        let dir = tempfile::tempdir().unwrap();
        migrate::tests::write_v1_file(
            &dir.path().join(DB_FILE),
            &[("system", r#"{"logLevel":"warn"}"#)],
        );
        let store = Store::open(dir.path()).unwrap();
        let v: serde_json::Value = store.get_setting("system").unwrap().unwrap();
        assert_eq!(v["logLevel"], "warn");
        assert_eq!(
            migrate::read_version(store.database()).unwrap(),
            Some(migrate::CURRENT_SCHEMA)
        );
        store.put_secret("x", "y").unwrap();
    }

    #[test]
    fn corrupt_setting_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_setting("system", &"not an object").unwrap();
        let err = store
            .get_setting::<std::collections::BTreeMap<String, String>>("system")
            .unwrap_err();
        assert!(err.to_string().contains("system"));
    }
}
