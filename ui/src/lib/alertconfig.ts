// Alert settings form ⇄ the /api/alerts/config document (pure; tested).
//
// The form is a flat map of input strings/booleans keyed by the server's field paths
// (`guestDefaults.cpu.clear`, `schedule.quietHours.timezone`, …), so a client-side check and
// the server's 400 `fields` land beside the same input. Overrides are a list of rows.
// Saving sends only the top-level keys that changed (a PUT replaces each key it sends whole
// and keeps the others), built from the loaded document so keys the form does not show
// (notes, custom rules, Docker blocks) survive.

export type Config = Record<string, unknown>;
export type FormValues = Record<string, string | boolean>;
export type Errors = Record<string, string>;

export interface Metric { key: string; label: string; unit: string; max: number; /** trigger ≤ 0 resets to the default instead of switching off */ noOff?: boolean }

const pct = (key: string, label: string): Metric => ({ key, label, unit: "%", max: 100 });
const io = (key: string, label: string): Metric => ({ key, label, unit: "MB/s", max: 100000 });

/** Threshold families with trigger/clear pairs, as the server names them. */
export const FAMILIES: { key: string; label: string; metrics: Metric[] }[] = [
  { key: "guestDefaults", label: "VMs and containers", metrics: [pct("cpu", "CPU"), pct("memory", "Memory"), pct("disk", "Disk"), io("diskRead", "Disk read"), io("diskWrite", "Disk write"), io("networkIn", "Network in"), io("networkOut", "Network out")] },
  { key: "nodeDefaults", label: "Nodes (and PBS servers)", metrics: [pct("cpu", "CPU"), pct("memory", "Memory"), pct("disk", "Disk"), { key: "temperature", label: "Temperature", unit: "°C", max: 150, noOff: true }] },
];
/** `storageDefault` is a single pair (storage, Ceph and PBS datastore usage). */
export const STORAGE: Metric = { key: "usage", label: "Usage", unit: "%", max: 100, noOff: true };

export const OVERRIDE_METRICS: Record<string, Metric[]> = {
  guest: FAMILIES[0].metrics,
  node: FAMILIES[1].metrics,
  pbs: FAMILIES[1].metrics.slice(0, 2),
  storage: [STORAGE],
};

/** Warning/critical limits (PMG mail queues, backup and snapshot age): whole numbers. */
export interface Limit { label: string; unit: string; warn: string; crit: string; min: number; max: number }
const pmg = (label: string, unit: string, warn: string, crit: string): Limit => ({ label, unit, warn: `pmgDefaults.${warn}`, crit: `pmgDefaults.${crit}`, min: 1, max: 10000000 });
export const LIMITS: { label: string; note: string; enabled?: string; limits: Limit[] }[] = [
  { label: "Mail Gateway (PMG)", note: "Summed over the gateway's nodes.", limits: [
    pmg("Queue total", "messages", "queueTotalWarning", "queueTotalCritical"),
    pmg("Deferred queue", "messages", "deferredQueueWarn", "deferredQueueCritical"),
    pmg("Hold queue", "messages", "holdQueueWarn", "holdQueueCritical"),
    pmg("Oldest queued message", "minutes", "oldestMessageWarnMins", "oldestMessageCritMins"),
    pmg("Spam in quarantine", "messages", "quarantineSpamWarn", "quarantineSpamCritical"),
    pmg("Viruses in quarantine", "messages", "quarantineVirusWarn", "quarantineVirusCritical"),
  ] },
  { label: "Backup age", note: "Newest backup of a guest older than this.", enabled: "backupDefaults.enabled", limits: [{ label: "Backup age", unit: "days", warn: "backupDefaults.warningDays", crit: "backupDefaults.criticalDays", min: 0, max: 3650 }] },
  { label: "Snapshot age", note: "Guest snapshots older than this.", enabled: "snapshotDefaults.enabled", limits: [{ label: "Snapshot age", unit: "days", warn: "snapshotDefaults.warningDays", crit: "snapshotDefaults.criticalDays", min: 0, max: 3650 }] },
];

export const GRACE_KEYS = ["guest", "node", "storage", "pbs"];
export const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
export const SUPPRESS = ["performance", "storage", "offline"];
export const SWITCHES = ["disableAllGuests", "disableAllGuestsOffline", "disableAllNodes", "disableAllNodesOffline", "disableAllStorage", "disableAllPBS", "disableAllPBSOffline", "disableAllPMG", "disableAllPMGOffline"];
/** Whole numbers ≥ 0 at these paths, with an upper bound. */
export const INTS: [string, number][] = [
  ["schedule.cooldown", 10080], ["schedule.maxAlertsHour", 10000],
  ["flappingThreshold", 1000], ["flappingWindowSeconds", 86400], ["flappingCooldownMinutes", 10080],
  ...GRACE_KEYS.map((k) => [`timeThresholds.${k}`, 86400] as [string, number]),
];
export const BOOLS = ["enabled", "flappingEnabled", "schedule.escalation.enabled", "backupDefaults.enabled", "snapshotDefaults.enabled", "schedule.quietHours.enabled", ...DAYS.map((d) => `schedule.quietHours.days.${d}`), ...SUPPRESS.map((s) => `schedule.quietHours.suppress.${s}`), ...SWITCHES];
export const TEXTS = ["activationState", "schedule.quietHours.start", "schedule.quietHours.end", "schedule.quietHours.timezone"];

export interface OverrideRow {
  id: string;
  kind: string;
  disabled: boolean;
  /** metric → input strings; empty trigger = use the default */
  pairs: Record<string, { trigger: string; clear: string }>;
  /** Fields the form does not edit (note, disableConnectivity, …), kept as loaded. */
  rest: Record<string, unknown>;
}

function get(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((a, k) => (a && typeof a === "object" ? (a as Record<string, unknown>)[k] : undefined), o);
}

function set(o: Record<string, unknown>, path: string, v: unknown): void {
  const ks = path.split(".");
  let cur = o;
  for (const k of ks.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== "object") cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[ks[ks.length - 1]] = v;
}

const str = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? String(v) : typeof v === "string" ? v : "");

/** Every pair path of the defaults: `[path, metric]`. */
export function pairPaths(): [string, Metric][] {
  return [...FAMILIES.flatMap((f) => f.metrics.map((m) => [`${f.key}.${m.key}`, m] as [string, Metric])), ["storageDefault", STORAGE]];
}

export function toForm(cfg: Config): FormValues {
  const f: FormValues = {};
  for (const [p] of pairPaths()) {
    f[`${p}.trigger`] = str(get(cfg, `${p}.trigger`));
    f[`${p}.clear`] = str(get(cfg, `${p}.clear`));
  }
  for (const [p] of INTS) f[p] = str(get(cfg, p));
  for (const l of LIMITS.flatMap((x) => x.limits)) for (const p of [l.warn, l.crit]) f[p] = str(get(cfg, p));
  for (const p of BOOLS) f[p] = get(cfg, p) === true;
  for (const p of TEXTS) f[p] = str(get(cfg, p));
  return f;
}

/** The kind of resource an override key names, from the live resources (else a guess). */
export function overridesToRows(cfg: Config, kindOf: (id: string) => string | undefined): OverrideRow[] {
  const ov = (cfg.overrides ?? {}) as Record<string, Record<string, unknown>>;
  return Object.entries(ov).map(([id, o]) => {
    const kind = kindOf(id) ?? ("usage" in o ? "storage" : "guest");
    const rest: Record<string, unknown> = { ...o };
    delete rest.disabled;
    const pairs: OverrideRow["pairs"] = {};
    for (const m of OVERRIDE_METRICS[kind] ?? OVERRIDE_METRICS.guest) {
      const h = o[m.key] as { trigger?: number; clear?: number } | undefined;
      pairs[m.key] = { trigger: str(h?.trigger), clear: str(h?.clear) };
      delete rest[m.key];
    }
    return { id, kind, disabled: o.disabled === true, pairs, rest };
  });
}

export function newOverride(id: string, kind: string): OverrideRow {
  const pairs: OverrideRow["pairs"] = {};
  for (const m of OVERRIDE_METRICS[kind] ?? []) pairs[m.key] = { trigger: "", clear: "" };
  return { id, kind, disabled: false, pairs, rest: {} };
}

const numRe = /^-?\d+(\.\d+)?$/;

/**
 * Checks one trigger/clear pair (strings from the inputs) and returns the value to store.
 * `trigger` ≤ 0 switches the metric off (stored as given, clear 0) unless the metric has no
 * off (`noOff`: the server would put its default back); an empty clear means trigger − margin.
 */
export function checkPair(m: Metric, t: string, c: string, margin: number, path: string, errs: Errors, optional = false): { trigger: number; clear: number } | undefined {
  t = t.trim();
  c = c.trim();
  if (!t && optional) {
    if (c) errs[`${path}.trigger`] = "Give a trigger too, or leave both empty to use the default.";
    return undefined;
  }
  if (!numRe.test(t)) {
    errs[`${path}.trigger`] = t ? "Not a number." : "Required.";
    return undefined;
  }
  const trigger = Number(t);
  if (trigger <= 0) {
    if (m.noOff || trigger < -1) {
      errs[`${path}.trigger`] = m.noOff ? `Must be above 0 (up to ${m.max} ${m.unit}).` : "Use -1 or 0 to switch off, or a value above 0.";
      return undefined;
    }
    if (c && !numRe.test(c)) errs[`${path}.clear`] = "Not a number.";
    return { trigger, clear: 0 };
  }
  if (trigger > m.max) {
    errs[`${path}.trigger`] = `At most ${m.max} ${m.unit}.`;
    return undefined;
  }
  if (c && !numRe.test(c)) {
    errs[`${path}.clear`] = "Not a number.";
    return undefined;
  }
  const clear = c ? Number(c) : Math.max(0, trigger - margin);
  if (clear < 0) {
    errs[`${path}.clear`] = "Must not be negative.";
    return undefined;
  }
  if (clear >= trigger) {
    errs[`${path}.clear`] = `Clear (${clear}) must be below trigger (${trigger}).`;
    return undefined;
  }
  return { trigger, clear };
}

export interface EscalationLevel { after: string; notify: string }
export const NOTIFY = ["email", "webhook", "all"];

export function escalationToForm(cfg: Config): EscalationLevel[] {
  const l = get(cfg, "schedule.escalation.levels");
  return Array.isArray(l) ? l.map((x: { after?: unknown; notify?: unknown }) => ({ after: str(x?.after), notify: typeof x?.notify === "string" ? x.notify : "all" })) : [];
}

/** The whole new document (loaded config + form + overrides) and the problems found.
 *  `levels` (escalation) is left as loaded when not given. Errors use the server's paths. */
export function fromForm(orig: Config, f: FormValues, rows: OverrideRow[], levels?: EscalationLevel[]): { config: Config; errors: Errors } {
  const cfg = JSON.parse(JSON.stringify(orig)) as Config;
  const errs: Errors = {};
  const margin = typeof orig.hysteresisMargin === "number" && orig.hysteresisMargin > 0 ? orig.hysteresisMargin : 5;
  for (const [p, m] of pairPaths()) {
    const v = checkPair(m, String(f[`${p}.trigger`] ?? ""), String(f[`${p}.clear`] ?? ""), margin, p, errs);
    if (v) set(cfg, p, v);
  }
  for (const [p, max] of INTS) {
    const s = String(f[p] ?? "").trim();
    if (!/^\d+$/.test(s)) errs[p] = s ? "A whole number of 0 or more." : "Required.";
    else if (Number(s) > max) errs[p] = `At most ${max}.`;
    else set(cfg, p, Number(s));
  }
  for (const l of LIMITS.flatMap((x) => x.limits)) {
    const vals: number[] = [];
    for (const p of [l.warn, l.crit]) {
      const s = String(f[p] ?? "").trim();
      if (!/^\d+$/.test(s) || Number(s) < l.min) errs[p] = `A whole number of ${l.min} or more.`;
      else if (Number(s) > l.max) errs[p] = `At most ${l.max}.`;
      else vals.push(Number(s));
    }
    if (vals.length === 2 && vals[0] > vals[1]) errs[l.crit] = `Critical (${vals[1]}) must not be below warning (${vals[0]}).`;
    else if (vals.length === 2) {
      set(cfg, l.warn, vals[0]);
      set(cfg, l.crit, vals[1]);
    }
  }
  for (const p of BOOLS) if (get(orig, p) !== undefined || f[p] === true) set(cfg, p, f[p] === true);
  for (const p of TEXTS) set(cfg, p, String(f[p] ?? "").trim());
  for (const p of ["schedule.quietHours.start", "schedule.quietHours.end"]) {
    if (!/^([01]?\d|2[0-3]):[0-5]\d$/.test(String(f[p] ?? "").trim())) errs[p] = "A time as HH:MM (24 h).";
  }
  if (!String(f["schedule.quietHours.timezone"] ?? "").trim()) errs["schedule.quietHours.timezone"] = "A time zone such as Europe/Berlin.";

  const ov: Record<string, unknown> = {};
  for (const r of rows) {
    const o: Record<string, unknown> = { ...r.rest };
    if (r.disabled) o.disabled = true;
    for (const m of OVERRIDE_METRICS[r.kind] ?? []) {
      const p = r.pairs[m.key];
      if (!p) continue;
      const v = checkPair(m, p.trigger, p.clear, margin, `overrides.${r.id}.${m.key}`, errs, true);
      if (v) o[m.key] = v;
    }
    ov[r.id] = o;
  }
  cfg.overrides = ov;

  if (levels) {
    const out: { after: number; notify: string }[] = [];
    let prev = -1;
    levels.forEach((l, i) => {
      const p = `schedule.escalation.levels[${i}]`;
      const a = l.after.trim();
      if (!/^\d+$/.test(a) || Number(a) > 10080) errs[`${p}.after`] = "Minutes: a whole number from 0 to 10080.";
      else if (Number(a) <= prev) errs[`${p}.after`] = "Each level must come later than the one before.";
      if (!NOTIFY.includes(l.notify)) errs[`${p}.notify`] = "Email, webhook or all.";
      if (/^\d+$/.test(a)) prev = Number(a);
      out.push({ after: Number(a), notify: l.notify });
    });
    if (!Object.keys(errs).some((k) => k.startsWith("schedule.escalation"))) set(cfg, "schedule.escalation.levels", out);
  }
  return { config: cfg, errors: errs };
}

/** Only the top-level keys whose value differs (the PUT keeps the ones not sent). */
export function changedTopLevel(orig: Config, next: Config): Config {
  const out: Config = {};
  for (const [k, v] of Object.entries(next)) if (JSON.stringify(v) !== JSON.stringify(orig[k])) out[k] = v;
  return out;
}

/** A server or client error for a pair input: its own path, else the pair's. */
export function pairError(errs: Errors, path: string, which: "trigger" | "clear"): string | undefined {
  return errs[`${path}.${which}`] ?? (which === "trigger" ? errs[path] : undefined);
}

export interface Candidate { id: string; kind: string; name: string; detail: string; keys: string[] }

/** Resources an override can name, with the key the engine looks up first. */
export function candidates(s: { vms?: unknown[]; containers?: unknown[]; nodes?: unknown[]; storage?: unknown[]; pbs?: unknown[] } | null): Candidate[] {
  if (!s) return [];
  const out: Candidate[] = [];
  type G = { id: string; vmid: number; name: string; node: string; instance: string; type: string };
  for (const g of [...(s.vms ?? []), ...(s.containers ?? [])] as G[]) {
    out.push({ id: `${g.instance}-${g.vmid}`, kind: "guest", name: g.name, detail: `${g.type === "lxc" ? "CT" : "VM"} ${g.vmid} on ${g.node}`, keys: [g.id, `${g.node}-${g.vmid}`] });
  }
  for (const n of (s.nodes ?? []) as { id: string; name: string; instance: string }[]) out.push({ id: n.id, kind: "node", name: n.name, detail: `node of ${n.instance}`, keys: [] });
  for (const x of (s.storage ?? []) as { id: string; name: string; node: string }[]) out.push({ id: x.id, kind: "storage", name: x.name, detail: `storage on ${x.node}`, keys: [] });
  for (const p of (s.pbs ?? []) as { id: string; name: string }[]) out.push({ id: p.id, kind: "pbs", name: p.name, detail: "Backup Server", keys: [] });
  return out;
}

/** Up to `limit` candidates whose name, id or detail contains every word of the query. */
export function searchCandidates(all: Candidate[], q: string, taken: Set<string>, limit = 12): Candidate[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const out: Candidate[] = [];
  for (const c of all) {
    if (taken.has(c.id)) continue;
    const hay = `${c.name} ${c.id} ${c.detail}`.toLowerCase();
    if (words.every((w) => hay.includes(w))) out.push(c);
    if (out.length >= limit) break;
  }
  return out;
}
