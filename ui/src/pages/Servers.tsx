// PBS datastores and PMG mail statistics/queues, from the live state.
import { For, Show } from "solid-js";
import { state } from "../lib/store";
import { formatBytes, formatUptime } from "../lib/format";
import { Bar } from "../components/Bar";

export function Pbs() {
  return (
    <div class="page">
      <h1>Proxmox Backup Server</h1>
      <Show when={(state()?.pbs ?? []).length} fallback={<p class="muted">No PBS configured.</p>}>
        <For each={state()?.pbs ?? []}>{(p) => (
          <section class="panel" data-testid="pbs-instance">
            <h2>{p.name} <span class={`pill ${p.status === "online" ? "ok" : "crit"}`}>{p.status}</span> <span class="muted small">{p.version} · up {formatUptime(p.uptime)}</span></h2>
            <div class="tablewrap"><table class="grid">
              <thead><tr><th>Datastore</th><th>Usage</th><th class="num">Used</th><th class="num">Total</th><th class="num">Dedup</th><th>Status</th></tr></thead>
              <tbody><For each={p.datastores ?? []}>{(d) => (
                <tr><td>{d.name}</td><td><Bar pct={d.usage} /></td><td class="num">{formatBytes(d.used)}</td><td class="num">{formatBytes(d.total)}</td><td class="num">{d.deduplicationFactor ? d.deduplicationFactor.toFixed(1) + "×" : "–"}</td><td>{d.error ? <span class="error">{d.error}</span> : d.status}</td></tr>
              )}</For></tbody>
            </table></div>
          </section>
        )}</For>
      </Show>
    </div>
  );
}

const STAT_LABELS: [string, string][] = [["countIn", "Mails in"], ["countOut", "Mails out"], ["spamIn", "Spam in"], ["virusIn", "Viruses in"], ["bouncesIn", "Bounces in"], ["greylistCount", "Greylisted"], ["rblRejects", "RBL rejects"]];

export function Pmg() {
  return (
    <div class="page">
      <h1>Proxmox Mail Gateway</h1>
      <Show when={(state()?.pmg ?? []).length} fallback={<p class="muted">No PMG configured.</p>}>
        <For each={state()?.pmg ?? []}>{(p) => (
          <section class="panel" data-testid="pmg-instance">
            <h2>{p.name} <span class={`pill ${p.status === "online" ? "ok" : "crit"}`}>{p.status}</span> <span class="muted small">{p.version}</span></h2>
            <Show when={p.mailStats}>
              <div class="cards">
                <For each={STAT_LABELS}>{([k, label]) => <div class="card"><b>{Math.round(Number(p.mailStats![k] ?? 0))}</b><span>{label} (24 h)</span></div>}</For>
              </div>
            </Show>
            <Show when={p.quarantine}><p>Quarantine: {p.quarantine!.spam} spam, {p.quarantine!.virus} virus, {p.quarantine!.attachment} attachment</p></Show>
            <div class="tablewrap"><table class="grid">
              <thead><tr><th>Node</th><th>Status</th><th>Role</th><th class="num">Active</th><th class="num">Deferred</th><th class="num">Hold</th><th class="num">Incoming</th></tr></thead>
              <tbody><For each={p.nodes ?? []}>{(n) => (
                <tr><td>{n.name}</td><td>{n.status}</td><td>{n.role ?? ""}</td><td class="num">{n.queueStatus?.active ?? "–"}</td><td class="num">{n.queueStatus?.deferred ?? "–"}</td><td class="num">{n.queueStatus?.hold ?? "–"}</td><td class="num">{n.queueStatus?.incoming ?? "–"}</td></tr>
              )}</For></tbody>
            </table></div>
          </section>
        )}</For>
      </Show>
    </div>
  );
}
