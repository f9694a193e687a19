//! Prometheus families for the pipeline (API.md "Notification Metrics", "Queue Metrics"),
//! in a registry that a `/metrics` endpoint can encode (`Metrics::encode`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodStatus {
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

pub struct Metrics {
    pub sent: Family<MethodStatus, Counter>,
    pub dlq: Counter,
    pub retries: Counter,
    pub duration: Family<MethodLabel, Histogram, fn() -> Histogram>,
    pub notification_depth: Family<StatusLabel, Gauge>,
    pub queue_depth: Family<StatusLabel, Gauge>,
    pub queue_items: Family<StatusLabel, Counter>,
    pub processing: Histogram,
    pub grouped: Counter,
    registry: Mutex<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            sent: Family::default(),
            dlq: Counter::default(),
            retries: Counter::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            notification_depth: Family::default(),
            queue_depth: Family::default(),
            queue_items: Family::default(),
            processing: duration_histogram(),
            grouped: Counter::default(),
            registry: Mutex::new(Registry::default()),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            // Counter names get their `_total` suffix from the encoder.
            r.register(
                "pulse_notifications_sent",
                "Notifications sent by method and outcome",
                m.sent.clone(),
            );
            r.register(
                "pulse_notification_dlq",
                "Notifications moved to the dead letter queue",
                m.dlq.clone(),
            );
            r.register(
                "pulse_notification_retry",
                "Notification retry attempts",
                m.retries.clone(),
            );
            r.register(
                "pulse_notification_duration_seconds",
                "Time to deliver a notification",
                m.duration.clone(),
            );
            r.register(
                "pulse_notification_queue_depth",
                "Queued notifications by status",
                m.notification_depth.clone(),
            );
            r.register(
                "pulse_queue_depth",
                "Queue depth by status",
                m.queue_depth.clone(),
            );
            r.register(
                "pulse_queue_items",
                "Queue items processed by outcome",
                m.queue_items.clone(),
            );
            r.register(
                "pulse_queue_processing_duration_seconds",
                "Time to process a queued item",
                m.processing.clone(),
            );
            r.register(
                "pulse_notifications_grouped",
                "Alerts sent as part of a grouped notification",
                m.grouped.clone(),
            );
        }
        m
    }

    /// OpenMetrics text of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }

    pub fn set_depth(&self, status: &str, n: i64) {
        let l = StatusLabel {
            status: status.into(),
        };
        self.notification_depth.get_or_create(&l).set(n);
        self.queue_depth.get_or_create(&l).set(n);
    }
}
