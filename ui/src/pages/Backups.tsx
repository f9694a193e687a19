// Backups: PVE storage backups and PBS snapshots in one list (newest first), failed tasks,
// and guest snapshots. The big lists come from the state worker when the page opens.
import { createMemo, createResource, For, Show } from "solid-js";
import { fetchBackups, state } from "../lib/store";
import { formatAge, formatBytes } from "../lib/format";
import { unifiedBackups } from "../lib/backups";
import type { PulseState } from "../lib/types";

export default function Backups() {
  // Refetched whenever a new state arrives (the worker then holds the new lists).
  const [lists] = createResource(() => state()?.lastUpdate, () => fetchBackups());
  const list = createMemo(() => {
    const l = lists();
    return l ? unifiedBackups({ pveBackups: { backupTasks: [], guestSnapshots: [], storageBackups: l.storageBackups }, pbsBackups: l.pbsBackups } as unknown as PulseState) : [];
  });
  const failed = createMemo(() => (state()?.pveBackups?.backupTasks ?? []).filter((t) => t.status && t.status !== "OK"));
  const snaps = () => state()?.pveBackups?.guestSnapshots ?? [];
  return (
    <div class="page">
      <h1>Backups</h1>
      <Show when={failed().length}>
        <h2>Failed backup jobs</h2>
        <div class="tablewrap"><table class="grid" data-testid="failed-backups">
          <thead><tr><th>Node</th><th>Guest</th><th>Started</th><th>Status</th></tr></thead>
          <tbody><For each={failed()}>{(t) => <tr><td>{t.node}</td><td>{t.vmid}</td><td>{formatAge(t.startTime)}</td><td class="error">{t.error || t.status}</td></tr>}</For></tbody>
        </table></div>
      </Show>
      <h2>Backups <span class="muted small">{list().length}{list().length > 1000 ? " (newest 1000 shown)" : ""}</span></h2>
      <Show when={list().length} fallback={<p class="muted">{lists.loading ? "Loading…" : "No backups found."}</p>}>
        <div class="tablewrap"><table class="grid" data-testid="backups-table">
          <thead><tr><th>Guest</th><th>Source</th><th>Where</th><th>Age</th><th class="num">Size</th><th>Verified</th></tr></thead>
          <tbody><For each={list().slice(0, 1000)}>{(b) => (
            <tr><td>{b.vmid}</td><td>{b.source}</td><td>{b.where}</td><td>{formatAge(b.time)}</td><td class="num">{formatBytes(b.size)}</td><td>{b.verified ? "✓" : ""}</td></tr>
          )}</For></tbody>
        </table></div>
      </Show>
      <h2>Snapshots <span class="muted small">{snaps().length}</span></h2>
      <Show when={snaps().length} fallback={<p class="muted">No snapshots.</p>}>
        <div class="tablewrap"><table class="grid">
          <thead><tr><th>Guest</th><th>Node</th><th>Name</th><th>Taken</th><th>Description</th></tr></thead>
          <tbody><For each={snaps().slice(0, 1000)}>{(s) => <tr><td>{s.vmid}</td><td>{s.node}</td><td>{s.name}</td><td>{formatAge(s.time)}</td><td class="small">{s.description}</td></tr>}</For></tbody>
        </table></div>
      </Show>
    </div>
  );
}
