//! Email over SMTP with lettre's blocking transport on rustls: implicit TLS (`tls` or port
//! 465), STARTTLS, or plain; AUTH when credentials are set; text + HTML alternative parts.
//! The server's own answer is the verdict: a 4xx/5xx is an error with its text.

use super::config::EmailConfig;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::Serialize;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A provider preset (`GET /api/notifications/email-providers`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub name: &'static str,
    pub smtp_host: &'static str,
    pub smtp_port: u16,
    pub tls: bool,
    #[serde(rename = "startTLS")]
    pub start_tls: bool,
    pub auth_required: bool,
    pub instructions: &'static str,
}

pub fn providers() -> Vec<Provider> {
    let p = |name, smtp_host, instructions| Provider {
        name,
        smtp_host,
        smtp_port: 587,
        tls: false,
        start_tls: true,
        auth_required: true,
        instructions,
    };
    vec![
        p(
            "Gmail / Google Workspace",
            "smtp.gmail.com",
            "Turn on 2-step verification, create an App Password (Google Account → Security → App passwords) and use it as the password; the username is your full address.",
        ),
        p(
            "SendGrid",
            "smtp.sendgrid.net",
            "Create an API key with Mail Send permission. Username is the literal word apikey (filled in if left empty), the password is the API key.",
        ),
        p(
            "Mailgun",
            "smtp.mailgun.org",
            "Use the SMTP credentials of your sending domain (Sending → Domain settings → SMTP credentials).",
        ),
        p(
            "Amazon SES (US East)",
            "email-smtp.us-east-1.amazonaws.com",
            "Create SMTP credentials in the SES console (they differ from IAM keys) and verify the sender address or domain. Change the host for other regions.",
        ),
        p(
            "Microsoft 365 / Outlook",
            "smtp.office365.com",
            "Enable authenticated SMTP for the mailbox; use the mailbox address and its password or an app password.",
        ),
        p(
            "Brevo (formerly Sendinblue)",
            "smtp-relay.brevo.com",
            "Use your Brevo login as username and an SMTP key (SMTP & API → SMTP) as password.",
        ),
        p(
            "Postmark",
            "smtp.postmarkapp.com",
            "Use a Server API token as both username and password (the username is filled in if left empty).",
        ),
        p(
            "SparkPost",
            "smtp.sparkpostmail.com",
            "Username SMTP_Injection (filled in if left empty); password is an API key with Send via SMTP permission.",
        ),
        p(
            "Resend",
            "smtp.resend.com",
            "Username resend (filled in if left empty); password is your Resend API key. Verify your sending domain first.",
        ),
        p(
            "SMTP2GO",
            "mail.smtp2go.com",
            "Create an SMTP user in SMTP2GO (Sending → SMTP Users) and use its username and password.",
        ),
        p(
            "Custom SMTP Server",
            "",
            "Any SMTP server: port 465 uses implicit TLS, 587 usually STARTTLS, 25 plain SMTP inside a trusted network.",
        ),
    ]
}

/// The username a provider expects when none was typed (spec §2.2).
fn username(c: &EmailConfig) -> String {
    if !c.username.is_empty() {
        return c.username.clone();
    }
    match c.provider.as_str() {
        "SendGrid" => "apikey".into(),
        "Postmark" => c.password.clone(),
        "SparkPost" => "SMTP_Injection".into(),
        "Resend" => "resend".into(),
        _ => String::new(),
    }
}

/// One message to send.
pub struct Mail<'a> {
    pub subject: &'a str,
    pub text: String,
    pub html: String,
    /// Stable across retries, so a mailbox can de-duplicate.
    pub message_id: &'a str,
}

/// Checks what a send needs before any network traffic.
pub fn check_config(c: &EmailConfig) -> Result<(), String> {
    if c.server.trim().is_empty() {
        return Err("SMTP server is not set".into());
    }
    if c.from.trim().is_empty() {
        return Err("sender address (from) is not set".into());
    }
    if c.port == 0 {
        return Err("SMTP port is not set".into());
    }
    Ok(())
}

fn mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim()
        .parse()
        .map_err(|e| format!("invalid address {s:?}: {e}"))
}

/// Sends `mail` per `c`; returns the message size in bytes.
pub fn send(c: &EmailConfig, mail: &Mail<'_>) -> Result<u64, String> {
    check_config(c)?;
    let mut b = Message::builder()
        .from(mailbox(&c.from)?)
        .subject(mail.subject)
        .message_id(Some(format!("<{}@pulse-monitoring>", mail.message_id)))
        .user_agent("Pulse Monitoring System".into());
    let to = c.recipients();
    if to.is_empty() {
        return Err("no recipients".into());
    }
    for r in &to {
        b = b.to(mailbox(r)?);
    }
    if !c.reply_to.trim().is_empty() {
        b = b.reply_to(mailbox(&c.reply_to)?);
    }
    let mut msg = b
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    msg.headers_mut().insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-Mailer"),
        "Pulse Monitoring System".into(),
    ));
    let bytes = msg.formatted().len() as u64;

    let host = c.server.trim();
    let tls_params =
        || TlsParameters::new(host.to_string()).map_err(|e| format!("TLS setup for {host}: {e}"));
    let tls = if c.tls || c.port == 465 {
        Tls::Wrapper(tls_params()?)
    } else if c.start_tls {
        Tls::Required(tls_params()?)
    } else {
        Tls::None
    };
    let mut t = SmtpTransport::builder_dangerous(host)
        .port(c.port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    let user = username(c);
    if !user.is_empty() && !c.password.is_empty() {
        t = t.credentials(Credentials::new(user, c.password.clone()));
    }
    let transport = t.build();
    transport
        .send(&msg)
        .map_err(|e| format!("SMTP {host}:{}: {e}", c.port))?;
    Ok(bytes)
}
