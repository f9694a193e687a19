// Ceph page logic (pure; tested in ceph.test.ts): health classification, the health
// messages the poller joins with "; ", OSD/monitor summaries and pool usage.
import type { CephCluster, CephPool } from "./types";

export type CephLevel = "ok" | "warn" | "crit" | "unknown";

/** HEALTH_OK → ok, HEALTH_WARN → warn, HEALTH_ERR → crit; anything else (empty, a new Ceph
 *  status) is "unknown" rather than silently green. Case and the HEALTH_ prefix are optional. */
export function cephLevel(health: string | undefined | null): CephLevel {
  const h = String(health ?? "").trim().toUpperCase().replace(/^HEALTH_/, "");
  if (h === "OK") return "ok";
  if (h === "WARN" || h === "WARNING") return "warn";
  if (h === "ERR" || h === "ERROR") return "crit";
  return "unknown";
}

/** Badge text in Ceph's own words; "UNKNOWN" for a status it cannot classify. */
export function cephLabel(health: string | undefined | null): string {
  return { ok: "HEALTH_OK", warn: "HEALTH_WARN", crit: "HEALTH_ERR", unknown: "UNKNOWN" }[cephLevel(health)];
}

export interface HealthCheck { code: string; text: string }

/** "OSD_DOWN: 1 osds down; PG_DEGRADED: Degraded data" → [{code: "OSD_DOWN", text: "1 osds down"}, …].
 *  A part without an upper-case check code keeps its whole text (code ""). */
export function healthChecks(msg: string | undefined | null): HealthCheck[] {
  return String(msg ?? "")
    .split(";")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const m = /^([A-Z][A-Z0-9_]+):\s*(.*)$/.exec(p);
      return m ? { code: m[1], text: m[2] || m[1] } : { code: "", text: p };
    });
}

const RANK: Record<CephLevel, number> = { crit: 0, warn: 1, unknown: 2, ok: 3 };

/** Worst health first, then by instance name (stable for equal keys). */
export function sortClusters<T extends Pick<CephCluster, "health" | "instance" | "name">>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => RANK[cephLevel(a.health)] - RANK[cephLevel(b.health)] || `${a.instance}/${a.name}`.localeCompare(`${b.instance}/${b.name}`));
}

export interface OsdSummary { total: number; up: number; in: number; down: number; out: number; level: CephLevel; text: string }

/** OSD counts with how many are down/out; any down OSD is a warning, all down is critical. */
export function osdSummary(c: Pick<CephCluster, "numOsds" | "numOsdsUp" | "numOsdsIn">): OsdSummary {
  const total = Math.max(0, c.numOsds || 0);
  const up = Math.max(0, Math.min(total, c.numOsdsUp || 0));
  const inn = Math.max(0, Math.min(total, c.numOsdsIn || 0));
  const down = total - up;
  const out = total - inn;
  const level: CephLevel = total === 0 ? "unknown" : up === 0 ? "crit" : down > 0 || out > 0 ? "warn" : "ok";
  return { total, up, in: inn, down, out, level, text: `${up}/${total} up, ${inn}/${total} in` };
}

/** A pool's used percentage: `percentUsed` when given, else stored / (stored + available). */
export function poolPct(p: Pick<CephPool, "percentUsed" | "storedBytes" | "availableBytes">): number {
  if (Number.isFinite(p.percentUsed) && p.percentUsed >= 0) return Math.min(100, p.percentUsed);
  const sum = (p.storedBytes || 0) + (p.availableBytes || 0);
  return sum > 0 ? ((p.storedBytes || 0) / sum) * 100 : -1;
}

/** Cluster raw capacity used in percent: `usagePercent`, else used / total; -1 when unknown. */
export function clusterPct(c: Pick<CephCluster, "usagePercent" | "usedBytes" | "totalBytes">): number {
  if (Number.isFinite(c.usagePercent) && c.usagePercent >= 0) return Math.min(100, c.usagePercent);
  return c.totalBytes > 0 ? (c.usedBytes / c.totalBytes) * 100 : -1;
}
