//! Replication (spec §5.12): job configuration from `/cluster/replication`, last/next sync,
//! duration, failures and error from `/nodes/{source}/replication` (the reference never asks
//! the latter, so those fields stayed empty).

use crate::model::{Guest, ReplicationJob};
use crate::proxmox::types::pve::{ReplicationJob as RawJob, ReplicationState};
use std::collections::HashMap;

/// `HH:MM:SS`.
pub fn human(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

pub fn map_jobs(
    instance: &str,
    jobs: &[RawJob],
    states: &HashMap<String, ReplicationState>,
    guests: &[&Guest],
    now_ms: i64,
) -> Vec<ReplicationJob> {
    let mut out: Vec<ReplicationJob> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let job_id = if !j.id.is_empty() {
                j.id.clone()
            } else if let (Some(g), Some(n)) = (j.guest, j.jobnum) {
                format!("{g}-{n}")
            } else {
                format!("job-{instance}-{i}")
            };
            let guest = j
                .guest
                .and_then(|id| guests.iter().find(|g| u64::from(g.vmid) == id));
            let st = states.get(&job_id);
            let last = st.and_then(|s| s.last_sync).filter(|t| *t > 0);
            let next = st.and_then(|s| s.next_sync).filter(|t| *t > 0);
            let dur = st
                .and_then(|s| s.duration)
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(|d| d as u64);
            let error = st.map(|s| s.error.clone()).filter(|e| !e.is_empty());
            let fail = st.map(|s| s.fail_count as u32);
            let sync_status = st.map(|_| if error.is_some() { "error" } else { "ok" }.to_owned());
            let source = if !j.source.is_empty() {
                Some(j.source.clone())
            } else {
                guest.map(|g| g.node.to_string())
            };
            ReplicationJob {
                id: format!("{instance}-{job_id}"),
                instance: instance.to_owned(),
                job_number: j.jobnum.map(|n| n as u32),
                guest: j.guest.map(|g| g.to_string()),
                guest_id: j.guest.map(|g| g as u32),
                guest_name: guest.map(|g| g.name.clone()),
                guest_type: guest.map(|g| g.kind.to_owned()),
                guest_node: guest.map(|g| g.node.to_string()),
                source_node: source,
                target_node: Some(j.target.clone()).filter(|s| !s.is_empty()),
                schedule: Some(j.schedule.clone()).filter(|s| !s.is_empty()),
                kind: Some(j.kind.clone()).filter(|s| !s.is_empty()),
                enabled: !j.disable,
                state: st.map(|_| if j.disable { "disabled" } else { "enabled" }.to_owned()),
                status: sync_status.clone(),
                last_sync_status: sync_status,
                last_sync_time: last.map(super::secs_to_ms),
                last_sync_unix: last,
                last_sync_duration_seconds: dur,
                last_sync_duration_human: dur.map(human),
                next_sync_time: next.map(super::secs_to_ms),
                next_sync_unix: next,
                duration_seconds: dur,
                duration_human: dur.map(human),
                fail_count: fail,
                error,
                comment: Some(j.comment.clone()).filter(|s| !s.is_empty()),
                remove_job: Some(j.remove_job.clone()).filter(|s| !s.is_empty()),
                rate_limit_mbps: j.rate.filter(|r| r.is_finite() && *r > 0.0),
                polled_at: Some(now_ms),
                job_id,
                ..Default::default()
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.guest_id
            .cmp(&b.guest_id)
            .then(a.job_number.cmp(&b.job_number))
            .then(a.job_id.cmp(&b.job_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_config_and_node_state() {
        let jobs = vec![RawJob {
            id: "100-0".into(),
            guest: Some(100),
            jobnum: Some(0),
            target: "pve2".into(),
            schedule: "*/15".into(),
            kind: "local".into(),
            ..Default::default()
        }];
        let mut st = HashMap::new();
        st.insert(
            "100-0".to_owned(),
            ReplicationState {
                id: "100-0".into(),
                last_sync: Some(1_700_000_000),
                next_sync: Some(1_700_000_900),
                duration: Some(3725.4),
                fail_count: 2,
                error: "no space".into(),
                ..Default::default()
            },
        );
        let g = Guest {
            vmid: 100,
            name: "web".into(),
            node: "pve1".into(),
            kind: "qemu",
            ..Default::default()
        };
        let out = map_jobs("home", &jobs, &st, &[&g], 5);
        let j = &out[0];
        assert_eq!((j.id.as_str(), j.job_id.as_str()), ("home-100-0", "100-0"));
        assert_eq!(j.guest_name.as_deref(), Some("web"));
        assert_eq!(j.source_node.as_deref(), Some("pve1"));
        assert_eq!(j.last_sync_time, Some(1_700_000_000_000));
        assert_eq!(j.last_sync_duration_human.as_deref(), Some("01:02:05"));
        assert_eq!(
            (j.fail_count, j.error.as_deref()),
            (Some(2), Some("no space"))
        );
        assert!(j.enabled);
        let out = map_jobs("home", &[RawJob::default()], &HashMap::new(), &[], 5);
        assert_eq!(out[0].job_id, "job-home-0");
    }
}
