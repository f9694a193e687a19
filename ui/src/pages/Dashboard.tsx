// Dashboard: summary counts, nodes, and the virtualised guests table with filters + drawer.
import { createMemo, createSignal, For, Show } from "solid-js";
import { state } from "../lib/store";
import { emptyFilter, facets, filterGuests, guestRows, sortGuests, type GuestFilter, type GuestRow, type SortDir, type SortKey } from "../lib/guests";
import { formatBytes, formatPct, formatRate, formatUptime } from "../lib/format";
import { Bar } from "../components/Bar";
import { VirtualRows } from "../components/VirtualRows";
import { GuestDrawer } from "./GuestDrawer";
import type { Node } from "../lib/types";

const COLS: { key: SortKey; label: string; cls?: string }[] = [
  { key: "name", label: "Name" },
  { key: "vmid", label: "ID", cls: "num" },
  { key: "type", label: "Type" },
  { key: "node", label: "Node" },
  { key: "status", label: "Status" },
  { key: "cpu", label: "CPU" },
  { key: "mem", label: "Memory" },
  { key: "disk", label: "Disk" },
  { key: "netIn", label: "Net in", cls: "num" },
  { key: "netOut", label: "Net out", cls: "num" },
  { key: "diskRead", label: "Disk read", cls: "num" },
  { key: "diskWrite", label: "Disk write", cls: "num" },
  { key: "uptime", label: "Uptime", cls: "num" },
  { key: "tags", label: "Tags" },
];

export function nodePct(n: Node, what: "memory" | "disk"): number {
  const m = n[what];
  return m && m.total > 0 ? (m.used / m.total) * 100 : 0;
}

export default function Dashboard() {
  const [filter, setFilter] = createSignal<GuestFilter>({ ...emptyFilter });
  const [sort, setSort] = createSignal<{ key: SortKey; dir: SortDir }>({ key: "name", dir: "asc" });
  const [open, setOpen] = createSignal<string | null>(null);

  const rows = createMemo(() => guestRows(state()));
  const opts = createMemo(() => facets(rows()));
  const shown = createMemo(() => sortGuests(filterGuests(rows(), filter()), sort().key, sort().dir));
  const openRow = createMemo(() => rows().find((r) => r.id === open()) ?? null);

  const counts = createMemo(() => {
    const s = state();
    const r = rows();
    return {
      nodes: s?.nodes.length ?? 0,
      nodesOnline: s?.nodes.filter((n) => n.status === "online").length ?? 0,
      vms: s?.vms.length ?? 0,
      cts: s?.containers.length ?? 0,
      running: r.filter((x) => x.status === "running").length,
      alerts: s?.activeAlerts.length ?? 0,
      storage: s?.storage.length ?? 0,
    };
  });

  const set = (k: keyof GuestFilter) => (e: Event) => setFilter({ ...filter(), [k]: (e.currentTarget as HTMLInputElement).value });
  const toggleSort = (key: SortKey) => {
    const s = sort();
    setSort({ key, dir: s.key === key && s.dir === "asc" ? "desc" : s.key === key ? "asc" : key === "name" || key === "node" || key === "type" || key === "status" || key === "tags" ? "asc" : "desc" });
  };

  return (
    <div class="page">
      <Show when={state()} fallback={<p class="muted" data-testid="loading">Waiting for the first live update…</p>}>
        <section class="cards" data-testid="summary">
          <div class="card"><b data-testid="count-nodes">{counts().nodesOnline}/{counts().nodes}</b><span>nodes online</span></div>
          <div class="card"><b data-testid="count-guests">{counts().vms + counts().cts}</b><span>guests ({counts().vms} VMs, {counts().cts} CTs)</span></div>
          <div class="card"><b data-testid="count-running">{counts().running}</b><span>running</span></div>
          <div class="card"><b>{counts().storage}</b><span>storages</span></div>
          <a class={`card ${counts().alerts ? "alerting" : ""}`} href="/alerts"><b data-testid="count-alerts">{counts().alerts}</b><span>active alerts</span></a>
        </section>

        <h2>Nodes</h2>
        <div class="tablewrap">
          <table class="grid" data-testid="nodes-table">
            <thead><tr><th>Node</th><th>Status</th><th>CPU</th><th>Memory</th><th>Disk</th><th class="num">Uptime</th><th>Cluster</th></tr></thead>
            <tbody>
              <For each={state()!.nodes}>{(n) => (
                <tr data-node={n.name} data-instance={n.instance} data-status={n.status} data-degraded={String(n.status !== "online" || (n.connectionHealth ?? "healthy") !== "healthy")}>
                  <td>{n.name}<div class="muted small">{n.displayName && n.displayName !== n.name ? `${n.displayName} · ` : ""}{n.instance}</div></td>
                  <td><span class={`pill ${n.status !== "online" ? "crit" : (n.connectionHealth ?? "healthy") === "healthy" ? "ok" : "warn"}`}>{n.status}{n.connectionHealth && n.connectionHealth !== "healthy" ? ` · ${n.connectionHealth}` : ""}</span></td>
                  <td><Bar pct={n.cpu * 100} /></td>
                  <td><Bar pct={nodePct(n, "memory")} title={`${formatBytes(n.memory?.used)} of ${formatBytes(n.memory?.total)}`} /></td>
                  <td><Bar pct={nodePct(n, "disk")} title={`${formatBytes(n.disk?.used)} of ${formatBytes(n.disk?.total)}`} /></td>
                  <td class="num">{formatUptime(n.uptime)}</td>
                  <td>{n.isClusterMember ? n.clusterName : "–"}</td>
                </tr>
              )}</For>
            </tbody>
          </table>
        </div>

        <h2>Guests <span class="muted small" data-testid="guest-shown">{shown().length} of {rows().length}</span></h2>
        <div class="filters">
          <input type="search" placeholder="Search name, ID, node, tag, IP…" value={filter().text} onInput={set("text")} data-testid="guest-search" aria-label="Search guests" />
          <select onChange={set("node")} aria-label="Node" data-testid="filter-node"><option value="">All nodes</option><For each={opts().nodes}>{(n) => <option>{n}</option>}</For></select>
          <select onChange={set("type")} aria-label="Type" data-testid="filter-type"><option value="">VMs + CTs</option><option value="qemu">VMs</option><option value="lxc">Containers</option></select>
          <select onChange={set("status")} aria-label="Status" data-testid="filter-status"><option value="">Any status</option><For each={opts().statuses}>{(n) => <option>{n}</option>}</For></select>
          <select onChange={set("tag")} aria-label="Tag" data-testid="filter-tag"><option value="">Any tag</option><For each={opts().tags}>{(n) => <option>{n}</option>}</For></select>
        </div>
        <VirtualRows
          items={shown()}
          rowHeight={34}
          height="min(70vh, 900px)"
          testid="guests"
          header={
            <div class="vrow head">
              <For each={COLS}>{(c) => (
                <button class={`c-${c.key} ${c.cls ?? ""}`} onClick={() => toggleSort(c.key)} data-sort={c.key} aria-sort={sort().key === c.key ? (sort().dir === "asc" ? "ascending" : "descending") : "none"}>
                  {c.label}{sort().key === c.key ? (sort().dir === "asc" ? " ▲" : " ▼") : ""}
                </button>
              )}</For>
            </div>
          }
          row={(r: () => GuestRow) => (
            <div class="vrow" data-id={r().id} onClick={() => setOpen(r().id)} role="button" tabindex="0" onKeyDown={(e) => e.key === "Enter" && setOpen(r().id)}>
              <span class="c-name" title={r().name}>{r().name}</span>
              <span class="c-vmid num">{r().vmid}</span>
              <span class="c-type">{r().type === "lxc" ? "CT" : "VM"}</span>
              <span class="c-node">{r().node}</span>
              <span class="c-status"><i class={`dot ${r().status}`} />{r().status}</span>
              <span class="c-cpu"><Bar pct={r().cpu} /></span>
              <span class="c-mem"><Bar pct={r().mem} /></span>
              <span class="c-disk"><Bar pct={r().disk} label={r().disk < 0 ? "–" : formatPct(r().disk)} /></span>
              <span class="c-netIn num">{formatRate(r().netIn)}</span>
              <span class="c-netOut num">{formatRate(r().netOut)}</span>
              <span class="c-diskRead num">{formatRate(r().diskRead)}</span>
              <span class="c-diskWrite num">{formatRate(r().diskWrite)}</span>
              <span class="c-uptime num">{formatUptime(r().uptime)}</span>
              <span class="c-tags">{r().tags.join(", ")}</span>
            </div>
          )}
        />
      </Show>
      <Show when={openRow()}>{(r) => <GuestDrawer row={r()} onClose={() => setOpen(null)} />}</Show>
    </div>
  );
}
