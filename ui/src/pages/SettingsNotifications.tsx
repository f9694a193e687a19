// Settings → Notifications: email (SMTP, provider presets, test), webhooks (list, add, edit,
// delete, test), Apprise, and the delivery queue (stats, dead letter queue, history).
// Form logic lives in lib/notify.ts; every server refusal is shown in words.
import { createResource, createSignal, For, Index, Show } from "solid-js";
import { api, ApiError } from "../lib/api";
import { toast } from "../lib/toast";
import {
  REDACTED, SERVICES, applyProvider, appriseFromApi, appriseToApi, blankWebhook, emailFromApi, emailToApi, parseMaxAttempts, queueCards,
  serverErrorField, validateApprise, validateEmail, validateWebhook, webhookFromApi, webhookToApi,
  type AppriseApi, type AppriseForm, type EmailApi, type EmailForm, type Provider, type WebhookApi, type WebhookForm,
} from "../lib/notify";

type Result = { ok: boolean; text: string } | null;
const Err = (p: { e?: string; id?: string }) => <Show when={p.e}><small class="error" data-testid={p.id}>{p.e}</small></Show>;
const ResultLine = (p: { r: Result; id: string }) => (
  <Show when={p.r}><p class={p.r!.ok ? "okmsg" : "error"} role="status" data-testid={p.id} data-ok={String(p.r!.ok)}>{p.r!.ok ? "✓ " : "✗ "}{p.r!.text}</p></Show>
);
const input = <T,>(get: () => T, set: (v: T) => void, k: keyof T) => (e: Event) => {
  const t = e.currentTarget as HTMLInputElement;
  set({ ...get(), [k]: t.type === "checkbox" ? t.checked : t.value });
};

function EmailSection() {
  const [providers] = createResource(() => api<Provider[]>("GET", "/api/notifications/email-providers"));
  const [form, setForm] = createSignal<EmailForm | null>(null);
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const [result, setResult] = createSignal<Result>(null);
  const [busy, setBusy] = createSignal(false);
  api<EmailApi>("GET", "/api/notifications/email").then((c) => setForm(emailFromApi(c)), () => setForm(emailFromApi({})));
  const f = () => form()!;
  const on = (k: keyof EmailForm) => input(f, setForm, k);
  const instructions = () => providers()?.find((p) => p.name === f().provider)?.instructions;

  const save = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    const v = validateEmail(f());
    setErrs(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    try {
      await api("PUT", "/api/notifications/email", emailToApi(f()), { toast: false });
      setForm({ ...f(), password: "" });
      setResult({ ok: true, text: "Email settings saved." });
    } catch (x) {
      setErrs({ ...(x as ApiError).fields });
      setResult({ ok: false, text: (x as Error).message });
    } finally {
      setBusy(false);
    }
  };
  const test = async () => {
    setResult(null);
    const v = validateEmail(f(), true);
    setErrs(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    try {
      // The form as it is now (not yet saved), sent as if enabled; an empty password uses the stored one.
      const r = await api<{ message?: string }>("POST", "/api/notifications/test", { method: "email", config: { ...emailToApi(f()), enabled: true } }, { toast: false });
      setResult({ ok: true, text: `${r?.message ?? "Test email sent"} — the SMTP server accepted it for ${emailToApi(f()).to.join(", ") || f().from}.` });
    } catch (x) {
      setResult({ ok: false, text: (x as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Show when={form()} fallback={<p class="muted">Loading…</p>}>
      <form class="panel" onSubmit={save} data-testid="email-form" novalidate>
        <h2>Email (SMTP)</h2>
        <label class="row"><input type="checkbox" name="enabled" checked={f().enabled} onChange={on("enabled")} /> Send alerts by email</label>
        <div class="formgrid">
          <label>Provider preset
            <select name="provider" value={f().provider} onChange={(e) => { const p = providers()?.find((x) => x.name === e.currentTarget.value); setForm(p ? applyProvider(f(), p) : { ...f(), provider: "" }); }}>
              <option value="">Custom server</option>
              <For each={providers() ?? []}>{(p) => <option value={p.name}>{p.name}</option>}</For>
            </select>
          </label>
          <label>SMTP server<input name="server" placeholder="smtp.example.com" value={f().server} onInput={on("server")} /><Err e={errs().server} /></label>
          <label>Port<input name="port" inputmode="numeric" value={f().port} onInput={on("port")} /><Err e={errs().port} /></label>
          <label>Encryption
            <select name="tlsMode" value={f().tlsMode} onChange={on("tlsMode")}>
              <option value="starttls">STARTTLS (usually port 587)</option>
              <option value="tls">TLS from the start (usually port 465)</option>
              <option value="none">None (plain SMTP)</option>
            </select>
          </label>
          <label>From<input name="from" placeholder="pulse@example.com" value={f().from} onInput={on("from")} /><Err e={errs().from} /></label>
          <label>User name<input name="username" autocomplete="off" value={f().username} onInput={on("username")} /><Err e={errs().username} /></label>
          <label>Password<input name="password" type="password" autocomplete="new-password" placeholder="empty = keep the stored one" value={f().password} onInput={on("password")} /></label>
          <label class="wide">Recipients (one per line; none = the sender)<textarea name="to" rows="3" value={f().to} onInput={on("to")} /><Err e={errs().to} /></label>
        </div>
        <Show when={instructions()}><p class="muted small">{instructions()}</p></Show>
        <ResultLine r={result()} id="email-result" />
        <div class="buttons">
          <button type="button" onClick={test} disabled={busy()} data-testid="email-test">Send test email</button>
          <button type="submit" class="primary" disabled={busy()} data-testid="email-save">Save</button>
        </div>
      </form>
    </Show>
  );
}

function WebhookEditor(p: { initial: WebhookForm; onDone: (saved: boolean) => void }) {
  const [form, setForm] = createSignal<WebhookForm>(p.initial);
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const [result, setResult] = createSignal<Result>(null);
  const [busy, setBusy] = createSignal(false);
  const f = form;
  const on = (k: keyof WebhookForm) => input(f, setForm, k);
  const setHeader = (i: number, k: "key" | "value", v: string) => setForm({ ...f(), headers: f().headers.map((h, j) => (j === i ? { ...h, [k]: v } : h)) });
  const check = () => {
    const v = validateWebhook(f());
    setErrs(v);
    return Object.keys(v).length === 0;
  };
  const refusal = (x: unknown) => {
    const m = (x as Error).message;
    setErrs({ [serverErrorField(m)]: m });
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    if (!check()) return;
    setBusy(true);
    try {
      if (f().id) await api("PUT", `/api/notifications/webhooks/${encodeURIComponent(f().id)}`, webhookToApi(f()), { toast: false });
      else await api("POST", "/api/notifications/webhooks", webhookToApi(f()), { toast: false });
      toast(`Webhook ${f().name} saved`, "ok");
      p.onDone(true);
    } catch (x) {
      refusal(x);
    } finally {
      setBusy(false);
    }
  };
  const test = async () => {
    setResult(null);
    if (!check()) return;
    setBusy(true);
    try {
      const r = await api<{ status: number; response?: string }>("POST", "/api/notifications/webhooks/test", webhookToApi(f()), { toast: false });
      setResult({ ok: true, text: `Delivered: the endpoint answered ${r.status}${r.response ? ` (${r.response.slice(0, 160)})` : ""}.` });
    } catch (x) {
      const m = (x as Error).message;
      if (serverErrorField(m) !== "form") refusal(x);
      setResult({ ok: false, text: m });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={save} data-testid="webhook-form" novalidate>
      <h2>{f().id ? `Edit ${p.initial.name}` : "Add a webhook"}</h2>
      <div class="formgrid">
        <label>Name<input name="name" value={f().name} onInput={on("name")} /><Err e={errs().name} /></label>
        <label>Service
          <select name="service" value={f().service} onChange={on("service")}>
            <For each={SERVICES as unknown as string[]}>{(s) => <option value={s}>{s}</option>}</For>
          </select><Err e={errs().service} />
        </label>
        <label class="wide">URL<input name="url" placeholder="https://hooks.example.com/pulse" value={f().url} onInput={on("url")} /><Err e={errs().url} id="webhook-url-error" /></label>
        <label>Method
          <select name="method" value={f().method} onChange={on("method")}>
            <For each={["POST", "PUT", "PATCH", "GET"]}>{(m) => <option value={m}>{m}</option>}</For>
          </select>
        </label>
        <label class="row"><input type="checkbox" name="enabled" checked={f().enabled} onChange={on("enabled")} /> Enabled</label>
      </div>
      <fieldset>
        <legend>Custom headers</legend>
        <Index each={f().headers}>{(h, i) => (
          <div class="buttons">
            <input aria-label="Header name" name={`header-key-${i}`} placeholder="Authorization" value={h().key} onInput={(e) => setHeader(i, "key", e.currentTarget.value)} />
            <input aria-label="Header value" name={`header-value-${i}`} type={h().value === REDACTED ? "password" : "text"} placeholder="value" value={h().value} onInput={(e) => setHeader(i, "value", e.currentTarget.value)} />
            <button type="button" class="ghost" onClick={() => setForm({ ...f(), headers: f().headers.filter((_, j) => j !== i) })}>Remove</button>
          </div>
        )}</Index>
        <button type="button" onClick={() => setForm({ ...f(), headers: [...f().headers, { key: "", value: "" }] })} data-testid="add-header">Add header</button>
        <Err e={errs().headers} />
        <Show when={f().headers.some((h) => h.value === REDACTED)}><p class="muted small">Stored values are hidden; leave them as they are to keep them.</p></Show>
      </fieldset>
      <label class="wide"><span>Custom payload template (optional, Go template syntax, e.g. <code>{'{"text":"{{.Level}}: {{.Message}}"}'}</code>)</span>
        <textarea name="template" rows="4" value={f().template} onInput={on("template")} placeholder={`Empty: the built-in ${f().service} payload`} /><Err e={errs().template} id="webhook-template-error" />
      </label>
      <Show when={errs().form}><p class="error" role="alert" data-testid="webhook-error">{errs().form}</p></Show>
      <ResultLine r={result()} id="webhook-form-result" />
      <div class="buttons">
        <button type="button" onClick={test} disabled={busy()} data-testid="webhook-form-test">Test</button>
        <button type="submit" class="primary" disabled={busy()} data-testid="webhook-save">Save</button>
        <button type="button" class="ghost" onClick={() => p.onDone(false)}>Cancel</button>
      </div>
    </form>
  );
}

function WebhooksSection() {
  const [hooks, { refetch }] = createResource(() => api<WebhookApi[]>("GET", "/api/notifications/webhooks"));
  const [editing, setEditing] = createSignal<WebhookForm | null>(null);
  const [results, setResults] = createSignal<Record<string, Result>>({});
  const [testing, setTesting] = createSignal("");
  const test = async (w: WebhookApi) => {
    setTesting(w.id!);
    setResults({ ...results(), [w.id!]: null });
    let r: Result;
    try {
      // The masked object is enough: the server restores stored secrets by id.
      const a = await api<{ status: number }>("POST", "/api/notifications/webhooks/test", w, { toast: false });
      r = { ok: true, text: `Delivered (HTTP ${a.status})` };
    } catch (x) {
      r = { ok: false, text: (x as Error).message };
    }
    setResults({ ...results(), [w.id!]: r });
    setTesting("");
  };
  const remove = async (w: WebhookApi) => {
    if (!confirm(`Delete the webhook ${w.name}?`)) return;
    await api("DELETE", `/api/notifications/webhooks/${encodeURIComponent(w.id!)}`);
    toast(`Webhook ${w.name} deleted`, "ok");
    refetch();
  };
  const toggle = async (w: WebhookApi) => {
    await api("PUT", `/api/notifications/webhooks/${encodeURIComponent(w.id!)}`, { ...w, enabled: !w.enabled });
    refetch();
  };
  return (
    <section class="panel">
      <h2>Webhooks</h2>
      <Show when={(hooks() ?? []).length} fallback={<p class="muted">{hooks.loading ? "Loading…" : hooks.error ? "Could not load the webhooks." : "No webhooks yet."}</p>}>
        <div class="tablewrap"><table class="grid" data-testid="webhooks">
          <thead><tr><th>Name</th><th>Service</th><th>URL</th><th>Enabled</th><th>Last test</th><th></th></tr></thead>
          <tbody><For each={hooks()}>{(w) => (
            <tr data-name={w.name}>
              <td>{w.name}</td><td>{w.service || "generic"}</td><td class="small">{w.url}</td>
              <td><input type="checkbox" aria-label={`Enable ${w.name}`} checked={w.enabled} onChange={() => toggle(w)} /></td>
              <td class="small" data-testid="webhook-test-result"><Show when={results()[w.id!]}><span class={results()[w.id!]!.ok ? "okmsg" : "error"} data-ok={String(results()[w.id!]!.ok)}>{results()[w.id!]!.text}</span></Show></td>
              <td class="actions">
                <button onClick={() => test(w)} disabled={testing() === w.id} data-testid="webhook-test">{testing() === w.id ? "Testing…" : "Test"}</button>
                <button onClick={() => setEditing(webhookFromApi(w))}>Edit</button>
                <button class="danger" onClick={() => remove(w)}>Delete</button>
              </td>
            </tr>
          )}</For></tbody>
        </table></div>
      </Show>
      <Show when={editing()} keyed fallback={<div class="buttons" style={{ "margin-top": ".7rem" }}><button class="primary" data-testid="add-webhook" onClick={() => setEditing(blankWebhook())}>Add webhook</button></div>}>
        {(w) => <WebhookEditor initial={w} onDone={(saved) => { setEditing(null); if (saved) refetch(); }} />}
      </Show>
    </section>
  );
}

function AppriseSection() {
  const [form, setForm] = createSignal<AppriseForm | null>(null);
  const [header, setHeader] = createSignal("X-API-KEY");
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const [result, setResult] = createSignal<Result>(null);
  api<AppriseApi>("GET", "/api/notifications/apprise").then((a) => { setHeader(a.apiKeyHeader || "X-API-KEY"); setForm(appriseFromApi(a)); }, () => setForm(appriseFromApi({})));
  const f = () => form()!;
  const on = (k: keyof AppriseForm) => input(f, setForm, k);
  const save = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    const v = validateApprise(f());
    setErrs(v);
    if (Object.keys(v).length) return;
    try {
      const a = await api<AppriseApi>("PUT", "/api/notifications/apprise", appriseToApi(f(), header()), { toast: false });
      setForm(appriseFromApi(a));
      setResult({ ok: true, text: a.enabled || !f().enabled ? "Apprise settings saved." : "Saved, but disabled: give targets (CLI) or a server URL (API)." });
    } catch (x) {
      setResult({ ok: false, text: (x as Error).message });
    }
  };
  const test = async () => {
    setResult(null);
    try {
      await api("POST", "/api/notifications/test", { method: "apprise" }, { toast: false });
      setResult({ ok: true, text: "Apprise accepted the test notification." });
    } catch (x) {
      setResult({ ok: false, text: (x as Error).message });
    }
  };
  return (
    <Show when={form()} fallback={<p class="muted">Loading…</p>}>
      <form class="panel" onSubmit={save} data-testid="apprise-form" novalidate>
        <h2>Apprise</h2>
        <label class="row"><input type="checkbox" name="enabled" checked={f().enabled} onChange={on("enabled")} /> Send alerts through Apprise</label>
        <div class="formgrid">
          <label>Mode<select name="mode" value={f().mode} onChange={on("mode")}><option value="cli">Apprise command (CLI)</option><option value="http">Apprise API server</option></select></label>
          <label>Timeout (s)<input name="timeoutSeconds" inputmode="numeric" value={f().timeoutSeconds} onInput={on("timeoutSeconds")} /><Err e={errs().timeoutSeconds} /></label>
          <Show when={f().mode === "cli"} fallback={<>
            <label class="wide">Server URL<input name="serverUrl" placeholder="http://apprise.lan:8000" value={f().serverUrl} onInput={on("serverUrl")} /><Err e={errs().serverUrl} /></label>
            <label>Config key<input name="configKey" value={f().configKey} onInput={on("configKey")} /></label>
            <label>API key<input name="apiKey" type="password" value={f().apiKey} onInput={on("apiKey")} /></label>
            <label class="row"><input type="checkbox" name="skipTlsVerify" checked={f().skipTlsVerify} onChange={on("skipTlsVerify")} /> Skip TLS verification</label>
          </>}>
            <label>Command path<input name="cliPath" value={f().cliPath} onInput={on("cliPath")} /></label>
          </Show>
          <label class="wide">Targets (one Apprise URL per line{f().mode === "http" ? "; optional with a config key" : ""})<textarea name="targets" rows="3" value={f().targets} onInput={on("targets")} /><Err e={errs().targets} /></label>
        </div>
        <ResultLine r={result()} id="apprise-result" />
        <div class="buttons"><button type="button" onClick={test}>Send test (saved settings)</button><button type="submit" class="primary">Save</button></div>
      </form>
    </Show>
  );
}

interface DlqItem { id: string; type: string; status: string; attempts: number; maxAttempts: number; createdAt: string; lastAttempt?: string; lastError?: string; method?: string; alerts?: { resourceName?: string; message?: string }[] }
interface Attempt { notificationId: string; type: string; targetName: string; destination: string; service: string; attempt: number; success: boolean; statusCode?: number | null; error?: string; durationMs: number; timestamp: string }

const when = (t?: string) => (t ? new Date(t).toLocaleString() : "–");

function QueueSection() {
  const [stats, { refetch: reStats }] = createResource(() => api<Record<string, unknown>>("GET", "/api/notifications/queue/stats"));
  const [dlq, { refetch: reDlq }] = createResource(() => api<DlqItem[]>("GET", "/api/notifications/dlq?limit=100"));
  const [history, { refetch: reHist }] = createResource(() => api<Attempt[]>("GET", "/api/notifications/history?limit=50"));
  const refresh = () => { reStats(); reDlq(); reHist(); };
  const act = async (what: "retry" | "delete", it: DlqItem) => {
    if (what === "delete" && !confirm("Delete this notification from the dead letter queue?")) return;
    await api("POST", `/api/notifications/dlq/${what}`, { id: it.id });
    toast(what === "retry" ? "Scheduled for another delivery" : "Deleted from the dead letter queue", "ok");
    refresh();
  };
  return (
    <section class="panel" data-testid="queue">
      <h2>Delivery queue</h2>
      <p class="muted small">Every notification is stored before it is sent, retried with backoff, and parked here when all attempts fail. <button onClick={refresh} data-testid="queue-refresh">Refresh</button></p>
      <div class="cards">
        <For each={queueCards(stats())}>{(c) => <div class={`card${c.key === "dlq" && c.value ? " alerting" : ""}`} data-testid={`queue-${c.key}`}><b>{c.value}</b><span>{c.label}</span></div>}</For>
      </div>
      <h3>Dead letter queue</h3>
      <Show when={(dlq() ?? []).length} fallback={<p class="muted" data-testid="dlq-empty">{dlq.loading ? "Loading…" : dlq.error ? "Could not load the dead letter queue." : "Nothing failed for good."}</p>}>
        <div class="tablewrap"><table class="grid" data-testid="dlq">
          <thead><tr><th>Channel</th><th>Alert</th><th>Attempts</th><th>Last error</th><th>Last attempt</th><th></th></tr></thead>
          <tbody><For each={dlq()}>{(it) => (
            <tr><td>{it.type}</td><td class="small">{it.alerts?.map((a) => a.resourceName).join(", ") || it.id}</td><td class="num">{it.attempts}/{it.maxAttempts}</td>
              <td class="small error">{it.lastError ?? ""}</td><td class="small">{when(it.lastAttempt)}</td>
              <td class="actions"><button onClick={() => act("retry", it)}>Retry</button><button class="danger" onClick={() => act("delete", it)}>Delete</button></td></tr>
          )}</For></tbody>
        </table></div>
      </Show>
      <h3>Recent deliveries</h3>
      <Show when={(history() ?? []).length} fallback={<p class="muted" data-testid="history-empty">{history.loading ? "Loading…" : "No deliveries yet."}</p>}>
        <div class="tablewrap"><table class="grid" data-testid="history">
          <thead><tr><th>Time</th><th>Channel</th><th>Target</th><th>Attempt</th><th>Result</th></tr></thead>
          <tbody><For each={history()}>{(a) => (
            <tr><td class="small">{when(a.timestamp)}</td><td>{a.type}{a.service ? ` (${a.service})` : ""}</td><td class="small">{a.targetName || a.destination}</td><td class="num">{a.attempt}</td>
              <td class="small"><span class={`pill ${a.success ? "ok" : "crit"}`}>{a.success ? "sent" : "failed"}</span> {a.statusCode ? `HTTP ${a.statusCode}` : ""} {a.error ?? ""}</td></tr>
          )}</For></tbody>
        </table></div>
      </Show>
    </section>
  );
}

function DeliverySettings() {
  const [form, setForm] = createSignal<{ notifyOnResolved: boolean; maxAttempts: string } | null>(null);
  const [result, setResult] = createSignal<Result>(null);
  api<{ settings: { notifyOnResolved: boolean; maxAttempts: number } }>("GET", "/api/notifications/").then(
    (a) => setForm({ notifyOnResolved: !!a.settings?.notifyOnResolved, maxAttempts: String(a.settings?.maxAttempts ?? 3) }),
    () => setForm({ notifyOnResolved: false, maxAttempts: "3" }),
  );
  const save = async (e: Event) => {
    e.preventDefault();
    const n = parseMaxAttempts(form()!.maxAttempts);
    if (typeof n === "string") return setResult({ ok: false, text: n });
    try {
      await api("POST", "/api/notifications/", { notifyOnResolved: form()!.notifyOnResolved, maxAttempts: n }, { toast: false });
      setResult({ ok: true, text: "Delivery settings saved." });
    } catch (x) {
      setResult({ ok: false, text: (x as Error).message });
    }
  };
  return (
    <Show when={form()}>
      <form class="panel" onSubmit={save} data-testid="delivery-form" novalidate>
        <h2>Delivery</h2>
        <label class="row"><input type="checkbox" name="notifyOnResolved" checked={form()!.notifyOnResolved} onChange={(e) => setForm({ ...form()!, notifyOnResolved: e.currentTarget.checked })} /> Also notify when an alert is resolved</label>
        <div class="formgrid"><label>Attempts before the dead letter queue<input name="maxAttempts" inputmode="numeric" value={form()!.maxAttempts} onInput={(e) => setForm({ ...form()!, maxAttempts: e.currentTarget.value })} /></label></div>
        <ResultLine r={result()} id="delivery-result" />
        <div class="buttons"><button type="submit" class="primary">Save</button></div>
      </form>
    </Show>
  );
}

const TABS = [["email", "Email"], ["webhooks", "Webhooks"], ["apprise", "Apprise"], ["queue", "Queue"]] as const;

export default function SettingsNotifications() {
  const [tab, setTab] = createSignal<(typeof TABS)[number][0]>("email");
  return (
    <div class="page">
      <h1>Notifications</h1>
      <p class="muted">Where alerts are sent. Passwords, header values and API keys are stored sealed and never shown again; leave them untouched to keep them.</p>
      <div class="tabs" role="tablist">
        <For each={TABS}>{([k, label]) => <button role="tab" class={tab() === k ? "active" : ""} aria-selected={tab() === k} data-testid={`tab-${k}`} onClick={() => setTab(k)}>{label}</button>}</For>
      </div>
      <Show when={tab() === "email"}><EmailSection /></Show>
      <Show when={tab() === "webhooks"}><WebhooksSection /></Show>
      <Show when={tab() === "apprise"}><AppriseSection /></Show>
      <Show when={tab() === "queue"}><QueueSection /><DeliverySettings /></Show>
    </div>
  );
}
