//! Notifications: alert events → grouped batches → durable queue → a small pool of blocking
//! delivery threads → email / webhooks / Apprise. spec/notifications.md has the facts,
//! docs/notifications.md the design.
//!
//! - `config`: channel settings, sealed at rest, masked on read.
//! - `queue`: the redb queue (states, backoff, DLQ, recovery, pruning, audit).
//! - `template`: the Go-template subset for webhook payloads; `payload`: data and texts.
//! - `webhook`, `email`, `apprise`: one transport each; `ssrf`: the outbound URL guard.
//! - `metrics`: prometheus-client families.

pub mod apprise;
pub mod config;
pub mod email;
pub mod metrics;
pub mod payload;
pub mod queue;
pub mod ssrf;
pub mod template;
pub mod webhook;

use crate::alerts::{Alert, AlertEvent};
use crate::store::{Store, StoreError};
use config::Webhook;
use payload::Kind;
use queue::{Attempt, Item, Queue, Status};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Knobs, with the reference's values as defaults; the environment can shorten them
/// (tests use a fast backoff).
#[derive(Debug, Clone)]
pub struct Tuning {
    pub workers: usize,
    /// Backoff after attempt n is `base · 2^n` (2 s, 4 s, … capped at 60 s by default).
    pub retry_base_ms: i64,
    pub http_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            workers: 4,
            retry_base_ms: 1000,
            http_timeout: Duration::from_secs(30),
        }
    }
}

impl Tuning {
    pub fn from_env() -> Tuning {
        let mut t = Tuning::default();
        let num = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(n) = num("PULSE_NOTIFY_WORKERS") {
            t.workers = (n as usize).clamp(1, 32);
        }
        if let Some(n) = num("PULSE_NOTIFY_RETRY_BASE_MS") {
            t.retry_base_ms = (n as i64).clamp(1, 60_000);
        }
        if let Some(n) = num("PULSE_NOTIFY_HTTP_TIMEOUT_MS") {
            t.http_timeout = Duration::from_millis(n.clamp(100, 120_000));
        }
        t
    }
}

/// Which channels a batch goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Channels {
    All,
    Email,
    Webhooks,
    Webhook(String),
    Apprise,
}

impl Channels {
    fn from_escalation(ch: &str) -> Channels {
        match ch {
            "email" => Channels::Email,
            "webhook" | "webhooks" => Channels::Webhooks,
            "apprise" => Channels::Apprise,
            _ => Channels::All,
        }
    }
}

pub struct Notifier {
    store: Arc<Store>,
    queue: Queue,
    pub metrics: metrics::Metrics,
    tuning: Tuning,
    /// Destinations with a delivery in flight (one at a time per destination).
    busy: Mutex<HashSet<String>>,
    wake: Condvar,
    stop: AtomicBool,
    public_url: RwLock<Option<String>>,
    /// Serializes read-modify-write of the channel configuration.
    pub config_lock: Mutex<()>,
    last_depth: Mutex<Option<Instant>>,
}

fn now_ms() -> i64 {
    crate::model::time::now_ms()
}

impl Notifier {
    pub fn new(store: Arc<Store>, tuning: Tuning, public_url: Option<String>) -> Arc<Notifier> {
        Arc::new(Notifier {
            queue: Queue::new(store.clone()),
            store,
            metrics: metrics::Metrics::new(),
            tuning,
            busy: Mutex::new(HashSet::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            public_url: RwLock::new(public_url),
            config_lock: Mutex::new(()),
            last_depth: Mutex::new(None),
        })
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn public_url(&self) -> Option<String> {
        self.public_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Private networks the operator allows webhooks to reach: system setting
    /// `webhookAllowedPrivateCIDRs` plus env `PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS`
    /// (read at each send, so a settings change applies at once).
    pub fn allowlist(&self) -> Vec<ipnet::IpNet> {
        let mut out = Vec::new();
        let mut add = |s: &str| match crate::settings::parse_cidrs(s) {
            Ok(v) => out.extend(v),
            Err(e) => tracing::warn!(error = %e, "ignoring invalid webhookAllowedPrivateCIDRs"),
        };
        if let Ok(v) = std::env::var("PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS") {
            add(&v);
        }
        if let Ok(Some(s)) = self
            .store
            .get_setting::<serde_json::Value>(crate::api::system::SYSTEM_KEY)
            && let Some(v) = s.get("webhookAllowedPrivateCIDRs").and_then(|v| v.as_str())
        {
            add(v);
        }
        out
    }

    // ------------------------------------------------------------ running

    /// Recovers interrupted items and starts the delivery pool and housekeeping.
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        match self.queue.recover(now_ms()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                items = n,
                "re-queued notifications interrupted by a restart"
            ),
            Err(e) => tracing::error!(error = %e, "cannot recover the notification queue"),
        }
        self.refresh_depth();
        for i in 0..self.tuning.workers {
            let me = self.clone();
            std::thread::Builder::new()
                .name(format!("notify-{i}"))
                .spawn(move || me.worker())?;
        }
        let me = self.clone();
        std::thread::Builder::new()
            .name("notify-prune".into())
            .spawn(move || {
                while !me.stop.load(Ordering::Relaxed) {
                    match me.queue.prune(now_ms()) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(items = n, "pruned old notifications"),
                        Err(e) => tracing::warn!(error = %e, "notification prune failed"),
                    }
                    std::thread::sleep(Duration::from_secs(3600));
                }
            })?;
        Ok(())
    }

    /// Tells idle delivery threads to look at the queue now (after a DLQ retry).
    pub fn wake_workers(&self) {
        self.wake.notify_all();
    }

    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_all();
    }

    fn worker(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            let now = now_ms();
            match self.queue.claim(now, &busy) {
                Ok((Some(item), _)) => {
                    let dest = item.destination();
                    busy.insert(dest.clone());
                    drop(busy);
                    self.process(item);
                    self.busy
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&dest);
                    self.wake.notify_all();
                }
                Ok((None, next)) => {
                    // Nothing due: sleep until the next retry, or until `enqueue` / a DLQ
                    // retry wakes us (they always do; the long idle bound only saves reads
                    // of an empty queue).
                    let wait = next.map_or(IDLE_WAIT_MS, |t| (t - now).clamp(5, 1000)) as u64;
                    let _ = self.wake.wait_timeout(busy, Duration::from_millis(wait));
                }
                Err(e) => {
                    drop(busy);
                    tracing::error!(error = %e, "notification queue read failed");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    fn process(&self, item: Item) {
        let started = Instant::now();
        if item.attempts > 1 {
            self.metrics.retries.inc();
        }
        let (result, attempt) = self.deliver(&item);
        let secs = started.elapsed().as_secs_f64();
        let method = metrics::MethodLabel {
            method: item.channel.clone(),
        };
        self.metrics.duration.get_or_create(&method).observe(secs);
        self.metrics.processing.observe(secs);
        let now = now_ms();
        let status_label = |s: &str| metrics::StatusLabel { status: s.into() };
        match result {
            Ok(bytes) => {
                if let Err(e) = self.queue.complete(&item.id, now, bytes, Some(&attempt)) {
                    tracing::error!(id = %item.id, error = %e, "cannot mark notification delivered");
                }
                self.metrics
                    .sent
                    .get_or_create(&metrics::MethodStatus {
                        method: item.channel.clone(),
                        status: "success".into(),
                    })
                    .inc();
                self.metrics
                    .queue_items
                    .get_or_create(&status_label("completed"))
                    .inc();
                tracing::info!(id = %item.id, channel = %item.channel, "notification delivered");
            }
            Err(err) => {
                self.metrics
                    .sent
                    .get_or_create(&metrics::MethodStatus {
                        method: item.channel.clone(),
                        status: "failed".into(),
                    })
                    .inc();
                match self.queue.fail(
                    &item.id,
                    &err,
                    now,
                    self.tuning.retry_base_ms,
                    Some(&attempt),
                ) {
                    Ok(Some(Status::Dlq)) => {
                        self.metrics.dlq.inc();
                        self.metrics
                            .queue_items
                            .get_or_create(&status_label("dlq"))
                            .inc();
                        tracing::warn!(id = %item.id, error = %err, "notification moved to the dead letter queue");
                    }
                    Ok(_) => {
                        self.metrics
                            .queue_items
                            .get_or_create(&status_label("failed"))
                            .inc();
                        tracing::info!(id = %item.id, attempt = item.attempts, error = %err, "notification attempt failed; will retry");
                    }
                    Err(e) => {
                        tracing::error!(id = %item.id, error = %e, "cannot record a failed notification")
                    }
                }
            }
        }
        self.refresh_depth();
    }

    /// Updates the depth gauges, at most once per second (it reads the whole queue).
    fn refresh_depth(&self) {
        {
            let mut last = self.last_depth.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                return;
            }
            *last = Some(Instant::now());
        }
        if let Ok(d) = self.queue.depth() {
            for (s, n) in d {
                self.metrics.set_depth(s, n);
            }
        }
    }

    // ------------------------------------------------------------ enqueueing

    /// Commits one queue item per enabled channel for `alerts` and wakes the pool.
    /// Returns the new item ids.
    pub fn enqueue(
        &self,
        alerts: Vec<Alert>,
        kind: Kind,
        channels: &Channels,
    ) -> Result<Vec<String>, StoreError> {
        if alerts.is_empty() {
            return Ok(vec![]);
        }
        let max_attempts = config::load_pipeline(&self.store)?
            .max_attempts
            .clamp(1, 20);
        let now = now_ms();
        let mut items = Vec::new();
        let mut add = |channel: &str, target: String| {
            items.push(Item {
                id: queue::new_id(channel),
                channel: channel.into(),
                target,
                kind,
                status: Status::Pending,
                alerts: alerts.clone(),
                attempts: 0,
                max_attempts,
                last_attempt: None,
                last_error: None,
                created_at: now,
                next_retry_at: None,
                completed_at: None,
                payload_bytes: None,
            })
        };
        let want = |c: &Channels| channels == &Channels::All || channels == c;
        if want(&Channels::Email) && config::load_email(&self.store)?.enabled {
            add("email", String::new());
        }
        for w in config::load_webhooks(&self.store)? {
            let pick = match channels {
                Channels::All | Channels::Webhooks => w.enabled,
                Channels::Webhook(id) => &w.id == id,
                _ => false,
            };
            if pick {
                add("webhook", w.id.clone());
            }
        }
        if want(&Channels::Apprise) && config::load_apprise(&self.store)?.enabled {
            add("apprise", String::new());
        }
        if alerts.len() > 1 {
            self.metrics.grouped.inc_by(alerts.len() as u64);
        }
        self.queue.enqueue(&items)?;
        self.refresh_depth();
        self.wake.notify_all();
        Ok(items.into_iter().map(|i| i.id).collect())
    }

    // ------------------------------------------------------------ delivery

    /// Sends one item; returns the outcome and the attempt record (committed together with
    /// the item's new state, so history and queue never disagree).
    fn deliver(&self, item: &Item) -> (Result<u64, String>, Attempt) {
        let now = now_ms();
        let started = Instant::now();
        let public = self.public_url();
        let mut attempt = Attempt {
            notification_id: item.id.clone(),
            channel: item.channel.clone(),
            target: item.target.clone(),
            target_name: String::new(),
            destination: String::new(),
            service: String::new(),
            alert_ids: item.alerts.iter().map(|a| a.id.clone()).collect(),
            attempt: item.attempts,
            success: false,
            status_code: None,
            error: None,
            payload_bytes: 0,
            duration_ms: 0,
            timestamp: now,
        };
        let result: Result<u64, String> = (|| match item.channel.as_str() {
            "webhook" => {
                let hooks = config::load_webhooks(&self.store).map_err(|e| e.to_string())?;
                let w = hooks
                    .into_iter()
                    .find(|w| w.id == item.target)
                    .ok_or_else(|| format!("webhook {} no longer exists", item.target))?;
                attempt.target_name = w.name.clone();
                attempt.service = w.service.clone();
                attempt.destination = webhook::redact_url(&w.url);
                if !w.enabled {
                    return Err(format!("webhook {} is disabled", w.name));
                }
                let (status, bytes) = self.send_webhook(
                    &w,
                    &item.alerts,
                    item.kind,
                    &item.id,
                    public.as_deref(),
                    now,
                )?;
                attempt.status_code = Some(status);
                Ok(bytes)
            }
            "email" => {
                let c = config::load_email(&self.store).map_err(|e| e.to_string())?;
                attempt.destination = c.recipients().join(", ");
                if !c.enabled {
                    return Err("email notifications are disabled".into());
                }
                let subject = payload::email_subject(&item.alerts, item.kind);
                let mail = email::Mail {
                    subject: &subject,
                    text: payload::email_text(&item.alerts, item.kind, public.as_deref(), now),
                    html: payload::email_html(&item.alerts, item.kind, public.as_deref(), now),
                    message_id: &item.id,
                };
                email::send(&c, &mail)
            }
            "apprise" => {
                let c = config::load_apprise(&self.store).map_err(|e| e.to_string())?;
                attempt.destination = if c.mode == "http" {
                    webhook::redact_url(&c.server_url)
                } else {
                    format!("{} target(s)", c.targets.len())
                };
                if !c.enabled {
                    return Err("apprise notifications are disabled".into());
                }
                let (title, body, ty) =
                    payload::apprise_message(&item.alerts, item.kind, public.as_deref());
                apprise::send(&c, &title, &body, ty, &self.allowlist())
            }
            other => Err(format!("unknown notification channel {other}")),
        })();
        attempt.duration_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(b) => {
                attempt.success = true;
                attempt.payload_bytes = *b;
            }
            Err(e) => attempt.error = Some(e.clone()),
        }
        (result, attempt)
    }

    /// One webhook send for a batch; returns (HTTP status, payload bytes).
    pub fn send_webhook(
        &self,
        w: &Webhook,
        alerts: &[Alert],
        kind: Kind,
        idempotency_key: &str,
        public: Option<&str>,
        now: i64,
    ) -> Result<(u16, u64), String> {
        let pre = payload::template_data(alerts, kind, Some(w), "", public, now);
        let (url, chat_id) = webhook::prepare_url(w, &pre)?;
        let data = payload::template_data(alerts, kind, Some(w), &chat_id, public, now);
        let body = payload::webhook_body(w, alerts, &data, now)?;
        let headers = webhook::headers(w, body.content_type, idempotency_key);
        let out = webhook::send(
            &w.method(),
            &url,
            &headers,
            &body.bytes,
            &self.allowlist(),
            self.tuning.http_timeout,
        )
        .map_err(|e| e.message)?;
        Ok((out.status, body.bytes.len() as u64))
    }

    // ------------------------------------------------------------ alert events

    /// Subscribes to the alert engine: groups notifiable alerts per the alert config's
    /// window, cancels queued items of resolved alerts, and optionally announces
    /// resolutions. Runs on its own thread.
    pub fn attach_alerts(
        self: &Arc<Self>,
        alerts: Arc<crate::alerts::Alerts>,
    ) -> std::io::Result<()> {
        let mut rx = alerts.subscribe();
        let me = self.clone();
        // A blocking wait for the next event (or the open group's deadline) instead of a
        // 100 ms sleep-and-poll loop: that loop woke 100 times per poll cycle for nothing.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new()
            .name("notify-events".into())
            .spawn(move || {
                use tokio::sync::broadcast::error::RecvError;
                let mut grouper = Grouper::default();
                // The config is only read (cloned) while a group is open.
                let window = |g: &Grouper| g.since.map(|_| group_window_ms(&alerts.config()));
                loop {
                    if me.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // At most a second, so `stop` is seen promptly.
                    let mut wait = Duration::from_secs(1);
                    if let (Some(since), Some(w)) = (grouper.since, window(&grouper)) {
                        let due = since + Duration::from_millis(w.max(0) as u64);
                        wait = wait.min(due.saturating_duration_since(Instant::now()));
                    }
                    let got = rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await });
                    match got {
                        Ok(Ok(ev)) => {
                            me.on_event(&mut grouper, ev);
                            // Whatever else arrived with it is taken in the same turn.
                            while let Ok(ev) = rx.try_recv() {
                                me.on_event(&mut grouper, ev);
                            }
                        }
                        Ok(Err(RecvError::Lagged(n))) => {
                            tracing::warn!(
                                missed = n,
                                "notification pipeline fell behind alert events"
                            );
                        }
                        Ok(Err(RecvError::Closed)) => return,
                        Err(_) => {} // waited the full time
                    }
                    if let Some(w) = window(&grouper)
                        && let Some(batch) = grouper.take_due(Instant::now(), w)
                    {
                        me.send_batch(batch, Kind::Alert, &Channels::All);
                    }
                }
            })?;
        Ok(())
    }

    fn send_batch(&self, batch: Vec<Alert>, kind: Kind, ch: &Channels) {
        let ids: Vec<String> = batch.iter().map(|a| a.id.clone()).collect();
        match self.enqueue(batch, kind, ch) {
            Ok(items) => tracing::info!(alerts = ?ids, items = items.len(), "notifications queued"),
            Err(e) => tracing::error!(error = %e, alerts = ?ids, "cannot queue notifications"),
        }
    }

    fn on_event(&self, g: &mut Grouper, ev: AlertEvent) {
        match ev {
            AlertEvent::Raised {
                alert,
                notify: true,
            }
            | AlertEvent::LevelRaised {
                alert,
                notify: true,
            }
            | AlertEvent::Deferred { alert } => g.add(alert, Instant::now()),
            AlertEvent::Escalated {
                alert,
                channel,
                notify: true,
                ..
            } => {
                g.sent.insert(alert.id.clone());
                self.send_batch(
                    vec![alert],
                    Kind::Alert,
                    &Channels::from_escalation(&channel),
                );
            }
            AlertEvent::Resolved { alert, .. } => {
                let was_pending = g.remove(&alert.id);
                let was_sent = g.sent.remove(&alert.id);
                if let Err(e) = self.queue.cancel_for_alert(&alert.id, now_ms()) {
                    tracing::warn!(error = %e, "cannot cancel queued notifications");
                }
                let on = config::load_pipeline(&self.store)
                    .map(|p| p.notify_on_resolved)
                    .unwrap_or(false);
                if on && was_sent && !was_pending {
                    self.send_batch(vec![alert], Kind::Resolved, &Channels::All);
                }
            }
            _ => {}
        }
    }
}

/// The alert config's grouping window (`schedule.grouping.window`, else the legacy
/// `schedule.groupingWindow`), seconds → ms.
fn group_window_ms(c: &crate::alerts::AlertConfig) -> i64 {
    let s = if c.schedule.grouping.window > 0 {
        c.schedule.grouping.window
    } else {
        c.schedule.grouping_window
    };
    s.max(0) * 1000
}

/// The batch being collected: alerts wait until the window since the first one has passed.
/// How long an idle delivery thread sleeps when nothing is queued at all.
const IDLE_WAIT_MS: i64 = 30_000;

#[derive(Default)]
struct Grouper {
    pending: Vec<Alert>,
    since: Option<Instant>,
    /// Alerts a notification went out for (so "resolved" is only sent for those).
    sent: HashSet<String>,
}

impl Grouper {
    fn add(&mut self, a: Alert, now: Instant) {
        self.pending.retain(|p| p.id != a.id);
        self.pending.push(a);
        self.since.get_or_insert(now);
    }

    fn remove(&mut self, id: &str) -> bool {
        let before = self.pending.len();
        self.pending.retain(|p| p.id != id);
        if self.pending.is_empty() {
            self.since = None;
        }
        before != self.pending.len()
    }

    fn take_due(&mut self, now: Instant, window_ms: i64) -> Option<Vec<Alert>> {
        let since = self.since?;
        if now.duration_since(since).as_millis() as i64 >= window_ms {
            self.since = None;
            let batch = std::mem::take(&mut self.pending);
            for a in &batch {
                self.sent.insert(a.id.clone());
            }
            (!batch.is_empty()).then_some(batch)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouper_batches_within_the_window_and_drops_resolved() {
        let mut g = Grouper::default();
        let t0 = Instant::now();
        let mut a = payload::sample_alert(0);
        a.id = "a".into();
        let mut b = a.clone();
        b.id = "b".into();
        g.add(a.clone(), t0);
        g.add(b, t0 + Duration::from_millis(10));
        g.add(a, t0 + Duration::from_millis(20));
        assert!(g.take_due(t0 + Duration::from_millis(500), 1000).is_none());
        assert!(g.remove("b"));
        let batch = g.take_due(t0 + Duration::from_millis(1000), 1000).unwrap();
        assert_eq!(
            batch.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
            vec!["a"]
        );
        assert!(g.sent.contains("a"));
        assert!(g.take_due(t0 + Duration::from_secs(5), 1000).is_none());
    }
}
