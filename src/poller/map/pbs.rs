//! PBS (spec §6): instance, datastores, backup snapshots.

use super::{finite, pct};
use crate::model::{PbsBackup, PbsDatastore, PbsNamespace};
use crate::proxmox::types::pbs::{BackupSnapshot, DatastoreStatus, Namespace};

pub fn instance_id(name: &str) -> String {
    format!("pbs-{name}")
}

/// PBS reports CPU as a fraction; the model field is a percent (the reference copies the
/// fraction, so a busy PBS showed 0.9 %).
pub fn cpu_percent(fraction: f64) -> f64 {
    finite(fraction).min(1.0) * 100.0
}

/// Namespaces with depth = number of `/` levels; the root (`""`) is always listed first.
pub fn namespaces(list: &[Namespace]) -> Vec<PbsNamespace> {
    let mut out: Vec<PbsNamespace> = list
        .iter()
        .map(|n| {
            let path = n.path().to_owned();
            PbsNamespace {
                depth: if path.is_empty() {
                    0
                } else {
                    path.matches('/').count() as u32 + 1
                },
                parent: Some(n.parent.clone()).filter(|p| !p.is_empty()),
                path,
            }
        })
        .collect();
    if !out.iter().any(|n| n.path.is_empty()) {
        out.insert(
            0,
            PbsNamespace {
                path: String::new(),
                parent: None,
                depth: 0,
            },
        );
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// One datastore from its status; a failed status call still lists the store (with the
/// error) rather than hiding it.
pub fn datastore(
    name: &str,
    status: Result<&DatastoreStatus, String>,
    dedup_fallback: Option<f64>,
    ns: Vec<PbsNamespace>,
) -> PbsDatastore {
    match status {
        Ok(s) => {
            let total = s
                .total
                .or(s.total_space)
                .filter(|t| *t > 0)
                .unwrap_or(s.used.saturating_add(s.avail));
            let used = s.used.min(total);
            PbsDatastore {
                name: name.to_owned(),
                total,
                used,
                free: s.avail,
                usage: pct(used, total),
                status: "available".into(),
                error: None,
                namespaces: ns,
                deduplication_factor: s
                    .dedup_factor()
                    .or(dedup_fallback)
                    .filter(|f| f.is_finite() && *f > 0.0),
            }
        }
        Err(e) => PbsDatastore {
            name: name.to_owned(),
            status: "unavailable".into(),
            error: Some(e),
            namespaces: ns,
            deduplication_factor: dedup_fallback,
            ..Default::default()
        },
    }
}

pub fn backup(instance: &str, store: &str, ns: &str, s: &BackupSnapshot) -> PbsBackup {
    PbsBackup {
        id: format!(
            "pbs-{instance}-{store}-{ns}-{}-{}-{}",
            s.backup_type, s.backup_id, s.backup_time
        ),
        instance: instance.to_owned(),
        datastore: store.to_owned(),
        namespace: ns.to_owned(),
        backup_type: s.backup_type.clone(),
        vmid: s.backup_id.clone(),
        backup_time: super::secs_to_ms(s.backup_time),
        size: s.size.unwrap_or(0),
        protected: s.protected,
        verified: s.verification.as_ref().is_some_and(|v| v.state == "ok"),
        comment: Some(s.comment.clone()).filter(|c| !c.is_empty()),
        files: s.files.iter().map(|f| f.filename.clone()).collect(),
        owner: Some(s.owner.clone()).filter(|o| !o.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_get_root_and_depth() {
        let ns = |p: &str, parent: &str| Namespace {
            ns: p.into(),
            parent: parent.into(),
            ..Default::default()
        };
        let out = namespaces(&[ns("prod/web", "prod"), ns("prod", "")]);
        assert_eq!(
            out.iter()
                .map(|n| (n.path.as_str(), n.depth))
                .collect::<Vec<_>>(),
            [("", 0), ("prod", 1), ("prod/web", 2)]
        );
    }

    #[test]
    fn datastore_numbers_and_dedup() {
        let s = DatastoreStatus {
            total: Some(1000),
            used: 250,
            avail: 750,
            deduplication_factor: Some(3.5),
            ..Default::default()
        };
        let d = datastore("store1", Ok(&s), Some(2.0), vec![]);
        assert_eq!((d.total, d.used, d.free, d.usage), (1000, 250, 750, 25.0));
        assert_eq!(d.deduplication_factor, Some(3.5));
        let s = DatastoreStatus {
            used: 100,
            avail: 300,
            ..Default::default()
        };
        let d = datastore("s", Ok(&s), Some(2.0), vec![]);
        assert_eq!((d.total, d.deduplication_factor), (400, Some(2.0)));
        let d = datastore("s", Err("HTTP 500".into()), None, vec![]);
        assert_eq!(d.error.as_deref(), Some("HTTP 500"));
        assert_eq!(cpu_percent(0.25), 25.0);
    }
}
