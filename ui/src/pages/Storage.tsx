// Storage (per node and shared) and physical disks, from the live state.
import { For, Show } from "solid-js";
import { state } from "../lib/store";
import { formatBytes } from "../lib/format";
import { Bar } from "../components/Bar";

export default function Storage() {
  const s = () => state();
  return (
    <div class="page">
      <h1>Storage</h1>
      <div class="tablewrap"><table class="grid" data-testid="storage-table">
        <thead><tr><th>Storage</th><th>Node</th><th>Type</th><th>Content</th><th>Usage</th><th class="num">Used</th><th class="num">Total</th></tr></thead>
        <tbody><For each={s()?.storage ?? []}>{(x) => (
          <tr><td>{x.name}{x.shared ? <span class="pill small">shared</span> : null}</td><td>{x.shared ? (x.nodes ?? []).join(", ") || "cluster" : x.node}</td><td>{x.type}</td><td class="small">{x.content}</td>
            <td><Bar pct={x.usage} /></td><td class="num">{formatBytes(x.used)}</td><td class="num">{formatBytes(x.total)}</td></tr>
        )}</For></tbody>
      </table></div>
      <h2>Physical disks</h2>
      <Show when={(s()?.physicalDisks ?? []).length} fallback={<p class="muted">No disks reported.</p>}>
        <div class="tablewrap"><table class="grid" data-testid="disks-table">
          <thead><tr><th>Node</th><th>Device</th><th>Model</th><th>Type</th><th class="num">Size</th><th>SMART</th><th>Wear-out left</th><th class="num">Temp</th></tr></thead>
          <tbody><For each={s()?.physicalDisks ?? []}>{(d) => (
            <tr><td>{d.node}</td><td>{d.devPath}</td><td>{d.model}</td><td>{d.type}</td><td class="num">{formatBytes(d.size)}</td>
              <td><span class={`pill ${d.health === "PASSED" || d.health === "OK" ? "ok" : d.health === "FAILED" ? "crit" : "warn"}`}>{d.health}</span></td>
              <td>{d.wearout >= 0 ? <Bar pct={100 - d.wearout} label={`${d.wearout}%`} /> : "–"}</td>
              <td class="num">{d.temperature > 0 ? `${d.temperature} °C` : "–"}</td></tr>
          )}</For></tbody>
        </table></div>
      </Show>
    </div>
  );
}
