// Notifications settings: form ↔ API conversion and client-side checks (pure; tested in
// notify.test.ts). The server checks everything again; its message is shown when it refuses.

/** What the server returns in place of a stored secret; sending it back keeps the secret. */
export const REDACTED = "***REDACTED***";

export const SERVICES = ["generic", "discord", "slack", "mattermost", "telegram", "teams", "teams-adaptive", "pagerduty", "pushover", "gotify", "ntfy"] as const;

export type TlsMode = "none" | "starttls" | "tls";

export interface EmailApi {
  enabled: boolean;
  provider?: string;
  server: string;
  port: number;
  username: string;
  password: string;
  from: string;
  to: string[];
  tls: boolean;
  startTLS: boolean;
  replyTo?: string;
}

export interface EmailForm {
  enabled: boolean;
  provider: string;
  server: string;
  /** Kept as typed so a bad port can be reported instead of silently becoming NaN. */
  port: string;
  tlsMode: TlsMode;
  username: string;
  /** Empty = keep the stored password (the server masks it as ""). */
  password: string;
  from: string;
  /** One address per line (commas and semicolons also separate). */
  to: string;
}

export interface Provider { name: string; smtpHost: string; smtpPort: number; tls: boolean; startTLS: boolean; authRequired?: boolean; instructions?: string }

export function emailFromApi(a: Partial<EmailApi>): EmailForm {
  return {
    enabled: !!a.enabled,
    provider: a.provider ?? "",
    server: a.server ?? "",
    port: a.port ? String(a.port) : "587",
    tlsMode: a.tls ? "tls" : a.startTLS ? "starttls" : "none",
    username: a.username ?? "",
    password: "",
    from: a.from ?? "",
    to: (a.to ?? []).join("\n"),
  };
}

export function splitList(s: string): string[] {
  return s.split(/[\n,;]+/).map((x) => x.trim()).filter(Boolean);
}

export function emailToApi(f: EmailForm): EmailApi {
  return {
    enabled: f.enabled,
    provider: f.provider,
    server: f.server.trim(),
    port: Number(f.port.trim()),
    username: f.username.trim(),
    // Empty keeps the stored password on the server.
    password: f.password,
    from: f.from.trim(),
    to: splitList(f.to),
    tls: f.tlsMode === "tls",
    startTLS: f.tlsMode === "starttls",
  };
}

/** A preset fills server, port and TLS mode; the rest stays as the user typed it. */
export function applyProvider(f: EmailForm, p: Provider): EmailForm {
  return { ...f, provider: p.name, server: p.smtpHost, port: String(p.smtpPort), tlsMode: p.tls ? "tls" : p.startTLS ? "starttls" : "none" };
}

// Deliberately loose: one @, something on each side, no spaces (the server parses fully).
const EMAIL_RE = /^[^\s@<>]+@[^\s@<>]+$/;
export function isEmail(s: string): boolean {
  const m = s.trim().match(/<([^>]*)>$/); // "Name <a@b>"
  return EMAIL_RE.test(m ? m[1] : s.trim());
}

export function validPort(s: string): boolean {
  return /^\d{1,5}$/.test(s.trim()) && Number(s) >= 1 && Number(s) <= 65535;
}

/** Checks for saving (`forTest`: the test sends the form as if enabled, so require a server). */
export function validateEmail(f: EmailForm, forTest = false): Record<string, string> {
  const e: Record<string, string> = {};
  const needed = f.enabled || forTest;
  if (needed && !f.server.trim()) e.server = "The SMTP server is required.";
  else if (f.server.trim() && /[\s/]/.test(f.server.trim())) e.server = "A host name or address only (no scheme, no spaces).";
  if (!validPort(f.port)) e.port = "A port between 1 and 65535.";
  if (needed && !f.from.trim()) e.from = "The sender address is required.";
  else if (f.from.trim() && !isEmail(f.from)) e.from = "Not an email address.";
  const bad = splitList(f.to).filter((t) => !isEmail(t));
  if (bad.length) e.to = `Not an email address: ${bad.join(", ")}`;
  if (f.password && !f.username.trim()) e.username = "A password needs a user name.";
  return e;
}

export interface WebhookApi {
  id?: string;
  name: string;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  enabled: boolean;
  service: string;
  template?: string;
  customFields?: Record<string, string>;
}

export interface HeaderRow { key: string; value: string }

export interface WebhookForm {
  id: string;
  name: string;
  url: string;
  method: string;
  service: string;
  enabled: boolean;
  headers: HeaderRow[];
  template: string;
  /** Round-tripped untouched (masked values are restored by the server). */
  customFields: Record<string, string>;
}

export function blankWebhook(): WebhookForm {
  return { id: "", name: "", url: "", method: "POST", service: "generic", enabled: true, headers: [], template: "", customFields: {} };
}

export function webhookFromApi(w: WebhookApi): WebhookForm {
  return {
    id: w.id ?? "",
    name: w.name ?? "",
    url: w.url ?? "",
    method: (w.method || "POST").toUpperCase(),
    service: w.service || "generic",
    enabled: !!w.enabled,
    headers: Object.entries(w.headers ?? {}).map(([key, value]) => ({ key, value })),
    template: w.template ?? "",
    customFields: { ...(w.customFields ?? {}) },
  };
}

export function webhookToApi(f: WebhookForm): WebhookApi {
  const headers: Record<string, string> = {};
  for (const h of f.headers) if (h.key.trim()) headers[h.key.trim()] = h.value;
  const w: WebhookApi = { name: f.name.trim(), url: f.url.trim(), method: f.method, headers, enabled: f.enabled, service: f.service };
  if (f.id) w.id = f.id;
  if (f.template.trim()) w.template = f.template;
  if (Object.keys(f.customFields).length) w.customFields = f.customFields;
  return w;
}

/** http(s) URL with a host; the server's guard decides about private addresses. */
export function checkUrl(s: string): string | null {
  const t = s.trim();
  if (!t) return "The URL is required.";
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return "Not a URL (e.g. https://hooks.example.com/pulse).";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "Only http:// and https:// URLs.";
  if (!u.hostname) return "The URL needs a host.";
  return null;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function validateWebhook(f: WebhookForm): Record<string, string> {
  const e: Record<string, string> = {};
  if (!f.name.trim()) e.name = "A name is required.";
  const u = checkUrl(f.url);
  if (u) e.url = u;
  if (!(SERVICES as readonly string[]).includes(f.service)) e.service = "Choose a service.";
  const seen = new Set<string>();
  for (const h of f.headers) {
    const k = h.key.trim();
    if (!k && !h.value) continue;
    if (!HEADER_NAME.test(k)) e.headers = `Invalid header name ${JSON.stringify(h.key)}.`;
    else if (seen.has(k.toLowerCase())) e.headers = `Header ${k} appears twice.`;
    else if (/[\r\n]/.test(h.value)) e.headers = `Header ${k}: the value may not contain line breaks.`;
    seen.add(k.toLowerCase());
  }
  // The template is checked by the server (it parses and renders it against a sample alert):
  // JSON's own braces make a client-side {{ }} count unreliable.
  return e;
}

/** Where a server refusal belongs: the URL field, the template field, or the form. */
export function serverErrorField(message: string): "url" | "template" | "form" {
  if (/^Invalid webhook URL/i.test(message)) return "url";
  if (/^Invalid webhook template/i.test(message)) return "template";
  return "form";
}

export interface AppriseApi { enabled: boolean; mode: string; targets: string[]; cliPath: string; timeoutSeconds: number; serverUrl: string; configKey: string; apiKey: string; apiKeyHeader: string; skipTlsVerify: boolean }
export interface AppriseForm { enabled: boolean; mode: "cli" | "http"; targets: string; cliPath: string; timeoutSeconds: string; serverUrl: string; configKey: string; apiKey: string; skipTlsVerify: boolean }

export function appriseFromApi(a: Partial<AppriseApi>): AppriseForm {
  return {
    enabled: !!a.enabled,
    mode: a.mode === "http" ? "http" : "cli",
    targets: (a.targets ?? []).join("\n"),
    cliPath: a.cliPath ?? "apprise",
    timeoutSeconds: String(a.timeoutSeconds ?? 15),
    serverUrl: a.serverUrl ?? "",
    configKey: a.configKey ?? "",
    apiKey: a.apiKey ?? "",
    skipTlsVerify: !!a.skipTlsVerify,
  };
}

export function appriseToApi(f: AppriseForm, apiKeyHeader = "X-API-KEY"): AppriseApi {
  return {
    enabled: f.enabled,
    mode: f.mode,
    targets: f.targets.split(/\n+/).map((x) => x.trim()).filter(Boolean),
    cliPath: f.cliPath.trim() || "apprise",
    timeoutSeconds: Number(f.timeoutSeconds),
    serverUrl: f.serverUrl.trim(),
    configKey: f.configKey.trim(),
    apiKey: f.apiKey,
    apiKeyHeader,
    skipTlsVerify: f.skipTlsVerify,
  };
}

export function validateApprise(f: AppriseForm): Record<string, string> {
  const e: Record<string, string> = {};
  const t = Number(f.timeoutSeconds);
  if (!/^\d+$/.test(f.timeoutSeconds.trim()) || t < 5 || t > 120) e.timeoutSeconds = "Between 5 and 120 seconds.";
  if (f.mode === "http") {
    const u = checkUrl(f.serverUrl);
    if (u && (f.enabled || f.serverUrl.trim())) e.serverUrl = u;
  } else if (f.enabled && !appriseToApi(f).targets.length) e.targets = "Give at least one Apprise target URL.";
  return e;
}

/** Queue stats in display order (the server adds keys; unknown ones are ignored). */
export const QUEUE_KEYS: [string, string][] = [["queueDepth", "Queued"], ["pending", "Pending"], ["processing", "Sending"], ["failed", "Retrying"], ["dlq", "Dead letter"], ["completed", "Sent (24 h)"], ["cancelled", "Cancelled (24 h)"]];

export function queueCards(stats: Record<string, unknown> | undefined): { key: string; label: string; value: number }[] {
  return QUEUE_KEYS.map(([key, label]) => ({ key, label, value: Number(stats?.[key] ?? 0) || 0 }));
}

/** `maxAttempts` as typed → a number in 1..20, or an error sentence. */
export function parseMaxAttempts(s: string): number | string {
  const t = s.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 20) return "Between 1 and 20 attempts.";
  return Number(t);
}
