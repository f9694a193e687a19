//! JSON records in the `&str → &str` security tables (tokens, sessions, lockout): one place
//! for reading every row and for writing a batch of upserts and deletes in one immediate
//! commit.

use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub type Table = TableDefinition<'static, &'static str, &'static str>;

/// A row's key and its parsed record, or why it did not parse.
pub type Row<T> = (String, Result<T, String>);

/// Every row; a row that does not parse comes back as `Err(reason)` so the caller decides
/// whether to skip it, log it or delete it.
pub fn load<T: DeserializeOwned>(store: &Store, table: Table) -> Result<Vec<Row<T>>, StoreError> {
    let rx = store.database().begin_read().map_err(StoreError::db)?;
    let t = rx.open_table(table).map_err(StoreError::db)?;
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::db)? {
        let (k, v) = row.map_err(StoreError::db)?;
        let parsed = serde_json::from_str::<T>(v.value()).map_err(|e| e.to_string());
        out.push((k.value().to_string(), parsed));
    }
    Ok(out)
}

/// Applies `(key, Some(record))` upserts and `(key, None)` deletes in one commit.
/// `clear_first` empties the table inside the same transaction (replace-all).
pub fn write<T: Serialize>(
    store: &Store,
    table: Table,
    changes: &[(String, Option<T>)],
    clear_first: bool,
) -> Result<(), StoreError> {
    if changes.is_empty() && !clear_first {
        return Ok(());
    }
    let tx = store.database().begin_write().map_err(StoreError::db)?;
    {
        let mut t = tx.open_table(table).map_err(StoreError::db)?;
        if clear_first {
            t.retain(|_, _| false).map_err(StoreError::db)?;
        }
        for (k, rec) in changes {
            match rec {
                Some(rec) => {
                    let json = serde_json::to_string(rec).map_err(|e| StoreError::BadValue {
                        key: k.clone(),
                        reason: e.to_string(),
                    })?;
                    t.insert(k.as_str(), json.as_str())
                        .map_err(StoreError::db)?;
                }
                None => {
                    t.remove(k.as_str()).map_err(StoreError::db)?;
                }
            }
        }
    }
    tx.commit().map_err(StoreError::db)
}
