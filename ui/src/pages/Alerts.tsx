// Alerts: active (from the live state, acknowledge/clear) and history (GET /api/alerts/history).
import { createResource, createSignal, For, Show } from "solid-js";
import { api } from "../lib/api";
import { state } from "../lib/store";
import { toast } from "../lib/toast";
import { formatAge } from "../lib/format";
import type { Alert } from "../lib/types";

export default function Alerts() {
  const [tab, setTab] = createSignal<"active" | "history">("active");
  const [history, { refetch }] = createResource(() => tab() === "history", async (on) => (on ? await api<Alert[]>("GET", "/api/alerts/history?limit=500") : []));
  const act = async (a: Alert, what: "acknowledge" | "unacknowledge" | "clear") => {
    await api("POST", `/api/alerts/${encodeURIComponent(a.id)}/${what}`);
    toast(`Alert ${what === "clear" ? "cleared" : what + "d"}: ${a.resourceName}`, "ok");
  };
  const active = () => state()?.activeAlerts ?? [];
  return (
    <div class="page">
      <h1>Alerts</h1>
      <p class="muted"><a href="/settings/alerts" data-testid="alert-settings-link">Thresholds and alert settings →</a></p>
      <div class="tabs">
        <button class={tab() === "active" ? "active" : ""} onClick={() => setTab("active")}>Active ({active().length})</button>
        <button class={tab() === "history" ? "active" : ""} onClick={() => { setTab("history"); refetch(); }}>History</button>
      </div>
      <Show when={tab() === "active"}>
        <Show when={active().length} fallback={<p class="muted" data-testid="no-alerts">No active alerts.</p>}>
          <div class="tablewrap"><table class="grid" data-testid="active-alerts">
            <thead><tr><th>Level</th><th>Resource</th><th>Alert</th><th>Since</th><th></th></tr></thead>
            <tbody><For each={active()}>{(a) => (
              <tr data-alert={a.id} data-type={a.type} data-resource={a.resourceId} data-instance={a.instance}>
                <td><span class={`pill ${a.level === "critical" ? "crit" : "warn"}`}>{a.level}</span></td>
                <td>{a.resourceName}<div class="muted small">{a.node}</div></td>
                <td>{a.message}</td>
                <td>{formatAge(a.startTime)}</td>
                <td class="actions">
                  <Show when={a.acknowledged} fallback={<button onClick={() => act(a, "acknowledge")}>Acknowledge</button>}>
                    <button onClick={() => act(a, "unacknowledge")} title={`by ${a.ackUser ?? "?"}`}>Un-ack</button>
                  </Show>
                  <button onClick={() => act(a, "clear")}>Clear</button>
                </td>
              </tr>
            )}</For></tbody>
          </table></div>
        </Show>
      </Show>
      <Show when={tab() === "history"}>
        <Show when={(history() ?? []).length} fallback={<p class="muted">{history.loading ? "Loading…" : "No alert history."}</p>}>
          <div class="tablewrap"><table class="grid" data-testid="alert-history">
            <thead><tr><th>Level</th><th>Resource</th><th>Alert</th><th>Started</th><th>Resolved</th></tr></thead>
            <tbody><For each={history()}>{(a) => (
              <tr><td><span class={`pill ${a.level === "critical" ? "crit" : "warn"}`}>{a.level}</span></td><td>{a.resourceName}</td><td>{a.message}</td><td>{formatAge(a.startTime)}</td><td>{a.resolvedTime ? formatAge(a.resolvedTime) : "–"}</td></tr>
            )}</For></tbody>
          </table></div>
        </Show>
      </Show>
    </div>
  );
}
