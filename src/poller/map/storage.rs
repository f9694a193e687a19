//! Storage (spec §5.7): per-node `/nodes/{node}/storage` numbers, `shared` from the cluster
//! `/storage` config, shared storages merged into one entry with a stable id.

use super::fs::is_read_only_type;
use super::pct;
use crate::model::Storage;
use crate::proxmox::types::pve::NodeStorage;
use std::collections::BTreeMap;

pub fn storage_id(instance: &str, node: &str, storage: &str) -> String {
    if instance == node {
        format!("{node}-{storage}")
    } else {
        format!("{instance}-{node}-{storage}")
    }
}

/// The id of a merged shared storage. The reference keeps whichever node answered first,
/// so the id (and its chart history) changed between polls; this one never does.
pub fn shared_id(instance: &str, storage: &str) -> String {
    format!("{instance}-cluster-{storage}")
}

pub fn sorted_content(raw: &str) -> String {
    let mut v: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

/// One node's view of one storage; `None` for read-only image filesystems.
pub fn map_storage(instance: &str, node: &str, s: &NodeStorage, shared: bool) -> Option<Storage> {
    if s.storage.is_empty() || is_read_only_type(&s.kind) {
        return None;
    }
    // Garbage or a storage reporting more used than total: keep usage within 0..100.
    let used = if s.total > 0 {
        s.used.min(s.total)
    } else {
        s.used
    };
    // The reference always says "available"; show what PVE actually reports.
    let status = if !s.enabled {
        "disabled"
    } else if !s.active {
        "inactive"
    } else {
        "available"
    };
    Some(Storage {
        id: storage_id(instance, node, &s.storage),
        storage: s.storage.clone(),
        name: s.storage.clone(),
        node: node.to_owned(),
        instance: instance.to_owned(),
        kind: s.kind.clone(),
        status: status.into(),
        total: s.total,
        used,
        avail: s.avail,
        free: s.avail,
        usage: pct(used, s.total),
        content: sorted_content(&s.content),
        shared: shared || s.shared,
        enabled: s.enabled,
        active: s.active,
        ..Default::default()
    })
}

/// Merges shared storages by name: one `node: "cluster"` entry listing the reporting nodes,
/// numbers from the report with the largest `used` (ties: larger `total`). Local storages pass
/// through. Output sorted by name, then node.
pub fn merge_shared(instance: &str, list: Vec<Storage>) -> Vec<Storage> {
    let mut out = Vec::new();
    let mut shared: BTreeMap<String, Vec<Storage>> = BTreeMap::new();
    for s in list {
        if s.shared {
            shared.entry(s.name.clone()).or_default().push(s);
        } else {
            out.push(s);
        }
    }
    for (name, reports) in shared {
        let mut nodes: Vec<String> = reports.iter().map(|s| s.node.clone()).collect();
        nodes.sort();
        nodes.dedup();
        let Some(best) = reports
            .iter()
            .max_by(|a, b| a.used.cmp(&b.used).then(a.total.cmp(&b.total)))
        else {
            continue;
        };
        let mut m = best.clone();
        m.id = shared_id(instance, &name);
        m.node = "cluster".into();
        m.node_ids = nodes.iter().map(|n| format!("{instance}-{n}")).collect();
        m.node_count = Some(nodes.len() as u32);
        m.nodes = nodes;
        out.push(m);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.node.cmp(&b.node)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str, kind: &str, total: u64, used: u64) -> NodeStorage {
        NodeStorage {
            storage: name.into(),
            kind: kind.into(),
            content: "iso,backup,images".into(),
            active: true,
            enabled: true,
            total,
            used,
            avail: total - used,
            ..Default::default()
        }
    }

    #[test]
    fn ids_and_content() {
        assert_eq!(storage_id("home", "pve1", "local"), "home-pve1-local");
        assert_eq!(storage_id("pve1", "pve1", "local"), "pve1-local");
        assert_eq!(sorted_content("vztmpl, iso,backup"), "backup,iso,vztmpl");
        let s = map_storage("home", "pve1", &ns("local", "dir", 100, 25), false).unwrap();
        assert_eq!(
            (s.usage, s.free, s.content.as_str()),
            (25.0, 75, "backup,images,iso")
        );
        assert_eq!(s.status, "available");
        assert!(map_storage("home", "pve1", &ns("cd", "iso9660", 1, 1), false).is_none());
        let mut off = ns("nas", "nfs", 0, 0);
        off.active = false;
        assert_eq!(
            map_storage("h", "n", &off, false).unwrap().status,
            "inactive"
        );
    }

    #[test]
    fn shared_storage_merges_under_a_stable_id() {
        let a = map_storage("home", "pve2", &ns("nas", "nfs", 1000, 300), true).unwrap();
        let b = map_storage("home", "pve1", &ns("nas", "nfs", 1000, 310), true).unwrap();
        let l = map_storage("home", "pve1", &ns("local", "dir", 10, 1), false).unwrap();
        let one = merge_shared("home", vec![a.clone(), b.clone(), l.clone()]);
        let two = merge_shared("home", vec![l, b, a]);
        assert_eq!(one, two, "order of node answers does not matter");
        assert_eq!(one.len(), 2);
        let nas = &one[1];
        assert_eq!(nas.id, "home-cluster-nas");
        assert_eq!(nas.node, "cluster");
        assert_eq!(nas.nodes, ["pve1", "pve2"]);
        assert_eq!(nas.node_ids, ["home-pve1", "home-pve2"]);
        assert_eq!((nas.node_count, nas.used), (Some(2), 310));
    }
}
