//! Backups and snapshots from the published live state: `/api/backups` (also
//! `/api/backups/unified`), `/api/backups/pve`, `/api/backups/pbs`, `/api/snapshots`.
//! Shapes follow the reference; every view takes the same strict filters
//! (`instance`, `node`, `vmid`, `type`; see `query::LiveFilter`).

use super::AppState;
use super::error::ApiError;
use super::query::LiveFilter;
use crate::model::{
    BackupTask, GuestSnapshot, PbsBackup, PbsInstance, PmgBackup, State, StorageBackup,
};
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

const FILTERS: &[&str] = &["instance", "node", "vmid", "type"];

/// The filtered backup collections of one state.
pub struct Selection {
    pub tasks: Vec<BackupTask>,
    pub storage: Vec<StorageBackup>,
    pub snapshots: Vec<GuestSnapshot>,
    pub pbs: Vec<PbsBackup>,
    pub pmg: Vec<PmgBackup>,
}

pub fn select(s: &State, f: &LiveFilter) -> Selection {
    let guest = |instance: &str, node: &str, kind: &str, vmid: u32| {
        f.instance_ok(instance) && f.node_ok(node) && f.kind_ok(kind) && f.vmid_ok(vmid)
    };
    Selection {
        // A task's id is `<instance>-<upid>`: the instance is its prefix.
        tasks: s
            .pve_backups
            .backup_tasks
            .iter()
            .filter(|t| {
                f.instance
                    .as_deref()
                    .is_none_or(|i| t.id.starts_with(&format!("{i}-")))
                    && f.node_ok(&t.node)
                    && f.kind_ok(&t.kind)
                    && f.vmid_ok(t.vmid)
            })
            .cloned()
            .collect(),
        storage: s
            .pve_backups
            .storage_backups
            .iter()
            .filter(|b| guest(&b.instance, &b.node, b.kind, b.vmid))
            .cloned()
            .collect(),
        snapshots: s
            .pve_backups
            .guest_snapshots
            .iter()
            .filter(|g| guest(&g.instance, &g.node, &g.kind, g.vmid))
            .cloned()
            .collect(),
        // PBS groups name their guest by a string id and have no PVE node.
        pbs: s
            .pbs_backups
            .iter()
            .filter(|b| {
                f.instance_ok(&b.instance)
                    && f.node.is_none()
                    && f.kind_ok(&b.backup_type)
                    && f.vmid.is_none_or(|v| b.vmid == v.to_string())
            })
            .cloned()
            .collect(),
        pmg: s
            .pmg_backups
            .iter()
            .filter(|b| {
                f.instance_ok(&b.instance)
                    && f.node_ok(&b.node)
                    && f.vmid.is_none()
                    && f.kind.is_none()
            })
            .cloned()
            .collect(),
    }
}

fn all(sel: Selection) -> Value {
    let pve = json!({
        "backupTasks": sel.tasks,
        "storageBackups": sel.storage,
        "guestSnapshots": sel.snapshots,
    });
    json!({
        "backups": { "pve": pve, "pbs": sel.pbs, "pmg": sel.pmg },
        "pveBackups": pve,
        "pbsBackups": sel.pbs,
        "pmgBackups": sel.pmg,
        "backupTasks": pve["backupTasks"],
        "storageBackups": pve["storageBackups"],
        "guestSnapshots": pve["guestSnapshots"],
    })
}

fn pbs_instances(s: &State, f: &LiveFilter) -> Vec<PbsInstance> {
    s.pbs
        .iter()
        .filter(|p| f.instance_ok(&p.name))
        .cloned()
        .collect()
}

#[derive(Clone, Copy)]
enum View {
    All,
    Pve,
    Pbs,
    Snapshots,
}

fn render(state: &AppState, view: View, query: &str) -> Result<Response, ApiError> {
    let f = LiveFilter::parse(query, FILTERS)?;
    let published = state.inner.live.current();
    let s = &published.state;
    let sel = select(s, &f);
    let body = match view {
        View::All => all(sel),
        // The reference lists only storage backups here; the backup tasks are added.
        View::Pve => json!({ "backups": sel.storage, "backupTasks": sel.tasks }),
        // The reference lists only the PBS instances here; API.md promises "PBS backups",
        // so both are served.
        View::Pbs => json!({ "instances": pbs_instances(s, &f), "backups": sel.pbs }),
        View::Snapshots => json!({ "snapshots": sel.snapshots }),
    };
    Ok(warp::reply::json(&body).into_response())
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let view = warp::path!("backups")
        .map(|| View::All)
        .or(warp::path!("backups" / "unified").map(|| View::All))
        .unify()
        .or(warp::path!("backups" / "pve").map(|| View::Pve))
        .unify()
        .or(warp::path!("backups" / "pbs").map(|| View::Pbs))
        .unify()
        .or(warp::path!("snapshots").map(|| View::Snapshots))
        .unify();
    view.and(warp::get())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and_then(move |view: View, query: String| {
            let s = state.clone();
            async move { render(&s, view, &query).map_err(ApiError::reject) }
        })
        .boxed()
}
