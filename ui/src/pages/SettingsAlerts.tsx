// Settings → Alerts: master switch and activation, default trigger/clear thresholds per
// resource kind, grace periods, notification pacing, quiet hours, per-resource overrides.
// Loads GET /api/alerts/config, checks the form client-side (lib/alertconfig), sends the
// changed top-level keys with PUT; a 400 naming a field is shown beside that field.
import { createEffect, createMemo, createResource, createSignal, For, Index, Show, type JSX } from "solid-js";
import { api, ApiError } from "../lib/api";
import { state } from "../lib/store";
import { toast } from "../lib/toast";
import { humanKey } from "../lib/settings";
import {
  candidates, changedTopLevel, DAYS, escalationToForm, FAMILIES, LIMITS, NOTIFY, type EscalationLevel, fromForm, GRACE_KEYS, newOverride, OVERRIDE_METRICS, overridesToRows, pairError, searchCandidates,
  STORAGE, SUPPRESS, SWITCHES, toForm, type Config, type Errors, type FormValues, type Metric, type OverrideRow,
} from "../lib/alertconfig";

export default function SettingsAlerts() {
  const [orig, { refetch }] = createResource(() => api<Config>("GET", "/api/alerts/config"));
  const [form, setForm] = createSignal<FormValues | null>(null);
  const [rows, setRows] = createSignal<OverrideRow[]>([]);
  const [levels, setLevels] = createSignal<EscalationLevel[]>([]);
  const [errs, setErrs] = createSignal<Errors>({});
  const [query, setQuery] = createSignal("");
  const [busy, setBusy] = createSignal(false);

  const all = createMemo(() => candidates(state()));
  const byId = createMemo(() => {
    const m = new Map<string, { kind: string; name: string; detail: string }>();
    for (const c of all()) for (const k of [c.id, ...c.keys]) m.set(k, c);
    return m;
  });
  const fill = (c: Config) => {
    setForm(toForm(c));
    setRows(overridesToRows(c, (id) => byId().get(id)?.kind));
    setLevels(escalationToForm(c));
  };
  // Fill the form once the document has loaded.
  createEffect(() => {
    const c = orig();
    if (c && !form()) fill(c);
  });
  // Opened before the live state arrived: override kinds were guessed; once the resources
  // are known, rebuild the rows whose kind was wrong from the loaded document.
  createEffect(() => {
    const known = byId();
    const c = orig();
    const cur = rows();
    if (!c || !known.size) return;
    const wrong = cur.filter((r) => known.get(r.id) && known.get(r.id)!.kind !== r.kind);
    if (!wrong.length) return;
    const fixed = overridesToRows({ overrides: Object.fromEntries(wrong.map((r) => [r.id, (c.overrides as Record<string, unknown>)?.[r.id] ?? {}])) }, (id) => known.get(id)?.kind);
    setRows(cur.map((r) => fixed.find((x) => x.id === r.id) ?? r));
  });
  const reload = async () => {
    setErrs({});
    const c = await refetch();
    if (c) fill(c);
  };
  const v = (p: string) => form()?.[p];
  // Editing a field drops its error (client-side or the server's) until the next save.
  const dropErr = (p: string) => {
    const e = errs();
    const hit = Object.keys(e).filter((k) => k === p || p.startsWith(k + ".") || k.startsWith(p + "."));
    if (hit.length) setErrs(Object.fromEntries(Object.entries(e).filter(([k]) => !hit.includes(k))));
  };
  const setV = (p: string, x: string | boolean) => {
    setForm({ ...form()!, [p]: x });
    dropErr(p);
  };
  /** The default an empty override input falls back to (shown as its placeholder). */
  const fallback = (kind: string, metric: string, w: "trigger" | "clear") => {
    const fam = kind === "guest" ? "guestDefaults" : kind === "storage" ? "storageDefault" : "nodeDefaults";
    const d = String(v(kind === "storage" ? `${fam}.${w}` : `${fam}.${metric}.${w}`) ?? "");
    return d || (w === "trigger" ? "default" : "auto");
  };
  const err = (p: string) => errs()[p];
  const matches = createMemo(() => searchCandidates(all(), query(), new Set(rows().map((r) => r.id))));

  const save = async (e: Event) => {
    e.preventDefault();
    const c = orig();
    if (!c || !form()) return;
    const { config, errors } = fromForm(c, form()!, rows(), levels());
    if (Object.keys(errors).length) {
      setErrs({ ...errors, form: `Not saved: ${Object.keys(errors).length} field(s) need attention.` });
      return;
    }
    const diff = changedTopLevel(c, config);
    if (!Object.keys(diff).length) {
      setErrs({});
      return toast("Nothing changed", "info");
    }
    setBusy(true);
    try {
      await api("PUT", "/api/alerts/config", diff, { toast: false });
      toast("Alert settings saved", "ok");
      await reload();
    } catch (x) {
      const ex = x as ApiError;
      setErrs({ ...ex.fields, form: ex.message });
    } finally {
      setBusy(false);
    }
  };

  const num = (p: string, label: string, unit = "", hint?: string) => (
    <label>
      <span>{label}{unit ? <span class="muted small"> ({unit})</span> : null}</span>
      <input name={p} inputmode="numeric" value={String(v(p) ?? "")} onInput={(e) => setV(p, e.currentTarget.value)} aria-invalid={!!err(p)} />
      <Show when={hint}><small class="muted">{hint}</small></Show>
      <Show when={err(p)}><small class="error" data-error-for={p}>{err(p)}</small></Show>
    </label>
  );
  const check = (p: string, label: string) => (
    <label class="row"><input name={p} type="checkbox" checked={v(p) === true} onChange={(e) => setV(p, e.currentTarget.checked)} /> {label}</label>
  );
  const pairRow = (p: string, m: Metric) => (
    <tr data-pair={p}>
      <td>{m.label} <span class="muted small">{m.unit}</span></td>
      <For each={["trigger", "clear"] as const}>{(w) => (
        <td>
          <input class="thr" name={`${p}.${w}`} inputmode="decimal" value={String(v(`${p}.${w}`) ?? "")} onInput={(e) => setV(`${p}.${w}`, e.currentTarget.value)} aria-invalid={!!pairError(errs(), p, w)} />
          <Show when={pairError(errs(), p, w)}><small class="error" data-error-for={`${p}.${w}`}>{pairError(errs(), p, w)}</small></Show>
        </td>
      )}</For>
    </tr>
  );
  const pairTable = (head: string, body: JSX.Element) => (
    <div class="tablewrap thr"><table class="grid thresholds">
      <thead><tr><th>{head}</th><th>Trigger (alert at ≥)</th><th>Clear (resolve at ≤)</th></tr></thead>
      <tbody>{body}</tbody>
    </table></div>
  );

  const updRow = (id: string, f: (r: OverrideRow) => OverrideRow) => setRows(rows().map((r) => (r.id === id ? f(r) : r)));
  const addOverride = (id: string, kind: string) => {
    setRows([...rows(), newOverride(id, kind)]);
    setQuery("");
  };

  return (
    <div class="page">
      <h1>Alert settings</h1>
      <p class="muted">When Pulse raises an alert and when it clears it. An alert fires once a value reaches its <b>trigger</b> for the grace period and resolves when it falls to its <b>clear</b> level. A trigger of <code>0</code> or <code>-1</code> switches a metric off. See also the <a href="/alerts">active alerts</a>.</p>
      <Show when={form()} fallback={<p class="muted">{orig.error ? `Could not load the alert settings: ${(orig.error as Error).message}` : "Loading…"}</p>}>
        <form class="panel" onSubmit={save} data-testid="alert-settings" novalidate>
          <h2>Alerting</h2>
          <div class="formgrid">
            {check("enabled", "Alerts enabled (master switch)")}
            <label>Notifications
              <select name="activationState" value={String(v("activationState"))} onChange={(e) => setV("activationState", e.currentTarget.value)}>
                <option value="pending_review">Pending review (not sent)</option>
                <option value="active">Active (sent)</option>
                <option value="snoozed">Snoozed</option>
              </select>
              <Show when={err("activationState")}><small class="error">{err("activationState")}</small></Show>
            </label>
          </div>

          <h2>Default thresholds</h2>
          <For each={FAMILIES}>{(fam) => pairTable(fam.label, <For each={fam.metrics}>{(m) => pairRow(`${fam.key}.${m.key}`, m)}</For>)}</For>
          {pairTable("Storage, Ceph and PBS datastores", pairRow("storageDefault", STORAGE))}

          <h2>Warning and critical limits</h2>
          <For each={LIMITS}>{(grp) => (
            <div class="tablewrap thr"><table class="grid thresholds" data-limits={grp.label}>
              <thead><tr><th>{grp.label}<div class="small muted">{grp.note}</div></th><th>Warning at ≥</th><th>Critical at ≥</th></tr></thead>
              <tbody>
                <Show when={grp.enabled}><tr><td colspan="3">{check(grp.enabled!, `Check ${grp.label.toLowerCase()}`)}</td></tr></Show>
                <For each={grp.limits}>{(l) => (
                  <tr><td>{l.label} <span class="muted small">{l.unit}</span></td>
                    <For each={[l.warn, l.crit]}>{(p) => (
                      <td><input class="thr" name={p} inputmode="numeric" value={String(v(p) ?? "")} onInput={(e) => setV(p, e.currentTarget.value)} aria-invalid={!!err(p)} />
                        <Show when={err(p)}><small class="error" data-error-for={p}>{err(p)}</small></Show></td>
                    )}</For></tr>
                )}</For>
              </tbody>
            </table></div>
          )}</For>

          <h2>Grace periods</h2>
          <p class="muted small">Seconds a breach must last before it becomes an alert.</p>
          <div class="formgrid"><For each={GRACE_KEYS}>{(k) => num(`timeThresholds.${k}`, k === "pbs" ? "PBS" : humanKey(k), "s")}</For></div>

          <h2>Notifications</h2>
          <div class="formgrid">
            {num("schedule.cooldown", "Cooldown per alert", "minutes")}
            {num("schedule.maxAlertsHour", "Notifications per alert per hour")}
            {check("flappingEnabled", "Detect flapping alerts")}
            {num("flappingThreshold", "Flapping: raises within the window")}
            {num("flappingWindowSeconds", "Flapping window", "s")}
            {num("flappingCooldownMinutes", "Flapping cooldown", "minutes")}
          </div>

          <h3>Escalation</h3>
          {check("schedule.escalation.enabled", "Escalate unacknowledged alerts")}
          <div data-testid="escalation">
            <Index each={levels()}>{(l, i) => {
              const p = () => `schedule.escalation.levels[${i}]`;
              const upd = (k: keyof EscalationLevel, val: string) => {
                setLevels(levels().map((x, j) => (j === i ? { ...x, [k]: val } : x)));
                dropErr(`${p()}.${k}`);
              };
              return (
                <div class="esc">
                  <span>Level {i + 1} after</span>
                  <input class="thr" name={`${p()}.after`} inputmode="numeric" value={l().after} onInput={(e) => upd("after", e.currentTarget.value)} aria-invalid={!!err(`${p()}.after`)} />
                  <span>minutes, notify</span>
                  <select name={`${p()}.notify`} value={l().notify} onChange={(e) => upd("notify", e.currentTarget.value)}><For each={NOTIFY}>{(n) => <option value={n}>{n}</option>}</For></select>
                  <button type="button" class="ghost" aria-label={`Remove level ${i + 1}`} onClick={() => setLevels(levels().filter((_, j) => j !== i))}>✕</button>
                  <Show when={err(`${p()}.after`) ?? err(`${p()}.notify`)}><small class="error" data-error-for={p()}>{err(`${p()}.after`) ?? err(`${p()}.notify`)}</small></Show>
                </div>
              );
            }}</Index>
            <button type="button" onClick={() => setLevels([...levels(), { after: String((Number(levels()[levels().length - 1]?.after) || 0) + 30), notify: "all" }])}>Add level</button>
          </div>

          <h2>Quiet hours</h2>
          <div class="formgrid">
            {check("schedule.quietHours.enabled", "Hold back notifications during quiet hours")}
            <For each={["start", "end", "timezone"]}>{(k) => (
              <label>{k === "timezone" ? "Time zone" : humanKey(k)}
                <input name={`schedule.quietHours.${k}`} placeholder={k === "timezone" ? "Europe/Berlin" : "HH:MM"} value={String(v(`schedule.quietHours.${k}`) ?? "")} onInput={(e) => setV(`schedule.quietHours.${k}`, e.currentTarget.value)} />
                <Show when={err(`schedule.quietHours.${k}`)}><small class="error" data-error-for={`schedule.quietHours.${k}`}>{err(`schedule.quietHours.${k}`)}</small></Show>
              </label>
            )}</For>
          </div>
          <div class="checks"><span class="muted">Days:</span><For each={DAYS}>{(d) => check(`schedule.quietHours.days.${d}`, humanKey(d).slice(0, 3))}</For></div>
          <div class="checks"><span class="muted">Also hold critical:</span><For each={SUPPRESS}>{(s) => check(`schedule.quietHours.suppress.${s}`, humanKey(s))}</For></div>

          <h2>Switch off whole families</h2>
          <div class="formgrid"><For each={SWITCHES}>{(s) => check(s, switchLabel(s))}</For></div>

          <h2>Per-resource overrides</h2>
          <p class="muted small">Replace the defaults for one guest, node or storage. Empty inputs keep the default (shown in grey); <code>-1</code> switches that metric off; "No alerts" silences the resource.</p>
          <Show when={rows().length} fallback={<p class="muted" data-testid="no-overrides">No overrides.</p>}>
            <div class="tablewrap"><table class="grid overrides" data-testid="overrides">
              <thead><tr><th>Resource</th><th>No alerts</th><th>Thresholds (trigger / clear)</th><th></th></tr></thead>
              <tbody><Index each={rows()}>{(r) => (
                <tr data-override={r().id}>
                  <td>{byId().get(r().id)?.name ?? r().id}<div class="muted small">{r().id} · {byId().get(r().id)?.detail ?? r().kind}</div></td>
                  <td><input type="checkbox" name={`overrides.${r().id}.disabled`} aria-label={`No alerts for ${r().id}`} checked={r().disabled} onChange={(e) => { const on = e.currentTarget.checked; updRow(r().id, (x) => ({ ...x, disabled: on })); }} /></td>
                  <td class="ovpairs"><For each={OVERRIDE_METRICS[r().kind] ?? []}>{(m) => {
                    const p = () => `overrides.${r().id}.${m.key}`;
                    return (
                      <span class="ovpair">
                        <span class="small">{m.label}</span>
                        <For each={["trigger", "clear"] as const}>{(w) => (
                          <input class="thr" name={`${p()}.${w}`} placeholder={fallback(r().kind, m.key, w)} title={w === "trigger" ? "Trigger (empty: the default, -1: off)" : "Clear (empty: trigger minus the margin)"} value={r().pairs[m.key]?.[w] ?? ""} disabled={r().disabled}
                            onInput={(e) => { const val = e.currentTarget.value; updRow(r().id, (x) => ({ ...x, pairs: { ...x.pairs, [m.key]: { ...x.pairs[m.key], [w]: val } } })); dropErr(`${p()}.${w}`); }} aria-invalid={!!pairError(errs(), p(), w)} />
                        )}</For>
                        <Show when={pairError(errs(), p(), "trigger") ?? pairError(errs(), p(), "clear")}><small class="error" data-error-for={p()}>{pairError(errs(), p(), "trigger") ?? pairError(errs(), p(), "clear")}</small></Show>
                      </span>
                    );
                  }}</For>
                    <Show when={err(`overrides.${r().id}`)}><small class="error" data-error-for={`overrides.${r().id}`}>{err(`overrides.${r().id}`)}</small></Show>
                  </td>
                  <td class="actions"><button type="button" class="danger" onClick={() => setRows(rows().filter((x) => x.id !== r().id))}>Remove</button></td>
                </tr>
              )}</Index></tbody>
            </table></div>
          </Show>
          <label class="addov">Add an override
            <input type="search" data-testid="override-search" placeholder="Search guests, nodes, storage by name or ID" value={query()} onInput={(e) => setQuery(e.currentTarget.value)} />
          </label>
          <Show when={matches().length}>
            <ul class="picklist" data-testid="override-matches"><For each={matches()}>{(c) => (
              <li><button type="button" data-add={c.id} onClick={() => addOverride(c.id, c.kind)}>{c.name} <span class="muted small">{c.detail} · {c.id}</span></button></li>
            )}</For></ul>
          </Show>
          <Show when={query().trim() && !matches().length}><p class="muted small">{state() ? "No resource matches." : "Waiting for the live state…"}</p></Show>

          <Show when={errs().form}><p class="error" role="alert" data-testid="alert-settings-error">{errs().form}</p></Show>
          <div class="buttons savebar">
            <button type="submit" class="primary" disabled={busy()} data-testid="save-alert-settings">Save</button>
            <button type="button" class="ghost" onClick={reload}>Discard changes</button>
          </div>
        </form>
      </Show>
    </div>
  );
}

/** "disableAllPBSOffline" → "No offline alerts for PBS". */
function switchLabel(k: string): string {
  const fam = k.replace("disableAll", "").replace("Offline", "");
  const name = fam === "PBS" || fam === "PMG" ? fam : fam.toLowerCase();
  return k.endsWith("Offline") ? `No offline alerts for ${name}` : `No alerts for ${name}`;
}
