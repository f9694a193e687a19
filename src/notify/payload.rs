//! What a notification says: template data built from alerts (spec §3.5), the built-in
//! per-service payload templates (§3.6), and the texts of emails and Apprise messages.

use super::config::Webhook;
use super::template::{self, Escape, TemplateError};
use crate::alerts::Alert;
use serde::Serialize;
use serde_json::{Value, json};

/// Why a notification goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Alert,
    Resolved,
}

fn unit(kind: &str) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "diskread" | "diskwrite" | "networkin" | "networkout" => " MB/s",
        "temperature" => "°C",
        "cpu" | "memory" | "disk" | "usage" => "%",
        _ => "",
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
        None => String::new(),
    }
}

pub fn type_label(kind: &str) -> String {
    match kind {
        "cpu" => "CPU".into(),
        "memory" => "Memory".into(),
        "disk" => "Disk".into(),
        "io" => "I/O".into(),
        o => title_case(o),
    }
}

pub fn duration_text(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86400, (s % 86400) / 3600)
    }
}

fn rfc3339(ms: i64) -> String {
    crate::model::time::rfc3339_ms(ms)
}

/// The instance link: the public URL, else the alert's instance when it is a URL.
pub fn instance_url(public_url: Option<&str>, alert: &Alert) -> String {
    if let Some(u) = public_url.filter(|u| !u.trim().is_empty()) {
        return u.trim().trim_end_matches('/').to_string();
    }
    if alert.instance.starts_with("http://") || alert.instance.starts_with("https://") {
        alert.instance.clone()
    } else {
        String::new()
    }
}

/// Template data for a batch (`WebhookPayloadData`); the first alert is the primary.
pub fn template_data(
    alerts: &[Alert],
    kind: Kind,
    webhook: Option<&Webhook>,
    chat_id: &str,
    public_url: Option<&str>,
    now_ms: i64,
) -> Value {
    let Some(a) = alerts.first() else {
        return json!({});
    };
    let mut message = a.message.clone();
    if kind == Kind::Resolved {
        message = format!("Resolved: {message}");
    }
    if alerts.len() > 1 {
        message.push_str(&format!("\n\n🔔 All {} alerts:", alerts.len()));
        for x in alerts {
            message.push_str(&format!(
                "\n• {}: {:.1}{}",
                x.resource_name,
                x.value,
                unit(&x.kind)
            ));
        }
    }
    let u = unit(&a.kind);
    let mut custom: serde_json::Map<String, Value> = webhook
        .map(|w| {
            w.custom_fields
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    if let Some(w) = webhook {
        if let Some(rk) = w.headers.get("routing_key")
            && !custom.contains_key("routing_key")
        {
            custom.insert("routing_key".into(), rk.clone().into());
        }
        for (alias, from) in [("token", "app_token"), ("user", "user_token")] {
            if let Some(v) = w.custom_fields.get(from)
                && !custom.contains_key(alias)
            {
                custom.insert(alias.into(), v.clone().into());
            }
        }
    }
    let level = if kind == Kind::Resolved {
        "resolved".to_string()
    } else {
        a.level.as_str().to_string()
    };
    json!({
        "ID": a.id,
        "Level": level,
        "Type": a.kind,
        "ResourceName": a.resource_name,
        "ResourceID": a.resource_id,
        "Node": a.node,
        "Instance": instance_url(public_url, a),
        "Message": message,
        "Value": round1(a.value),
        "Threshold": round1(a.threshold),
        "ValueFormatted": format!("{:.1}{u}", a.value),
        "ThresholdFormatted": format!("{:.0}{u}", a.threshold),
        "StartTime": rfc3339(a.start_time),
        "Duration": duration_text(now_ms - a.start_time),
        "Timestamp": rfc3339(now_ms),
        "ResourceType": a.resource_type(),
        "Acknowledged": a.acknowledged,
        "AckTime": a.ack_time.map(rfc3339).unwrap_or_default(),
        "AckUser": a.ack_user.clone().unwrap_or_default(),
        "Metadata": Value::Object(a.metadata.clone()),
        "CustomFields": Value::Object(custom),
        "AlertCount": alerts.len(),
        "Alerts": serde_json::to_value(alerts).unwrap_or(Value::Null),
        "ChatID": chat_id,
        "Resolved": kind == Kind::Resolved,
    })
}

/// A built-in service template (`GET /api/notifications/webhook-templates`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTemplate {
    pub service: &'static str,
    pub name: &'static str,
    pub url_pattern: &'static str,
    pub method: &'static str,
    pub headers: std::collections::BTreeMap<&'static str, &'static str>,
    pub payload_template: &'static str,
    pub instructions: &'static str,
}

macro_rules! details {
    () => {
        "• Resource: {{.ResourceName}}\\n• Node: {{.Node}}\\n• Type: {{.Type | title}}\\n• Value: {{.ValueFormatted}}\\n• Threshold: {{.ThresholdFormatted}}\\n• Duration: {{.Duration}}"
    };
}

const GENERIC: &str = r#"{"alert":{"id":"{{.ID}}","level":"{{.Level}}","type":"{{.Type}}","resource_name":"{{.ResourceName}}","node":"{{.Node}}","message":"{{.Message}}","value":{{.Value}},"threshold":{{.Threshold}},"start_time":"{{.StartTime}}","duration":"{{.Duration}}"},"timestamp":"{{.Timestamp}}","source":"pulse-monitoring"}"#;

const DISCORD: &str = r#"{"username":"Pulse Monitoring","embeds":[{"title":"Pulse Alert: {{.Level | title}}","description":"{{.Message}}","color":{{if eq .Level "critical"}}15158332{{else if eq .Level "warning"}}15105570{{else if eq .Level "resolved"}}3066993{{else}}3447003{{end}},"fields":[{"name":"Resource","value":"{{.ResourceName}}","inline":true},{"name":"Node","value":"{{.Node}}","inline":true},{"name":"Type","value":"{{.Type | title}}","inline":true},{"name":"Value","value":"{{.ValueFormatted}}","inline":true},{"name":"Threshold","value":"{{.ThresholdFormatted}}","inline":true},{"name":"Duration","value":"{{.Duration}}","inline":true}],"timestamp":"{{.Timestamp}}","footer":{"text":"Pulse Monitoring"}}]}"#;

const TELEGRAM: &str = concat!(
    r#"{"chat_id":"{{.ChatID}}","text":"*Pulse Alert: {{.Level | title}}*\n\n{{.Message}}\n\n*Details:*\n"#,
    details!(),
    r#"{{if .Instance}}\n\n[View in Pulse]({{.Instance}}){{end}}","parse_mode":"Markdown","disable_web_page_preview":true}"#
);

const SLACK: &str = r#"{"text":"Pulse Alert: {{.Level | title}} - {{.ResourceName}}","blocks":[{"type":"header","text":{"type":"plain_text","text":"Pulse Alert: {{.Level | title}}"}},{"type":"section","text":{"type":"mrkdwn","text":"{{.Message}}"}},{"type":"section","fields":[{"type":"mrkdwn","text":"*Resource:* {{.ResourceName}}"},{"type":"mrkdwn","text":"*Node:* {{.Node}}"},{"type":"mrkdwn","text":"*Type:* {{.Type | title}}"},{"type":"mrkdwn","text":"*Value:* {{.ValueFormatted}}"},{"type":"mrkdwn","text":"*Threshold:* {{.ThresholdFormatted}}"},{"type":"mrkdwn","text":"*Duration:* {{.Duration}}"}]},{"type":"context","elements":[{"type":"mrkdwn","text":"{{if .Instance}}View in <{{.Instance}}|Proxmox> | {{end}}Alert ID: {{.ID}}"}]}]}"#;

const MATTERMOST: &str = concat!(
    r#"{"username":"Pulse Monitoring","text":"**Pulse Alert: {{.Level | title}} - {{.ResourceName}}**\n{{.Message}}\n\n"#,
    details!(),
    r#"{{if .Instance}}\n\n[View in Pulse]({{.Instance}}){{end}}"}"#
);

const TEAMS: &str = r#"{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"{{if eq .Level "critical"}}FF0000{{else if eq .Level "warning"}}FFA500{{else}}00FF00{{end}}","summary":"Pulse Alert: {{.Level | title}} - {{.ResourceName}}","sections":[{"activityTitle":"Pulse Alert: {{.Level | title}}","activitySubtitle":"{{.Message}}","facts":[{"name":"Resource","value":"{{.ResourceName}}"},{"name":"Node","value":"{{.Node}}"},{"name":"Type","value":"{{.Type | title}}"},{"name":"Value","value":"{{.ValueFormatted}}"},{"name":"Threshold","value":"{{.ThresholdFormatted}}"},{"name":"Duration","value":"{{.Duration}}"},{"name":"Instance","value":"{{.Instance}}"}],"markdown":true}]{{if .Instance}},"potentialAction":[{"@type":"OpenUri","name":"View in Proxmox","targets":[{"os":"default","uri":"{{.Instance}}"}]}]{{end}}}"#;

const TEAMS_ADAPTIVE: &str = r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","size":"Large","weight":"Bolder","text":"Pulse Alert: {{.Level | title}}","color":"{{if eq .Level "critical"}}Attention{{else if eq .Level "warning"}}Warning{{else}}Good{{end}}"},{"type":"TextBlock","text":"{{.Message}}","wrap":true},{"type":"FactSet","facts":[{"title":"Resource","value":"{{.ResourceName}}"},{"title":"Node","value":"{{.Node}}"},{"title":"Type","value":"{{.Type | title}}"},{"title":"Current Value","value":"{{.ValueFormatted}}"},{"title":"Threshold","value":"{{.ThresholdFormatted}}"},{"title":"Duration","value":"{{.Duration}}"},{"title":"Alert ID","value":"{{.ID}}"}]}]{{if .Instance}},"actions":[{"type":"Action.OpenUrl","title":"View in Proxmox","url":"{{.Instance}}"}]{{end}}}}]}"#;

const PAGERDUTY: &str = r#"{"routing_key":"{{.CustomFields.routing_key}}","event_action":"{{if .Resolved}}resolve{{else}}trigger{{end}}","dedup_key":"{{.ID}}","payload":{"summary":"{{.Message}}","timestamp":"{{.Timestamp}}","severity":"{{if eq .Level "critical"}}critical{{else if eq .Level "warning"}}warning{{else}}info{{end}}","source":"{{.Node}}","component":"{{.ResourceName}}","group":"{{.Type}}","class":"{{.Type}}","custom_details":{"alert_id":"{{.ID}}","resource_type":"{{.ResourceType}}","current_value":"{{.ValueFormatted}}","threshold":"{{.ThresholdFormatted}}","duration":"{{.Duration}}","instance":"{{.Instance}}"}},"client":"Pulse Monitoring","client_url":"{{.Instance}}"{{if .Instance}},"links":[{"href":"{{.Instance}}","text":"View in Proxmox"}]{{end}}}"#;

const PUSHOVER: &str = concat!(
    r#"{"token":"{{.CustomFields.app_token}}","user":"{{.CustomFields.user_token}}","title":"Pulse Alert: {{.Level | title}} - {{.ResourceName}}","message":"{{.Message}}\n\n"#,
    details!(),
    r#"","priority":{{if .CustomFields.priority}}{{.CustomFields.priority}}{{else if eq .Level "critical"}}1{{else if eq .Level "warning"}}0{{else}}-1{{end}},"sound":"{{if .CustomFields.sound}}{{.CustomFields.sound}}{{else if eq .Level "critical"}}siren{{else if eq .Level "warning"}}tugboat{{else}}pushover{{end}}","device":"{{if .CustomFields.device}}{{.CustomFields.device}}{{else}}{{.ResourceName}}{{end}}","timestamp":"{{.Timestamp}}"{{if .Instance}},"url":"{{.Instance}}"{{end}}}"#
);

const GOTIFY: &str = concat!(
    r#"{"message":"**{{upper .Level}}**: {{.Message}}\n\n"#,
    details!(),
    r#"{{if .Instance}}\n\n[View in Pulse]({{.Instance}}){{end}}","title":"{{.ResourceName}} - {{.Type | title}} {{upper .Level}} Alert","priority":{{if eq .Level "critical"}}10{{else if eq .Level "warning"}}5{{else}}2{{end}},"extras":{"client::display":{"contentType":"text/markdown"},"pulse::alert":{"id":"{{.ID}}","level":"{{.Level}}","type":"{{.Type}}","resource_name":"{{.ResourceName}}","node":"{{.Node}}","value":{{.Value}},"threshold":{{.Threshold}},"duration":"{{.Duration}}","instance":"{{.Instance}}"}}}"#
);

const NTFY: &str = "{{upper .Level}}: {{.ResourceName}} on {{.Node}}\n\n{{.Message}}\n\nAlert Details:\n- Resource: {{.ResourceName}}\n- Node: {{.Node}}\n- Type: {{.Type | title}}\n- Current: {{.ValueFormatted}}\n- Threshold: {{.ThresholdFormatted}}\n- Duration: {{.Duration}}\n- Alert ID: {{.ID}}{{if .Instance}}\n\nView in Pulse: {{.Instance}}{{end}}";

pub fn service_templates() -> Vec<ServiceTemplate> {
    use std::collections::BTreeMap;
    let json_h = || BTreeMap::from([("Content-Type", "application/json")]);
    let t = |service, name, url_pattern, payload_template, instructions| ServiceTemplate {
        service,
        name,
        url_pattern,
        method: "POST",
        headers: json_h(),
        payload_template,
        instructions,
    };
    let mut pd = t(
        "pagerduty",
        "PagerDuty Events API v2",
        "https://events.pagerduty.com/v2/enqueue",
        PAGERDUTY,
        "Create an Events API v2 integration in PagerDuty and put its integration key in a header or custom field named routing_key.",
    );
    pd.headers
        .insert("Accept", "application/vnd.pagerduty+json;version=2");
    let mut ntfy = t(
        "ntfy",
        "ntfy.sh",
        "https://ntfy.sh/{topic}",
        NTFY,
        "Use https://ntfy.sh/<topic> or your own ntfy server. Add an Authorization header for protected topics.",
    );
    ntfy.headers = BTreeMap::from([("Content-Type", "text/plain")]);
    vec![
        t(
            "generic",
            "Generic JSON Webhook",
            "",
            GENERIC,
            "Any endpoint that accepts a JSON POST. Write your own payload with a custom template.",
        ),
        t(
            "discord",
            "Discord Webhook",
            "https://discord.com/api/webhooks/{webhook_id}/{webhook_token}",
            DISCORD,
            "Server Settings → Integrations → Webhooks → New Webhook, then copy the webhook URL.",
        ),
        t(
            "slack",
            "Slack Incoming Webhook",
            "https://hooks.slack.com/services/{webhook_path}",
            SLACK,
            "Create an app with Incoming Webhooks enabled and copy the webhook URL for your channel.",
        ),
        t(
            "mattermost",
            "Mattermost Incoming Webhook",
            "https://{your-mattermost-server}/hooks/{hook_id}",
            MATTERMOST,
            "Integrations → Incoming Webhooks → Add, then copy the hook URL.",
        ),
        t(
            "telegram",
            "Telegram Bot",
            "https://api.telegram.org/bot{bot_token}/sendMessage?chat_id={chat_id}",
            TELEGRAM,
            "Create a bot with @BotFather and add ?chat_id=<numeric id> to the URL; Pulse moves it into the payload.",
        ),
        t(
            "teams",
            "Microsoft Teams",
            "https://{tenant}.webhook.office.com/webhookb2/{webhook_path}",
            TEAMS,
            "Add an Incoming Webhook connector (or a Workflows webhook) to the channel and copy its URL.",
        ),
        t(
            "teams-adaptive",
            "Microsoft Teams (Adaptive Card)",
            "https://{tenant}.webhook.office.com/webhookb2/{webhook_path}",
            TEAMS_ADAPTIVE,
            "For Teams Workflows (Power Automate) webhooks that expect an Adaptive Card.",
        ),
        pd,
        t(
            "pushover",
            "Pushover",
            "https://api.pushover.net/1/messages.json",
            PUSHOVER,
            "Set custom fields app_token and user_token; optional priority, sound, device.",
        ),
        t(
            "gotify",
            "Gotify",
            "https://{your-gotify-server}/message?token={your-app-token}",
            GOTIFY,
            "Create an application in Gotify and use its token in the URL.",
        ),
        ntfy,
    ]
}

pub fn service_template(service: &str) -> Option<ServiceTemplate> {
    service_templates()
        .into_iter()
        .find(|t| t.service == service)
}

/// A rendered webhook request body with its content type.
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// Renders the payload for `w` (custom template, else the service template, else the plain
/// generic JSON) and checks that JSON payloads parse.
pub fn webhook_body(
    w: &Webhook,
    alerts: &[Alert],
    data: &Value,
    now_ms: i64,
) -> Result<Body, String> {
    let service = w.service.trim().to_ascii_lowercase();
    let is_text = service == "ntfy" && w.template.trim().is_empty();
    let src: Option<String> = if !w.template.trim().is_empty() {
        Some(w.template.clone())
    } else if !service.is_empty() && service != "generic" {
        service_template(&service).map(|t| t.payload_template.to_string())
    } else {
        None
    };
    let Some(src) = src else {
        let v = json!({
            "alerts": alerts,
            "count": alerts.len(),
            "timestamp": now_ms / 1000,
            "source": "pulse-monitoring",
            "grouped": alerts.len() > 1,
            "event": if data["Resolved"] == true { "resolved" } else { "alert" },
        });
        return Ok(Body {
            bytes: serde_json::to_vec(&v).unwrap_or_default(),
            content_type: "application/json",
        });
    };
    let escape = if is_text { Escape::None } else { Escape::Json };
    let out = template::render(&src, data, escape).map_err(|e| e.to_string())?;
    if is_text {
        return Ok(Body {
            bytes: out.into_bytes(),
            content_type: "text/plain",
        });
    }
    if let Err(e) = serde_json::from_str::<Value>(&out) {
        return Err(format!("template produced invalid JSON: {e}"));
    }
    Ok(Body {
        bytes: out.into_bytes(),
        content_type: "application/json",
    })
}

/// A synthetic alert for tests and template validation.
pub fn sample_alert(now_ms: i64) -> Alert {
    Alert {
        id: format!("test-{}", now_ms / 1000),
        kind: "cpu".into(),
        level: crate::alerts::Level::Warning,
        resource_id: "pve-node-01/qemu/100".into(),
        resource_name: "Test VM".into(),
        node: "pve-node-01".into(),
        instance: "https://192.168.1.100:8006".into(),
        message: "Test notification from Pulse: VM cpu at 85.5%".into(),
        value: 85.5,
        threshold: 80.0,
        start_time: now_ms - 120_000,
        last_seen: now_ms,
        acknowledged: false,
        ack_time: None,
        ack_user: None,
        metadata: Default::default(),
        last_notified: None,
        last_escalation: None,
        escalation_times: vec![],
        resolved_time: None,
    }
}

/// Checks a custom template (parse + a render against sample data, JSON result) so a broken
/// one is refused when it is saved, with the template's own error.
pub fn validate_template(w: &Webhook, now_ms: i64) -> Result<(), TemplateError> {
    if w.template.trim().is_empty() {
        return Ok(());
    }
    let t = template::Template::parse(&w.template)?;
    let a = sample_alert(now_ms);
    let data = template_data(
        std::slice::from_ref(&a),
        Kind::Alert,
        Some(w),
        "0",
        None,
        now_ms,
    );
    let out = t.render(&data, Escape::Json)?;
    if w.service != "ntfy"
        && let Err(e) = serde_json::from_str::<Value>(&out)
    {
        return Err(TemplateError(format!(
            "template produced invalid JSON: {e}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- email and Apprise text

pub fn email_subject(alerts: &[Alert], kind: Kind) -> String {
    if kind == Kind::Resolved {
        return match alerts {
            [a] => format!(
                "[Pulse Resolved] {} on {}",
                type_label(&a.kind),
                a.resource_name
            ),
            _ => format!("[Pulse Resolved] {} alerts resolved", alerts.len()),
        };
    }
    if let [a] = alerts {
        return format!(
            "[Pulse Alert] {}: {} on {}",
            title_case(a.level.as_str()),
            type_label(&a.kind),
            a.resource_name
        );
    }
    let crit = alerts
        .iter()
        .filter(|a| a.level == crate::alerts::Level::Critical)
        .count();
    let warn = alerts.len() - crit;
    let s = |n: usize| if n == 1 { "" } else { "s" };
    match (crit, warn) {
        (c, 0) => format!("[Pulse Alert] {c} Critical alert{}", s(c)),
        (0, w) => format!("[Pulse Alert] {w} Warning alert{}", s(w)),
        (c, w) => format!("[Pulse Alert] {c} Critical, {w} Warning alerts"),
    }
}

pub fn email_text(alerts: &[Alert], kind: Kind, public_url: Option<&str>, now_ms: i64) -> String {
    let mut t = String::new();
    t.push_str(if kind == Kind::Resolved {
        "Resolved alerts\n\n"
    } else {
        "Pulse alerts\n\n"
    });
    for a in alerts {
        let u = unit(&a.kind);
        t.push_str(&format!(
            "[{}] {} ({})\n  {}\n  Value: {:.1}{u}  Threshold: {:.0}{u}  Node: {}  Duration: {}\n\n",
            a.level.as_str().to_uppercase(),
            a.resource_name,
            type_label(&a.kind),
            a.message,
            a.value,
            a.threshold,
            a.node,
            duration_text(now_ms - a.start_time)
        ));
    }
    if let Some(u) = public_url.filter(|u| !u.is_empty()) {
        t.push_str(&format!("Dashboard: {u}\n"));
    }
    t
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn email_html(alerts: &[Alert], kind: Kind, public_url: Option<&str>, now_ms: i64) -> String {
    let mut h = String::from("<!DOCTYPE html><html><body style=\"font-family:sans-serif\">");
    h.push_str(if kind == Kind::Resolved {
        "<h2>Resolved alerts</h2>"
    } else {
        "<h2>Pulse alerts</h2>"
    });
    h.push_str("<table border=\"1\" cellpadding=\"6\" style=\"border-collapse:collapse\"><tr><th>Level</th><th>Resource</th><th>Type</th><th>Value</th><th>Threshold</th><th>Node</th><th>Duration</th><th>Message</th></tr>");
    for a in alerts {
        let u = unit(&a.kind);
        let color = match a.level {
            crate::alerts::Level::Critical => "#c0392b",
            crate::alerts::Level::Warning => "#e67e22",
        };
        h.push_str(&format!(
            "<tr><td style=\"color:{color}\">{}</td><td>{}</td><td>{}</td><td>{:.1}{u}</td><td>{:.0}{u}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.level.as_str().to_uppercase(),
            html_escape(&a.resource_name),
            html_escape(&type_label(&a.kind)),
            a.value,
            a.threshold,
            html_escape(&a.node),
            duration_text(now_ms - a.start_time),
            html_escape(&a.message),
        ));
    }
    h.push_str("</table>");
    if let Some(u) = public_url.filter(|u| !u.is_empty()) {
        h.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", html_escape(u)));
    }
    h.push_str("</body></html>");
    h
}

/// Apprise title, body and notification type (spec §4).
pub fn apprise_message(
    alerts: &[Alert],
    kind: Kind,
    public_url: Option<&str>,
) -> (String, String, &'static str) {
    let title = match alerts {
        [a] => format!(
            "Pulse {}: {}",
            if kind == Kind::Resolved {
                "resolved"
            } else {
                "alert"
            },
            a.resource_name
        ),
        _ => format!("Pulse alerts ({})", alerts.len()),
    };
    let mut body = alerts
        .first()
        .map(|a| a.message.clone())
        .unwrap_or_default();
    body.push_str("\n\n");
    for a in alerts {
        body.push_str(&format!(
            "[{}] {} — value {:.2} (threshold {:.2})\nNode: {}\n",
            a.level.as_str().to_uppercase(),
            a.resource_name,
            a.value,
            a.threshold,
            a.node
        ));
        if !a.instance.is_empty() && a.instance != a.node {
            body.push_str(&format!("Instance: {}\n", a.instance));
        }
        body.push('\n');
    }
    if let Some(u) = public_url.filter(|u| !u.is_empty()) {
        body.push_str(&format!("Dashboard: {u}\n"));
    }
    let ty = if kind == Kind::Resolved {
        "success"
    } else if alerts
        .iter()
        .any(|a| a.level == crate::alerts::Level::Critical)
    {
        "failure"
    } else {
        "warning"
    };
    (title, body.trim_end().to_string(), ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_renders_valid_json_even_with_quotes_in_messages() {
        let now = 1_700_000_000_000;
        let mut a = sample_alert(now);
        a.message = "quote \" and\nnewline and \\ backslash".into();
        a.level = crate::alerts::Level::Critical;
        let b = sample_alert(now);
        for t in service_templates() {
            let w = Webhook {
                service: t.service.into(),
                ..Default::default()
            };
            for batch in [vec![a.clone()], vec![a.clone(), b.clone()]] {
                let data = template_data(
                    &batch,
                    Kind::Alert,
                    Some(&w),
                    "-100",
                    Some("https://pulse.example"),
                    now,
                );
                let out = template::render(
                    t.payload_template,
                    &data,
                    if t.service == "ntfy" {
                        Escape::None
                    } else {
                        Escape::Json
                    },
                )
                .unwrap_or_else(|e| panic!("{}: {e}", t.service));
                if t.service != "ntfy" {
                    let v: Value = serde_json::from_str(&out)
                        .unwrap_or_else(|e| panic!("{}: {e}\n{out}", t.service));
                    assert!(v.to_string().contains("quote"), "{}", t.service);
                } else {
                    assert!(out.starts_with("CRITICAL: Test VM on pve-node-01"));
                }
            }
        }
    }

    #[test]
    fn durations_and_subjects() {
        assert_eq!(duration_text(59_000), "59s");
        assert_eq!(duration_text(61 * 60_000), "1h 1m");
        assert_eq!(duration_text(25 * 3_600_000), "1d 1h");
        let now = 1_700_000_000_000;
        let mut a = sample_alert(now);
        assert_eq!(
            email_subject(&[a.clone()], Kind::Alert),
            "[Pulse Alert] Warning: CPU on Test VM"
        );
        let w = a.clone();
        a.level = crate::alerts::Level::Critical;
        assert_eq!(
            email_subject(&[a.clone(), w.clone()], Kind::Alert),
            "[Pulse Alert] 1 Critical, 1 Warning alerts"
        );
        assert_eq!(
            email_subject(&[w.clone(), w], Kind::Alert),
            "[Pulse Alert] 2 Warning alerts"
        );
    }

    #[test]
    fn bad_custom_template_is_refused_with_its_error() {
        let now = 1_700_000_000_000;
        let w = |t: &str| Webhook {
            template: t.into(),
            ..Default::default()
        };
        assert!(validate_template(&w("{\"a\":\"{{.Level}}\"}"), now).is_ok());
        assert!(
            validate_template(&w("{\"a\":\"{{.Level\"}"), now)
                .unwrap_err()
                .0
                .contains("unclosed")
        );
        assert!(
            validate_template(&w("{\"a\":{{.Level}}}"), now)
                .unwrap_err()
                .0
                .contains("invalid JSON")
        );
        assert!(
            validate_template(&w("{{.NoSuchField}}"), now)
                .unwrap_err()
                .0
                .contains("NoSuchField")
        );
    }
}
