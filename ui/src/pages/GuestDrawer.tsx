// Guest drawer: metadata from the live state, the console URL + notes Pulse keeps for the
// guest (editable), plus history charts for 1h/24h/7d/30d.
import { createResource, createSignal, For, Show } from "solid-js";
import { api, type ApiError } from "../lib/api";
import { fromServer, isHttpUrl, metaBody, metaPath, validateGuestMeta, type GuestMeta } from "../lib/guestmeta";
import { formatBytes, formatPct, formatRate, formatUptime } from "../lib/format";
import { RANGES, type Point, type Range } from "../lib/chartdata";
import type { GuestRow } from "../lib/guests";
import { Chart } from "../components/Chart";

const pctAxis = (v: number) => `${Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)}%`;

type Series = Record<string, Point[]>;
interface ChartsResponse { data: Record<string, Series> }

/** Console link + notes, with an inline edit form. Saving updates in place (no reload). */
function GuestNotes(props: { id: string }) {
  const [meta, { mutate }] = createResource(
    () => props.id,
    async (id) => fromServer(id, await api<Record<string, unknown>>("GET", metaPath(id), undefined, { toast: false }).catch(() => null)),
  );
  const [form, setForm] = createSignal<{ consoleUrl: string; notes: string } | null>(null);
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const [busy, setBusy] = createSignal(false);
  const edit = () => {
    const m = meta();
    setErrs({});
    setForm({ consoleUrl: m?.consoleUrl ?? "", notes: m?.notes ?? "" });
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const f = form()!;
    const v = validateGuestMeta(f);
    setErrs(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    try {
      const r = await api<Record<string, unknown>>("PUT", metaPath(props.id), metaBody(f), { toast: false });
      mutate(fromServer(props.id, r));
      setForm(null);
    } catch (x) {
      const err = x as ApiError;
      // The server names the field it refused (`fields`); anything else shows under the form.
      setErrs({ ...(err.fields ?? {}), form: err.message });
    } finally {
      setBusy(false);
    }
  };
  const link = (m: GuestMeta) => (isHttpUrl(m.consoleUrl) ? m.consoleUrl : "");
  return (
    <section class="guest-notes" data-testid="guest-meta">
      <Show
        when={form()}
        fallback={
          <dl class="meta">
            <dt>Console</dt>
            <dd>
              <Show when={meta() && link(meta()!)} fallback={<span class="muted">—</span>}>
                <a href={link(meta()!)} target="_blank" rel="noopener noreferrer" data-testid="guest-console-link">{meta()!.consoleUrl}</a>
              </Show>
            </dd>
            <dt>Notes</dt>
            <dd class="notes" data-testid="guest-notes">{meta()?.notes || <span class="muted">—</span>}</dd>
            <dt />
            <dd><button class="ghost" onClick={edit} disabled={meta.loading} data-testid="guest-meta-edit">Edit console URL / notes</button></dd>
          </dl>
        }
      >
        <form onSubmit={save} data-testid="guest-meta-form" novalidate>
          <label>Console URL
            <input name="consoleUrl" type="url" placeholder="https://pve.example:8006/…" value={form()!.consoleUrl} onInput={(e) => setForm({ ...form()!, consoleUrl: e.currentTarget.value })} />
            <Show when={errs().consoleUrl}><small class="error" data-testid="guest-meta-url-error">{errs().consoleUrl}</small></Show>
          </label>
          <label>Notes
            <textarea name="notes" rows="4" value={form()!.notes} onInput={(e) => setForm({ ...form()!, notes: e.currentTarget.value })} />
            <Show when={errs().notes}><small class="error" data-testid="guest-meta-notes-error">{errs().notes}</small></Show>
          </label>
          <Show when={errs().form}><p class="error" role="alert">{errs().form}</p></Show>
          <div class="actions">
            <button type="submit" disabled={busy()} data-testid="guest-meta-save">Save</button>
            <button type="button" class="ghost" onClick={() => setForm(null)}>Cancel</button>
          </div>
        </form>
      </Show>
    </section>
  );
}

export function GuestDrawer(props: { row: GuestRow; onClose: () => void }) {
  const [range, setRange] = createSignal<Range>("1h");
  const [charts] = createResource(
    () => [props.row.id, range()] as const,
    async ([id, r]) => (await api<ChartsResponse>("GET", `/api/charts?range=${r}`)).data?.[id] ?? null,
  );
  const g = () => props.row.raw;
  const pts = (k: string) => charts()?.[k] ?? [];
  return (
    <aside class="drawer" data-testid="guest-drawer" role="dialog" aria-label={`Guest ${props.row.name}`}>
      <header>
        <h2>{props.row.name} <span class="muted">#{props.row.vmid}</span></h2>
        <button class="ghost" onClick={props.onClose} aria-label="Close">✕</button>
      </header>
      <dl class="meta">
        <dt>Type</dt><dd>{props.row.type === "lxc" ? "Container (LXC)" : "Virtual machine (QEMU)"}</dd>
        <dt>Status</dt><dd>{props.row.status}</dd>
        <dt>Node</dt><dd>{props.row.node} <span class="muted">({props.row.instance})</span></dd>
        <dt>CPU</dt><dd>{formatPct(props.row.cpu)} of {g().cpus ?? "?"} vCPU</dd>
        <dt>Memory</dt><dd>{formatBytes(g().memory?.used ?? g().mem)} / {formatBytes(g().memory?.total ?? g().maxmem)}</dd>
        <dt>Disk</dt><dd>{g().disk && g().disk!.usage >= 0 ? `${formatBytes(g().disk!.used)} / ${formatBytes(g().disk!.total)}` : formatBytes(g().disk?.total)}</dd>
        <dt>Network</dt><dd>↓ {formatRate(props.row.netIn)} ↑ {formatRate(props.row.netOut)}</dd>
        <dt>Disk I/O</dt><dd>R {formatRate(props.row.diskRead)} W {formatRate(props.row.diskWrite)}</dd>
        <dt>Uptime</dt><dd>{formatUptime(props.row.uptime)}</dd>
        <Show when={g().osName}><dt>OS</dt><dd>{g().osName} {g().osVersion}</dd></Show>
        <Show when={g().ipAddresses?.length}><dt>IP</dt><dd>{g().ipAddresses!.join(", ")}</dd></Show>
        <Show when={props.row.tags.length}><dt>Tags</dt><dd>{props.row.tags.join(", ")}</dd></Show>
        <dt>ID</dt><dd class="small">{props.row.id}</dd>
      </dl>
      <GuestNotes id={props.row.id} />
      <div class="tabs" role="tablist">
        <For each={RANGES}>{(r) => <button role="tab" aria-selected={range() === r} class={range() === r ? "active" : ""} onClick={() => setRange(r)}>{r}</button>}</For>
      </div>
      <Show when={!charts.loading || charts()} fallback={<p class="muted">Loading history…</p>}>
        <Show when={charts()} fallback={<p class="muted">No history for this guest yet.</p>}>
          <Chart testid="chart-cpu" title="CPU %" unit={pctAxis} series={[{ label: "CPU", points: pts("cpu"), color: "#3b82f6" }]} />
          <Chart testid="chart-mem" title="Memory %" unit={pctAxis} series={[{ label: "Memory", points: pts("memory"), color: "#10b981" }]} />
          <Chart testid="chart-net" title="Network" unit={formatRate} series={[{ label: "In", points: pts("netin"), color: "#8b5cf6" }, { label: "Out", points: pts("netout"), color: "#f59e0b" }]} />
          <Chart testid="chart-io" title="Disk I/O" unit={formatRate} series={[{ label: "Read", points: pts("diskread"), color: "#06b6d4" }, { label: "Write", points: pts("diskwrite"), color: "#ef4444" }]} />
        </Show>
      </Show>
    </aside>
  );
}
