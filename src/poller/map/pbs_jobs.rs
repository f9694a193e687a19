//! PBS job results from the task list (`GET /nodes/localhost/tasks`). The reference declares
//! `syncJobs`, `verifyJobs`, `pruneJobs` and `garbageJobs` but never fills them, so a failed
//! verification (possibly corrupt backups) went unnoticed. Each job's newest finished run
//! becomes one entry; the alert engine raises `pbs-job-failed` for entries whose `status` is
//! not ok.

use crate::proxmox::types::pbs::PbsTask;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Entries per job kind, newest run of each job only.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PbsJobs {
    pub sync: Vec<Value>,
    pub verify: Vec<Value>,
    pub prune: Vec<Value>,
    pub garbage: Vec<Value>,
}

/// Which kinds the instance monitors (`monitor*Jobs` of the node config).
#[derive(Debug, Clone, Copy)]
pub struct JobKinds {
    pub sync: bool,
    pub verify: bool,
    pub prune: bool,
    pub garbage: bool,
}

/// The datastore a job run belongs to, from its worker id (see `PbsTask`).
fn store_of(worker_type: &str, worker_id: &str) -> String {
    let parts: Vec<&str> = worker_id.split(':').collect();
    match worker_type {
        // remote:remote-store:local-store:job
        "syncjob" if parts.len() >= 3 => parts[2].to_string(),
        _ => parts.first().copied().unwrap_or_default().to_string(),
    }
}

/// `OK` → ok; `WARNINGS: n` → ok with the warning kept (the run finished and did its work);
/// anything else is the run's error text (`TASK ERROR: …` with the prefix dropped).
fn outcome(status: &str) -> (&'static str, String, String) {
    let status = status.trim();
    if status.eq_ignore_ascii_case("ok") {
        ("ok", String::new(), String::new())
    } else if status.to_ascii_uppercase().starts_with("WARNINGS") {
        ("ok", String::new(), status.to_string())
    } else {
        let err = status
            .strip_prefix("TASK ERROR:")
            .map(str::trim)
            .unwrap_or(status);
        let err = if err.is_empty() { "failed" } else { err };
        ("error", err.to_string(), String::new())
    }
}

/// The newest finished run per job, in task-list order (newest first). Running tasks are
/// skipped: a job whose only run is still going has no result yet.
pub fn jobs(tasks: &[PbsTask], kinds: JobKinds) -> PbsJobs {
    let mut out = PbsJobs::default();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut sorted: Vec<&PbsTask> = tasks.iter().collect();
    // Newest first whatever order the server used.
    sorted.sort_by_key(|t| std::cmp::Reverse(t.starttime));
    for t in sorted {
        let (list, kind) = match t.worker_type.as_str() {
            "syncjob" if kinds.sync => (&mut out.sync, "sync"),
            "verificationjob" if kinds.verify => (&mut out.verify, "verify"),
            "prunejob" if kinds.prune => (&mut out.prune, "prune"),
            "garbage_collection" if kinds.garbage => (&mut out.garbage, "garbage"),
            _ => continue,
        };
        let (Some(end), Some(status)) = (t.endtime, t.status.as_deref()) else {
            continue;
        };
        if t.worker_id.is_empty() || !seen.insert((&t.worker_type, &t.worker_id)) {
            continue;
        }
        let (state, error, warnings) = outcome(status);
        list.push(json!({
            "id": t.worker_id,
            "type": kind,
            "store": store_of(&t.worker_type, &t.worker_id),
            "status": state,
            "error": error,
            "warnings": warnings,
            "lastRunStart": t.starttime,
            "lastRunEnd": end,
            "upid": t.upid,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: JobKinds = JobKinds {
        sync: true,
        verify: true,
        prune: true,
        garbage: true,
    };

    fn task(wt: &str, wid: &str, start: i64, status: Option<&str>) -> PbsTask {
        PbsTask {
            upid: format!("UPID:localhost:{start}:{wt}:{wid}"),
            worker_type: wt.into(),
            worker_id: wid.into(),
            starttime: start,
            endtime: status.map(|_| start + 60),
            status: status.map(Into::into),
        }
    }

    #[test]
    fn newest_finished_run_per_job_wins() {
        let t = [
            task("verificationjob", "store1:v-1", 300, None),
            task(
                "verificationjob",
                "store1:v-1",
                200,
                Some("TASK ERROR: verification failed - 2 chunks bad"),
            ),
            task("verificationjob", "store1:v-1", 100, Some("OK")),
            task("garbage_collection", "store1", 150, Some("WARNINGS: 1")),
            task("syncjob", "pbs2:remote1:store1:s-7", 120, Some("OK")),
            task("prunejob", "store1:p-daily", 110, Some("unexpected error")),
            task("backup", "store1:vm/100", 400, Some("OK")),
        ];
        let j = jobs(&t, ALL);
        assert_eq!(j.verify.len(), 1);
        assert_eq!(j.verify[0]["status"], "error");
        assert_eq!(j.verify[0]["error"], "verification failed - 2 chunks bad");
        assert_eq!(j.verify[0]["lastRunStart"], 200);
        assert_eq!(j.verify[0]["store"], "store1");
        assert_eq!(j.garbage[0]["status"], "ok");
        assert_eq!(j.garbage[0]["warnings"], "WARNINGS: 1");
        assert_eq!(j.sync[0]["store"], "store1");
        assert_eq!(j.prune[0]["status"], "error");
        assert_eq!(j.prune[0]["error"], "unexpected error");
    }

    #[test]
    fn unmonitored_kinds_and_garbage_entries_are_left_out() {
        let t = [
            task("verificationjob", "", 100, Some("OK")),
            task("verificationjob", "s:v", 90, Some("")),
            task("syncjob", "a:b:c:d", 80, Some("OK")),
        ];
        let kinds = JobKinds { sync: false, ..ALL };
        let j = jobs(&t, kinds);
        assert!(j.sync.is_empty());
        assert_eq!(j.verify.len(), 1);
        assert_eq!(j.verify[0]["error"], "failed");
    }
}
