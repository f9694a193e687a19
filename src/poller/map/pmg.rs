//! PMG (spec §7): nodes and queues, mail statistics, hourly counts, spam distribution.

use crate::model::{PmgMailCount, PmgMailStats, PmgNode, PmgQueueStatus, PmgSpamBucket};
use crate::proxmox::types::pmg::{
    MailCountPoint, MailStats, PmgClusterNode, QueueCounts, SpamScore,
};

pub fn instance_id(name: &str) -> String {
    format!("pmg-{name}")
}

pub fn queue(q: &QueueCounts, now_ms: i64) -> PmgQueueStatus {
    PmgQueueStatus {
        active: q.active,
        deferred: q.deferred,
        hold: q.hold,
        incoming: q.incoming,
        total: q
            .active
            .saturating_add(q.deferred)
            .saturating_add(q.hold)
            .saturating_add(q.incoming),
        oldest_age: q.oldest_age,
        updated_at: now_ms,
    }
}

/// A cluster member. `status` is the role in lower case (what PMG's cluster list offers; the
/// list has no liveness field).
pub fn node(n: &PmgClusterNode, q: Option<PmgQueueStatus>) -> PmgNode {
    PmgNode {
        name: n.name.clone(),
        status: n.kind.to_ascii_lowercase(),
        role: Some(n.kind.clone()).filter(|r| !r.is_empty()),
        uptime: None,
        load_avg: None,
        queue_status: q,
    }
}

pub fn mail_stats(s: &MailStats, now_ms: i64) -> PmgMailStats {
    let f = |v: u64| v as f64;
    PmgMailStats {
        timeframe: "day".into(),
        count_total: f(s.count),
        count_in: f(s.count_in),
        count_out: f(s.count_out),
        spam_in: f(s.spamcount_in),
        spam_out: f(s.spamcount_out),
        virus_in: f(s.viruscount_in),
        virus_out: f(s.viruscount_out),
        bounces_in: f(s.bounces_in),
        bounces_out: f(s.bounces_out),
        bytes_in: super::finite(s.bytes_in),
        bytes_out: super::finite(s.bytes_out),
        greylist_count: f(s.glcount),
        junk_in: f(s.junk_in),
        average_process_time_ms: super::finite(s.avptime) * 1000.0,
        rbl_rejects: f(s.rbl_rejects),
        pregreet_rejects: f(s.pregreet_rejects),
        updated_at: now_ms,
    }
}

/// Hourly points (we ask PMG for `timespan=3600`; the reference asked for daily buckets and
/// labelled them "hour"). `windowEnd` = start + one hour.
pub fn mail_count(points: &[MailCountPoint]) -> Vec<PmgMailCount> {
    points
        .iter()
        .map(|p| {
            let f = |v: u64| v as f64;
            let start = super::secs_to_ms(p.time);
            PmgMailCount {
                timestamp: start,
                count: f(p.count),
                count_in: f(p.count_in),
                count_out: f(p.count_out),
                spam_in: f(p.spamcount_in),
                spam_out: f(p.spamcount_out),
                virus_in: f(p.viruscount_in),
                virus_out: f(p.viruscount_out),
                rbl_rejects: f(p.rbl_rejects),
                pregreet: f(p.pregreet_rejects),
                bounces_in: f(p.bounces_in),
                bounces_out: f(p.bounces_out),
                greylist: f(p.glcount),
                index: p.index as u32,
                timeframe: "hour".into(),
                window_start: start,
                window_end: if start > 0 {
                    start.saturating_add(3_600_000)
                } else {
                    0
                },
            }
        })
        .collect()
}

pub fn spam(list: &[SpamScore]) -> Vec<PmgSpamBucket> {
    list.iter()
        .map(|s| PmgSpamBucket {
            score: s.level.clone(),
            count: s.count as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_total_and_stats() {
        let q = queue(
            &QueueCounts {
                active: 1,
                deferred: 2,
                hold: 3,
                incoming: 4,
                oldest_age: 60,
            },
            5,
        );
        assert_eq!((q.total, q.oldest_age), (10, 60));
        let s = mail_stats(
            &MailStats {
                count: 10,
                avptime: 0.25,
                glcount: 3,
                ..Default::default()
            },
            1,
        );
        assert_eq!(
            (s.count_total, s.average_process_time_ms, s.greylist_count),
            (10.0, 250.0, 3.0)
        );
        let pts = mail_count(&[MailCountPoint {
            index: 1,
            time: 3600,
            count: 4,
            ..Default::default()
        }]);
        assert_eq!(
            (pts[0].window_start, pts[0].window_end),
            (3_600_000, 7_200_000)
        );
        let n = node(
            &PmgClusterNode {
                name: "pmg1".into(),
                kind: "master".into(),
                ..Default::default()
            },
            None,
        );
        assert_eq!(
            (n.status.as_str(), n.role.as_deref()),
            ("master", Some("master"))
        );
    }
}
