// Ceph: one panel per cluster from the live state's `cephClusters`, worst health first —
// the health badge and Ceph's own health checks, raw capacity, OSD/monitor/manager/PG
// counts and a pools table with usage bars.
import { For, Show } from "solid-js";
import { state } from "../lib/store";
import { formatAge, formatBytes, formatPct } from "../lib/format";
import { cephLabel, cephLevel, clusterPct, healthChecks, osdSummary, poolPct, sortClusters } from "../lib/ceph";
import { Bar } from "../components/Bar";
import type { CephCluster } from "../lib/types";

const pillClass = (l: string) => (l === "unknown" ? "" : l);

function Cluster(props: { c: CephCluster }) {
  const c = () => props.c;
  const level = () => cephLevel(c().health);
  const osd = () => osdSummary(c());
  const checks = () => healthChecks(c().healthMessage);
  const pct = () => clusterPct(c());
  return (
    <section class={`panel ceph ${level()}`} data-testid="ceph-cluster" data-id={c().id} data-health={level()}>
      <h2>
        {c().instance} <span class="muted small">{c().name}{c().fsid ? ` · ${c().fsid}` : ""}</span>
        <span class={`pill big ${pillClass(level())}`} data-testid="ceph-health">{cephLabel(c().health)}</span>
      </h2>
      <Show when={checks().length} fallback={<p class="muted small">{level() === "ok" ? "No health checks raised." : "Ceph gave no details."}</p>}>
        <ul class="checks" data-testid="ceph-checks">
          <For each={checks()}>{(k) => <li>{k.code ? <code>{k.code}</code> : null} {k.text}</li>}</For>
        </ul>
      </Show>
      <div class="cephcap">
        <Bar pct={pct()} label={`${formatPct(pct())} used`} title={`${formatBytes(c().usedBytes)} of ${formatBytes(c().totalBytes)}`} />
        <span class="small muted">{formatBytes(c().usedBytes)} used · {formatBytes(c().availableBytes)} free · {formatBytes(c().totalBytes)} raw</span>
      </div>
      <div class="cards">
        <div class="card"><b class={osd().level === "ok" ? "" : `t-${osd().level}`} data-testid="ceph-osds">{osd().up}/{osd().total}</b><span>OSDs up · {osd().in} in{osd().down ? ` · ${osd().down} down` : ""}</span></div>
        <div class="card"><b>{c().numMons}</b><span>monitors</span></div>
        <div class="card"><b>{c().numMgrs}</b><span>managers</span></div>
        <div class="card"><b>{c().numPGs}</b><span>placement groups</span></div>
        <div class="card"><b>{(c().pools ?? []).length}</b><span>pools</span></div>
      </div>
      <Show when={(c().services ?? []).some((x) => x.running < x.total || x.message)}>
        <ul class="checks">
          <For each={(c().services ?? []).filter((x) => x.running < x.total || x.message)}>{(x) => <li><code>{x.type}</code> {x.running}/{x.total} running{x.message ? ` — ${x.message}` : ""}</li>}</For>
        </ul>
      </Show>
      <Show when={(c().pools ?? []).length} fallback={<p class="muted">No pools.</p>}>
        <div class="tablewrap"><table class="grid" data-testid="ceph-pools">
          <thead><tr><th>Pool</th><th>Usage</th><th class="num">Stored</th><th class="num">Available</th><th class="num">Objects</th></tr></thead>
          <tbody><For each={c().pools ?? []}>{(p) => (
            <tr data-pool={p.name}><td>{p.name}</td><td><Bar pct={poolPct(p)} /></td><td class="num">{formatBytes(p.storedBytes)}</td><td class="num">{formatBytes(p.availableBytes)}</td><td class="num">{p.objects.toLocaleString()}</td></tr>
          )}</For></tbody>
        </table></div>
      </Show>
      <p class="muted small">Updated {formatAge(c().lastUpdated)}</p>
    </section>
  );
}

export default function Ceph() {
  const clusters = () => sortClusters(state()?.cephClusters ?? []);
  return (
    <div class="page">
      <h1>Ceph</h1>
      <Show when={state()} fallback={<p class="muted">Loading…</p>}>
        <Show when={clusters().length} fallback={<p class="muted" data-testid="ceph-empty">No Ceph cluster found. Pulse shows Ceph here when a monitored Proxmox VE cluster runs it.</p>}>
          <For each={clusters()}>{(c) => <Cluster c={c} />}</For>
        </Show>
      </Show>
    </div>
  );
}
