//! Per-guest metadata kept by Pulse (not Proxmox): a console URL, free-text notes and tags,
//! plus the guest's last known name/type so a record stays readable after the guest is gone.
//!
//! Records live in the `guest_metadata` table, one JSON document per guest id. Every write
//! is one redb transaction (read, merge, write), so a failed write leaves the old record.

use crate::store::tables::GUEST_METADATA;
use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Longest accepted console URL (bytes), as browsers and proxies commonly cap URLs near it.
pub const MAX_URL: usize = 2048;
/// Longest accepted notes text (bytes).
pub const MAX_NOTES: usize = 10 * 1024;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG: usize = 64;
/// Longest guest id / last-known name or type (bytes).
pub const MAX_ID: usize = 256;

/// The stored record; field names as the reference's `guest_metadata.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestMetadata {
    pub id: String,
    #[serde(default)]
    pub custom_url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_type: Option<String>,
}

impl GuestMetadata {
    /// An empty record for `id` (what a GET of an unknown guest returns).
    pub fn empty(id: &str) -> Self {
        GuestMetadata {
            id: id.into(),
            ..Default::default()
        }
    }

    /// The API view: the reference's fields plus the API.md aliases `consoleUrl` and
    /// `notes`, so clients of either document read what they expect.
    pub fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["consoleUrl"] = self.custom_url.clone().into();
        v["notes"] = self.description.clone().into();
        v
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent key.
fn explicit<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A PUT/POST body. Absent keys keep the stored value; `null` or `""`/`[]` clears it.
/// `consoleUrl`/`notes` are accepted as aliases of `customUrl`/`description`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Update {
    /// Echoed back by clients that send the whole record; the path decides the id.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "explicit")]
    pub custom_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "explicit")]
    pub console_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "explicit")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "explicit")]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "explicit")]
    pub tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "explicit")]
    pub last_known_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "explicit")]
    pub last_known_type: Option<Option<String>>,
}

/// A field problem: (the key the client sent, what is wrong).
pub type FieldError = (String, String);

/// One of two alias keys; both given with different values is an error.
fn pick(
    a: (&str, &Option<Option<String>>),
    b: (&str, &Option<Option<String>>),
    errs: &mut Vec<FieldError>,
) -> Option<(String, String)> {
    let norm = |v: &Option<String>| v.clone().unwrap_or_default().trim().to_string();
    match (a.1, b.1) {
        (Some(x), Some(y)) if norm(x) != norm(y) => {
            errs.push((
                b.0.into(),
                format!("conflicts with {}; send one of them", a.0),
            ));
            None
        }
        (Some(x), _) => Some((a.0.into(), norm(x))),
        (None, Some(y)) => Some((b.0.into(), norm(y))),
        (None, None) => None,
    }
}

fn has_control(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
}

/// Checks a console URL: empty (clears) or an absolute http(s) URL with a host. Anything
/// else (`javascript:`, `data:`, relative paths) could run script or mislead when the UI
/// renders it as a link.
pub fn check_url(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Ok(());
    }
    if raw.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let u = url::Url::parse(raw)
        .map_err(|e| format!("must be an absolute http:// or https:// URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "must use http:// or https:// (got {}:)",
            u.scheme()
        ));
    }
    match u.host_str() {
        None | Some("") => Err("must include a host, e.g. https://192.168.1.10:8006".into()),
        Some(h) if h.ends_with('.') => Err(format!("host '{h}' is incomplete")),
        Some(_) => Ok(()),
    }
}

fn check_text(key: &str, v: &str, max: usize, newlines: bool, errs: &mut Vec<FieldError>) -> bool {
    if v.len() > max {
        errs.push((key.into(), format!("must be at most {max} bytes")));
        false
    } else if has_control(v, newlines) {
        errs.push((key.into(), "must not contain control characters".into()));
        false
    } else {
        true
    }
}

/// Checks a guest id taken from the URL path.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        Err("Guest ID required".into())
    } else if id.len() > MAX_ID {
        Err(format!("Guest ID must be at most {MAX_ID} characters"))
    } else if has_control(id, false) || id.contains('/') {
        Err("Guest ID contains invalid characters".into())
    } else {
        Ok(())
    }
}

/// The validated changes an `Update` asks for (`None` = keep the stored value).
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub custom_url: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub last_known_name: Option<Option<String>>,
    pub last_known_type: Option<Option<String>>,
}

impl Update {
    /// Validates every field, reporting each bad one under the key the client used.
    pub fn validate(self) -> Result<Changes, Vec<FieldError>> {
        let mut errs = Vec::new();
        let mut out = Changes::default();
        if let Some(id) = &self.id
            && !(id.is_string() || id.is_null())
        {
            errs.push(("id".into(), "must be a string".into()));
        }
        if let Some((key, url)) = pick(
            ("customUrl", &self.custom_url),
            ("consoleUrl", &self.console_url),
            &mut errs,
        ) {
            match check_url(&url) {
                Ok(()) => out.custom_url = Some(url),
                Err(m) => errs.push((key, m)),
            }
        }
        if let Some((key, text)) = pick(
            ("description", &self.description),
            ("notes", &self.notes),
            &mut errs,
        ) && check_text(&key, &text, MAX_NOTES, true, &mut errs)
        {
            out.description = Some(text);
        }
        if let Some(tags) = self.tags {
            let tags: Vec<String> = tags
                .unwrap_or_default()
                .iter()
                .map(|t| t.trim().to_string())
                .collect();
            let mut clean: Vec<String> = Vec::new();
            let mut ok = true;
            if tags.len() > MAX_TAGS {
                errs.push(("tags".into(), format!("at most {MAX_TAGS} tags")));
                ok = false;
            }
            for t in &tags {
                if t.is_empty() {
                    errs.push(("tags".into(), "tags must not be empty".into()));
                    ok = false;
                    break;
                }
                if !check_text("tags", t, MAX_TAG, false, &mut errs) {
                    ok = false;
                    break;
                }
                if !clean.contains(t) {
                    clean.push(t.clone());
                }
            }
            if ok {
                out.tags = Some(clean);
            }
        }
        for (key, val, slot) in [
            (
                "lastKnownName",
                self.last_known_name,
                &mut out.last_known_name,
            ),
            (
                "lastKnownType",
                self.last_known_type,
                &mut out.last_known_type,
            ),
        ] {
            if let Some(v) = val {
                let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
                if v.as_deref()
                    .is_none_or(|s| check_text(key, s, MAX_ID, false, &mut errs))
                {
                    *slot = Some(v);
                }
            }
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }
}

impl Changes {
    /// Applies the changes to `rec` (a stored record or a fresh one).
    pub fn apply(self, rec: &mut GuestMetadata) {
        if let Some(v) = self.custom_url {
            rec.custom_url = v;
        }
        if let Some(v) = self.description {
            rec.description = v;
        }
        if let Some(v) = self.tags {
            rec.tags = v;
        }
        if let Some(v) = self.last_known_name {
            rec.last_known_name = v;
        }
        if let Some(v) = self.last_known_type {
            rec.last_known_type = v;
        }
    }
}

fn parse(id: &str, json: &str) -> Result<GuestMetadata, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::BadValue {
        key: format!("guest_metadata/{id}"),
        reason: e.to_string(),
    })
}

/// Every stored record by guest id.
pub fn list(store: &Store) -> Result<BTreeMap<String, GuestMetadata>, StoreError> {
    let rx = store.database().begin_read().map_err(StoreError::db)?;
    let t = rx.open_table(GUEST_METADATA).map_err(StoreError::db)?;
    let mut out = BTreeMap::new();
    for row in t.iter().map_err(StoreError::db)? {
        let (k, v) = row.map_err(StoreError::db)?;
        out.insert(k.value().to_string(), parse(k.value(), v.value())?);
    }
    Ok(out)
}

pub fn get(store: &Store, id: &str) -> Result<Option<GuestMetadata>, StoreError> {
    let rx = store.database().begin_read().map_err(StoreError::db)?;
    let t = rx.open_table(GUEST_METADATA).map_err(StoreError::db)?;
    let Some(v) = t.get(id).map_err(StoreError::db)? else {
        return Ok(None);
    };
    parse(id, v.value()).map(Some)
}

/// Merges `changes` into the record for `id` (creating it) in one transaction; `live`
/// (name, type) from the current state refreshes the last-known identity.
pub fn update(
    store: &Store,
    id: &str,
    changes: Changes,
    live: Option<(String, String)>,
) -> Result<GuestMetadata, StoreError> {
    let tx = store.database().begin_write().map_err(StoreError::db)?;
    let rec = {
        let mut t = tx.open_table(GUEST_METADATA).map_err(StoreError::db)?;
        let old = t
            .get(id)
            .map_err(StoreError::db)?
            .map(|v| v.value().to_string());
        let mut rec = match old {
            Some(json) => parse(id, &json)?,
            None => GuestMetadata::empty(id),
        };
        rec.id = id.to_string();
        changes.apply(&mut rec);
        if let Some((name, kind)) = live {
            rec.last_known_name = Some(name).filter(|s| !s.is_empty());
            rec.last_known_type = Some(kind).filter(|s| !s.is_empty());
        }
        let json = serde_json::to_string(&rec).map_err(|e| StoreError::BadValue {
            key: format!("guest_metadata/{id}"),
            reason: e.to_string(),
        })?;
        t.insert(id, json.as_str()).map_err(StoreError::db)?;
        rec
    };
    tx.commit().map_err(StoreError::db)?;
    Ok(rec)
}

/// Removes the record; true when there was one.
pub fn delete(store: &Store, id: &str) -> Result<bool, StoreError> {
    let tx = store.database().begin_write().map_err(StoreError::db)?;
    let existed = tx
        .open_table(GUEST_METADATA)
        .map_err(StoreError::db)?
        .remove(id)
        .map_err(StoreError::db)?
        .is_some();
    tx.commit().map_err(StoreError::db)?;
    Ok(existed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(j: serde_json::Value) -> Result<Changes, Vec<FieldError>> {
        serde_json::from_value::<Update>(j).unwrap().validate()
    }

    #[test]
    fn urls_must_be_absolute_http() {
        for ok in ["", "https://a.example/x?y=1", "http://192.168.1.10:8006/"] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "ftp://h/",
            "/relative",
            "https://",
            "https://emby.",
            "https://a b/",
            "JAVASCRIPT:alert(1)",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://h/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn aliases_map_and_conflicts_are_named() {
        let c = upd(serde_json::json!({"consoleUrl": "https://h/", "notes": "n"})).unwrap();
        assert_eq!(c.custom_url.as_deref(), Some("https://h/"));
        assert_eq!(c.description.as_deref(), Some("n"));
        let e = upd(serde_json::json!({"customUrl": "https://a/", "consoleUrl": "https://b/"}))
            .unwrap_err();
        assert_eq!(e[0].0, "consoleUrl");
        let e = upd(serde_json::json!({"consoleUrl": "javascript:x"})).unwrap_err();
        assert_eq!(e[0].0, "consoleUrl");
        let e = upd(serde_json::json!({"customUrl": "javascript:x"})).unwrap_err();
        assert_eq!(e[0].0, "customUrl");
    }

    #[test]
    fn null_clears_absent_keeps() {
        let c = upd(serde_json::json!({"notes": null})).unwrap();
        assert_eq!(c.description.as_deref(), Some(""));
        assert_eq!(c.custom_url, None);
        assert_eq!(c.tags, None);
    }

    #[test]
    fn limits_are_enforced() {
        let e = upd(serde_json::json!({"notes": "x".repeat(MAX_NOTES + 1)})).unwrap_err();
        assert_eq!(e[0].0, "notes");
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(upd(serde_json::json!({ "tags": many })).is_err());
        assert!(upd(serde_json::json!({"tags": ["x".repeat(MAX_TAG + 1)]})).is_err());
        assert!(upd(serde_json::json!({"tags": [" "]})).is_err());
        let c = upd(serde_json::json!({"tags": ["a", " a ", "b"]})).unwrap();
        assert_eq!(c.tags, Some(vec!["a".into(), "b".into()]));
        assert!(serde_json::from_value::<Update>(serde_json::json!({"bogus": 1})).is_err());
        assert!(serde_json::from_value::<Update>(serde_json::json!({"tags": "a"})).is_err());
    }

    #[test]
    fn update_merges_and_delete_removes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = upd(serde_json::json!({"consoleUrl": "https://h/", "tags": ["a"]})).unwrap();
        update(&store, "pve-100", c, Some(("web".into(), "qemu".into()))).unwrap();
        let c = upd(serde_json::json!({"notes": "hello"})).unwrap();
        let r = update(&store, "pve-100", c, None).unwrap();
        assert_eq!(r.custom_url, "https://h/");
        assert_eq!(r.description, "hello");
        assert_eq!(r.tags, vec!["a".to_string()]);
        assert_eq!(r.last_known_name.as_deref(), Some("web"));
        assert_eq!(list(&store).unwrap().len(), 1);
        let v = r.view();
        assert_eq!(v["consoleUrl"], "https://h/");
        assert_eq!(v["notes"], "hello");
        assert!(delete(&store, "pve-100").unwrap());
        assert!(!delete(&store, "pve-100").unwrap());
        assert_eq!(get(&store, "pve-100").unwrap(), None);
    }
}
