//! Quiet hours (spec/alerts.md §2.5, §4.4): whether "now" falls in the configured window, in
//! the configured time zone, and which alert types a window may silence when critical.

use super::config::{QuietHours, WEEKDAYS, parse_hhmm};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Performance,
    Storage,
    Offline,
}

/// The quiet-hours category of an alert type; `None` = never silenced when critical.
pub fn category(kind: &str) -> Option<Category> {
    match kind {
        "cpu" | "memory" | "disk" | "diskRead" | "diskWrite" | "networkIn" | "networkOut"
        | "temperature" | "queue-depth" | "queue-deferred" | "queue-hold" | "message-age" => {
            Some(Category::Performance)
        }
        "docker-container-state" => Some(Category::Offline),
        k if k.starts_with("docker-container-") => Some(Category::Performance),
        "usage" | "disk-health" | "disk-wearout" | "zfs-pool-state" | "zfs-pool-errors"
        | "zfs-device" | "ceph-health" => Some(Category::Storage),
        "connectivity" | "offline" | "powered-off" | "docker-host-offline" | "host-offline" => {
            Some(Category::Offline)
        }
        _ => None,
    }
}

/// True when `now_ms` is inside the quiet window. The weekday that counts is the one on which
/// the window *started*, so an overnight Friday 22:00 – 08:00 window covers Saturday morning.
pub fn active(q: &QuietHours, now_ms: i64) -> bool {
    if !q.enabled {
        return false;
    }
    let (Some(start), Some(end)) = (parse_hhmm(&q.start), parse_hhmm(&q.end)) else {
        return false;
    };
    if start == end {
        return false;
    }
    let tz = jiff::tz::TimeZone::get(&q.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(ts) = jiff::Timestamp::from_millisecond(now_ms) else {
        return false;
    };
    let local = ts.to_zoned_datetime(tz);
    let minute = local.hour() as u32 * 60 + local.minute() as u32;
    // Monday = 0.
    let today = local.weekday().to_monday_zero_offset() as usize;
    let day_on = |idx: usize| q.days.get(WEEKDAYS[idx]).copied().unwrap_or(false);
    if start < end {
        minute >= start && minute < end && day_on(today)
    } else if minute >= start {
        day_on(today)
    } else if minute < end {
        day_on((today + 6) % 7)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        super::super::alert::parse_rfc3339(s).unwrap()
    }

    fn window(start: &str, end: &str, tz: &str, days: &[&str]) -> QuietHours {
        QuietHours {
            enabled: true,
            start: start.into(),
            end: end.into(),
            timezone: tz.into(),
            days: WEEKDAYS
                .iter()
                .map(|d| (d.to_string(), days.contains(d)))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn overnight_window_in_zone() {
        // Friday 2026-11-27. Berlin is UTC+1 in November.
        let q = window("22:00", "08:00", "Europe/Berlin", &["friday"]);
        assert!(!active(&q, ms("2026-11-27T20:59:00Z")), "21:59 Fri local");
        assert!(active(&q, ms("2026-11-27T21:00:00Z")), "22:00 Fri local");
        assert!(
            active(&q, ms("2026-11-28T06:59:00Z")),
            "07:59 Sat, Fri's night"
        );
        assert!(!active(&q, ms("2026-11-28T07:00:00Z")), "08:00 Sat");
        assert!(!active(&q, ms("2026-11-28T21:30:00Z")), "Sat night is off");
        let mut off = q.clone();
        off.enabled = false;
        assert!(!active(&off, ms("2026-11-27T21:00:00Z")));
    }

    #[test]
    fn daytime_window() {
        let q = window("12:00", "13:30", "UTC", &["monday"]);
        assert!(active(&q, ms("2026-11-23T12:45:00Z")));
        assert!(!active(&q, ms("2026-11-23T13:30:00Z")));
        assert!(!active(&q, ms("2026-11-24T12:45:00Z")), "Tuesday");
    }

    #[test]
    fn categories() {
        assert_eq!(category("cpu"), Some(Category::Performance));
        assert_eq!(category("usage"), Some(Category::Storage));
        assert_eq!(category("connectivity"), Some(Category::Offline));
        assert_eq!(category("docker-container-state"), Some(Category::Offline));
        assert_eq!(
            category("docker-container-oom-kill"),
            Some(Category::Performance)
        );
        assert_eq!(category("backup-age"), None);
    }
}
